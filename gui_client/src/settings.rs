//! What the app remembers between runs, through eframe's storage: recent
//! servers with the user name used there and whether they speak plaintext,
//! the folders last used, the logs folder, the file table's sort order, and
//! the transfers that had not finished (per server and user, see
//! `state::queue`). Never a password.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::state::queue::SavedQueue;

/// The key under which [`Settings`] are stored.
pub const STORAGE_KEY: &str = "ferry.settings";

/// How many recent servers are kept.
pub const MAX_RECENT: usize = 8;

/// A server the user logged in to and chose to remember.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecentServer {
    /// `host:port`.
    pub addr: String,
    /// The user name last used there.
    pub user: String,
    /// Whether it was reached in plaintext (a server run with
    /// `--plaintext`); TLS otherwise.
    pub plaintext: bool,
}

/// A column the file table can be sorted by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortKey {
    /// File name, case-insensitive.
    #[default]
    Name,
    /// Size in bytes.
    Size,
    /// Time of the current version.
    Modified,
    /// Who uploaded the current version.
    Uploader,
    /// How many versions exist.
    Versions,
}

/// The file table's sort order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileSort {
    /// The column.
    pub column: SortKey,
    /// Whether ascending.
    pub ascending: bool,
}

impl Default for FileSort {
    fn default() -> Self {
        FileSort {
            column: SortKey::Name,
            ascending: true,
        }
    }
}

/// The persisted part of the app's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Most recent first.
    pub recent: Vec<RecentServer>,
    /// Whether "remember this server" was ticked last time.
    pub remember: bool,
    /// Where the last download was saved.
    pub download_dir: Option<PathBuf>,
    /// Where the last upload came from.
    pub upload_dir: Option<PathBuf>,
    /// The folder holding client.log; `None` means `./logs`.
    pub logs_dir: Option<PathBuf>,
    /// How many transfers run at once.
    pub parallel_transfers: usize,
    /// The transfers that had not finished at the last log-out or quit,
    /// per server and user.
    pub saved_transfers: Vec<SavedQueue>,
    /// How the file table was last sorted.
    pub file_sort: FileSort,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            recent: Vec::new(),
            remember: true,
            download_dir: None,
            upload_dir: None,
            logs_dir: None,
            parallel_transfers: 3,
            saved_transfers: Vec::new(),
            file_sort: FileSort::default(),
        }
    }
}

impl Settings {
    /// Loads the settings, or the defaults when none were stored or they
    /// cannot be read.
    pub fn load(storage: Option<&dyn eframe::Storage>) -> Settings {
        storage
            .and_then(|s| eframe::get_value::<Settings>(s, STORAGE_KEY))
            .unwrap_or_default()
    }

    /// Writes the settings.
    pub fn save(&self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STORAGE_KEY, self);
    }

    /// Puts `addr` with `user` (and whether it was in plaintext) first in
    /// the recent list.
    pub fn remember_server(&mut self, addr: &str, user: &str, plaintext: bool) {
        self.recent.retain(|r| r.addr != addr);
        self.recent.insert(
            0,
            RecentServer {
                addr: addr.to_owned(),
                user: user.to_owned(),
                plaintext,
            },
        );
        self.recent.truncate(MAX_RECENT);
    }

    /// Drops `addr` from the recent list.
    pub fn forget_server(&mut self, addr: &str) {
        self.recent.retain(|r| r.addr != addr);
    }

    /// The folder for client.log.
    pub fn logs_dir(&self) -> PathBuf {
        self.logs_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("logs"))
    }

    /// Transfers at once, kept to a sane range.
    pub fn parallel(&self) -> usize {
        self.parallel_transfers.clamp(1, 8)
    }
}

/// An in-memory [`eframe::Storage`], for tests and for running without a
/// storage folder.
#[derive(Clone, Debug, Default)]
pub struct MemoryStorage(pub std::collections::HashMap<String, String>);

impl eframe::Storage for MemoryStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }

    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }

    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }

    fn flush(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_servers_move_to_the_front_without_duplicates() {
        let mut s = Settings::default();
        s.remember_server("a:1", "ann", false);
        s.remember_server("b:2", "bob", false);
        s.remember_server("a:1", "amy", true);
        assert_eq!(s.recent.len(), 2);
        assert_eq!(s.recent[0].addr, "a:1");
        assert_eq!(s.recent[0].user, "amy");
        assert!(s.recent[0].plaintext);
        for i in 0..20 {
            s.remember_server(&format!("h{i}:1"), "u", false);
        }
        assert_eq!(s.recent.len(), MAX_RECENT);
        s.forget_server("h19:1");
        assert_eq!(s.recent[0].addr, "h18:1");
    }

    #[test]
    fn old_or_partial_settings_still_load() {
        let mut mem = MemoryStorage::default();
        eframe::Storage::set_string(&mut mem, STORAGE_KEY, "(remember: false)".to_owned());
        let s = Settings::load(Some(&mem));
        assert!(!s.remember);
        assert_eq!(s.parallel(), 3);
        assert!(s.recent.is_empty());
        // Recent servers from before TLS were plaintext then, but the
        // servers speak TLS now: they load as TLS.
        let old = r#"(recent: [(addr: "a:1", user: "ann")])"#;
        eframe::Storage::set_string(&mut mem, STORAGE_KEY, old.to_owned());
        let s = Settings::load(Some(&mem));
        assert_eq!(s.recent[0].addr, "a:1");
        assert!(!s.recent[0].plaintext);
    }

    #[test]
    fn settings_round_trip() {
        let mut s = Settings::default();
        s.remember_server("files.lan:7878", "ann", true);
        s.file_sort = FileSort {
            column: SortKey::Modified,
            ascending: false,
        };
        let mut mem = MemoryStorage::default();
        s.save(&mut mem);
        assert_eq!(Settings::load(Some(&mem)), s);
    }
}
