//! Folders on the server: [`Client::ls`], [`Client::mkdir`],
//! [`Client::rmdir`] and [`Client::move_path`], and [`file_path`], the
//! client's check of a path before it is sent. Whole local trees going up
//! and down are `tree`'s.

use log::info;

use super::{Client, ClientError, unexpected};
use ferry_proto::names::{FilePath, PathError, escaped};
use ferry_proto::protocol::{FileEntry, FolderEntry, Reply, Request};

/// `path` (a flat name, or a path into folders like `a/b/c.txt`) as a
/// [`FilePath`], checked before anything is sent. A flat name is refused
/// with the [`ClientError::BadName`] it always got; a path with
/// [`ClientError::BadPath`].
pub fn file_path(path: &str) -> Result<FilePath, ClientError> {
    FilePath::try_from(path).map_err(|reason| match reason {
        PathError::Name(reason) => ClientError::BadName {
            name: path.to_owned(),
            reason,
        },
        reason => ClientError::BadPath {
            path: path.to_owned(),
            reason,
        },
    })
}

/// One line of a folder listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A folder, by its full path.
    Folder(FolderEntry),
    /// A file with its current version; its name is its full path.
    File(FileEntry),
}

impl Entry {
    /// Its full path from the root.
    pub fn path(&self) -> &str {
        match self {
            Entry::Folder(f) => &f.path,
            Entry::File(f) => &f.current.name,
        }
    }
}

/// What [`Client::rmdir`] removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Removed {
    /// Folders, the removed one included.
    pub folders: u64,
    /// Files.
    pub files: u64,
    /// Versions of those files.
    pub versions: u64,
}

/// What [`Client::move_path`] moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Moved {
    /// Files (1 for a file).
    pub files: u64,
    /// Folders, the moved one included (0 for a file).
    pub folders: u64,
}

impl Client {
    /// What `folder` holds (`None`: the root), or with `recursive`
    /// everything below it, sorted by path so every folder comes before
    /// what it holds.
    pub fn ls(&mut self, folder: Option<&str>, recursive: bool) -> Result<Vec<Entry>, ClientError> {
        let folder = folder.map(file_path).transpose()?;
        let request = Request::Ls {
            folder: folder.map(Into::into),
            recursive,
        };
        let count = match self.call(&request)? {
            Reply::LsHeader(n) => n,
            other => return Err(unexpected(&other)),
        };
        self.read_items(count, |r| match r {
            Reply::Folder(f) => Ok(Entry::Folder(f)),
            Reply::File(f) => Ok(Entry::File(f)),
            other => Err(other),
        })
    }

    /// Creates the folder `path` and any missing folder above it; returns
    /// how many were created (0 when it existed already).
    pub fn mkdir(&mut self, path: &str) -> Result<u32, ClientError> {
        let path = file_path(path)?;
        match self.call(&Request::Mkdir { path: path.into() })? {
            Reply::Made { path, created } => {
                info!("mkdir path={} created={created}", escaped(&path));
                Ok(created)
            }
            other => Err(unexpected(&other)),
        }
    }

    /// Removes the folder `path` (admin only); one that holds anything only
    /// with `recursive`, and then with everything in it.
    pub fn rmdir(&mut self, path: &str, recursive: bool) -> Result<Removed, ClientError> {
        let path = file_path(path)?;
        let request = Request::Rmdir {
            path: path.into(),
            recursive,
        };
        match self.call(&request)? {
            Reply::Removed {
                path,
                folders,
                files,
                versions,
            } => {
                info!(
                    "rmdir path={} folders={folders} files={files} versions={versions}",
                    escaped(&path)
                );
                Ok(Removed {
                    folders,
                    files,
                    versions,
                })
            }
            other => Err(unexpected(&other)),
        }
    }

    /// Moves (renames) the file or folder `from` to `to` (admin only), a
    /// file with its version history, a folder with everything in it.
    pub fn move_path(&mut self, from: &str, to: &str) -> Result<Moved, ClientError> {
        let request = Request::Move {
            from: file_path(from)?.into(),
            to: file_path(to)?.into(),
        };
        match self.call(&request)? {
            Reply::Moved {
                from,
                to,
                files,
                folders,
            } => {
                info!(
                    "move from={} to={} files={files} folders={folders}",
                    escaped(&from),
                    escaped(&to)
                );
                Ok(Moved { files, folders })
            }
            other => Err(unexpected(&other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked_before_sending() {
        assert!(file_path("a/b/c.txt").is_ok());
        assert!(file_path("flat.txt").is_ok());
        assert!(matches!(
            file_path("a\\b"),
            Err(ClientError::BadName { .. })
        ));
        for bad in ["/etc", "a//b", "a/../b", "a/"] {
            let e = file_path(bad).unwrap_err();
            assert!(matches!(e, ClientError::BadPath { .. }), "{bad}");
            assert!(e.to_string().ends_with("; choose another name"), "{e}");
        }
    }
}
