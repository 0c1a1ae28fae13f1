//! Wire types shared by the Workroom host and guest.
//!
//! Plain data and one codec; no I/O policy lives here.
//!
//! # The session protocol in one screen
//!
//! A session is one bidirectional stream of newline-delimited JSON objects ([`ndjson`]) in Claude Code's
//! SDK "stream-json" dialect ([`frame`]), so the official Claude Agent SDK can drive our agent:
//!
//! 1. The client sends `control_request{subtype:"initialize"}`; the agent answers with `control_response`.
//! 2. Each `user` frame starts a turn. The agent emits `system/init`, then for every content block of the
//!    model's reply one `assistant` frame (and raw `stream_event` frames with `--include-partial-messages`).
//! 3. Before a tool runs, the agent may ask: `control_request{subtype:"can_use_tool"}`; the client answers
//!    `allow` (optionally with an updated input) or `deny` (optionally interrupting the turn). Registered hooks
//!    are asked the same way with `hook_callback`.
//! 4. Tool results come back as `user` frames carrying `tool_result` blocks; the turn ends with exactly one
//!    `result` frame.
//! 5. The client may send `interrupt`, `set_permission_mode`, `set_model` at any time. Closing the stream
//!    ends the session once the queued turns are done.
//!
//! Unknown frame types and unknown fields survive a decode/encode round trip unchanged, so newer peers never
//! crash older ones. The model-facing types live in [`anthropic`] (Messages API) and [`openai`]
//! (Chat Completions).
#![deny(missing_docs)]

pub mod anthropic;
pub mod control;
pub mod frame;
pub mod ndjson;
mod open_enum;
pub mod openai;
pub mod tools;
pub mod vm;

pub use frame::Frame;

/// The Claude Code version we report, so SDK version checks (`-v`, `system/init.claude_code_version`) pass.
pub const CLAUDE_CODE_COMPAT_VERSION: &str = "2.1.332";
