//! `Skill`: loads a skill's instructions (see `crate::skills`) into the conversation.

use serde_json::{json, Value};

use super::context::{ToolContext, ToolOutput};
use crate::skills::{self, Skill};

pub const NAME: &str = "Skill";

pub fn description() -> &'static str {
    "Load a skill: instructions for a kind of task and the folder of its helper scripts. When a task matches a skill's description, call this first with its name and follow what it says."
}

/// The description with the skills the model may load.
pub fn description_with(skills: &[Skill]) -> String {
    let mut text = description().to_string();
    text.push_str("\n\nAvailable skills:");
    for skill in skills {
        text.push_str(&format!("\n- {}: {}", skill.name, skill.description));
    }
    text
}

pub fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"skill": {"type": "string", "description": "The skill's name, e.g. \"xlsx\""}},
        "required": ["skill"],
        "additionalProperties": false
    })
}

pub fn run(ctx: &ToolContext, input: &Value) -> ToolOutput {
    // `command` is what some clients send for the same field.
    let Some(name) = input
        .get("skill")
        .or_else(|| input.get("command"))
        .and_then(Value::as_str)
    else {
        return ToolOutput::error("Skill needs the name of a skill in \"skill\".");
    };
    let all = skills::available(ctx.cwd());
    let Some(skill) = all.iter().find(|s| s.name == name.trim_start_matches('/')) else {
        let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        return ToolOutput::error(format!(
            "Unknown skill: {name}. Available skills: {}",
            names.join(", ")
        ));
    };
    let dir = match &skill.dir {
        Some(dir) => Some(dir.clone()),
        None => match skills::materialize_built_in(&skill.name) {
            Ok(dir) => dir,
            Err(e) => {
                tracing::warn!(skill = %skill.name, error = %e, "cannot write the skill's helper files");
                None
            }
        },
    };
    let place = match &dir {
        Some(dir) => format!("Base directory for this skill: {}\n\n", dir.display()),
        None => String::new(),
    };
    ToolOutput::ok(
        format!("{place}{}", skill.body),
        json!({"success": true, "commandName": skill.name}),
    )
}
