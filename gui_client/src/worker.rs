//! Everything that talks to the server, off the UI thread.
//!
//! A [`Session`] is the UI's handle on one login. Logging in spawns the
//! `session` thread, which owns the control connection and answers
//! [`Command`]s (list, history, delete, logs, users) one at a time,
//! reconnecting when the server dropped an idle connection. Every transfer
//! gets its own named thread (`upload-N`, `download-N`) and its own
//! connections through common's resumable `transfer` module (reconnects with
//! back-off; downloads keep `.part` + sidecar, which is what Pause keeps) or,
//! with mirrors, through its `mirror` module. A slot semaphore caps how many
//! run at once; the others wait as "queued".
//!
//! All threads report back as [`Event`]s on one crossbeam channel that the
//! UI drains at the top of each frame; after sending they ask egui for a
//! repaint, at most ~20 times a second per transfer. A failed send means the
//! UI dropped the session (log out, window closed): the thread stops at its
//! next progress report.
//!
//! The password lives only in [`Credentials`], in memory, because transfers
//! and reconnects need fresh connections; it is never logged or stored.

use std::collections::VecDeque;
use std::fmt;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use ferry_common::client::{Progress, Stage};
use ferry_common::mirror::{self, MirrorOptions, MirrorProgress, MirrorReport, MirrorStatus};
use ferry_common::protocol::{ConflictPolicy, ErrorCode, FileEntry, Role, VersionInfo};
use ferry_common::transfer::{
    self, Connector, DownloadReport, ResumableDownloadOptions, ResumableUploadOptions, Retry,
    UploadReport,
};
use ferry_common::{Client, ClientError};
use log::{info, warn};

/// Identifies one transfer for the lifetime of the app.
pub type TransferId = u64;

/// How often a transfer reports progress (and wakes the UI) at most.
const REPORT_EVERY: Duration = Duration::from_millis(50);
/// How far back the speed estimate looks.
const RATE_WINDOW: Duration = Duration::from_secs(3);
/// A control connection idle for longer is pinged before use: the server
/// drops silent clients after a few minutes.
const PING_AFTER: Duration = Duration::from_secs(60);
/// How often a queued transfer checks whether it was cancelled.
const QUEUE_POLL: Duration = Duration::from_millis(100);

/// Where and as whom to connect. `Debug` never shows the password.
#[derive(Clone)]
pub struct Credentials {
    /// `host:port`.
    pub addr: String,
    /// The user name.
    pub user: String,
    password: String,
}

impl Credentials {
    /// Bundles a login.
    pub fn new(addr: &str, user: &str, password: &str) -> Credentials {
        Credentials {
            addr: addr.trim().to_owned(),
            user: user.trim().to_owned(),
            password: password.to_owned(),
        }
    }

    fn connect(&self) -> Result<(Client, Role), ClientError> {
        Client::connect_and_login(&self.addr, &self.user, &self.password)
    }

    fn connector(&self) -> Connector {
        Connector::new(&self.addr, &self.user, &self.password)
    }
}

/// What the UI wants a transfer to do next, checked at every progress report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Keep going.
    Run,
    /// Stop and throw the partial file away.
    Cancel,
    /// Stop and keep the partial file for a resume.
    Pause,
}

/// A [`Stop`] shared between a transfer row and its worker.
#[derive(Debug, Default)]
pub struct StopFlag(AtomicU8);

impl StopFlag {
    /// Asks the worker to stop (or, with [`Stop::Run`], clears the request).
    pub fn set(&self, stop: Stop) {
        let value = match stop {
            Stop::Run => 0,
            Stop::Cancel => 1,
            Stop::Pause => 2,
        };
        self.0.store(value, Ordering::Relaxed);
    }

    /// What was asked.
    pub fn get(&self) -> Stop {
        match self.0.load(Ordering::Relaxed) {
            0 => Stop::Run,
            2 => Stop::Pause,
            _ => Stop::Cancel,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("addr", &self.addr)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// A request from the UI to the session thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// List the files.
    Refresh,
    /// Every version of one file.
    History(String),
    /// Delete a file (`version: None`) or one version.
    Delete {
        /// File name.
        name: String,
        /// One version, or the whole file.
        version: Option<u32>,
    },
    /// The last lines of the server log.
    ServerLog {
        /// How many.
        lines: u32,
    },
    /// All users.
    Users,
    /// Create an account.
    AddUser {
        /// New user's name.
        name: String,
        /// Their role.
        role: Role,
        /// Their password.
        password: String,
    },
    /// Remove an account.
    RemoveUser(String),
    /// Set someone's password.
    SetPassword {
        /// Whose.
        user: String,
        /// The new one.
        password: String,
    },
    /// Change someone's role.
    SetRole {
        /// Whose.
        user: String,
        /// The new one.
        role: Role,
    },
}

/// Why a login did not work, sorted so the login screen can title it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginProblem {
    /// No connection could be made.
    Unreachable,
    /// Wrong user name or password.
    WrongPassword,
    /// Too many failed logins.
    Throttled,
    /// The server is full or going away.
    Busy,
    /// Anything else.
    Other,
}

impl LoginProblem {
    fn of(e: &ClientError) -> LoginProblem {
        match (e, e.code()) {
            (ClientError::Connect { .. }, _) => LoginProblem::Unreachable,
            (_, Some(ErrorCode::AuthFailed)) => LoginProblem::WrongPassword,
            (_, Some(ErrorCode::Throttled)) => LoginProblem::Throttled,
            (_, Some(ErrorCode::Busy | ErrorCode::ShuttingDown)) => LoginProblem::Busy,
            _ => LoginProblem::Other,
        }
    }

    /// A short title for the message box.
    pub fn title(self) -> &'static str {
        match self {
            LoginProblem::Unreachable => "Server unreachable",
            LoginProblem::WrongPassword => "Wrong user name or password",
            LoginProblem::Throttled => "Too many failed logins",
            LoginProblem::Busy => "Server busy",
            LoginProblem::Other => "Login failed",
        }
    }
}

/// A report from a worker thread to the UI. Errors are the client library's
/// sentences, ready to show.
#[derive(Debug, Clone)]
pub enum Event {
    /// The login worked.
    LoggedIn {
        /// What the user may do.
        role: Role,
    },
    /// The login did not work; the session is over.
    LoginFailed {
        /// What kind of problem.
        problem: LoginProblem,
        /// The sentence to show.
        message: String,
    },
    /// The file list.
    Files(Result<Vec<FileEntry>, String>),
    /// One file's versions, oldest first.
    History {
        /// Which file.
        name: String,
        /// Its versions.
        result: Result<Vec<VersionInfo>, String>,
    },
    /// A delete finished.
    Deleted {
        /// Which file.
        name: String,
        /// Which version, or all.
        version: Option<u32>,
        /// How many versions went.
        result: Result<u32, String>,
    },
    /// The end of the server log.
    ServerLog(Result<Vec<String>, String>),
    /// The user list.
    Users(Result<Vec<(String, Role)>, String>),
    /// A user change finished.
    UserChanged {
        /// What was done, for the status line ("added bob").
        what: String,
        /// Whether it worked.
        result: Result<(), String>,
    },
    /// A transfer moved on.
    Transfer {
        /// Which one.
        id: TransferId,
        /// What happened.
        update: TransferUpdate,
    },
}

/// What a transfer thread reports.
#[derive(Debug, Clone, PartialEq)]
pub enum TransferUpdate {
    /// It has a slot and is connecting.
    Connecting,
    /// Bytes moved or the stage changed.
    Progress {
        /// Transferring, verifying or done.
        stage: Stage,
        /// Bytes so far.
        done: u64,
        /// Bytes in all.
        total: u64,
        /// Recent rate in bytes per second.
        speed: f64,
    },
    /// An upload is stored and its MD5 checked by the server.
    Uploaded(UploadReport),
    /// A download is saved and its MD5 checked.
    Downloaded {
        /// What arrived, and how (resumed, repaired, restarted).
        report: DownloadReport,
        /// Where it was saved.
        dest: PathBuf,
    },
    /// How each mirror of a multi-server download is doing.
    Mirrors(Vec<MirrorStatus>),
    /// A multi-server download is saved and its MD5 checked.
    MirroredDownload {
        /// What arrived, from whom, and who was left out.
        report: MirrorReport,
        /// Where it was saved.
        dest: PathBuf,
    },
    /// The upload's name exists (policy `fail`); the user must choose.
    NameTaken,
    /// It failed; the sentence says why.
    Failed(String),
    /// The user cancelled it; nothing of it is kept.
    Cancelled,
    /// The user paused it; the partial file is kept for a resume.
    Paused,
}

/// An upload to run.
#[derive(Debug, Clone)]
pub struct UploadJob {
    /// Its row.
    pub id: TransferId,
    /// The local file.
    pub path: PathBuf,
    /// The name on the server.
    pub name: String,
    /// What the server does if the name exists.
    pub policy: ConflictPolicy,
    /// Set by the UI to stop it.
    pub stop: Arc<StopFlag>,
}

/// A download to run.
#[derive(Debug, Clone)]
pub struct DownloadJob {
    /// Its row.
    pub id: TransferId,
    /// The file on the server.
    pub name: String,
    /// A version, or the current one.
    pub version: Option<u32>,
    /// Where to save it.
    pub dest: PathBuf,
    /// Other servers (`host:port`, same account) to fetch parts from at the
    /// same time; empty for a plain download.
    pub mirrors: Vec<String>,
    /// Set by the UI to stop or pause it.
    pub stop: Arc<StopFlag>,
}

/// The UI's handle on one login. Dropping it ends the session thread (its
/// command channel closes) and makes every transfer stop at its next report.
pub struct Session {
    commands: Sender<Command>,
    events: Receiver<Event>,
    events_tx: Sender<Event>,
    /// Shared with the session thread, which updates the password when the
    /// user changes their own.
    creds: Arc<RwLock<Credentials>>,
    addr: String,
    user: String,
    ctx: egui::Context,
    slots: Arc<Slots>,
    state_dir: Option<PathBuf>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("addr", &self.addr)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Starts logging in on the `session` thread; the answer arrives as
    /// [`Event::LoggedIn`] or [`Event::LoginFailed`]. `parallel` caps how
    /// many transfers run at once; `state_dir` keeps what lets an upload
    /// resume after the app was closed (`None`: only within one attempt).
    pub fn login(
        creds: Credentials,
        ctx: &egui::Context,
        parallel: usize,
        state_dir: Option<PathBuf>,
    ) -> Session {
        let (commands, command_rx) = crossbeam_channel::unbounded();
        let (events_tx, events) = crossbeam_channel::unbounded();
        let (addr, user) = (creds.addr.clone(), creds.user.clone());
        let creds = Arc::new(RwLock::new(creds));
        let session = Session {
            commands,
            events,
            events_tx: events_tx.clone(),
            creds: creds.clone(),
            addr,
            user,
            ctx: ctx.clone(),
            slots: Arc::new(Slots::new(parallel)),
            state_dir,
        };
        let ctx = ctx.clone();
        let spawned = thread::Builder::new()
            .name("session".to_owned())
            .spawn(move || run_session(&creds, &command_rx, &events_tx, &ctx));
        if let Err(e) = spawned {
            let _ = session.events_tx.send(Event::LoginFailed {
                problem: LoginProblem::Other,
                message: format!(
                    "the app could not start a thread ({e}); close other programs and try again"
                ),
            });
        }
        session
    }

    /// The server address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The login as it stands now, for a new connection.
    fn creds(&self) -> Credentials {
        self.creds
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Queues a command for the session thread.
    pub fn send(&self, command: Command) {
        // A closed channel means the session thread ended after a failed
        // login; that was reported already.
        let _ = self.commands.send(command);
    }

    /// The next event, if one is waiting.
    pub fn try_recv(&self) -> Option<Event> {
        // Disconnected only after the session thread ended, which it
        // reported before ending.
        self.events.try_recv().ok()
    }

    /// Changes how many transfers run at once.
    pub fn set_parallel(&self, parallel: usize) {
        self.slots.set_max(parallel);
    }

    /// Starts an upload on its own thread.
    pub fn upload(&self, job: UploadJob) {
        let name = format!("upload-{}", job.id);
        let id = job.id;
        let reporter = self.reporter(id, job.stop.clone());
        let (connector, slots) = (self.creds().connector(), self.slots.clone());
        let state_dir = self.state_dir.clone();
        self.spawn_transfer(name, id, move || {
            run_upload(&connector, &slots, state_dir, &job, reporter);
        });
    }

    /// Starts a download on its own thread.
    pub fn download(&self, job: DownloadJob) {
        let name = format!("download-{}", job.id);
        let id = job.id;
        let reporter = self.reporter(id, job.stop.clone());
        let slots = self.slots.clone();
        let creds = self.creds();
        self.spawn_transfer(name, id, move || {
            run_download(&creds, &slots, &job, reporter);
        });
    }

    fn reporter(&self, id: TransferId, stop: Arc<StopFlag>) -> Reporter {
        Reporter {
            id,
            events: self.events_tx.clone(),
            ctx: self.ctx.clone(),
            stop,
            last_sent: None,
            last_stage: None,
            rate: Rate::default(),
            ui_gone: false,
        }
    }

    fn spawn_transfer(&self, name: String, id: TransferId, body: impl FnOnce() + Send + 'static) {
        if let Err(e) = thread::Builder::new().name(name).spawn(body) {
            let _ = self.events_tx.send(Event::Transfer {
                id,
                update: TransferUpdate::Failed(format!(
                    "the app could not start a thread for this transfer ({e}); try again"
                )),
            });
        }
    }
}

// -- the session thread -------------------------------------------------------

fn run_session(
    creds: &RwLock<Credentials>,
    commands: &Receiver<Command>,
    events: &Sender<Event>,
    ctx: &egui::Context,
) {
    let first = creds
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .connect();
    let client = match first {
        Ok((client, role)) => {
            if events.send(Event::LoggedIn { role }).is_err() {
                return;
            }
            ctx.request_repaint();
            client
        }
        Err(e) => {
            let _ = events.send(Event::LoginFailed {
                problem: LoginProblem::of(&e),
                message: e.to_string(),
            });
            ctx.request_repaint();
            return;
        }
    };
    let mut control = Control {
        creds,
        client: Some(client),
        last_used: Instant::now(),
    };
    for command in commands {
        let event = control.handle(command);
        if events.send(event).is_err() {
            break;
        }
        ctx.request_repaint();
    }
    if let Some(client) = control.client.take() {
        let _ = client.quit();
    }
}

/// The control connection, reopened when the server dropped it.
struct Control<'a> {
    creds: &'a RwLock<Credentials>,
    client: Option<Client>,
    last_used: Instant,
}

impl Control<'_> {
    fn handle(&mut self, command: Command) -> Event {
        match command {
            Command::Refresh => Event::Files(self.run(true, Client::list)),
            Command::History(name) => {
                let result = self.run(true, |c| c.history(&name));
                Event::History { name, result }
            }
            Command::Delete { name, version } => {
                let result = self.run(false, |c| c.delete(&name, version));
                Event::Deleted {
                    name,
                    version,
                    result,
                }
            }
            Command::ServerLog { lines } => Event::ServerLog(self.run(true, |c| c.logs(lines))),
            Command::Users => Event::Users(self.run(true, Client::users)),
            Command::AddUser {
                name,
                role,
                password,
            } => Event::UserChanged {
                result: self.run(false, |c| c.add_user(&name, role, &password)),
                what: format!("added {name} ({role})"),
            },
            Command::RemoveUser(name) => Event::UserChanged {
                result: self.run(false, |c| c.remove_user(&name)),
                what: format!("removed {name}"),
            },
            Command::SetPassword { user, password } => {
                let result = self.run(false, |c| c.set_password(&user, &password));
                let mut creds = self.creds.write().unwrap_or_else(PoisonError::into_inner);
                if result.is_ok() && creds.user == user {
                    // New connections (transfers, reconnects) need the new one.
                    creds.password = password;
                }
                Event::UserChanged {
                    result,
                    what: format!("changed the password of {user}"),
                }
            }
            Command::SetRole { user, role } => Event::UserChanged {
                result: self.run(false, |c| c.set_role(&user, role)),
                what: format!("made {user} {role}"),
            },
        }
    }

    /// Runs `call` on a live connection. A connection lost in the middle is
    /// reopened; the call is repeated only when `retry` says it is safe to
    /// (it changes nothing on the server).
    fn run<T>(
        &mut self,
        retry: bool,
        mut call: impl FnMut(&mut Client) -> Result<T, ClientError>,
    ) -> Result<T, String> {
        if self.last_used.elapsed() > PING_AFTER
            && let Some(client) = &mut self.client
            && client.ping().is_err()
        {
            self.client = None;
        }
        let mut result = self.connected().and_then(&mut call);
        if retry && matches!(result, Err(ClientError::Io(_))) {
            info!("control connection lost; reconnecting");
            self.client = None;
            result = self.connected().and_then(&mut call);
        }
        if matches!(result, Err(ClientError::Io(_) | ClientError::Protocol(_))) {
            self.client = None;
        }
        self.last_used = Instant::now();
        result.map_err(|e| e.to_string())
    }

    fn connected(&mut self) -> Result<&mut Client, ClientError> {
        if self.client.is_none() {
            let creds = self.creds.read().unwrap_or_else(PoisonError::into_inner);
            let (client, _role) = creds.connect()?;
            self.client = Some(client);
        }
        Ok(self.client.as_mut().expect("connected above"))
    }
}

// -- transfers ----------------------------------------------------------------

fn run_upload(
    connector: &Connector,
    slots: &Slots,
    state_dir: Option<PathBuf>,
    job: &UploadJob,
    mut reporter: Reporter,
) {
    let Some(_slot) = slots.acquire(&job.stop) else {
        reporter.stopped();
        return;
    };
    reporter.send(TransferUpdate::Connecting);
    let options = ResumableUploadOptions {
        policy: job.policy,
        retry: Retry::default(),
        state_dir,
    };
    let result = transfer::upload(connector, &job.path, &job.name, &options, &mut |p| {
        reporter.progress(p)
    });
    match result {
        Ok(report) => reporter.send(TransferUpdate::Uploaded(report)),
        Err(ClientError::Cancelled) => reporter.stopped(),
        Err(e) if e.code() == Some(ErrorCode::Exists) && job.policy == ConflictPolicy::Fail => {
            reporter.send(TransferUpdate::NameTaken);
        }
        Err(e) => {
            warn!("upload of {} failed: {e}", job.path.display());
            reporter.send(TransferUpdate::Failed(e.to_string()));
        }
    }
}

/// Runs a download: from the session's server, or from it and the job's
/// mirrors at once. A pause keeps the partial file for the resume; a
/// cancel does not.
fn run_download(creds: &Credentials, slots: &Slots, job: &DownloadJob, mut reporter: Reporter) {
    let Some(_slot) = slots.acquire(&job.stop) else {
        if job.stop.get() == Stop::Cancel {
            transfer::discard_partial_download(&job.dest);
        }
        reporter.stopped();
        return;
    };
    reporter.send(TransferUpdate::Connecting);
    let result = if job.mirrors.is_empty() {
        fetch_single(creds, job, &mut reporter)
    } else {
        fetch_mirrored(creds, job, &mut reporter)
    };
    match result {
        Ok(update) => reporter.send(update),
        Err(ClientError::Cancelled) => {
            if job.stop.get() != Stop::Pause {
                transfer::discard_partial_download(&job.dest);
            }
            reporter.stopped();
        }
        Err(e) => {
            warn!("download of {} failed: {e}", job.name);
            reporter.send(TransferUpdate::Failed(e.to_string()));
        }
    }
}

fn fetch_single(
    creds: &Credentials,
    job: &DownloadJob,
    reporter: &mut Reporter,
) -> Result<TransferUpdate, ClientError> {
    let options = ResumableDownloadOptions {
        version: job.version,
        restart: false,
        retry: Retry::default(),
    };
    let report = transfer::download(
        &creds.connector(),
        &job.name,
        &job.dest,
        &options,
        &mut |p| reporter.progress(p),
    )?;
    Ok(TransferUpdate::Downloaded {
        report,
        dest: job.dest.clone(),
    })
}

fn fetch_mirrored(
    creds: &Credentials,
    job: &DownloadJob,
    reporter: &mut Reporter,
) -> Result<TransferUpdate, ClientError> {
    // The session's server first, then the mirrors, all with this login.
    let connectors: Vec<Connector> = std::iter::once(creds.connector())
        .chain(
            job.mirrors
                .iter()
                .filter(|addr| **addr != creds.addr)
                .map(|addr| creds.connector().for_server(addr)),
        )
        .collect();
    let options = MirrorOptions {
        version: job.version,
        ..MirrorOptions::default()
    };
    let report = mirror::download(&connectors, &job.name, &job.dest, &options, &mut |p| {
        reporter.mirror_progress(p)
    })?;
    Ok(TransferUpdate::MirroredDownload {
        report,
        dest: job.dest.clone(),
    })
}

/// Turns progress callbacks into throttled events and answers "stop?".
struct Reporter {
    id: TransferId,
    events: Sender<Event>,
    ctx: egui::Context,
    stop: Arc<StopFlag>,
    last_sent: Option<Instant>,
    last_stage: Option<Stage>,
    rate: Rate,
    ui_gone: bool,
}

impl Reporter {
    fn progress(&mut self, p: Progress) -> ControlFlow<()> {
        let now = Instant::now();
        self.rate.sample(now, p.done);
        let stage_changed = self.last_stage != Some(p.stage);
        let due = self
            .last_sent
            .is_none_or(|t| now.duration_since(t) >= REPORT_EVERY);
        if stage_changed || due {
            self.last_stage = Some(p.stage);
            self.last_sent = Some(now);
            self.send(TransferUpdate::Progress {
                stage: p.stage,
                done: p.done,
                total: p.total,
                speed: self.rate.per_second(),
            });
        }
        if self.ui_gone || self.stop.get() != Stop::Run {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn mirror_progress(&mut self, p: &MirrorProgress) -> ControlFlow<()> {
        let due = self.last_sent.is_none_or(|t| t.elapsed() >= REPORT_EVERY);
        if due || p.stage != Stage::Transferring {
            self.send(TransferUpdate::Mirrors(p.mirrors.clone()));
            // Make the overall report go out now too.
            self.last_sent = None;
        }
        self.progress(p.overall())
    }

    fn send(&mut self, update: TransferUpdate) {
        let event = Event::Transfer {
            id: self.id,
            update,
        };
        if self.events.send(event).is_err() {
            self.ui_gone = true;
        } else {
            self.ctx.request_repaint();
        }
    }

    /// Reports a stop the UI asked for, as a pause or a cancel.
    fn stopped(&mut self) {
        let update = match self.stop.get() {
            Stop::Pause => TransferUpdate::Paused,
            Stop::Run | Stop::Cancel => TransferUpdate::Cancelled,
        };
        self.send(update);
    }
}

/// A transfer rate over the last few seconds.
#[derive(Default)]
struct Rate {
    samples: VecDeque<(Instant, u64)>,
}

impl Rate {
    fn sample(&mut self, at: Instant, done: u64) {
        self.samples.push_back((at, done));
        while self.samples.len() > 2
            && self
                .samples
                .front()
                .is_some_and(|(t, _)| at.duration_since(*t) > RATE_WINDOW)
        {
            self.samples.pop_front();
        }
    }

    fn per_second(&self) -> f64 {
        let (Some((t0, b0)), Some((t1, b1))) = (self.samples.front(), self.samples.back()) else {
            return 0.0;
        };
        let secs = t1.duration_since(*t0).as_secs_f64();
        if secs < 0.05 {
            return 0.0;
        }
        b1.saturating_sub(*b0) as f64 / secs
    }
}

/// A counting semaphore for transfers; waiting can be cancelled.
struct Slots {
    state: Mutex<(usize, usize)>, // (in use, allowed)
    freed: Condvar,
}

struct SlotGuard<'a>(&'a Slots);

impl Slots {
    fn new(max: usize) -> Slots {
        Slots {
            state: Mutex::new((0, max.max(1))),
            freed: Condvar::new(),
        }
    }

    fn set_max(&self, max: usize) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).1 = max.max(1);
        self.freed.notify_all();
    }

    /// Waits for a free slot; `None` if the transfer was stopped meanwhile.
    fn acquire(&self, stop: &StopFlag) -> Option<SlotGuard<'_>> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if stop.get() != Stop::Run {
                return None;
            }
            if state.0 < state.1 {
                state.0 += 1;
                return Some(SlotGuard(self));
            }
            state = self
                .freed
                .wait_timeout(state, QUEUE_POLL)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        self.0
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .0 -= 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show_the_password() {
        let creds = Credentials::new(" host:1 ", "ann", "hunter22-secret");
        let shown = format!("{creds:?}");
        assert!(!shown.contains("hunter22"), "{shown}");
        assert_eq!(creds.addr, "host:1");
    }

    #[test]
    fn rate_uses_the_recent_window() {
        let mut rate = Rate::default();
        let t0 = Instant::now();
        rate.sample(t0, 0);
        assert_eq!(rate.per_second(), 0.0);
        rate.sample(t0 + Duration::from_secs(1), 1000);
        rate.sample(t0 + Duration::from_secs(2), 2000);
        assert!((rate.per_second() - 1000.0).abs() < 1.0);
        rate.sample(t0 + Duration::from_secs(10), 2000 + 8 * 500);
        // The old samples fell out of the window.
        assert!(rate.per_second() < 1000.0);
    }

    #[test]
    fn slots_limit_and_cancel() {
        let slots = Slots::new(1);
        let go = StopFlag::default();
        let first = slots.acquire(&go).expect("a free slot");
        let stop = StopFlag::default();
        stop.set(Stop::Pause);
        assert!(slots.acquire(&stop).is_none(), "stopped while waiting");
        assert_eq!(stop.get(), Stop::Pause);
        drop(first);
        assert!(slots.acquire(&go).is_some());
    }
}
