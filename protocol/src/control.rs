//! Control frames: requests that expect an answer, in both directions (initialize, permissions, hooks, ...).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::anthropic::Empty;
use crate::open_enum::open_enum;

/// `{"type":"control_request","request_id":..,"request":{"subtype":..}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlRequestFrame {
    /// Correlates the answer.
    pub request_id: String,
    /// What is asked.
    pub request: ControlRequest,
}

open_enum! {
    /// The body of a control request, by `subtype`.
    pub enum ControlRequest tag "subtype" {
        /// Client → agent, first: registers hooks and agents; answered before any turn.
        Initialize(Initialize) = "initialize",
        /// Client → agent: abort the running turn.
        Interrupt(Empty) = "interrupt",
        /// Client → agent: change the permission mode.
        SetPermissionMode(SetPermissionMode) = "set_permission_mode",
        /// Client → agent: change the model (`null` = the session default).
        SetModel(SetModel) = "set_model",
        /// Agent → client: may this tool call run?
        CanUseTool(CanUseTool) = "can_use_tool",
        /// Agent → client: run a registered hook.
        HookCallback(HookCallback) = "hook_callback",
        /// Agent → client: a JSON-RPC message for an in-process MCP server.
        McpMessage(McpMessage) = "mcp_message",
    }
}

/// `initialize` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Initialize {
    /// Hook registrations by event name (`PreToolUse`, `PostToolUse`, ...); `null` means none.
    #[serde(default)]
    pub hooks: Option<BTreeMap<String, Vec<HookMatcher>>>,
    /// Sub-agent definitions by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<Value>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One hook registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookMatcher {
    /// Tool-name pattern (`Bash`, `Write|Edit`, regex); `null` matches every tool.
    #[serde(default)]
    pub matcher: Option<String>,
    /// Ids to send back in `hook_callback`.
    #[serde(rename = "hookCallbackIds", default)]
    pub hook_callback_ids: Vec<String>,
    /// Seconds to wait for an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `set_permission_mode` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetPermissionMode {
    /// `default`, `acceptEdits`, `plan`, `bypassPermissions`, ...
    pub mode: String,
}

/// `set_model` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetModel {
    /// New model; `null` or `"default"` restores the session default.
    #[serde(default)]
    pub model: Option<String>,
}

/// `can_use_tool` request (agent → client).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanUseTool {
    /// Tool name.
    pub tool_name: String,
    /// Name to show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The input the model gave.
    pub input: Value,
    /// Short description of the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A full sentence for a prompt ("Claude wants to run `rm -rf build`").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Changes that would make the same call pass without asking next time.
    #[serde(default)]
    pub permission_suggestions: Vec<PermissionUpdate>,
    /// The path that needs permission, if the call touches one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_path: Option<String>,
    /// Why the agent asks (`rule`, `mode`, `workingDir`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_reason: Option<String>,
    /// The `tool_use` id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_use_id: Option<String>,
    /// Unmodelled fields (`agent_id`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `hook_callback` request (agent → client).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookCallback {
    /// The registered callback id.
    pub callback_id: String,
    /// The hook input (`hook_event_name`, `tool_name`, `tool_input`, ...).
    pub input: Value,
    /// The `tool_use` id, for tool hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_use_id: Option<String>,
}

/// `mcp_message` request (agent → client).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct McpMessage {
    /// SDK server name.
    pub server_name: String,
    /// The JSON-RPC message.
    pub message: Value,
}

/// `{"type":"control_response","response":{...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlResponseFrame {
    /// The answer.
    pub response: ControlResponse,
}

open_enum! {
    /// The answer to a control request, by `subtype`.
    pub enum ControlResponse tag "subtype" {
        /// It worked.
        Success(ControlSuccess) = "success",
        /// It did not (or the subtype is not supported).
        Error(ControlError) = "error",
    }
}

impl ControlResponse {
    /// The id of the request this answers.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Success(s) => Some(&s.request_id),
            Self::Error(e) => Some(&e.request_id),
            Self::Other(v) => v.get("request_id").and_then(Value::as_str),
        }
    }
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlSuccess {
    /// The request's id.
    pub request_id: String,
    /// The payload; its shape depends on the request.
    #[serde(default)]
    pub response: Option<Value>,
}

/// A failed answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlError {
    /// The request's id.
    pub request_id: String,
    /// What went wrong.
    #[serde(default)]
    pub error: String,
}

/// `{"type":"control_cancel_request","request_id":..}`: the request is withdrawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlCancelRequest {
    /// The withdrawn request's id.
    pub request_id: String,
}

open_enum! {
    /// The client's answer to `can_use_tool`, by `behavior`.
    pub enum PermissionResult tag "behavior" {
        /// Run it (possibly with a changed input).
        Allow(PermissionAllow) = "allow",
        /// Do not run it.
        Deny(PermissionDeny) = "deny",
    }
}

/// `behavior: "allow"`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionAllow {
    /// Replaces the model's input when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_input: Option<Value>,
    /// Rule or mode changes to apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_permissions: Option<Vec<PermissionUpdate>>,
}

/// `behavior: "deny"`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PermissionDeny {
    /// Becomes the tool result the model sees.
    #[serde(default)]
    pub message: String,
    /// Also abort the turn.
    #[serde(default)]
    pub interrupt: bool,
}

/// A rule in a permission update (`{"toolName":"Bash","ruleContent":"npm test"}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleValue {
    /// Tool name.
    pub tool_name: String,
    /// Pattern; absent covers the whole tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_content: Option<String>,
}

/// `addRules` / `replaceRules` / `removeRules`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulesUpdate {
    /// The rules.
    pub rules: Vec<RuleValue>,
    /// `allow`, `deny` or `ask`.
    pub behavior: String,
    /// `session`, `localSettings`, ...
    pub destination: String,
}

/// `setMode`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModeUpdate {
    /// The new mode.
    pub mode: String,
    /// Where to store it.
    pub destination: String,
}

/// `addDirectories` / `removeDirectories`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectoriesUpdate {
    /// Directories.
    pub directories: Vec<String>,
    /// Where to store it.
    pub destination: String,
}

open_enum! {
    /// A permission change (suggested by the agent, or applied by the client's answer).
    pub enum PermissionUpdate tag "type" {
        /// Add rules.
        AddRules(RulesUpdate) = "addRules",
        /// Replace all rules of a behavior.
        ReplaceRules(RulesUpdate) = "replaceRules",
        /// Remove rules.
        RemoveRules(RulesUpdate) = "removeRules",
        /// Switch the permission mode.
        SetMode(ModeUpdate) = "setMode",
        /// Add working directories.
        AddDirectories(DirectoriesUpdate) = "addDirectories",
        /// Remove working directories.
        RemoveDirectories(DirectoriesUpdate) = "removeDirectories",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn permission_answers_decode() {
        let allow: PermissionResult =
            serde_json::from_value(json!({"behavior":"allow","updatedInput":{"command":"ls"},"updatedPermissions":[{"type":"setMode","mode":"acceptEdits","destination":"session"}]}))
                .unwrap();
        let PermissionResult::Allow(allow) = allow else {
            panic!()
        };
        assert_eq!(allow.updated_input, Some(json!({"command":"ls"})));
        assert!(matches!(
            allow.updated_permissions.as_deref(),
            Some([PermissionUpdate::SetMode(_)])
        ));
        let deny: PermissionResult =
            serde_json::from_value(json!({"behavior":"deny","message":"no","interrupt":true}))
                .unwrap();
        assert_eq!(
            deny,
            PermissionResult::Deny(PermissionDeny {
                message: "no".into(),
                interrupt: true
            })
        );
    }

    #[test]
    fn unknown_control_subtypes_are_kept() {
        let req: ControlRequest =
            serde_json::from_value(json!({"subtype":"rewind_files","user_message_id":"x"}))
                .unwrap();
        assert_eq!(req.tag(), Some("rewind_files"));
    }
}
