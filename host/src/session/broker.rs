//! The permission broker: what the agent's `can_use_tool` questions mean in plain words, which ones the
//! host answers by itself, and how a person's answer becomes the control response (and saved rules).
//!
//! Stored rules are handed to the agent when its session starts (`--allowedTools`/`--disallowedTools`),
//! so only calls no rule covers reach here. Of those, writing a file that does not exist yet (or one the
//! agent itself created in this session) is allowed without asking; everything else asks the person.

use std::collections::HashSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::folders::FolderMap;

/// A question for the person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PermissionPrompt {
    /// The control request to answer.
    pub request_id: String,
    /// Tool name.
    pub tool_name: String,
    /// The tool call's id.
    pub tool_use_id: Option<String>,
    /// The tool input.
    pub input: Value,
    /// One sentence: "Run `rm -rf build/` in Taxes 2026".
    pub summary: String,
    /// What exactly will happen: the command, or a diff of an edit.
    pub detail: Option<String>,
    /// The folder it concerns, by name.
    pub folder: Option<String>,
    /// The agent's suggestions for "allow for this session" / "always allow".
    pub suggestions: Vec<Value>,
}

/// The `tool_name` of network questions (from the egress proxy, not from a tool call).
pub const NETWORK_TOOL: &str = "Network";

/// The question when the agent's tools want to reach a host nobody decided about.
pub fn network_prompt(request_id: &str, host: &str) -> PermissionPrompt {
    PermissionPrompt {
        request_id: request_id.to_string(),
        tool_name: NETWORK_TOOL.to_string(),
        tool_use_id: None,
        input: serde_json::json!({"host": host}),
        summary: format!("Let the agent's tools connect to {host}"),
        detail: Some(format!(
            "A command or web fetch in the VM wants to reach {host}. Nothing else on the internet is reachable unless you allow it."
        )),
        folder: None,
        suggestions: Vec::new(),
    }
}

/// A person's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum PermissionAnswer {
    /// Run it this once.
    AllowOnce,
    /// Run it, and calls like it for the rest of the session.
    AllowForSession,
    /// Run it, and save a rule so calls like it never ask again in this folder.
    AlwaysAllow,
    /// Do not run it.
    Deny,
    /// Do not run it, and tell the agent why.
    DenyWithMessage(String),
    /// The answers to an `AskUserQuestion` (question text → chosen label or the person's words).
    Answers(std::collections::BTreeMap<String, String>),
    /// Approve an `ExitPlanMode` plan; planning ends and the session goes on in this mode
    /// (`default` or `acceptEdits`).
    ApprovePlan(String),
}

impl PermissionAnswer {
    /// Name for the transcript.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::AllowOnce => "allow_once",
            Self::AllowForSession => "allow_session",
            Self::AlwaysAllow => "always_allow",
            Self::Deny => "deny",
            Self::DenyWithMessage(_) => "deny_with_message",
            Self::Answers(_) => "answers",
            Self::ApprovePlan(_) => "approve_plan",
        }
    }

    /// Whether the tool runs.
    pub fn allows(&self) -> bool {
        !matches!(self, Self::Deny | Self::DenyWithMessage(_))
    }
}

/// Builds the prompt for a `can_use_tool` request.
pub fn prompt(folders: &FolderMap, request_id: &str, request: &Value) -> PermissionPrompt {
    let tool = request["tool_name"]
        .as_str()
        .unwrap_or("a tool")
        .to_string();
    let input = request.get("input").cloned().unwrap_or(Value::Null);
    let field = |name: &str| {
        input
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let place = |path: &str| match folders.locate(path) {
        Some((folder, rel)) if rel.as_os_str().is_empty() => (
            format!("the folder {}", folder.name),
            Some(folder.name.clone()),
        ),
        Some((folder, rel)) => (
            format!("{} in {}", rel.display(), folder.name),
            Some(folder.name.clone()),
        ),
        None => (path.to_string(), None),
    };
    let working = folders.first().map(|f| f.name.clone());
    let (summary, detail, folder) = match tool.as_str() {
        "Bash" => {
            let command = field("command");
            let shown: String = command.chars().take(120).collect();
            let ellipsis = if command.chars().count() > 120 {
                "…"
            } else {
                ""
            };
            let place = working
                .clone()
                .map(|w| format!(" in {w}"))
                .unwrap_or_default();
            (
                format!("Run `{shown}{ellipsis}`{place}"),
                Some(command),
                working,
            )
        }
        "Write" => {
            let path = field("file_path");
            let exists = folders.to_host(&path).is_some_and(|p| p.exists());
            let (where_, folder) = place(&path);
            let verb = if exists { "Overwrite" } else { "Create" };
            (format!("{verb} {where_}"), Some(field("content")), folder)
        }
        "Edit" => {
            let path = field("file_path");
            let (where_, folder) = place(&path);
            let diff = format!(
                "{}\n{}",
                field("old_string")
                    .lines()
                    .map(|l| format!("- {l}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
                field("new_string")
                    .lines()
                    .map(|l| format!("+ {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            (format!("Edit {where_}"), Some(diff), folder)
        }
        // The plan is the detail; allowing approves it and ends plan mode.
        "ExitPlanMode" => (
            "Approve the agent's plan and let it start".to_string(),
            Some(field("plan")),
            working,
        ),
        // Questions are answered through `updatedInput.answers`; a plain answer from a client that
        // cannot show them leaves the agent to go on without.
        "AskUserQuestion" => {
            let questions: Vec<String> = input["questions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|q| q["question"].as_str().map(str::to_string))
                .collect();
            (
                "Answer the agent's question".to_string(),
                Some(questions.join("\n")),
                working,
            )
        }
        name if is_document_tool(name) => {
            let path = field("file_path");
            let exists = folders.to_host(&path).is_some_and(|p| p.exists());
            let (where_, folder) = place(&path);
            let verb = if exists { "Replace" } else { "Create" };
            (format!("{verb} {where_}"), None, folder)
        }
        name if name.starts_with("mcp__") => (
            format!("Use the connector tool {name}"),
            Some(input.to_string()),
            working,
        ),
        name => (format!("Use {name}"), Some(input.to_string()), working),
    };
    PermissionPrompt {
        request_id: request_id.to_string(),
        tool_name: tool,
        tool_use_id: request
            .get("tool_use_id")
            .and_then(Value::as_str)
            .map(str::to_string),
        input,
        summary,
        detail,
        folder,
        suggestions: request
            .get("permission_suggestions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    }
}

/// The host's own answer, when no person needs to be asked: a new file, or one the agent created.
pub fn auto_allow(
    folders: &FolderMap,
    created: &HashSet<PathBuf>,
    prompt: &PermissionPrompt,
) -> Option<&'static str> {
    let creates = is_document_tool(&prompt.tool_name) || prompt.tool_name == "Write";
    if !creates && prompt.tool_name != "Edit" {
        return None;
    }
    let path = prompt.input.get("file_path").and_then(Value::as_str)?;
    let host = folders.to_host(path)?;
    if creates && !host.exists() {
        return Some("new file");
    }
    created.contains(&host).then_some("file the agent created")
}

/// The agent's tools that write a whole document (a spreadsheet, a Word file, a PDF).
fn is_document_tool(tool: &str) -> bool {
    workroom_protocol::tools::DOCUMENT_WRITERS.contains(&tool)
}

/// The rule that "always allow" saves for this prompt, in Claude Code's syntax.
pub fn rule_for(prompt: &PermissionPrompt) -> String {
    let from_suggestion = prompt.suggestions.iter().find_map(|s| {
        (s["type"] == "addRules").then(|| {
            let rule = &s["rules"][0];
            match (rule["toolName"].as_str(), rule["ruleContent"].as_str()) {
                (Some(tool), Some(content)) => format!("{tool}({content})"),
                (Some(tool), None) => tool.to_string(),
                _ => prompt.tool_name.clone(),
            }
        })
    });
    match prompt.tool_name.as_str() {
        "Write" | "Edit" | "NotebookEdit" => "Edit".to_string(),
        _ => from_suggestion.unwrap_or_else(|| prompt.tool_name.clone()),
    }
}

/// The `can_use_tool` response payload for an answer.
pub fn response(prompt: &PermissionPrompt, answer: &PermissionAnswer) -> Value {
    match answer {
        PermissionAnswer::AllowOnce => json!({"behavior": "allow", "updatedInput": prompt.input}),
        PermissionAnswer::AllowForSession | PermissionAnswer::AlwaysAllow => {
            let rule = rule_for(prompt);
            let (tool, content) = match rule.split_once('(') {
                Some((tool, rest)) => (
                    tool.to_string(),
                    Some(rest.trim_end_matches(')').to_string()),
                ),
                None => (rule.clone(), None),
            };
            let mut rule_value = json!({"toolName": tool});
            if let Some(content) = content {
                rule_value["ruleContent"] = json!(content);
            }
            json!({
                "behavior": "allow",
                "updatedInput": prompt.input,
                "updatedPermissions": [{"type": "addRules", "rules": [rule_value], "behavior": "allow", "destination": "session"}],
            })
        }
        PermissionAnswer::Deny => {
            json!({"behavior": "deny", "message": "The user denied this action."})
        }
        PermissionAnswer::Answers(answers) => {
            // As Claude Code's own prompt does: the original input plus the answers.
            let mut input = prompt.input.clone();
            if let Some(object) = input.as_object_mut() {
                object.insert("answers".into(), json!(answers));
            }
            json!({"behavior": "allow", "updatedInput": input})
        }
        PermissionAnswer::ApprovePlan(mode) => {
            let mode = if mode == "acceptEdits" {
                "acceptEdits"
            } else {
                "default"
            };
            json!({
                "behavior": "allow",
                "updatedInput": prompt.input,
                "updatedPermissions": [{"type": "setMode", "mode": mode, "destination": "session"}],
            })
        }
        PermissionAnswer::DenyWithMessage(message) => json!({
            "behavior": "deny",
            "message": format!("The user denied this action and said: {message}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(dir: &std::path::Path) -> FolderMap {
        FolderMap::new("s1", &[dir.join("Taxes 2026")])
    }

    #[test]
    fn prompts_read_as_plain_sentences() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("Taxes 2026")).unwrap();
        std::fs::write(dir.path().join("Taxes 2026/old.txt"), "x").unwrap();
        let folders = map(dir.path());
        let bash = prompt(
            &folders,
            "r1",
            &json!({"tool_name": "Bash", "input": {"command": "rm -rf build/"}}),
        );
        assert_eq!(bash.summary, "Run `rm -rf build/` in Taxes 2026");
        let write = prompt(
            &folders,
            "r2",
            &json!({"tool_name": "Write", "input": {"file_path": "/sessions/s1/mnt/Taxes 2026/old.txt", "content": "y"}}),
        );
        assert_eq!(write.summary, "Overwrite old.txt in Taxes 2026");
        let edit = prompt(
            &folders,
            "r3",
            &json!({"tool_name": "Edit", "input": {"file_path": "/sessions/s1/mnt/Taxes 2026/old.txt", "old_string": "a", "new_string": "b"}}),
        );
        assert_eq!(edit.detail.as_deref(), Some("- a\n+ b"));
    }

    #[test]
    fn new_files_and_the_agents_own_files_need_no_question() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("Taxes 2026")).unwrap();
        std::fs::write(dir.path().join("Taxes 2026/mine.txt"), "x").unwrap();
        let folders = map(dir.path());
        let new = prompt(
            &folders,
            "r",
            &json!({"tool_name": "Write", "input": {"file_path": "/sessions/s1/mnt/Taxes 2026/new.txt"}}),
        );
        assert_eq!(
            auto_allow(&folders, &HashSet::new(), &new),
            Some("new file")
        );
        let existing = prompt(
            &folders,
            "r",
            &json!({"tool_name": "Write", "input": {"file_path": "/sessions/s1/mnt/Taxes 2026/mine.txt"}}),
        );
        assert_eq!(auto_allow(&folders, &HashSet::new(), &existing), None);
        let created: HashSet<_> = [dir.path().join("Taxes 2026/mine.txt")].into();
        assert!(auto_allow(&folders, &created, &existing).is_some());
        let outside = prompt(
            &folders,
            "r",
            &json!({"tool_name": "Write", "input": {"file_path": "/etc/new"}}),
        );
        assert_eq!(auto_allow(&folders, &HashSet::new(), &outside), None);
    }

    #[test]
    fn answers_become_control_responses() {
        let dir = tempfile::tempdir().unwrap();
        let folders = map(dir.path());
        let p = prompt(
            &folders,
            "r",
            &json!({"tool_name": "Bash", "input": {"command": "touch a"},
            "permission_suggestions": [{"type": "addRules", "rules": [{"toolName": "Bash", "ruleContent": "touch:*"}], "behavior": "allow", "destination": "localSettings"}]}),
        );
        assert_eq!(rule_for(&p), "Bash(touch:*)");
        let session = response(&p, &PermissionAnswer::AllowForSession);
        assert_eq!(
            session["updatedPermissions"][0]["rules"][0],
            json!({"toolName": "Bash", "ruleContent": "touch:*"})
        );
        assert_eq!(
            response(&p, &PermissionAnswer::AllowOnce)["updatedInput"]["command"],
            "touch a"
        );
        let deny = response(
            &p,
            &PermissionAnswer::DenyWithMessage("use trash instead".into()),
        );
        assert!(deny["message"]
            .as_str()
            .unwrap()
            .contains("use trash instead"));
    }
}
