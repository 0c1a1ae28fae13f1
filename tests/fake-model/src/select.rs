//! Chooses the step that answers a model request: next scripted step, else first matching rule,
//! else a fixed "exhausted" reply.

use std::borrow::Cow;

use serde_json::Value;

use crate::script::{Reply, Rule, Script, Step, When};

/// The two request dialects, which put tool results in different places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Anthropic,
    OpenAi,
}

/// What rules can look at: a summary of the request's last message.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct LastTurn {
    /// The last message has role `user`.
    is_user: bool,
    /// Its text blocks, joined with newlines (tool results excluded).
    user_text: String,
    /// Its tool results: text content and `is_error`.
    tool_results: Vec<(String, bool)>,
}

impl LastTurn {
    pub(crate) fn from_request(dialect: Dialect, body: &Value) -> Self {
        let messages = body
            .get("messages")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        match dialect {
            Dialect::Anthropic => Self::from_anthropic(messages.last()),
            Dialect::OpenAi => Self::from_openai(messages),
        }
    }

    fn from_anthropic(last: Option<&Value>) -> Self {
        let Some(last) = last else {
            return LastTurn::default();
        };
        let mut turn = LastTurn {
            is_user: last.get("role").and_then(Value::as_str) == Some("user"),
            ..LastTurn::default()
        };
        match last.get("content") {
            Some(Value::String(text)) => turn.user_text = text.clone(),
            Some(Value::Array(blocks)) => {
                let mut texts = Vec::new();
                for block in blocks {
                    match block.get("type").and_then(Value::as_str) {
                        Some("text") => {
                            if let Some(text) = block.get("text").and_then(Value::as_str) {
                                texts.push(text);
                            }
                        }
                        Some("tool_result") => {
                            let is_error = block
                                .get("is_error")
                                .and_then(Value::as_bool)
                                .unwrap_or(false);
                            turn.tool_results
                                .push((content_text(block.get("content")), is_error));
                        }
                        _ => {}
                    }
                }
                turn.user_text = texts.join("\n");
            }
            _ => {}
        }
        turn
    }

    fn from_openai(messages: &[Value]) -> Self {
        let role = |m: &Value| m.get("role").and_then(Value::as_str).map(str::to_owned);
        // Parallel tool calls come back as several consecutive `tool` messages; together they
        // are the equivalent of one Anthropic user message full of tool_result blocks.
        let trailing_tools: Vec<&Value> = messages
            .iter()
            .rev()
            .take_while(|m| role(m).as_deref() == Some("tool"))
            .collect();
        if !trailing_tools.is_empty() {
            return LastTurn {
                is_user: false,
                user_text: String::new(),
                tool_results: trailing_tools
                    .into_iter()
                    .rev()
                    .map(|m| (content_text(m.get("content")), false))
                    .collect(),
            };
        }
        let Some(last) = messages.last() else {
            return LastTurn::default();
        };
        LastTurn {
            is_user: role(last).as_deref() == Some("user"),
            user_text: content_text(last.get("content")),
            tool_results: Vec::new(),
        }
    }

    fn matches(&self, when: &When) -> bool {
        if let Some(needle) = &when.last_user_text_contains {
            if !(self.is_user && self.user_text.contains(needle.as_str())) {
                return false;
            }
        }
        if let Some(expected) = when.last_is_tool_result {
            if self.tool_results.is_empty() == expected {
                return false;
            }
        }
        if let Some(needle) = &when.tool_result_contains {
            if !self
                .tool_results
                .iter()
                .any(|(text, _)| text.contains(needle.as_str()))
            {
                return false;
            }
        }
        if let Some(expected) = when.tool_result_is_error {
            if self.tool_results.iter().any(|(_, e)| *e) != expected {
                return false;
            }
        }
        true
    }
}

/// Text of a content value that is either a string or a list of blocks/parts with `text`.
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The reply sent once the script has nothing left to say.
pub(crate) fn exhausted_step() -> Step {
    Step::Reply(Reply {
        stop_reason: Some("end_turn".to_owned()),
        ..Reply::new(vec![crate::script::Block::text(
            "(fake-model: script exhausted)",
        )])
    })
}

/// Mutable selection state: how far the steps have gone and how often each rule fired.
pub(crate) struct Selector {
    next_step: usize,
    rule_uses: Vec<u32>,
}

impl Selector {
    pub(crate) fn new(script: &Script) -> Self {
        Selector {
            next_step: 0,
            rule_uses: vec![0; script.rules.len()],
        }
    }

    /// Picks the answer to one model request and records that it was used.
    /// Returns the step and a label saying where it came from (for the request log).
    pub(crate) fn select<'s>(
        &mut self,
        script: &'s Script,
        turn: &LastTurn,
    ) -> (Cow<'s, Step>, String) {
        if let Some(step) = script.steps.get(self.next_step) {
            let label = format!("steps[{}]", self.next_step);
            self.next_step += 1;
            return (Cow::Borrowed(step), label);
        }
        for (i, rule) in script.rules.iter().enumerate() {
            if !rule_available(rule, self.rule_uses[i]) || !turn.matches(&rule.when) {
                continue;
            }
            self.rule_uses[i] += 1;
            return (Cow::Borrowed(&rule.reply), format!("rules[{i}]"));
        }
        (Cow::Owned(exhausted_step()), "default".to_owned())
    }
}

fn rule_available(rule: &Rule, used: u32) -> bool {
    rule.times.is_none_or(|limit| used < limit)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn anthropic_last_turn() {
        let body = json!({"messages": [
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "xyz out"}], "is_error": true},
                {"type": "text", "text": "reminder"}
            ]}
        ]});
        let turn = LastTurn::from_request(Dialect::Anthropic, &body);
        assert!(turn.is_user);
        assert_eq!(turn.user_text, "reminder");
        assert_eq!(turn.tool_results, vec![("xyz out".to_owned(), true)]);
    }

    #[test]
    fn openai_trailing_tool_messages() {
        let body = json!({"messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": null, "tool_calls": []},
            {"role": "tool", "tool_call_id": "a", "content": "one"},
            {"role": "tool", "tool_call_id": "b", "content": "two"}
        ]});
        let turn = LastTurn::from_request(Dialect::OpenAi, &body);
        assert_eq!(turn.tool_results.len(), 2);
        assert!(turn.matches(&When {
            tool_result_contains: Some("two".into()),
            last_is_tool_result: Some(true),
            ..When::default()
        }));
        assert!(!turn.matches(&When {
            last_user_text_contains: Some("hi".into()),
            ..When::default()
        }));
    }
}
