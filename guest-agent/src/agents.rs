//! Sub-agent types for the `Task` tool: the built-in general-purpose one, the client's (the
//! `agents` of `initialize`, as the SDKs send them) and the folder's own (`.claude/agents/*.md`:
//! front matter with `name`, `description`, optional `tools` and `model`; the body is the
//! sub-agent's system prompt), later ones replacing earlier ones of the same name.

use std::path::Path;

use serde_json::Value;

use crate::front_matter::{read_small, FrontMatter};

/// Largest agent definition read from a folder.
const MAX_DEFINITION_BYTES: u64 = 256 * 1024;

/// The type used when the model names none.
pub const GENERAL: &str = "general-purpose";

/// One kind of sub-agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentDef {
    pub name: String,
    /// When to use it (shown to the model in the tool description).
    pub description: String,
    /// Its system prompt.
    pub prompt: String,
    /// The tools it may use (`None`: all but `Task`).
    pub tools: Option<Vec<String>>,
    /// Its model (`None`: the session's).
    pub model: Option<String>,
}

fn general() -> AgentDef {
    AgentDef {
        name: GENERAL.into(),
        description: "General-purpose agent for researching complex questions, searching the folders and doing multi-step tasks on its own.".into(),
        prompt: "You are a sub-agent working on one part of a larger task, in the same folders as the agent that started you. Do the task you are given completely, using the tools you have, then answer with a concise report of what you found or did: the agent that started you sees only your final answer. Do not ask questions; make reasonable choices and say which.".into(),
        tools: None,
        model: None,
    }
}

/// The `agents` object of `initialize`: `{name: {description, prompt, tools?, model?}}`.
pub fn from_initialize(agents: &Value) -> Vec<AgentDef> {
    agents
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(name, def)| {
            Some(AgentDef {
                name: name.clone(),
                description: def["description"].as_str()?.to_string(),
                prompt: def["prompt"].as_str()?.to_string(),
                tools: def["tools"].as_array().map(|t| {
                    t.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                }),
                model: def["model"]
                    .as_str()
                    .filter(|m| *m != "inherit")
                    .map(str::to_string),
            })
        })
        .collect()
}

/// One `.claude/agents/<name>.md` file; `None` without front matter, name or description.
pub fn from_markdown(text: &str) -> Option<AgentDef> {
    let front = FrontMatter::parse(text)?;
    Some(AgentDef {
        name: front.field("name")?,
        description: front.field("description")?,
        prompt: front.body.trim().to_string(),
        tools: front.field("tools").map(|t| {
            t.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        }),
        model: front.field("model").filter(|m| m != "inherit"),
    })
}

/// Every sub-agent type available in `cwd`, with the client's `from_client`.
pub fn available(cwd: &Path, from_client: &[AgentDef]) -> Vec<AgentDef> {
    let mut all = vec![general()];
    let mut add = |def: AgentDef| {
        all.retain(|d| d.name != def.name);
        all.push(def);
    };
    from_client.iter().cloned().for_each(&mut add);
    let dir = cwd.join(".claude").join("agents");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    for file in files {
        let Some(text) = read_small(&file, MAX_DEFINITION_BYTES) else {
            continue;
        };
        match from_markdown(&text) {
            Some(def) => add(def),
            None => {
                tracing::warn!(file = %file.display(), "agent definition skipped: no front matter with name and description")
            }
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_come_from_the_client_and_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let agents = dir.path().join(".claude/agents");
        std::fs::create_dir_all(&agents).unwrap();
        std::fs::write(
            agents.join("auditor.md"),
            "---\nname: auditor\ndescription: Checks receipts\ntools: Read, Grep\nmodel: inherit\n---\nYou audit receipts.\n",
        )
        .unwrap();
        std::fs::write(agents.join("broken.md"), "no front matter").unwrap();
        let client = from_initialize(&serde_json::json!({
            "summarizer": {"description": "Summarises", "prompt": "Summarise.", "model": "haiku"},
            "incomplete": {"description": "no prompt"}
        }));
        let all = available(dir.path(), &client);
        let names: Vec<&str> = all.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, [GENERAL, "summarizer", "auditor"]);
        let auditor = &all[2];
        assert_eq!(auditor.prompt, "You audit receipts.");
        assert_eq!(
            auditor.tools.as_deref(),
            Some(&["Read".to_string(), "Grep".to_string()][..])
        );
        assert_eq!(auditor.model, None);
        assert_eq!(all[1].model.as_deref(), Some("haiku"));
    }
}
