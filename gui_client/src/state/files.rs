//! The file table's data: the folder on screen and its last listing
//! (sub-folders and files), the sort order, the filter and the selection,
//! and the bookkeeping of its refresh. No drawing here; `panels::files`
//! draws it, and the app sends the requests.
//!
//! Every row is known by its full path on the server (`a/b/c.txt`), so the
//! selection, the conflict checks and the transfers need no folder of
//! their own; the table shows each row's last part.

use std::cmp::Ordering;
use std::time::Instant;

use ferry_proto::protocol::{FileEntry, FolderEntry};

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

    /// Orders two files; folders are ordered by name whatever the column.
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

/// One row of the table: a sub-folder of the folder on screen, or a file
/// in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row<'a> {
    /// A folder.
    Folder(&'a FolderEntry),
    /// A file with its current version.
    File(&'a FileEntry),
}

impl<'a> Row<'a> {
    /// Its full path on the server: what the selection and the requests use.
    pub fn path(&self) -> &'a str {
        match self {
            Row::Folder(f) => &f.path,
            Row::File(f) => &f.current.name,
        }
    }

    /// What the table shows: the last part of the path.
    pub fn label(&self) -> &'a str {
        last_part(self.path())
    }
}

/// The last part of a server path: `c.txt` of `a/b/c.txt`.
pub fn last_part(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The folder that holds `path` (`None`: the root).
pub fn parent_of(path: &str) -> Option<&str> {
    path.rsplit_once('/').map(|(parent, _)| parent)
}

/// `name` inside `folder` (`None`: the root).
pub fn join(folder: Option<&str>, name: &str) -> String {
    match folder {
        Some(folder) => format!("{folder}/{name}"),
        None => name.to_owned(),
    }
}

/// The file list as the table shows it.
#[derive(Debug, Clone)]
pub struct FileTable {
    /// The folder on screen (`None`: the root).
    pub folder: Option<String>,
    /// Its sub-folders, from the last listing.
    pub folders: Vec<FolderEntry>,
    /// Its files, from the last listing, in server order.
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
            folder: None,
            folders: Vec::new(),
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

    /// Takes a new listing of the folder on screen (files only: a flat
    /// listing); keeps the selected rows that still exist.
    pub fn set_entries(&mut self, entries: Vec<FileEntry>) {
        self.set_listing(Vec::new(), entries);
    }

    /// Takes a new listing of the folder on screen: its sub-folders and its
    /// files. Keeps the selected rows that still exist.
    pub fn set_listing(&mut self, folders: Vec<FolderEntry>, entries: Vec<FileEntry>) {
        self.folders = folders;
        self.entries = entries;
        self.loaded = true;
        self.loading = false;
        self.error = None;
        self.refreshed_at = Some(Instant::now());
        let paths: std::collections::HashSet<String> =
            self.rows().map(|r| r.path().to_owned()).collect();
        self.selection.retain(|n| paths.contains(n));
    }

    /// Shows the folder `folder` (`None`: the root): the old rows, the
    /// filter and the selection go, and the table waits for the listing.
    /// Returns whether it is another folder than the one on screen.
    pub fn open(&mut self, folder: Option<String>) -> bool {
        if folder == self.folder {
            return false;
        }
        self.folder = folder;
        self.folders.clear();
        self.entries.clear();
        self.loaded = false;
        self.error = None;
        self.filter.clear();
        self.selection = Selection::default();
        true
    }

    /// The folder that holds the one on screen; `None` at the root and in
    /// a top-level folder (see [`FileTable::at_root`]).
    pub fn parent(&self) -> Option<String> {
        self.folder
            .as_deref()
            .and_then(parent_of)
            .map(str::to_owned)
    }

    /// Whether the root is on screen.
    pub fn at_root(&self) -> bool {
        self.folder.is_none()
    }

    /// The path of `name` in the folder on screen.
    pub fn child(&self, name: &str) -> String {
        join(self.folder.as_deref(), name)
    }

    /// The breadcrumb: the root, then each folder down to the one on
    /// screen, each with the path it opens (`None`: the root).
    pub fn breadcrumb(&self) -> Vec<(String, Option<String>)> {
        let mut crumbs = vec![("Home".to_owned(), None)];
        if let Some(folder) = &self.folder {
            let mut end = 0;
            for part in folder.split('/') {
                end += part.len();
                crumbs.push((part.to_owned(), Some(folder[..end].to_owned())));
                end += 1;
            }
        }
        crumbs
    }

    /// Whether `path` is a sub-folder on screen.
    pub fn is_folder(&self, path: &str) -> bool {
        self.folders.iter().any(|f| f.path == path)
    }

    /// Every row of the listing, folders first, unfiltered and unsorted.
    fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        (self.folders.iter().map(Row::Folder)).chain(self.entries.iter().map(Row::File))
    }

    /// The paths on screen, in their order.
    pub fn visible_names(&self) -> Vec<String> {
        self.visible()
            .into_iter()
            .map(|r| r.path().to_owned())
            .collect()
    }

    /// Changes the selection by a click or key, over the rows on screen.
    pub fn select(&mut self, gesture: Gesture<'_>) {
        let names = self.visible_names();
        let rows: Vec<&str> = names.iter().map(String::as_str).collect();
        self.selection = self.selection.apply(&rows, gesture);
    }

    /// The selected rows on screen (files and folders), in their order:
    /// what the toolbar's buttons act on.
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

    /// The rows to show: filtered, then sorted, folders first.
    pub fn visible(&self) -> Vec<Row<'_>> {
        let needle = self.filter.trim().to_lowercase();
        let mut rows: Vec<Row<'_>> = self
            .rows()
            .filter(|row| {
                needle.is_empty()
                    || row.label().to_lowercase().contains(&needle)
                    || matches!(row, Row::File(e) if e.current.uploader.to_lowercase().contains(&needle))
            })
            .collect();
        rows.sort_by(|a, b| {
            let order = match (a, b) {
                (Row::Folder(_), Row::File(_)) => return Ordering::Less,
                (Row::File(_), Row::Folder(_)) => return Ordering::Greater,
                (Row::File(a), Row::File(b)) => self.sort.compare(a, b),
                (Row::Folder(a), Row::Folder(b)) => {
                    a.path.to_lowercase().cmp(&b.path.to_lowercase())
                }
            };
            if self.ascending {
                order
            } else {
                order.reverse()
            }
        });
        rows
    }

    /// The total size of the current versions of the files on screen.
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
        t.visible().iter().map(|r| r.path()).collect()
    }

    fn folder(path: &str) -> FolderEntry {
        FolderEntry {
            path: path.to_owned(),
            created: Timestamp(0),
        }
    }

    #[test]
    fn folders_come_first_and_show_their_last_part() {
        let mut t = FileTable::default();
        assert!(t.open(Some("team/docs".into())));
        assert!(!t.open(Some("team/docs".into())), "already there");
        t.set_listing(
            vec![folder("team/docs/zeta"), folder("team/docs/Alpha")],
            vec![entry("team/docs/a.txt", 5, 1, "ann", 1)],
        );
        assert_eq!(
            names(&t),
            ["team/docs/Alpha", "team/docs/zeta", "team/docs/a.txt"]
        );
        t.sort_by(SortKey::Name);
        assert_eq!(
            names(&t),
            ["team/docs/zeta", "team/docs/Alpha", "team/docs/a.txt"],
            "folders stay first in either direction"
        );
        let labels: Vec<&str> = t.visible().iter().map(|r| r.label()).collect();
        assert_eq!(labels, ["zeta", "Alpha", "a.txt"]);
        t.filter = "ALP".into();
        assert_eq!(names(&t), ["team/docs/Alpha"]);
        t.filter = "team".into();
        assert!(
            names(&t).is_empty(),
            "the filter looks at the shown name only"
        );
        assert!(t.is_folder("team/docs/zeta"));
        assert!(!t.is_folder("team/docs/a.txt"));
        assert_eq!(t.child("b.txt"), "team/docs/b.txt");
        assert_eq!(t.parent().as_deref(), Some("team"));
        assert_eq!(
            t.breadcrumb(),
            [
                ("Home".to_owned(), None),
                ("team".to_owned(), Some("team".to_owned())),
                ("docs".to_owned(), Some("team/docs".to_owned())),
            ]
        );

        t.filter.clear();
        t.select(Gesture::All);
        assert!(t.open(None), "back to the root");
        assert!(t.at_root() && t.filter.is_empty() && t.selection.is_empty() && !t.loaded);
        assert_eq!(t.breadcrumb(), [("Home".to_owned(), None)]);
        assert_eq!(t.child("b.txt"), "b.txt");
        assert_eq!(last_part("a/b/c"), "c");
        assert_eq!(parent_of("a/b/c"), Some("a/b"));
        assert_eq!(parent_of("c"), None);
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
