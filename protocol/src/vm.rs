//! The host ⇄ guest supervisor channel and the fixed vsock layout.
//!
//! Every connection is opened by the guest (to the host, CID 2), which avoids racing the guest's
//! listener during boot:
//!
//! | port | channel |
//! |---|---|
//! | [`ports::SUPERVISOR`] | one connection per VM: [`GuestEvent`]s up, [`HostRequest`]s down, NDJSON |
//! | [`ports::SESSION`] | one connection per agent session: a [`SessionHello`] line, then stream-json |
//! | [`ports::MODEL`] | HTTP/1.1 to the host's model proxy (the guest has no network device) |
//! | [`ports::EGRESS`] | HTTP CONNECT proxy for tools (reserved) |
//!
//! The host tells the guest what to do on the kernel command line ([`cmdline`]) and over the supervisor
//! channel; the guest answers every request carrying an `id` with an event carrying the same `id`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::open_enum::open_enum;

/// The host's vsock context id.
pub const HOST_CID: u32 = 2;

/// vsock ports on the host side, all dialled by the guest.
pub mod ports {
    /// Supervisor channel.
    pub const SUPERVISOR: u32 = 1024;
    /// Agent sessions.
    pub const SESSION: u32 = 1025;
    /// Model proxy (HTTP).
    pub const MODEL: u32 = 1026;
    /// Egress proxy (HTTP CONNECT).
    pub const EGRESS: u32 = 1027;
}

/// Kernel command-line keys the guest agent reads.
pub mod cmdline {
    /// `workroom.share=<tag>:<guest path>` (repeatable; the path is percent-encoded): mount at boot.
    /// `<tag>` is a VirtioFS tag, or `<tag>/<directory>` for one directory of a device that holds
    /// several shares (the macOS backend's single multiple-directory device).
    pub const SHARE: &str = "workroom.share";
    /// `workroom.log=<filter>`: the guest agent's log filter (to the console).
    pub const LOG: &str = "workroom.log";
    /// `workroom.model_port=<port>`: the guest-local TCP port that forwards to [`super::ports::MODEL`].
    pub const MODEL_PORT: &str = "workroom.model_port";
    /// `workroom.userland=<guest path>`: the full userland is the share mounted there; shell
    /// commands run in it (under a writable overlay) instead of the initramfs's busybox.
    pub const USERLAND: &str = "workroom.userland";
}

/// Where the guest mounts the full userland's share (read-only).
pub const USERLAND_DIR: &str = "/run/workroom/userland";

/// The root shell commands run in when the full userland is up: the userland under a writable
/// overlay, with `/proc`, `/dev`, `/tmp` and the sessions' folders bound in at the same paths.
pub const SHELL_ROOT: &str = "/run/workroom/root";

/// The environment variable that hands [`SHELL_ROOT`] to a session process when it is ready.
pub const SHELL_ROOT_ENV: &str = "WORKROOM_SHELL_ROOT";

/// Default guest-local TCP port for the model proxy.
pub const GUEST_MODEL_PORT: u16 = 8126;

/// Guest-local TCP port of the egress proxy (`HTTP_PROXY`/`HTTPS_PROXY` point there).
pub const GUEST_EGRESS_PORT: u16 = 3128;

/// Where the agent keeps its own state (transcripts for `--resume`) in the guest. The host shares a
/// per-session folder there, so the state outlives the VM.
pub const AGENT_STATE_DIR: &str = "/run/workroom/state";

/// A shared folder as mounted in the guest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mount {
    /// VirtioFS tag, or `<tag>/<directory>` (see [`cmdline::SHARE`]).
    pub tag: String,
    /// Where it is mounted in the guest.
    pub path: String,
}

/// The first frame on the supervisor channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// `workroom-agent` version.
    pub agent_version: String,
    /// `x86_64` or `aarch64`.
    pub arch: String,
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// Shares mounted from the command line.
    pub mounts: Vec<Mount>,
    /// Guest memory, in KiB.
    pub mem_total_kb: u64,
    /// Available guest memory, in KiB.
    pub mem_available_kb: u64,
    /// Milliseconds from kernel start to this frame (guest uptime).
    pub uptime_ms: u64,
    /// Where shell commands run when the full userland was asked for and is up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell_root: Option<String>,
    /// Why the full userland that was asked for is not up (shell commands then use busybox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userland_error: Option<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An answer to a request with an `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// The request's id.
    pub id: String,
    /// Set when the request failed; says why in plain words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Request-specific result fields.
    #[serde(flatten)]
    pub data: Map<String, Value>,
}

/// A session process ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionEnded {
    /// The session.
    pub session_id: String,
    /// Exit code; absent when killed by a signal.
    #[serde(default)]
    pub code: Option<i32>,
}

open_enum! {
    /// Guest → host on the supervisor channel.
    pub enum GuestEvent tag "type" {
        /// Sent once, when the guest is ready.
        Hello(Hello) = "hello",
        /// The answer to a request.
        Reply(Reply) = "reply",
        /// A session's process exited (its connection closes too).
        SessionEnded(SessionEnded) = "session_ended",
    }
}

/// `ping`: answered with an empty reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ping {
    /// Request id.
    pub id: String,
}

/// `mount`: mount a VirtioFS share (reply: `{}` or `error`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MountRequest {
    /// Request id.
    pub id: String,
    /// VirtioFS tag, or `<tag>/<directory>` (see [`cmdline::SHARE`]).
    pub tag: String,
    /// Guest path to mount it at (created if missing).
    pub path: String,
}

/// `open_session`: start an agent session that dials [`ports::SESSION`] (reply: `{"pid":..}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenSession {
    /// Request id.
    pub id: String,
    /// Host's session id, echoed in the [`SessionHello`].
    pub session_id: String,
    /// Working folder of the session in the guest.
    pub cwd: String,
    /// Agent arguments (stream-json flags, permission mode, model, `--add-dir`, `--resume`, ...).
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment for the session (never credentials: the host's proxy adds those).
    #[serde(default)]
    pub env: Map<String, Value>,
}

/// `stats`: reply with `mem_total_kb`, `mem_available_kb`, `load1`, `sessions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsRequest {
    /// Request id.
    pub id: String,
}

/// `shutdown`: sync, reply, power off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shutdown {
    /// Request id.
    pub id: String,
}

open_enum! {
    /// Host → guest on the supervisor channel.
    pub enum HostRequest tag "type" {
        /// Liveness check.
        Ping(Ping) = "ping",
        /// Mount a share.
        Mount(MountRequest) = "mount",
        /// Start a session.
        OpenSession(OpenSession) = "open_session",
        /// Resource figures.
        Stats(StatsRequest) = "stats",
        /// Power off.
        Shutdown(Shutdown) = "shutdown",
    }
}

/// The first line a guest writes on a session connection, so the host can route it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionHello {
    /// Always `session_hello`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The id from [`OpenSession`].
    pub session_id: String,
}

/// Percent-encodes a guest path for the kernel command line (which splits on spaces).
pub fn encode_cmdline_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.:~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reverses [`encode_cmdline_value`]; `None` on a malformed escape or non-UTF-8 result.
pub fn decode_cmdline_value(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn supervisor_frames_round_trip() {
        let open = json!({"type":"open_session","id":"1","session_id":"s","cwd":"/sessions/s/mnt/Taxes 2026","args":["--model","m"],"env":{}});
        let req: HostRequest = serde_json::from_value(open.clone()).unwrap();
        assert!(matches!(req, HostRequest::OpenSession(_)));
        assert_eq!(serde_json::to_value(&req).unwrap(), open);
        let reply = json!({"type":"reply","id":"1","pid":42});
        let event: GuestEvent = serde_json::from_value(reply.clone()).unwrap();
        assert_eq!(serde_json::to_value(&event).unwrap(), reply);
        let unknown: GuestEvent = serde_json::from_value(json!({"type":"later"})).unwrap();
        assert!(matches!(unknown, GuestEvent::Other(_)));
    }

    #[test]
    fn cmdline_values_survive_spaces_and_unicode() {
        let path = "/sessions/a b/mnt/Taxes 2026 – ünï%";
        let encoded = encode_cmdline_value(path);
        assert!(!encoded.contains(' '));
        assert_eq!(decode_cmdline_value(&encoded).as_deref(), Some(path));
        assert_eq!(decode_cmdline_value("%zz"), None);
    }
}
