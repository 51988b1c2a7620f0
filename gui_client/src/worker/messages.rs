//! What the UI and the worker threads say to each other: the UI's
//! [`Command`]s to the session thread, the threads' [`Event`]s back (with
//! a transfer's [`TransferUpdate`]s), the jobs that start a transfer, and
//! the [`StopFlag`] the UI sets to cancel or pause one.
//!
//! Plain data only: no threads, no connections, no drawing.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use ferry_client::ClientError;
use ferry_client::Stage;
use ferry_client::mirror::{MirrorReport, MirrorStatus};
use ferry_client::transfer::{DownloadReport, UploadReport};
use ferry_proto::protocol::{ConflictPolicy, ErrorCode, FileEntry, Role, VersionInfo};

/// Identifies one transfer for the lifetime of the app.
pub type TransferId = u64;

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
    pub(super) fn of(e: &ClientError) -> LoginProblem {
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
