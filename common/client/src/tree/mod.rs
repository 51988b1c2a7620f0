//! Whole trees: [`Client::upload_tree`] sends a local folder with
//! everything in it (empty folders included) into a folder on the server,
//! [`Client::download_tree`] brings a server folder down into a local one.
//! Both keep the structure and move the small files pipelined (see
//! [`Client::upload_many`] and [`Client::download_many`]), so a tree of ten
//! thousand small files costs a few hundred round trips, not ten thousand.
//!
//! Both can simply be run again after a cut, and continue where they
//! stopped: a file the other side already holds with the same size and MD5
//! is skipped (counted as `unchanged`), and a large file (above
//! [`crate::BATCH_MAX_FILE`]) cut off in the middle continues from where
//! it stopped. On its way down it continues from its `.part`, with the same
//! sidecar and the same code as [`crate::transfer::download`], pinned to
//! the version the listing showed; on its way up (given a state folder,
//! [`TreeUploadOptions::state_dir`]) from the byte the server confirms,
//! with the same state files and the same code as
//! [`crate::transfer::upload`], as long as the local file is unchanged.
//! Both report [`TreeProgress`] after each file and every 256 KiB within a
//! large one, and stop when told to. Reconnecting and running the tree
//! again is the caller's (the CLI does it with
//! [`crate::transfer::with_retries`]).
//!
//! The plans are pure where they can be: [`plan_upload`] only reads the
//! local folder, [`plan_download`] only maps a listing to local paths. A
//! path from the server is checked part by part and each part saved under
//! the name the local system accepts (`ferry_proto::names::local_file_name_for`),
//! so a hostile listing cannot write outside the chosen folder.

mod download;
mod upload;

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use ferry_proto::hash::{Hasher, Md5Digest};
use ferry_proto::names::{FileName, FilePath, LocalOs, local_file_name_for};
use ferry_proto::protocol::ConflictPolicy;

#[cfg(doc)]
use super::Client;
use super::{ClientError, Downloaded, Stored};
use crate::folders::{Entry, file_path};

/// How many bytes of one file may move between two progress reports:
/// often enough for a smooth bar and a prompt pause or cancel even on a
/// slow link (the callers throttle what they draw).
const PROGRESS_EVERY: u64 = 256 << 10;

/// How a whole-tree transfer is going: sent after each file and every
/// 256 KiB within a large one. It is sent once before
/// anything moves, with the totals; and while a large local file is
/// compared with the server's, the same figures are sent again as often,
/// so a cancel is heard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TreeProgress {
    /// Files finished: stored/saved, found unchanged, or failed.
    pub files_done: usize,
    /// Files in the plan.
    pub files_total: usize,
    /// Bytes moved or found already in place (unchanged files and resumed
    /// prefixes count as done). A file that fails adds only what moved of
    /// it, so a transfer with failures ends short of `bytes_total`.
    pub bytes_done: u64,
    /// Bytes of all files in the plan.
    pub bytes_total: u64,
}

/// A tree transfer's progress callback: `Break` cancels.
pub type TreeProgressFn<'a> = &'a mut dyn FnMut(TreeProgress) -> ControlFlow<()>;

/// A tree transfer's per-file callback: a file's server path and outcome
/// (`T` is [`Stored`] going up, [`Downloaded`] coming down).
pub type TreeEachFn<'a, T> = &'a mut dyn FnMut(&str, &Result<T, ClientError>);

/// Choices for [`Client::upload_tree`]. Default: policy `Fail`, no state
/// folder, no callbacks.
pub struct TreeUploadOptions<'a> {
    /// What the server does with a file whose path is taken by other
    /// content (a file with the same content is skipped whatever this is).
    pub policy: ConflictPolicy,
    /// Where large files keep the state that lets a later run continue
    /// them after a cut (the folder of [`crate::transfer::upload`]'s
    /// `state_dir`, usually [`crate::transfer::default_state_dir`]);
    /// `None`: a large file cut off is sent again from its start.
    pub state_dir: Option<PathBuf>,
    /// Hears each file's outcome by its server path (not the files skipped
    /// as unchanged: those are only counted).
    pub each: Option<TreeEachFn<'a, Stored>>,
    /// Hears progress; Break cancels: the call returns
    /// Err(ClientError::Cancelled) after the file in flight, or within a
    /// large one (which then continues on the next run, given `state_dir`).
    pub progress: Option<TreeProgressFn<'a>>,
}

impl Default for TreeUploadOptions<'_> {
    fn default() -> Self {
        TreeUploadOptions {
            policy: ConflictPolicy::Fail,
            state_dir: None,
            each: None,
            progress: None,
        }
    }
}

/// Choices for [`Client::download_tree`]. Default: keep local files that
/// differ, no callbacks.
#[derive(Default)]
pub struct TreeDownloadOptions<'a> {
    /// Replace local files that differ from the server's.
    pub overwrite: bool,
    /// Hears each file's outcome by its server path: saved, or failed (a
    /// differing local file kept included); not the files found unchanged,
    /// which are only counted.
    pub each: Option<TreeEachFn<'a, Downloaded>>,
    /// Hears progress; Break cancels: the call returns
    /// Err(ClientError::Cancelled) after the file in flight, or within a
    /// large file, whose `.part` is kept for the next run.
    pub progress: Option<TreeProgressFn<'a>>,
}

/// What [`Client::upload_tree`] did.
#[derive(Debug, Default)]
pub struct TreeUploaded {
    /// Empty folders created on the server (not those that were there).
    pub folders: usize,
    /// Files stored.
    pub stored: usize,
    /// Files skipped because the server's current version has the same
    /// size and MD5.
    pub unchanged: usize,
    /// Bytes of cut-off large files that the server held already and that
    /// were not sent again.
    pub resumed: u64,
    /// Files and folders that were not stored, by local path, and why.
    pub failed: Vec<(PathBuf, ClientError)>,
}

/// What [`Client::download_tree`] did.
#[derive(Debug, Default)]
pub struct TreeDownloaded {
    /// Local folders created (or found).
    pub folders: usize,
    /// Files saved.
    pub saved: usize,
    /// Files skipped because the local file has the same size and MD5 as
    /// the server's current version.
    pub unchanged: usize,
    /// Bytes of cut-off large files that were on disk already and were
    /// continued rather than fetched again.
    pub resumed: u64,
    /// Why a partial large file was thrown away and fetched from its start
    /// (the server's file changed since, or it came from another server),
    /// one sentence per file.
    pub restarted: Vec<String>,
    /// What was not saved, by server path, and why.
    pub failed: Vec<(String, ClientError)>,
}

/// A tree transfer's running totals, and the callback that hears them.
struct Tally<'a> {
    now: TreeProgress,
    /// `bytes_done` when the file in flight started.
    file_base: u64,
    /// `bytes_done` at the last report.
    reported: u64,
    progress: Option<TreeProgressFn<'a>>,
}

impl<'a> Tally<'a> {
    fn new(sizes: impl Iterator<Item = u64>, progress: Option<TreeProgressFn<'a>>) -> Self {
        let (files_total, bytes_total) = sizes.fold((0, 0u64), |(n, b), size| (n + 1, b + size));
        Tally {
            now: TreeProgress {
                files_total,
                bytes_total,
                ..TreeProgress::default()
            },
            file_base: 0,
            reported: 0,
            progress,
        }
    }

    /// Reports the totals as they are.
    fn send(&mut self) -> ControlFlow<()> {
        self.reported = self.now.bytes_done;
        match self.progress.as_mut() {
            Some(progress) => progress(self.now),
            None => ControlFlow::Continue(()),
        }
    }

    /// [`Tally::send`], a `Break` as [`ClientError::Cancelled`].
    fn check(&mut self) -> Result<(), ClientError> {
        stop_on(self.send())
    }

    /// The file in flight has `bytes` of it in place; reported every
    /// [`PROGRESS_EVERY`].
    fn moving(&mut self, bytes: u64) -> ControlFlow<()> {
        self.now.bytes_done = self.now.bytes_done.max(self.file_base + bytes);
        if self.now.bytes_done >= self.reported + PROGRESS_EVERY {
            self.send()
        } else {
            ControlFlow::Continue(())
        }
    }

    /// The file in flight finished with `bytes` of it in place (its size,
    /// or 0 for a failure: what moved of it stays counted), and is
    /// reported.
    fn finish_file(&mut self, bytes: u64) -> ControlFlow<()> {
        self.now.bytes_done = self.now.bytes_done.max(self.file_base + bytes);
        self.now.files_done += 1;
        self.file_base = self.now.bytes_done;
        self.send()
    }
}

/// A `Break` from a progress callback as [`ClientError::Cancelled`].
fn stop_on(flow: ControlFlow<()>) -> Result<(), ClientError> {
    match flow {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(()) => Err(ClientError::Cancelled),
    }
}

/// Whether the local file at `path` holds `size` bytes with the MD5 `md5`.
/// It is read and hashed only when its size matches; while a large one is
/// read, the unchanged totals are sent again every [`PROGRESS_EVERY`] bytes,
/// so the caller can cancel. A file that cannot be read does not match.
fn same_content(
    path: &Path,
    size: u64,
    md5: Md5Digest,
    tally: &mut Tally<'_>,
) -> Result<bool, ClientError> {
    match fs::metadata(path) {
        Ok(meta) if meta.is_file() && meta.len() == size => {}
        _ => return Ok(false),
    }
    let Ok(mut file) = File::open(path) else {
        return Ok(false);
    };
    let mut hasher = Hasher::new();
    let mut buf = vec![0u8; size.clamp(1, 256 << 10) as usize];
    let (mut read, mut since) = (0u64, 0u64);
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Ok(false),
        };
        hasher.update(&buf[..n]);
        read += n as u64;
        since += n as u64;
        if since >= PROGRESS_EVERY {
            since = 0;
            tally.check()?;
        }
    }
    Ok(read == size && hasher.finish() == md5)
}

/// What [`plan_upload`] found in a local folder.
#[derive(Debug, Default)]
pub struct UploadPlan {
    /// Folders to create on the server because nothing uploaded creates
    /// them (empty local folders), outermost first.
    pub folders: Vec<FilePath>,
    /// Each local file with the path it gets on the server.
    pub files: Vec<(PathBuf, String)>,
    /// Local entries that cannot be sent, and why (a name the server's
    /// rules refuse, a path too long or deep, a symbolic link to a folder).
    pub skipped: Vec<(PathBuf, ClientError)>,
}

/// Plans the upload of the local folder `local` into the server folder
/// `remote` (`None`: the root): every file under it, in name order, with
/// the path it gets there. The local folder's own name is not part of the
/// paths; pass it in `remote` to keep it.
pub fn plan_upload(local: &Path, remote: Option<&FilePath>) -> Result<UploadPlan, ClientError> {
    let mut plan = UploadPlan::default();
    let planned = walk(local, remote, &mut plan)?;
    if !planned && let Some(remote) = remote {
        plan.folders.push(remote.clone());
    }
    Ok(plan)
}

/// Adds what is in `dir` to the plan; whether anything was added (so the
/// folder needs no explicit creation).
fn walk(dir: &Path, remote: Option<&FilePath>, plan: &mut UploadPlan) -> Result<bool, ClientError> {
    let read = |cause| ClientError::local("read the folder", dir, cause);
    let mut entries: Vec<fs::DirEntry> = fs::read_dir(dir)
        .map_err(read)?
        .collect::<io::Result<_>>()
        .map_err(read)?;
    entries.sort_by_key(|e| e.file_name());
    let mut planned = false;
    for entry in entries {
        let local = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            let cause = io::Error::new(
                io::ErrorKind::InvalidData,
                "its name is not valid Unicode, so it cannot be named on the server; rename it",
            );
            plan.skipped
                .push((local.clone(), ClientError::local("upload", &local, cause)));
            continue;
        };
        let path = FileName::new(name.clone())
            .map_err(|reason| ClientError::BadName { name, reason })
            .and_then(|name| {
                FilePath::child(remote, &name).map_err(|reason| ClientError::BadPath {
                    path: match remote {
                        Some(r) => format!("{r}/{name}"),
                        None => name.to_string(),
                    },
                    reason,
                })
            });
        let path = match path {
            Ok(path) => path,
            Err(e) => {
                plan.skipped.push((local, e));
                continue;
            }
        };
        let kind = entry
            .file_type()
            .map_err(|cause| ClientError::local("read", &local, cause))?;
        if kind.is_dir() {
            if !walk(&local, Some(&path), plan)? {
                plan.folders.push(path);
            }
            planned = true;
        } else if kind.is_symlink() && local.is_dir() {
            let cause = io::Error::new(
                io::ErrorKind::Unsupported,
                "it is a link to a folder, which is not followed; upload that folder itself",
            );
            plan.skipped
                .push((local.clone(), ClientError::local("upload", &local, cause)));
        } else {
            plan.files.push((local, path.into_string()));
            planned = true;
        }
    }
    Ok(planned)
}

/// Where [`plan_download`] saves a server folder's contents.
#[derive(Debug, Default)]
pub struct DownloadPlan {
    /// Local folders to create (every folder of the listing).
    pub folders: Vec<PathBuf>,
    /// Each file's server path with the local file it is saved to.
    pub files: Vec<(String, PathBuf)>,
    /// Server entries that cannot be saved here, and why (a path that is
    /// not inside the folder asked for, or two that land on one local name).
    pub skipped: Vec<(String, ClientError)>,
}

/// Maps a recursive listing of the server folder `remote` (`None`: the
/// root) to paths under the local folder `local` on `os`: the part of each
/// path below `remote`, part by part, each under the name `os` can save.
pub fn plan_download(
    entries: &[Entry],
    remote: Option<&FilePath>,
    local: &Path,
    os: LocalOs,
) -> DownloadPlan {
    let mut plan = DownloadPlan::default();
    let mut taken: HashSet<String> = HashSet::new();
    for entry in entries {
        let shown = entry.path().to_owned();
        let local_path = match local_path_of(&shown, remote, local, os) {
            Ok(path) => path,
            Err(e) => {
                plan.skipped.push((shown, e));
                continue;
            }
        };
        let key = match os {
            LocalOs::Windows | LocalOs::MacOs => local_path.to_string_lossy().to_lowercase(),
            LocalOs::Other => local_path.to_string_lossy().into_owned(),
        };
        if !taken.insert(key) {
            let cause = io::Error::new(
                io::ErrorKind::AlreadyExists,
                "another file or folder of the download is saved under that name on this system; download this one separately with another name",
            );
            plan.skipped
                .push((shown, ClientError::local("save", &local_path, cause)));
            continue;
        }
        match entry {
            Entry::Folder(_) => plan.folders.push(local_path),
            Entry::File(_) => plan.files.push((shown, local_path)),
        }
    }
    plan
}

/// The local path of the server path `path` inside `remote`, under `local`.
fn local_path_of(
    path: &str,
    remote: Option<&FilePath>,
    local: &Path,
    os: LocalOs,
) -> Result<PathBuf, ClientError> {
    // The listing comes from the server: check it as if typed by a user.
    let path = file_path(path)?;
    let inside = match remote {
        Some(remote) if path.is_inside(remote) => &path[remote.len() + 1..],
        Some(_) => {
            return Err(ClientError::Protocol(format!(
                "the server listed {path:?}, which is not in the folder asked for"
            )));
        }
        None => path.as_str(),
    };
    let mut out = local.to_path_buf();
    for part in inside.split('/') {
        out.push(local_file_name_for(part, os).as_ref());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_proto::protocol::{FileEntry, FolderEntry, VersionInfo};
    use ferry_proto::time::Timestamp;

    fn folder(path: &str) -> Entry {
        Entry::Folder(FolderEntry {
            path: path.into(),
            created: Timestamp(0),
        })
    }

    fn file(path: &str) -> Entry {
        Entry::File(FileEntry {
            current: VersionInfo {
                name: path.into(),
                version: 1,
                size: 0,
                md5: ferry_proto::hash::md5_bytes(b""),
                modified: Timestamp(0),
                uploader: "u".into(),
            },
            versions: 1,
        })
    }

    #[test]
    fn a_tally_counts_files_and_bytes_forward_and_reports_every_few_hundred_kib() {
        const P: u64 = PROGRESS_EVERY;
        let large = 9 * P / 2;
        let mut seen = Vec::new();
        let mut hear = |p: TreeProgress| {
            seen.push(p);
            ControlFlow::Continue(())
        };
        let mut tally = Tally::new([10, large, 0].into_iter(), Some(&mut hear));
        assert_eq!(
            (tally.now.files_total, tally.now.bytes_total),
            (3, 10 + large)
        );
        assert!(tally.send().is_continue());
        assert!(tally.finish_file(10).is_continue());
        // Inside the large file: only every PROGRESS_EVERY bytes.
        for half in 1..=9u64 {
            assert!(tally.moving(half * P / 2).is_continue());
        }
        // It fails at the end: what moved stays counted.
        assert!(tally.finish_file(0).is_continue());
        assert!(tally.finish_file(0).is_continue());
        let done: Vec<(usize, u64)> = seen.iter().map(|p| (p.files_done, p.bytes_done)).collect();
        assert_eq!(
            done,
            [
                (0, 0),
                (1, 10),
                (1, 10 + P),
                (1, 10 + 2 * P),
                (1, 10 + 3 * P),
                (1, 10 + 4 * P),
                (2, 10 + large),
                (3, 10 + large),
            ]
        );

        let mut stop = |_: TreeProgress| ControlFlow::Break(());
        let mut tally = Tally::new([1].into_iter(), Some(&mut stop));
        assert!(matches!(tally.check(), Err(ClientError::Cancelled)));
        let mut quiet = Tally::new([1].into_iter(), None);
        assert!(quiet.check().is_ok());
    }

    #[test]
    fn only_a_file_of_the_same_size_and_md5_is_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        let data: Vec<u8> = (0..(9u32 << 20)).map(|i| (i % 251) as u8).collect();
        fs::write(&path, &data).unwrap();
        let md5 = ferry_proto::hash::md5_bytes(&data);
        let mut heard = 0;
        let mut count = |_: TreeProgress| {
            heard += 1;
            ControlFlow::Continue(())
        };
        let mut tally = Tally::new([data.len() as u64].into_iter(), Some(&mut count));
        let size = data.len() as u64;
        assert!(same_content(&path, size, md5, &mut tally).unwrap());
        let other = ferry_proto::hash::md5_bytes(b"other");
        assert!(!same_content(&path, size, other, &mut tally).unwrap());
        assert!(!same_content(&path, size + 1, md5, &mut tally).unwrap());
        assert!(!same_content(&dir.path().join("none"), 0, md5, &mut tally).unwrap());
        assert!(!same_content(dir.path(), 0, md5, &mut tally).unwrap());
        let each_read = (9 << 20) / PROGRESS_EVERY as usize;
        assert_eq!(heard, 2 * each_read, "two reads of 9 MiB, heard as they go");

        let mut stop = |_: TreeProgress| ControlFlow::Break(());
        let mut tally = Tally::new([size].into_iter(), Some(&mut stop));
        let cancelled = same_content(&path, size, md5, &mut tally);
        assert!(matches!(cancelled, Err(ClientError::Cancelled)));
    }

    #[test]
    fn an_upload_plan_keeps_the_structure_and_empty_folders() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::create_dir_all(root.join("a/empty/deeper")).unwrap();
        fs::create_dir_all(root.join("lonely")).unwrap();
        fs::write(root.join("a/b/c.txt"), "c").unwrap();
        fs::write(root.join("top.txt"), "t").unwrap();
        fs::write(root.join(" bad"), "x").unwrap();
        let remote = FilePath::new("up".into()).unwrap();
        let plan = plan_upload(root, Some(&remote)).unwrap();
        let files: Vec<&str> = plan.files.iter().map(|(_, p)| p.as_str()).collect();
        assert_eq!(files, ["up/a/b/c.txt", "up/top.txt"]);
        let folders: Vec<&str> = plan.folders.iter().map(|f| f.as_str()).collect();
        assert_eq!(folders, ["up/a/empty/deeper", "up/lonely"]);
        assert_eq!(plan.skipped.len(), 1);
        assert!(matches!(plan.skipped[0].1, ClientError::BadName { .. }));

        let empty = tempfile::tempdir().unwrap();
        let plan = plan_upload(empty.path(), Some(&remote)).unwrap();
        assert_eq!(plan.folders, [remote]);
        assert!(plan_upload(empty.path(), None).unwrap().folders.is_empty());
    }

    #[test]
    fn a_download_plan_stays_inside_the_folder_and_maps_names() {
        let local = Path::new("/tmp/dl");
        let remote = FilePath::new("r".into()).unwrap();
        let entries = [
            folder("r/sub"),
            file("r/sub/CON.txt"),
            file("r/a?b"),
            file("r/a_b"),
            file("other/x"),
            file("r/../etc"),
        ];
        let plan = plan_download(&entries, Some(&remote), local, LocalOs::Windows);
        assert_eq!(plan.folders, [local.join("sub")]);
        assert_eq!(
            plan.files,
            [
                (
                    "r/sub/CON.txt".to_owned(),
                    local.join("sub").join("_CON.txt")
                ),
                ("r/a?b".to_owned(), local.join("a_b")),
            ]
        );
        let skipped: Vec<&str> = plan.skipped.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(skipped, ["r/a_b", "other/x", "r/../etc"]);

        let plan = plan_download(&entries[..4], Some(&remote), local, LocalOs::Other);
        assert_eq!(plan.files.len(), 3);
        assert!(plan.skipped.is_empty());
        let root = plan_download(&[file("x/y")], None, local, LocalOs::Other);
        assert_eq!(root.files, [("x/y".to_owned(), local.join("x").join("y"))]);
    }
}
