//! The agent's tools, with Claude Code's names and input schemas so models use them well.
//!
//! One module per tool; [`Toolbox`] owns the session's tool state and dispatches by name. A tool never
//! panics on bad input: it answers the model with an error it can act on.

pub mod ask;
pub mod bash;
pub mod context;
pub mod documents;
pub mod edit;
pub mod glob;
pub mod grep;
mod html_md;
pub mod paths;
pub mod read;
pub mod skill;
pub mod task;
pub mod todo;
pub mod web_fetch;
pub mod write;

#[cfg(test)]
mod test_support;

use serde_json::Value;
use tokio_util::sync::CancellationToken;
use workroom_protocol::anthropic::ToolDefinition;

pub use context::{ToolContent, ToolContext, ToolOutput};

use crate::bash_syntax;
use crate::permissions::CallFacts;

/// Every tool, in the order they are offered to the model.
pub const ALL: &[&str] = &[
    bash::NAME,
    bash::OUTPUT_NAME,
    bash::KILL_NAME,
    read::NAME,
    write::NAME,
    edit::NAME,
    glob::NAME,
    grep::NAME,
    web_fetch::NAME,
    todo::NAME,
    documents::xlsx::NAME,
    documents::docx::NAME,
    documents::pdf::NAME,
    documents::pptx::NAME,
    documents::read::NAME,
    skill::NAME,
    task::NAME,
    ask::EXIT_PLAN_NAME,
    ask::QUESTION_NAME,
];

/// The session's tools and their state.
#[derive(Debug)]
pub struct Toolbox {
    ctx: ToolContext,
    shell: bash::Shell,
    todos: todo::TodoList,
    enabled: Vec<&'static str>,
}

impl Toolbox {
    /// Tools over `ctx`; `only` (from `--tools`) restricts the set, and bare names in `disallowed`
    /// remove tools entirely, as in Claude Code.
    pub fn new(ctx: ToolContext, only: Option<&[String]>, disallowed: &[String]) -> Self {
        let enabled = ALL
            .iter()
            .copied()
            .filter(|name| only.is_none_or(|only| only.iter().any(|o| same_tool(o, name))))
            .filter(|name| !disallowed.iter().any(|d| same_tool(d, name)))
            .collect();
        Self {
            ctx,
            shell: bash::Shell::new(),
            todos: todo::TodoList::default(),
            enabled,
        }
    }

    /// The shared context (roots, read state).
    pub fn context(&self) -> &ToolContext {
        &self.ctx
    }

    /// Names of the enabled tools.
    pub fn names(&self) -> Vec<String> {
        self.enabled.iter().map(|s| s.to_string()).collect()
    }

    /// Whether `name` is an enabled tool.
    pub fn has(&self, name: &str) -> bool {
        self.enabled.contains(&name)
    }

    /// Definitions to send to the model.
    pub fn definitions(&self) -> Vec<ToolDefinition> {
        self.enabled
            .iter()
            .map(|&name| {
                let (description, schema) = describe(name);
                ToolDefinition {
                    name: name.to_string(),
                    description: description.to_string(),
                    input_schema: schema,
                }
            })
            .collect()
    }

    /// What the permission layer needs to know about a call.
    pub fn facts(&self, name: &str, input: &Value) -> CallFacts {
        let writes_document = documents::is_writer(name);
        let path_field = match name {
            "Read" | "Write" | "Edit" | "ReadDocument" => Some("file_path"),
            _ if writes_document => Some("file_path"),
            "Glob" | "Grep" => Some("path"),
            _ => None,
        };
        let mut paths = Vec::new();
        if let Some(field) = path_field {
            match input.get(field).and_then(Value::as_str) {
                Some(raw) => match paths::resolve(&self.ctx, raw) {
                    Ok(p) => paths.push(p),
                    // Outside the folders: the tool itself refuses; report the raw path for prompts.
                    Err(_) => paths.push(raw.into()),
                },
                None if field == "path" => paths.push(self.ctx.cwd().to_path_buf()),
                None => {}
            }
        }
        let read_only = match name {
            // WebFetch changes nothing here; which hosts it may reach is the host's network policy.
            // A sub-agent's own tool calls go through permissions one by one.
            "Read" | "Glob" | "Grep" | "TodoWrite" | "BashOutput" | "WebFetch" | "Task"
            | "Agent" | "Skill" | "ReadDocument" => true,
            "Bash" => input
                .get("command")
                .and_then(Value::as_str)
                .is_some_and(bash_syntax::is_read_only),
            _ => false,
        };
        CallFacts {
            tool: name.to_string(),
            input: input.clone(),
            paths,
            read_only,
            edits_files: matches!(name, "Write" | "Edit") || writes_document,
            asks_user: matches!(name, ask::EXIT_PLAN_NAME | ask::QUESTION_NAME),
        }
    }

    /// Runs one tool call; `cancel` fires when the user interrupts.
    pub async fn run(&self, name: &str, input: Value, cancel: CancellationToken) -> ToolOutput {
        if !self.has(name) {
            return ToolOutput::error(format!(
                "No such tool available: {name}. Available tools: {}",
                self.enabled.join(", ")
            ));
        }
        let ctx = ToolContext {
            cancel,
            ..self.ctx.clone()
        };
        match name {
            bash::NAME => self.shell.run(&ctx, input).await,
            bash::OUTPUT_NAME => self.shell.output(input),
            bash::KILL_NAME => self.shell.kill(input),
            read::NAME => read::run(&ctx, input).await,
            write::NAME => write::run(&ctx, input).await,
            edit::NAME => edit::run(&ctx, input).await,
            glob::NAME => glob::run(&ctx, input).await,
            grep::NAME => grep::run(&ctx, input).await,
            web_fetch::NAME => web_fetch::run(&ctx, input).await,
            documents::xlsx::NAME => documents::xlsx::run(&ctx, input).await,
            documents::docx::NAME => documents::docx::run(&ctx, input).await,
            documents::pdf::NAME => documents::pdf::run(&ctx, input).await,
            documents::read::NAME => documents::read::run(&ctx, input).await,
            documents::pptx::NAME => documents::pptx::run(&ctx, input).await,
            skill::NAME => skill::run(&ctx, &input),
            todo::NAME => todo::run_with(&self.todos, input),
            ask::EXIT_PLAN_NAME => ask::exit_plan(&input),
            ask::QUESTION_NAME => ask::question(&input),
            // Sub-agents run in the turn loop, which owns the model client.
            task::NAME | task::ALIAS => {
                ToolOutput::error("Task runs in the agent loop, not as a plain tool.")
            }
            other => ToolOutput::error(format!("No such tool available: {other}")),
        }
    }
}

/// Whether a name from `--tools`/`--disallowedTools` means `tool` (`Agent` is `Task`'s new name).
fn same_tool(given: &str, tool: &str) -> bool {
    given == tool || (given == task::ALIAS && tool == task::NAME)
}

fn describe(name: &str) -> (&'static str, Value) {
    match name {
        bash::NAME => (bash::description(), bash::input_schema()),
        bash::OUTPUT_NAME => (bash::output_description(), bash::output_schema()),
        bash::KILL_NAME => (bash::kill_description(), bash::kill_schema()),
        read::NAME => (read::description(), read::input_schema()),
        write::NAME => (write::description(), write::input_schema()),
        edit::NAME => (edit::description(), edit::input_schema()),
        glob::NAME => (glob::description(), glob::input_schema()),
        grep::NAME => (grep::description(), grep::input_schema()),
        web_fetch::NAME => (web_fetch::description(), web_fetch::input_schema()),
        documents::xlsx::NAME => (
            documents::xlsx::description(),
            documents::xlsx::input_schema(),
        ),
        documents::docx::NAME => (
            documents::docx::description(),
            documents::docx::input_schema(),
        ),
        documents::pdf::NAME => (
            documents::pdf::description(),
            documents::pdf::input_schema(),
        ),
        documents::pptx::NAME => (
            documents::pptx::description(),
            documents::pptx::input_schema(),
        ),
        documents::read::NAME => (
            documents::read::description(),
            documents::read::input_schema(),
        ),
        skill::NAME => (skill::description(), skill::input_schema()),
        todo::NAME => (todo::description(), todo::input_schema()),
        ask::EXIT_PLAN_NAME => (ask::exit_plan_description(), ask::exit_plan_schema()),
        task::NAME => (task::description(), task::input_schema()),
        ask::QUESTION_NAME => (ask::question_description(), ask::question_schema()),
        _ => ("", Value::Null),
    }
}

/// A short human description of a call, for permission prompts (`hello.txt`, `Run ls -la`).
pub fn describe_call(ctx: &ToolContext, name: &str, input: &Value) -> String {
    let field = |f: &str| input.get(f).and_then(Value::as_str).unwrap_or_default();
    match name {
        "Bash" => {
            let description = field("description");
            if description.is_empty() {
                field("command").to_string()
            } else {
                description.to_string()
            }
        }
        name if matches!(name, "Read" | "Write" | "Edit") || documents::is_writer(name) => {
            match paths::resolve(ctx, field("file_path")) {
                Ok(p) => paths::display(ctx, &p),
                Err(_) => field("file_path").to_string(),
            }
        }
        "Glob" | "Grep" => field("pattern").to_string(),
        "WebFetch" => field("url").to_string(),
        "Task" | "Agent" => field("description").to_string(),
        "Skill" => field("skill").to_string(),
        _ => name.to_string(),
    }
}
