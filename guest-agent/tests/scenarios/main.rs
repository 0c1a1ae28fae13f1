//! End-to-end scenarios: the real agent binary, driven over stream-json, against the fake model.

mod harness;

mod errors;
mod interrupts;
mod permissions;
mod protocol;
mod sessions;
mod subagents;
mod tools;
