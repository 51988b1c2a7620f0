//! Fetching one file, or part of it, on one connection:
//! [`Client::download`] with its [`DownloadOptions`] (which version, which
//! bytes as a [`Span`], which MD5 it must have), the DATA-frame reader every
//! download shares, and [`Client::chunks`], the per-chunk MD5s that let a
//! caller repair a damaged copy.
//!
//! Downloads to disk that resume across runs are [`crate::transfer`]'s;
//! several servers at once are [`crate::mirror`]'s. Both call
//! [`Client::download`].

use std::io::{self, Write};
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

use log::{info, warn};

use super::{Client, ClientError, Progress, ProgressFn, Stage, no_progress, unexpected};
use crate::folders::file_path;
use ferry_io::hashing::StreamHasher;
use ferry_io::wire::RECEIVE_PIECE;
use ferry_proto::hash::{Hasher, Md5Digest};
use ferry_proto::names::escaped;
use ferry_proto::protocol::{Reply, Request};

/// Which bytes of a version a download fetches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Span {
    /// The whole file, checked against the server's MD5 before the download
    /// returns `Ok`.
    #[default]
    Whole,
    /// From this byte to the end: continuing a download whose first bytes
    /// the caller holds. The caller checks the MD5 of the whole.
    From(u64),
    /// `length` bytes from `offset`: one piece. Not checked here either.
    Range {
        /// The first byte.
        offset: u64,
        /// How many bytes.
        length: u64,
    },
}

impl Span {
    /// The first byte fetched.
    pub fn offset(self) -> u64 {
        match self {
            Span::Whole => 0,
            Span::From(offset) | Span::Range { offset, .. } => offset,
        }
    }

    /// How many bytes are asked for; `None` for up to the end.
    pub fn length(self) -> Option<u64> {
        match self {
            Span::Whole | Span::From(_) => None,
            Span::Range { length, .. } => Some(length),
        }
    }
}

/// Choices for [`Client::download`]. `DownloadOptions::default()` fetches
/// the whole current version, checked, reporting nothing.
#[derive(Default)]
pub struct DownloadOptions<'a> {
    /// The version to fetch; `None` for the current one.
    pub version: Option<u32>,
    /// Which bytes.
    pub span: Span,
    /// The MD5 the version must have: a reply for other content is refused
    /// before a byte is written, so a resume never splices two versions.
    pub expect_md5: Option<Md5Digest>,
    /// Hears the progress (bytes counted from the start of the file);
    /// `Break` stops the download.
    pub progress: Option<ProgressFn<'a>>,
}

/// What a download delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Downloaded {
    /// The version that was downloaded.
    pub version: u32,
    /// The size of the whole version in bytes.
    pub size: u64,
    /// The MD5 of the whole version: checked against the bytes for
    /// [`Span::Whole`], as the server stated it otherwise.
    pub md5: Md5Digest,
}

/// Where a download's bytes go inside this module, piece by piece; `Break`
/// stops the download.
pub(super) type Sink<'a> = dyn FnMut(&[u8]) -> Result<ControlFlow<()>, ClientError> + 'a;

impl Client {
    /// Downloads `name` into `sink`: the version, bytes and expected MD5
    /// that `options` asks for.
    ///
    /// For [`Span::Whole`] the MD5 is checked before this returns `Ok`; on
    /// [`ClientError::Corrupt`] the caller must discard what it got. An
    /// error from `sink` that wraps a [`ClientError`]
    /// (`io::Error::other(e)`) comes back as that error; any other is a
    /// local write failure. After a refused reply, a failing sink or a
    /// `Break`, the connection is unusable, as the server is still sending;
    /// after an `ERR` from the server it stays in step. For downloads to
    /// disk that resume, see [`crate::transfer::download`].
    pub fn download(
        &mut self,
        name: &str,
        sink: &mut dyn Write,
        options: DownloadOptions<'_>,
    ) -> Result<Downloaded, ClientError> {
        let DownloadOptions {
            version,
            span,
            expect_md5,
            progress,
        } = options;
        let mut quiet = no_progress;
        let progress = progress.unwrap_or(&mut quiet);
        let checked = file_path(name)?;
        self.ensure_usable()?;
        let started = Instant::now();
        let (offset, length) = (span.offset(), span.length());
        let request = Request::Download {
            name: checked.into(),
            version,
            offset,
            length,
        };
        let (got_version, size, md5, got_length) = match self.call(&request)? {
            Reply::Download {
                version,
                size,
                md5,
                offset: got_offset,
                length: got_length,
            } if got_offset == offset && length.is_none_or(|l| l == got_length) => {
                (version, size, md5, got_length)
            }
            other => {
                self.broken = true;
                return Err(unexpected(&other));
            }
        };
        let wrong_version = version.is_some_and(|v| v != got_version);
        if expect_md5.is_some_and(|expected| expected != md5 || wrong_version) {
            self.broken = true;
            return Err(ClientError::Protocol(
                "it sent another version than the one asked for".into(),
            ));
        }

        // Only a whole file can be checked here; a caller continuing from
        // an offset hashes its own bytes.
        let mut hasher = (span == Span::Whole).then(|| StreamHasher::new(Hasher::new(), 0));
        let mut done = offset;
        let received = self.receive_frames(name, got_length, &mut |piece| {
            if let Some(hasher) = hasher.as_mut() {
                hasher.update(piece);
            }
            sink.write_all(piece).map_err(|e| sink_error(e, name))?;
            done += piece.len() as u64;
            Ok(progress(Progress {
                stage: Stage::Transferring,
                done,
                total: size,
            }))
        })?;
        received?;
        let Some(hasher) = hasher else {
            return Ok(Downloaded {
                version: got_version,
                size,
                md5,
            });
        };

        let _ = progress(Progress {
            stage: Stage::Verifying,
            done: size,
            total: size,
        });
        let actual = hasher.finish().finish();
        if actual != md5 {
            warn!(
                "download corrupt name={} version={got_version} md5={actual} expected={md5}",
                escaped(name),
            );
            return Err(ClientError::Corrupt {
                expected: md5,
                actual,
            });
        }
        info!(
            "download done name={} version={got_version} bytes={size} md5={actual} secs={:.3}",
            escaped(name),
            started.elapsed().as_secs_f64()
        );
        let _ = progress(Progress {
            stage: Stage::Done,
            done: size,
            total: size,
        });
        Ok(Downloaded {
            version: got_version,
            size,
            md5: actual,
        })
    }

    /// Reads the DATA frames of a download of `length` bytes up to its END,
    /// handing every piece to `sink`. The inner `Err` is an `ERR` the server
    /// sent instead of a frame (the conversation stays in step); the outer
    /// one leaves the connection unusable: it broke, the server broke the
    /// framing, or `sink` stopped or failed while the server was sending.
    pub(super) fn receive_frames(
        &mut self,
        name: &str,
        length: u64,
        sink: &mut Sink<'_>,
    ) -> Result<Result<(), ClientError>, ClientError> {
        let mut buf = vec![0u8; RECEIVE_PIECE];
        let mut received = 0u64;
        loop {
            match self.read_reply()? {
                Reply::Data(n) if received + n <= length => {
                    let mut left = n as usize;
                    while left > 0 {
                        let piece = left.min(buf.len());
                        self.conn
                            .read_payload(&mut buf[..piece])
                            .map_err(|e| self.lost(e))?;
                        let flow = sink(&buf[..piece]).inspect_err(|_| self.broken = true)?;
                        if flow.is_break() {
                            self.broken = true;
                            info!(
                                "download of {} stopped after {received} bytes",
                                escaped(name)
                            );
                            return Err(ClientError::Cancelled);
                        }
                        left -= piece;
                    }
                    received += n;
                }
                Reply::Data(_) => {
                    self.broken = true;
                    return Err(ClientError::Protocol(
                        "it sent more bytes than announced".into(),
                    ));
                }
                Reply::End if received == length => return Ok(Ok(())),
                Reply::End => {
                    self.broken = true;
                    return Err(ClientError::Protocol(format!(
                        "it ended the download after {received} of {length} bytes"
                    )));
                }
                Reply::Error { code, message } => {
                    return Ok(Err(ClientError::Server { code, message }));
                }
                other => {
                    self.broken = true;
                    return Err(unexpected(&other));
                }
            }
        }
    }

    /// The MD5 of every [`ferry_proto::protocol::CHUNK_SIZE`] piece of a version:
    /// the chunk size the server used and the digests in order.
    pub fn chunks(
        &mut self,
        name: &str,
        version: Option<u32>,
    ) -> Result<(u64, Vec<Md5Digest>), ClientError> {
        let (chunk_size, count) = match self.call(&Request::Chunks {
            name: name.into(),
            version,
        })? {
            Reply::ChunksHeader { chunk_size, count } => (chunk_size, count),
            other => return Err(unexpected(&other)),
        };
        let mut next = 0u64;
        let digests = self.read_items(count, |r| match r {
            Reply::Chunk { index, md5 } if index == next => {
                next += 1;
                Ok(md5)
            }
            other => Err(other),
        })?;
        Ok((chunk_size, digests))
    }
}

/// The error for a sink that failed: its own [`ClientError`] if it wrapped
/// one, else a failed write of the download.
fn sink_error(e: io::Error, name: &str) -> ClientError {
    match e.downcast::<ClientError>() {
        Ok(own) => own,
        Err(e) => ClientError::local("write", Path::new(name), e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_say_which_bytes_to_ask_for() {
        assert_eq!(Span::default(), Span::Whole);
        assert_eq!((Span::Whole.offset(), Span::Whole.length()), (0, None));
        assert_eq!((Span::From(7).offset(), Span::From(7).length()), (7, None));
        let range = Span::Range {
            offset: 4 << 30,
            length: 1000,
        };
        assert_eq!((range.offset(), range.length()), (4 << 30, Some(1000)));
    }

    #[test]
    fn default_options_fetch_the_current_version_whole() {
        let options = DownloadOptions::default();
        assert_eq!(options.version, None);
        assert_eq!(options.span, Span::Whole);
        assert!(options.expect_md5.is_none() && options.progress.is_none());
    }

    #[test]
    fn a_sink_can_fail_with_its_own_error() {
        let own = ClientError::local("write", Path::new("x.part"), io::ErrorKind::Other.into());
        let back = sink_error(io::Error::other(own), "x");
        assert!(
            matches!(&back, ClientError::Local { path, .. } if path == Path::new("x.part")),
            "{back:?}"
        );
        let plain = sink_error(io::ErrorKind::StorageFull.into(), "x");
        assert!(
            matches!(&plain, ClientError::Local { action: "write", path, .. } if path == Path::new("x")),
            "{plain:?}"
        );
    }
}
