//! The Ferry server as a library: [`Server::start`] opens the database and
//! blob store, makes sure an admin exists, binds every listener and serves
//! each connection on its own named thread. `main.rs` adds flags, logging
//! and the `user` subcommands; the tests start it directly.
//!
//! One process may listen on several addresses (the "virtual servers" that
//! mirror one store); each listener counts its connections, transfers and
//! bytes (the `meter` module), which the status report shows ([`status`]).

mod anonymous;
pub mod auth;
mod blob_reader;
mod commit;
pub mod db;
mod finished;
mod log_budget;
pub mod logfile;
mod meter;
mod session;
mod space;
pub mod status;
pub mod storage;
#[cfg(feature = "test-support")]
pub mod testing;
mod transport;

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ferry_common::protocol::{ErrorCode, MAX_LINE_BYTES, Reply, Role};
use log::{error, info, warn};
use socket2::{Domain, Socket, Type};

use crate::anonymous::Anonymous;
use crate::auth::{BcryptGate, Logins};
use crate::db::Db;
use crate::finished::FinishedUploads;
use crate::log_budget::{LogBudget, held_back_note};
use crate::meter::ListenerStats;
use crate::space::Reservations;
use crate::status::Snapshot;
use crate::storage::Store;

/// Everything the server can be told. [`Config::new`] gives the defaults.
#[derive(Clone, Debug)]
pub struct Config {
    /// Folder for the SQLite file and the blob store.
    pub data_dir: PathBuf,
    /// Folder holding `server.log` (read by the LOGS command).
    pub logs_dir: PathBuf,
    /// Addresses to listen on (`host:port`); each gets its own listener.
    pub listen: Vec<String>,
    /// Connections served at once; past it a client gets `ERR BUSY`.
    pub max_connections: usize,
    /// Longest request line, terminator included.
    pub max_line: usize,
    /// How long a client may stay silent between requests; a request line
    /// must also be complete this long after the server began waiting for
    /// it, however slowly its bytes trickle in.
    pub idle_timeout: Duration,
    /// How long after being accepted a connection must have logged in.
    pub login_timeout: Duration,
    /// Connections from one client address that may be open at once
    /// without having logged in.
    pub max_unauthenticated: usize,
    /// How long one read or write may stall in the middle of a transfer.
    pub io_timeout: Duration,
    /// Largest upload accepted, in bytes.
    pub max_upload_size: u64,
    /// bcrypt work factor for new password hashes.
    pub bcrypt_cost: u32,
    /// Password for the `admin` account created when the database has no
    /// users; `None` generates one.
    pub admin_password: Option<String>,
    /// How long a failed login waits before it is answered.
    pub login_failure_delay: Duration,
    /// How long an interrupted upload is kept for a resume.
    pub partial_upload_ttl: Duration,
    /// Disk space (bytes) that uploads must leave free in the data folder.
    pub min_free_space: u64,
    /// Print (to stdout) and log a status report this often; `None` or
    /// zero: never.
    pub status_interval: Option<Duration>,
    /// Colour the printed status report with ANSI escapes (the log copy is
    /// always plain).
    pub status_color: bool,
    /// Most bytes per second each connection may receive, and separately
    /// send; `None` or 0: unlimited.
    pub rate_limit: Option<u64>,
}

impl Config {
    /// Defaults, with the data and log folders given.
    pub fn new(data_dir: impl Into<PathBuf>, logs_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            logs_dir: logs_dir.into(),
            listen: vec!["127.0.0.1:0".to_owned()],
            max_connections: 1024,
            max_line: MAX_LINE_BYTES,
            idle_timeout: Duration::from_secs(300),
            login_timeout: Duration::from_secs(20),
            max_unauthenticated: 32,
            io_timeout: Duration::from_secs(60),
            max_upload_size: 1 << 40,
            bcrypt_cost: 10,
            admin_password: None,
            login_failure_delay: Duration::from_millis(500),
            partial_upload_ttl: Duration::from_secs(24 * 3600),
            min_free_space: 256 << 20,
            status_interval: None,
            status_color: false,
            rate_limit: None,
        }
    }
}

/// Connections the kernel may hold for the accept thread (capped by the
/// system's `net.core.somaxconn`). The standard library's 128 overflows when
/// hundreds of clients connect at once while the cores are busy (with
/// their logins, say): the kernel then drops the handshake's last step, and
/// those clients wait for a greeting that never comes.
const LISTEN_BACKLOG: i32 = 4096;

/// Listens on the first address `addr` resolves to that can be bound, as
/// [`TcpListener::bind`] does, but with [`LISTEN_BACKLOG`].
fn listen(addr: &str) -> io::Result<TcpListener> {
    let mut failed = None;
    for addr in addr.to_socket_addrs()? {
        let bound = Socket::new(Domain::for_address(addr), Type::STREAM, None).and_then(|socket| {
            // As the standard library does: a restarted server binds at once.
            socket.set_reuse_address(true)?;
            socket.bind(&addr.into())?;
            socket.listen(LISTEN_BACKLOG)?;
            Ok(socket)
        });
        match bound {
            Ok(socket) => return Ok(socket.into()),
            Err(e) => failed = Some(e),
        }
    }
    Err(failed.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolves to nothing",
        )
    }))
}

/// State every connection thread shares.
pub(crate) struct Shared {
    config: Config,
    db: Db,
    store: Store,
    /// Failed-login budgets per account and address.
    logins: Logins,
    /// What unknown user names are checked against, at the configured
    /// bcrypt cost (see [`auth::dummy_hash`]).
    dummy_hash: String,
    /// Password checks take turns on the cores.
    bcrypt: BcryptGate,
    connections: AtomicUsize,
    /// Disk space promised to uploads in flight.
    space: Arc<Reservations>,
    /// Connections not logged in yet, per address.
    anonymous: Arc<Anonymous>,
    /// Refusals at the door (cap reached) are logged within this budget.
    door_log: Mutex<LogBudget>,
    stopping: AtomicBool,
    /// Upload ids being received right now, each with the socket of the
    /// connection receiving it (cut when its client is back on a new one).
    active_uploads: Mutex<HashMap<String, Option<TcpStream>>>,
    /// Uploads committed lately, for clients that resume one after missing
    /// its `OK STORED`.
    finished_uploads: Mutex<FinishedUploads>,
    /// Requests being handled right now (from reading them until their
    /// reply is sent), so a graceful shutdown knows when all are answered.
    busy: AtomicUsize,
    /// When the server started (for the status report's uptime).
    started: Instant,
    /// One per bound listener, in the order of `config.listen`.
    listeners: Vec<Arc<ListenerStats>>,
}

/// A running server. Dropping it stops the listeners; connections already
/// open finish their current conversation.
pub struct Server {
    shared: Arc<Shared>,
    addrs: Vec<SocketAddr>,
    threads: Vec<JoinHandle<()>>,
    admin_password: Option<String>,
    bind_errors: Vec<String>,
}

impl Server {
    /// Opens storage, creates the first admin if needed, binds the listeners
    /// and starts accepting. Returns once every listener is up. Fails if no
    /// listener could be bound.
    pub fn start(config: Config) -> anyhow::Result<Server> {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "while creating the data folder {}",
                config.data_dir.display()
            )
        })?;
        let db = Db::open(&config.data_dir).with_context(|| {
            format!(
                "while opening the database in {}",
                config.data_dir.display()
            )
        })?;
        let store = Store::open(&config.data_dir).with_context(|| {
            format!(
                "while opening the blob store in {}",
                config.data_dir.display()
            )
        })?;
        clean_storage(&db, &store, config.partial_upload_ttl)?;
        let admin_password = ensure_admin(&db, &config)?;
        let dummy_hash =
            auth::dummy_hash(config.bcrypt_cost).context("while preparing the password checks")?;

        let mut listeners = Vec::new();
        let mut bind_errors = Vec::new();
        for addr in &config.listen {
            match listen(addr).and_then(|l| Ok((l.local_addr()?, l))) {
                Ok(bound) => listeners.push(bound),
                Err(e) => {
                    let message = bind_failure(addr, &e);
                    // The caller reports it on the console.
                    error!(target: logfile::FILE_ONLY, "{message}");
                    bind_errors.push(message);
                }
            }
        }
        if listeners.is_empty() {
            bail!(
                "no listener could start ({}); choose free ports with --listen",
                bind_errors.join("; ")
            );
        }

        let remember_finished = config.partial_upload_ttl;
        let shared = Arc::new(Shared {
            config,
            db,
            store,
            logins: Logins::default(),
            dummy_hash,
            bcrypt: BcryptGate::new(thread::available_parallelism().map_or(1, |n| n.get())),
            connections: AtomicUsize::new(0),
            space: Arc::default(),
            anonymous: Arc::default(),
            door_log: Mutex::new(LogBudget::new(20, Duration::from_secs(1), Instant::now())),
            stopping: AtomicBool::new(false),
            active_uploads: Mutex::new(HashMap::new()),
            finished_uploads: Mutex::new(FinishedUploads::new(remember_finished)),
            busy: AtomicUsize::new(0),
            started: Instant::now(),
            listeners: listeners
                .iter()
                .map(|(addr, _)| Arc::new(ListenerStats::new(*addr)))
                .collect(),
        });
        // Built before any thread starts, so that a failure to start one
        // stops (and joins) those already running when `server` drops.
        let mut server = Server {
            shared: Arc::clone(&shared),
            addrs: Vec::new(),
            threads: Vec::new(),
            admin_password,
            bind_errors,
        };
        server.spawn("janitor".into(), |shared| janitor(shared))?;
        if let Some(every) = shared.config.status_interval.filter(|d| !d.is_zero()) {
            server.spawn("status".into(), move |shared| {
                status::report_every(shared, every);
            })?;
        }
        for ((addr, listener), stats) in listeners.into_iter().zip(&shared.listeners) {
            info!("listening on {addr}");
            let stats = Arc::clone(stats);
            server.spawn(format!("accept-{addr}"), move |shared| {
                accept_loop(&listener, shared, &stats);
            })?;
            server.addrs.push(addr);
        }
        if let Some(rate) = shared.config.rate_limit.filter(|&r| r > 0) {
            info!(
                "each connection is limited to {}/s in each direction",
                ferry_common::units::human_size(rate)
            );
        }
        Ok(server)
    }

    /// Starts one of the server's own threads; it is joined by `stop`.
    fn spawn(
        &mut self,
        name: String,
        body: impl FnOnce(&Arc<Shared>) + Send + 'static,
    ) -> anyhow::Result<()> {
        let shared = Arc::clone(&self.shared);
        let handle = thread::Builder::new()
            .name(name.clone())
            .spawn(move || body(&shared))
            .with_context(|| format!("while starting the {name} thread"))?;
        self.threads.push(handle);
        Ok(())
    }

    /// The addresses actually bound (with real port numbers).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.addrs.clone()
    }

    /// The password of the `admin` account created by this start, if one was.
    pub fn admin_password(&self) -> Option<String> {
        self.admin_password.clone()
    }

    /// The listeners that could not be bound, as sentences.
    pub fn bind_errors(&self) -> &[String] {
        &self.bind_errors
    }

    /// How many connections are open now.
    pub fn connection_count(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// The figures the status report shows: per listener, the open
    /// connections, transfers in progress and bytes in and out.
    pub fn snapshot(&self) -> Snapshot {
        status::snapshot(&self.shared)
    }

    /// Stops accepting connections, then gives the requests under way (a
    /// transfer up to its final reply) up to `grace` to finish; new
    /// transfers are refused with SHUTTING_DOWN. Returns how many requests
    /// were still unanswered when the time ran out.
    pub fn shutdown_gracefully(mut self, grace: Duration) -> usize {
        self.stop();
        let deadline = std::time::Instant::now() + grace;
        loop {
            let running = self.shared.busy.load(Ordering::SeqCst);
            if running == 0 || std::time::Instant::now() >= deadline {
                if running > 0 {
                    warn!(
                        "stopping with {running} requests unanswered; interrupted transfers can be resumed"
                    );
                }
                return running;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops accepting connections and waits for the listener, janitor and
    /// status threads.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if self.shared.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // accept() blocks; a connection of our own wakes each listener up.
        for addr in &self.addrs {
            let _ = TcpStream::connect_timeout(addr, Duration::from_secs(1));
        }
        for handle in self.threads.drain(..) {
            let _ = handle.join();
        }
        info!("listeners stopped");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Removes what a crash left behind: unfinished uploads, blobs no version
/// refers to, and versions whose blob is gone.
fn clean_storage(db: &Db, store: &Store, partial_ttl: Duration) -> anyhow::Result<()> {
    let referenced = db.all_blobs().context("while reading the version table")?;
    let missing = store
        .clean_orphans(&referenced, partial_ttl)
        .context("while cleaning the storage folder")?;
    for blob in missing {
        error!(
            "stored content {blob} is missing from the blob folder; dropping that version from the list"
        );
        db.forget_blob(&blob)
            .context("while dropping a version whose content is missing")?;
    }
    Ok(())
}

/// Creates the `admin` account on an empty database; returns its password
/// if it was created.
fn ensure_admin(db: &Db, config: &Config) -> anyhow::Result<Option<String>> {
    if db.has_users()? {
        return Ok(None);
    }
    let password = match &config.admin_password {
        Some(p) => {
            auth::check_password(p).map_err(|e| {
                anyhow::anyhow!("the admin password from FERRY_ADMIN_PASSWORD is not usable: {e}")
            })?;
            p.clone()
        }
        None => auth::random_password().context("while generating the admin password")?,
    };
    let hash = auth::hash_password(&password, config.bcrypt_cost)?;
    db.add_user("admin", &hash, Role::Admin)?;
    info!("created user \"admin\" (role admin) on an empty database");
    Ok(Some(password))
}

/// Expires interrupted uploads that were not resumed in time.
fn janitor(shared: &Shared) {
    const EVERY: Duration = Duration::from_secs(600);
    let mut waited = Duration::ZERO;
    while !shared.stopping.load(Ordering::SeqCst) {
        thread::sleep(Duration::from_millis(200));
        waited += Duration::from_millis(200);
        if waited >= EVERY {
            waited = Duration::ZERO;
            let in_progress = |id: &str| {
                shared
                    .active_uploads
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .contains_key(id)
            };
            match shared
                .store
                .expire_partials(shared.config.partial_upload_ttl, &in_progress)
            {
                Ok(0) => {}
                Ok(n) => info!("removed {n} interrupted uploads older than the resume window"),
                Err(e) => warn!("could not expire interrupted uploads: {e}"),
            }
        }
    }
}

/// The sentence for a listener that could not be bound, with what to do.
fn bind_failure(addr: &str, e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    let reason = match e.kind() {
        ErrorKind::AddrInUse => {
            "the port is already in use (by another program, or given twice); choose another port"
                .to_owned()
        }
        ErrorKind::AddrNotAvailable => {
            "this machine has no such address; use one of its own addresses, or 0.0.0.0 for all"
                .to_owned()
        }
        ErrorKind::PermissionDenied => {
            "permission denied (ports below 1024 need special rights); choose a port above 1023"
                .to_owned()
        }
        ErrorKind::InvalidInput => {
            format!("{e}; write the address as host:port, such as 0.0.0.0:7878")
        }
        _ => e.to_string(),
    };
    format!("cannot listen on {addr}: {reason}")
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, stats: &Arc<ListenerStats>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        match stream {
            Ok(stream) => admit(stream, shared, stats),
            Err(e) => {
                // Typically out of file descriptors: back off instead of spinning.
                warn!("accept failed: {e}");
                thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// Holds one slot of the connection cap; gives it back on drop, whatever
/// way the connection ends.
struct Slot(Arc<Shared>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::SeqCst);
    }
}

fn admit(mut stream: TcpStream, shared: &Arc<Shared>, stats: &Arc<ListenerStats>) {
    let peer = match stream.peer_addr() {
        Ok(p) => p,
        Err(_) => return, // already gone
    };
    let open = shared.connections.fetch_add(1, Ordering::SeqCst);
    let slot = Slot(Arc::clone(shared));
    let cap = shared.config.max_connections;
    if open >= cap {
        log_at_the_door(shared, || {
            format!("peer={peer} refused: {open} connections open (the cap is {cap})")
        });
        refuse_busy(&mut stream, "the server is busy");
        return;
    }
    let cap = shared.config.max_unauthenticated;
    let Some(stranger) = shared.anonymous.enter(peer.ip(), cap) else {
        log_at_the_door(shared, || {
            format!("peer={peer} refused: {cap} connections from this address have not logged in")
        });
        refuse_busy(
            &mut stream,
            "too many connections from your address have not logged in; log in on those or close them",
        );
        return;
    };
    let thread_shared = Arc::clone(shared);
    let stats = Arc::clone(stats);
    let spawned = spawn_connection(peer, slot, move || {
        let _open = stats.connection();
        session::serve(&thread_shared, &stats, stream, peer, stranger);
    });
    if let Err(e) = spawned {
        // The closure (with the stream and slot) was dropped: the client sees a closed connection.
        error!("peer={peer} could not start a connection thread: {e}");
    }
}

/// Runs one connection's `work` on its own named thread, holding its slot of
/// the connection cap. A panic in it is logged and ends only this
/// connection; the slot is given back either way. (Shared locks are taken
/// with `PoisonError::into_inner`, so a panic while holding one does not
/// take the others down.)
fn spawn_connection(
    peer: SocketAddr,
    slot: Slot,
    work: impl FnOnce() + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(format!("conn-{peer}"))
        // Connection threads keep their big buffers on the heap.
        .stack_size(256 * 1024)
        .spawn(move || {
            let _slot = slot;
            if catch_unwind(AssertUnwindSafe(work)).is_err() {
                error!("peer={peer} connection thread panicked; only this connection was closed");
            }
        })
}

/// Logs a refusal at the door within the server's budget for them: a flood
/// of connections cannot flood the log.
fn log_at_the_door(shared: &Shared, line: impl FnOnce() -> String) {
    let allowed = shared
        .door_log
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .allow(Instant::now());
    if let Some(held_back) = allowed {
        warn!("{}{}", line(), held_back_note(held_back));
    }
}

fn refuse_busy(stream: &mut TcpStream, what: &str) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let reply = Reply::error(ErrorCode::Busy, format!("{what}; try again in a moment"));
    let _ = writeln!(stream, "{reply}");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hundreds of clients connecting at once all get through the handshake
    /// before a single one is accepted (the standard library's backlog of
    /// 128 would leave the rest waiting for the kernel to retry).
    #[test]
    fn a_burst_of_connections_waits_in_the_backlog() {
        let listener = listen("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // The system caps every backlog (at 4096 on current Linux).
        let cap: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(128);
        let burst: Vec<TcpStream> = (0..cap.min(400))
            .map(|i| {
                TcpStream::connect_timeout(&addr, Duration::from_millis(500))
                    .unwrap_or_else(|e| panic!("connection {i}: {e}"))
            })
            .collect();
        listener.set_nonblocking(true).unwrap();
        let accepted = std::iter::from_fn(|| listener.accept().ok()).count();
        assert_eq!(accepted, burst.len());
    }

    #[test]
    fn a_panicking_connection_ends_alone_and_gives_its_slot_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path().join("data"), dir.path().join("logs"));
        config.bcrypt_cost = 4;
        config.admin_password = Some("admin-secret-1".into());
        let server = Server::start(config).unwrap();
        let shared = Arc::clone(&server.shared);
        shared.connections.fetch_add(1, Ordering::SeqCst);
        let peer = server.local_addrs()[0];
        let handle = spawn_connection(peer, Slot(Arc::clone(&shared)), || {
            panic!("a bug in one connection");
        })
        .unwrap();
        assert!(
            handle.join().is_ok(),
            "the panic is caught in the connection thread"
        );
        assert_eq!(server.connection_count(), 0, "the slot is given back");
        // Everyone else is served as before.
        let addr = peer.to_string();
        let (mut client, _) =
            ferry_common::Client::connect_and_login(&addr, "admin", "admin-secret-1").unwrap();
        assert!(client.list().unwrap().is_empty());
    }
}
