//! The file table's data: the last listing, the sort order, the filter and
//! the selection, and the bookkeeping of its refresh. No drawing here;
//! `panels::files` draws it, and the app sends the requests.

use std::cmp::Ordering;
use std::time::Instant;

use ferry_proto::protocol::FileEntry;

pub use crate::settings::{FileSort, SortKey};
use crate::state::selection::{Gesture, Selection};

/// The file list's refresh: one listing on its way at a time, one more
/// owed when asked meanwhile, and when the last was asked for (the app
/// lists again by itself after a while).
#[derive(Debug, Default)]
pub struct Refresh {
    /// A listing is on its way.
    pub in_flight: bool,
    /// Asked again while one was on its way: list once more when it arrives.
    pub again: bool,
    /// When the last listing was asked for.
    pub last: Option<Instant>,
}

impl SortKey {
    /// Every column, left to right.
    pub const ALL: [SortKey; 5] = [
        SortKey::Name,
        SortKey::Size,
        SortKey::Modified,
        SortKey::Uploader,
        SortKey::Versions,
    ];

    /// The column header.
    pub fn title(self) -> &'static str {
        match self {
            SortKey::Name => "Name",
            SortKey::Size => "Size",
            SortKey::Modified => "Modified",
            SortKey::Uploader => "Uploader",
            SortKey::Versions => "Versions",
        }
    }

    fn compare(self, a: &FileEntry, b: &FileEntry) -> Ordering {
        let (a, b, name) = (
            &a.current,
            &b.current,
            a.current
                .name
                .to_lowercase()
                .cmp(&b.current.name.to_lowercase()),
        );
        match self {
            SortKey::Name => name,
            SortKey::Size => a.size.cmp(&b.size),
            SortKey::Modified => a.modified.cmp(&b.modified),
            SortKey::Uploader => a.uploader.to_lowercase().cmp(&b.uploader.to_lowercase()),
            SortKey::Versions => a.version.cmp(&b.version),
        }
        .then(name)
    }
}

/// The file list as the table shows it.
#[derive(Debug, Clone)]
pub struct FileTable {
    /// The last listing, in server order.
    pub entries: Vec<FileEntry>,
    /// Whether a listing has arrived since login.
    pub loaded: bool,
    /// Whether a listing is on its way.
    pub loading: bool,
    /// Why the last listing failed.
    pub error: Option<String>,
    /// Only names containing this (case-insensitive) are shown.
    pub filter: String,
    /// The sort column.
    pub sort: SortKey,
    /// Sort direction.
    pub ascending: bool,
    /// The selected rows.
    pub selection: Selection,
    /// When the last listing arrived.
    pub refreshed_at: Option<Instant>,
}

impl Default for FileTable {
    fn default() -> Self {
        FileTable {
            entries: Vec::new(),
            loaded: false,
            loading: false,
            error: None,
            filter: String::new(),
            sort: SortKey::Name,
            ascending: true,
            selection: Selection::default(),
            refreshed_at: None,
        }
    }
}

impl FileTable {
    /// An empty table sorted as `sort` says (the remembered order).
    pub fn sorted(sort: FileSort) -> FileTable {
        FileTable {
            sort: sort.column,
            ascending: sort.ascending,
            ..FileTable::default()
        }
    }

    /// The sort order, to remember.
    pub fn sort_order(&self) -> FileSort {
        FileSort {
            column: self.sort,
            ascending: self.ascending,
        }
    }

    /// Takes a new listing; keeps the selected files that still exist.
    pub fn set_entries(&mut self, entries: Vec<FileEntry>) {
        self.entries = entries;
        self.loaded = true;
        self.loading = false;
        self.error = None;
        self.refreshed_at = Some(Instant::now());
        let names: std::collections::HashSet<String> = self.names().map(str::to_owned).collect();
        self.selection.retain(|n| names.contains(n));
    }

    /// The names on screen, in their order.
    pub fn visible_names(&self) -> Vec<String> {
        self.visible()
            .into_iter()
            .map(|e| e.current.name.clone())
            .collect()
    }

    /// Changes the selection by a click or key, over the rows on screen.
    pub fn select(&mut self, gesture: Gesture<'_>) {
        let names = self.visible_names();
        let rows: Vec<&str> = names.iter().map(String::as_str).collect();
        self.selection = self.selection.apply(&rows, gesture);
    }

    /// The selected files on screen, in their order: what the toolbar's
    /// buttons act on.
    pub fn selected(&self) -> Vec<String> {
        let names = self.visible_names();
        let rows: Vec<&str> = names.iter().map(String::as_str).collect();
        self.selection.among(&rows)
    }

    /// Records a failed listing; the old rows stay on screen.
    pub fn set_error(&mut self, message: String) {
        self.loading = false;
        self.error = Some(message);
    }

    /// Whether a file of that name is in the listing.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.iter().any(|e| e.current.name == name)
    }

    /// The entry of that name.
    pub fn get(&self, name: &str) -> Option<&FileEntry> {
        self.entries.iter().find(|e| e.current.name == name)
    }

    /// Every name in the listing.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.current.name.as_str())
    }

    /// Clicking a header: the same column flips direction, another column
    /// sorts ascending (newest first for times, largest first for sizes).
    pub fn sort_by(&mut self, key: SortKey) {
        if self.sort == key {
            self.ascending = !self.ascending;
        } else {
            self.sort = key;
            self.ascending = matches!(key, SortKey::Name | SortKey::Uploader);
        }
    }

    /// The rows to show: filtered, then sorted.
    pub fn visible(&self) -> Vec<&FileEntry> {
        let needle = self.filter.trim().to_lowercase();
        let mut rows: Vec<&FileEntry> = self
            .entries
            .iter()
            .filter(|e| {
                needle.is_empty()
                    || e.current.name.to_lowercase().contains(&needle)
                    || e.current.uploader.to_lowercase().contains(&needle)
            })
            .collect();
        rows.sort_by(|a, b| {
            let order = self.sort.compare(a, b);
            if self.ascending {
                order
            } else {
                order.reverse()
            }
        });
        rows
    }

    /// The total size of all current versions.
    pub fn total_size(&self) -> u64 {
        self.entries.iter().map(|e| e.current.size).sum()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ferry_proto::hash::md5_bytes;
    use ferry_proto::protocol::VersionInfo;
    use ferry_proto::time::Timestamp;

    pub(crate) fn entry(
        name: &str,
        size: u64,
        modified: i64,
        uploader: &str,
        versions: u32,
    ) -> FileEntry {
        FileEntry {
            current: VersionInfo {
                name: name.to_owned(),
                version: versions,
                size,
                md5: md5_bytes(name.as_bytes()),
                modified: Timestamp(modified),
                uploader: uploader.to_owned(),
            },
            versions,
        }
    }

    fn names(t: &FileTable) -> Vec<&str> {
        t.visible()
            .iter()
            .map(|e| e.current.name.as_str())
            .collect()
    }

    #[test]
    fn sorts_filters_and_keeps_selection() {
        let mut t = FileTable::default();
        t.set_entries(vec![
            entry("b.txt", 30, 100, "zoe", 1),
            entry("A.pdf", 10, 300, "ann", 3),
            entry("c.bin", 20, 200, "bob", 2),
        ]);
        assert_eq!(names(&t), ["A.pdf", "b.txt", "c.bin"]);
        t.sort_by(SortKey::Name);
        assert_eq!(names(&t), ["c.bin", "b.txt", "A.pdf"]);
        t.sort_by(SortKey::Size);
        assert_eq!(names(&t), ["b.txt", "c.bin", "A.pdf"], "largest first");
        t.sort_by(SortKey::Size);
        assert_eq!(names(&t), ["A.pdf", "c.bin", "b.txt"]);
        t.sort_by(SortKey::Modified);
        assert_eq!(names(&t), ["A.pdf", "c.bin", "b.txt"], "newest first");
        t.sort_by(SortKey::Uploader);
        assert_eq!(names(&t), ["A.pdf", "c.bin", "b.txt"]);
        t.sort_by(SortKey::Versions);
        assert_eq!(names(&t), ["A.pdf", "c.bin", "b.txt"]);
        t.filter = " .B".into();
        assert_eq!(names(&t), ["c.bin"]);
        t.filter = "ZOE".into();
        assert_eq!(names(&t), ["b.txt"], "the filter also matches uploaders");

        t.filter.clear();
        t.select(Gesture::All);
        t.set_entries(vec![entry("c.bin", 1, 1, "x", 1)]);
        assert_eq!(t.selected(), ["c.bin"]);
        t.set_entries(vec![]);
        assert!(t.selection.is_empty());

        let remembered = FileSort {
            column: SortKey::Size,
            ascending: false,
        };
        assert_eq!(FileTable::sorted(remembered).sort_order(), remembered);
    }
}
