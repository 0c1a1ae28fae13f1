//! Performance benchmark of `workroom-agent`.
//!
//! ```text
//! cargo bench -p workroom-agent --bench agent                  # full run (< 1 min once built)
//! cargo bench -p workroom-agent --bench agent -- --quick       # CI smoke run
//! cargo bench -p workroom-agent --bench agent -- startup grep  # only these measurements
//! ```
//!
//! Measures, against an instant fake model (tests/fake-model):
//! 1. process start → `initialize` answered;
//! 2. the agent's overhead per tool round trip (Bash, Read, TodoWrite);
//! 3. peak RSS of a 50-turn session;
//! 4. the Grep tool against `rg` on a 100,000-file tree (generated once, cached in the temp dir).
//!
//! The agent binary is the one Cargo builds for this bench (bench profile = release settings);
//! `WORKROOM_AGENT_BIN` points the bench at another build. `WORKROOM_BENCH_QUICK=1` is the same as
//! `--quick`; so is running without Cargo's `--bench` flag, as `cargo test --benches` does. The
//! report goes to stdout, progress to stderr. The exit code is 1 when a measurement failed (not
//! when a target is missed: timings on shared CI machines vary).

mod measure;
mod support;

use std::process::ExitCode;
use std::time::Instant;

use measure::Config;
use support::stats::Report;

const USAGE: &str = "usage: agent [--quick] [startup|round_trip|memory|grep]...";

/// The command line: `cargo bench` adds `--bench`; the rest is ours.
struct Args {
    config: Config,
    /// Measurements to run; empty means all.
    only: Vec<String>,
}

impl Args {
    fn parse(args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut quick = std::env::var("WORKROOM_BENCH_QUICK").is_ok_and(|v| v != "0");
        let mut benching = false;
        let mut only = Vec::new();
        for arg in args {
            match arg.as_str() {
                "--quick" => quick = true,
                "--bench" => benching = true,
                name if measure::ALL.iter().any(|m| m.name == name) => only.push(arg),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        Ok(Self {
            // `cargo test --benches` (or `--all-targets`) runs this without `--bench`, in the
            // debug profile: a smoke run is all that is useful there.
            config: Config {
                quick: quick || !benching,
            },
            only,
        })
    }

    fn selects(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == name)
    }
}

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let load_before = load_average();
    let mut report = Report::default();
    for measurement in measure::ALL.iter().filter(|m| args.selects(m.name)) {
        eprintln!("running {} ...", measurement.name);
        let step = Instant::now();
        (measurement.run)(&args.config, &mut report);
        eprintln!("  done in {:.1} s", step.elapsed().as_secs_f64());
    }
    print_header(&args.config, &load_before);
    print!("{}", report.render());
    println!("total bench time {:.1} s", started.elapsed().as_secs_f64());
    if report.rows.iter().any(|r| r.outcome.is_err()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print_header(config: &Config, load_before: &str) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!();
    println!(
        "workroom-agent benchmark ({} mode, {cores} cores), binary {}",
        if config.quick { "quick" } else { "full" },
        support::process::agent_binary().display()
    );
    // Other work on the machine shows in every timing; the load says how much there was.
    println!(
        "load average {load_before} at start, {} at end",
        load_average()
    );
    println!("times in ms, memory in MiB; result compares the median with the target");
}

/// The 1-minute load average, or `?` where /proc is missing.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}
