//! The frames of a stream-json session (Claude Code's SDK protocol), one JSON object per line.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::anthropic::{AssistantMessage, Empty, Message, StreamEvent, Usage};
use crate::control::{ControlCancelRequest, ControlRequestFrame, ControlResponseFrame};
use crate::open_enum::open_enum;

open_enum! {
    /// Any frame of the session, in either direction.
    pub enum Frame tag "type" {
        /// A user message (client → agent), or tool results echoed back (agent → client).
        User(UserFrame) = "user",
        /// One completed content block of the model's reply.
        Assistant(AssistantFrame) = "assistant",
        /// `system/init`, `system/status`, `system/api_retry`, ...
        System(SystemFrame) = "system",
        /// A raw Messages API stream event (with `--include-partial-messages`).
        StreamEvent(StreamEventFrame) = "stream_event",
        /// The end of a turn.
        Result(ResultFrame) = "result",
        /// A request that expects a `control_response` with the same id.
        ControlRequest(ControlRequestFrame) = "control_request",
        /// The answer to a `control_request`.
        ControlResponse(ControlResponseFrame) = "control_response",
        /// Withdraws a pending `control_request` (e.g. a permission prompt after an interrupt).
        ControlCancelRequest(ControlCancelRequest) = "control_cancel_request",
        /// Keeps idle transports open; carries nothing.
        KeepAlive(Empty) = "keep_alive",
    }
}

/// A `user` frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserFrame {
    /// The message (`role: "user"`).
    pub message: Message,
    /// Set when the frame belongs to a sub-agent started by this tool call.
    #[serde(default)]
    pub parent_tool_use_id: Option<String>,
    /// Session id. Clients send anything (often `""` or `"default"`); the agent ignores it on input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Frame id; on input, the client's id for the message (echoed in lifecycle data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// RFC 3339 time, on frames the agent emits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The tool's structured output (Claude Code's per-tool Output object) on tool-result frames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_use_result: Option<Value>,
    /// Unmodelled fields (`priority`, `client_composed`, `tool_result_meta`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An `assistant` frame: one content block of the model's reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistantFrame {
    /// The message with a single block; all frames of one response share `message.id`.
    pub message: AssistantMessage,
    /// Set for sub-agent output.
    #[serde(default)]
    pub parent_tool_use_id: Option<String>,
    /// Session id.
    pub session_id: String,
    /// Frame id.
    pub uuid: String,
    /// Unmodelled fields (`error`, `is_api_error_message`, `timestamp`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `system` frame; everything but the subtype and ids is subtype-specific.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemFrame {
    /// `init`, `status`, `api_retry`, `permission_denied`, `compact_boundary`, ...
    pub subtype: String,
    /// Session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Frame id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// The subtype's fields.
    #[serde(flatten)]
    pub data: Map<String, Value>,
}

/// A `stream_event` frame wrapping a raw Messages API event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamEventFrame {
    /// The event as the API sent it.
    pub event: StreamEvent,
    /// Session id.
    pub session_id: String,
    /// Set for sub-agent output.
    #[serde(default)]
    pub parent_tool_use_id: Option<String>,
    /// Frame id.
    pub uuid: String,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A tool call that was not allowed to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PermissionDenial {
    /// Tool name.
    pub tool_name: String,
    /// The `tool_use` id.
    pub tool_use_id: String,
    /// The input it was called with.
    pub tool_input: Value,
}

/// The `result` frame: exactly one per turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultFrame {
    /// `success`, `error_max_turns`, `error_during_execution`, ... (API errors are `success` + `is_error`).
    pub subtype: String,
    /// Whether the turn failed.
    pub is_error: bool,
    /// Wall time of the turn.
    pub duration_ms: u64,
    /// Time spent waiting for the model.
    pub duration_api_ms: u64,
    /// Model requests made in the turn.
    pub num_turns: u32,
    /// Session id.
    pub session_id: String,
    /// The final text (absent on `error_*` subtypes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Cost of the session so far, in US dollars.
    #[serde(default)]
    pub total_cost_usd: f64,
    /// Tokens used in this turn.
    #[serde(default)]
    pub usage: Usage,
    /// Tool calls denied in this turn.
    #[serde(default)]
    pub permission_denials: Vec<PermissionDenial>,
    /// The model's last stop reason.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// Why the turn ended: `completed`, `max_turns`, `aborted_streaming`, `aborted_tools`, `api_error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_reason: Option<String>,
    /// Error texts for `error_*` subtypes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<String>>,
    /// HTTP status of the API error that ended the turn.
    #[serde(default)]
    pub api_error_status: Option<u16>,
    /// Frame id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// Unmodelled fields (`modelUsage`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::ControlRequest;
    use serde_json::json;

    /// Frames as the Python SDK writes them and as Claude Code 2.1.332 emitted them.
    const CAPTURED: &[&str] = &[
        r#"{"type": "user", "message": {"role": "user", "content": "please write the file"}, "parent_tool_use_id": null, "session_id": "default"}"#,
        r#"{"type":"control_request","request_id":"req_1_77834db6","request":{"subtype":"initialize","hooks":{"PreToolUse":[{"matcher":null,"hookCallbackIds":["hook_0"]}]}}}"#,
        r#"{"type":"control_response","response":{"subtype":"success","request_id":"0add","response":{"behavior":"allow","updatedInput":{"file_path":"/p/hello.txt","content":"hi\n"}}}}"#,
        r#"{"type":"system","subtype":"init","cwd":"/p","session_id":"s","tools":["Bash"],"mcp_servers":[],"model":"m","permissionMode":"default","apiKeySource":"none","uuid":"u"}"#,
        r#"{"type":"assistant","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"I'll run a command."}],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1},"context_management":null},"parent_tool_use_id":null,"session_id":"s","uuid":"u","timestamp":"2026-11-27T14:14:59.969Z","request_id":"req_fake"}"#,
        r#"{"type":"stream_event","event":{"type":"message_stop","abandoned_blocks":{"from_block_index":0}},"session_id":"s","parent_tool_use_id":null,"uuid":"u"}"#,
        r#"{"type":"result","subtype":"success","is_error":false,"duration_ms":444,"duration_api_ms":148,"num_turns":2,"result":"Done.","stop_reason":"end_turn","session_id":"s","total_cost_usd":0.00075,"usage":{"input_tokens":50,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":40},"permission_denials":[],"terminal_reason":"completed","api_error_status":null,"uuid":"u","modelUsage":{"m":{"inputTokens":50}}}"#,
        r#"{"type":"control_cancel_request","request_id":"3490"}"#,
        r#"{"type":"keep_alive"}"#,
        r#"{"type":"command_lifecycle","command_uuid":"1111","state":"queued","uuid":"x","session_id":"s"}"#,
    ];

    #[test]
    fn captured_frames_round_trip_unchanged() {
        for line in CAPTURED {
            let original: Value = serde_json::from_str(line).unwrap();
            let frame: Frame = serde_json::from_str(line).unwrap();
            assert_eq!(serde_json::to_value(&frame).unwrap(), original, "{line}");
        }
    }

    #[test]
    fn unknown_frame_types_are_kept_not_rejected() {
        let frame: Frame = serde_json::from_str(CAPTURED[9]).unwrap();
        assert!(matches!(frame, Frame::Other(_)));
        assert_eq!(frame.tag(), Some("command_lifecycle"));
    }

    #[test]
    fn initialize_hooks_decode() {
        let Frame::ControlRequest(req) = serde_json::from_str(CAPTURED[1]).unwrap() else {
            panic!("not a control request");
        };
        let ControlRequest::Initialize(init) = req.request else {
            panic!("not initialize");
        };
        let hooks = init.hooks.unwrap();
        assert_eq!(hooks["PreToolUse"][0].hook_callback_ids, vec!["hook_0"]);
        assert_eq!(hooks["PreToolUse"][0].matcher, None);
    }

    #[test]
    fn user_frame_with_blocks() {
        let v = json!({"type":"user","message":{"role":"user","content":[{"type":"text","text":"a"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA=="}}]},"parent_tool_use_id":null});
        let frame: Frame = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(frame).unwrap(), v);
    }
}
