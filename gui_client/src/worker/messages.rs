//! What the UI and the worker threads say to each other: the UI's
//! [`Command`]s to the session thread, the threads' [`Event`]s back (with
//! a transfer's [`TransferUpdate`]s), the jobs that start a transfer, and
//! the [`StopFlag`] the UI sets to cancel or pause one.
//!
//! Plain data only: no threads, no connections, no drawing.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use ferry_client::Stage;
use ferry_client::mirror::{MirrorReport, MirrorStatus};
use ferry_client::transfer::{DownloadReport, UploadReport};
use ferry_client::{ClientError, Verified};
use ferry_proto::protocol::{ConflictPolicy, ErrorCode, FileEntry, FolderEntry, Role, VersionInfo};

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
    /// List one folder (`None`: the root): its sub-folders and files.
    List {
        /// Which folder.
        folder: Option<String>,
    },
    /// Create a folder (and any missing folder above it).
    MakeFolder(String),
    /// Remove a folder with everything in it (admin).
    RemoveFolder(String),
    /// Rename or move a file (with its versions) or a folder (with
    /// everything in it) (admin).
    Move {
        /// Its path now.
        from: String,
        /// Its new path.
        to: String,
    },
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
    /// Its certificate is not valid (a CA-signed one for another name,
    /// expired, …), or the TLS handshake failed.
    NotVerified,
    /// TLS on one side only: "Plaintext" ticked for a TLS server, or not
    /// ticked for a plaintext one.
    TlsMismatch,
    /// Anything else.
    Other,
}

impl LoginProblem {
    pub(super) fn of(e: &ClientError) -> LoginProblem {
        match (e, e.code()) {
            (ClientError::Connect { .. }, _) => LoginProblem::Unreachable,
            (ClientError::NotTls { .. } | ClientError::NeedsTls { .. }, _) => {
                LoginProblem::TlsMismatch
            }
            (ClientError::BadCertificate { .. } | ClientError::Tls { .. }, _) => {
                LoginProblem::NotVerified
            }
            (_, Some(ErrorCode::TlsRequired)) => LoginProblem::TlsMismatch,
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
            LoginProblem::NotVerified => "Server not verified",
            LoginProblem::TlsMismatch => "Encryption setting does not match the server",
            LoginProblem::Other => "Login failed",
        }
    }
}

/// The sentence the login screen shows for `e`: the client library's,
/// except where that names the command line's `--plaintext`, which in the
/// app is the "Plaintext" checkbox.
pub(super) fn login_message(e: &ClientError) -> String {
    match e {
        ClientError::NotTls { addr } => format!(
            "{addr} answered without encryption (its server runs with --plaintext); tick \
             “{PLAINTEXT_BOX}” only if you trust this network, or ask its administrator to \
             turn TLS on."
        ),
        ClientError::NeedsTls { addr } => {
            format!("{addr} speaks only TLS; untick “{PLAINTEXT_BOX}” and log in again.")
        }
        other => other.to_string(),
    }
}

/// The login form's checkbox for servers run with `--plaintext`.
pub const PLAINTEXT_BOX: &str = "Plaintext (not encrypted)";

/// A server that cannot be logged in to until the user decides about its
/// certificate. Nothing was sent to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustQuestion {
    /// The first connection to this address: the user compares the
    /// fingerprint with the one the server printed, then trusts it or not.
    New {
        /// `host:port`.
        addr: String,
        /// What it showed.
        fingerprint: String,
    },
    /// The address is pinned to another certificate: someone may be in the
    /// middle, or the server got a new certificate.
    Changed {
        /// `host:port`.
        addr: String,
        /// The fingerprint trusted before.
        pinned: String,
        /// The one it shows now.
        presented: String,
        /// Where the pin is kept (the known-hosts file).
        place: String,
    },
}

impl TrustQuestion {
    /// The question `e` asks, if it is one.
    pub(super) fn of(e: &ClientError) -> Option<TrustQuestion> {
        match e {
            ClientError::UnknownServer { addr, fingerprint } => Some(TrustQuestion::New {
                addr: addr.clone(),
                fingerprint: fingerprint.clone(),
            }),
            ClientError::ServerChanged {
                addr,
                pinned,
                presented,
                place,
            } => Some(TrustQuestion::Changed {
                addr: addr.clone(),
                pinned: pinned.clone(),
                presented: presented.clone(),
                place: place.clone(),
            }),
            _ => None,
        }
    }

    /// The address asked about.
    pub fn addr(&self) -> &str {
        match self {
            TrustQuestion::New { addr, .. } | TrustQuestion::Changed { addr, .. } => addr,
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
        /// How the server was verified (or that it was not: plaintext).
        verified: Verified,
        /// Its certificate's fingerprint; `None` in plaintext.
        fingerprint: Option<String>,
    },
    /// The login did not work; the session is over.
    LoginFailed {
        /// What kind of problem.
        problem: LoginProblem,
        /// The sentence to show.
        message: String,
    },
    /// The login stopped before anything was sent, until the user decides
    /// about the server's certificate; the session is over.
    TrustNeeded(TrustQuestion),
    /// A folder's listing.
    Listing {
        /// Which folder (`None`: the root).
        folder: Option<String>,
        /// Its sub-folders and files.
        result: Result<Listing, String>,
    },
    /// A folder was created or removed, or a file or folder moved: the
    /// sentence for the status line, or why it was not.
    PathChanged(Result<String, String>),
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

/// One folder's listing: its sub-folders, then its files.
pub type Listing = (Vec<FolderEntry>, Vec<FileEntry>);

/// How a whole-folder transfer ended (one that ran to its end; a broken
/// connection or a cancel is reported as for a file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderOutcome {
    /// Files stored or saved.
    pub moved: usize,
    /// Files the other side had already, with the same MD5.
    pub unchanged: usize,
    /// Bytes of cut-off downloads that were continued rather than fetched
    /// again.
    pub resumed: u64,
    /// Files left alone because the user chose Skip for names that exist
    /// with other content.
    pub kept: Vec<String>,
    /// Files or folders that failed, each with why.
    pub failed: Vec<(String, String)>,
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
    /// How many files of a whole-folder transfer are finished.
    Files {
        /// Finished (moved, unchanged or failed).
        done: usize,
        /// In all.
        total: usize,
    },
    /// A whole-folder transfer ran to its end.
    FolderDone(FolderOutcome),
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
    /// The upload's name is not allowed (the client's check or the
    /// server's `BAD_NAME`); the user must choose another. Says why.
    NameRefused(String),
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
    /// Whether `path` is a folder, sent with everything in it into the
    /// server folder `name`.
    pub folder: bool,
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
    /// Whether `name` is a folder, saved with everything in it as the
    /// local folder `dest`.
    pub folder: bool,
    /// For a folder: replace local files whose content differs from the
    /// server's (otherwise they are kept).
    pub overwrite: bool,
    /// Set by the UI to stop or pause it.
    pub stop: Arc<StopFlag>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_mismatches_name_the_checkbox_not_the_command_line_flag() {
        let needs = ClientError::NeedsTls { addr: "h:1".into() };
        assert_eq!(LoginProblem::of(&needs), LoginProblem::TlsMismatch);
        let text = login_message(&needs);
        assert!(
            text.contains("untick “Plaintext (not encrypted)”"),
            "{text}"
        );
        let not = ClientError::NotTls { addr: "h:1".into() };
        assert_eq!(LoginProblem::of(&not), LoginProblem::TlsMismatch);
        let text = login_message(&not);
        assert!(
            text.contains("tick “Plaintext (not encrypted)” only if"),
            "{text}"
        );
        for text in [login_message(&needs), login_message(&not)] {
            assert_eq!(text.matches(". ").count(), 0, "one sentence: {text}");
        }
    }

    #[test]
    fn unknown_and_changed_servers_are_questions_the_rest_are_errors() {
        let unknown = ClientError::UnknownServer {
            addr: "h:1".into(),
            fingerprint: "SHA256:aa".into(),
        };
        assert_eq!(
            TrustQuestion::of(&unknown),
            Some(TrustQuestion::New {
                addr: "h:1".into(),
                fingerprint: "SHA256:aa".into()
            })
        );
        let changed = ClientError::ServerChanged {
            addr: "h:1".into(),
            pinned: "SHA256:aa".into(),
            presented: "SHA256:bb".into(),
            place: "/k".into(),
        };
        assert_eq!(TrustQuestion::of(&changed).unwrap().addr(), "h:1");
        let bad = ClientError::BadCertificate {
            addr: "h:1".into(),
            reason: "its certificate expired".into(),
        };
        assert_eq!(TrustQuestion::of(&bad), None);
        assert_eq!(LoginProblem::of(&bad), LoginProblem::NotVerified);
    }
}
