//! The requests on stored files: `LIST`, `STAT`, `HISTORY`, `DOWNLOAD`,
//! `CHUNKS` and `DELETE`. Uploads are [`super::upload`]'s.

use std::io::{self, Read, Write};
use std::time::Instant;

use ferry_proto::names::{FilePath, escaped};
use ferry_proto::protocol::{CHUNK_SIZE, ErrorCode, Reply};
use log::{error, info};

use super::fault::{Fault, not_found, refuse};
use super::{Flow, Handled, Session};
use crate::db::DbError;
use crate::transport::Transport;

impl<'a, S: Read + Write + Transport> Session<'a, S> {
    pub(super) fn list(&mut self) -> Handled {
        let files = self.shared.db.list()?;
        self.conn.queue(Reply::ListHeader(files.len() as u64));
        for entry in files {
            self.conn.queue(Reply::File(entry));
        }
        Ok(Flow::Continue)
    }

    /// A stored version by name (the current one for `None`), refused
    /// clearly when the name is not allowed or there is no such version.
    pub(super) fn find_version(
        &self,
        name: &FilePath,
        version: Option<u32>,
    ) -> Result<crate::db::StoredVersion, Fault> {
        self.shared
            .db
            .version(name, version)
            .map_err(|e| not_found(e, name, version))
    }

    pub(super) fn stat(&mut self, name: &FilePath, version: Option<u32>) -> Handled {
        let stored = self.find_version(name, version)?;
        self.conn.queue(Reply::Stat(stored.info));
        Ok(Flow::Continue)
    }

    pub(super) fn history(&mut self, name: &FilePath) -> Handled {
        let versions = self.shared.db.history(name)?;
        if versions.is_empty() {
            return Err(not_found(DbError::NotFound, name, None));
        }
        self.conn.queue(Reply::HistoryHeader(versions.len() as u64));
        for v in versions {
            self.conn.queue(Reply::Version(v));
        }
        Ok(Flow::Continue)
    }

    pub(super) fn download(
        &mut self,
        name: &FilePath,
        version: Option<u32>,
        offset: u64,
        length: Option<u64>,
    ) -> Handled {
        let stored = self.find_version(name, version)?;
        let size = stored.info.size;
        let length = length.unwrap_or(size.saturating_sub(offset));
        if offset > size || offset.checked_add(length).is_none_or(|end| end > size) {
            return Err(refuse(
                ErrorCode::BadRange,
                format!(
                    "bytes {offset}..{} are outside {} (it has {size} bytes)",
                    offset.saturating_add(length),
                    escaped(name)
                ),
            ));
        }
        let mut reader = self
            .shared
            .store
            .read_blob(&stored.blob, offset, length)
            .map_err(|e| {
                error!("cannot open blob {} of {}: {e}", stored.blob, escaped(name));
                refuse(
                    ErrorCode::Internal,
                    "the server cannot read its copy of this file; tell the admin",
                )
            })?;
        let started = Instant::now();
        let _transfer = self.stats.transfer();
        let v = stored.info.version;
        info!(
            "{} download start name={} version={v} offset={offset} length={length}",
            self.who(),
            escaped(name)
        );
        self.conn.queue(Reply::Download {
            version: v,
            size,
            md5: stored.info.md5,
            offset,
            length,
        });
        while let Some(piece) = reader.next_piece() {
            let piece = piece.map_err(|e| {
                error!(
                    "reading blob {} of {} failed: {e}",
                    stored.blob,
                    escaped(name)
                );
                refuse(
                    ErrorCode::Internal,
                    "the server could not read its copy of this file; the download is void, tell the admin",
                )
            })?;
            self.conn.send_frame(piece)?;
        }
        self.conn.queue(Reply::End);
        info!(
            "{} download end name={} version={v} bytes={length} md5={} secs={:.3}",
            self.who(),
            escaped(name),
            stored.info.md5,
            started.elapsed().as_secs_f64()
        );
        Ok(Flow::Continue)
    }

    pub(super) fn chunks(&mut self, name: &FilePath, version: Option<u32>) -> Handled {
        let stored = self.find_version(name, version)?;
        let sums = match self.shared.db.chunk_sums(&stored.blob, CHUNK_SIZE)? {
            Some(sums) => sums,
            None => {
                let sums = self
                    .shared
                    .store
                    .chunk_sums(&stored.blob, stored.info.size, CHUNK_SIZE)
                    .map_err(|e| {
                        if e.kind() == io::ErrorKind::InvalidData {
                            error!("damage: stored content of {}: {e}", escaped(name));
                        } else {
                            error!("cannot read blob {} of {}: {e}", stored.blob, escaped(name));
                        }
                        refuse(
                            ErrorCode::Internal,
                            "the server cannot read its copy of this file; tell the admin",
                        )
                    })?;
                self.shared
                    .db
                    .save_chunk_sums(&stored.blob, CHUNK_SIZE, &sums)?;
                sums
            }
        };
        self.conn.queue(Reply::ChunksHeader {
            chunk_size: CHUNK_SIZE,
            count: sums.len() as u64,
        });
        for (index, md5) in sums.into_iter().enumerate() {
            self.conn.queue(Reply::Chunk {
                index: index as u64,
                md5,
            });
        }
        Ok(Flow::Continue)
    }

    pub(super) fn delete(&mut self, name: &FilePath, version: Option<u32>) -> Handled {
        let blobs = self
            .shared
            .db
            .delete(name, version)
            .map_err(|e| not_found(e, name, version))?;
        self.shared.store.remove_blobs(&blobs);
        info!(
            "{} delete name={} version={} removed={}",
            self.who(),
            escaped(name),
            version.map_or("all".to_owned(), |v| v.to_string()),
            blobs.len()
        );
        self.conn.queue(Reply::Deleted {
            name: name.to_string(),
            versions: blobs.len() as u32,
        });
        Ok(Flow::Continue)
    }
}
