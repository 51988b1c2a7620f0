//! Whole trees: [`Client::upload_tree`] sends a local folder with
//! everything in it (empty folders included) into a folder on the server,
//! [`Client::download_tree`] brings a server folder down into a local one.
//! Both keep the structure and move the files with the pipelined
//! [`Client::upload_many`] and [`Client::download_many`], so a tree of ten
//! thousand small files costs a few hundred round trips, not ten thousand.
//!
//! The plans are pure where they can be: [`plan_upload`] only reads the
//! local folder, [`plan_download`] only maps a listing to local paths. A
//! path from the server is checked part by part and each part saved under
//! the name the local system accepts (`ferry_proto::names::local_file_name`),
//! so a hostile listing cannot write outside the chosen folder.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ferry_proto::names::{FileName, FilePath, LocalOs, local_file_name_for};
use ferry_proto::protocol::ConflictPolicy;

use super::{Client, ClientError, Downloaded, Stored};
use crate::folders::{Entry, file_path};

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

/// What [`Client::upload_tree`] did.
#[derive(Debug, Default)]
pub struct TreeUploaded {
    /// Empty folders created on the server.
    pub folders: usize,
    /// Files stored.
    pub stored: usize,
    /// Files and folders that were not stored, by local path, and why.
    pub failed: Vec<(PathBuf, ClientError)>,
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

impl Client {
    /// Uploads the local folder `local` with everything in it into the
    /// server folder `remote` (`None`: the root), keeping its structure:
    /// each file to its path there (missing folders are created on the
    /// way), and each empty local folder created. Files go pipelined with
    /// [`Client::upload_many`] under `policy`. `each` hears every file's
    /// outcome by its server path. Only a broken connection or an
    /// unreadable `local` is an `Err`; every other failure is listed in the
    /// result and the rest goes on.
    pub fn upload_tree(
        &mut self,
        local: &Path,
        remote: Option<&str>,
        policy: ConflictPolicy,
        each: &mut dyn FnMut(&str, &Result<Stored, ClientError>),
    ) -> Result<TreeUploaded, ClientError> {
        let remote = remote.map(file_path).transpose()?;
        let plan = plan_upload(local, remote.as_ref())?;
        let mut done = TreeUploaded {
            failed: plan.skipped,
            ..TreeUploaded::default()
        };
        for folder in &plan.folders {
            match self.mkdir(folder) {
                Ok(_) => done.folders += 1,
                Err(e @ (ClientError::Io(_) | ClientError::Protocol(_))) => return Err(e),
                Err(e) => done.failed.push((local.join(folder.as_str()), e)),
            }
        }
        let mut outcomes: Vec<Option<Result<Stored, ClientError>>> =
            plan.files.iter().map(|_| None).collect();
        self.upload_many(&plan.files, policy, &mut |i, outcome| {
            each(&plan.files[i].1, &outcome);
            outcomes[i] = Some(outcome);
        })?;
        for ((local, _), outcome) in plan.files.into_iter().zip(outcomes) {
            match outcome {
                Some(Ok(_)) => done.stored += 1,
                Some(Err(e)) => done.failed.push((local, e)),
                None => {}
            }
        }
        Ok(done)
    }

    /// Downloads the server folder `remote` (`None`: the root) with
    /// everything in it into the local folder `local` (created if
    /// missing), keeping its structure, empty folders included. Files come
    /// pipelined with [`Client::download_many`], each MD5-checked and
    /// renamed into place. A local file that exists already is replaced
    /// only with `overwrite`. `each` hears every file's outcome by its
    /// server path; the result lists every failure by server path.
    pub fn download_tree(
        &mut self,
        remote: Option<&str>,
        local: &Path,
        overwrite: bool,
        each: &mut dyn FnMut(&str, &Result<Downloaded, ClientError>),
    ) -> Result<TreeDownloaded, ClientError> {
        let folder = remote.map(file_path).transpose()?;
        let entries = self.ls(remote, true)?;
        let plan = plan_download(&entries, folder.as_ref(), local, LocalOs::current());
        let mut done = TreeDownloaded {
            failed: plan.skipped,
            ..TreeDownloaded::default()
        };
        fs::create_dir_all(local).map_err(|cause| ClientError::local("create", local, cause))?;
        for dir in &plan.folders {
            match fs::create_dir_all(dir) {
                Ok(()) => done.folders += 1,
                Err(cause) => {
                    let e = ClientError::local("create", dir, cause);
                    done.failed.push((dir.to_string_lossy().into_owned(), e));
                }
            }
        }
        let (files, existing): (Vec<_>, Vec<_>) = plan
            .files
            .into_iter()
            .partition(|(_, dest)| overwrite || !dest.exists());
        for (name, dest) in existing {
            let cause = io::Error::new(
                io::ErrorKind::AlreadyExists,
                "it exists already; download with overwrite to replace it",
            );
            done.failed
                .push((name, ClientError::local("save", &dest, cause)));
        }
        let mut failed = Vec::new();
        self.download_many(&files, &mut |i, outcome| {
            each(&files[i].0, &outcome);
            match outcome {
                Ok(_) => done.saved += 1,
                Err(e) => failed.push((files[i].0.clone(), e)),
            }
        })?;
        done.failed.extend(failed);
        Ok(done)
    }
}

/// What [`Client::download_tree`] did.
#[derive(Debug, Default)]
pub struct TreeDownloaded {
    /// Local folders created (or found).
    pub folders: usize,
    /// Files saved.
    pub saved: usize,
    /// What was not saved, by server path, and why.
    pub failed: Vec<(String, ClientError)>,
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
