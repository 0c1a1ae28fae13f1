//! Hooks registered by the client in `initialize`, and what their answers mean.
//!
//! The agent asks the client to run a hook with a `hook_callback` control request; the answer is Claude
//! Code's hook JSON output. Only the fields that change what we do are interpreted here.

use std::collections::BTreeMap;

use grep_matcher::Matcher;
use serde_json::Value;
use workroom_protocol::control::HookMatcher;

/// Registered hooks by event name.
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    by_event: BTreeMap<String, Vec<HookMatcher>>,
}

/// One callback to run: its id and how long to wait (seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Callback {
    /// The id the client registered.
    pub id: String,
    /// Timeout in seconds.
    pub timeout_secs: f64,
}

impl Hooks {
    /// The hooks from an `initialize` request.
    pub fn new(by_event: Option<BTreeMap<String, Vec<HookMatcher>>>) -> Self {
        Self {
            by_event: by_event.unwrap_or_default(),
        }
    }

    /// Callbacks registered for `event` whose matcher accepts `tool` (events without a tool, such as
    /// `UserPromptSubmit` and `Stop`, pass `None` and match every registration).
    pub fn callbacks(&self, event: &str, tool: Option<&str>) -> Vec<Callback> {
        self.by_event
            .get(event)
            .into_iter()
            .flatten()
            .filter(|m| tool.is_none_or(|tool| matcher_accepts(m.matcher.as_deref(), tool)))
            .flat_map(|m| {
                m.hook_callback_ids.iter().map(|id| Callback {
                    id: id.clone(),
                    timeout_secs: m.timeout.unwrap_or(60.0),
                })
            })
            .collect()
    }
}

/// `null`, `""` and `*` match every tool; `A|B` lists names; anything else is an anchored regex.
fn matcher_accepts(matcher: Option<&str>, tool: &str) -> bool {
    let Some(pattern) = matcher
        .map(str::trim)
        .filter(|m| !m.is_empty() && *m != "*")
    else {
        return true;
    };
    if pattern
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '|')
    {
        return pattern.split('|').any(|name| name == tool);
    }
    grep_regex::RegexMatcher::new(&format!("^(?:{pattern})$"))
        .ok()
        .and_then(|m| m.is_match(tool.as_bytes()).ok())
        .unwrap_or(false)
}

/// A hook's say on a tool call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookPermission {
    /// Skip the permission check.
    Allow,
    /// Do not run the tool.
    Deny,
    /// Ask the user even if rules would allow.
    Ask,
}

/// What the hooks for one event decided, merged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HookVerdict {
    /// Permission override (deny wins over ask, ask over allow).
    pub permission: Option<HookPermission>,
    /// Why, for the model.
    pub reason: Option<String>,
    /// A replacement tool input.
    pub updated_input: Option<Value>,
    /// Text to add for the model.
    pub additional_context: Vec<String>,
    /// `continue: false`: end the turn, with this reason.
    pub stop: Option<String>,
}

impl HookVerdict {
    /// Folds one hook output into the verdict.
    pub fn absorb(&mut self, output: &Value) {
        if output.get("continue") == Some(&Value::Bool(false)) {
            self.stop = Some(
                output
                    .get("stopReason")
                    .and_then(Value::as_str)
                    .unwrap_or("A hook stopped the turn.")
                    .to_string(),
            );
        }
        if output.get("decision").and_then(Value::as_str) == Some("block") {
            self.raise(HookPermission::Deny);
            if let Some(reason) = output.get("reason").and_then(Value::as_str) {
                self.reason = Some(reason.to_string());
            }
        }
        let Some(specific) = output.get("hookSpecificOutput") else {
            return;
        };
        match specific.get("permissionDecision").and_then(Value::as_str) {
            Some("allow") => self.raise(HookPermission::Allow),
            Some("deny") => self.raise(HookPermission::Deny),
            Some("ask") => self.raise(HookPermission::Ask),
            _ => {}
        }
        if let Some(reason) = specific
            .get("permissionDecisionReason")
            .and_then(Value::as_str)
        {
            self.reason = Some(reason.to_string());
        }
        if let Some(input) = specific.get("updatedInput").filter(|v| v.is_object()) {
            self.updated_input = Some(input.clone());
        }
        if let Some(context) = specific.get("additionalContext").and_then(Value::as_str) {
            self.additional_context.push(context.to_string());
        }
    }

    fn raise(&mut self, p: HookPermission) {
        let rank = |p: Option<HookPermission>| match p {
            None => 0,
            Some(HookPermission::Allow) => 1,
            Some(HookPermission::Ask) => 2,
            Some(HookPermission::Deny) => 3,
        };
        if rank(Some(p)) > rank(self.permission) {
            self.permission = Some(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matchers() {
        assert!(matcher_accepts(None, "Bash"));
        assert!(matcher_accepts(Some(""), "Bash"));
        assert!(matcher_accepts(Some("Write|Edit"), "Edit"));
        assert!(!matcher_accepts(Some("Write|Edit"), "Bash"));
        assert!(matcher_accepts(Some("mcp__.*"), "mcp__calc__add"));
        assert!(!matcher_accepts(Some("Bas"), "Bash"));
    }

    #[test]
    fn verdicts_merge_with_deny_winning() {
        let mut v = HookVerdict::default();
        v.absorb(&json!({"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"allow","updatedInput":{"command":"ls"}}}));
        v.absorb(&json!({"decision":"block","reason":"nope"}));
        v.absorb(
            &json!({"hookSpecificOutput":{"permissionDecision":"ask","additionalContext":"ctx"}}),
        );
        assert_eq!(v.permission, Some(HookPermission::Deny));
        assert_eq!(v.reason.as_deref(), Some("nope"));
        assert_eq!(v.updated_input, Some(json!({"command":"ls"})));
        assert_eq!(v.additional_context, vec!["ctx"]);
        v.absorb(&json!({"continue": false, "stopReason": "enough"}));
        assert_eq!(v.stop.as_deref(), Some("enough"));
    }

    #[test]
    fn callbacks_follow_registration() {
        let hooks = Hooks::new(Some(
            serde_json::from_value(json!({"PreToolUse":[{"matcher":"Bash","hookCallbackIds":["h0"]},{"matcher":null,"hookCallbackIds":["h1"],"timeout":5}]}))
                .unwrap(),
        ));
        assert_eq!(hooks.callbacks("PreToolUse", Some("Bash")).len(), 2);
        let write = hooks.callbacks("PreToolUse", Some("Write"));
        assert_eq!(
            write,
            vec![Callback {
                id: "h1".into(),
                timeout_secs: 5.0
            }]
        );
        assert!(hooks.callbacks("PostToolUse", Some("Bash")).is_empty());
    }
}
