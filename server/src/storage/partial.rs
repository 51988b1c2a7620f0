//! One upload being received ([`Partial`]): its data file in `tmp/`, the
//! running MD5, and the small JSON record ([`PartialMeta`]) that lets a
//! resume take it up again after a cut or a crash. Where uploads live and
//! how they become blobs is the store's ([`super::Store`]).

use std::fs;
use std::io;
use std::path::PathBuf;

use ferry_io::hashed_file::HashedFile;
use ferry_proto::Md5Digest;
use ferry_proto::hash::Hasher;
use ferry_proto::names::FilePath;
use ferry_proto::time::Timestamp;
use log::{info, warn};
use serde::{Deserialize, Serialize};

use super::write_new;

/// What is known about an upload in flight; saved as `tmp/<id>.json`. The
/// record may lag behind the upload, never run ahead of what is written.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartialMeta {
    /// The name the client asked for.
    pub name: FilePath,
    /// The announced total size.
    pub size: u64,
    /// Who is uploading.
    pub user: String,
    /// Bytes written so far.
    pub received: u64,
    /// The MD5 state over those bytes ([`Hasher::save`]).
    pub hash_state: String,
    /// When the record was last saved (Unix seconds).
    pub updated: i64,
}

/// An upload being received. Dropped without [`super::Store::commit_many`] or
/// [`Partial::keep`], it is deleted.
pub struct Partial {
    pub(super) id: String,
    pub(super) data_path: PathBuf,
    pub(super) meta_path: PathBuf,
    pub(super) out: Option<HashedFile>,
    /// The last saved record.
    pub(super) meta: PartialMeta,
}

impl Partial {
    /// The upload id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.out
            .as_ref()
            .map_or(self.meta.received, HashedFile::len)
    }

    /// Room for the next bytes, at least one and at most `max`, to receive
    /// into and confirm with [`Partial::filled`].
    pub fn space(&mut self, max: usize) -> &mut [u8] {
        self.out().space(max)
    }

    /// Appends the first `n` bytes of the last [`Partial::space`] (written
    /// and hashed without a copy); now and then saves the record.
    pub fn filled(&mut self, n: usize) -> io::Result<()> {
        if let Some(point) = self.out().filled(n)? {
            self.meta.received = point.offset;
            self.meta.hash_state = point.state;
            self.save_record()?;
        }
        Ok(())
    }

    /// Writes out every received byte; the MD5 of them all.
    pub fn finish(&mut self) -> io::Result<Md5Digest> {
        Ok(self.out().finish()?.clone().finish())
    }

    pub(super) fn out(&mut self) -> &mut HashedFile {
        self.out.as_mut().expect("open until committed or kept")
    }

    /// Saves the record (atomically: a new file renamed over the old).
    pub(super) fn save_record(&mut self) -> io::Result<()> {
        self.meta.updated = Timestamp::now().0;
        let json = serde_json::to_vec(&self.meta).map_err(io::Error::other)?;
        let tmp = self.meta_path.with_extension("json.new");
        write_new(&tmp, &json)?;
        fs::rename(&tmp, &self.meta_path)
    }

    /// Leaves the upload on disk, record saved, for a later resume.
    pub fn keep(mut self) {
        let saved = self.out().finish().map(Hasher::save).and_then(|state| {
            self.meta.received = self.received();
            self.meta.hash_state = state;
            self.save_record()
        });
        match saved {
            Ok(()) => {
                info!(
                    "kept unfinished upload {} at {} of {} bytes",
                    self.id, self.meta.received, self.meta.size
                );
                self.out = None;
            }
            Err(e) => warn!(
                "could not save the upload {} for a resume: {e}; it is dropped",
                self.id
            ),
        }
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            for path in [&self.data_path, &self.meta_path] {
                if let Err(e) = fs::remove_file(path)
                    && e.kind() != io::ErrorKind::NotFound
                {
                    warn!("could not remove {}: {e}", path.display());
                }
            }
        }
    }
}
