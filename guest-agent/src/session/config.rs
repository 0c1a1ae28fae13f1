//! The session's fixed settings, from the command line and the environment.

use std::path::PathBuf;

use thiserror::Error;

use crate::cli::Options;
use crate::model::{Auth, Provider};
use crate::permissions::Mode;

/// Default model when neither `--model` nor `ANTHROPIC_MODEL` says.
pub const DEFAULT_MODEL: &str = "claude-sonnet-4-5";

/// A configuration we cannot start with.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// `--permission-mode` names no mode.
    #[error("unknown permission mode {0:?} (expected default, acceptEdits, plan, bypassPermissions or dontAsk)")]
    Mode(String),
    /// A folder does not exist or cannot be resolved.
    #[error("folder {path} cannot be used: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `--system-prompt-file` cannot be read.
    #[error("cannot read the system prompt file {path}: {source}")]
    PromptFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Everything fixed for the life of a session.
#[derive(Debug, Clone)]
pub struct Config {
    /// Folders the agent may work in; the first is the working folder.
    pub roots: Vec<PathBuf>,
    /// Where model requests go.
    pub provider: Provider,
    /// The model at start (`set_model` may change it).
    pub model: String,
    /// Permission mode at start.
    pub mode: Mode,
    /// Ask the client with `can_use_tool` (else "ask" means deny).
    pub prompt_tool_stdio: bool,
    /// Agentic turns (model requests) allowed per user message.
    pub max_turns: Option<u32>,
    /// System prompt blocks' text.
    pub system_prompt: String,
    /// Forward raw stream events.
    pub include_partial: bool,
    /// Emit `session_state_changed` frames.
    pub report_state: bool,
    /// Output token cap per request.
    pub max_tokens: u32,
    /// Extended thinking budget (0 = off).
    pub thinking_budget: u32,
    /// `--allowedTools` rules.
    pub allowed: Vec<String>,
    /// `--disallowedTools` rules.
    pub disallowed: Vec<String>,
    /// `--tools`.
    pub tools: Option<Vec<String>>,
    /// Where transcripts are kept for `--resume` (none: not kept).
    pub state_dir: Option<PathBuf>,
}

impl Config {
    /// Builds the configuration from the command line and environment.
    pub fn from_options(o: &Options) -> Result<Self, ConfigError> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mode_name = o.permission_mode.as_deref().unwrap_or("default");
        let mode = Mode::parse(mode_name).ok_or_else(|| ConfigError::Mode(mode_name.into()))?;

        let cwd = std::env::current_dir().map_err(|source| ConfigError::Folder {
            path: ".".into(),
            source,
        })?;
        let mut roots = Vec::new();
        for dir in std::iter::once(&cwd).chain(&o.add_dirs) {
            let path = cwd.join(dir);
            let canonical = path
                .canonicalize()
                .map_err(|source| ConfigError::Folder { path, source })?;
            if !roots.contains(&canonical) {
                roots.push(canonical);
            }
        }

        let requested = o.model.clone().or_else(|| env("ANTHROPIC_MODEL"));
        let (provider, model) = provider_for(requested.as_deref(), &env);

        let prompt =
            match (&o.system_prompt_file, &o.system_prompt) {
                (Some(path), _) => Some(std::fs::read_to_string(path).map_err(|source| {
                    ConfigError::PromptFile {
                        path: path.clone(),
                        source,
                    }
                })?),
                (None, prompt) => prompt.clone(),
            };
        let system_prompt = build_system_prompt(prompt, o.append_system_prompt.as_deref(), &roots);

        let thinking_budget = o
            .max_thinking_tokens
            .or_else(|| env("MAX_THINKING_TOKENS").and_then(|v| v.parse().ok()))
            .unwrap_or(0);
        let max_tokens = env("CLAUDE_CODE_MAX_OUTPUT_TOKENS")
            .and_then(|v| v.parse().ok())
            .unwrap_or(16_384u32)
            .max(thinking_budget.saturating_add(4096));

        let state_dir = env("WORKROOM_AGENT_STATE_DIR")
            .map(PathBuf::from)
            .or_else(|| env("XDG_STATE_HOME").map(|d| PathBuf::from(d).join("workroom/agent")))
            .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".local/state/workroom/agent")));

        Ok(Self {
            roots,
            provider,
            model,
            mode,
            prompt_tool_stdio: o.permission_prompt_tool.as_deref() == Some("stdio"),
            max_turns: o.max_turns.filter(|&n| n > 0),
            system_prompt,
            include_partial: o.include_partial_messages,
            report_state: env("CLAUDE_CODE_SDK_READS_SESSION_STATE").as_deref() == Some("1"),
            max_tokens,
            thinking_budget,
            allowed: o.allowed_tools.clone(),
            disallowed: o.disallowed_tools.clone(),
            tools: o.tools.clone(),
            state_dir,
        })
    }
}

/// `openai:<model>` (or `WORKROOM_PROVIDER=openai`) selects an OpenAI-compatible server at
/// `OPENAI_BASE_URL` (default: a local Ollama); anything else goes to the Anthropic API at
/// `ANTHROPIC_BASE_URL`.
fn provider_for(model: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> (Provider, String) {
    let openai_model = match model {
        Some(m) if m.starts_with("openai:") => Some(m["openai:".len()..].to_string()),
        Some(m) if env("WORKROOM_PROVIDER").as_deref() == Some("openai") => Some(m.to_string()),
        None if env("WORKROOM_PROVIDER").as_deref() == Some("openai") => Some("qwen3".to_string()),
        _ => None,
    };
    if let Some(model) = openai_model {
        let provider = Provider::OpenAi {
            base_url: env("OPENAI_BASE_URL").unwrap_or_else(|| "http://127.0.0.1:11434/v1".into()),
            api_key: env("OPENAI_API_KEY"),
        };
        return (provider, model);
    }
    let auth = match (env("ANTHROPIC_API_KEY"), env("ANTHROPIC_AUTH_TOKEN")) {
        (Some(key), _) => Auth::ApiKey(key),
        (None, Some(token)) => Auth::Bearer(token),
        (None, None) => Auth::None,
    };
    let provider = Provider::Anthropic {
        base_url: env("ANTHROPIC_BASE_URL").unwrap_or_else(|| "https://api.anthropic.com".into()),
        auth,
    };
    (provider, model.unwrap_or(DEFAULT_MODEL).to_string())
}

const DEFAULT_PROMPT: &str = "You are Workroom's agent. You work on the folders a person has shared with \
you, inside a small Linux virtual machine: you can run shell commands, read, write and edit files, and \
search. You can reach only the shared folders. Work carefully: read before you edit, prefer small precise \
edits, never delete or overwrite a person's work unless asked, and say plainly what you changed. Use \
TodoWrite to plan multi-step work. Keep answers short and concrete.";

/// What the shell offers with the full userland.
const FULL_SHELL: &str = "Debian 12 with bash, coreutils, git, curl, jq, file, zip/unzip, \
poppler-utils (pdftotext, pdftoppm), python3 with pip, openpyxl, python-docx, python-pptx, pypdf, \
pdfplumber, Pillow and lxml. Changes outside the shared folders last until the VM stops.";

/// What the shell offers in the minimal image.
const MINIMAL_SHELL: &str = "busybox (sh, coreutils-like applets, sed, awk, grep, tar, unzip); \
no Python or git. Use the document tools for spreadsheets, documents, slides and PDFs.";

/// The SDK's own minimal prompt, used when the client passes `--system-prompt ""`.
const SDK_PROMPT: &str = "You are a Claude agent, built on Anthropic's Claude Agent SDK.";

fn build_system_prompt(prompt: Option<String>, append: Option<&str>, roots: &[PathBuf]) -> String {
    let mut text = match prompt {
        None => DEFAULT_PROMPT.to_string(),
        Some(p) if p.trim().is_empty() => SDK_PROMPT.to_string(),
        Some(p) => p,
    };
    let folders: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
    let shell = if std::env::var_os(workroom_protocol::vm::SHELL_ROOT_ENV).is_some() {
        FULL_SHELL
    } else {
        MINIMAL_SHELL
    };
    text.push_str(&format!(
        "\n\n<env>\nWorking directory: {}\nShared folders: {}\nPlatform: {}\nShell: {shell}\n</env>",
        folders.first().cloned().unwrap_or_default(),
        folders.join(", "),
        std::env::consts::OS
    ));
    if let Some(extra) = append.filter(|a| !a.is_empty()) {
        text.push_str("\n\n");
        text.push_str(extra);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_selection() {
        let none = |_: &str| None;
        let (p, m) = provider_for(Some("openai:qwen3"), &none);
        assert!(matches!(p, Provider::OpenAi { .. }));
        assert_eq!(m, "qwen3");
        let with_key = |k: &str| (k == "ANTHROPIC_API_KEY").then(|| "sk".to_string());
        let (p, m) = provider_for(None, &with_key);
        assert_eq!(m, DEFAULT_MODEL);
        assert!(matches!(
            p,
            Provider::Anthropic {
                auth: Auth::ApiKey(_),
                ..
            }
        ));
    }

    #[test]
    fn empty_system_prompt_means_the_sdk_prompt() {
        let roots = vec![PathBuf::from("/w")];
        assert!(build_system_prompt(Some(String::new()), None, &roots).starts_with(SDK_PROMPT));
        let p = build_system_prompt(Some("Be terse.".into()), Some("Extra."), &roots);
        assert!(p.starts_with("Be terse.") && p.ends_with("Extra.") && p.contains("/w"));
    }
}
