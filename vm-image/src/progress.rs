//! Progress of a build as numbers, for windows that show a progress bar (the command line reads
//! the messages on stderr instead).
//!
//! The build is a few phases of very different lengths; each phase owns a slice of the overall
//! 0..1 range, sized by what it usually costs on a first run (the kernel package download
//! dominates), and reports how far it is through its own slice.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// One progress report.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// What is happening, in words a person understands.
    pub step: String,
    /// How far the whole build is, 0..=1.
    pub fraction: f64,
}

/// Where reports go. Cheap to clone; calls come from the build's threads.
#[derive(Clone, Default)]
pub struct ProgressSink(Option<Arc<dyn Fn(Progress) + Send + Sync>>);

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "ProgressSink(..)"
        } else {
            "ProgressSink(none)"
        })
    }
}

impl ProgressSink {
    /// Reports to `f`.
    pub fn new(f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        ProgressSink(Some(Arc::new(f)))
    }

    /// Reports nowhere.
    pub fn none() -> Self {
        ProgressSink(None)
    }

    /// Reports `step` at `fraction` (clamped to 0..=1).
    pub fn report(&self, step: impl Into<String>, fraction: f64) {
        if let Some(f) = &self.0 {
            f(Progress {
                step: step.into(),
                fraction: fraction.clamp(0.0, 1.0),
            });
        }
    }

    /// The phase owning `start..end` of the overall range.
    pub fn phase(&self, start: f64, end: f64) -> Phase {
        Phase {
            sink: self.clone(),
            start,
            end,
        }
    }
}

/// A slice of the overall range: reports within it say how far the phase itself is.
#[derive(Debug, Clone)]
pub struct Phase {
    sink: ProgressSink,
    start: f64,
    end: f64,
}

impl Phase {
    /// Reports `step` at `within` (0..=1) of this phase.
    pub fn report(&self, step: impl Into<String>, within: f64) {
        let within = within.clamp(0.0, 1.0);
        self.sink
            .report(step, self.start + (self.end - self.start) * within);
    }

    /// A reporter for a byte count that reports at most every `every` (and always the last byte).
    pub fn bytes(&self, what: impl Into<String>, total: Option<u64>, every: Duration) -> ByteMeter {
        ByteMeter {
            phase: self.clone(),
            what: what.into(),
            total,
            every,
            last: None,
        }
    }
}

/// Turns byte counts of one transfer into throttled reports ("Downloading X: 12.0 of 64.0 MB").
#[derive(Debug)]
pub struct ByteMeter {
    phase: Phase,
    what: String,
    total: Option<u64>,
    every: Duration,
    last: Option<Instant>,
}

impl ByteMeter {
    /// `done` bytes have arrived.
    pub fn update(&mut self, done: u64) {
        let finished = self.total.is_some_and(|t| done >= t);
        let now = Instant::now();
        if !finished
            && self
                .last
                .is_some_and(|l| now.duration_since(l) < self.every)
        {
            return;
        }
        self.last = Some(now);
        let mb = |b: u64| b as f64 / 1e6;
        match self.total {
            Some(total) if total > 0 => self.phase.report(
                format!("{}: {:.1} of {:.1} MB", self.what, mb(done), mb(total)),
                done as f64 / total as f64,
            ),
            _ => self
                .phase
                .report(format!("{}: {:.1} MB", self.what, mb(done)), 0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn recording() -> (ProgressSink, Arc<Mutex<Vec<Progress>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = ProgressSink::new({
            let seen = seen.clone();
            move |p| seen.lock().unwrap().push(p)
        });
        (sink, seen)
    }

    #[test]
    fn a_phase_maps_its_own_progress_into_its_slice() {
        let (sink, seen) = recording();
        let phase = sink.phase(0.5, 0.9);
        phase.report("half", 0.5);
        phase.report("past the end", 3.0);
        let seen = seen.lock().unwrap();
        assert!((seen[0].fraction - 0.7).abs() < 1e-9);
        assert!((seen[1].fraction - 0.9).abs() < 1e-9);
    }

    #[test]
    fn byte_reports_are_throttled_but_the_last_one_always_arrives() {
        let (sink, seen) = recording();
        let mut meter =
            sink.phase(0.0, 1.0)
                .bytes("Downloading k", Some(4_000_000), Duration::from_secs(60));
        for done in [1_000_000, 2_000_000, 3_000_000, 4_000_000] {
            meter.update(done);
        }
        let seen = seen.lock().unwrap();
        let steps: Vec<&str> = seen.iter().map(|p| p.step.as_str()).collect();
        assert_eq!(
            steps,
            [
                "Downloading k: 1.0 of 4.0 MB",
                "Downloading k: 4.0 of 4.0 MB"
            ]
        );
        assert_eq!(seen[1].fraction, 1.0);
    }

    #[test]
    fn no_sink_reports_nothing_and_costs_nothing() {
        let sink = ProgressSink::none();
        sink.report("nobody hears this", 0.5);
        let mut meter = sink.phase(0.0, 1.0).bytes("x", None, Duration::ZERO);
        meter.update(10);
    }
}
