//! The UI's handle on one login: starting the `session` thread, queueing
//! commands for it, and taking its events. Starting transfers through the
//! handle is `transfers`' part; what the thread does is `control`'s.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::thread;

use crossbeam_channel::{Receiver, Sender};

use super::control::run_session;
use super::credentials::Credentials;
use super::messages::{Command, Event, LoginProblem};
use super::slots::TransferSlots;

/// The UI's handle on one login. Dropping it ends the session thread (its
/// command channel closes) and makes every transfer stop at its next report.
pub struct WorkerHandle {
    commands: Sender<Command>,
    events: Receiver<Event>,
    pub(super) events_tx: Sender<Event>,
    /// Shared with the session thread, which updates the password when the
    /// user changes their own.
    creds: Arc<RwLock<Credentials>>,
    addr: String,
    user: String,
    pub(super) ctx: egui::Context,
    pub(super) slots: Arc<TransferSlots>,
    pub(super) state_dir: Option<PathBuf>,
}

impl fmt::Debug for WorkerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerHandle")
            .field("addr", &self.addr)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl WorkerHandle {
    /// Starts logging in on the `session` thread; the answer arrives as
    /// [`Event::LoggedIn`], [`Event::TrustNeeded`] or [`Event::LoginFailed`].
    /// `pin` is a fingerprint the user just trusted for this address,
    /// pinned before connecting. `parallel` caps how many transfers run at
    /// once; `state_dir` keeps what lets an upload resume after the app was
    /// closed (`None`: only within one attempt).
    pub fn login(
        creds: Credentials,
        pin: Option<String>,
        ctx: &egui::Context,
        parallel: usize,
        state_dir: Option<PathBuf>,
    ) -> WorkerHandle {
        let (commands, command_rx) = crossbeam_channel::unbounded();
        let (events_tx, events) = crossbeam_channel::unbounded();
        let (addr, user) = (creds.addr.clone(), creds.user.clone());
        let creds = Arc::new(RwLock::new(creds));
        let session = WorkerHandle {
            commands,
            events,
            events_tx: events_tx.clone(),
            creds: creds.clone(),
            addr,
            user,
            ctx: ctx.clone(),
            slots: Arc::new(TransferSlots::new(parallel)),
            state_dir,
        };
        let ctx = ctx.clone();
        let spawned = thread::Builder::new()
            .name("session".to_owned())
            .spawn(move || run_session(&creds, pin.as_deref(), &command_rx, &events_tx, &ctx));
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
    pub(super) fn creds(&self) -> Credentials {
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
}
