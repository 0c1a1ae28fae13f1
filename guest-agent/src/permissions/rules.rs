//! Permission rules in Claude Code's syntax: `Bash`, `Bash(git status:*)`, `Edit(./src/**)`, `Read(//etc/**)`.

use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};

use super::CallFacts;
use crate::bash_syntax;

/// One parsed rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The text as the user wrote it (reported when the rule decides).
    pub source: String,
    tool: String,
    matcher: Option<ContentMatcher>,
}

#[derive(Debug, Clone)]
enum ContentMatcher {
    /// `Bash(npm run test:*)`: the command starts with the prefix (as a whole word).
    CommandPrefix(String),
    /// `Bash(git * main)`: a glob over the whole command.
    CommandGlob(GlobMatcher),
    /// `Bash(ls -la)`: this exact command.
    CommandExact(String),
    /// `Read(./docs/**)`, `Edit(//tmp/x)`: a path glob, resolved at parse time.
    Path(GlobMatcher),
    /// `Read(./docs)`: the path and everything under it.
    PathPrefix(PathBuf),
    /// A tool whose content we cannot interpret: never matches, so it never grants by accident.
    Never,
}

impl Rule {
    /// Parses `Tool` or `Tool(content)`; relative paths resolve against `base` (the working folder).
    pub fn parse(text: &str, base: &Path) -> Option<Rule> {
        let text = text.trim();
        let (tool, content) = match text.split_once('(') {
            Some((tool, rest)) => (tool.trim(), Some(rest.strip_suffix(')')?.trim())),
            None => (text, None),
        };
        if tool.is_empty() {
            return None;
        }
        let tool = canonical_tool(tool).to_string();
        let matcher = match content {
            None | Some("") | Some("*") => None,
            Some(content) => Some(match tool.as_str() {
                "Bash" => bash_matcher(content),
                "Read" | "Edit" | "Write" | "Glob" | "Grep" | "NotebookEdit" => {
                    path_matcher(content, base)
                }
                _ => ContentMatcher::Never,
            }),
        };
        Some(Rule {
            source: text.to_string(),
            tool,
            matcher,
        })
    }

    /// Whether this rule covers the call. For compound shell commands the caller asks per sub-command.
    pub fn matches(&self, call: &CallFacts, subcommand: Option<&str>) -> bool {
        if !self.covers_tool(&call.tool) {
            return false;
        }
        let Some(matcher) = &self.matcher else {
            return true;
        };
        match matcher {
            ContentMatcher::CommandPrefix(prefix) => subcommand.is_some_and(|c| {
                c == prefix
                    || (c.starts_with(prefix.as_str()) && c[prefix.len()..].starts_with(' '))
            }),
            ContentMatcher::CommandGlob(glob) => subcommand.is_some_and(|c| glob.is_match(c)),
            ContentMatcher::CommandExact(exact) => subcommand == Some(exact.as_str()),
            ContentMatcher::Path(glob) => {
                !call.paths.is_empty() && call.paths.iter().all(|p| glob.is_match(p))
            }
            ContentMatcher::PathPrefix(prefix) => {
                !call.paths.is_empty() && call.paths.iter().all(|p| p.starts_with(prefix))
            }
            ContentMatcher::Never => false,
        }
    }

    /// `Edit` rules cover every file-editing tool and `Read` rules every reading tool, as in Claude Code.
    fn covers_tool(&self, tool: &str) -> bool {
        let tool = canonical_tool(tool);
        if self.tool == tool {
            return true;
        }
        match self.tool.as_str() {
            "Edit" => matches!(tool, "Write" | "NotebookEdit"),
            "Read" => matches!(tool, "Glob" | "Grep"),
            server if server.starts_with("mcp__") && !server["mcp__".len()..].contains("__") => {
                tool.starts_with(&format!("{server}__"))
            }
            _ => false,
        }
    }

    /// Whether the rule matches a command-level pattern (so compound commands are checked per part).
    pub fn is_command_rule(&self) -> bool {
        matches!(
            self.matcher,
            Some(
                ContentMatcher::CommandPrefix(_)
                    | ContentMatcher::CommandGlob(_)
                    | ContentMatcher::CommandExact(_)
            )
        )
    }
}

/// `Task` is the name `system/init` lists for the tool the API calls `Agent`.
pub fn canonical_tool(name: &str) -> &str {
    match name {
        "Task" => "Agent",
        other => other,
    }
}

fn bash_matcher(content: &str) -> ContentMatcher {
    if let Some(prefix) = content.strip_suffix(":*") {
        return ContentMatcher::CommandPrefix(prefix.trim().to_string());
    }
    if content.contains('*') {
        if let Ok(glob) = GlobBuilder::new(content).literal_separator(false).build() {
            return ContentMatcher::CommandGlob(glob.compile_matcher());
        }
    }
    ContentMatcher::CommandExact(bash_syntax::normalize(content))
}

fn path_matcher(content: &str, base: &Path) -> ContentMatcher {
    let absolute: PathBuf = if let Some(rest) = content.strip_prefix("//") {
        PathBuf::from("/").join(rest)
    } else if let Some(rest) = content.strip_prefix("~/") {
        match std::env::var_os("HOME") {
            Some(home) => PathBuf::from(home).join(rest),
            None => return ContentMatcher::Never,
        }
    } else {
        // `./x`, `x` and (settings-relative) `/x` all mean "inside the working folder" for us.
        let rest = content.trim_start_matches("./").trim_start_matches('/');
        base.join(rest)
    };
    let text = absolute.to_string_lossy().to_string();
    if !text.contains(['*', '?', '[', '{']) {
        return ContentMatcher::PathPrefix(absolute);
    }
    match GlobBuilder::new(&text).literal_separator(true).build() {
        Ok(glob) => ContentMatcher::Path(glob.compile_matcher()),
        Err(_) => ContentMatcher::Never,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bash(command: &str) -> CallFacts {
        CallFacts {
            tool: "Bash".into(),
            input: json!({ "command": command }),
            paths: Vec::new(),
            read_only: false,
            edits_files: false,
            asks_user: false,
        }
    }

    fn file(tool: &str, path: &str) -> CallFacts {
        CallFacts {
            tool: tool.into(),
            input: json!({}),
            paths: vec![PathBuf::from(path)],
            read_only: tool == "Read",
            edits_files: tool != "Read",
            asks_user: false,
        }
    }

    #[test]
    fn bash_prefix_rules_match_whole_words() {
        let base = Path::new("/w");
        let rule = Rule::parse("Bash(git status:*)", base).unwrap();
        let call = bash("git status");
        assert!(rule.matches(&call, Some("git status")));
        assert!(rule.matches(&call, Some("git status --short")));
        assert!(!rule.matches(&call, Some("git statusx")));
        assert!(!rule.matches(&call, Some("git push")));
        let exact = Rule::parse("Bash(npm test)", base).unwrap();
        assert!(exact.matches(&call, Some("npm test")));
        assert!(!exact.matches(&call, Some("npm test --watch")));
        let glob = Rule::parse("Bash(git * main)", base).unwrap();
        assert!(glob.matches(&call, Some("git push origin main")));
    }

    #[test]
    fn bare_tool_rules_match_every_call() {
        let rule = Rule::parse("Bash", Path::new("/w")).unwrap();
        assert!(rule.matches(&bash("rm -rf /"), Some("rm -rf /")));
        let task = Rule::parse("Task", Path::new("/w")).unwrap();
        let agent = CallFacts {
            tool: "Agent".into(),
            ..bash("")
        };
        assert!(task.matches(&agent, None));
    }

    #[test]
    fn path_rules_resolve_against_the_working_folder() {
        let base = Path::new("/w");
        let rule = Rule::parse("Read(./docs/**)", base).unwrap();
        assert!(rule.matches(&file("Read", "/w/docs/a/b.md"), None));
        assert!(!rule.matches(&file("Read", "/w/src/main.rs"), None));
        assert!(rule.matches(&file("Grep", "/w/docs/x"), None));
        let edit = Rule::parse("Edit(src)", base).unwrap();
        assert!(edit.matches(&file("Write", "/w/src/deep/x.rs"), None));
        assert!(!edit.matches(&file("Write", "/w/srcx"), None));
        let abs = Rule::parse("Edit(//tmp/*.txt)", base).unwrap();
        assert!(abs.matches(&file("Edit", "/tmp/a.txt"), None));
        assert!(!abs.matches(&file("Edit", "/tmp/sub/a.txt"), None));
    }

    #[test]
    fn malformed_rules_are_rejected() {
        assert!(Rule::parse("Bash(unclosed", Path::new("/w")).is_none());
        assert!(Rule::parse("", Path::new("/w")).is_none());
    }
}
