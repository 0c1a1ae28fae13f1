//! The command line, as clap derives it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Run Workroom sessions from a terminal: an AI agent in a small Linux VM, working on the folders
/// you share with it.
#[derive(Debug, Parser)]
#[command(name = "workroom", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a session (or resume one) and talk to the agent.
    ///
    /// With a PROMPT, runs that one turn and exits (0 on success, 1 on an error). Without one, it is
    /// an interactive chat: type a message, Enter sends it; Ctrl-C interrupts the agent, a second
    /// Ctrl-C within two seconds exits (the session stays resumable).
    Run(RunArgs),
    /// List sessions, or show, delete or resume one. IDs may be shortened to a unique prefix.
    Sessions {
        #[command(subcommand)]
        action: Option<SessionsAction>,
    },
    /// Check that everything a session needs is installed, and say how to fix what is not.
    Doctor,
    /// Build the guest image.
    Image {
        #[command(subcommand)]
        action: ImageAction,
    },
    /// What each turn changed in the shared folders (default: the most recent session).
    Changes {
        /// The session (an id or a unique prefix).
        session: Option<String>,
        /// Only this turn.
        #[arg(long, value_name = "N")]
        turn: Option<usize>,
        /// Show the changes of text files as diffs.
        #[arg(long)]
        diff: bool,
    },
    /// Put the shared folders back to how they were before the last turn (or turn N) changed them.
    Undo {
        /// The session (an id or a unique prefix; default: the most recent).
        session: Option<String>,
        /// Go back to before this turn (see `workroom changes`); later turns are undone too.
        #[arg(long, value_name = "N")]
        turn: Option<usize>,
        /// Re-apply what the last undo took back.
        #[arg(long)]
        redo: bool,
        /// Files you changed after the agent: undo them too.
        #[arg(long, conflicts_with = "keep_mine")]
        overwrite: bool,
        /// Files you changed after the agent: keep your version, undo the rest.
        #[arg(long)]
        keep_mine: bool,
    },
    /// Read or change settings.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Debug, Default, Args)]
pub struct RunArgs {
    /// A folder to share with the agent (repeat for several; the first is where it starts).
    #[arg(long = "folder", value_name = "DIR")]
    pub folders: Vec<PathBuf>,
    /// How much the agent may do without asking.
    #[arg(long, value_enum, value_name = "MODE")]
    pub permission_mode: Option<PermissionMode>,
    /// The model to use (default: the `model` setting, else the agent's default).
    #[arg(long, value_name = "M")]
    pub model: Option<String>,
    /// The model service (default: the `provider` setting).
    #[arg(long, value_enum)]
    pub provider: Option<Provider>,
    /// Resume the session with this ID (or a unique prefix of it).
    #[arg(long, value_name = "ID", conflicts_with = "continue_")]
    pub resume: Option<String>,
    /// Resume the most recent session (over the given folders, if any).
    #[arg(long = "continue")]
    pub continue_: bool,
    /// Print the agent's raw stream-json frames, one per line, and ask nothing (permission questions
    /// are denied unless --permission-mode allows the call).
    #[arg(long)]
    pub json: bool,
    /// Send messages without checkpointing the folders first: faster for huge folders, but the
    /// turns cannot be undone.
    #[arg(long)]
    pub no_undo: bool,
    /// MCP servers for this run, in Claude Code's .mcp.json format (a file or the JSON itself);
    /// the host runs them, outside the VM. Default: the mcp_config setting.
    #[arg(long, value_name = "FILE|JSON")]
    pub mcp_config: Option<String>,
    /// What to ask; without it, an interactive chat.
    pub prompt: Option<String>,
}

/// The agent's permission modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PermissionMode {
    /// Ask before commands, overwrites and deletions.
    #[value(name = "default")]
    Default,
    /// Edits inside the folders are allowed; commands still ask.
    #[value(name = "acceptEdits")]
    AcceptEdits,
    /// Read-only: the agent plans.
    #[value(name = "plan")]
    Plan,
    /// Everything is allowed.
    #[value(name = "bypassPermissions")]
    BypassPermissions,
    /// Anything that would ask is denied.
    #[value(name = "dontAsk")]
    DontAsk,
}

impl PermissionMode {
    /// The agent's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::AcceptEdits => "acceptEdits",
            Self::Plan => "plan",
            Self::BypassPermissions => "bypassPermissions",
            Self::DontAsk => "dontAsk",
        }
    }
}

/// Model services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Provider {
    /// The Anthropic API.
    Anthropic,
    /// An OpenAI-compatible server (Ollama, llama.cpp, vLLM).
    Openai,
}

impl Provider {
    /// The settings' name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anthropic => "anthropic",
            Self::Openai => "openai",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum SessionsAction {
    /// Print a session's transcript.
    Show { id: String },
    /// Delete a session, its transcript and its VM state.
    Delete { id: String },
    /// Continue a session (the same as `workroom run --resume ID`).
    Resume { id: String },
}

#[derive(Debug, Subcommand)]
pub enum ImageAction {
    /// Build the guest image (kernel, initramfs, manifest) into the data directory.
    Build {
        /// Guest architecture (default: this machine's).
        #[arg(long, value_enum)]
        arch: Option<ImageArch>,
    },
    /// Prepare the full userland (Debian tools and Python document libraries, about 90 MB to
    /// download) for `workroom config set userland full`.
    Userland {
        /// Guest architecture (default: this machine's).
        #[arg(long, value_enum)]
        arch: Option<ImageArch>,
        /// Include LibreOffice for conversions (`soffice --headless --convert-to pdf`): about
        /// 115 MB more to download, 340 MB more on disk.
        #[arg(long)]
        office: bool,
    },
}

/// Guest architectures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImageArch {
    #[value(name = "x86_64")]
    X86_64,
    #[value(name = "aarch64")]
    Aarch64,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print one setting, or all of them with where each value comes from.
    Get { key: Option<String> },
    /// Save a setting.
    Set { key: String, value: String },
    /// Forget a saved setting, so its default applies again.
    Unset { key: String },
    /// Save the model API key in the system keychain (read from standard input, never echoed).
    SetKey {
        /// Which service the key is for: anthropic (default) or openai.
        #[arg(long, default_value = "anthropic")]
        provider: String,
    },
    /// Remove the model API key from the system keychain.
    ForgetKey {
        /// anthropic (default) or openai.
        #[arg(long, default_value = "anthropic")]
        provider: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn resume_and_continue_exclude_each_other() {
        let parsed = Cli::try_parse_from(["workroom", "run", "--resume", "ab", "--continue"]);
        assert!(parsed.is_err());
        let parsed = Cli::try_parse_from([
            "workroom",
            "run",
            "--folder",
            "a",
            "--folder",
            "b",
            "--permission-mode",
            "acceptEdits",
            "hello there",
        ])
        .unwrap();
        let Command::Run(run) = parsed.command else {
            panic!("not run")
        };
        assert_eq!(run.folders.len(), 2);
        assert_eq!(run.permission_mode, Some(PermissionMode::AcceptEdits));
        assert_eq!(run.prompt.as_deref(), Some("hello there"));
    }
}
