//! How handling a request goes wrong, and the sentence each failure gets.
//!
//! A [`Fault`] either refuses the request (an `ERR` line, the conversation
//! goes on) or ends the conversation. The functions here turn database,
//! storage and name errors into refusals that say what to do; they never
//! touch the connection.

use std::io;

use ferry_proto::names::{FilePath, UncheckedName, escaped};
use ferry_proto::protocol::{ErrorCode, Reply};
use log::error;

use crate::db::{Blocked, DbError};

/// How handling a request went wrong.
pub(super) enum Fault {
    /// Answer `ERR code message` and carry on.
    Refuse(ErrorCode, String),
    /// The conversation is over; the reason is for the log.
    End(String),
}

impl From<io::Error> for Fault {
    fn from(e: io::Error) -> Self {
        Fault::End(format!("connection error: {e}"))
    }
}

impl From<DbError> for Fault {
    fn from(e: DbError) -> Self {
        db_failure(&e)
    }
}

/// Logs a database failure; the refusal the client gets for it.
pub(super) fn db_failure(e: &DbError) -> Fault {
    error!("database failure: {e}");
    if e.is_disk_full() {
        return refuse(
            ErrorCode::NoSpace,
            "the server's disk is full; nothing was changed, tell the admin",
        );
    }
    refuse(
        ErrorCode::Internal,
        "the server's database failed; try again, and tell the admin if it persists",
    )
}

pub(super) fn refuse(code: ErrorCode, message: impl Into<String>) -> Fault {
    Fault::Refuse(code, message.into())
}

/// The one door from a request's name or path to a [`FilePath`]: every
/// handler of a file or folder takes `&FilePath`, so none can skip the
/// check. Called after the request is authorized, as a bad name has always
/// been refused then. A flat name is a one-part path and gets the very
/// refusal it got before folders existed.
pub(super) fn file_path(name: &UncheckedName) -> Result<FilePath, Fault> {
    name.check_path().map_err(|e| {
        refuse(
            ErrorCode::BadName,
            format!(
                "the name {} is not allowed: {e}; choose another name",
                escaped(name.as_str())
            ),
        )
    })
}

pub(super) fn exists(name: &FilePath) -> Fault {
    refuse(
        ErrorCode::Exists,
        format!(
            "a file named {} already exists; upload again with overwrite (keeps the old one as a version) or rename",
            escaped(name)
        ),
    )
}

/// The refusal for a path something else is in the way of.
pub(super) fn blocked(blocked: &Blocked) -> Fault {
    let message = match blocked {
        Blocked::FileInTheWay(file) => format!(
            "{} is a file, so it cannot hold a folder; choose another path or move that file away",
            escaped(file)
        ),
        Blocked::FolderInTheWay(folder) => format!(
            "a folder named {} already exists; choose another name or upload into that folder",
            escaped(folder)
        ),
        Blocked::FileExists(file) => format!(
            "a file named {} already exists; choose another name or move that file away first",
            escaped(file)
        ),
    };
    refuse(ErrorCode::Exists, message)
}

/// The refusal for a rule of folders a request broke (anything else the
/// database says is a failure).
pub(super) fn path_refusal(e: DbError) -> Fault {
    match e {
        DbError::Blocked(b) => blocked(&b),
        DbError::NotEmpty => refuse(
            ErrorCode::NotEmpty,
            "the folder is not empty; remove what it holds first, or remove it with everything in it (recursive=yes)",
        ),
        DbError::IntoItself => refuse(
            ErrorCode::BadName,
            "a folder cannot be moved into itself; choose a path outside it",
        ),
        DbError::BadTarget(path, reason) => refuse(
            ErrorCode::BadName,
            format!(
                "the path {} would not be allowed: {reason}; choose a shorter path",
                escaped(&path)
            ),
        ),
        other => other.into(),
    }
}

/// The refusal for a folder request that named no folder, or a file.
pub(super) fn no_folder(e: DbError, path: &FilePath) -> Fault {
    match e {
        DbError::NotFound => refuse(
            ErrorCode::NotFound,
            format!(
                "there is no folder named {}; check the path (LS lists the folders)",
                escaped(path)
            ),
        ),
        other => path_refusal(other),
    }
}

pub(super) fn not_found(e: DbError, name: &FilePath, version: Option<u32>) -> Fault {
    match (e, version) {
        (DbError::NotFound, None) => refuse(
            ErrorCode::NotFound,
            format!("there is no file named {}; check the name", escaped(name)),
        ),
        (DbError::NotFound, Some(v)) => refuse(
            ErrorCode::NotFound,
            format!(
                "{} has no version {v}; see its version history",
                escaped(name)
            ),
        ),
        (DbError::Blocked(b), _) => blocked(&b),
        (other, _) => other.into(),
    }
}

pub(super) fn user_error(e: DbError, user: &str) -> Fault {
    match e {
        DbError::NotFound => refuse(
            ErrorCode::NotFound,
            format!(
                "there is no user named {}; check the user list",
                escaped(user)
            ),
        ),
        DbError::LastAdmin => refuse(
            ErrorCode::Forbidden,
            format!(
                "{} is the last admin; make another user admin first",
                escaped(user)
            ),
        ),
        other => other.into(),
    }
}

/// The ERR line for a refusal.
pub(super) fn fault_reply(fault: Fault) -> Reply {
    match fault {
        Fault::Refuse(code, message) => Reply::error(code, message),
        Fault::End(reason) => Reply::error(ErrorCode::Internal, reason),
    }
}

/// The refusal for a failed write of an upload.
pub(super) fn storage_failure(e: &io::Error) -> Fault {
    if is_disk_full(e) {
        refuse(
            ErrorCode::NoSpace,
            "the server's disk is full; nothing was stored, tell the admin",
        )
    } else {
        refuse(
            ErrorCode::Internal,
            "the server could not store the file; nothing was stored, tell the admin",
        )
    }
}

/// Whether a write failed for want of disk space (or of quota).
pub(super) fn is_disk_full(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}
