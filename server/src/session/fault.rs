//! How handling a request goes wrong, and the sentence each failure gets.
//!
//! A [`Fault`] either refuses the request (an `ERR` line, the conversation
//! goes on) or ends the conversation. The functions here turn database,
//! storage and name errors into refusals that say what to do; they never
//! touch the connection.

use std::io;

use ferry_proto::names::{FileName, UncheckedName, escaped};
use ferry_proto::protocol::{ErrorCode, Reply};
use log::error;

use crate::db::DbError;

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

/// The one door from a request's name to a [`FileName`]: every handler of
/// a file takes `&FileName`, so none can skip the check. Called after the
/// request is authorized, as a bad name has always been refused then.
pub(super) fn file_name(name: &UncheckedName) -> Result<FileName, Fault> {
    name.check().map_err(|e| {
        refuse(
            ErrorCode::BadName,
            format!(
                "the name {} is not allowed: {e}; choose another name",
                escaped(name.as_str())
            ),
        )
    })
}

pub(super) fn exists(name: &FileName) -> Fault {
    refuse(
        ErrorCode::Exists,
        format!(
            "a file named {} already exists; upload again with overwrite (keeps the old one as a version) or rename",
            escaped(name)
        ),
    )
}

pub(super) fn not_found(e: DbError, name: &FileName, version: Option<u32>) -> Fault {
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
