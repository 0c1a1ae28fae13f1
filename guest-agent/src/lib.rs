//! Workroom's agent runtime: a tool loop that speaks Claude Code's stream-json protocol.
//!
//! - [`cli`]: the command line, as the Claude Agent SDKs build it.
//! - [`session`]: one stream-json session (input routing, control requests, the turn queue).
//! - [`turn`]: one turn of the agent loop, from a user message to its `result`.
//! - [`model`]: the Anthropic and OpenAI-compatible streaming clients, retries, prices.
//! - [`permissions`]: modes, rules and the decision for each tool call; [`hooks`]: client hooks.
//! - [`tools`]: Bash, Read, Write, Edit, Glob, Grep, WebFetch, TodoWrite, Task, ExitPlanMode,
//!   AskUserQuestion; [`agents`]: the sub-agent types `Task` can start.
//! - [`compact`]: summarising old turns when the context fills up.
//! - `vm`: PID 1 duties inside the guest VM (Linux only).

pub mod agents;
pub mod bash_syntax;
pub mod cli;
pub mod compact;
pub mod front_matter;
pub mod hooks;
pub mod mcp;
pub mod model;
pub mod permissions;
pub mod session;
pub mod skills;
pub mod tools;
pub mod turn;
#[cfg(target_os = "linux")]
pub mod vm;

/// `--help` text.
pub const HELP: &str = "workroom-agent: Workroom's agent, speaking Claude Code's stream-json protocol.

Usage: workroom-agent --output-format stream-json --input-format stream-json [options]
       workroom-agent --input-format text [options] PROMPT

Options (as the Claude Agent SDK passes them; --flag value and --flag=value both work):
  --permission-prompt-tool stdio   ask the client over the control channel
  --permission-mode MODE           default | acceptEdits | plan | bypassPermissions | dontAsk
  --model MODEL                    an Anthropic model, or openai:NAME for an OpenAI-compatible server
  --max-turns N                    model requests allowed per user message
  --system-prompt TEXT             replace the system prompt (\"\" = the SDK's minimal prompt)
  --append-system-prompt TEXT      add to the system prompt
  --allowedTools RULES             e.g. \"Read,Bash(git status:*)\"
  --disallowedTools RULES          e.g. \"Bash(rm:*)\"; a bare tool name removes the tool
  --tools LIST                     the tool set (\"\" = none)
  --include-partial-messages       forward raw stream events
  --resume ID | --continue         continue a saved session
  --add-dir DIR                    another folder the agent may work in
  -v, --version                    print the version

Environment: ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN, ANTHROPIC_MODEL;
OPENAI_BASE_URL, OPENAI_API_KEY (with --model openai:NAME or WORKROOM_PROVIDER=openai);
WORKROOM_AGENT_STATE_DIR (transcripts), WORKROOM_LOG (log filter, to stderr).";
