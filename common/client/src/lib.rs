//! Ferry's blocking client library, which the desktop app, the command-line
//! client, the benchmark and the tests all drive: one [`Client`] is one
//! connection to a Ferry server; [`transfer`] adds reconnecting, resuming
//! and retrying; [`mirror`] downloads one file from several servers; and
//! [`partial`] names the files a resumable download keeps.
//!
//! Nothing in here draws a window or writes to a terminal; the GUI and the
//! CLI are thin faces over it.
//!
//! It is blocking by design: the desktop app runs each transfer on a worker
//! thread with its own `Client`, the CLI simply waits. Progress is reported
//! through a callback that can also stop the transfer (return
//! [`ControlFlow::Break`]).
//!
//! Connections are TLS by default: [`tls`] verifies the server (certificate
//! authorities, pinned fingerprints, trust on first use) before anything is
//! sent; [`Security::Plaintext`] is for servers run with `--plaintext`.
//!
//! This module owns the connection itself (connect, greeting, login, the
//! request/reply plumbing every command shares) and the progress types.
//! The commands live in submodules:
//!
//! - `requests`: the short ones — list, stat, history, delete, logs, users;
//! - `upload`: [`Client::upload`], the one way to send a file, with
//!   [`UploadOptions`]; `source`: what it reads from ([`UploadSource`],
//!   [`LocalFile`]);
//! - `download`: [`Client::download`], the one way to fetch a file or a
//!   range of it, with [`DownloadOptions`], and [`Client::chunks`];
//! - `batch`: [`Client::upload_many`] and [`Client::download_many`], which
//!   pipeline many small files on one connection;
//! - `folders`: [`Client::ls`], `mkdir`, `rmdir`, `move_path`;
//! - `tree`: [`Client::upload_tree`] and [`Client::download_tree`], whole
//!   folders that report [`TreeProgress`], can be cancelled, and continue
//!   where they stopped when run again.
//!
//! Transfers that survive a broken connection (reconnect, resume, retry) are
//! [`crate::transfer`]'s; downloads from several servers are
//! [`crate::mirror`]'s. Both are built on this module, never the other way
//! round.

#![deny(missing_docs)]

pub mod mirror;
pub mod partial;
pub mod tls;
pub mod transfer;

mod batch;
mod download;
mod error;
mod folders;
mod requests;
mod source;
mod stream;
mod tree;
mod upload;

use std::io::{self, Read};
use std::net::{TcpStream, ToSocketAddrs};
use std::ops::ControlFlow;
use std::time::Duration;

use log::{info, warn};

use ferry_io::wire::{Conn, LineError};
use ferry_proto::names::{FileName, escaped};
use ferry_proto::protocol::{
    ErrorCode, MAX_LINE_BYTES, PROTOCOL_VERSION, Reply, Request, Role, Secret, line_str,
};
use stream::Stream;

pub use batch::BATCH_MAX_FILE;
pub use download::{DownloadOptions, Downloaded, Span};
pub use error::ClientError;
pub use folders::{Entry, Moved, Removed, file_path};
pub use source::{LocalFile, UploadSource};
pub use tls::{Security, Trust, Verified};
pub use tree::{
    DownloadPlan, TreeDownloadOptions, TreeDownloaded, TreeEachFn, TreeProgress, TreeProgressFn,
    TreeUploadOptions, TreeUploaded, UploadPlan, plan_download, plan_upload,
};
pub use upload::{CHECKPOINT_BYTES, Checkpoint, Resume, Stored, UploadEvent, UploadOptions};

/// How long to wait for a TCP connection to be accepted.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one read or write may stall before the server is considered gone.
pub const DEFAULT_IO_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a server that accepted the connection may take to finish the
/// TLS handshake and greet: much less than [`DEFAULT_IO_TIMEOUT`], because
/// a live server greets at once and a hung one should not keep a user
/// looking at "Connecting…" for two minutes. The normal timeout applies
/// once it greeted.
pub const GREETING_TIMEOUT: Duration = Duration::from_secs(15);

/// Which part of a transfer is under way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Bytes are moving.
    Transferring,
    /// All bytes moved; the MD5 check is running.
    Verifying,
    /// The MD5 check passed.
    Done,
    /// The connection was lost; waiting to reconnect for retry `retry` of
    /// `of` (resumable transfers only; the bytes done are those before the
    /// loss).
    Reconnecting {
        /// Which retry is coming, from 1.
        retry: u32,
        /// How many retries there are in all.
        of: u32,
    },
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

/// A progress callback that ignores reports and never cancels.
pub fn no_progress(_: Progress) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

/// A connection to a Ferry server.
pub struct Client {
    conn: Conn<Stream>,
    server: String,
    verified: Verified,
    /// The server's TLS fingerprint; `None` in plaintext.
    fingerprint: Option<String>,
    user: Option<String>,
    /// Set once the conversation is out of step (a transfer was cut off
    /// while the server was still sending or expecting bytes): every later
    /// request is refused instead of misreading the stream.
    broken: bool,
    /// How many times the queued requests were sent off to be answered.
    round_trips: u64,
}

impl Client {
    /// Connects to `addr` (`host:port`), secured by `security` (over TLS
    /// the server is verified before anything is sent), and reads the
    /// server's greeting.
    pub fn connect(addr: &str, security: &Security) -> Result<Client, ClientError> {
        Client::connect_with_timeout(addr, security, DEFAULT_IO_TIMEOUT)
    }

    /// Like [`Client::connect`], giving up on any read or write that stalls
    /// for `io_timeout`, and on a server that has not greeted within
    /// [`GREETING_TIMEOUT`].
    pub fn connect_with_timeout(
        addr: &str,
        security: &Security,
        io_timeout: Duration,
    ) -> Result<Client, ClientError> {
        Client::connect_with_deadlines(addr, security, io_timeout, GREETING_TIMEOUT)
    }

    /// Like [`Client::connect_with_timeout`], giving a server that accepted
    /// the connection `greeting_timeout` (at most `io_timeout`) to finish
    /// the TLS handshake and greet; `io_timeout` applies from then on.
    pub fn connect_with_deadlines(
        addr: &str,
        security: &Security,
        io_timeout: Duration,
        greeting_timeout: Duration,
    ) -> Result<Client, ClientError> {
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
        // A second handle on the same socket, to restore the timeout once
        // the stream is wrapped in TLS.
        let socket = stream.try_clone().map_err(connect_err)?;
        set_timeouts(&socket, io_timeout.min(greeting_timeout)).map_err(connect_err)?;
        let waited = io_timeout.min(greeting_timeout);
        let (stream, verified, fingerprint) = match security {
            Security::Plaintext => (Stream::Plain(stream), Verified::Plaintext, None),
            Security::Tls(trust) => {
                let done = tls::handshake(stream, addr, trust)
                    .map_err(|e| silent_as_no_answer(e, addr, waited))?;
                info!("TLS with {addr}: {} ({})", done.fingerprint, done.verified);
                (
                    Stream::Tls(Box::new(done.stream)),
                    done.verified,
                    Some(done.fingerprint),
                )
            }
        };
        let mut client = Client {
            conn: Conn::new(stream, MAX_LINE_BYTES * 4, 256 * 1024),
            server: addr.to_owned(),
            verified,
            fingerprint,
            user: None,
            broken: false,
            round_trips: 0,
        };
        let greeting = client
            .read_reply()
            .map_err(|e| silent_as_no_answer(e, addr, waited))?;
        set_timeouts(&socket, io_timeout).map_err(connect_err)?;
        match greeting {
            Reply::Hello { version, .. } if version == PROTOCOL_VERSION => Ok(client),
            Reply::Hello { version, .. } => Err(ClientError::Protocol(format!(
                "it speaks protocol version {version}, this client speaks {PROTOCOL_VERSION}"
            ))),
            Reply::Error {
                code: ErrorCode::TlsRequired,
                ..
            } => Err(ClientError::NeedsTls {
                addr: addr.to_owned(),
            }),
            Reply::Error { code, message } => Err(ClientError::Server { code, message }),
            other => Err(unexpected(&other)),
        }
    }

    /// Connects and logs in.
    pub fn connect_and_login(
        addr: &str,
        security: &Security,
        user: &str,
        password: &str,
    ) -> Result<(Client, Role), ClientError> {
        let mut client = Client::connect(addr, security)?;
        let role = client.login(user, password)?;
        Ok((client, role))
    }

    /// The server address this client was connected with.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// How the server was verified.
    pub fn verified(&self) -> Verified {
        self.verified
    }

    /// The fingerprint of the server's TLS certificate; `None` in plaintext.
    pub fn fingerprint(&self) -> Option<&str> {
        self.fingerprint.as_deref()
    }

    /// Who the server is, for records that must not mix two servers up
    /// (resume state): its fingerprint over TLS, whatever address reached
    /// it; in plaintext, only the address says.
    pub fn identity(&self) -> String {
        match &self.fingerprint {
            Some(fingerprint) => fingerprint.clone(),
            None => format!("plaintext {}", self.server),
        }
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

    /// How many round trips this connection has made: times it sent what
    /// it had queued and then waited for the answer. A pipelined batch
    /// makes one per window of files, not one per file, and this is how a
    /// caller (a benchmark, a test) can tell. A refused upload's closing
    /// `ABORT`, which has no answer, counts too, so it is an upper bound.
    pub fn round_trips(&self) -> u64 {
        self.round_trips
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

    // -- plumbing shared by the submodules ------------------------------------

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

    /// Sends what is queued, to be answered: one of [`Client::round_trips`].
    fn flush(&mut self) -> Result<(), ClientError> {
        self.round_trips += 1;
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

    /// Reads the `count` item lines after a header, turning each into a `T`
    /// with `pick` (which hands back a reply that does not fit).
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

/// `name` as a [`FileName`], checked before anything is sent, or the
/// [`ClientError::BadName`] that says why it is not allowed.
pub fn file_name(name: &str) -> Result<FileName, ClientError> {
    FileName::try_from(name).map_err(|reason| ClientError::BadName {
        name: name.to_owned(),
        reason,
    })
}

/// "15 s", "0.3 s".
fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Sets both stall timeouts of a socket.
fn set_timeouts(socket: &TcpStream, timeout: Duration) -> io::Result<()> {
    socket.set_read_timeout(Some(timeout))?;
    socket.set_write_timeout(Some(timeout))
}

/// A server that accepted the connection but stayed silent through the
/// handshake or the greeting, as the one sentence the user reads; any
/// other error as it is.
fn silent_as_no_answer(e: ClientError, addr: &str, waited: Duration) -> ClientError {
    let cause = match &e {
        ClientError::Io(cause) | ClientError::Connect { cause, .. } => cause,
        _ => return e,
    };
    if !matches!(
        cause.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ) {
        return e;
    }
    ClientError::Connect {
        addr: addr.to_owned(),
        cause: io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "it accepted the connection but did not answer within {}",
                seconds(waited)
            ),
        ),
    }
}

fn unexpected(reply: &Reply) -> ClientError {
    let mut shown = reply.to_string();
    shown.truncate(80);
    ClientError::Protocol(format!("{shown:?}"))
}

/// Reads until `buf` is full or the source ends; returns how much was read.
/// (`read_exact` cannot say how much a short source had.)
pub(crate) fn read_up_to(source: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_is_never_full_before_the_md5_check() {
        let at = |stage, done, total| Progress { stage, done, total }.fraction();
        assert_eq!(at(Stage::Transferring, 0, 0), 0.0);
        assert_eq!(at(Stage::Transferring, 50, 100), 0.5);
        assert!(at(Stage::Transferring, 100, 100) < 1.0);
        assert!(at(Stage::Verifying, 100, 100) < 1.0);
        assert_eq!(at(Stage::Done, 100, 100), 1.0);
        assert_eq!(at(Stage::Done, 0, 0), 1.0, "an empty file is done too");
    }

    #[test]
    fn no_progress_never_cancels() {
        let report = Progress {
            stage: Stage::Transferring,
            done: 1,
            total: 2,
        };
        assert_eq!(no_progress(report), ControlFlow::Continue(()));
    }

    /// A reader that hands out at most `step` bytes per call and is
    /// interrupted before each.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
        interrupt: bool,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn read_up_to_fills_through_short_and_interrupted_reads() {
        let data: Vec<u8> = (0..100).collect();
        let mut source = Trickle {
            data: &data,
            step: 7,
            interrupt: false,
        };
        let mut buf = [0u8; 30];
        assert_eq!(read_up_to(&mut source, &mut buf).unwrap(), 30);
        assert_eq!(buf[..], data[..30]);
        let mut rest = [0u8; 100];
        assert_eq!(read_up_to(&mut source, &mut rest).unwrap(), 70, "the end");
        assert_eq!(rest[..70], data[30..]);
        assert_eq!(read_up_to(&mut source, &mut rest).unwrap(), 0);
    }

    #[test]
    fn names_are_checked_before_anything_is_sent() {
        assert!(file_name("report 1.pdf").is_ok());
        for bad in ["", "a/b", "..", "x\ny"] {
            assert!(
                matches!(file_name(bad), Err(ClientError::BadName { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn unexpected_replies_are_shown_short() {
        let e = unexpected(&Reply::LogLine("x".repeat(500)));
        let ClientError::Protocol(text) = e else {
            panic!("{e:?}")
        };
        assert!(text.len() < 100, "{text}");
    }
}
