//! Who may run what: permission modes, allow/deny/ask rules, and the decision for one tool call.
//!
//! [`decide`] is a pure function of the mode, the rules and the facts of a call; asking the user (over
//! the control channel) is the caller's job.

pub mod rules;

use std::path::{Path, PathBuf};

use serde_json::Value;
use workroom_protocol::control::{ModeUpdate, PermissionUpdate, RuleValue, RulesUpdate};

use crate::bash_syntax;
use rules::Rule;

/// How much the agent may do without asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Ask for anything that changes files or runs commands.
    Default,
    /// File edits inside the folders are allowed; commands still ask.
    AcceptEdits,
    /// Read-only tools only; the agent plans.
    Plan,
    /// Everything is allowed.
    BypassPermissions,
    /// Anything that would ask is denied.
    DontAsk,
}

impl Mode {
    /// Parses a mode name (`manual` is the newer spelling of `default`).
    pub fn parse(name: &str) -> Option<Mode> {
        Some(match name {
            "default" | "manual" => Mode::Default,
            "acceptEdits" => Mode::AcceptEdits,
            "plan" => Mode::Plan,
            "bypassPermissions" => Mode::BypassPermissions,
            "dontAsk" => Mode::DontAsk,
            _ => return None,
        })
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Default => "default",
            Mode::AcceptEdits => "acceptEdits",
            Mode::Plan => "plan",
            Mode::BypassPermissions => "bypassPermissions",
            Mode::DontAsk => "dontAsk",
        }
    }
}

/// What a decision needs to know about one tool call.
#[derive(Debug, Clone)]
pub struct CallFacts {
    /// Tool name.
    pub tool: String,
    /// The input.
    pub input: Value,
    /// Files the call reads or writes, resolved.
    pub paths: Vec<PathBuf>,
    /// The call cannot change anything.
    pub read_only: bool,
    /// The call edits files (Write, Edit).
    pub edits_files: bool,
    /// The tool's point is the user's answer (a plan to approve, questions): it always asks.
    pub asks_user: bool,
}

impl CallFacts {
    fn command(&self) -> Option<&str> {
        self.input.get("command").and_then(Value::as_str)
    }
}

/// Allow, deny and ask rules.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// Calls these match run without asking.
    pub allow: Vec<Rule>,
    /// Calls these match never run.
    pub deny: Vec<Rule>,
    /// Calls these match always ask.
    pub ask: Vec<Rule>,
}

impl RuleSet {
    /// Adds or removes rules from a permission update (`updatedPermissions`).
    pub fn apply(&mut self, update: &RulesUpdate, replace: bool, remove: bool, base: &Path) {
        let list = match update.behavior.as_str() {
            "allow" => &mut self.allow,
            "deny" => &mut self.deny,
            "ask" => &mut self.ask,
            _ => return,
        };
        let texts: Vec<String> = update.rules.iter().map(rule_text).collect();
        if replace {
            list.clear();
        }
        if remove {
            list.retain(|r| !texts.contains(&r.source));
            return;
        }
        list.extend(texts.iter().filter_map(|t| Rule::parse(t, base)));
    }
}

fn rule_text(rule: &RuleValue) -> String {
    match &rule.rule_content {
        Some(content) => format!("{}({content})", rule.tool_name),
        None => rule.tool_name.clone(),
    }
}

/// The verdict on one call.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Run it.
    Allow {
        /// Why (`rule`, `mode`, `readOnly`).
        reason: String,
    },
    /// Do not run it; `message` goes to the model.
    Deny {
        /// Why, for the model.
        message: String,
    },
    /// Ask the user.
    Ask {
        /// Why we ask.
        reason: String,
        /// What would let the same call through next time.
        suggestions: Vec<PermissionUpdate>,
        /// The path that needs permission, if any.
        blocked_path: Option<String>,
    },
}

/// Decides one call: deny rules, then ask rules, then the mode, then allow rules, then defaults.
pub fn decide(mode: Mode, rules: &RuleSet, call: &CallFacts) -> Decision {
    if let Some(rule) = matching(&rules.deny, call, Quantifier::Any) {
        return Decision::Deny {
            message: format!(
                "Permission to use {} has been denied by the rule {}.",
                call.tool, rule.source
            ),
        };
    }
    if call.asks_user {
        return Decision::Ask {
            reason: "the tool asks the user".into(),
            suggestions: Vec::new(),
            blocked_path: None,
        };
    }
    if mode == Mode::BypassPermissions {
        return allow("mode");
    }
    if let Some(rule) = matching(&rules.ask, call, Quantifier::Any) {
        return ask(call, format!("rule {}", rule.source));
    }
    if mode == Mode::Plan && !call.read_only {
        return Decision::Deny {
            message: format!(
                "{} is not available in plan mode: only read-only tools may run. Finish planning and \
                 present the plan to the user instead.",
                call.tool
            ),
        };
    }
    if let Some(rule) = matching(&rules.allow, call, Quantifier::All) {
        return allow(&format!("rule {}", rule.source));
    }
    if call.read_only {
        return allow("readOnly");
    }
    if call.edits_files && mode == Mode::AcceptEdits {
        return allow("mode");
    }
    if mode == Mode::DontAsk {
        return Decision::Deny {
            message: format!(
                "Permission to use {} was not granted in advance, and this session does not ask.",
                call.tool
            ),
        };
    }
    ask(call, "mode".into())
}

fn allow(reason: &str) -> Decision {
    Decision::Allow {
        reason: reason.into(),
    }
}

fn ask(call: &CallFacts, reason: String) -> Decision {
    let mut suggestions = Vec::new();
    if let Some(command) = call.command() {
        let rule_content = bash_syntax::suggested_prefix(command)
            .map(|p| format!("{p}:*"))
            .unwrap_or_else(|| command.to_string());
        suggestions.push(PermissionUpdate::AddRules(RulesUpdate {
            rules: vec![RuleValue {
                tool_name: "Bash".into(),
                rule_content: Some(rule_content),
            }],
            behavior: "allow".into(),
            destination: "localSettings".into(),
        }));
    }
    if call.edits_files {
        suggestions.push(PermissionUpdate::SetMode(ModeUpdate {
            mode: Mode::AcceptEdits.as_str().into(),
            destination: "session".into(),
        }));
    }
    Decision::Ask {
        reason,
        suggestions,
        blocked_path: call.paths.first().map(|p| p.to_string_lossy().into_owned()),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Quantifier {
    /// Deny/ask: one matching sub-command is enough.
    Any,
    /// Allow: every sub-command must be covered (by a rule, or by being read-only).
    All,
}

fn matching<'r>(rules: &'r [Rule], call: &CallFacts, q: Quantifier) -> Option<&'r Rule> {
    let Some(command) = call.command().filter(|_| call.tool == "Bash") else {
        return rules.iter().find(|r| r.matches(call, None));
    };
    let parts = bash_syntax::split(command);
    let mut first = None;
    for part in &parts {
        let hit = rules.iter().find(|r| r.matches(call, Some(part)));
        match (q, hit) {
            (Quantifier::Any, Some(rule)) => return Some(rule),
            (Quantifier::All, Some(rule)) => {
                first.get_or_insert(rule);
            }
            (Quantifier::All, None) if !bash_syntax::is_read_only(part) => return None,
            _ => {}
        }
    }
    // A bare `Bash` rule also covers commands we cannot split safely.
    if parts.is_empty() || (q == Quantifier::All && first.is_none()) {
        return rules
            .iter()
            .find(|r| !r.is_command_rule() && r.matches(call, None));
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(allow: &[&str], deny: &[&str]) -> RuleSet {
        let base = Path::new("/w");
        RuleSet {
            allow: allow.iter().filter_map(|r| Rule::parse(r, base)).collect(),
            deny: deny.iter().filter_map(|r| Rule::parse(r, base)).collect(),
            ask: Vec::new(),
        }
    }

    fn bash(command: &str) -> CallFacts {
        CallFacts {
            tool: "Bash".into(),
            input: json!({ "command": command }),
            paths: Vec::new(),
            read_only: bash_syntax::is_read_only(command),
            edits_files: false,
            asks_user: false,
        }
    }

    fn write(path: &str) -> CallFacts {
        CallFacts {
            tool: "Write".into(),
            input: json!({ "file_path": path }),
            paths: vec![PathBuf::from(path)],
            read_only: false,
            edits_files: true,
            asks_user: false,
        }
    }

    #[test]
    fn tools_that_ask_the_user_ask_in_every_mode_even_plan_and_bypass() {
        let plan = CallFacts {
            tool: "ExitPlanMode".into(),
            input: json!({"plan": "1. do it"}),
            paths: Vec::new(),
            read_only: false,
            edits_files: false,
            asks_user: true,
        };
        for mode in [
            Mode::Plan,
            Mode::BypassPermissions,
            Mode::Default,
            Mode::AcceptEdits,
        ] {
            assert!(
                matches!(
                    decide(mode, &RuleSet::default(), &plan),
                    Decision::Ask { .. }
                ),
                "{mode:?}"
            );
        }
    }

    fn is_allow(d: &Decision) -> bool {
        matches!(d, Decision::Allow { .. })
    }

    #[test]
    fn modes() {
        let none = RuleSet::default();
        assert!(matches!(
            decide(Mode::Default, &none, &write("/w/a")),
            Decision::Ask { .. }
        ));
        assert!(is_allow(&decide(Mode::AcceptEdits, &none, &write("/w/a"))));
        assert!(matches!(
            decide(Mode::Plan, &none, &write("/w/a")),
            Decision::Deny { .. }
        ));
        assert!(is_allow(&decide(
            Mode::BypassPermissions,
            &none,
            &bash("rm -rf x")
        )));
        assert!(matches!(
            decide(Mode::DontAsk, &none, &bash("touch x")),
            Decision::Deny { .. }
        ));
        assert!(is_allow(&decide(Mode::Plan, &none, &bash("ls -la"))));
        assert!(matches!(
            decide(Mode::AcceptEdits, &none, &bash("touch x")),
            Decision::Ask { .. }
        ));
    }

    #[test]
    fn deny_beats_allow_and_bypass() {
        let r = rules(&["Bash"], &["Bash(rm:*)"]);
        assert!(matches!(
            decide(Mode::BypassPermissions, &r, &bash("ls && rm -rf /")),
            Decision::Deny { .. }
        ));
        assert!(is_allow(&decide(Mode::Default, &r, &bash("touch a"))));
    }

    #[test]
    fn compound_commands_need_every_part_allowed() {
        let r = rules(&["Bash(git status:*)"], &[]);
        assert!(is_allow(&decide(
            Mode::Default,
            &r,
            &bash("git status && ls")
        )));
        assert!(matches!(
            decide(Mode::Default, &r, &bash("git status && touch x")),
            Decision::Ask { .. }
        ));
    }

    #[test]
    fn asking_suggests_a_rule_and_names_the_path() {
        match decide(
            Mode::Default,
            &RuleSet::default(),
            &bash("npm run build --prod"),
        ) {
            Decision::Ask { suggestions, .. } => {
                let PermissionUpdate::AddRules(update) = &suggestions[0] else {
                    panic!()
                };
                assert_eq!(update.rules[0].rule_content.as_deref(), Some("npm run:*"));
            }
            other => panic!("{other:?}"),
        }
        match decide(Mode::Default, &RuleSet::default(), &write("/w/a.txt")) {
            Decision::Ask {
                blocked_path,
                suggestions,
                ..
            } => {
                assert_eq!(blocked_path.as_deref(), Some("/w/a.txt"));
                assert!(matches!(suggestions[0], PermissionUpdate::SetMode(_)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn updates_add_and_remove_rules() {
        let mut r = RuleSet::default();
        let update = RulesUpdate {
            rules: vec![RuleValue {
                tool_name: "Bash".into(),
                rule_content: Some("make:*".into()),
            }],
            behavior: "allow".into(),
            destination: "session".into(),
        };
        r.apply(&update, false, false, Path::new("/w"));
        assert!(is_allow(&decide(Mode::Default, &r, &bash("make all"))));
        r.apply(&update, false, true, Path::new("/w"));
        assert!(!is_allow(&decide(Mode::Default, &r, &bash("make all"))));
    }
}
