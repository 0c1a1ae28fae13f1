//! The command line, accepted exactly as the Claude Agent SDKs build it for the `claude` CLI.
//!
//! Both `--flag value` and `--flag=value` work; unknown flags are ignored with a warning so newer SDKs
//! never break us. Flags that only make sense inside Claude Code's own ecosystem are accepted and ignored.

use std::path::PathBuf;

use thiserror::Error;

/// Everything the command line can set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    /// `--version` / `-v`.
    pub version: bool,
    /// `--help` / `-h`.
    pub help: bool,
    /// `--input-format`: `stream-json` (default) or `text`.
    pub input_format: Option<String>,
    /// `--output-format`: `stream-json` (default) or `text`/`json` for one-shot prompts.
    pub output_format: Option<String>,
    /// `--permission-prompt-tool stdio`: ask the client over the control channel.
    pub permission_prompt_tool: Option<String>,
    /// `--permission-mode`.
    pub permission_mode: Option<String>,
    /// `--model`.
    pub model: Option<String>,
    /// `--max-turns`.
    pub max_turns: Option<u32>,
    /// `--system-prompt` (an empty string is a real value: the SDK's default).
    pub system_prompt: Option<String>,
    /// `--system-prompt-file`.
    pub system_prompt_file: Option<PathBuf>,
    /// `--append-system-prompt`.
    pub append_system_prompt: Option<String>,
    /// `--allowedTools` rules (comma- or space-separated, repeatable).
    pub allowed_tools: Vec<String>,
    /// `--disallowedTools` rules.
    pub disallowed_tools: Vec<String>,
    /// `--tools`: the tool set (`None` = default set, `Some([])` = no tools).
    pub tools: Option<Vec<String>>,
    /// `--include-partial-messages`.
    pub include_partial_messages: bool,
    /// `--resume <session id>`.
    pub resume: Option<String>,
    /// `--continue`: resume the most recent session.
    pub continue_last: bool,
    /// `--session-id <uuid>`.
    pub session_id: Option<String>,
    /// `--add-dir` (repeatable): more folders the agent may work in.
    pub add_dirs: Vec<PathBuf>,
    /// `--settings <json or path>`.
    pub settings: Option<String>,
    /// `--max-thinking-tokens`.
    pub max_thinking_tokens: Option<u32>,
    /// `--mcp-config <json or path>`: MCP servers (SDK servers are tunnelled over the control channel).
    pub mcp_config: Option<String>,
    /// `--vm`: run the PID 1 duties (also implied when we are PID 1).
    pub vm: bool,
    /// Positional arguments (a one-shot prompt with `--input-format text`).
    pub positional: Vec<String>,
    /// Flags we did not recognise (reported on stderr, otherwise ignored).
    pub unknown: Vec<String>,
}

/// A command line we cannot run with.
#[derive(Debug, Error, PartialEq)]
pub enum CliError {
    /// A flag that needs a value came last.
    #[error("{0} needs a value")]
    MissingValue(String),
    /// A numeric flag got something else.
    #[error("{flag} expects a number, got {value:?}")]
    NotANumber {
        /// The flag.
        flag: String,
        /// What it got.
        value: String,
    },
}

/// Flags that take a value but that we do not use (accepted so the next token is not mistaken for a prompt).
const IGNORED_VALUE_FLAGS: &[&str] = &[
    "fallback-model",
    "max-budget-usd",
    "task-budget",
    "betas",
    "setting-sources",
    "plugin-dir",
    "thinking",
    "thinking-display",
    "effort",
    "json-schema",
    "agents",
    "agent",
    "permission-prompts",
    "debug-file",
    "resume-session-at",
    "resume-drops-turn",
    "channels",
    "project-config-root",
];

/// Boolean flags that we accept and ignore.
const IGNORED_SWITCHES: &[&str] = &[
    "verbose",
    "print",
    "include-hook-events",
    "strict-mcp-config",
    "fork-session",
    "session-mirror",
    "replay-user-messages",
    "await-initialize",
    "no-session-persistence",
    "allow-dangerously-skip-permissions",
    "exclude-dynamic-system-prompt-sections",
    "forward-subagent-text",
    "plugin-dir-no-mcp",
];

impl Options {
    /// Parses arguments (without the program name).
    pub fn parse<I, S>(args: I) -> Result<Self, CliError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut args = args.into_iter().map(Into::into).peekable();
        let mut o = Options::default();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.strip_prefix("--") {
                Some(rest) if !rest.is_empty() => match rest.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (rest.to_string(), None),
                },
                _ => match arg.as_str() {
                    "-v" => ("version".into(), None),
                    "-h" => ("help".into(), None),
                    "-p" => ("print".into(), None),
                    "-c" => ("continue".into(), None),
                    "-r" => ("resume".into(), None),
                    _ => {
                        o.positional.push(arg);
                        continue;
                    }
                },
            };
            let mut value = |flag: &str| -> Result<String, CliError> {
                match &inline {
                    Some(v) => Ok(v.clone()),
                    None => args
                        .next()
                        .ok_or_else(|| CliError::MissingValue(format!("--{flag}"))),
                }
            };
            match flag.as_str() {
                "version" => o.version = true,
                "help" => o.help = true,
                "input-format" => o.input_format = Some(value(&flag)?),
                "output-format" => o.output_format = Some(value(&flag)?),
                "permission-prompt-tool" => o.permission_prompt_tool = Some(value(&flag)?),
                "permission-mode" => o.permission_mode = Some(value(&flag)?),
                "dangerously-skip-permissions" => {
                    o.permission_mode = Some("bypassPermissions".into())
                }
                "model" => o.model = Some(value(&flag)?),
                "max-turns" => o.max_turns = Some(number(&flag, value(&flag)?)?),
                "max-thinking-tokens" => {
                    o.max_thinking_tokens = Some(number(&flag, value(&flag)?)?)
                }
                "system-prompt" => o.system_prompt = Some(value(&flag)?),
                "system-prompt-file" => o.system_prompt_file = Some(value(&flag)?.into()),
                "append-system-prompt" => o.append_system_prompt = Some(value(&flag)?),
                "allowedTools" | "allowed-tools" => {
                    o.allowed_tools.extend(split_rules(&value(&flag)?))
                }
                "disallowedTools" | "disallowed-tools" => {
                    o.disallowed_tools.extend(split_rules(&value(&flag)?))
                }
                "tools" => {
                    let v = value(&flag)?;
                    o.tools = match v.as_str() {
                        "default" => None,
                        _ => Some(split_rules(&v)),
                    };
                }
                "include-partial-messages" => o.include_partial_messages = true,
                "resume" => o.resume = Some(value(&flag)?),
                "continue" => o.continue_last = true,
                "session-id" => o.session_id = Some(value(&flag)?),
                "add-dir" => o.add_dirs.push(value(&flag)?.into()),
                "settings" => o.settings = Some(value(&flag)?),
                "vm" => o.vm = true,
                "mcp-config" => o.mcp_config = Some(value(&flag)?),
                f if IGNORED_SWITCHES.contains(&f) => {}
                f if IGNORED_VALUE_FLAGS.contains(&f) => {
                    value(&flag)?;
                }
                _ => {
                    // An unknown flag may or may not take a value; SDK `extra_args` pass values
                    // as separate tokens, so a following non-flag token is taken as its value.
                    if inline.is_none() && args.peek().is_some_and(|next| !next.starts_with('-')) {
                        args.next();
                    }
                    o.unknown.push(format!("--{flag}"));
                }
            }
        }
        Ok(o)
    }
}

fn number(flag: &str, value: String) -> Result<u32, CliError> {
    value.trim().parse().map_err(|_| CliError::NotANumber {
        flag: format!("--{flag}"),
        value,
    })
}

/// Splits a tool list on commas and spaces, but not inside parentheses (`Bash(git status:*)`).
pub fn split_rules(list: &str) -> Vec<String> {
    let mut rules = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    for c in list.chars() {
        match c {
            '(' => {
                depth += 1;
                current.push(c);
            }
            ')' => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            ',' | ' ' if depth == 0 => {
                if !current.trim().is_empty() {
                    rules.push(current.trim().to_string());
                }
                current.clear();
            }
            _ => current.push(c),
        }
    }
    if !current.trim().is_empty() {
        rules.push(current.trim().to_string());
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_python_sdk_argv() {
        let o = Options::parse([
            "--output-format",
            "stream-json",
            "--verbose",
            "--system-prompt",
            "",
            "--model",
            "claude-sonnet-4-5",
            "--permission-prompt-tool",
            "stdio",
            "--max-turns",
            "3",
            "--allowedTools",
            "Read,Bash(git status:*)",
            "--input-format",
            "stream-json",
        ])
        .unwrap();
        assert_eq!(o.system_prompt.as_deref(), Some(""));
        assert_eq!(o.model.as_deref(), Some("claude-sonnet-4-5"));
        assert_eq!(o.permission_prompt_tool.as_deref(), Some("stdio"));
        assert_eq!(o.max_turns, Some(3));
        assert_eq!(o.allowed_tools, vec!["Read", "Bash(git status:*)"]);
        assert!(o.unknown.is_empty());
    }

    #[test]
    fn accepts_equals_forms_and_ignores_unknown_flags() {
        let o = Options::parse([
            "--permission-prompt-tool=stdio",
            "--resume=abc",
            "--brand-new-flag",
            "value",
            "--other=1",
            "--thinking=adaptive",
            "--include-partial-messages",
        ])
        .unwrap();
        assert_eq!(o.permission_prompt_tool.as_deref(), Some("stdio"));
        assert_eq!(o.resume.as_deref(), Some("abc"));
        assert_eq!(o.unknown, vec!["--brand-new-flag", "--other"]);
        assert!(o.include_partial_messages);
        assert!(o.positional.is_empty());
    }

    #[test]
    fn version_and_errors() {
        assert!(Options::parse(["-v"]).unwrap().version);
        assert_eq!(
            Options::parse(["--model"]),
            Err(CliError::MissingValue("--model".into()))
        );
        assert!(matches!(
            Options::parse(["--max-turns", "many"]),
            Err(CliError::NotANumber { .. })
        ));
    }

    #[test]
    fn tool_lists_split_outside_parentheses() {
        assert_eq!(
            split_rules("Bash(npm run test:*), Edit Read(./docs/**)"),
            vec!["Bash(npm run test:*)", "Edit", "Read(./docs/**)"]
        );
        assert_eq!(
            Options::parse(["--tools", ""]).unwrap().tools,
            Some(Vec::new())
        );
    }
}
