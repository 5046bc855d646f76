//! Figures, their medians over repetitions, and the one table the benchmark prints.
//!
//! Every lanshare figure is printed beside the baselines measured in the same run, with the
//! ratio lanshare ÷ baseline and, where the issue sets one, the target and whether it held.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use crate::workload::Workload;

/// What a figure counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unit {
    /// Bytes per second (printed in decimal MB/s or GB/s, as network rates are).
    BytesPerSecond,
    /// Whole files per second.
    FilesPerSecond,
    /// Bytes of memory (printed in MiB).
    Bytes,
    /// Seconds (printed in milliseconds).
    Seconds,
    /// A plain count.
    Count,
    /// A share of one CPU core's time (1 = a whole core; printed in percent).
    CoreShare,
}

/// One measured value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figure {
    /// The value in the unit's base (bytes, seconds, …).
    pub value: f64,
    /// What it counts.
    pub unit: Unit,
}

impl Figure {
    /// A figure of `value` in `unit`.
    pub fn new(value: f64, unit: Unit) -> Self {
        Self { value, unit }
    }
}

impl std::fmt::Display for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.value;
        match self.unit {
            Unit::BytesPerSecond if v >= 1e9 => write!(f, "{:.2} GB/s", v / 1e9),
            Unit::BytesPerSecond => write!(f, "{:.1} MB/s", v / 1e6),
            Unit::FilesPerSecond => write!(f, "{v:.0} files/s"),
            Unit::Bytes if v >= f64::from(1u32 << 30) => {
                write!(f, "{:.2} GiB", v / f64::from(1u32 << 30))
            }
            Unit::Bytes => write!(f, "{:.1} MiB", v / f64::from(1u32 << 20)),
            Unit::Seconds if v >= 1.0 => write!(f, "{v:.2} s"),
            Unit::Seconds => write!(f, "{:.2} ms", v * 1e3),
            Unit::Count => write!(f, "{v:.0}"),
            Unit::CoreShare => write!(f, "{:.0}% of a core", v * 100.0),
        }
    }
}

/// A condition a figure must meet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// lanshare ÷ baseline must be at least this.
    RatioAtLeast(f64),
    /// lanshare must beat the baseline (ratio above 1, or below 1 for lower-is-better units).
    Faster,
    /// lanshare's figure must be at most this many of its unit's base.
    AtMost(f64),
    /// lanshare's figure must be at most the baseline plus this much.
    AtMostBaselinePlus(f64),
}

impl Target {
    fn describe(self, unit: Unit) -> String {
        match self {
            Self::RatioAtLeast(ratio) => format!(">= {ratio:.2}"),
            Self::Faster => "faster".into(),
            Self::AtMost(limit) => format!("<= {}", Figure::new(limit, unit)),
            Self::AtMostBaselinePlus(extra) => format!("<= base + {}", Figure::new(extra, unit)),
        }
    }

    fn holds(self, lanshare: f64, baseline: f64, unit: Unit) -> bool {
        match self {
            Self::RatioAtLeast(ratio) => lanshare >= ratio * baseline,
            Self::Faster => match unit {
                Unit::Seconds | Unit::Bytes => lanshare < baseline,
                _ => lanshare > baseline,
            },
            Self::AtMost(limit) => lanshare <= limit,
            Self::AtMostBaselinePlus(extra) => lanshare <= baseline + extra,
        }
    }
}

/// A baseline beside a lanshare figure: measured, or skipped with a reason.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// What the baseline is, e.g. "raw TCP copy".
    pub baseline: String,
    /// Its value, or why there is none.
    pub value: Result<Figure, String>,
    /// The target this comparison checks, if any.
    pub target: Option<Target>,
}

/// One lanshare figure and its baselines.
#[derive(Debug, Clone)]
pub struct Row {
    /// What was measured, e.g. "1 GiB upload, memory store".
    pub what: String,
    /// lanshare's figure, or why there is none.
    pub lanshare: Result<Figure, String>,
    /// The baselines.
    pub comparisons: Vec<Comparison>,
}

/// Throughput of one timed transfer of a workload: bytes/s, or files/s for many files.
pub fn rate(workload: &Workload, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64().max(1e-9);
    if workload.is_many() {
        workload.files.len() as f64 / seconds
    } else {
        workload.bytes() as f64 / seconds
    }
}

/// The unit of a workload's rates: files/s for many files, bytes/s for one.
pub fn rate_unit(workload: &Workload) -> Unit {
    if workload.is_many() {
        Unit::FilesPerSecond
    } else {
        Unit::BytesPerSecond
    }
}

/// Samples collected over the repetitions, by key; notes for what could not be measured, and
/// facts about the run (printed above the table).
#[derive(Default)]
pub struct Results {
    samples: BTreeMap<String, Vec<f64>>,
    failures: BTreeMap<String, String>,
    notes: BTreeSet<String>,
}

impl Results {
    /// Adds one sample under `key`.
    pub fn record(&mut self, key: &str, value: f64) {
        self.samples.entry(key.to_owned()).or_default().push(value);
    }

    /// Records a timed transfer of `workload` (as a rate) under `key`, or why it failed.
    pub fn record_rate(
        &mut self,
        key: &str,
        workload: &Workload,
        timed: std::io::Result<Duration>,
    ) {
        match timed {
            Ok(elapsed) => {
                let value = rate(workload, elapsed);
                eprintln!("  {key}: {}", Figure::new(value, rate_unit(workload)));
                self.record(key, value);
            }
            Err(error) => self.fail(key, error.to_string()),
        }
    }

    /// Notes a fact about the run, once however often it is noted.
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.insert(text.into());
    }

    /// The facts noted, in order.
    pub fn notes(&self) -> impl Iterator<Item = &str> {
        self.notes.iter().map(String::as_str)
    }

    /// Records why `key` has no (complete) figure; the first reason is kept.
    pub fn fail(&mut self, key: &str, reason: impl Into<String>) {
        // One line, so it fits a table cell.
        let reason = reason
            .into()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        eprintln!("  {key}: {reason}");
        self.failures.entry(key.to_owned()).or_insert(reason);
    }

    /// Why `key` failed: a failure recorded for it or for any key it is under (`a/b` is
    /// under `a`).
    fn failure(&self, key: &str) -> Option<&String> {
        key.match_indices('/')
            .map(|(at, _)| &key[..at])
            .chain([key])
            .find_map(|prefix| self.failures.get(prefix))
    }

    /// The median of `key`'s samples in `unit`, or why there is none.
    pub fn median(&self, key: &str, unit: Unit) -> Result<Figure, String> {
        if let Some(reason) = self.failure(key) {
            return Err(reason.clone());
        }
        match self.samples.get(key) {
            Some(values) if !values.is_empty() => Ok(Figure::new(median(values), unit)),
            _ => Err("not measured".into()),
        }
    }

    /// The largest of `key`'s samples in `unit`, or why there is none.
    pub fn max(&self, key: &str, unit: Unit) -> Result<Figure, String> {
        if let Some(reason) = self.failure(key) {
            return Err(reason.clone());
        }
        match self.samples.get(key) {
            Some(values) if !values.is_empty() => Ok(Figure::new(
                values.iter().copied().fold(f64::MIN, f64::max),
                unit,
            )),
            _ => Err("not measured".into()),
        }
    }

    /// How many samples `key` has.
    pub fn count(&self, key: &str) -> usize {
        self.samples.get(key).map_or(0, Vec::len)
    }
}

/// The median of some values (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.is_empty() {
        f64::NAN
    } else if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    }
}

/// The `p`-th percentile (0–100) of some values, nearest-rank.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Lays the rows out as one plain-text table (also valid Markdown).
pub fn table(rows: &[Row]) -> String {
    let header = [
        "measurement",
        "lanshare",
        "baseline (same run)",
        "baseline",
        "ratio",
        "target",
        "held",
    ];
    let mut cells: Vec<[String; 7]> = Vec::new();
    for row in rows {
        let lanshare = match &row.lanshare {
            Ok(figure) => figure.to_string(),
            Err(reason) => format!("n/a ({reason})"),
        };
        if row.comparisons.is_empty() {
            cells.push([
                row.what.clone(),
                lanshare,
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
            continue;
        }
        for (index, comparison) in row.comparisons.iter().enumerate() {
            let (what, shown) = if index == 0 {
                (row.what.clone(), lanshare.clone())
            } else {
                (String::new(), String::new())
            };
            let (value, ratio, held) = match (&row.lanshare, &comparison.value) {
                (Ok(ours), Ok(theirs)) => {
                    let held = comparison.target.map_or(String::new(), |target| {
                        if target.holds(ours.value, theirs.value, ours.unit) {
                            "yes".into()
                        } else {
                            "NO".into()
                        }
                    });
                    let ratio = if theirs.value > 0.0 {
                        format!("{:.3}", ours.value / theirs.value)
                    } else {
                        "-".into()
                    };
                    (theirs.to_string(), ratio, held)
                }
                (Err(_), Ok(theirs)) => (theirs.to_string(), "-".into(), "-".into()),
                (_, Err(reason)) => (format!("skipped: {reason}"), "-".into(), "-".into()),
            };
            let unit = row.lanshare.as_ref().map_or(Unit::Count, |f| f.unit);
            let target = comparison
                .target
                .map_or(String::new(), |target| target.describe(unit));
            cells.push([
                what,
                shown,
                comparison.baseline.clone(),
                value,
                ratio,
                target,
                held,
            ]);
        }
    }
    let mut widths = header.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, row: &[String]| {
        out.push('|');
        for (cell, width) in row.iter().zip(widths) {
            let pad = width - cell.chars().count();
            let _ = write!(out, " {cell}{} |", " ".repeat(pad));
        }
        out.push('\n');
    };
    line(&mut out, &header.map(String::from));
    out.push('|');
    for width in widths {
        let _ = write!(out, "{}|", "-".repeat(width + 2));
    }
    out.push('\n');
    for row in &cells {
        line(&mut out, row);
    }
    out
}
