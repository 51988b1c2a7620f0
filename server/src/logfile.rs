//! The server log: where it lives, how it is set up, and how its last lines
//! are read back for the LOGS command.
//!
//! Lines are written through the `log` crate by simplelog: a UTC RFC-3339
//! timestamp, the level, the thread (`conn-<peer>` for connections) and the
//! event. Untrusted text (file names, user names) is escaped by the code
//! that logs it, so one event is always one line.

use std::fs::{self, File, OpenOptions};
use std::io::{self, LineWriter, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use simplelog::{
    ColorChoice, CombinedLogger, ConfigBuilder, LevelFilter, SharedLogger, TermLogger,
    TerminalMode, ThreadLogMode, WriteLogger,
};

/// The server log's file name inside the logs folder.
pub const SERVER_LOG: &str = "server.log";

/// The log target of records that `main` also reports on the console in
/// its own words (a listener that cannot start): they go to the file only,
/// so the console shows each problem once.
pub const FILE_ONLY: &str = "ferry_server::file_only";

/// Sends log records to `logs_dir/server.log` (and warnings to stderr).
/// Returns the log file's path.
pub fn init(logs_dir: &Path, console: bool) -> anyhow::Result<PathBuf> {
    fs::create_dir_all(logs_dir)?;
    let path = logs_dir.join(SERVER_LOG);
    let file = OpenOptions::new().create(true).append(true).open(&path)?;
    let mut config = ConfigBuilder::new();
    config
        .set_time_format_rfc3339()
        .set_thread_level(LevelFilter::Error)
        .set_thread_mode(ThreadLogMode::Names)
        .set_target_level(LevelFilter::Off);
    // One write per line: the logger writes each part of a line on its own.
    let file = LineWriter::new(file);
    let mut loggers: Vec<Box<dyn SharedLogger>> =
        vec![WriteLogger::new(LevelFilter::Info, config.build(), file)];
    if console {
        loggers.push(TermLogger::new(
            LevelFilter::Warn,
            config.add_filter_ignore_str(FILE_ONLY).build(),
            TerminalMode::Stderr,
            ColorChoice::Auto,
        ));
    }
    CombinedLogger::init(loggers)?;
    Ok(path)
}

/// The last `n` lines of a file, oldest first; empty if it does not exist.
/// Reads backwards from the end, so a big log costs only what is returned.
pub fn last_lines(path: &Path, n: usize) -> io::Result<Vec<String>> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    const BLOCK: u64 = 64 * 1024;
    let mut tail: Vec<u8> = Vec::new();
    let mut start = len;
    // Stop once the tail holds more than n line breaks (or the file is read).
    while start > 0 && tail.iter().filter(|&&b| b == b'\n').count() <= n {
        let from = start.saturating_sub(BLOCK);
        let mut block = vec![0u8; (start - from) as usize];
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut block)?;
        block.extend_from_slice(&tail);
        tail = block;
        start = from;
    }
    let text = String::from_utf8_lossy(&tail);
    let mut lines: Vec<&str> = text.lines().collect();
    if start > 0 {
        lines.remove(0); // began mid-line
    }
    let skip = lines.len().saturating_sub(n);
    Ok(lines[skip..].iter().map(|l| (*l).to_owned()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_of_small_and_large_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        assert!(last_lines(&path, 5).unwrap().is_empty());

        fs::write(&path, "a\nb\nc\n").unwrap();
        assert_eq!(last_lines(&path, 2).unwrap(), ["b", "c"]);
        assert_eq!(last_lines(&path, 10).unwrap(), ["a", "b", "c"]);
        assert!(last_lines(&path, 0).unwrap().is_empty());

        let big: String = (0..50_000).map(|i| format!("line {i}\n")).collect();
        fs::write(&path, big).unwrap();
        let tail = last_lines(&path, 3).unwrap();
        assert_eq!(tail, ["line 49997", "line 49998", "line 49999"]);
        assert_eq!(last_lines(&path, 20_000).unwrap().len(), 20_000);
    }
}
