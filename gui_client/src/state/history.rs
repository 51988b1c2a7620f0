//! The version history of one file, as the history panel shows it. No
//! drawing (`panels::history`) and no requests (the app's `files` module).

use ferry_proto::protocol::VersionInfo;

/// One file's versions.
#[derive(Debug, Clone, Default)]
pub struct HistoryView {
    /// The file.
    pub name: String,
    /// Its versions, newest first.
    pub versions: Vec<VersionInfo>,
    /// Whether the list is on its way.
    pub loading: bool,
    /// Why loading failed.
    pub error: Option<String>,
}

impl HistoryView {
    /// An empty view waiting for `name`'s versions.
    pub fn loading(name: &str) -> HistoryView {
        HistoryView {
            name: name.to_owned(),
            loading: true,
            ..HistoryView::default()
        }
    }

    /// Takes the server's answer (oldest first) and shows newest first.
    pub fn set(&mut self, result: Result<Vec<VersionInfo>, String>) {
        self.loading = false;
        match result {
            Ok(mut versions) => {
                versions.sort_by_key(|v| std::cmp::Reverse(v.version));
                self.versions = versions;
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
    }
}
