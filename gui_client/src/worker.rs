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
//!
//! This module owns the [`Session`] handle and the [`Credentials`]; the rest
//! is split by concern, and none of it draws or holds UI state:
//! - `messages`: what the UI and the threads say to each other
//!   ([`Command`], [`Event`], [`TransferUpdate`], the jobs, the stop flag);
//! - `control`: the `session` thread and its control connection;
//! - `transfers`: starting transfer threads, running one through the client
//!   library, and throttling its progress reports;
//! - `slots`: the semaphore that caps how many transfers run at once.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::thread;

use crossbeam_channel::{Receiver, Sender};
use ferry_common::protocol::Role;
use ferry_common::transfer::Connector;
use ferry_common::{Client, ClientError};

mod control;
mod messages;
mod slots;
mod transfers;

pub use messages::{
    Command, DownloadJob, Event, LoginProblem, Stop, StopFlag, TransferUpdate, UploadJob,
};

use control::run_session;
use slots::Slots;

/// Identifies one transfer for the lifetime of the app.
pub type TransferId = u64;
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
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("addr", &self.addr)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
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
}
