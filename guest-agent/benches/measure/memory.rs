//! Peak memory of a long session: one process, 50 user messages, each answered with a tool call
//! (cycling through the tools a coding session uses most) and then a reply. The peak is the
//! kernel's high-water mark (`VmHWM`), read just before stdin closes.

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};

use super::Config;
use crate::support::model;
use crate::support::process::{Agent, Sandbox};
use crate::support::stats::{Report, Row, Target};

const TURNS: usize = 50;
const TARGET_MIB: f64 = 30.0;

/// The memory figures of one session, in MiB.
struct SessionMemory {
    after_initialize: f64,
    after_turns: f64,
}

pub fn run(config: &Config, report: &mut Report) {
    let runs = config.pick(3, 1);
    let sessions: Result<Vec<SessionMemory>> = (0..runs).map(|_| one_session()).collect();
    let peak_name = format!("peak_rss_{TURNS}_turns_mb");
    match sessions {
        Ok(sessions) => {
            let idle: Vec<f64> = sessions.iter().map(|s| s.after_initialize).collect();
            let peak: Vec<f64> = sessions.iter().map(|s| s.after_turns).collect();
            report.rows.extend([
                Row::new("rss_after_initialize_mb", &idle, Target::None),
                Row::new(peak_name, &peak, Target::Below(TARGET_MIB)),
            ]);
        }
        Err(e) => report.rows.push(Row::failed(peak_name, &e)),
    }
}

/// Which tool each turn uses: the user message carries the keyword, a script rule answers it.
const TOOLS: &[&str] = &["@bash", "@read", "@grep", "@glob", "@todo"];

fn one_session() -> Result<SessionMemory> {
    let sandbox = Sandbox::new()?;
    populate(&sandbox)?;
    let server = model::start(rules(&sandbox))?;
    let mut agent = Agent::spawn(&sandbox, &server.base_url())?;
    agent.initialize()?;
    let after_initialize = agent.peak_rss_mib()?;
    for turn in 0..TURNS {
        let keyword = TOOLS[turn % TOOLS.len()];
        agent
            .run_turn(&format!("Turn {turn}: {keyword}"))
            .with_context(|| format!("turn {turn}"))?;
    }
    let after_turns = agent.peak_rss_mib()?;
    agent.finish()?;
    let failed = model::failed_tool_results(&server.requests());
    ensure!(failed == 0, "{failed} of {TURNS} tool calls failed");
    Ok(SessionMemory {
        after_initialize,
        after_turns,
    })
}

/// A small project for Read, Grep and Glob to work on.
fn populate(sandbox: &Sandbox) -> Result<()> {
    let src = sandbox.work().join("src");
    std::fs::create_dir(&src).context("creating src/")?;
    for i in 0..40 {
        let body: String = (0..50)
            .map(|line| format!("fn item_{i}_{line}() -> u32 {{ {line} }} // TODO check\n"))
            .collect();
        std::fs::write(src.join(format!("m{i}.rs")), body).context("writing a source file")?;
    }
    Ok(())
}

fn rules(sandbox: &Sandbox) -> Value {
    let read_path = sandbox.work().join("src/m7.rs");
    let todo = json!({"content": "Check", "status": "pending", "activeForm": "Checking"});
    let calls = [
        model::tool_use("Bash", json!({"command": "ls src | head -5"})),
        model::tool_use("Read", json!({"file_path": read_path})),
        model::tool_use(
            "Grep",
            json!({"pattern": "TODO", "output_mode": "content", "head_limit": 100}),
        ),
        model::tool_use("Glob", json!({"pattern": "**/*.rs"})),
        model::tool_use("TodoWrite", json!({"todos": [todo]})),
    ];
    let mut rules = vec![json!({
        "when": {"last_is_tool_result": true},
        "reply": {"content": [{"type": "text", "text": "Done; the tool worked as expected."}]},
    })];
    for (keyword, call) in TOOLS.iter().zip(calls) {
        rules.push(json!({
            "when": {"last_user_text_contains": keyword},
            "reply": {"content": [{"type": "text", "text": "Let me check."}, call]},
        }));
    }
    Value::Array(rules)
}
