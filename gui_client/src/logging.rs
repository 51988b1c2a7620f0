//! The client log: `<folder>/client.log`, appended to, one line per event.
//!
//! The client library already logs connects, logins and transfers through
//! `log`; this module gives those lines a file, lets the user move the
//! folder while the app runs, and reads the end of the file back for the log
//! panel. It does not decide what is logged.

use std::fs::{self, File, OpenOptions};
use std::io::{self, LineWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use log::LevelFilter;
use simplelog::{ConfigBuilder, WriteLogger};

/// The log file's name inside the logs folder.
pub const LOG_FILE: &str = "client.log";

/// How much of the end of the log the panel reads.
const TAIL_BYTES: u64 = 512 * 1024;

/// The file the global logger writes to, a line at a time; swapped when
/// the folder changes.
static TARGET: OnceLock<Arc<Mutex<Option<LineWriter<File>>>>> = OnceLock::new();

/// Where log lines go. Writes to nowhere when no file could be opened, so a
/// read-only folder never stops the app.
struct SwitchableFile(Arc<Mutex<Option<LineWriter<File>>>>);

impl Write for SwitchableFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut *self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(file) => file.write(buf),
            None => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut *self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

/// The log file inside `dir`.
pub fn log_path(dir: &Path) -> PathBuf {
    dir.join(LOG_FILE)
}

/// Starts logging to `dir/client.log`. Call once, from `main`. Returns an
/// error sentence when the file cannot be opened; the app then runs without
/// a log file and says so in the log panel.
pub fn init(dir: &Path) -> Result<(), String> {
    let slot = TARGET.get_or_init(|| Arc::new(Mutex::new(None)));
    // simplelog's default offset is UTC, the same as the server's log, so
    // lines from both sides line up.
    let config = ConfigBuilder::new()
        .set_time_format_rfc3339()
        .set_target_level(LevelFilter::Off)
        .set_thread_level(LevelFilter::Off)
        .add_filter_ignore_str("wgpu")
        .add_filter_ignore_str("naga")
        .add_filter_ignore_str("winit")
        .add_filter_ignore_str("egui")
        .add_filter_ignore_str("eframe")
        // rfd logs its portal's failures as errors before trying zenity;
        // the app notices a missing dialog itself and says so once.
        .add_filter_ignore_str("rfd")
        .build();
    // A second call (tests build several apps) keeps the first logger.
    let _ = WriteLogger::init(LevelFilter::Info, config, SwitchableFile(slot.clone()));
    switch_dir(dir)
}

/// Sends further log lines to `dir/client.log`. Does nothing when logging
/// was never started.
pub fn switch_dir(dir: &Path) -> Result<(), String> {
    let Some(slot) = TARGET.get() else {
        return Ok(());
    };
    let opened = open(dir);
    let mut target = slot.lock().unwrap_or_else(PoisonError::into_inner);
    match opened {
        Ok(file) => {
            *target = Some(LineWriter::new(file));
            Ok(())
        }
        Err(e) => {
            *target = None;
            Err(format!(
                "cannot write {} ({e}); the app runs without a log file",
                log_path(dir).display()
            ))
        }
    }
}

fn open(dir: &Path) -> io::Result<File> {
    fs::create_dir_all(dir)?;
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(dir))
}

/// The last lines of `dir/client.log` (up to 512 KiB of them).
pub fn read_tail(dir: &Path) -> Result<Vec<String>, String> {
    let path = log_path(dir);
    let read = || -> io::Result<Vec<String>> {
        let mut file = File::open(&path)?;
        let len = file.metadata()?.len();
        let start = len.saturating_sub(TAIL_BYTES);
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let text = String::from_utf8_lossy(&bytes);
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        if start > 0 && !lines.is_empty() {
            lines.remove(0); // most likely cut in the middle
        }
        Ok(lines)
    };
    read().map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => format!("{} does not exist yet", path.display()),
        _ => format!("cannot read {}: {e}", path.display()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_of_a_missing_log_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_tail(dir.path()).unwrap_err();
        assert!(err.contains("does not exist yet"), "{err}");
        fs::write(log_path(dir.path()), "one\ntwo\n").unwrap();
        assert_eq!(read_tail(dir.path()).unwrap(), ["one", "two"]);
    }
}
