//! Process start to the `initialize` control request answered: what an SDK client waits for
//! before it can send the first message.

use std::time::Instant;

use anyhow::{ensure, Result};
use serde_json::json;

use super::Config;
use crate::support::model;
use crate::support::process::{Agent, Sandbox};
use crate::support::stats::{ms, Report, Row, Target};

const NAME: &str = "start_to_initialize_ms";
const TARGET_MS: f64 = 20.0;

pub fn run(config: &Config, report: &mut Report) {
    let runs = config.pick(30, 5);
    report.rows.push(match samples(runs) {
        Ok(samples) => Row::new(NAME, &samples, Target::Below(TARGET_MS)),
        Err(e) => Row::failed(NAME, &e),
    });
}

/// `runs` timings of spawn → `control_response` line read, after one unmeasured run that brings
/// the binary into the page cache.
fn samples(runs: usize) -> Result<Vec<f64>> {
    // Initialize must not call the model; a server is there so that a stray request does not
    // turn into a slow connection error.
    let server = model::start(json!([]))?;
    let sandbox = Sandbox::new()?;
    let mut samples = Vec::with_capacity(runs);
    for run in 0..=runs {
        let started = Instant::now();
        let mut agent = Agent::spawn(&sandbox, &server.base_url())?;
        agent.initialize()?;
        let elapsed = started.elapsed();
        agent.finish()?;
        if run > 0 {
            samples.push(ms(elapsed));
        }
    }
    ensure!(
        server.requests().is_empty(),
        "initialize sent requests to the model"
    );
    Ok(samples)
}
