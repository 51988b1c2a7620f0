//! The wire protocol as types: every line a client or server sends, with a
//! pure `parse` and a `Display` that renders it. The same types serve both
//! sides, so the two cannot drift apart. No sockets here: reading a line (with
//! its length cap) and moving payload bytes is `ferry_io::wire`'s job.
//!
//! `docs/PROTOCOL.md` is the prose description of the same grammar.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use crate::hash::Md5Digest;
use crate::names::UncheckedName;
use crate::time::Timestamp;

/// The protocol version a server announces in its greeting.
pub const PROTOCOL_VERSION: u32 = 1;
/// The port a server listens on when none is given.
pub const DEFAULT_PORT: u16 = 7878;
/// The default cap on one line, terminator included.
pub const MAX_LINE_BYTES: usize = 4096;
/// The size of the DATA frames a sender cuts payloads into, and the unit of
/// resume bookkeeping. Receivers accept any frame up to [`MAX_FRAME_BYTES`].
pub const CHUNK_SIZE: u64 = 1 << 20;
/// The largest DATA frame a receiver accepts.
pub const MAX_FRAME_BYTES: u64 = 16 << 20;
/// How many log lines `LOGS` returns when no count is given.
pub const DEFAULT_LOG_LINES: u32 = 200;
/// The most log lines one `LOGS` request returns.
pub const MAX_LOG_LINES: u32 = 10_000;

/// What a user may do. Admins may also delete, read the server log and manage users.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Full rights.
    Admin,
    /// May list, upload and download.
    User,
}

/// What the server does when an upload's name is already taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConflictPolicy {
    /// The new content becomes current; the old stays in the version history.
    Overwrite,
    /// Store under the first free `name_vN.ext`.
    Rename,
    /// Refuse the upload.
    Fail,
}

/// A password on its way to the server: its `Debug` output never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// One stored version of a file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VersionInfo {
    /// The file's name.
    pub name: String,
    /// Its version number: 1 for the first upload, counting up, never reused.
    pub version: u32,
    /// Size in bytes.
    pub size: u64,
    /// MD5 of the content.
    pub md5: Md5Digest,
    /// When this version was stored.
    #[serde(with = "timestamp_text")]
    pub modified: Timestamp,
    /// The user who uploaded it.
    pub uploader: String,
}

/// A row of `LIST`: a file's current version and how many versions it has.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileEntry {
    /// The current (newest) version.
    #[serde(flatten)]
    pub current: VersionInfo,
    /// How many versions the history holds.
    pub versions: u32,
}

/// A folder in a folder listing (`LS`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FolderEntry {
    /// Its full path from the root (`a/b`).
    pub path: String,
    /// When it was created (explicitly, or by the first upload into it).
    #[serde(with = "timestamp_text")]
    pub created: Timestamp,
}

mod timestamp_text {
    use super::Timestamp;
    pub fn serialize<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(t)
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text: String = serde::Deserialize::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A command line sent by a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// `LOGIN <user> <password>`
    Login {
        /// User name.
        user: String,
        /// Password.
        password: Secret,
    },
    /// `LIST`
    List,
    /// `STAT <name> [version=N]`: one version's details (default: current).
    Stat {
        /// File name, as sent: the server checks it.
        name: UncheckedName,
        /// Version number; `None` for the current one.
        version: Option<u32>,
    },
    /// `HISTORY <name>`
    History {
        /// File name, as sent: the server checks it.
        name: UncheckedName,
    },
    /// `DOWNLOAD <name> [version=N] [offset=N] [length=N]`
    Download {
        /// File name, as sent: the server checks it.
        name: UncheckedName,
        /// Version number; `None` for the current one.
        version: Option<u32>,
        /// First byte to send.
        offset: u64,
        /// How many bytes to send; `None` for all to the end.
        length: Option<u64>,
    },
    /// `UPLOAD <name> <size> <policy> [resume=<upload-id>]`; the body (DATA
    /// frames, then DONE or ABORT) always follows.
    Upload {
        /// File name, as sent: the server checks it.
        name: UncheckedName,
        /// Total size of the file in bytes.
        size: u64,
        /// What to do if the name is taken.
        policy: ConflictPolicy,
        /// The id of an interrupted upload to continue, from an earlier READY.
        resume: Option<String>,
    },
    /// `CHUNKS <name> [version=N]`: the MD5 of every CHUNK_SIZE piece of a
    /// version, to find which pieces of a damaged copy to fetch again.
    Chunks {
        /// File name, as sent: the server checks it.
        name: UncheckedName,
        /// Version number; `None` for the current one.
        version: Option<u32>,
    },
    /// `DELETE <name> [version=N]` (admin)
    Delete {
        /// File name, as sent: the server checks it.
        name: UncheckedName,
        /// One version; `None` deletes the file with its whole history.
        version: Option<u32>,
    },
    /// `LOGS [lines=N]` (admin): the last lines of the server log.
    Logs {
        /// How many lines.
        lines: u32,
    },
    /// `USERS` (admin)
    Users,
    /// `USERADD <user> <role> <password>` (admin)
    UserAdd {
        /// New user's name.
        user: String,
        /// Their role.
        role: Role,
        /// Their password.
        password: Secret,
    },
    /// `USERDEL <user>` (admin)
    UserDel {
        /// The user to remove.
        user: String,
    },
    /// `PASSWD <user> <password>`: admins for anyone, users for themselves.
    Passwd {
        /// Whose password.
        user: String,
        /// The new password.
        password: Secret,
    },
    /// `ROLE <user> <role>` (admin)
    SetRole {
        /// Whose role.
        user: String,
        /// The new role.
        role: Role,
    },
    /// `LS [folder=<path>] [recursive=yes|no]`: the folders and files in
    /// one folder (default: the root), or in its whole tree.
    Ls {
        /// The folder, as sent: the server checks it; `None` for the root.
        folder: Option<UncheckedName>,
        /// Whether to list everything below, at any depth.
        recursive: bool,
    },
    /// `MKDIR <path>`: creates a folder and any missing folders above it.
    Mkdir {
        /// The folder's path, as sent: the server checks it.
        path: UncheckedName,
    },
    /// `RMDIR <path> [recursive=yes|no]` (admin): removes a folder; a
    /// folder that holds anything only with `recursive=yes`.
    Rmdir {
        /// The folder's path, as sent: the server checks it.
        path: UncheckedName,
        /// Whether to remove what it holds, files with their histories.
        recursive: bool,
    },
    /// `MOVE <from> <to>` (admin): moves (renames) a file with its whole
    /// history, or a folder with everything in it.
    Move {
        /// What to move, as sent: the server checks it.
        from: UncheckedName,
        /// Its new path, as sent: the server checks it.
        to: UncheckedName,
    },
    /// `PING`: does nothing, answers `OK`.
    Ping,
    /// `QUIT`
    Quit,
}

/// A line of an upload's body, sent by the client after `UPLOAD`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UploadFrame {
    /// `DATA <n>`, followed by exactly n raw bytes.
    Data(u64),
    /// `DONE <md5>`: the payload is complete; this is the MD5 of the whole file.
    Done(Md5Digest),
    /// `ABORT`: the client gives up on this upload.
    Abort,
}

/// A line sent by the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `FERRY <version> <text>`: the greeting.
    Hello {
        /// Protocol version.
        version: u32,
        /// Free text for people.
        text: String,
    },
    /// `OK`: done, nothing to report.
    Ok,
    /// `OK BYE`: answer to QUIT; the server closes the connection.
    Bye,
    /// `OK LOGIN <role>`
    LoggedIn(Role),
    /// `OK LIST <count>`, followed by count `FILE` lines.
    ListHeader(u64),
    /// `FILE <name> <version> <size> <md5> <modified> <uploader> <versions>`
    File(FileEntry),
    /// `OK STAT <name> <version> <size> <md5> <modified> <uploader>`
    Stat(VersionInfo),
    /// `OK HISTORY <count>`, followed by count `VERSION` lines, oldest first.
    HistoryHeader(u64),
    /// `VERSION <name> <version> <size> <md5> <modified> <uploader>`
    Version(VersionInfo),
    /// `OK DOWNLOAD <version> <size> <md5> <offset> <length>`, followed by
    /// DATA frames carrying `length` bytes, then `END`.
    Download {
        /// The version being sent.
        version: u32,
        /// The file's total size.
        size: u64,
        /// MD5 of the whole file (not of the range).
        md5: Md5Digest,
        /// First byte sent.
        offset: u64,
        /// Number of bytes sent.
        length: u64,
    },
    /// `DATA <n>`, followed by exactly n raw bytes.
    Data(u64),
    /// `END`: the download's payload is complete.
    End,
    /// `OK READY <upload-id> <offset>`: send the body starting at byte `offset`.
    Ready {
        /// The server's id for this upload.
        upload_id: String,
        /// Where the payload starts.
        offset: u64,
    },
    /// `OK CHUNKS <chunk-size> <count>`, followed by count `CHUNK` lines in order.
    ChunksHeader {
        /// Bytes per chunk (the last one may be shorter).
        chunk_size: u64,
        /// Number of chunks.
        count: u64,
    },
    /// `CHUNK <index> <md5>`: the MD5 of bytes `index*chunk_size ..` of the version.
    Chunk {
        /// Zero-based chunk number.
        index: u64,
        /// Its MD5.
        md5: Md5Digest,
    },
    /// `OK STORED <name> <version> <size> <md5>`: the upload is durable and visible.
    Stored {
        /// The name it was stored under (differs from the request under `rename`).
        name: String,
        /// Its version number.
        version: u32,
        /// Its size.
        size: u64,
        /// Its MD5, as computed by the server.
        md5: Md5Digest,
    },
    /// `OK DELETED <name> <count>`: how many versions were removed.
    Deleted {
        /// File name.
        name: String,
        /// Versions removed.
        versions: u32,
    },
    /// `OK LS <count>`, followed by count `FOLDER` and `FILE` lines.
    LsHeader(u64),
    /// `FOLDER <path> <created>`: a folder in a listing.
    Folder(FolderEntry),
    /// `OK MKDIR <path> <created>`: the folder exists; `created` folders
    /// were made for it (0 when it existed already).
    Made {
        /// The folder's path.
        path: String,
        /// How many folders were created (it and missing ones above it).
        created: u32,
    },
    /// `OK RMDIR <path> <folders> <files> <versions>`: what was removed.
    Removed {
        /// The folder's path.
        path: String,
        /// Folders removed, itself included.
        folders: u64,
        /// Files removed.
        files: u64,
        /// Versions of those files removed.
        versions: u64,
    },
    /// `OK MOVED <from> <to> <files> <folders>`: what moved.
    Moved {
        /// The old path.
        from: String,
        /// The new path.
        to: String,
        /// Files that moved (1 for a file).
        files: u64,
        /// Folders that moved (0 for a file).
        folders: u64,
    },
    /// `OK LOGS <count>`, followed by count `LINE` lines.
    LogsHeader(u64),
    /// `LINE <text>`: one line of the server log.
    LogLine(String),
    /// `OK USERS <count>`, followed by count `USER` lines.
    UsersHeader(u64),
    /// `USER <name> <role>`
    User {
        /// User name.
        name: String,
        /// Role.
        role: Role,
    },
    /// `ERR <code> <message>`
    Error {
        /// Machine-readable code.
        code: ErrorCode,
        /// One sentence for people: what happened and what to do.
        message: String,
    },
}

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)*) => {
        /// The machine-readable part of an `ERR` reply.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $($(#[$doc])* $variant,)* }

        impl ErrorCode {
            /// Every code, in the order `docs/PROTOCOL.md` lists them.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it appears on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $text,)* }
            }
        }

        impl FromStr for ErrorCode {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($text => Ok(ErrorCode::$variant),)* _ => Err(()) }
            }
        }
    };
}

error_codes! {
    /// Malformed arguments: missing, extra, not a number, bad encoding.
    BadRequest = "BAD_REQUEST",
    /// The verb is not one the server knows.
    UnknownVerb = "UNKNOWN_VERB",
    /// A line exceeded the server's cap; the server closes the connection.
    LineTooLong = "LINE_TOO_LONG",
    /// The request needs a logged-in user.
    NotLoggedIn = "NOT_LOGGED_IN",
    /// Wrong user name or password.
    AuthFailed = "AUTH_FAILED",
    /// Too many failed logins; wait and try again.
    Throttled = "THROTTLED",
    /// The user's role does not allow this.
    Forbidden = "FORBIDDEN",
    /// No such file, version or user.
    NotFound = "NOT_FOUND",
    /// The name is taken (upload with policy `fail`, or an existing user),
    /// or a file or folder is in the way of a path.
    Exists = "EXISTS",
    /// The folder is not empty; remove it with `recursive=yes`.
    NotEmpty = "NOT_EMPTY",
    /// The file name breaks the naming rules.
    BadName = "BAD_NAME",
    /// The payload's MD5 does not match the one announced; nothing was stored.
    Md5Mismatch = "MD5_MISMATCH",
    /// The payload was shorter or longer than announced; nothing was stored.
    SizeMismatch = "SIZE_MISMATCH",
    /// An offset or range lies outside the file.
    BadRange = "BAD_RANGE",
    /// The upload is larger than the server accepts.
    TooLarge = "TOO_LARGE",
    /// The server's disk cannot hold the upload.
    NoSpace = "NO_SPACE",
    /// The server has too many connections; try again shortly.
    Busy = "BUSY",
    /// The client was silent for too long; the server closes the connection.
    Timeout = "TIMEOUT",
    /// The server is shutting down.
    ShuttingDown = "SHUTTING_DOWN",
    /// The listener speaks only TLS and the client spoke in clear; the
    /// server closes the connection.
    TlsRequired = "TLS_REQUIRED",
    /// Something failed on the server; the message says what.
    Internal = "INTERNAL",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Role {
    /// The role as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "admin" => Ok(Role::Admin),
            "user" => Ok(Role::User),
            _ => Err(()),
        }
    }
}

impl ConflictPolicy {
    /// The policy as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictPolicy::Overwrite => "overwrite",
            ConflictPolicy::Rename => "rename",
            ConflictPolicy::Fail => "fail",
        }
    }
}

impl fmt::Display for ConflictPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ConflictPolicy {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "overwrite" => Ok(ConflictPolicy::Overwrite),
            "rename" => Ok(ConflictPolicy::Rename),
            "fail" => Ok(ConflictPolicy::Fail),
            _ => Err(()),
        }
    }
}

mod args;
mod error;
mod reply;
mod request;
mod words;

use self::args::*;
pub use self::error::ProtocolError;
use self::error::*;
use self::words::*;
pub use self::words::{decode_word, encode_word, line_str};

#[cfg(test)]
mod tests;
