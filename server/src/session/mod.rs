//! One client connection: greeting, login, and the request loop.
//!
//! This module owns the conversation: it reads one request line at a time
//! (within the connection's deadlines), checks it against the user's
//! current role, hands it to the handler of its family and sends the
//! replies in order. A refusal is an `ERR` line and the conversation goes
//! on; broken framing, a dead peer or too many strikes end it. The
//! handlers live in the submodules, one per family of commands; what they
//! do to stored files goes through [`crate::commit`], [`crate::storage`]
//! and [`crate::db`].
//!
//! The conversation is generic over `Read + Write + Transport`; only
//! [`serve`] knows it is a `TcpStream` (wrapped in a [`Metered`] that
//! counts and paces its bytes).

mod admin;
mod batch;
mod body;
mod fault;
mod files;
mod folders;
mod login;
mod upload;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_io::wire::{Conn, LineError};
use ferry_proto::names::escaped;
use ferry_proto::protocol::{
    ErrorCode, PROTOCOL_VERSION, ProtocolError, Reply, Request, Role, line_str,
};
use log::{info, warn};

use crate::Shared;
use crate::anonymous::Stranger;
use crate::log_budget::{LogBudget, held_back_note};
use crate::meter::{ListenerStats, Metered};
use crate::tls::{self, Hello};
use crate::transport::{Socket, Transport};

use self::batch::{Batch, Held};
use self::fault::{Fault, file_path, refuse};

/// Read buffer per connection, held for as long as the connection lives;
/// transfer buffers are allocated only while a transfer runs. Request lines
/// are short (a longer one is read in pieces, up to `max_line`), and reads
/// of a payload this size or larger go straight from the stream to where
/// the bytes belong, so a bigger buffer would save few reads and cost every
/// idle connection its size (at 4 KiB: 35 MiB more for 10,000 of them).
const READ_BUFFER: usize = 512;

/// How long a TLS listener waits for a new client's first byte: a TLS
/// client sends its hello at once, a plaintext one waits for our greeting.
const TLS_SNIFF: Duration = Duration::from_secs(2);

/// Serves one connection accepted by the listener counting into `stats`,
/// until it ends: over TLS when the server has an identity, else in clear.
pub(crate) fn serve(
    shared: &Shared,
    stats: &Arc<ListenerStats>,
    tcp: TcpStream,
    peer: SocketAddr,
    stranger: Stranger,
) {
    let accepted = Instant::now();
    let setup = tcp
        .set_nodelay(true)
        .and_then(|()| tcp.set_write_timeout(Some(shared.config.io_timeout)));
    if let Err(e) = setup {
        warn!("peer={peer} connection setup failed: {e}");
        return;
    }
    info!("peer={peer} connect");
    // An idle connection's thread keeps every page of stack it has ever
    // touched, so the way to its blocking read is kept shallow: with the
    // thread's start-up it fits in two pages (docs/BENCHMARKS.md, "Idle connections"). The
    // TLS branch, building the session and handling a request each have a
    // frame of their own, beside that way rather than on it.
    match &shared.tls {
        Some(identity) => serve_tls(shared, stats, identity, tcp, peer, stranger, accepted),
        None => {
            if let Some(mut session) = open(shared, stats, tcp, peer, stranger, accepted) {
                converse(&mut session, accepted);
            }
        }
    }
}

/// The part of [`serve`] for a TLS listener: the handshake (or the
/// refusal of a plaintext client), then the conversation. Not inlined, so
/// that its locals are not in every plaintext connection's frame.
#[inline(never)]
fn serve_tls(
    shared: &Shared,
    stats: &Arc<ListenerStats>,
    identity: &tls::Identity,
    tcp: TcpStream,
    peer: SocketAddr,
    stranger: Stranger,
    accepted: Instant,
) {
    let refused = match tls::sniff(&tcp, TLS_SNIFF) {
        Ok(Hello::Tls) => {
            let deadline = accepted + shared.config.login_timeout;
            match tls::accept(identity, tcp, deadline) {
                Ok(stream) => {
                    if let Some(mut session) = open(shared, stats, stream, peer, stranger, accepted)
                    {
                        converse(&mut session, accepted);
                    }
                    return;
                }
                Err(e) => format!("TLS handshake failed: {e}"),
            }
        }
        Ok(Hello::Plain) => {
            let reply = Reply::error(
                ErrorCode::TlsRequired,
                "this server speaks only TLS; connect with a client that uses TLS, or ask the admin",
            );
            let _ = writeln!(&tcp, "{reply}");
            linger(&tcp);
            "a plaintext client reached this TLS listener".to_owned()
        }
        Err(e) => format!("connection error: {e}"),
    };
    info!(
        "peer={peer} disconnect ({refused}) after {:.1}s",
        accepted.elapsed().as_secs_f64()
    );
}

/// The conversation over `stream` (plain or TLS), until it ends. Not
/// inlined, so that [`open`] runs under `serve`'s small frame alone.
#[inline(never)]
fn converse<T: Read + Write + Transport + Socket>(
    session: &mut Session<'_, Metered<T>>,
    accepted: Instant,
) {
    let end = session.run();
    let stream = session.conn.get_mut().get_mut();
    stream.say_goodbye();
    // What the client still sends after the end is discarded unmetered.
    linger(stream.tcp());
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

/// The session for `stream`, on the heap; `None` if the socket could not
/// be set up. Building it moves the stream and the session by value a few
/// times, a KiB or so of stack: in a frame of its own, called before the
/// conversation rather than under it, that does not deepen the stack the
/// idle connection keeps.
#[inline(never)]
fn open<'a, T: Read + Write + Transport>(
    shared: &'a Shared,
    stats: &'a Arc<ListenerStats>,
    stream: T,
    peer: SocketAddr,
    stranger: Stranger,
    accepted: Instant,
) -> Option<Box<Session<'a, Metered<T>>>> {
    let stream = Metered::new(stream, Arc::clone(stats), shared.config.rate_limit)
        .with_write_timeout(shared.config.io_timeout);
    if let Err(e) = Transport::set_read_timeout(&stream, Some(shared.config.idle_timeout)) {
        warn!("peer={peer} connection setup failed: {e}");
        return None;
    }
    Some(Box::new(Session {
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
    }))
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
        // A TLS client sends its hello before reading anything: it can only
        // be told in its own log, by the handshake that fails on our greeting.
        if self.shared.tls.is_none()
            && matches!(self.conn.peek_byte(), Ok(Some(tls::HANDSHAKE_RECORD)))
        {
            return "a TLS client reached this plaintext listener".into();
        }
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

    /// Not inlined into the request loop: a request's temporaries live in
    /// a frame of their own, not under every idle connection's read.
    #[inline(never)]
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
            Request::Stat { name, version } => self.stat(&file_path(&name)?, version),
            Request::History { name } => self.history(&file_path(&name)?),
            Request::Download {
                name,
                version,
                offset,
                length,
            } => self.download(&file_path(&name)?, version, offset, length),
            Request::Upload {
                name,
                size,
                policy,
                resume,
            } => match file_path(&name) {
                Ok(name) => self.upload(&name, size, policy, resume.as_deref()),
                // Refused before any other check, its body swallowed.
                Err(refusal) => self.refuse_upload(Err(refusal)),
            },
            Request::Chunks { name, version } => self.chunks(&file_path(&name)?, version),
            Request::Delete { name, version } => self.delete(&file_path(&name)?, version),
            Request::Ls { folder, recursive } => match folder {
                Some(folder) => self.ls(Some(&file_path(&folder)?), recursive),
                None => self.ls(None, recursive),
            },
            Request::Mkdir { path } => self.mkdir(&file_path(&path)?),
            Request::Rmdir { path, recursive } => self.rmdir(&file_path(&path)?, recursive),
            Request::Move { from, to } => {
                let from = file_path(&from)?;
                self.move_path(&from, &file_path(&to)?)
            }
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
}

/// Commands only admins may run (PASSWD is checked per target user).
/// Removing and moving folders and files is deleting from where the others
/// look, so it is the admins' as DELETE is; creating a folder is the
/// users' as uploading is.
fn needs_admin(request: &Request) -> bool {
    matches!(
        request,
        Request::Delete { .. }
            | Request::Rmdir { .. }
            | Request::Move { .. }
            | Request::Logs { .. }
            | Request::Users
            | Request::UserAdd { .. }
            | Request::UserDel { .. }
            | Request::SetRole { .. }
    )
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
