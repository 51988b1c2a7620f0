//! The blocking client library: connect, log in, list, upload, download,
//! history, delete, logs and user management, with progress callbacks.
//!
//! One [`Client`] is one connection. It is blocking by design: the desktop
//! app runs each transfer on a worker thread with its own `Client`, the CLI
//! simply waits. Progress is reported through a callback that can also stop
//! the transfer (return [`ControlFlow::Break`]).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use log::{info, warn};

use crate::appender::DIRECT_FROM;
use crate::hash::{Hasher, Md5Digest, StreamHasher};
use crate::names::{NameError, escaped, validate_name};
use crate::protocol::{
    CHUNK_SIZE, ConflictPolicy, ErrorCode, FileEntry, MAX_LINE_BYTES, PROTOCOL_VERSION, Reply,
    Request, Role, Secret, UploadFrame, VersionInfo, line_str,
};
use crate::read_ahead::ReadAhead;
use crate::wire::{Conn, LineError, RECEIVE_PIECE, chunk_buffer};

/// How long to wait for a TCP connection to be accepted.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one read or write may stall before the server is considered gone.
pub const DEFAULT_IO_TIMEOUT: Duration = Duration::from_secs(120);

/// Everything that can go wrong for a client. Each message is one sentence
/// that says what happened and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No TCP connection could be made.
    #[error(
        "could not connect to {addr}: {cause}; check the address and that a Ferry server is running there"
    )]
    Connect {
        /// The address as given.
        addr: String,
        /// What the OS said (part of the message, so not chained as a source).
        cause: io::Error,
    },
    /// The connection failed or was closed mid-conversation.
    #[error("the connection to the server was lost ({0}); check the network and try again")]
    Io(io::Error),
    /// The server refused the request; its message says why.
    #[error("{message}")]
    Server {
        /// The server's error code.
        code: ErrorCode,
        /// The server's explanation.
        message: String,
    },
    /// The server sent something this client does not understand.
    #[error(
        "the server sent something unexpected ({0}); make sure it is a Ferry server of the same version"
    )]
    Protocol(String),
    /// Downloaded bytes do not match the server's MD5.
    #[error(
        "the downloaded data is corrupt (MD5 {actual}, but the server stored {expected}); nothing was saved, try again"
    )]
    Corrupt {
        /// The server's MD5.
        expected: Md5Digest,
        /// The MD5 of what arrived.
        actual: Md5Digest,
    },
    /// A local file could not be read or written.
    #[error("could not {action} {}: {cause}", path.display())]
    Local {
        /// What was being done ("read", "create", …).
        action: &'static str,
        /// Which file.
        path: PathBuf,
        /// What the OS said (part of the message, so not chained as a source).
        cause: io::Error,
    },
    /// The file name breaks the naming rules.
    #[error("the name {name:?} is not allowed: {reason}; choose another name")]
    BadName {
        /// The refused name.
        name: String,
        /// Why.
        reason: NameError,
    },
    /// The local file changed size while it was being sent.
    #[error(
        "{0} changed while it was being uploaded; nothing was stored, try again when it is not being written"
    )]
    SourceChanged(PathBuf),
    /// The mirrors of a multi-mirror download do not agree on the file.
    #[error(
        "the mirrors do not agree on the file ({0}); nothing was written, check the mirror list"
    )]
    NoMajority(String),
    /// The progress callback asked to stop.
    #[error("the transfer was cancelled")]
    Cancelled,
}

impl ClientError {
    /// The server's error code, if the server refused the request.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Which part of a transfer is under way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Bytes are moving.
    Transferring,
    /// All bytes moved; the MD5 check is running.
    Verifying,
    /// The MD5 check passed.
    Done,
}

/// A progress report for one transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// What is happening.
    pub stage: Stage,
    /// Bytes moved so far (including any that were already there on resume).
    pub done: u64,
    /// Bytes in the whole file.
    pub total: u64,
}

impl Progress {
    /// The fraction to show on a progress bar: never 1.0 before the MD5
    /// check has passed.
    pub fn fraction(&self) -> f32 {
        if self.stage == Stage::Done {
            return 1.0;
        }
        if self.total == 0 {
            return 0.0;
        }
        ((self.done as f64 / self.total as f64) as f32).min(0.999)
    }
}

/// Where progress goes: return `ControlFlow::Break(())` to cancel.
pub type ProgressFn<'a> = &'a mut dyn FnMut(Progress) -> ControlFlow<()>;

/// Where a download's bytes go, piece by piece; `Break` stops the download.
pub type Sink<'a> = dyn FnMut(&[u8]) -> Result<ControlFlow<()>, ClientError> + 'a;

/// A progress callback that ignores reports and never cancels.
pub fn no_progress(_: Progress) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

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

/// What a download delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Downloaded {
    /// The version that was downloaded.
    pub version: u32,
    /// Its size in bytes.
    pub size: u64,
    /// Its MD5, checked.
    pub md5: Md5Digest,
}

/// The header of a download: which version and which bytes are coming.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeInfo {
    /// The version being sent.
    pub version: u32,
    /// The version's total size.
    pub size: u64,
    /// MD5 of the whole version.
    pub md5: Md5Digest,
    /// First byte sent.
    pub offset: u64,
    /// Bytes sent.
    pub length: u64,
}

/// The bytes of an upload: anything to read and seek. A local file says
/// so, and a large one is then read directly from the disk, past the page
/// cache (see [`ReadAhead`]).
pub trait UploadSource: Read + Seek {
    /// The file behind the source, if it is one.
    fn as_file(&self) -> Option<&File> {
        None
    }
}

impl UploadSource for File {
    fn as_file(&self) -> Option<&File> {
        Some(self)
    }
}

impl<T: AsRef<[u8]>> UploadSource for io::Cursor<T> {}

impl<S: UploadSource + ?Sized> UploadSource for &mut S {
    fn as_file(&self) -> Option<&File> {
        (**self).as_file()
    }
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

/// How many files a batch sends ahead of their replies.
const PIPELINE_FILES: usize = 64;
/// How many payload bytes a batch sends ahead of their replies.
const PIPELINE_BYTES: u64 = 8 << 20;
/// Files up to this size are pipelined by [`Client::upload_many`].
pub const BATCH_MAX_FILE: u64 = 1 << 20;

/// How often an upload reports an MD5 checkpoint.
pub const CHECKPOINT_BYTES: u64 = 8 << 20;

/// A connection to a Ferry server.
pub struct Client {
    conn: Conn<TcpStream>,
    server: String,
    user: Option<String>,
    broken: bool,
}

impl Client {
    /// Connects to `addr` (`host:port`) and reads the server's greeting.
    pub fn connect(addr: &str) -> Result<Client, ClientError> {
        Client::connect_with_timeout(addr, DEFAULT_IO_TIMEOUT)
    }

    /// Like [`Client::connect`], giving up on any read or write that stalls
    /// for `io_timeout`.
    pub fn connect_with_timeout(addr: &str, io_timeout: Duration) -> Result<Client, ClientError> {
        let connect_err = |cause| ClientError::Connect {
            addr: addr.to_owned(),
            cause,
        };
        let targets: Vec<_> = addr.to_socket_addrs().map_err(connect_err)?.collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the name resolved to no address");
        let mut stream = None;
        for target in targets {
            match TcpStream::connect_timeout(&target, CONNECT_TIMEOUT) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let stream = stream.ok_or_else(|| connect_err(last))?;
        stream.set_nodelay(true).map_err(connect_err)?;
        stream
            .set_read_timeout(Some(io_timeout))
            .and_then(|()| stream.set_write_timeout(Some(io_timeout)))
            .map_err(connect_err)?;
        let mut client = Client {
            conn: Conn::new(stream, MAX_LINE_BYTES * 4, 256 * 1024),
            server: addr.to_owned(),
            user: None,
            broken: false,
        };
        match client.read_reply()? {
            Reply::Hello { version, .. } if version == PROTOCOL_VERSION => Ok(client),
            Reply::Hello { version, .. } => Err(ClientError::Protocol(format!(
                "it speaks protocol version {version}, this client speaks {PROTOCOL_VERSION}"
            ))),
            Reply::Error { code, message } => Err(ClientError::Server { code, message }),
            other => Err(unexpected(&other)),
        }
    }

    /// Connects and logs in.
    pub fn connect_and_login(
        addr: &str,
        user: &str,
        password: &str,
    ) -> Result<(Client, Role), ClientError> {
        let mut client = Client::connect(addr)?;
        let role = client.login(user, password)?;
        Ok((client, role))
    }

    /// The server address this client was connected with.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Logs in; returns the user's role.
    pub fn login(&mut self, user: &str, password: &str) -> Result<Role, ClientError> {
        let request = Request::Login {
            user: user.to_owned(),
            password: Secret(password.to_owned()),
        };
        match self.call(&request) {
            Ok(Reply::LoggedIn(role)) => {
                info!(
                    "login ok server={} user={} role={role}",
                    self.server,
                    escaped(user)
                );
                self.user = Some(user.to_owned());
                Ok(role)
            }
            Ok(other) => Err(unexpected(&other)),
            Err(e) => {
                warn!(
                    "login failed server={} user={}: {e}",
                    self.server,
                    escaped(user)
                );
                Err(e)
            }
        }
    }

    /// The files on the server, each with its current version.
    pub fn list(&mut self) -> Result<Vec<FileEntry>, ClientError> {
        let count = match self.call(&Request::List)? {
            Reply::ListHeader(n) => n,
            other => return Err(unexpected(&other)),
        };
        self.read_items(count, |r| match r {
            Reply::File(entry) => Ok(entry),
            other => Err(other),
        })
    }

    /// One version's details; `None` for the current version.
    pub fn stat(&mut self, name: &str, version: Option<u32>) -> Result<VersionInfo, ClientError> {
        let request = Request::Stat {
            name: name.to_owned(),
            version,
        };
        match self.call(&request)? {
            Reply::Stat(info) => Ok(info),
            other => Err(unexpected(&other)),
        }
    }

    /// Every version of a file, oldest first.
    pub fn history(&mut self, name: &str) -> Result<Vec<VersionInfo>, ClientError> {
        let count = match self.call(&Request::History {
            name: name.to_owned(),
        })? {
            Reply::HistoryHeader(n) => n,
            other => return Err(unexpected(&other)),
        };
        self.read_items(count, |r| match r {
            Reply::Version(info) => Ok(info),
            other => Err(other),
        })
    }

    /// Deletes a file with its whole history, or one version. Returns how
    /// many versions were removed.
    pub fn delete(&mut self, name: &str, version: Option<u32>) -> Result<u32, ClientError> {
        let request = Request::Delete {
            name: name.to_owned(),
            version,
        };
        match self.call(&request)? {
            Reply::Deleted { versions, .. } => {
                info!("deleted name={} version={version:?}", escaped(name));
                Ok(versions)
            }
            other => Err(unexpected(&other)),
        }
    }

    /// The last `lines` lines of the server log (admin only).
    pub fn logs(&mut self, lines: u32) -> Result<Vec<String>, ClientError> {
        let count = match self.call(&Request::Logs { lines })? {
            Reply::LogsHeader(n) => n,
            other => return Err(unexpected(&other)),
        };
        self.read_items(count, |r| match r {
            Reply::LogLine(line) => Ok(line),
            other => Err(other),
        })
    }

    /// All users with their roles (admin only).
    pub fn users(&mut self) -> Result<Vec<(String, Role)>, ClientError> {
        let count = match self.call(&Request::Users)? {
            Reply::UsersHeader(n) => n,
            other => return Err(unexpected(&other)),
        };
        self.read_items(count, |r| match r {
            Reply::User { name, role } => Ok((name, role)),
            other => Err(other),
        })
    }

    /// Adds a user (admin only).
    pub fn add_user(&mut self, user: &str, role: Role, password: &str) -> Result<(), ClientError> {
        self.call_ok(&Request::UserAdd {
            user: user.to_owned(),
            role,
            password: Secret(password.to_owned()),
        })
    }

    /// Removes a user (admin only).
    pub fn remove_user(&mut self, user: &str) -> Result<(), ClientError> {
        self.call_ok(&Request::UserDel {
            user: user.to_owned(),
        })
    }

    /// Sets a password: any user's for admins, one's own for users.
    pub fn set_password(&mut self, user: &str, password: &str) -> Result<(), ClientError> {
        self.call_ok(&Request::Passwd {
            user: user.to_owned(),
            password: Secret(password.to_owned()),
        })
    }

    /// Changes a user's role (admin only).
    pub fn set_role(&mut self, user: &str, role: Role) -> Result<(), ClientError> {
        self.call_ok(&Request::SetRole {
            user: user.to_owned(),
            role,
        })
    }

    /// Checks that the connection is alive.
    pub fn ping(&mut self) -> Result<(), ClientError> {
        self.call_ok(&Request::Ping)
    }

    /// Says goodbye and closes the connection.
    pub fn quit(mut self) -> Result<(), ClientError> {
        match self.call(&Request::Quit)? {
            Reply::Bye => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// Uploads a local file under `name` in one go on this connection. For
    /// uploads that survive broken connections, see [`crate::transfer::upload`].
    pub fn upload_file(
        &mut self,
        path: &Path,
        name: &str,
        policy: ConflictPolicy,
        progress: ProgressFn<'_>,
    ) -> Result<Stored, ClientError> {
        let (file, size) = open_source(path)?;
        self.upload_with(file, size, name, policy, None, &mut |_| {}, progress, path)
    }

    /// Uploads `size` bytes from `source` under `name`.
    pub fn upload(
        &mut self,
        source: impl UploadSource,
        size: u64,
        name: &str,
        policy: ConflictPolicy,
        progress: ProgressFn<'_>,
    ) -> Result<Stored, ClientError> {
        self.upload_with(
            source,
            size,
            name,
            policy,
            None,
            &mut |_| {},
            progress,
            Path::new(name),
        )
    }

    /// The upload engine. Sends UPLOAD (asking to continue `resume` if
    /// given), sends the payload from the offset the server confirms,
    /// reports the upload id and MD5 checkpoints to `journal` so a caller can
    /// save them, and checks the server's verdict. `origin` names the source
    /// in local errors.
    #[allow(clippy::too_many_arguments)]
    pub fn upload_with(
        &mut self,
        mut source: impl UploadSource,
        size: u64,
        name: &str,
        policy: ConflictPolicy,
        resume: Option<&Resume<'_>>,
        journal: &mut dyn FnMut(UploadEvent),
        progress: ProgressFn<'_>,
        origin: &Path,
    ) -> Result<Stored, ClientError> {
        check_name(name)?;
        self.ensure_usable()?;
        let started = Instant::now();
        let request = Request::Upload {
            name: name.to_owned(),
            size,
            policy,
            resume: resume.map(|r| r.upload_id.to_owned()),
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
        let local = |cause| ClientError::Local {
            action: "read",
            path: origin.to_owned(),
            cause,
        };
        let mut hasher = match self.hash_prefix(&mut source, offset, resume, origin) {
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
                                    ClientError::SourceChanged(origin.to_owned())
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
                    let got = match read_full(&mut source, &mut buf[..want]) {
                        Ok(n) => n,
                        Err(e) => {
                            self.abort_upload()?;
                            return Err(local(e));
                        }
                    };
                    if got < want {
                        self.abort_upload()?;
                        return Err(ClientError::SourceChanged(origin.to_owned()));
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
            if let Some(snapshot) = hasher.take_snapshot() {
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
        if read_full(&mut source, &mut [0u8]).unwrap_or(0) != 0 {
            self.abort_upload()?;
            return Err(ClientError::SourceChanged(origin.to_owned()));
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

    /// Uploads many files on this one connection. Small files (up to
    /// [`BATCH_MAX_FILE`]) are pipelined: a window of them is sent before any
    /// reply is read, so the server can commit them together. Larger ones are
    /// sent one at a time. `each` hears the outcome of every file by its
    /// index; a refusal of one file does not stop the others. Only a broken
    /// connection ends the batch early (as `Err`).
    pub fn upload_many(
        &mut self,
        files: &[(PathBuf, String)],
        policy: ConflictPolicy,
        each: &mut dyn FnMut(usize, Result<Stored, ClientError>),
    ) -> Result<(), ClientError> {
        let mut next = 0;
        while next < files.len() {
            // Fill a window with small files.
            let mut window: Vec<(usize, u64, Md5Digest)> = Vec::new();
            let mut bytes = 0u64;
            while next < files.len() && window.len() < PIPELINE_FILES && bytes < PIPELINE_BYTES {
                let (path, name) = &files[next];
                let small = match read_small(path) {
                    Ok(small) => small,
                    Err(e) => {
                        each(next, Err(e));
                        next += 1;
                        continue;
                    }
                };
                let Some(data) = small else { break }; // a big file: sent alone below
                if let Err(e) = check_name(name) {
                    each(next, Err(e));
                    next += 1;
                    continue;
                }
                let md5 = crate::hash::md5_bytes(&data);
                self.conn.queue(Request::Upload {
                    name: name.clone(),
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
                let outcome = match self.read_reply()? {
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
                        Reply::Error { code, message } => {
                            Err(ClientError::Server { code, message })
                        }
                        other => return Err(unexpected(&other)),
                    },
                    Reply::Error { code, message } => Err(ClientError::Server { code, message }),
                    other => return Err(unexpected(&other)),
                };
                if let Ok(stored) = &outcome {
                    info!(
                        "upload done name={} version={} bytes={size} md5={md5} (batch)",
                        escaped(&stored.name),
                        stored.version
                    );
                }
                each(index, outcome);
            }
            if next < files.len() && read_small(&files[next].0).is_ok_and(|s| s.is_none()) {
                let (path, name) = &files[next];
                let result = self.upload_file(path, name, policy, &mut no_progress);
                if matches!(result, Err(ClientError::Io(_))) || self.broken {
                    return result.map(|_| ());
                }
                each(next, result);
                next += 1;
            }
        }
        Ok(())
    }

    /// Downloads many files (current versions) on this one connection, a
    /// window of requests ahead of the replies. Each lands in its `.part`
    /// and is renamed into place after its MD5 check; small files are not
    /// fsynced one by one. `each` hears every outcome by index; only a broken
    /// connection ends the batch early.
    pub fn download_many(
        &mut self,
        files: &[(String, PathBuf)],
        each: &mut dyn FnMut(usize, Result<Downloaded, ClientError>),
    ) -> Result<(), ClientError> {
        for (start, window) in files.chunks(PIPELINE_FILES).enumerate() {
            for (name, _) in window {
                self.conn.queue(Request::Download {
                    name: name.clone(),
                    version: None,
                    offset: 0,
                    length: None,
                });
            }
            self.flush()?;
            for (k, (name, dest)) in window.iter().enumerate() {
                let outcome = self.receive_into(name, dest)?;
                each(start * PIPELINE_FILES + k, outcome);
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
            other => return Err(unexpected(&other)),
        };
        let part = crate::transfer::part_path(dest);
        let local = |action, path: &Path, cause| ClientError::Local {
            action,
            path: path.to_owned(),
            cause,
        };
        // Whatever goes wrong locally, the payload is still read to the end
        // so the conversation stays in step for the next file.
        let mut file = File::create(&part).map_err(|cause| local("create", &part, cause));
        let mut hasher = Hasher::new();
        let mut sink = |piece: &[u8]| {
            hasher.update(piece);
            if let Ok(f) = file.as_mut()
                && let Err(cause) = f.write_all(piece)
            {
                file = Err(local("write", &part, cause));
            }
            Ok(ControlFlow::Continue(()))
        };
        let received = self.receive_frames(name, size, &mut sink)?;
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
            return Ok(Err(local("save", dest, cause)));
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

    /// The MD5 state over the first `offset` bytes of `source`, leaving the
    /// source positioned at `offset`: from the newest saved checkpoint at or
    /// before it when there is one, so only the bytes after it are re-read.
    fn hash_prefix(
        &mut self,
        source: &mut (impl Read + Seek),
        offset: u64,
        resume: Option<&Resume<'_>>,
        origin: &Path,
    ) -> Result<Hasher, ClientError> {
        let local = |cause| ClientError::Local {
            action: "read",
            path: origin.to_owned(),
            cause,
        };
        let start = resume
            .into_iter()
            .flat_map(|r| r.checkpoints.iter())
            .filter(|c| c.offset <= offset)
            .max_by_key(|c| c.offset)
            .and_then(|c| Some((c.offset, Hasher::restore(&c.hash_state)?)));
        let (mut at, mut hasher) = start.unwrap_or((0, Hasher::new()));
        source.seek(SeekFrom::Start(at)).map_err(local)?;
        let mut buf = chunk_buffer();
        while at < offset {
            let want = (offset - at).min(CHUNK_SIZE) as usize;
            let got = read_full(source, &mut buf[..want]).map_err(local)?;
            if got < want {
                return Err(ClientError::SourceChanged(origin.to_owned()));
            }
            hasher.update(&buf[..got]);
            at += got as u64;
        }
        Ok(hasher)
    }

    /// Downloads a file (its current version, or `version`) into `sink` in
    /// one go. The MD5 is checked before this returns `Ok`; on
    /// [`ClientError::Corrupt`] the caller must discard what it got. For
    /// downloads to disk that resume, see [`crate::transfer::download`].
    pub fn download(
        &mut self,
        name: &str,
        version: Option<u32>,
        sink: &mut dyn Write,
        progress: ProgressFn<'_>,
    ) -> Result<Downloaded, ClientError> {
        let started = Instant::now();
        let mut hasher = StreamHasher::new(Hasher::new(), 0);
        let mut received = 0u64;
        let total = std::cell::Cell::new(0u64);
        let info = self.download_range(
            name,
            version,
            0,
            None,
            &mut |info| {
                total.set(info.size);
                Ok(())
            },
            &mut |piece| {
                hasher.update(piece);
                sink.write_all(piece).map_err(|cause| ClientError::Local {
                    action: "write",
                    path: PathBuf::from(name),
                    cause,
                })?;
                received += piece.len() as u64;
                Ok(progress(Progress {
                    stage: Stage::Transferring,
                    done: received,
                    total: total.get(),
                }))
            },
        )?;
        let _ = progress(Progress {
            stage: Stage::Verifying,
            done: info.size,
            total: info.size,
        });
        let actual = hasher.finish().finish();
        if actual != info.md5 {
            warn!(
                "download corrupt name={} version={} md5={actual} expected={}",
                escaped(name),
                info.version,
                info.md5
            );
            return Err(ClientError::Corrupt {
                expected: info.md5,
                actual,
            });
        }
        info!(
            "download done name={} version={} bytes={} md5={actual} secs={:.3}",
            escaped(name),
            info.version,
            info.size,
            started.elapsed().as_secs_f64()
        );
        let _ = progress(Progress {
            stage: Stage::Done,
            done: info.size,
            total: info.size,
        });
        Ok(Downloaded {
            version: info.version,
            size: info.size,
            md5: actual,
        })
    }

    /// Downloads `length` bytes (to the end for `None`) of a version from
    /// `offset`. `check` sees the reply header first and may refuse it (for
    /// a version other than the one expected); `sink` gets each piece as it
    /// arrives and may stop the transfer. Either way the connection is then
    /// unusable, as the server is still sending.
    pub fn download_range(
        &mut self,
        name: &str,
        version: Option<u32>,
        offset: u64,
        length: Option<u64>,
        check: &mut dyn FnMut(&RangeInfo) -> Result<(), ClientError>,
        sink: &mut Sink<'_>,
    ) -> Result<RangeInfo, ClientError> {
        check_name(name)?;
        self.ensure_usable()?;
        let request = Request::Download {
            name: name.to_owned(),
            version,
            offset,
            length,
        };
        let info = match self.call(&request)? {
            Reply::Download {
                version,
                size,
                md5,
                offset: got_offset,
                length: got_length,
            } if got_offset == offset && length.is_none_or(|l| l == got_length) => RangeInfo {
                version,
                size,
                md5,
                offset,
                length: got_length,
            },
            other => {
                self.broken = true;
                return Err(unexpected(&other));
            }
        };
        if let Err(e) = check(&info) {
            self.broken = true;
            return Err(e);
        }
        self.receive_frames(name, info.length, sink)?.map(|()| info)
    }

    /// Reads the DATA frames of a download of `length` bytes up to its END,
    /// handing every piece to `sink`. The inner `Err` is an `ERR` the server
    /// sent instead of a frame (the conversation stays in step); the outer
    /// one leaves the connection unusable: it broke, the server broke the
    /// framing, or `sink` stopped or failed while the server was sending.
    fn receive_frames(
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

    /// The MD5 of every [`CHUNK_SIZE`] piece of a version: the chunk size
    /// the server used and the digests in order.
    pub fn chunks(
        &mut self,
        name: &str,
        version: Option<u32>,
    ) -> Result<(u64, Vec<Md5Digest>), ClientError> {
        let (chunk_size, count) = match self.call(&Request::Chunks {
            name: name.to_owned(),
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

    // -- plumbing -----------------------------------------------------------

    fn abort_upload(&mut self) -> Result<(), ClientError> {
        self.conn.queue(UploadFrame::Abort);
        self.flush()?;
        match self.read_reply()? {
            Reply::Ok => Ok(()),
            Reply::Error { .. } => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    fn ensure_usable(&self) -> Result<(), ClientError> {
        if self.broken {
            return Err(ClientError::Io(io::Error::new(
                io::ErrorKind::NotConnected,
                "this connection was closed after an interrupted transfer; connect again",
            )));
        }
        Ok(())
    }

    fn lost(&mut self, e: io::Error) -> ClientError {
        self.broken = true;
        ClientError::Io(e)
    }

    fn flush(&mut self) -> Result<(), ClientError> {
        self.conn.flush().map_err(|e| self.lost(e))
    }

    /// Sends a request and reads its first reply line; an `ERR` becomes `Err`.
    fn call(&mut self, request: &Request) -> Result<Reply, ClientError> {
        self.ensure_usable()?;
        self.conn.queue(request);
        self.flush()?;
        match self.read_reply()? {
            Reply::Error { code, message } => Err(ClientError::Server { code, message }),
            reply => Ok(reply),
        }
    }

    fn call_ok(&mut self, request: &Request) -> Result<(), ClientError> {
        match self.call(request)? {
            Reply::Ok => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    fn read_reply(&mut self) -> Result<Reply, ClientError> {
        let line = match self.conn.read_line() {
            Ok(line) => line,
            Err(LineError::Io(e)) => return Err(self.lost(e)),
            Err(LineError::Closed | LineError::Truncated) => {
                return Err(self.lost(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                )));
            }
            Err(e @ LineError::TooLong(_)) => {
                self.broken = true;
                return Err(ClientError::Protocol(e.to_string()));
            }
        };
        let text = line_str(line).map_err(|e| ClientError::Protocol(e.to_string()))?;
        Reply::parse(text).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    fn read_items<T>(
        &mut self,
        count: u64,
        mut pick: impl FnMut(Reply) -> Result<T, Reply>,
    ) -> Result<Vec<T>, ClientError> {
        let mut items = Vec::with_capacity(count.min(100_000) as usize);
        for _ in 0..count {
            let reply = self.read_reply()?;
            items.push(pick(reply).map_err(|other| unexpected(&other))?);
        }
        Ok(items)
    }
}

/// Reads a file for a batch upload: its bytes if it is small, `None` if it
/// is too big to pipeline.
fn read_small(path: &Path) -> Result<Option<Vec<u8>>, ClientError> {
    let (mut file, size) = open_source(path)?;
    if size > BATCH_MAX_FILE {
        return Ok(None);
    }
    let mut data = Vec::with_capacity(size as usize);
    file.read_to_end(&mut data)
        .map_err(|cause| ClientError::Local {
            action: "read",
            path: path.to_owned(),
            cause,
        })?;
    if data.len() as u64 != size {
        return Err(ClientError::SourceChanged(path.to_owned()));
    }
    Ok(Some(data))
}

/// Opens a file to upload; returns it with its size.
pub fn open_source(path: &Path) -> Result<(File, u64), ClientError> {
    let local = |action, cause| ClientError::Local {
        action,
        path: path.to_owned(),
        cause,
    };
    let file = File::open(path).map_err(|e| local("open", e))?;
    let meta = file.metadata().map_err(|e| local("read", e))?;
    if meta.is_dir() {
        return Err(local(
            "upload",
            io::Error::new(
                io::ErrorKind::IsADirectory,
                "it is a folder; upload the files in it",
            ),
        ));
    }
    Ok((file, meta.len()))
}

fn check_name(name: &str) -> Result<(), ClientError> {
    validate_name(name).map_err(|reason| ClientError::BadName {
        name: name.to_owned(),
        reason,
    })
}

fn unexpected(reply: &Reply) -> ClientError {
    let mut shown = reply.to_string();
    shown.truncate(80);
    ClientError::Protocol(format!("{shown:?}"))
}

/// Reads until `buf` is full or the source ends; returns how much was read.
fn read_full(source: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match source.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
