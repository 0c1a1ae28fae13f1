//! The agent's cost per tool round trip (model answer → tool call → next model request) with a
//! model that answers instantly: one turn in which the fake model asks for the same tool call
//! `calls` times. The fake model's own share is timed by replaying the recorded requests
//! without the agent, so the agent's part is what remains.

use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};

use super::Config;
use crate::support::model::{self, Replayer};
use crate::support::process::{Agent, Sandbox};
use crate::support::stats::{ms, Report, Row, Target};

/// A tool the model calls over and over.
struct Case {
    label: &'static str,
    /// The `tool_use` block, given the session's working folder.
    tool: fn(&Sandbox) -> Value,
}

const CASES: &[Case] = &[
    // Spawns a shell each time: the realistic, most common call.
    Case {
        label: "bash",
        tool: |_| model::tool_use("Bash", json!({"command": "true"})),
    },
    // Reads a small file: no child process, so the agent's own overhead dominates.
    Case {
        label: "read",
        tool: |sandbox| {
            let path = sandbox.work().join(SMALL_FILE);
            model::tool_use("Read", json!({"file_path": path}))
        },
    },
    // No I/O at all: the floor of a round trip.
    Case {
        label: "todowrite",
        tool: |_| {
            let todo =
                json!({"content": "Measure", "status": "in_progress", "activeForm": "Measuring"});
            model::tool_use("TodoWrite", json!({"todos": [todo]}))
        },
    },
];

const SMALL_FILE: &str = "notes.txt";

/// One session's figures, per round trip.
struct RunFigures {
    /// Turn wall time / calls.
    total_ms: f64,
    /// Replayed model requests / calls.
    model_ms: f64,
    /// The agent's CPU time during the turn / calls (tool child processes not included).
    cpu_ms: f64,
}

pub fn run(config: &Config, report: &mut Report) {
    let calls = config.pick(200, 20);
    let runs = config.pick(5, 2);
    let replayer = match Replayer::new() {
        Ok(r) => r,
        Err(e) => return report.rows.push(Row::failed("round_trip", &e)),
    };
    for case in CASES {
        let figures: Result<Vec<RunFigures>> = (0..runs)
            .map(|_| one_session(case, calls, &replayer))
            .collect();
        let prefix = format!("{}_round_trip", case.label);
        match figures {
            Ok(figures) => push_rows(report, &prefix, &figures),
            Err(e) => report.rows.push(Row::failed(format!("{prefix}_ms"), &e)),
        }
    }
    match bash_spawn_samples(runs, calls) {
        Ok(samples) => report
            .rows
            .push(Row::new("ref_bash_spawn_ms", &samples, Target::None)),
        Err(e) => report.rows.push(Row::failed("ref_bash_spawn_ms", &e)),
    }
    report.notes.push(format!(
        "round trips: {runs} sessions of one turn with {calls} tool calls each; \
         *_round_trip_ms = turn wall time / {calls}; *_model_ms = the same requests replayed \
         against the fake model by a bare HTTP client / {calls}; *_agent_ms = the difference; \
         *_agent_cpu_ms = the agent's CPU time in the turn / {calls} (its children not \
         counted; steadier than wall time on a busy machine). ref_bash_spawn_ms = the shell \
         the Bash tool starts, spawned {calls} times from the bench, per spawn."
    ));
}

fn push_rows(report: &mut Report, prefix: &str, figures: &[RunFigures]) {
    let total: Vec<f64> = figures.iter().map(|f| f.total_ms).collect();
    let model: Vec<f64> = figures.iter().map(|f| f.model_ms).collect();
    let agent: Vec<f64> = figures.iter().map(|f| f.total_ms - f.model_ms).collect();
    let cpu: Vec<f64> = figures.iter().map(|f| f.cpu_ms).collect();
    report.rows.extend([
        Row::new(format!("{prefix}_ms"), &total, Target::None),
        Row::new(format!("{prefix}_model_ms"), &model, Target::None),
        Row::new(format!("{prefix}_agent_ms"), &agent, Target::None),
        Row::new(format!("{prefix}_agent_cpu_ms"), &cpu, Target::None),
    ]);
}

/// One agent process, one turn of `calls` tool calls; only the turn is timed.
fn one_session(case: &Case, calls: u32, replayer: &Replayer) -> Result<RunFigures> {
    let sandbox = Sandbox::new()?;
    std::fs::write(sandbox.work().join(SMALL_FILE), "a short line\n".repeat(20))
        .context("writing the file to read")?;
    let tool = (case.tool)(&sandbox);
    let server = model::start(model::tool_loop_rules(&tool, calls))?;
    let mut agent = Agent::spawn(&sandbox, &server.base_url())?;
    agent.initialize()?;

    let cpu_before = agent.cpu_time()?;
    let started = Instant::now();
    agent.run_turn("Run the tool until told otherwise.")?;
    let turn = started.elapsed();
    let cpu = agent.cpu_time()?.saturating_sub(cpu_before);
    agent.finish()?;

    let requests = server.requests();
    let expected = calls as usize + 1;
    ensure!(
        requests.len() == expected,
        "{}: the agent made {} model requests, expected {expected}",
        case.label,
        requests.len()
    );
    let failed = model::failed_tool_results(&requests);
    if failed > 0 {
        bail!("{}: {failed} of {calls} tool calls failed", case.label);
    }
    let model_time = replayer.time(&requests, &tool)?;
    Ok(RunFigures {
        total_ms: ms(turn) / f64::from(calls),
        model_ms: ms(model_time) / f64::from(calls),
        cpu_ms: ms(cpu) / f64::from(calls),
    })
}

/// The floor of a Bash call: the shell and script the Bash tool runs for `true`, with the same
/// pipes, spawned from here. Timed like the round trips (`runs` batches of `calls`, per call), so
/// that both average over the same span of machine load.
fn bash_spawn_samples(runs: usize, calls: u32) -> Result<Vec<f64>> {
    let cwd_file = tempfile::NamedTempFile::new().context("creating a temp file")?;
    let script = format!(
        "true\n__workroom_status=$?\npwd -P > '{}' 2>/dev/null\nexit $__workroom_status",
        cwd_file.path().display()
    );
    let spawn = || -> Result<()> {
        let output = Command::new("/bin/bash")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .output()
            .context("running /bin/bash")?;
        ensure!(output.status.success(), "bash -c true failed");
        Ok(())
    };
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..calls {
                spawn()?;
            }
            Ok(ms(started.elapsed()) / f64::from(calls))
        })
        .collect()
}
