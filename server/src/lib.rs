//! The Ferry server as a library: [`Server::start`] opens the database and
//! blob store, makes sure an admin exists, binds every listener and serves
//! each connection on its own named thread. `main.rs` adds flags, logging
//! and the `user` subcommands; the tests start it directly.
//!
//! One process may listen on several addresses (the "virtual servers" that
//! mirror one store); each listener counts its connections, transfers and
//! bytes (the `meter` module), which the status report shows ([`status`]).

mod accept;
mod anonymous;
pub mod auth;
mod blob_reader;
mod commit;
mod config;
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
pub mod throttle;
pub mod tls;
mod transport;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ferry_proto::protocol::Role;
use log::{error, info, warn};

pub use crate::config::Config;

use crate::accept::{accept_loop, bind_failure, listen};
use crate::anonymous::Anonymous;
use crate::auth::BcryptGate;
use crate::db::Db;
use crate::finished::FinishedUploads;
use crate::log_budget::LogBudget;
use crate::meter::ListenerStats;
use crate::space::Reservations;
use crate::status::Snapshot;
use crate::storage::Store;
use crate::throttle::Logins;

/// State every connection thread shares.
pub(crate) struct Shared {
    config: Config,
    db: Db,
    store: Store,
    /// The TLS identity; `None`: plaintext.
    tls: Option<tls::Identity>,
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
        // Before any listener opens: a bad certificate stops the start.
        let tls = tls::identity(&config.data_dir, &config.tls)?;
        match &tls {
            Some(identity) => info!("TLS certificate fingerprint {}", identity.fingerprint()),
            None => warn!(
                "TLS is off (--plaintext): passwords and files travel in clear; use it only on loopback or behind a proxy that terminates TLS"
            ),
        }
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
            tls,
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
                ferry_proto::units::human_size(rate)
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

    /// The SHA-256 fingerprint of the server's TLS certificate
    /// (`SHA256:` and hex); `None` without TLS.
    pub fn fingerprint(&self) -> Option<&str> {
        self.shared.tls.as_ref().map(tls::Identity::fingerprint)
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
