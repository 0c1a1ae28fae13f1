//! Talking to the agent inside a running VM: the supervisor channel ([`link`]), the routing of session
//! connections to the sessions that asked for them ([`router`]), and the model proxy the guest's
//! model requests go through ([`model_proxy`]).
//!
//! The host trusts nothing from the guest: every frame is parsed with the NDJSON line limit, malformed
//! frames are logged and skipped, and a guest that stops answering only fails the calls waiting on it.

pub mod egress;
pub mod link;
pub mod model_proxy;
pub mod router;

pub use link::{GuestError, GuestLink};
pub use router::SessionRouter;
