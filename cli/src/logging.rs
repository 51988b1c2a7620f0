//! The client log: `DIR/client.log`, appended to, one line per event with a
//! UTC RFC-3339 timestamp. The client library already logs its events
//! through `log`; this only gives them somewhere to go.

use std::fs::{self, File, OpenOptions};
use std::io::{self, LineWriter};
use std::path::Path;

use log::LevelFilter;
use simplelog::{ConfigBuilder, WriteLogger};

/// The log file's name inside the logs folder.
pub const LOG_FILE: &str = "client.log";

/// Starts logging to `dir/client.log`. A missing log must not stop the
/// command the user asked for, so a failure is one warning on stderr.
pub fn init(dir: &Path) {
    let result = open(dir).and_then(|file| {
        // simplelog's default offset is UTC; local time would make lines
        // from machines in different zones hard to line up.
        let config = ConfigBuilder::new()
            .set_time_format_rfc3339()
            .set_target_level(LevelFilter::Off)
            .set_thread_level(LevelFilter::Off)
            .build();
        // One write per line: the logger writes each part of a line on its
        // own, and lines from two commands at once must not interleave.
        WriteLogger::init(LevelFilter::Info, config, LineWriter::new(file))
            .map_err(io::Error::other)
    });
    if let Err(e) = result {
        eprintln!(
            "ferry-cli: warning: cannot write {} ({e}); continuing without a log file",
            dir.join(LOG_FILE).display()
        );
    }
}

fn open(dir: &Path) -> io::Result<File> {
    fs::create_dir_all(dir)?;
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(LOG_FILE))
}
