//! What a run found: one [`Figure`] per measurement, the machine it ran
//! on, a plain-text table for people and a JSON file for tools.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;
use serde_json::{Map, Value};

/// One measured figure.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    /// Stable key, e.g. `upload_large`.
    pub id: String,
    /// Which group measured it (`transfer`, `small`, …).
    pub group: String,
    /// What it is, for people.
    pub name: String,
    /// The measured value; `None` when skipped or failed.
    pub value: Option<f64>,
    /// Its unit.
    pub unit: String,
    /// What it is compared with (a baseline measured in the same run, or
    /// the figure it is relative to), for people.
    pub baseline: Option<String>,
    /// The target, for people.
    pub target: Option<String>,
    /// Measured ÷ baseline or measured ÷ limit (≤ 1 passes), where that means something.
    pub ratio: Option<f64>,
    /// Whether the target is met; `None` when the figure has no target.
    pub pass: Option<bool>,
    /// Operations that failed.
    pub errors: u64,
    /// Transfers whose bytes came back different.
    pub corrupted: u64,
    /// Why the figure was not measured.
    pub skipped: Option<String>,
    /// Everything else worth keeping (raw times, counts, sizes).
    pub details: Map<String, Value>,
}

impl Figure {
    /// A figure with a value and nothing else yet.
    pub fn new(group: &str, id: &str, name: impl Into<String>, value: f64, unit: &str) -> Figure {
        Figure {
            id: id.to_owned(),
            group: group.to_owned(),
            name: name.into(),
            value: Some(value),
            unit: unit.to_owned(),
            baseline: None,
            target: None,
            ratio: None,
            pass: None,
            errors: 0,
            corrupted: 0,
            skipped: None,
            details: Map::new(),
        }
    }

    /// A figure that could not be measured, and why.
    pub fn skipped(
        group: &str,
        id: &str,
        name: impl Into<String>,
        unit: &str,
        why: String,
    ) -> Figure {
        Figure {
            value: None,
            skipped: Some(why),
            ..Figure::new(group, id, name, 0.0, unit)
        }
    }

    /// A group that could not be measured at all, and why.
    pub fn failed(group: &str, why: String) -> Figure {
        let mut f = Figure::new(
            group,
            &format!("{group}_failed"),
            format!("{group}: failed"),
            0.0,
            "",
        );
        f.value = None;
        f.errors = 1;
        f.details.insert("error".to_owned(), Value::String(why));
        f
    }

    /// Sets the baseline text.
    pub fn baseline(mut self, text: impl Into<String>) -> Figure {
        self.baseline = Some(text.into());
        self
    }

    /// Sets the target text, the ratio and whether it passes.
    pub fn target(mut self, text: impl Into<String>, ratio: Option<f64>, pass: bool) -> Figure {
        self.target = Some(text.into());
        self.ratio = ratio;
        self.pass = Some(pass);
        self
    }

    /// Sets the ratio without a target.
    pub fn ratio(mut self, ratio: f64) -> Figure {
        self.ratio = Some(ratio);
        self
    }

    /// Sets the error and corruption counts.
    pub fn faults(mut self, errors: u64, corrupted: u64) -> Figure {
        self.errors = errors;
        self.corrupted = corrupted;
        self
    }

    /// Adds a detail.
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Figure {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    fn result(&self) -> &'static str {
        if self.skipped.is_some() {
            return "SKIP";
        }
        if self.value.is_none() {
            return "ERROR";
        }
        match self.pass {
            Some(true) => "PASS",
            Some(false) => "FAIL",
            None => "-",
        }
    }

    /// One line for the progress log: result, name, value, comparison.
    pub fn line(&self) -> String {
        let [name, value, unit, compared, ratio, result, notes] = self.cells();
        let mut text = format!("[{result}] {name}: {value} {unit}");
        let ratio = if ratio.is_empty() {
            ratio
        } else {
            format!("ratio {ratio}")
        };
        for extra in [compared, ratio, notes] {
            if !extra.is_empty() {
                text.push_str(" | ");
                text.push_str(&extra);
            }
        }
        text
    }

    fn cells(&self) -> [String; 7] {
        let value = match self.value {
            Some(v) => format_value(v),
            None => "-".to_owned(),
        };
        let compared = match (&self.baseline, &self.target) {
            (Some(b), Some(t)) => format!("{b}; target {t}"),
            (Some(b), None) => b.clone(),
            (None, Some(t)) => format!("target {t}"),
            (None, None) => String::new(),
        };
        let ratio = self.ratio.map(|r| format!("{r:.2}")).unwrap_or_default();
        let mut notes = Vec::new();
        if self.errors > 0
            || self.corrupted > 0
            || self.group == "concurrent"
            || self.group == "load"
        {
            notes.push(format!(
                "errors {}, corrupted {}",
                self.errors, self.corrupted
            ));
        }
        if let Some(why) = &self.skipped {
            notes.push(why.clone());
        }
        if let Some(Value::String(why)) = self.details.get("error") {
            notes.push(why.clone());
        }
        [
            self.name.clone(),
            value,
            self.unit.clone(),
            compared,
            ratio,
            self.result().to_owned(),
            notes.join("; "),
        ]
    }
}

/// Numbers with a sensible number of digits for their size.
pub fn format_value(v: f64) -> String {
    if v >= 100.0 || (v.fract() == 0.0 && v.abs() < 1e15) {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

const HEADERS: [&str; 7] = [
    "figure",
    "value",
    "unit",
    "baseline / target",
    "ratio",
    "result",
    "notes",
];

/// The figures as an aligned plain-text table.
pub fn table(figures: &[Figure]) -> String {
    let rows: Vec<[String; 7]> = figures.iter().map(Figure::cells).collect();
    let mut widths = HEADERS.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            // Numbers right-aligned, text left-aligned.
            if i == 1 || i == 4 {
                let _ = write!(text, "{cell:>w$}  ");
            } else {
                let _ = write!(text, "{cell:<w$}  ");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&HEADERS.map(str::to_owned));
    line(&widths.map(|w| "-".repeat(w)));
    for row in &rows {
        line(row);
    }
    out
}

/// The machine a run happened on.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// Logical CPUs this process may use.
    pub nproc: usize,
    /// CPU model from /proc/cpuinfo.
    pub cpu: String,
    /// Physical memory, bytes.
    pub ram_bytes: u64,
    /// Kernel release.
    pub kernel: String,
    /// Open-files limit (soft, hard) when the run started.
    pub nofile: Option<(u64, u64)>,
    /// /proc/loadavg when the run started: other work on the machine
    /// skews every figure.
    pub load_average_start: String,
    /// /proc/loadavg when the run ended.
    pub load_average_end: String,
}

impl Machine {
    /// Reads /proc.
    pub fn detect() -> Machine {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpu = read("/proc/cpuinfo")
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, m)| m.trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        let ram_bytes = read("/proc/meminfo")
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024);
        Machine {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu,
            ram_bytes,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            nofile: crate::server::nofile_limit(None),
            load_average_start: load_average(),
            load_average_end: String::new(),
        }
    }

    /// One line for people.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "{} × {} CPU(s), {:.1} GiB RAM, Linux {}; load average at start {}",
            self.nproc,
            self.cpu,
            self.ram_bytes as f64 / (1u64 << 30) as f64,
            self.kernel,
            self.load_average_start,
        );
        if !self.load_average_end.is_empty() {
            let _ = write!(text, ", at end {}", self.load_average_end);
        }
        text
    }
}

/// The 1, 5 and 15-minute load averages from /proc/loadavg.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Everything a run writes to its JSON file.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// `ferry-bench`.
    pub tool: &'static str,
    /// Its version.
    pub version: &'static str,
    /// When the run started, UTC.
    pub date: String,
    /// The command line.
    pub command: String,
    /// Whether this was a `--quick` run (small sizes; targets are scaled
    /// where they scale and are not meaningful otherwise).
    pub quick: bool,
    /// Where it ran.
    pub machine: Machine,
    /// Things the reader of the figures should know.
    pub notes: Vec<String>,
    /// Every figure, in the order measured.
    pub figures: Vec<Figure>,
}

impl Report {
    /// Writes the JSON file (whole, replacing an older one).
    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("while writing {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_and_marks_results() {
        let figures = vec![
            Figure::new("transfer", "a", "Upload", 512.345, "MB/s")
                .baseline("MD5 1.00 s")
                .target("≤ 1.3× MD5", Some(1.1), true),
            Figure::skipped("memory", "b", "RSS, 10,000 idle", "MiB", "no fds".into()),
        ];
        let t = table(&figures);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[2].contains("512") && lines[2].contains("PASS"));
        assert!(lines[3].contains("SKIP") && lines[3].contains("no fds"));
        // Values are right-aligned under their header.
        let col = lines[0].find("value").unwrap();
        assert_eq!(&lines[2][col..col + 5], "  512");
    }
}
