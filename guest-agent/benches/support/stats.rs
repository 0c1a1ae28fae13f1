//! Summaries of repeated measurements and the report table.

use std::fmt::Write as _;
use std::time::Duration;

/// Milliseconds, as a float: every time figure in the report is in ms.
pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// Median, min and max of one figure's samples.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub runs: usize,
}

impl Summary {
    /// `None` for no samples (a measurement that produced nothing is reported as failed).
    pub fn of(samples: &[f64]) -> Option<Self> {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = match n {
            0 => return None,
            _ if n % 2 == 1 => sorted[n / 2],
            _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        };
        Some(Self {
            median,
            min: sorted[0],
            max: sorted[n - 1],
            runs: n,
        })
    }
}

/// What a figure should stay under; figures given for context have none.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    Below(f64),
    None,
}

impl Target {
    fn describe(self) -> String {
        match self {
            Self::Below(limit) => format!("< {limit}"),
            Self::None => "-".to_owned(),
        }
    }

    /// `ok` / `MISSED` against the median; `-` without a target.
    fn verdict(self, median: f64) -> &'static str {
        match self {
            Self::Below(limit) if median < limit => "ok",
            Self::Below(_) => "MISSED",
            Self::None => "-",
        }
    }
}

/// One line of the report: a figure's summary, or why it could not be measured.
#[derive(Debug)]
pub struct Row {
    pub name: String,
    pub outcome: Result<Summary, String>,
    pub target: Target,
}

impl Row {
    pub fn new(name: impl Into<String>, samples: &[f64], target: Target) -> Self {
        let name = name.into();
        let outcome = Summary::of(samples).ok_or_else(|| "no samples".to_owned());
        Self {
            name,
            outcome,
            target,
        }
    }

    pub fn failed(name: impl Into<String>, error: &anyhow::Error) -> Self {
        Self {
            name: name.into(),
            // `{:#}` keeps anyhow's context chain on one line.
            outcome: Err(format!("{error:#}")),
            target: Target::None,
        }
    }
}

/// Everything the run measured, in order, plus free-form notes printed under the table.
#[derive(Debug, Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn render(&self) -> String {
        let width = self.rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:width$}  {:>9}  {:>9}  {:>9}  {:>4}  {:>7}  result",
            "figure", "median", "min", "max", "runs", "target"
        );
        for row in &self.rows {
            let name = &row.name;
            let _ = match &row.outcome {
                Ok(s) => writeln!(
                    out,
                    "{name:width$}  {:>9}  {:>9}  {:>9}  {:>4}  {:>7}  {}",
                    figure(s.median),
                    figure(s.min),
                    figure(s.max),
                    s.runs,
                    row.target.describe(),
                    row.target.verdict(s.median),
                ),
                Err(why) => writeln!(out, "{name:width$}  FAILED: {why}"),
            };
        }
        for note in &self.notes {
            let _ = writeln!(out, "- {note}");
        }
        out
    }
}

/// Three significant-ish digits: 0.042, 4.13, 41.3, 413.
fn figure(value: f64) -> String {
    match value.abs() {
        v if v < 1.0 => format!("{value:.3}"),
        v if v < 100.0 => format!("{value:.2}"),
        _ => format!("{value:.0}"),
    }
}
