//! Sending one file on one connection: [`Client::upload`] and its
//! [`UploadOptions`], how an interrupted upload is continued ([`Resume`], [`Checkpoint`]) and
//! what it reports for a caller that saves its state ([`UploadEvent`]).
//!
//! Reconnecting and saving that state across runs is
//! [`crate::transfer::upload`]'s job; it drives this entry point.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Instant;

use log::{info, warn};

use super::{
    Client, ClientError, Progress, ProgressFn, Stage, UploadSource, no_progress, read_up_to,
    unexpected,
};
use ferry_io::appender::DIRECT_FROM;
use ferry_io::hashing::StreamHasher;
use ferry_io::read_ahead::ReadAhead;
use ferry_io::wire::chunk_buffer;
use ferry_proto::hash::{Hasher, Md5Digest};
use ferry_proto::names::escaped;
use ferry_proto::protocol::{CHUNK_SIZE, ConflictPolicy, Reply, Request, UploadFrame};

/// How often an upload reports an MD5 checkpoint.
pub const CHECKPOINT_BYTES: u64 = 8 << 20;

/// What the server stored for an upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// The name it was stored under.
    pub name: String,
    /// Its version number.
    pub version: u32,
    /// Its size in bytes.
    pub size: u64,
    /// Its MD5.
    pub md5: Md5Digest,
}

/// An interrupted upload to continue.
#[derive(Clone, Debug)]
pub struct Resume<'a> {
    /// The id the server gave it.
    pub upload_id: &'a str,
    /// MD5 states saved while it was sent, so the prefix the server already
    /// holds need not be hashed again from the start.
    pub checkpoints: &'a [Checkpoint],
}

/// The MD5 state of an upload's source after its first `offset` bytes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// Bytes hashed.
    pub offset: u64,
    /// [`Hasher::save`] output.
    pub hash_state: String,
}

/// What an upload reports while it runs, for callers that persist it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UploadEvent {
    /// The server accepted the upload under this id, starting at `offset`.
    Ready {
        /// The server's id for the upload.
        upload_id: String,
        /// Where sending starts.
        offset: u64,
    },
    /// The MD5 state at a byte sent.
    Checkpoint(Checkpoint),
}

/// Choices for [`Client::upload`]. `UploadOptions::default()` is a fresh
/// upload that refuses a taken name, reporting nothing.
pub struct UploadOptions<'a> {
    /// What the server does if the name is taken.
    pub policy: ConflictPolicy,
    /// Continue this interrupted upload instead of starting a new one.
    pub resume: Option<Resume<'a>>,
    /// Hears the upload id and MD5 checkpoints as they happen, so a caller
    /// can save them and resume after a crash.
    pub journal: Option<&'a mut dyn FnMut(UploadEvent)>,
    /// Hears the progress; `Break` pauses the upload (the connection is
    /// dropped and the server keeps what it has, to be resumed).
    pub progress: Option<ProgressFn<'a>>,
}

impl Default for UploadOptions<'_> {
    fn default() -> Self {
        UploadOptions {
            policy: ConflictPolicy::Fail,
            resume: None,
            journal: None,
            progress: None,
        }
    }
}

impl Client {
    /// Uploads all of `source` under `name` on this connection.
    ///
    /// Sends `UPLOAD` (asking to continue `options.resume` if given), then
    /// the payload from the offset the server confirms, reporting the upload
    /// id and MD5 checkpoints to `options.journal`, and checks the server's
    /// verdict. A source that turns out shorter or longer than it measured
    /// is [`ClientError::SourceChanged`]. For uploads that survive broken
    /// connections, see [`crate::transfer::upload`].
    pub fn upload(
        &mut self,
        mut source: impl UploadSource,
        name: &str,
        options: UploadOptions<'_>,
    ) -> Result<Stored, ClientError> {
        let UploadOptions {
            policy,
            resume,
            journal,
            progress,
        } = options;
        let mut quiet = no_progress;
        let progress = progress.unwrap_or(&mut quiet);
        let mut unheard = |_| {};
        let journal = journal.unwrap_or(&mut unheard);
        let origin = match source.origin() {
            Some(path) => path.to_owned(),
            None => PathBuf::from(name),
        };
        let local = |cause| ClientError::local("read", &origin, cause);

        let checked = crate::folders::file_path(name)?;
        self.ensure_usable()?;
        let size = source.upload_size().map_err(local)?;
        let started = Instant::now();
        let request = Request::Upload {
            name: checked.into(),
            size,
            policy,
            resume: resume.as_ref().map(|r| r.upload_id.to_owned()),
        };
        let (upload_id, offset) = match self.call(&request) {
            Ok(Reply::Ready { upload_id, offset }) => (upload_id, offset),
            Ok(other) => return Err(unexpected(&other)),
            Err(e @ ClientError::Server { .. }) => {
                // The protocol always expects a body; this one is empty.
                self.conn.queue(UploadFrame::Abort);
                self.flush()?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        if offset > size {
            self.abort_upload()?;
            return Err(ClientError::Protocol(format!(
                "it asked to continue at byte {offset} of a {size}-byte upload"
            )));
        }
        info!(
            "upload start name={} size={size} policy={policy} id={upload_id} offset={offset}",
            escaped(name)
        );
        journal(UploadEvent::Ready {
            upload_id: upload_id.clone(),
            offset,
        });
        let mut hasher = match hash_prefix(&mut source, offset, resume.as_ref(), &origin) {
            Ok(h) => StreamHasher::with_end(h, offset, size),
            Err(e) => {
                self.abort_upload()?;
                return Err(e);
            }
        };

        let mut sent = offset;
        let mut ahead = match source.as_file() {
            Some(file) if size - offset >= DIRECT_FROM => {
                ReadAhead::start(file, offset, size - offset)
            }
            _ => None,
        };
        while sent < size {
            let got = match &mut ahead {
                // A large file is read directly, a few pieces ahead, and
                // each piece hashed where it lies once it is sent.
                Some(ahead) => {
                    let piece = match ahead.next_piece() {
                        Some(Ok(piece)) => piece,
                        failed => {
                            self.abort_upload()?;
                            return Err(match failed {
                                Some(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                                    ClientError::SourceChanged(origin.clone())
                                }
                                Some(Err(e)) => local(e),
                                _ => local(io::Error::other("the read-ahead thread stopped")),
                            });
                        }
                    };
                    self.conn
                        .send_frame(piece.bytes())
                        .map_err(|e| self.lost(e))?;
                    let got = piece.bytes().len();
                    hasher.update_with(got, move |hasher| hasher.update(piece.bytes()));
                    got
                }
                // Otherwise read into the hasher's buffer: it hashes the
                // bytes once they are sent (on its own thread for a large
                // file) without a copy.
                None => {
                    let want = (size - sent).min(CHUNK_SIZE) as usize;
                    let mut buf = hasher.buffer(want);
                    let want = want.min(buf.len());
                    let got = match read_up_to(&mut source, &mut buf[..want]) {
                        Ok(n) => n,
                        Err(e) => {
                            self.abort_upload()?;
                            return Err(local(e));
                        }
                    };
                    if got < want {
                        self.abort_upload()?;
                        return Err(ClientError::SourceChanged(origin.clone()));
                    }
                    self.conn
                        .send_frame(&buf[..got])
                        .map_err(|e| self.lost(e))?;
                    hasher.update_owned(buf, got);
                    got
                }
            };
            sent += got as u64;
            if sent / CHECKPOINT_BYTES > (sent - got as u64) / CHECKPOINT_BYTES {
                hasher.mark();
            }
            if let Some(snapshot) = hasher.take_checkpoint() {
                journal(UploadEvent::Checkpoint(Checkpoint {
                    offset: snapshot.offset,
                    hash_state: snapshot.state,
                }));
            }
            let report = Progress {
                stage: Stage::Transferring,
                done: sent,
                total: size,
            };
            if progress(report).is_break() {
                // Closing (rather than ABORT) keeps what the server has, so
                // the same upload can be continued later: a pause.
                self.broken = true;
                info!("upload paused name={} after {sent} bytes", escaped(name));
                return Err(ClientError::Cancelled);
            }
        }
        // A source that grew since it was measured is not what was announced.
        if ahead.is_some() {
            source.seek(SeekFrom::Start(size)).map_err(local)?;
        }
        if read_up_to(&mut source, &mut [0u8]).unwrap_or(0) != 0 {
            self.abort_upload()?;
            return Err(ClientError::SourceChanged(origin.clone()));
        }
        let md5 = hasher.finish().finish();
        self.conn.queue(UploadFrame::Done(md5));
        self.flush()?;
        let _ = progress(Progress {
            stage: Stage::Verifying,
            done: size,
            total: size,
        });
        match self.read_reply()? {
            Reply::Stored {
                name: stored_name,
                version,
                size: stored_size,
                md5: stored_md5,
            } => {
                if stored_md5 != md5 || stored_size != size {
                    return Err(ClientError::Protocol(format!(
                        "it stored {stored_size} bytes with MD5 {stored_md5}, but {size} bytes with MD5 {md5} were sent"
                    )));
                }
                info!(
                    "upload done name={} stored_as={} version={version} bytes={size} sent={} md5={md5} secs={:.3}",
                    escaped(name),
                    escaped(&stored_name),
                    size - offset,
                    started.elapsed().as_secs_f64()
                );
                let _ = progress(Progress {
                    stage: Stage::Done,
                    done: size,
                    total: size,
                });
                Ok(Stored {
                    name: stored_name,
                    version,
                    size,
                    md5,
                })
            }
            Reply::Error { code, message } => {
                warn!("upload failed name={}: {message}", escaped(name));
                Err(ClientError::Server { code, message })
            }
            other => Err(unexpected(&other)),
        }
    }

    /// Ends an upload body early with `ABORT` and reads the server's answer.
    fn abort_upload(&mut self) -> Result<(), ClientError> {
        self.conn.queue(UploadFrame::Abort);
        self.flush()?;
        match self.read_reply()? {
            Reply::Ok => Ok(()),
            Reply::Error { .. } => Ok(()),
            other => Err(unexpected(&other)),
        }
    }
}

/// The newest checkpoint at or before `offset`, restored.
fn best_checkpoint(resume: Option<&Resume<'_>>, offset: u64) -> Option<(u64, Hasher)> {
    resume
        .into_iter()
        .flat_map(|r| r.checkpoints.iter())
        .filter(|c| c.offset <= offset)
        .max_by_key(|c| c.offset)
        .and_then(|c| Some((c.offset, Hasher::restore(&c.hash_state)?)))
}

/// The MD5 state over the first `offset` bytes of `source`, leaving the
/// source positioned at `offset`: from the newest saved checkpoint at or
/// before it when there is one, so only the bytes after it are re-read.
fn hash_prefix(
    source: &mut (impl Read + Seek),
    offset: u64,
    resume: Option<&Resume<'_>>,
    origin: &Path,
) -> Result<Hasher, ClientError> {
    let local = |cause| ClientError::local("read", origin, cause);
    let (mut at, mut hasher) = best_checkpoint(resume, offset).unwrap_or((0, Hasher::new()));
    source.seek(SeekFrom::Start(at)).map_err(local)?;
    let mut buf = chunk_buffer();
    while at < offset {
        let want = (offset - at).min(CHUNK_SIZE) as usize;
        let got = read_up_to(source, &mut buf[..want]).map_err(local)?;
        if got < want {
            return Err(ClientError::SourceChanged(origin.to_owned()));
        }
        hasher.update(&buf[..got]);
        at += got as u64;
    }
    Ok(hasher)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_proto::hash::md5_bytes;

    #[test]
    fn default_options_are_a_fresh_upload_that_refuses_a_taken_name() {
        let options = UploadOptions::default();
        assert_eq!(options.policy, ConflictPolicy::Fail);
        assert!(options.resume.is_none() && options.journal.is_none());
        assert!(options.progress.is_none());
    }

    fn checkpoint(data: &[u8], offset: usize) -> Checkpoint {
        let mut hasher = Hasher::new();
        hasher.update(&data[..offset]);
        Checkpoint {
            offset: offset as u64,
            hash_state: hasher.save(),
        }
    }

    #[test]
    fn the_newest_usable_checkpoint_is_restored() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 253) as u8).collect();
        let saved = [
            checkpoint(&data, 1000),
            checkpoint(&data, 3000),
            checkpoint(&data, 2000),
        ];
        let resume = Resume {
            upload_id: "u1",
            checkpoints: &saved,
        };
        let pick = |offset| best_checkpoint(Some(&resume), offset).map(|(at, _)| at);
        assert_eq!(pick(2999), Some(2000));
        assert_eq!(pick(3000), Some(3000));
        assert_eq!(pick(999), None, "none is early enough");
        assert_eq!(best_checkpoint(None, 4000).map(|(at, _)| at), None);
    }

    #[test]
    fn a_resumed_prefix_hashes_like_the_whole() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 253) as u8).collect();
        let saved = [checkpoint(&data, 1000)];
        let resume = Resume {
            upload_id: "u1",
            checkpoints: &saved,
        };
        let mut source = io::Cursor::new(&data);
        let mut hasher = hash_prefix(&mut source, 4000, Some(&resume), Path::new("x")).unwrap();
        assert_eq!(source.position(), 4000);
        hasher.update(&data[4000..]);
        assert_eq!(hasher.finish(), md5_bytes(&data));

        let short = hash_prefix(&mut io::Cursor::new(&data[..10]), 20, None, Path::new("x"));
        assert!(matches!(short, Err(ClientError::SourceChanged(_))));
    }
}
