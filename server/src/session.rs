//! One client connection: greeting, login, and the request loop.
//!
//! The conversation code is generic over `Read + Write` so a TLS stream can
//! wrap the socket later; only [`serve`] knows it is a `TcpStream` (wrapped
//! in a [`Metered`] that counts and paces its bytes). Every
//! request is parsed by `ferry_common::protocol`, checked against the user's
//! current role, and answered in order. A refusal is an `ERR` line and the
//! conversation goes on; broken framing or a dead peer ends it.

use std::collections::hash_map::Entry;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, PoisonError};
use std::thread;
use std::time::Instant;

use ferry_common::Md5Digest;
use ferry_common::names::{escaped, validate_name};
use ferry_common::protocol::{
    CHUNK_SIZE, ConflictPolicy, ErrorCode, MAX_LOG_LINES, PROTOCOL_VERSION, ProtocolError, Reply,
    Request, Role, Secret, UploadFrame, line_str,
};
use ferry_common::wire::{Conn, LineError};
use log::{error, info, warn};

use crate::Shared;
use crate::anonymous::Stranger;
use crate::auth::{self, Key, Refusal, check_password, check_user_name, verify_password};
use crate::db::{DbError, NewVersion};
use crate::finished::Finished;
use crate::log_budget::{LogBudget, held_back_note};
use crate::logfile;
use crate::meter::{ListenerStats, Metered};
use crate::space::{self, Reserved};
use crate::storage::Partial;

/// Read buffer per connection; transfer buffers are allocated only while a
/// transfer runs, so idle connections stay small.
const READ_BUFFER: usize = 8 * 1024;

/// Serves one connection accepted by the listener counting into `stats`,
/// until it ends.
pub(crate) fn serve(
    shared: &Shared,
    stats: &Arc<ListenerStats>,
    stream: TcpStream,
    peer: SocketAddr,
    stranger: Stranger,
) {
    let accepted = Instant::now();
    let stream = Metered::new(stream, Arc::clone(stats), shared.config.rate_limit)
        .with_write_timeout(shared.config.io_timeout);
    let setup = stream
        .get_ref()
        .set_nodelay(true)
        .and_then(|()| {
            stream
                .get_ref()
                .set_write_timeout(Some(shared.config.io_timeout))
        })
        .and_then(|()| Transport::set_read_timeout(&stream, Some(shared.config.idle_timeout)));
    if let Err(e) = setup {
        warn!("peer={peer} connection setup failed: {e}");
        return;
    }
    info!("peer={peer} connect");
    let mut session = Session {
        shared,
        stats,
        conn: Conn::new(stream, shared.config.max_line, READ_BUFFER),
        peer,
        user: None,
        batch: Batch::default(),
        stranger: Some(stranger),
        login_deadline: accepted + shared.config.login_timeout,
        strikes: 0,
        refusal_log: LogBudget::new(REFUSALS_LOGGED, REFUSAL_LOG_EVERY, accepted),
    };
    let end = session.run();
    // What the client still sends after the end is discarded unmetered.
    linger(session.conn.get_ref().get_ref());
    let held_back = match session.refusal_log.take_held_back() {
        0 => String::new(),
        n => format!("; {n} of its refusals were not logged"),
    };
    info!(
        "{} disconnect ({end}) after {:.1}s{held_back}",
        session.who(),
        accepted.elapsed().as_secs_f64()
    );
}

/// Malformed request lines (or refused requests before a login) that a
/// connection may send before it is closed: a real client sends none.
pub(crate) const MAX_STRIKES: u32 = 20;
/// Refusals of one connection logged one per line before the log budget
/// holds them back ...
const REFUSALS_LOGGED: u32 = 10;
/// ... and then one per this long.
const REFUSAL_LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Closes politely: stops sending, then reads (briefly, boundedly) what the
/// client still sends. Closing a socket with unread input makes the kernel
/// reset the connection, which can destroy our last error line in flight.
fn linger(stream: &TcpStream) {
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_millis(500)));
    // On the heap: a big array here would make every connection thread
    // touch its stack pages (stack probes) from the start.
    let mut sink = vec![0u8; 8192];
    let mut budget = 1 << 20;
    let mut reader = stream;
    while budget > 0 {
        match reader.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => budget -= n.min(budget),
        }
    }
}

/// What arrived of an upload body.
struct Body {
    /// Bytes of the file received so far, including any from an earlier connection.
    arrived: u64,
    /// More bytes came than were announced.
    overflow: bool,
    /// Writing to disk failed; later bytes are read and dropped.
    write_error: Option<io::Error>,
}

/// A connection's exclusive hold on an upload id, so two connections never
/// write one partial upload. Released on drop.
struct Claim<'a> {
    shared: &'a Shared,
    id: String,
    /// The disk space promised to the upload, given back with the claim.
    space: Option<Reserved>,
}

impl<'a> Claim<'a> {
    /// Claims `id` for the connection on `socket`, waiting a little for
    /// another connection that holds it. A client that reconnects after a
    /// network cut is usually faster than the server's notice that its old
    /// connection is gone, and a silent cut is noticed only at the I/O
    /// timeout. So with `take_over` (the same user continuing the same
    /// upload) the old connection is cut at once, which makes it keep what
    /// it received and let go.
    fn take(
        shared: &'a Shared,
        id: &str,
        mut socket: Option<TcpStream>,
        take_over: bool,
    ) -> Result<Claim<'a>, Fault> {
        let mut cut = false;
        for _ in 0..60 {
            let mut active = shared
                .active_uploads
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match active.entry(id.to_owned()) {
                Entry::Vacant(slot) => {
                    slot.insert(socket.take());
                    return Ok(Claim {
                        shared,
                        id: id.to_owned(),
                        space: None,
                    });
                }
                Entry::Occupied(holder) if take_over && !cut => {
                    if let Some(old) = holder.get() {
                        info!("upload {id} is continued on a new connection; cutting the old one");
                        let _ = old.shutdown(std::net::Shutdown::Both);
                    }
                    cut = true;
                }
                Entry::Occupied(_) => {}
            }
            drop(active);
            thread::sleep(std::time::Duration::from_millis(50));
        }
        Err(refuse(
            ErrorCode::Busy,
            "this upload is still being received on another connection; try again in a minute",
        ))
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.shared
            .active_uploads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// Counts one request as being handled until it is dropped.
struct Busy<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> Busy<'a> {
    fn new(count: &'a std::sync::atomic::AtomicUsize) -> Self {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Busy(count)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// What the session needs of its stream beyond reading and writing.
pub(crate) trait Transport {
    /// Sets how long one read may wait.
    fn set_read_timeout(&self, timeout: Option<std::time::Duration>) -> io::Result<()>;
    /// Sets when reads must be done, whatever the read timeout (`None`:
    /// no deadline). Only a stream that keeps one implements it.
    fn set_deadline(&self, _deadline: Option<Instant>) {}
    /// Whether the peer has sent bytes not yet read, without waiting.
    fn has_pending_input(&self) -> bool;
    /// A second handle on the socket, for another connection to cut this
    /// one (asked for only while an upload runs: it costs a descriptor).
    fn socket(&self) -> Option<TcpStream>;
}

impl Transport for TcpStream {
    fn set_read_timeout(&self, timeout: Option<std::time::Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }

    fn has_pending_input(&self) -> bool {
        if self.set_nonblocking(true).is_err() {
            return false;
        }
        let mut byte = [0u8; 1];
        let pending = matches!(self.peek(&mut byte), Ok(n) if n > 0);
        let _ = self.set_nonblocking(false);
        pending
    }

    fn socket(&self) -> Option<TcpStream> {
        self.try_clone().ok()
    }
}

/// How handling a request went wrong.
enum Fault {
    /// Answer `ERR code message` and carry on.
    Refuse(ErrorCode, String),
    /// The conversation is over; the reason is for the log.
    End(String),
}

impl From<io::Error> for Fault {
    fn from(e: io::Error) -> Self {
        Fault::End(format!("connection error: {e}"))
    }
}

impl From<DbError> for Fault {
    fn from(e: DbError) -> Self {
        db_failure(&e)
    }
}

/// Logs a database failure; the refusal the client gets for it.
fn db_failure(e: &DbError) -> Fault {
    error!("database failure: {e}");
    if e.is_disk_full() {
        return refuse(
            ErrorCode::NoSpace,
            "the server's disk is full; nothing was changed, tell the admin",
        );
    }
    refuse(
        ErrorCode::Internal,
        "the server's database failed; try again, and tell the admin if it persists",
    )
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> Fault {
    Fault::Refuse(code, message.into())
}

type Handled = Result<Flow, Fault>;

/// Whether the conversation goes on after a request.
enum Flow {
    Continue,
    Quit,
}

struct User {
    name: String,
    role: Role,
}

struct Session<'a, S> {
    shared: &'a Shared,
    /// The counters of the listener that accepted this connection.
    stats: &'a ListenerStats,
    conn: Conn<S>,
    peer: SocketAddr,
    user: Option<User>,
    /// Verified uploads from a pipelining client, committed together.
    batch: Batch<'a>,
    /// Counts this connection as not logged in, until its first login.
    stranger: Option<Stranger>,
    /// Reads before the first login must be done by then.
    login_deadline: Instant,
    /// Malformed lines, and refused requests before a login, so far.
    strikes: u32,
    /// How many of this connection's refusals reach the log.
    refusal_log: LogBudget,
}

/// Uploads received and verified but not yet committed, and every reply
/// that must wait behind them so replies stay in request order.
#[derive(Default)]
struct Batch<'a> {
    uploads: Vec<Verified<'a>>,
    held: Vec<Held>,
    bytes: u64,
}

/// An upload whose bytes arrived intact, waiting for its commit.
struct Verified<'a> {
    partial: Partial,
    landing: Landing<'a>,
}

/// What is known of a verified upload besides its bytes.
struct Landing<'a> {
    id: String,
    name: String,
    policy: ConflictPolicy,
    size: u64,
    md5: Md5Digest,
    offset: u64,
    started: Instant,
    /// Held until the upload is recorded, so that a resume of it waits for
    /// the outcome.
    _claim: Claim<'a>,
}

/// How an upload request goes on once its checks passed.
enum Prepared<'a> {
    /// Receive the body into this upload.
    Receive(Box<Partial>, Claim<'a>),
    /// The resumed upload was committed already: confirm it.
    Stored(Finished),
}

/// A reply held behind uncommitted uploads.
enum Held {
    Line(Reply),
    /// The final reply of `batch.uploads[i]`, known once it is committed.
    Upload(usize),
}

/// Uploads up to this size may wait for a group commit.
const BATCH_MAX_FILE: u64 = 1 << 20;
/// How many uploads a group commit takes at most.
const BATCH_MAX_UPLOADS: usize = 64;
/// How many bytes a group commit takes at most.
const BATCH_MAX_BYTES: u64 = 16 << 20;

impl<'a, S: Read + Write + Transport> Session<'a, S> {
    /// The request loop; returns why it ended.
    fn run(&mut self) -> String {
        let hello = Reply::Hello {
            version: PROTOCOL_VERSION,
            text: format!("ferry-server {} ready", env!("CARGO_PKG_VERSION")),
        };
        if let Err(e) = self.conn.send(hello) {
            return format!("could not greet: {e}");
        }
        self.conn.get_ref().set_deadline(self.base_deadline());
        loop {
            let request = self.read_request();
            let _busy = Busy::new(&self.shared.busy);
            // Anything but another upload first commits the uploads waiting.
            if !matches!(request, Ok(Ok(Request::Upload { .. }))) {
                self.commit_batch();
            }
            let mut struck = false;
            let outcome = match request {
                Ok(Ok(request)) => self.handle(request),
                Ok(Err((code, message, upload_verb))) => {
                    self.strikes += 1;
                    struck = true;
                    let refusal = Err(Fault::Refuse(code, message));
                    if upload_verb {
                        self.refuse_upload(refusal)
                    } else {
                        refusal
                    }
                }
                Err(reason) => return reason,
            };
            let flow = match outcome {
                Ok(flow) => flow,
                Err(Fault::Refuse(code, message)) => {
                    if !struck && self.stranger.is_some() {
                        self.strikes += 1;
                    }
                    self.log_refusal(format_args!("refused: {code} {}", escaped(&message)));
                    self.emit(Reply::error(code, message));
                    Flow::Continue
                }
                Err(Fault::End(reason)) => {
                    // Uploads that arrived intact are kept even so.
                    self.commit_batch();
                    let _ = self.conn.flush();
                    return reason;
                }
            };
            // Held uploads are committed as soon as the client has sent all
            // it had (whatever the last request was: a refused upload too).
            if !self.batch.uploads.is_empty() && !self.has_pending_input() {
                self.commit_batch();
            }
            if self.strikes >= MAX_STRIKES {
                self.commit_batch();
                let _ = self.conn.send(Reply::error(
                    ErrorCode::BadRequest,
                    "too many malformed or refused requests; closing the connection",
                ));
                return format!("closed after {MAX_STRIKES} malformed or refused requests");
            }
            if let Err(e) = self.conn.flush() {
                return format!("connection error: {e}");
            }
            if let Flow::Quit = flow {
                return "quit".into();
            }
        }
    }

    /// The deadline for every read outside a request line: the login
    /// deadline until the first login (so a refused upload's body cannot be
    /// trickled in for ever either), none after it.
    fn base_deadline(&self) -> Option<Instant> {
        self.stranger.is_some().then_some(self.login_deadline)
    }

    /// Logs one of this connection's refusals, within its log budget; the
    /// next line logged says how many were held back.
    fn log_refusal(&mut self, what: std::fmt::Arguments<'_>) {
        if let Some(held_back) = self.refusal_log.allow(Instant::now()) {
            info!("{} {what}{}", self.who(), held_back_note(held_back));
        }
    }

    /// Reads and parses the next request. The inner `Err` is a refusal to
    /// send (code, message, whether the verb was UPLOAD); the outer one ends
    /// the conversation.
    #[allow(clippy::type_complexity)]
    fn read_request(&mut self) -> Result<Result<Request, (ErrorCode, String, bool)>, String> {
        // The idle timeout restarts with every byte; the deadline does not,
        // so a line sent a byte at a time cannot hold the connection.
        let deadline = self.base_deadline();
        let deadline = deadline.unwrap_or_else(|| Instant::now() + self.shared.config.idle_timeout);
        self.conn.get_ref().set_deadline(Some(deadline));
        let read = self.conn.read_line().map(drop);
        self.conn.get_ref().set_deadline(self.base_deadline());
        let line = match read {
            Ok(()) => self.conn.last_line(),
            Err(e) if self.stranger.is_some() && Instant::now() >= self.login_deadline => {
                let secs = self.shared.config.login_timeout.as_secs_f64();
                let _ = self.conn.send(Reply::error(
                    ErrorCode::Timeout,
                    format!(
                        "no login within {secs:.0} seconds of connecting; closing the connection, connect again and log in"
                    ),
                ));
                return Err(format!("not logged in within {secs:.0}s ({e})"));
            }
            Err(e) => return Err(self.line_failure(e)),
        };
        let text = match line_str(line) {
            Ok(text) => text,
            Err(e) => return Ok(Err((ErrorCode::BadRequest, e.to_string(), false))),
        };
        Ok(Request::parse(text).map_err(|e| {
            // The parser alone splits off the verb: a line it does not take
            // for an UPLOAD has no body to swallow.
            let upload_verb = e.verb() == Some("UPLOAD");
            let code = match e {
                ProtocolError::UnknownVerb(_) => ErrorCode::UnknownVerb,
                _ => ErrorCode::BadRequest,
            };
            (code, e.to_string(), upload_verb)
        }))
    }

    /// Reads one line; any failure ends the conversation (after telling the
    /// client why, where that is possible).
    fn read_line(&mut self) -> Result<&[u8], String> {
        match self.conn.read_line() {
            Ok(_) => Ok(self.conn.last_line()),
            Err(e) => Err(self.line_failure(e)),
        }
    }

    fn line_failure(&mut self, e: LineError) -> String {
        match e {
            LineError::Closed => "closed by client".into(),
            LineError::Truncated => "closed by client mid-line".into(),
            LineError::TooLong(max) => {
                let _ = self.conn.send(Reply::error(
                    ErrorCode::LineTooLong,
                    format!("a line may be at most {max} bytes; closing the connection"),
                ));
                format!("line longer than {max} bytes")
            }
            LineError::Io(e) if is_timeout(&e) => {
                let _ = self.conn.send(Reply::error(
                    ErrorCode::Timeout,
                    "nothing was received for too long; closing the connection, connect again when needed",
                ));
                "timed out".into()
            }
            LineError::Io(e) => format!("connection error: {e}"),
        }
    }

    fn who(&self) -> String {
        match &self.user {
            Some(u) => format!("peer={} user={}", self.peer, escaped(&u.name)),
            None => format!("peer={}", self.peer),
        }
    }

    fn handle(&mut self, request: Request) -> Handled {
        match request {
            Request::Login { user, password } => self.login(&user, &password),
            Request::Ping => self.ok(),
            Request::Quit => {
                self.conn.queue(Reply::Bye);
                Ok(Flow::Quit)
            }
            request => match self.authorize(&request) {
                Ok(()) => self.dispatch(request),
                Err(refusal) if matches!(request, Request::Upload { .. }) => {
                    // Answered here, not by the request loop: count it.
                    if self.stranger.is_some() {
                        self.strikes += 1;
                    }
                    self.refuse_upload(Err(refusal))
                }
                Err(refusal) => Err(refusal),
            },
        }
    }

    fn dispatch(&mut self, request: Request) -> Handled {
        match request {
            Request::List => self.list(),
            Request::Stat { name, version } => self.stat(&name, version),
            Request::History { name } => self.history(&name),
            Request::Download {
                name,
                version,
                offset,
                length,
            } => self.download(&name, version, offset, length),
            Request::Upload {
                name,
                size,
                policy,
                resume,
            } => self.upload(&name, size, policy, resume.as_deref()),
            Request::Chunks { name, version } => self.chunks(&name, version),
            Request::Delete { name, version } => self.delete(&name, version),
            Request::Logs { lines } => self.logs(lines),
            Request::Users => self.users(),
            Request::UserAdd {
                user,
                role,
                password,
            } => self.user_add(&user, role, &password),
            Request::UserDel { user } => self.user_del(&user),
            Request::Passwd { user, password } => self.passwd(&user, &password),
            Request::SetRole { user, role } => self.set_role(&user, role),
            Request::Login { .. } | Request::Ping | Request::Quit => {
                unreachable!("handled before dispatch")
            }
        }
    }

    /// Checks that someone is logged in and may run `request`.
    fn authorize(&mut self, request: &Request) -> Result<(), Fault> {
        let role = self.current_role()?;
        let starts_transfer = matches!(request, Request::Upload { .. } | Request::Download { .. });
        if starts_transfer
            && self
                .shared
                .stopping
                .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Err(refuse(
                ErrorCode::ShuttingDown,
                "the server is shutting down; try again in a minute",
            ));
        }
        if needs_admin(request) && role != Role::Admin {
            return Err(refuse(
                ErrorCode::Forbidden,
                format!(
                    "{} is for admins only; ask an admin to do it",
                    request.verb()
                ),
            ));
        }
        Ok(())
    }

    fn ok(&mut self) -> Handled {
        self.emit(Reply::Ok);
        Ok(Flow::Continue)
    }

    /// Queues a reply, or holds it behind uncommitted uploads.
    fn emit(&mut self, reply: Reply) {
        if self.batch.uploads.is_empty() {
            self.conn.queue(reply);
        } else {
            self.batch.held.push(Held::Line(reply));
        }
    }

    /// Like [`Session::emit`], and sends it at once if the client may be
    /// waiting for it (it has sent nothing further yet).
    fn emit_now(&mut self, reply: Reply) -> io::Result<()> {
        self.emit(reply);
        if self.batch.uploads.is_empty() && !self.has_pending_input() {
            self.conn.flush()?;
        }
        Ok(())
    }

    fn has_pending_input(&self) -> bool {
        self.conn.has_buffered_input() || self.conn.get_ref().has_pending_input()
    }

    /// Commits the uploads waiting in the batch together and releases the
    /// replies held behind them, in order.
    fn commit_batch(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        if batch.uploads.is_empty() {
            return;
        }
        let count = batch.uploads.len();
        let (partials, uploads): (Vec<Partial>, Vec<Landing<'_>>) = batch
            .uploads
            .into_iter()
            .map(|v| (v.partial, v.landing))
            .unzip();
        let blobs = self.shared.store.commit_many(partials);
        let uploader = self.user.as_ref().map_or(String::new(), |u| u.name.clone());
        let committed: Vec<usize> = (0..count).filter(|i| blobs[*i].is_ok()).collect();
        let news: Vec<NewVersion<'_>> = committed
            .iter()
            .map(|&i| {
                let upload = &uploads[i];
                NewVersion {
                    name: &upload.name,
                    policy: upload.policy,
                    size: upload.size,
                    md5: upload.md5,
                    blob: blobs[i].as_ref().expect("committed"),
                    uploader: &uploader,
                }
            })
            .collect();
        let recorded = self.shared.db.add_versions(&news);
        let mut replies: Vec<Option<Reply>> = (0..count).map(|_| None).collect();
        let mut unrecorded = Vec::new();
        for (k, &i) in committed.iter().enumerate() {
            let upload = &uploads[i];
            let (name, size, md5) = (&upload.name, upload.size, upload.md5);
            let outcome = match &recorded {
                Ok(results) => match &results[k] {
                    Ok((stored, version)) => {
                        info!(
                            "{} upload end name={} stored_as={} version={version} bytes={size} received={} md5={md5} secs={:.3} (group of {count})",
                            self.who(),
                            escaped(name),
                            escaped(stored),
                            size - upload.offset,
                            upload.started.elapsed().as_secs_f64()
                        );
                        let finished = Finished {
                            user: uploader.clone(),
                            name: name.clone(),
                            size,
                            md5,
                            stored_as: stored.clone(),
                            version: *version,
                        };
                        self.shared
                            .finished_uploads
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .record(upload.id.clone(), finished, Instant::now());
                        Ok(Reply::Stored {
                            name: stored.clone(),
                            version: *version,
                            size,
                            md5,
                        })
                    }
                    Err(DbError::Exists) => Err(exists(name)),
                    Err(e) => Err(db_failure(e)),
                },
                Err(e) => Err(db_failure(e)),
            };
            replies[i] = Some(match outcome {
                Ok(reply) => reply,
                Err(fault) => {
                    unrecorded.push(blobs[i].as_ref().expect("committed").clone());
                    fault_reply(fault)
                }
            });
        }
        for (i, blob) in blobs.iter().enumerate() {
            if let Err(e) = blob {
                error!(
                    "cannot commit the upload of {}: {e}",
                    escaped(&uploads[i].name)
                );
                replies[i] = Some(fault_reply(storage_failure(e)));
            }
        }
        self.shared.store.remove_blobs(&unrecorded);
        for held in batch.held {
            let reply = match held {
                Held::Line(reply) => reply,
                Held::Upload(i) => replies[i].take().expect("one reply per upload"),
            };
            self.conn.queue(reply);
        }
    }

    /// The logged-in user's role as the database has it now, so a removed
    /// or demoted user loses rights at once.
    fn current_role(&mut self) -> Result<Role, Fault> {
        let Some(user) = &self.user else {
            return Err(refuse(
                ErrorCode::NotLoggedIn,
                "log in first with LOGIN <user> <password>",
            ));
        };
        match self.shared.db.user(&user.name)? {
            Some((_, role)) => {
                if let Some(u) = self.user.as_mut() {
                    u.role = role;
                }
                Ok(role)
            }
            None => {
                self.user = None;
                Err(refuse(
                    ErrorCode::NotLoggedIn,
                    "your account no longer exists; ask an admin",
                ))
            }
        }
    }

    // -- login --------------------------------------------------------------

    fn login(&mut self, user: &str, password: &Secret) -> Handled {
        let keys = [Key::account(user), Key::address(self.peer.ip())];
        // The places are taken before the password is checked, so parallel
        // connections get no more guesses than one connection in a row.
        // Never past the login deadline of a connection that must log in.
        let wait = match self.base_deadline() {
            Some(deadline) => {
                auth::ADMIT_WAIT.min(deadline.saturating_duration_since(Instant::now()))
            }
            None => auth::ADMIT_WAIT,
        };
        let attempt = match self.shared.logins.admit(&keys, wait) {
            Ok(attempt) => attempt,
            Err(refusal) => {
                let user = escaped(user);
                self.log_refusal(format_args!("login throttled user={user}"));
                let message = match refusal {
                    Refusal::Locked(wait) => format!(
                        "too many failed logins; wait {} seconds and try again",
                        wait.as_secs().max(1)
                    ),
                    Refusal::Crowded => "too many logins from your address or to this account are being checked at once; try again in a moment".to_owned(),
                };
                return Err(refuse(ErrorCode::Throttled, message));
            }
        };
        let stored = self.shared.db.user(user)?;
        let (hash, role) = match &stored {
            Some((hash, role)) => (hash.as_str(), Some(*role)),
            None => (self.shared.dummy_hash.as_str(), None),
        };
        // bcrypt would cut a longer password at 72 bytes and let
        // "password + anything" in; no account has one.
        let valid = auth::could_be_a_password(&password.0)
            && self
                .shared
                .bcrypt
                .run(|| verify_password(&password.0, hash));
        match role {
            Some(role) if valid => {
                attempt.end(true);
                self.stranger = None;
                self.conn.get_ref().set_deadline(None);
                self.user = Some(User {
                    name: user.to_owned(),
                    role,
                });
                info!("{} login ok role={role}", self.who());
                self.conn.queue(Reply::LoggedIn(role));
                Ok(Flow::Continue)
            }
            _ => {
                attempt.end(false);
                warn!("peer={} login failed user={}", self.peer, escaped(user));
                self.user = None;
                thread::sleep(self.shared.config.login_failure_delay);
                Err(refuse(
                    ErrorCode::AuthFailed,
                    "wrong user name or password; check both and try again",
                ))
            }
        }
    }

    // -- files --------------------------------------------------------------

    fn list(&mut self) -> Handled {
        let files = self.shared.db.list()?;
        self.conn.queue(Reply::ListHeader(files.len() as u64));
        for entry in files {
            self.conn.queue(Reply::File(entry));
        }
        Ok(Flow::Continue)
    }

    /// A stored version by name (the current one for `None`), refused
    /// clearly when the name is not allowed or there is no such version.
    fn find_version(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<crate::db::StoredVersion, Fault> {
        check_name(name)?;
        self.shared
            .db
            .version(name, version)
            .map_err(|e| not_found(e, name, version))
    }

    fn stat(&mut self, name: &str, version: Option<u32>) -> Handled {
        let stored = self.find_version(name, version)?;
        self.conn.queue(Reply::Stat(stored.info));
        Ok(Flow::Continue)
    }

    fn history(&mut self, name: &str) -> Handled {
        check_name(name)?;
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

    fn download(
        &mut self,
        name: &str,
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

    /// Answers a refused UPLOAD and swallows the body the client sends
    /// regardless, so the next request is read from the right place.
    fn refuse_upload(&mut self, refusal: Handled) -> Handled {
        let Err(Fault::Refuse(code, message)) = refusal else {
            return refusal;
        };
        self.log_refusal(format_args!("upload refused: {code} {}", escaped(&message)));
        self.emit_now(Reply::error(code, message))?;
        self.discard_body()?;
        Ok(Flow::Continue)
    }

    fn upload(
        &mut self,
        name: &str,
        size: u64,
        policy: ConflictPolicy,
        resume: Option<&str>,
    ) -> Handled {
        let (partial, claim) = match self.prepare_upload(name, size, policy, resume) {
            Ok(Prepared::Receive(partial, claim)) => (*partial, claim),
            Ok(Prepared::Stored(finished)) => {
                let id = resume.expect("only a resume finds a stored upload");
                return self.confirm_stored(id, finished);
            }
            Err(refusal) => return self.refuse_upload(Err(refusal)),
        };
        let started = Instant::now();
        let offset = partial.received();
        info!(
            "{} upload start name={} size={size} policy={policy} id={} offset={offset}",
            self.who(),
            escaped(name),
            partial.id()
        );
        self.emit_now(Reply::Ready {
            upload_id: partial.id().to_owned(),
            offset,
        })?;
        // From here on the body is consumed by `receive_upload`, so a
        // refusal is answered directly rather than through `refuse_upload`.
        self.transfer_timeouts(true);
        let transfer = self.stats.transfer();
        let verified = self.receive_upload(partial, name, size);
        drop(transfer);
        self.transfer_timeouts(false);
        let outcome = match verified {
            Ok(Some((partial, md5))) => {
                let upload = Verified {
                    landing: Landing {
                        id: partial.id().to_owned(),
                        name: name.to_owned(),
                        policy,
                        size,
                        md5,
                        offset,
                        started,
                        _claim: claim,
                    },
                    partial,
                };
                // A small upload waits to be committed with the next ones;
                // the request loop commits the batch once the client has
                // sent all it had. A big one, or a full batch, goes now.
                self.batch.bytes += size;
                self.batch.held.push(Held::Upload(self.batch.uploads.len()));
                self.batch.uploads.push(upload);
                if size > BATCH_MAX_FILE
                    || self.batch.uploads.len() >= BATCH_MAX_UPLOADS
                    || self.batch.bytes >= BATCH_MAX_BYTES
                {
                    self.commit_batch();
                }
                return Ok(Flow::Continue);
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        drop(claim);
        match outcome {
            Ok(Some(())) => unreachable!("verified uploads are handled above"),
            Ok(None) => {
                info!(
                    "{} upload aborted by the client name={}",
                    self.who(),
                    escaped(name)
                );
                self.ok()
            }
            Err(Fault::Refuse(code, message)) => {
                warn!(
                    "{} upload failed name={}: {code} {}",
                    self.who(),
                    escaped(name),
                    escaped(&message)
                );
                self.emit(Reply::error(code, message));
                Ok(Flow::Continue)
            }
            Err(end) => Err(end),
        }
    }

    /// The checks made before any byte is accepted; then the upload to
    /// continue (when `resume` names one the server still holds for this
    /// user, name and size) or a new one, claimed for this connection.
    fn prepare_upload(
        &mut self,
        name: &str,
        size: u64,
        policy: ConflictPolicy,
        resume: Option<&str>,
    ) -> Result<Prepared<'a>, Fault> {
        check_name(name)?;
        let max = self.shared.config.max_upload_size;
        if size > max {
            return Err(refuse(
                ErrorCode::TooLarge,
                format!("this server accepts files of at most {max} bytes; this one has {size}"),
            ));
        }
        let user = self.user.as_ref().map_or(String::new(), |u| u.name.clone());
        // A resume first claims its id: that waits for a commit of the same
        // upload in progress, whose outcome is then known.
        let resumed = match resume {
            Some(id) => {
                let ours = self
                    .shared
                    .store
                    .partial_meta(id)
                    .is_some_and(|m| m.user == user && m.name == name && m.size == size);
                let socket = self.conn.get_ref().socket();
                let claim = Claim::take(self.shared, id, socket, ours)?;
                let finished = self
                    .shared
                    .finished_uploads
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .find(id, &user, name, size, Instant::now())
                    .cloned();
                if let Some(finished) = finished {
                    return Ok(Prepared::Stored(finished));
                }
                Some((id, claim))
            }
            None => None,
        };
        if policy == ConflictPolicy::Fail && self.shared.db.file_exists(name)? {
            return Err(exists(name));
        }
        let cannot_store = |e: io::Error| {
            error!("cannot start an upload: {e}");
            if is_disk_full(&e) {
                refuse(
                    ErrorCode::NoSpace,
                    "the server's disk is full; nothing was sent, tell the admin",
                )
            } else {
                refuse(
                    ErrorCode::Internal,
                    "the server cannot store files right now; tell the admin",
                )
            }
        };
        if let Some((id, mut claim)) = resumed {
            // Reserved before the kept upload is opened: a refusal must
            // leave it as it was, for a later resume.
            let kept = self.shared.store.partial_meta(id).map_or(0, |m| m.received);
            claim.space = Some(self.reserve_space(size.saturating_sub(kept))?);
            if let Some(partial) = self
                .shared
                .store
                .resume_partial(id, name, size, &user)
                .map_err(cannot_store)?
            {
                return Ok(Prepared::Receive(Box::new(partial), claim));
            }
            info!(
                "{} upload {id} cannot be resumed (expired or unknown); starting afresh",
                self.who()
            );
        }
        let space = self.reserve_space(size)?;
        let partial = self
            .shared
            .store
            .create_partial(name, size, &user)
            .map_err(cannot_store)?;
        let socket = self.conn.get_ref().socket();
        let mut claim = Claim::take(self.shared, partial.id(), socket, false)?;
        claim.space = Some(space);
        Ok(Prepared::Receive(Box::new(partial), claim))
    }

    /// Answers the resume of an upload that was committed already (its
    /// client missed the `OK STORED`): nothing is left to send, and once
    /// the client's MD5 matches, the stored version is confirmed.
    fn confirm_stored(&mut self, id: &str, finished: Finished) -> Handled {
        info!(
            "{} upload {id} of {} was stored already as {} version {}; confirming it",
            self.who(),
            escaped(&finished.name),
            escaped(&finished.stored_as),
            finished.version
        );
        self.emit_now(Reply::Ready {
            upload_id: id.to_owned(),
            offset: finished.size,
        })?;
        let mut extra = false;
        let client_md5 = loop {
            match self.next_frame()? {
                UploadFrame::Data(n) => {
                    extra = true;
                    self.skip_payload(n)?;
                }
                UploadFrame::Done(md5) => break md5,
                UploadFrame::Abort => return self.ok(),
            }
        };
        let reply = if extra {
            Reply::error(
                ErrorCode::SizeMismatch,
                format!(
                    "this upload was complete at {} bytes and more arrived; nothing was changed",
                    finished.size
                ),
            )
        } else if client_md5 != finished.md5 {
            Reply::error(
                ErrorCode::Md5Mismatch,
                format!(
                    "this upload was stored with MD5 {} but the client announced {client_md5}; nothing was changed, send it again as a new upload",
                    finished.md5
                ),
            )
        } else {
            Reply::Stored {
                name: finished.stored_as,
                version: finished.version,
                size: finished.size,
                md5: finished.md5,
            }
        };
        self.emit(reply);
        Ok(Flow::Continue)
    }

    /// Reserves `need` bytes of disk for an upload, refusing one that does
    /// not fit beside the uploads in flight while keeping the configured
    /// reserve free (a full disk would otherwise fail it half-way).
    fn reserve_space(&self, need: u64) -> Result<Reserved, Fault> {
        let config = &self.shared.config;
        let free = match fs4::available_space(&config.data_dir) {
            Ok(free) => free,
            Err(e) => {
                warn!("cannot tell the free disk space: {e}; accepting the upload");
                u64::MAX
            }
        };
        let keep = config.min_free_space;
        let mut promised = 0;
        let reserved = self.shared.space.reserve(need, |reserved| {
            promised = reserved;
            space::fits(free, reserved, need, keep)
        });
        reserved.ok_or_else(|| {
            warn!(
                "{} upload refused: {need} bytes with {free} free, {promised} promised to uploads in flight and {keep} to keep free",
                self.who(),
            );
            let left = free.saturating_sub(promised).saturating_sub(keep);
            refuse(
                ErrorCode::NoSpace,
                format!(
                    "the server's disk is too full for this file ({} free, {} needed); nothing was sent, tell the admin",
                    ferry_common::units::human_size(left),
                    ferry_common::units::human_size(need)
                ),
            )
        })
    }

    /// Receives the body into `partial` and checks it: the upload and its
    /// MD5 when it arrived intact, `None` when the client aborted. If the
    /// connection breaks, the partial upload is kept for a resume.
    fn receive_upload(
        &mut self,
        mut partial: Partial,
        name: &str,
        size: u64,
    ) -> Result<Option<(Partial, Md5Digest)>, Fault> {
        let mut body = Body {
            arrived: partial.received(),
            overflow: false,
            write_error: None,
        };
        let client_md5 = match self.receive_body(&mut partial, size, &mut body) {
            Ok(Some(md5)) => md5,
            Ok(None) => return Ok(None),
            Err(end) => {
                if body.write_error.is_none() {
                    partial.keep();
                }
                return Err(end);
            }
        };
        if let Some(e) = body.write_error {
            error!("writing the upload of {} failed: {e}", escaped(name));
            return Err(storage_failure(&e));
        }
        if body.overflow || body.arrived != size {
            let arrived = if body.overflow {
                "more".to_owned()
            } else {
                body.arrived.to_string()
            };
            return Err(refuse(
                ErrorCode::SizeMismatch,
                format!(
                    "the upload announced {size} bytes but {arrived} arrived; nothing was stored, send it again"
                ),
            ));
        }
        let md5 = partial.finish().map_err(|e| {
            error!("writing the upload of {} failed: {e}", escaped(name));
            storage_failure(&e)
        })?;
        if md5 != client_md5 {
            return Err(refuse(
                ErrorCode::Md5Mismatch,
                format!(
                    "the data arrived with MD5 {md5} but the client announced {client_md5}; nothing was stored, send it again"
                ),
            ));
        }
        Ok(Some((partial, md5)))
    }

    /// Reads DATA frames into `partial` up to the terminator; returns the
    /// client's MD5, or `None` for ABORT. Bytes past the announced size are
    /// read and dropped so the conversation stays in step.
    fn receive_body(
        &mut self,
        partial: &mut Partial,
        size: u64,
        body: &mut Body,
    ) -> Result<Option<Md5Digest>, Fault> {
        loop {
            match self.next_frame()? {
                UploadFrame::Data(n) => {
                    if body.overflow || body.arrived + n > size {
                        body.overflow = true;
                        self.skip_payload(n)?;
                        continue;
                    }
                    let mut left = n;
                    while left > 0 {
                        if body.write_error.is_some() {
                            self.skip_payload(left)?;
                            break;
                        }
                        // Received where it is written and hashed: no copies.
                        let space = partial.space(left as usize);
                        let got = self.read_some_payload(space)?;
                        if let Err(e) = partial.filled(got) {
                            body.write_error = Some(e);
                        }
                        left -= got as u64;
                    }
                    body.arrived += n;
                }
                UploadFrame::Done(md5) => return Ok(Some(md5)),
                UploadFrame::Abort => return Ok(None),
            }
        }
    }

    /// Switches the read timeout between waiting for a request (the idle
    /// timeout) and waiting inside a transfer (the shorter I/O timeout).
    fn transfer_timeouts(&mut self, in_transfer: bool) {
        let config = &self.shared.config;
        let timeout = if in_transfer {
            config.io_timeout
        } else {
            config.idle_timeout
        };
        if let Err(e) = self.conn.get_ref().set_read_timeout(Some(timeout)) {
            warn!("{} could not set a read timeout: {e}", self.who());
        }
    }

    fn chunks(&mut self, name: &str, version: Option<u32>) -> Handled {
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

    /// Reads the next line of an upload body. A line that is not a body line
    /// means the framing is lost: say so and end the conversation.
    fn next_frame(&mut self) -> Result<UploadFrame, Fault> {
        let line = self.read_line().map_err(Fault::End)?;
        let parsed = line_str(line).and_then(UploadFrame::parse);
        match parsed {
            Ok(frame) => Ok(frame),
            Err(e) => {
                let message = format!("{e}; the upload body is broken, closing the connection");
                let _ = self.conn.send(Reply::error(ErrorCode::BadRequest, message));
                Err(Fault::End("broken upload body".into()))
            }
        }
    }

    fn read_payload(&mut self, buf: &mut [u8]) -> Result<(), Fault> {
        self.conn
            .read_payload(buf)
            .map_err(|e| self.lost_mid_upload(e))
    }

    /// Reads the payload bytes that have arrived (at least one).
    fn read_some_payload(&mut self, buf: &mut [u8]) -> Result<usize, Fault> {
        self.conn
            .read_some_payload(buf)
            .map_err(|e| self.lost_mid_upload(e))
    }

    fn lost_mid_upload(&mut self, e: io::Error) -> Fault {
        if is_timeout(&e) {
            let _ = self.conn.send(Reply::error(
                ErrorCode::Timeout,
                "the upload stalled for too long; what arrived is kept for a resume, closing the connection",
            ));
            Fault::End("timed out mid-upload".into())
        } else {
            Fault::End(format!("connection lost mid-upload: {e}"))
        }
    }

    fn skip_payload(&mut self, mut n: u64) -> Result<(), Fault> {
        let mut scratch = vec![0u8; 8192];
        while n > 0 {
            let piece = n.min(scratch.len() as u64) as usize;
            self.read_payload(&mut scratch[..piece])?;
            n -= piece as u64;
        }
        Ok(())
    }

    fn discard_body(&mut self) -> Result<(), Fault> {
        loop {
            match self.next_frame()? {
                UploadFrame::Data(n) => self.skip_payload(n)?,
                UploadFrame::Done(_) | UploadFrame::Abort => return Ok(()),
            }
        }
    }

    fn delete(&mut self, name: &str, version: Option<u32>) -> Handled {
        check_name(name)?;
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
            name: name.to_owned(),
            versions: blobs.len() as u32,
        });
        Ok(Flow::Continue)
    }

    fn logs(&mut self, lines: u32) -> Handled {
        let lines = lines.min(MAX_LOG_LINES) as usize;
        let dir = &self.shared.config.logs_dir;
        let tail = logfile::last_log_lines(dir, lines).map_err(|e| {
            error!("cannot read the log in {}: {e}", dir.display());
            refuse(
                ErrorCode::Internal,
                "the server cannot read its log file; check its permissions",
            )
        })?;
        self.conn.queue(Reply::LogsHeader(tail.len() as u64));
        for line in tail {
            self.conn.queue(Reply::LogLine(line));
        }
        Ok(Flow::Continue)
    }

    // -- users --------------------------------------------------------------

    fn users(&mut self) -> Handled {
        let users = self.shared.db.users()?;
        self.conn.queue(Reply::UsersHeader(users.len() as u64));
        for (name, role) in users {
            self.conn.queue(Reply::User { name, role });
        }
        Ok(Flow::Continue)
    }

    fn user_add(&mut self, user: &str, role: Role, password: &Secret) -> Handled {
        check_user_name(user).map_err(|e| refuse(ErrorCode::BadRequest, e))?;
        check_password(&password.0).map_err(|e| refuse(ErrorCode::BadRequest, e))?;
        let hash = self.hash(password)?;
        match self.shared.db.add_user(user, &hash, role) {
            Ok(()) => {}
            Err(DbError::Exists) => {
                return Err(refuse(
                    ErrorCode::Exists,
                    format!(
                        "a user named {} already exists; choose another name",
                        escaped(user)
                    ),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        info!("{} added user {} role={role}", self.who(), escaped(user));
        self.ok()
    }

    fn user_del(&mut self, user: &str) -> Handled {
        self.shared
            .db
            .remove_user(user)
            .map_err(|e| user_error(e, user))?;
        info!("{} removed user {}", self.who(), escaped(user));
        self.ok()
    }

    fn passwd(&mut self, user: &str, password: &Secret) -> Handled {
        let me = self.user.as_ref().is_some_and(|u| u.name == user);
        let admin = self.user.as_ref().is_some_and(|u| u.role == Role::Admin);
        if !me && !admin {
            return Err(refuse(
                ErrorCode::Forbidden,
                "you can change only your own password; ask an admin to change another's",
            ));
        }
        check_password(&password.0).map_err(|e| refuse(ErrorCode::BadRequest, e))?;
        let hash = self.hash(password)?;
        self.shared
            .db
            .set_password(user, &hash)
            .map_err(|e| user_error(e, user))?;
        info!("{} changed the password of {}", self.who(), escaped(user));
        self.ok()
    }

    fn set_role(&mut self, user: &str, role: Role) -> Handled {
        self.shared
            .db
            .set_role(user, role)
            .map_err(|e| user_error(e, user))?;
        info!("{} set the role of {} to {role}", self.who(), escaped(user));
        self.ok()
    }

    fn hash(&self, password: &Secret) -> Result<String, Fault> {
        let cost = self.shared.config.bcrypt_cost;
        let hash = self
            .shared
            .bcrypt
            .run(|| auth::hash_password(&password.0, cost));
        hash.map_err(|e| {
            error!("bcrypt failed: {e}");
            refuse(
                ErrorCode::Internal,
                "the server could not hash the password; try again",
            )
        })
    }
}

/// Commands only admins may run (PASSWD is checked per target user).
fn needs_admin(request: &Request) -> bool {
    matches!(
        request,
        Request::Delete { .. }
            | Request::Logs { .. }
            | Request::Users
            | Request::UserAdd { .. }
            | Request::UserDel { .. }
            | Request::SetRole { .. }
    )
}

fn check_name(name: &str) -> Result<(), Fault> {
    validate_name(name).map_err(|e| {
        refuse(
            ErrorCode::BadName,
            format!(
                "the name {} is not allowed: {e}; choose another name",
                escaped(name)
            ),
        )
    })
}

fn exists(name: &str) -> Fault {
    refuse(
        ErrorCode::Exists,
        format!(
            "a file named {} already exists; upload again with overwrite (keeps the old one as a version) or rename",
            escaped(name)
        ),
    )
}

fn not_found(e: DbError, name: &str, version: Option<u32>) -> Fault {
    match (e, version) {
        (DbError::NotFound, None) => refuse(
            ErrorCode::NotFound,
            format!("there is no file named {}; check the name", escaped(name)),
        ),
        (DbError::NotFound, Some(v)) => refuse(
            ErrorCode::NotFound,
            format!(
                "{} has no version {v}; see its version history",
                escaped(name)
            ),
        ),
        (other, _) => other.into(),
    }
}

fn user_error(e: DbError, user: &str) -> Fault {
    match e {
        DbError::NotFound => refuse(
            ErrorCode::NotFound,
            format!(
                "there is no user named {}; check the user list",
                escaped(user)
            ),
        ),
        DbError::LastAdmin => refuse(
            ErrorCode::Forbidden,
            format!(
                "{} is the last admin; make another user admin first",
                escaped(user)
            ),
        ),
        other => other.into(),
    }
}

/// The ERR line for a refusal.
fn fault_reply(fault: Fault) -> Reply {
    match fault {
        Fault::Refuse(code, message) => Reply::error(code, message),
        Fault::End(reason) => Reply::error(ErrorCode::Internal, reason),
    }
}

/// The refusal for a failed write of an upload.
fn storage_failure(e: &io::Error) -> Fault {
    if is_disk_full(e) {
        refuse(
            ErrorCode::NoSpace,
            "the server's disk is full; nothing was stored, tell the admin",
        )
    } else {
        refuse(
            ErrorCode::Internal,
            "the server could not store the file; nothing was stored, tell the admin",
        )
    }
}

/// Whether a write failed for want of disk space (or of quota).
fn is_disk_full(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
