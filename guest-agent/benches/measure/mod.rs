//! The measurements, one module each. Each adds its rows (or a failed row saying why) to the
//! report, so one broken measurement does not hide the others.

mod grep;
mod memory;
mod round_trip;
mod startup;

use crate::support::stats::Report;

/// How thorough the run is.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Few iterations and a smaller search tree: a smoke test for CI, not a measurement.
    pub quick: bool,
}

impl Config {
    /// `full` normally, `quick` in quick mode.
    pub fn pick<T>(&self, full: T, quick: T) -> T {
        if self.quick {
            quick
        } else {
            full
        }
    }
}

pub struct Measurement {
    /// Also the filter word on the command line.
    pub name: &'static str,
    pub run: fn(&Config, &mut Report),
}

/// In report order; the Grep tree goes last because generating it may take a while.
pub const ALL: &[Measurement] = &[
    Measurement {
        name: "startup",
        run: startup::run,
    },
    Measurement {
        name: "round_trip",
        run: round_trip::run,
    },
    Measurement {
        name: "memory",
        run: memory::run,
    },
    Measurement {
        name: "grep",
        run: grep::run,
    },
];
