//! The state of one run: sizes (full or `--quick`), the temp folder, the
//! password of the servers it starts, and the figures found so far.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::report::{Figure, Report};
use crate::server::{ServerOptions, ServerProcess};

pub const KIB: u64 = 1 << 10;
pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;

/// Every size and count the figures use.
#[derive(Clone, Debug)]
pub struct Sizes {
    /// The large file of the transfer figures.
    pub large: u64,
    /// How many small files.
    pub small_files: usize,
    /// Bytes per small file.
    pub small_size: usize,
    /// Clients of the parallel small-file figure.
    pub small_clients: usize,
    /// Files in the tree figure (each of `small_size` bytes).
    pub tree_files: usize,
    /// Folders they are spread over.
    pub tree_folders: usize,
    /// Files in the LIST figure.
    pub list_files: usize,
    /// Clients of the concurrent figure.
    pub concurrent_clients: usize,
    /// Bytes each of them moves each way.
    pub concurrent_bytes: u64,
    /// Idle connections of the first memory figure.
    pub idle_small: usize,
    /// Idle connections of the second memory figure.
    pub idle_large: usize,
    /// File size of the mirrors figure.
    pub mirror_bytes: u64,
    /// Each mirror's rate limit, bytes per second per connection.
    pub mirror_rate: u64,
    /// Active clients of the load figure.
    pub load_clients: usize,
    /// Seconds the load runs.
    pub load_seconds: u64,
    /// Idle connections held during the load.
    pub load_idle: usize,
}

impl Sizes {
    /// The sizes the issues name.
    pub fn full() -> Sizes {
        Sizes {
            large: GIB,
            small_files: 1000,
            small_size: 4096,
            small_clients: 8,
            tree_files: 10_000,
            tree_folders: 100,
            list_files: 10_000,
            concurrent_clients: 64,
            concurrent_bytes: 16 * MIB,
            idle_small: 1000,
            idle_large: 10_000,
            mirror_bytes: 256 * MIB,
            mirror_rate: 20 * MIB,
            load_clients: 500,
            load_seconds: 30,
            load_idle: 2000,
        }
    }

    /// Small enough for a test in a debug build: seconds, not minutes.
    pub fn quick() -> Sizes {
        Sizes {
            large: 16 * MIB,
            small_files: 100,
            small_size: 4096,
            small_clients: 8,
            tree_files: 300,
            tree_folders: 10,
            list_files: 300,
            concurrent_clients: 8,
            concurrent_bytes: 2 * MIB,
            idle_small: 100,
            idle_large: 200,
            // At least four pieces, so that four mirrors have work each.
            mirror_bytes: 16 * MIB,
            mirror_rate: 16 * MIB,
            load_clients: 20,
            load_seconds: 3,
            load_idle: 50,
        }
    }
}

/// One run.
pub struct Bench {
    /// `--quick`.
    pub quick: bool,
    /// The sizes in force.
    pub sizes: Sizes,
    /// The run's temp folder (kept with `--keep`).
    pub root: PathBuf,
    /// The admin password of every server started.
    pub password: String,
    /// What has been found so far.
    pub report: Report,
    /// Where the JSON goes.
    pub json: PathBuf,
}

impl Bench {
    /// A fresh folder for one group of figures.
    pub fn dir(&self, name: &str) -> anyhow::Result<PathBuf> {
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("while creating {}", dir.display()))?;
        Ok(dir)
    }

    /// Starts a server process over `dir`.
    pub fn server(&self, dir: &Path, options: &ServerOptions) -> anyhow::Result<ServerProcess> {
        ServerProcess::start(dir, &self.password, options)
    }

    /// Records a figure, shows it at once, and rewrites the JSON so that an
    /// interrupted run keeps what it measured.
    pub fn push(&mut self, figure: Figure) {
        println!("{}", figure.line());
        self.report.figures.push(figure);
        if let Err(e) = self.report.write_json(&self.json) {
            eprintln!("ferry-bench: warning: {e:#}");
        }
    }

    /// A progress message (stderr, so stdout stays the table).
    pub fn say(&self, what: impl AsRef<str>) {
        eprintln!("ferry-bench: {}", what.as_ref());
    }

    /// A target that scales with a count: the full-size limit times the
    /// fraction of the full count this run uses.
    pub fn scaled(&self, full_limit: f64, count: usize, full_count: usize) -> f64 {
        full_limit * count as f64 / full_count as f64
    }
}

/// Bytes per second as MB/s (10^6, as md5sum-style tools and networks count).
pub fn mb_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs.max(1e-9)
}

/// Bytes as MiB.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

/// A count with thousands separators: 10,000.
pub fn count_text(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The median of some samples (which it sorts).
pub fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    if n == 0 {
        return 0.0;
    }
    if !n.is_multiple_of(2) {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        assert_eq!(count_text(10_000), "10,000");
        assert_eq!(count_text(500), "500");
        assert_eq!(count_text(1_000_000), "1,000,000");
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
