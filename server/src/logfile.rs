//! The server log: where it lives, how it is set up, and how its last lines
//! are read back for the LOGS command.
//!
//! Lines are written through the `log` crate by simplelog: a UTC RFC-3339
//! timestamp, the level, the thread (`conn-<peer>` for connections) and the
//! event. Untrusted text (file names, user names) is escaped by the code
//! that logs it, so one event is always one line.
//!
//! The file is rotated by size ([`Rotation`]): past `max_size` bytes,
//! `server.log` becomes `server.log.1` (and `.1` becomes `.2`, … up to
//! `keep`), so no client can fill the disk through the log.

use std::fs::{self, File, OpenOptions};
use std::io::{self, LineWriter, Read, Seek, SeekFrom, Write};
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

/// When the log file is rotated, and how many old ones are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// Bytes `server.log` may reach before it is rotated (at least 4 KiB).
    pub max_size: u64,
    /// Rotated files kept: `server.log.1` (newest) to `server.log.<keep>`.
    pub keep: u32,
}

impl Default for Rotation {
    /// 10 MiB a file, five old files: at most 60 MiB of log.
    fn default() -> Self {
        Rotation {
            max_size: 10 << 20,
            keep: 5,
        }
    }
}

/// The log file, rotated by size. Each write is one whole line (it sits
/// under a `LineWriter`), so a line is never split across two files.
struct RotatingFile {
    path: PathBuf,
    file: File,
    size: u64,
    rotation: Rotation,
}

impl RotatingFile {
    fn open(path: PathBuf, rotation: Rotation) -> io::Result<RotatingFile> {
        let file = open_log(&path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path,
            file,
            size,
            rotation,
        })
    }

    fn rotate(&mut self) -> io::Result<()> {
        for k in (1..self.rotation.keep).rev() {
            let from = rotated_path(&self.path, k);
            if from.exists() {
                fs::rename(&from, rotated_path(&self.path, k + 1))?;
            }
        }
        if self.rotation.keep == 0 {
            fs::remove_file(&self.path)?;
        } else {
            fs::rename(&self.path, rotated_path(&self.path, 1))?;
        }
        self.file = open_log(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let max = self.rotation.max_size.max(4096);
        if self.size > 0 && self.size + buf.len() as u64 > max {
            // A failed rotation goes on in the same file rather than lose lines.
            if let Err(e) = self.rotate() {
                eprintln!(
                    "ferry-server: warning: cannot rotate {}: {e}",
                    self.path.display()
                );
                self.size = 0;
            }
        }
        let n = self.file.write(buf)?;
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// `server.log.<k>`.
fn rotated_path(path: &Path, k: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{k}"));
    PathBuf::from(name)
}

/// Opens the log for appending, creating it; never through a symlink
/// planted in its place.
fn open_log(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

/// Sends log records to `logs_dir/server.log`, rotated as `rotation`
/// says (and warnings to stderr). Returns the log file's path.
pub fn init(logs_dir: &Path, console: bool, rotation: Rotation) -> anyhow::Result<PathBuf> {
    fs::create_dir_all(logs_dir)?;
    let path = logs_dir.join(SERVER_LOG);
    let file = RotatingFile::open(path.clone(), rotation)?;
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

/// The last `n` lines of the server log in `logs_dir`, oldest first, read
/// from `server.log` and, if it has fewer, from the files rotated before it.
pub fn last_log_lines(logs_dir: &Path, n: usize) -> io::Result<Vec<String>> {
    let path = logs_dir.join(SERVER_LOG);
    let mut lines = last_lines(&path, n)?;
    let mut k = 1;
    while lines.len() < n {
        let older = rotated_path(&path, k);
        if !older.exists() {
            break;
        }
        let mut earlier = last_lines(&older, n - lines.len())?;
        earlier.append(&mut lines);
        lines = earlier;
        k += 1;
    }
    Ok(lines)
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

    #[test]
    fn the_log_rotates_by_size_and_keeps_its_number_of_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SERVER_LOG);
        let rotation = Rotation {
            max_size: 4096,
            keep: 2,
        };
        let mut log = LineWriter::new(RotatingFile::open(path.clone(), rotation).unwrap());
        for i in 0..1000 {
            writeln!(log, "line {i:04} {}", "x".repeat(90)).unwrap();
        }
        log.flush().unwrap();
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["server.log", "server.log.1", "server.log.2"]);
        for name in &names {
            let len = fs::metadata(dir.path().join(name)).unwrap().len();
            assert!(len <= 4096, "{name} has {len} bytes");
            let text = fs::read_to_string(dir.path().join(name)).unwrap();
            assert!(text.lines().all(|l| l.len() == 100), "whole lines only");
        }
        // The newest lines are read back across the rotated files.
        let tail = last_log_lines(dir.path(), 60).unwrap();
        assert_eq!(tail.len(), 60);
        assert!(tail[59].starts_with("line 0999 "));
        assert!(tail[0].starts_with("line 0940 "));
    }

    #[cfg(unix)]
    #[test]
    fn the_log_is_never_written_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        fs::write(&target, "keep").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join(SERVER_LOG)).unwrap();
        assert!(RotatingFile::open(dir.path().join(SERVER_LOG), Rotation::default()).is_err());
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep");
    }
}
