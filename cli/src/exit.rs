//! Exit codes a script can trust, and how errors map onto them.
//!
//! The table here is the single source for both the process exit status and
//! the "Exit codes" section of `--help`, so the two cannot disagree.

use std::fmt;
use std::io;

use ferry_client::ClientError;
use ferry_proto::ErrorCode;

/// What the process's exit status tells a script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Everything worked.
    Success,
    /// Anything not covered below.
    General,
    /// The command line was wrong (clap also uses 2).
    Usage,
    /// No connection, or it broke.
    Connection,
    /// The server refused the user name or password, or is throttling.
    Login,
    /// The user's role does not allow the command.
    Forbidden,
    /// No such file, version or user.
    NotFound,
    /// The name is taken.
    Exists,
    /// A hash check failed.
    Integrity,
    /// A local file could not be used.
    LocalFile,
    /// The server could not be verified: unknown, changed or invalid
    /// certificate, or TLS on one side only.
    Untrusted,
}

impl Exit {
    /// Every exit status, in numeric order.
    pub const ALL: [Exit; 11] = [
        Exit::Success,
        Exit::General,
        Exit::Usage,
        Exit::Connection,
        Exit::Login,
        Exit::Forbidden,
        Exit::NotFound,
        Exit::Exists,
        Exit::Integrity,
        Exit::LocalFile,
        Exit::Untrusted,
    ];

    /// The process exit status.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::General => 1,
            Exit::Usage => 2,
            Exit::Connection => 3,
            Exit::Login => 4,
            Exit::Forbidden => 5,
            Exit::NotFound => 6,
            Exit::Exists => 7,
            Exit::Integrity => 8,
            Exit::LocalFile => 9,
            Exit::Untrusted => 10,
        }
    }

    /// What the status means, as shown by `--help`.
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Success => "success",
            Exit::General => "general or unexpected error",
            Exit::Usage => "usage error: bad arguments, a refused file name, no credentials",
            Exit::Connection => "cannot connect, server busy, or the connection was lost",
            Exit::Login => "login failed (wrong user name or password) or throttled",
            Exit::Forbidden => "permission denied: the command needs the admin role",
            Exit::NotFound => "not found: no such file, version or user",
            Exit::Exists => {
                "the name exists (upload with --on-conflict fail, a user, a file or folder in the way), or the folder is not empty"
            }
            Exit::Integrity => {
                "integrity failure: MD5 mismatch, corrupt transfer, or mirrors that disagree"
            }
            Exit::LocalFile => "local file problem: missing, a folder, unreadable, or exists",
            Exit::Untrusted => {
                "the server could not be verified: unknown or changed fingerprint, invalid \
                 certificate, or TLS on one side only"
            }
        }
    }
}

/// The "Exit codes" section of `--help`.
pub fn help_text() -> String {
    let mut text = String::from("Exit codes:\n");
    for exit in Exit::ALL {
        text.push_str(&format!("  {:>2}  {}\n", exit.code(), exit.meaning()));
    }
    text.push_str(
        "\nEnvironment: FERRY_SERVER, FERRY_USER, FERRY_PASSWORD, FERRY_LOGS, FERRY_TRUST, \
         FERRY_CA, FERRY_KNOWN_HOSTS (the file of trusted servers), and FERRY_NEW_PASSWORD \
         for `users add` and `users passwd`.",
    );
    text
}

/// The exit status for a server's error code.
pub fn for_server_code(code: ErrorCode) -> Exit {
    match code {
        ErrorCode::AuthFailed | ErrorCode::Throttled | ErrorCode::NotLoggedIn => Exit::Login,
        ErrorCode::Forbidden => Exit::Forbidden,
        ErrorCode::NotFound => Exit::NotFound,
        ErrorCode::Exists | ErrorCode::NotEmpty => Exit::Exists,
        ErrorCode::Md5Mismatch | ErrorCode::SizeMismatch => Exit::Integrity,
        // A name the server's rules refuse is the caller's argument.
        ErrorCode::BadName => Exit::Usage,
        // The server would not (or could no longer) hold a conversation:
        // for a script this is the same as not reaching it, and retrying
        // later is the right reaction.
        ErrorCode::Busy | ErrorCode::ShuttingDown | ErrorCode::Timeout => Exit::Connection,
        ErrorCode::TlsRequired => Exit::Untrusted,
        ErrorCode::BadRequest
        | ErrorCode::UnknownVerb
        | ErrorCode::LineTooLong
        | ErrorCode::BadRange
        | ErrorCode::TooLarge
        | ErrorCode::NoSpace
        | ErrorCode::Internal => Exit::General,
    }
}

/// The exit status for a client library error.
pub fn for_client_error(error: &ClientError) -> Exit {
    match error {
        ClientError::Connect { .. } | ClientError::Io(_) => Exit::Connection,
        ClientError::Server { code, .. } => for_server_code(*code),
        ClientError::Corrupt { .. } | ClientError::NoMajority(_) => Exit::Integrity,
        ClientError::Local { .. }
        | ClientError::LocalExists { .. }
        | ClientError::SourceChanged(_) => Exit::LocalFile,
        ClientError::BadName { .. } | ClientError::BadPath { .. } => Exit::Usage,
        ClientError::UnknownServer { .. }
        | ClientError::ServerChanged { .. }
        | ClientError::BadCertificate { .. }
        | ClientError::NotTls { .. }
        | ClientError::NeedsTls { .. } => Exit::Untrusted,
        ClientError::BadFingerprint(_) => Exit::Usage,
        ClientError::Authorities { .. } | ClientError::KnownHosts(_) => Exit::LocalFile,
        ClientError::Tls { .. } => Exit::Connection,
        ClientError::Protocol(_) | ClientError::Cancelled => Exit::General,
    }
}

/// An error the CLI raises itself, carrying the exit status it stands for.
/// Its message is the whole sentence the user sees.
#[derive(Debug)]
pub struct Failure {
    exit: Exit,
    message: String,
}

impl Failure {
    /// A failure with an explicit exit status.
    pub fn new(exit: Exit, message: impl Into<String>) -> Failure {
        Failure {
            exit,
            message: message.into(),
        }
    }

    /// The command line (or what was typed at a prompt) cannot be used.
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(Exit::Usage, message)
    }

    /// A local file or folder cannot be used.
    pub fn local(message: impl Into<String>) -> Failure {
        Failure::new(Exit::LocalFile, message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// What a failed run means for the exit status. The outermost error that
/// knows its meaning decides; context added on the way up does not.
pub fn classify(error: &anyhow::Error) -> Exit {
    for cause in error.chain() {
        if let Some(failure) = cause.downcast_ref::<Failure>() {
            return failure.exit;
        }
        if let Some(client) = cause.downcast_ref::<ClientError>() {
            return for_client_error(client);
        }
    }
    Exit::General
}

/// True when the error is only that whoever reads our standard output went
/// away (`ferry-cli list | head -1`). That is not worth an error message.
/// Socket errors never look like this: the client library wraps them in
/// `ClientError`, which `classify` meets first.
pub fn is_closed_stdout(error: &anyhow::Error) -> bool {
    for cause in error.chain() {
        if cause.is::<Failure>() || cause.is::<ClientError>() {
            return false;
        }
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return io.kind() == io::ErrorKind::BrokenPipe;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;
    use std::path::PathBuf;

    #[test]
    fn codes_are_distinct_and_in_order() {
        for (i, exit) in Exit::ALL.iter().enumerate() {
            assert_eq!(usize::from(exit.code()), i);
        }
    }

    #[test]
    fn every_server_code_has_a_meaning() {
        let expect = |code, exit| assert_eq!(for_server_code(code), exit, "{code}");
        expect(ErrorCode::AuthFailed, Exit::Login);
        expect(ErrorCode::Throttled, Exit::Login);
        expect(ErrorCode::Forbidden, Exit::Forbidden);
        expect(ErrorCode::NotFound, Exit::NotFound);
        expect(ErrorCode::Exists, Exit::Exists);
        expect(ErrorCode::Md5Mismatch, Exit::Integrity);
        expect(ErrorCode::Busy, Exit::Connection);
        expect(ErrorCode::Internal, Exit::General);
        for code in ErrorCode::ALL {
            assert_ne!(for_server_code(*code), Exit::Success, "{code}");
        }
    }

    #[test]
    fn client_errors_map_to_their_codes() {
        let refused = || io::Error::from(io::ErrorKind::ConnectionRefused);
        let connect = ClientError::Connect {
            addr: "h:1".into(),
            cause: refused(),
        };
        assert_eq!(for_client_error(&connect), Exit::Connection);
        assert_eq!(
            for_client_error(&ClientError::Io(refused())),
            Exit::Connection
        );
        let local = ClientError::Local {
            action: "open",
            path: PathBuf::from("x"),
            cause: refused(),
        };
        assert_eq!(for_client_error(&local), Exit::LocalFile);
        let corrupt = ClientError::Corrupt {
            expected: ferry_proto::hash::md5_bytes(b"a"),
            actual: ferry_proto::hash::md5_bytes(b"b"),
        };
        assert_eq!(for_client_error(&corrupt), Exit::Integrity);
    }

    #[test]
    fn classification_sees_through_context() {
        let denied = ClientError::Server {
            code: ErrorCode::Forbidden,
            message: "only admins may delete files".into(),
        };
        let error = Err::<(), _>(denied)
            .context("could not delete \"x\"")
            .unwrap_err();
        assert_eq!(classify(&error), Exit::Forbidden);
        assert_eq!(
            format!("{error:#}"),
            "could not delete \"x\": only admins may delete files"
        );
        let local = anyhow::Error::new(Failure::local("a folder")).context("while uploading");
        assert_eq!(classify(&local), Exit::LocalFile);
        assert_eq!(classify(&anyhow::anyhow!("odd")), Exit::General);
    }

    #[test]
    fn only_a_bare_broken_pipe_is_a_closed_stdout() {
        let pipe = || io::Error::from(io::ErrorKind::BrokenPipe);
        assert!(is_closed_stdout(&anyhow::Error::new(pipe())));
        assert!(is_closed_stdout(
            &anyhow::Error::new(pipe()).context("printing")
        ));
        assert!(!is_closed_stdout(&anyhow::Error::new(ClientError::Io(
            pipe()
        ))));
        assert!(!is_closed_stdout(&anyhow::anyhow!("no")));
    }
}
