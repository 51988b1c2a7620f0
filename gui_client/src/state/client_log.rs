//! The client log panel's data: the end of `client.log`, read on demand.
//! Writing the log is `logging`'s job, drawing it `panels::client_log`'s.

use std::path::PathBuf;

use crate::logging;
use crate::state::admin::filtered;

/// The client log as last read.
#[derive(Debug, Clone, Default)]
pub struct ClientLogView {
    /// The folder holding client.log.
    pub dir: PathBuf,
    /// The folder as typed in the settings field.
    pub dir_text: String,
    /// The lines, oldest first.
    pub lines: Vec<String>,
    /// Only lines containing this are shown.
    pub filter: String,
    /// Why reading (or opening for writing) failed.
    pub error: Option<String>,
    /// Whether the file was read since the panel opened.
    pub loaded: bool,
}

impl ClientLogView {
    /// A view of `dir/client.log`.
    pub fn new(dir: PathBuf) -> ClientLogView {
        ClientLogView {
            dir_text: dir.display().to_string(),
            dir,
            ..ClientLogView::default()
        }
    }

    /// Reads the end of the file again. Local and small, so it runs on the
    /// UI thread.
    pub fn reload(&mut self) {
        self.loaded = true;
        match logging::read_tail(&self.dir) {
            Ok(lines) => {
                self.lines = lines;
                self.error = None;
            }
            Err(e) => {
                self.lines.clear();
                self.error = Some(e);
            }
        }
    }

    /// The lines that pass the filter.
    pub fn visible(&self) -> Vec<&str> {
        filtered(&self.lines, &self.filter)
    }
}
