//! Where file contents live on disk: `blobs/<id>` for stored versions and
//! `tmp/<id>` (+ `tmp/<id>.json`) for uploads in flight, under the data
//! folder. Ids are random hex chosen here; a client's file name never
//! becomes a path.
//!
//! A blob becomes durable in this order: written to `tmp/`, fsynced, renamed
//! into `blobs/`, the folder fsynced. Only then does the caller record it in
//! the database, so a crash at any point leaves at worst an unreferenced
//! file, which [`Store::clean_orphans`] removes at the next start.
//!
//! An upload cut off mid-way is kept as a [`Partial`]: its bytes, and beside
//! them a small JSON record of who sent what, how many bytes are valid and
//! the running MD5 state, so a resumed upload neither re-sends nor re-hashes
//! what already arrived. Partials expire after a configurable time.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ferry_io::hashed_file::HashedFile;
use ferry_proto::Md5Digest;
use ferry_proto::hash::Hasher;
use ferry_proto::names::FilePath;
use ferry_proto::time::Timestamp;
use log::{info, warn};

use crate::blob_reader::BlobReader;

mod partial;

pub use self::partial::{Partial, PartialMeta};

/// How often (in bytes received) a partial upload's record is saved, so a
/// killed server loses at most this much of an upload.
const CHECKPOINT_BYTES: u64 = 8 << 20;

/// The blob store.
pub struct Store {
    blobs: PathBuf,
    tmp: PathBuf,
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

    /// Starts a new upload of `size` bytes of `name` by `user`.
    pub fn create_partial(&self, name: &FilePath, size: u64, user: &str) -> io::Result<Partial> {
        let id = new_id()?;
        let data_path = self.tmp.join(&id);
        let out = HashedFile::create(&data_path, size, CHECKPOINT_BYTES)?;
        let mut partial = Partial {
            meta_path: meta_path(&data_path),
            id,
            data_path,
            out: Some(out),
            meta: PartialMeta {
                name: name.clone(),
                size,
                user: user.to_owned(),
                received: 0,
                hash_state: Hasher::new().save(),
                updated: 0,
            },
        };
        partial.save_record()?;
        Ok(partial)
    }

    /// Takes up a kept upload again, if `id` names one that `user` started
    /// for the same name and size. Bytes past the last saved record (a
    /// crash can leave some) are cut off.
    pub fn resume_partial(
        &self,
        id: &str,
        name: &FilePath,
        size: u64,
        user: &str,
    ) -> io::Result<Option<Partial>> {
        if !is_id(id) {
            return Ok(None);
        }
        let data_path = self.tmp.join(id);
        let meta = match read_meta(&meta_path(&data_path)) {
            Some(meta) => meta,
            None => return Ok(None),
        };
        if meta.name != *name || meta.size != size || meta.user != user {
            return Ok(None);
        }
        let Some(hasher) = Hasher::restore(&meta.hash_state) else {
            return Ok(None);
        };
        let out = match HashedFile::open(&data_path, size, meta.received, hasher, CHECKPOINT_BYTES)
        {
            Ok(out) => out,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::UnexpectedEof
                ) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        Ok(Some(Partial {
            id: id.to_owned(),
            meta_path: meta_path(&data_path),
            data_path,
            out: Some(out),
            meta,
        }))
    }

    /// The record of a kept or running upload, if `id` names one.
    pub fn partial_meta(&self, id: &str) -> Option<PartialMeta> {
        is_id(id)
            .then(|| read_meta(&meta_path(&self.tmp.join(id))))
            .flatten()
    }

    /// Commits several fully received uploads at once: their fsyncs run in
    /// parallel (the file system folds them into fewer journal commits) and
    /// the blob folder is synced once. Returns each one's blob id or error.
    pub fn commit_many(&self, mut partials: Vec<Partial>) -> Vec<io::Result<String>> {
        const SYNC_THREADS: usize = 8;
        let written: Vec<io::Result<()>> = partials
            .iter_mut()
            .map(|p| p.out().finish().map(drop))
            .collect();
        let files: Vec<&File> = partials
            .iter()
            .map(|p| p.out.as_ref().expect("open until committed").file())
            .collect();
        let per_thread = files.len().div_ceil(SYNC_THREADS).max(1);
        let synced: Vec<io::Result<()>> = std::thread::scope(|scope| {
            let handles: Vec<_> = files
                .chunks(per_thread)
                .map(|group| {
                    std::thread::Builder::new()
                        .name("fsync".into())
                        .spawn_scoped(scope, move || {
                            group.iter().map(|f| f.sync_all()).collect::<Vec<_>>()
                        })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| match h {
                    Ok(h) => h
                        .join()
                        .unwrap_or_else(|_| vec![Err(io::Error::other("a sync thread failed"))]),
                    Err(e) => vec![Err(e)],
                })
                .collect()
        });
        let mut results: Vec<io::Result<String>> = partials
            .into_iter()
            .zip(written.into_iter().zip(synced))
            .map(|(mut partial, (written, synced))| {
                written?;
                synced?;
                partial.out = None;
                let dest = self.blobs.join(&partial.id);
                fs::rename(&partial.data_path, &dest)?;
                let _ = fs::remove_file(&partial.meta_path);
                Ok(std::mem::take(&mut partial.id))
            })
            .collect();
        if let Err(e) = sync_dir(&self.blobs) {
            for r in results.iter_mut().filter(|r| r.is_ok()) {
                *r = Err(io::Error::new(e.kind(), e.to_string()));
            }
        }
        results
    }

    /// Opens a blob for reading. Refuses to follow a symlink planted in its place.
    pub fn open_blob(&self, id: &str) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(self.blob_path(id)?)
    }

    /// The pieces of `length` bytes of a blob from `offset`, for a download.
    pub fn read_blob(&self, id: &str, offset: u64, length: u64) -> io::Result<BlobReader> {
        BlobReader::new(self.open_blob(id)?, offset, length)
    }

    /// The MD5 of every `chunk`-sized piece of a blob that should hold
    /// `size` bytes. A blob of any other length is damaged: that is an
    /// `InvalidData` error, never a list of sums for what is there.
    pub fn chunk_sums(&self, id: &str, size: u64, chunk: u64) -> io::Result<Vec<Md5Digest>> {
        let mut file = self.open_blob(id)?;
        let mut buf = vec![0u8; chunk as usize];
        let mut sums = Vec::new();
        let mut total = 0u64;
        loop {
            let mut filled = 0;
            while filled < buf.len() {
                match io::Read::read(&mut file, &mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            total += filled as u64;
            if total > size {
                break;
            }
            if filled > 0 {
                sums.push(ferry_proto::hash::md5_bytes(&buf[..filled]));
            }
            if filled < buf.len() {
                break;
            }
        }
        if total != size {
            let found = if total > size {
                "more".to_owned()
            } else {
                total.to_string()
            };
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("blob {id} has {found} bytes on disk but {size} are recorded"),
            ));
        }
        Ok(sums)
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

    /// Deletes partial uploads not saved for `max_age`, and any temp file
    /// without a valid record. Returns how many uploads were deleted.
    pub fn expire_partials(
        &self,
        max_age: Duration,
        in_progress: &dyn Fn(&str) -> bool,
    ) -> io::Result<usize> {
        let now = Timestamp::now().0;
        let mut removed = 0;
        for entry in fs::read_dir(&self.tmp)? {
            let path = entry?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                remove_any(&path)?;
                continue;
            };
            let id = name.strip_suffix(".json").unwrap_or(name);
            let data = self.tmp.join(id);
            let fresh = || {
                data.is_file()
                    && read_meta(&meta_path(&data))
                        .is_some_and(|m| now.saturating_sub(m.updated) < max_age.as_secs() as i64)
            };
            let fresh = is_id(id) && (in_progress(id) || fresh());
            if !fresh && path.exists() {
                if name == id {
                    info!("removing an unfinished upload {id} (expired or without a record)");
                    removed += 1;
                }
                remove_any(&path)?;
            }
        }
        Ok(removed)
    }

    /// Deletes every blob not in `referenced` and expired partial uploads;
    /// returns the referenced ids whose blob is missing.
    pub fn clean_orphans(
        &self,
        referenced: &[String],
        max_partial_age: Duration,
    ) -> io::Result<Vec<String>> {
        self.expire_partials(max_partial_age, &|_| false)?;
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
        if !is_id(id) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad blob id {id:?}"),
            ));
        }
        Ok(self.blobs.join(id))
    }
}

/// A fresh random id: 128 bits as 32 hex digits.
pub fn new_id() -> io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(io::Error::other)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn is_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn meta_path(data_path: &Path) -> PathBuf {
    data_path.with_extension("json")
}

fn read_meta(path: &Path) -> Option<PartialMeta> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
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

/// Writes `bytes` to a file at `path` that this call creates: whatever
/// was there (a stale leftover, or a symlink planted to make the server
/// write elsewhere) is removed first, not followed.
pub(super) fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    io::Write::write_all(&mut file, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(name: &str) -> FilePath {
        FilePath::new(name.to_owned()).unwrap()
    }
    use ferry_proto::hash::md5_bytes;
    use std::io::Write;

    const DAY: Duration = Duration::from_secs(86_400);

    fn put(partial: &mut Partial, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let space = partial.space(bytes.len());
            let n = space.len();
            space.copy_from_slice(&bytes[..n]);
            partial.filled(n).unwrap();
            bytes = &bytes[n..];
        }
    }

    fn commit(store: &Store, partial: Partial) -> io::Result<String> {
        store.commit_many(vec![partial]).pop().expect("one result")
    }

    #[test]
    fn commit_drop_and_cleanup() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();

        let mut kept = store.create_partial(&n("a"), 4, "u").unwrap();
        put(&mut kept, b"kept");
        assert_eq!(kept.finish().unwrap(), md5_bytes(b"kept"));
        let kept = commit(&store, kept).unwrap();

        let mut dropped = store.create_partial(&n("b"), 4, "u").unwrap();
        put(&mut dropped, b"half");
        drop(dropped);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);

        let orphan = commit(&store, store.create_partial(&n("c"), 0, "u").unwrap()).unwrap();
        fs::write(dir.path().join("tmp/leftover"), b"x").unwrap();
        let missing = store
            .clean_orphans(&[kept.clone(), "00ff".to_owned()], DAY)
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
    fn a_kept_upload_resumes_where_its_record_says() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut p = store.create_partial(&n("big.bin"), 10, "ann").unwrap();
        put(&mut p, b"01234");
        let id = p.id().to_owned();
        p.keep();
        // A crash after the record was saved can leave extra bytes: they go.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join("tmp").join(&id))
            .unwrap();
        f.write_all(b"zz").unwrap();

        assert!(
            store
                .resume_partial(&id, &n("other"), 10, "ann")
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .resume_partial(&id, &n("big.bin"), 11, "ann")
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .resume_partial(&id, &n("big.bin"), 10, "bob")
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .resume_partial("../etc", &n("big.bin"), 10, "ann")
                .unwrap()
                .is_none()
        );
        let mut p = store
            .resume_partial(&id, &n("big.bin"), 10, "ann")
            .unwrap()
            .unwrap();
        assert_eq!(p.received(), 5);
        put(&mut p, b"56789");
        assert_eq!(p.finish().unwrap(), md5_bytes(b"0123456789"));
        let blob = commit(&store, p).unwrap();
        assert_eq!(
            fs::read(dir.path().join("blobs").join(blob)).unwrap(),
            b"0123456789"
        );
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn kept_uploads_expire() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let p = store.create_partial(&n("x"), 10, "u").unwrap();
        p.keep();
        assert_eq!(store.expire_partials(DAY, &|_| false).unwrap(), 0);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 2);
        assert_eq!(
            store.expire_partials(Duration::ZERO, &|_| true).unwrap(),
            0,
            "in progress"
        );
        assert_eq!(
            store.expire_partials(Duration::ZERO, &|_| false).unwrap(),
            1
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

    #[test]
    fn a_record_is_never_written_through_a_planted_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let secret = dir.path().join("secret");
        fs::write(&secret, b"outside").unwrap();
        let p = store.create_partial(&n("x"), 10, "u").unwrap();
        let planted = dir.path().join("tmp").join(format!("{}.json.new", p.id()));
        std::os::unix::fs::symlink(&secret, &planted).unwrap();
        let id = p.id().to_owned();
        p.keep();
        assert_eq!(fs::read(&secret).unwrap(), b"outside");
        assert!(store.partial_meta(&id).is_some(), "the record was saved");
    }
}
