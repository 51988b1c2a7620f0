//! Where file contents live on disk: `blobs/<id>` for stored versions and
//! `tmp/<id>` for uploads in flight, both under the data folder. Ids are
//! random hex chosen here; a client's file name never becomes a path.
//!
//! A blob becomes durable in this order: written to `tmp/`, fsynced, renamed
//! into `blobs/`, the folder fsynced. Only then does the caller record it in
//! the database, so a crash at any point leaves at worst an unreferenced
//! file, which [`Store::clean_orphans`] removes at the next start.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use log::{info, warn};

/// The blob store.
pub struct Store {
    blobs: PathBuf,
    tmp: PathBuf,
}

/// An upload being received: a temp file that is deleted on drop unless it
/// was committed.
pub struct TempBlob {
    id: String,
    path: PathBuf,
    file: Option<File>,
}

impl Store {
    /// Opens the store in `data_dir`, creating its folders.
    pub fn open(data_dir: &Path) -> io::Result<Store> {
        let store = Store {
            blobs: data_dir.join("blobs"),
            tmp: data_dir.join("tmp"),
        };
        fs::create_dir_all(&store.blobs)?;
        fs::create_dir_all(&store.tmp)?;
        Ok(store)
    }

    /// Starts a new temp file for an upload.
    pub fn create_temp(&self) -> io::Result<TempBlob> {
        let id = new_id()?;
        let path = self.tmp.join(&id);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)?;
        Ok(TempBlob {
            id,
            path,
            file: Some(file),
        })
    }

    /// Makes a fully written temp file a durable blob; returns its id.
    pub fn commit(&self, mut temp: TempBlob) -> io::Result<String> {
        let file = temp.file.take().expect("a temp blob is committed once");
        file.sync_all()?;
        drop(file);
        let dest = self.blobs.join(&temp.id);
        fs::rename(&temp.path, &dest)?;
        sync_dir(&self.blobs)?;
        Ok(std::mem::take(&mut temp.id))
    }

    /// Opens a blob for reading. Refuses to follow a symlink planted in its place.
    pub fn open_blob(&self, id: &str) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(self.blob_path(id)?)
    }

    /// Removes blobs the database no longer refers to. Failures are logged:
    /// a leftover blob is cleaned at the next start.
    pub fn remove_blobs(&self, ids: &[String]) {
        for id in ids {
            let result = self.blob_path(id).and_then(fs::remove_file);
            if let Err(e) = result {
                warn!("could not remove blob {id}: {e}; it will be cleaned at the next start");
            }
        }
        if let Err(e) = sync_dir(&self.blobs) {
            warn!("could not sync the blob folder: {e}");
        }
    }

    /// Deletes every temp file and every blob not in `referenced`; returns
    /// the referenced ids whose blob is missing.
    pub fn clean_orphans(&self, referenced: &[String]) -> io::Result<Vec<String>> {
        for entry in fs::read_dir(&self.tmp)? {
            let path = entry?.path();
            info!("removing unfinished upload {}", path.display());
            remove_any(&path)?;
        }
        let wanted: HashSet<&str> = referenced.iter().map(String::as_str).collect();
        let mut present = HashSet::new();
        for entry in fs::read_dir(&self.blobs)? {
            let entry = entry?;
            let name = entry.file_name();
            let is_blob = entry.file_type()?.is_file();
            match name.to_str() {
                Some(id) if is_blob && wanted.contains(id) => {
                    present.insert(id.to_owned());
                }
                _ => {
                    warn!("removing orphaned blob {}", entry.path().display());
                    remove_any(&entry.path())?;
                }
            }
        }
        sync_dir(&self.blobs)?;
        Ok(referenced
            .iter()
            .filter(|id| !present.contains(*id))
            .cloned()
            .collect())
    }

    fn blob_path(&self, id: &str) -> io::Result<PathBuf> {
        // Ids come from our own database, but check anyway: a path is built from it.
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad blob id {id:?}"),
            ));
        }
        Ok(self.blobs.join(id))
    }
}

impl TempBlob {
    /// The id this upload's blob will have.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The open temp file.
    pub fn file(&mut self) -> &mut File {
        self.file
            .as_mut()
            .expect("the temp file is open until committed")
    }
}

impl Drop for TempBlob {
    fn drop(&mut self) {
        if self.file.is_some() {
            self.file = None;
            if let Err(e) = fs::remove_file(&self.path) {
                warn!("could not remove temp file {}: {e}", self.path.display());
            }
        }
    }
}

/// A fresh random id: 128 bits as 32 hex digits.
pub fn new_id() -> io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(io::Error::other)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn remove_any(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path)?.is_dir() {
        true => fs::remove_dir_all(path),
        false => fs::remove_file(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn commit_and_cleanup() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();

        let mut kept = store.create_temp().unwrap();
        kept.file().write_all(b"kept").unwrap();
        let kept = store.commit(kept).unwrap();

        let mut dropped = store.create_temp().unwrap();
        dropped.file().write_all(b"half").unwrap();
        drop(dropped);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);

        let orphan = store.commit(store.create_temp().unwrap()).unwrap();
        let _unfinished = fs::write(dir.path().join("tmp/leftover"), b"x");
        let missing = store
            .clean_orphans(&[kept.clone(), "00ff".to_owned()])
            .unwrap();
        assert_eq!(missing, ["00ff"]);
        assert!(!dir.path().join("blobs").join(orphan).exists());
        assert_eq!(
            fs::read(dir.path().join("blobs").join(&kept)).unwrap(),
            b"kept"
        );
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn a_planted_symlink_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let secret = dir.path().join("secret");
        fs::write(&secret, b"outside").unwrap();
        std::os::unix::fs::symlink(&secret, dir.path().join("blobs/abcd")).unwrap();
        assert!(store.open_blob("abcd").is_err());
        assert!(store.open_blob("../secret").is_err());
    }
}
