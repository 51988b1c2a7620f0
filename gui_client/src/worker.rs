//! Everything that talks to the server, off the UI thread.
//!
//! A [`WorkerHandle`] is the UI's handle on one login. Logging in spawns the
//! `session` thread, which owns the control connection and answers
//! [`Command`]s (list a folder, history, delete, folders, logs, users) one at a time,
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
//! This module only names the parts; each child owns one concern, and
//! none of them draws or holds UI state:
//! - `messages`: what the UI and the threads say to each other
//!   ([`Command`], [`Event`], [`TransferUpdate`], the jobs, the stop flag);
//! - `credentials`: where, as whom and how securely to connect (TLS and
//!   whom to trust, or plaintext: the same for every connection of a login);
//! - `session`: the UI's [`WorkerHandle`];
//! - `control`: the `session` thread and its control connection;
//! - `transfers`: starting transfer threads, running one through the client
//!   library, and throttling its progress reports;
//! - `slots`: the semaphore that caps how many transfers run at once.

mod control;
mod credentials;
mod messages;
mod session;
mod slots;
mod transfers;

pub use credentials::Credentials;
pub use messages::{
    Command, DownloadJob, Event, FolderOutcome, Listing, LoginProblem, PLAINTEXT_BOX, Stop,
    StopFlag, TransferId, TransferUpdate, TrustQuestion, UploadJob,
};
pub use session::WorkerHandle;
