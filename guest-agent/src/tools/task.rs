//! `Task` (API name `Agent` in newer Claude Code): starts a sub-agent with its own context. The
//! definition lives here; the sub-agent itself runs in the turn loop (`turn.rs`), which owns the
//! model client and the permission flow.

use serde_json::{json, Value};

use crate::agents::AgentDef;

pub const NAME: &str = "Task";
/// The name newer clients use for the same tool (accepted in `--tools` and in calls).
pub const ALIAS: &str = "Agent";

pub fn description() -> &'static str {
    "Launch a sub-agent to handle a complex, multi-step part of the task on its own. It starts with an empty context: give it a complete, self-contained prompt, and say what it should report back. Its final answer comes back as this tool's result; the user does not see it directly, so summarise what matters.

Launch several sub-agents at once (several Task calls in one message) when their parts are independent: they run in parallel. Do not use a sub-agent for a single file read or search you can do yourself."
}

/// The description with the sub-agent types the model may choose from.
pub fn description_with(agents: &[AgentDef]) -> String {
    let mut text = description().to_string();
    text.push_str("\n\nAvailable agent types (subagent_type):");
    for agent in agents {
        text.push_str(&format!("\n- {}: {}", agent.name, agent.description));
    }
    text
}

pub fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "description": {"type": "string", "description": "A short (3-5 word) description of the task"},
            "prompt": {"type": "string", "description": "The task for the agent to perform"},
            "subagent_type": {"type": "string", "description": "The type of agent to use (default: general-purpose)"}
        },
        "required": ["description", "prompt"],
        "additionalProperties": false
    })
}
