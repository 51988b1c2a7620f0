//! Many files on one connection: [`Client::upload_many`] and
//! [`Client::download_many`]. Both send a window of requests ahead of their
//! replies, so a thousand small files cost a few round trips instead of a
//! thousand, and both report every file's outcome by its index: one file's
//! refusal never stops the others, only a broken connection ends the batch.

use std::fs::File;
use std::io::{Read, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use log::info;

use super::{Client, ClientError, Downloaded, LocalFile, Progress, Stored, UploadOptions};
use crate::folders::file_path;
use crate::partial::part_path;
use ferry_proto::hash::{Hasher, Md5Digest, md5_bytes};
use ferry_proto::names::escaped;
use ferry_proto::protocol::{ConflictPolicy, Reply, Request, UploadFrame};

/// How many files a batch sends ahead of their replies.
const PIPELINE_FILES: usize = 64;
/// How many payload bytes a batch sends ahead of their replies.
const PIPELINE_BYTES: u64 = 8 << 20;
/// Files up to this size are pipelined by [`Client::upload_many`].
pub const BATCH_MAX_FILE: u64 = 1 << 20;

impl Client {
    /// Uploads many local files, each `(path, name)`, on this one
    /// connection. Small files (up to [`BATCH_MAX_FILE`]) are pipelined: a
    /// window of them is sent before any reply is read, so the server can
    /// commit them together. Larger ones are sent one at a time with
    /// [`Client::upload`]. `each` hears the outcome of every file by its
    /// index.
    pub fn upload_many(
        &mut self,
        files: &[(PathBuf, String)],
        policy: ConflictPolicy,
        each: &mut dyn FnMut(usize, Result<Stored, ClientError>),
    ) -> Result<(), ClientError> {
        self.upload_batch(
            files,
            policy,
            &mut |i, outcome| {
                each(i, outcome);
                ControlFlow::Continue(())
            },
            &mut |_, _| ControlFlow::Continue(()),
        )
    }

    /// [`Client::upload_many`] that can be stopped: `each` hears every
    /// outcome by index and `progress` the bytes of each large file by its
    /// index. A `Break` from either ends the batch with
    /// [`ClientError::Cancelled`]: from `each`, once the replies to the
    /// window already sent are read (those files are stored anyway, and
    /// `each` hears them), so the connection stays in step; from
    /// `progress`, at once, leaving the connection unusable and the server
    /// keeping what it received of that file.
    pub(crate) fn upload_batch(
        &mut self,
        files: &[(PathBuf, String)],
        policy: ConflictPolicy,
        each: &mut dyn FnMut(usize, Result<Stored, ClientError>) -> ControlFlow<()>,
        progress: &mut dyn FnMut(usize, Progress) -> ControlFlow<()>,
    ) -> Result<(), ClientError> {
        let mut cancelled = false;
        let mut next = 0;
        while next < files.len() {
            // Fill a window with small files.
            let mut window: Vec<(usize, u64, Md5Digest)> = Vec::new();
            let mut bytes = 0u64;
            while !cancelled
                && next < files.len()
                && window.len() < PIPELINE_FILES
                && bytes < PIPELINE_BYTES
            {
                let (path, name) = &files[next];
                let small = match read_small(path) {
                    Ok(small) => small,
                    Err(e) => {
                        cancelled |= each(next, Err(e)).is_break();
                        next += 1;
                        continue;
                    }
                };
                let Some(data) = small else { break }; // a big file: sent alone below
                let name = match file_path(name) {
                    Ok(name) => name,
                    Err(e) => {
                        cancelled |= each(next, Err(e)).is_break();
                        next += 1;
                        continue;
                    }
                };
                let md5 = md5_bytes(&data);
                self.conn.queue(Request::Upload {
                    name: name.into(),
                    size: data.len() as u64,
                    policy,
                    resume: None,
                });
                if !data.is_empty() {
                    self.conn.send_frame(&data).map_err(|e| self.lost(e))?;
                }
                self.conn.queue(UploadFrame::Done(md5));
                window.push((next, data.len() as u64, md5));
                bytes += data.len() as u64;
                next += 1;
            }
            self.flush()?;
            for (index, size, md5) in window {
                let outcome = self.read_stored(size, md5)?;
                if let Ok(stored) = &outcome {
                    info!(
                        "upload done name={} version={} bytes={size} md5={md5} (batch)",
                        escaped(&stored.name),
                        stored.version
                    );
                }
                cancelled |= each(index, outcome).is_break();
            }
            if cancelled {
                return Err(ClientError::Cancelled);
            }
            let big_next = files.get(next).is_some_and(|(path, _)| {
                LocalFile::open(path).is_ok_and(|f| f.size() > BATCH_MAX_FILE)
            });
            if big_next {
                let (path, name) = &files[next];
                let index = next;
                let options = UploadOptions {
                    policy,
                    progress: Some(&mut |p| progress(index, p)),
                    ..UploadOptions::default()
                };
                let result =
                    LocalFile::open(path).and_then(|file| self.upload(file, name, options));
                if matches!(result, Err(ClientError::Io(_))) || self.broken {
                    return result.map(|_| ());
                }
                cancelled = each(next, result).is_break();
                next += 1;
            }
        }
        if cancelled {
            return Err(ClientError::Cancelled);
        }
        Ok(())
    }

    /// Reads the replies to one pipelined upload of `size` bytes with `md5`.
    /// The outer error is a broken conversation; the inner one is this
    /// file's refusal.
    fn read_stored(
        &mut self,
        size: u64,
        md5: Md5Digest,
    ) -> Result<Result<Stored, ClientError>, ClientError> {
        Ok(match self.read_reply()? {
            Reply::Ready { .. } => match self.read_reply()? {
                Reply::Stored {
                    name,
                    version,
                    size: stored_size,
                    md5: stored_md5,
                } if stored_size == size && stored_md5 == md5 => Ok(Stored {
                    name,
                    version,
                    size,
                    md5,
                }),
                Reply::Error { code, message } => Err(ClientError::Server { code, message }),
                other => return Err(super::unexpected(&other)),
            },
            Reply::Error { code, message } => Err(ClientError::Server { code, message }),
            other => return Err(super::unexpected(&other)),
        })
    }

    /// Downloads many files (current versions), each `(name, dest)`, on this
    /// one connection, a window of requests ahead of the replies. Each lands
    /// in its `.part` and is renamed into place after its MD5 check; small
    /// files are not fsynced one by one. `each` hears every outcome by
    /// index.
    pub fn download_many(
        &mut self,
        files: &[(String, PathBuf)],
        each: &mut dyn FnMut(usize, Result<Downloaded, ClientError>),
    ) -> Result<(), ClientError> {
        self.download_batch(files, &mut |i, outcome| {
            each(i, outcome);
            ControlFlow::Continue(())
        })
    }

    /// [`Client::download_many`] that can be stopped: a `Break` from `each`
    /// ends the batch with [`ClientError::Cancelled`] after the file it
    /// heard. Replies to requests already sent are not waited for, so the
    /// connection is unusable afterwards unless that file ended a window.
    pub(crate) fn download_batch(
        &mut self,
        files: &[(String, PathBuf)],
        each: &mut dyn FnMut(usize, Result<Downloaded, ClientError>) -> ControlFlow<()>,
    ) -> Result<(), ClientError> {
        for (start, window) in files.chunks(PIPELINE_FILES).enumerate() {
            for (name, _) in window {
                self.conn.queue(Request::Download {
                    name: name.as_str().into(),
                    version: None,
                    offset: 0,
                    length: None,
                });
            }
            self.flush()?;
            for (k, (name, dest)) in window.iter().enumerate() {
                let outcome = self.receive_into(name, dest)?;
                if each(start * PIPELINE_FILES + k, outcome).is_break() {
                    if k + 1 < window.len() {
                        self.broken = true;
                    }
                    info!("batch download stopped after {}", escaped(name));
                    return Err(ClientError::Cancelled);
                }
            }
        }
        Ok(())
    }

    /// Reads one download reply of a batch into `dest`. The outer error is
    /// a broken connection; the inner one is this file's failure.
    fn receive_into(
        &mut self,
        name: &str,
        dest: &Path,
    ) -> Result<Result<Downloaded, ClientError>, ClientError> {
        let (version, size, expected) = match self.read_reply()? {
            Reply::Download {
                version,
                size,
                md5,
                offset: 0,
                length,
            } if length == size => (version, size, md5),
            Reply::Error { code, message } => {
                return Ok(Err(ClientError::Server { code, message }));
            }
            other => return Err(super::unexpected(&other)),
        };
        let part = part_path(dest);
        // Whatever goes wrong locally, the payload is still read to the end
        // so the conversation stays in step for the next file.
        let mut file =
            File::create(&part).map_err(|cause| ClientError::local("create", &part, cause));
        let mut hasher = Hasher::new();
        let mut sink = |piece: &[u8]| {
            hasher.update(piece);
            if let Ok(f) = file.as_mut()
                && let Err(cause) = f.write_all(piece)
            {
                file = Err(ClientError::local("write", &part, cause));
            }
            Ok(ControlFlow::Continue(()))
        };
        let received = match self.receive_frames(name, size, &mut sink) {
            Ok(received) => received,
            Err(e) => {
                // The connection broke mid-file: nothing of it is kept
                // (a batch file is small; it is fetched again whole).
                drop(file);
                let _ = std::fs::remove_file(&part);
                return Err(e);
            }
        };
        // The file closes here; a server refusal or a local failure voids it.
        if let Err(e) = received.and(file) {
            let _ = std::fs::remove_file(&part);
            return Ok(Err(e));
        }
        let actual = hasher.finish();
        if actual != expected {
            let _ = std::fs::remove_file(&part);
            return Ok(Err(ClientError::Corrupt { expected, actual }));
        }
        if let Err(cause) = std::fs::rename(&part, dest) {
            return Ok(Err(ClientError::local("save", dest, cause)));
        }
        info!(
            "download done name={} version={version} bytes={size} md5={actual} (batch)",
            escaped(name)
        );
        Ok(Ok(Downloaded {
            version,
            size,
            md5: actual,
        }))
    }
}

/// Reads a file for a batch upload: its bytes if it is small, `None` if it
/// is too big to pipeline.
fn read_small(path: &Path) -> Result<Option<Vec<u8>>, ClientError> {
    let local = LocalFile::open(path)?;
    let size = local.size();
    if size > BATCH_MAX_FILE {
        return Ok(None);
    }
    let mut data = Vec::with_capacity(size as usize);
    local
        .file()
        .read_to_end(&mut data)
        .map_err(|cause| ClientError::local("read", path, cause))?;
    if data.len() as u64 != size {
        return Err(ClientError::SourceChanged(path.to_owned()));
    }
    Ok(Some(data))
}
