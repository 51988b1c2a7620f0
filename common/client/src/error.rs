//! [`ClientError`]: everything that can go wrong for a client, each as one
//! sentence that says what happened and what to do. Shared by the one-
//! connection client, the resumable transfers and the mirrored downloads.

use std::io;
use std::path::{Path, PathBuf};

use ferry_proto::hash::Md5Digest;
use ferry_proto::names::{NameError, PathError};
use ferry_proto::protocol::ErrorCode;

/// Everything that can go wrong for a client. Each message is one sentence
/// that says what happened and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No TCP connection could be made.
    #[error(
        "could not connect to {addr}: {cause}; check the address and that a Ferry server is running there"
    )]
    Connect {
        /// The address as given.
        addr: String,
        /// What the OS said (part of the message, so not chained as a source).
        cause: io::Error,
    },
    /// The connection failed or was closed mid-conversation.
    #[error("the connection to the server was lost ({0}); check the network and try again")]
    Io(io::Error),
    /// The server refused the request; its message says why.
    #[error("{message}")]
    Server {
        /// The server's error code.
        code: ErrorCode,
        /// The server's explanation.
        message: String,
    },
    /// The server sent something this client does not understand.
    #[error(
        "the server sent something unexpected ({0}); make sure it is a Ferry server of the same version"
    )]
    Protocol(String),
    /// Downloaded bytes do not match the server's MD5.
    #[error(
        "the downloaded data is corrupt (MD5 {actual}, but the server stored {expected}); nothing was saved, try again"
    )]
    Corrupt {
        /// The server's MD5.
        expected: Md5Digest,
        /// The MD5 of what arrived.
        actual: Md5Digest,
    },
    /// A local file could not be read or written.
    #[error("could not {action} {}: {cause}", path.display())]
    Local {
        /// What was being done ("read", "create", …).
        action: &'static str,
        /// Which file.
        path: PathBuf,
        /// What the OS said (part of the message, so not chained as a source).
        cause: io::Error,
    },
    /// A local file is in the way of a download: it holds other content
    /// than the server's, and replacing it was not asked for.
    #[error(
        "{} exists already with other content than the server's; download with overwrite to replace it, or move it away", path.display()
    )]
    LocalExists {
        /// The local file.
        path: PathBuf,
    },
    /// The file name breaks the naming rules.
    #[error("the name {name:?} is not allowed: {reason}; choose another name")]
    BadName {
        /// The refused name.
        name: String,
        /// Why.
        reason: NameError,
    },
    /// The path (into folders) breaks the path rules.
    #[error("the name {path:?} is not allowed: {reason}; choose another name")]
    BadPath {
        /// The refused path.
        path: String,
        /// Why.
        reason: PathError,
    },
    /// The local file changed size while it was being sent.
    #[error(
        "{0} changed while it was being uploaded; nothing was stored, try again when it is not being written"
    )]
    SourceChanged(PathBuf),
    /// The mirrors of a multi-mirror download do not agree on the file.
    #[error(
        "the mirrors do not agree on the file ({0}); nothing was written, check the mirror list"
    )]
    NoMajority(String),
    /// A TLS server this client has not trusted yet: the user must compare
    /// the fingerprint with the one the server printed, then pin it.
    #[error(
        "{addr} is a server you have not trusted yet; its certificate fingerprint is {fingerprint}: compare it with the one its administrator sees (`ferry-server --data DIR fingerprint`) and, if they match, trust it"
    )]
    UnknownServer {
        /// The address dialled.
        addr: String,
        /// The fingerprint it showed.
        fingerprint: String,
    },
    /// A pinned server showed another certificate: refused, never asked.
    #[error(
        "WARNING: {addr} is not the server you trusted: it shows the fingerprint {presented}, but you trusted {pinned}; someone may be intercepting the connection, or the server got a new certificate; nothing was sent, and if its administrator confirms the new fingerprint, remove the entry for {addr} from {place} (`ferry-cli trust remove {addr}`) and connect again"
    )]
    ServerChanged {
        /// The address dialled.
        addr: String,
        /// The fingerprint pinned for it.
        pinned: String,
        /// The fingerprint it showed.
        presented: String,
        /// Where the pin is kept (the known-hosts file).
        place: String,
    },
    /// A certificate signed by a trusted authority that is not valid.
    #[error(
        "{addr} was refused because {reason}; nothing was sent, check the address (use the name the certificate was made for) and the server's certificate"
    )]
    BadCertificate {
        /// The address dialled.
        addr: String,
        /// Why, in words.
        reason: String,
    },
    /// The server answered in clear to a TLS client.
    #[error(
        "{addr} answered without TLS: that server runs with --plaintext; connect in plaintext only if you trust the network, or ask its administrator to turn TLS on"
    )]
    NotTls {
        /// The address dialled.
        addr: String,
    },
    /// The server wants TLS and this client spoke in clear.
    #[error("{addr} speaks TLS only; connect without --plaintext")]
    NeedsTls {
        /// The address dialled.
        addr: String,
    },
    /// The TLS handshake failed for another reason.
    #[error(
        "the TLS handshake with {addr} failed ({cause}); check that it is a Ferry server and try again"
    )]
    Tls {
        /// The address dialled.
        addr: String,
        /// What rustls or the network said.
        cause: String,
    },
    /// Not a SHA-256 fingerprint.
    #[error(
        "{0:?} is not a certificate fingerprint; give it as the server prints it, SHA256: and 64 hex digits"
    )]
    BadFingerprint(String),
    /// A file of certificate authorities could not be used.
    #[error("could not use the certificate authorities in {}: {cause}; give a PEM file of CA certificates", path.display())]
    Authorities {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: String,
    },
    /// The known-hosts file could not be read or written.
    #[error("{0}")]
    KnownHosts(String),
    /// The progress callback asked to stop.
    #[error("the transfer was cancelled")]
    Cancelled,
}

impl ClientError {
    /// The server's error code, if the server refused the request.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the server could not be verified (unknown, changed or
    /// invalid certificate, TLS on one side only): trying again cannot
    /// help until someone looks.
    pub fn is_untrusted(&self) -> bool {
        matches!(
            self,
            ClientError::UnknownServer { .. }
                | ClientError::ServerChanged { .. }
                | ClientError::BadCertificate { .. }
                | ClientError::NotTls { .. }
                | ClientError::NeedsTls { .. }
        )
    }

    /// A local file could not be `action`ed.
    pub(crate) fn local(action: &'static str, path: &Path, cause: io::Error) -> ClientError {
        ClientError::Local {
            action,
            path: path.to_owned(),
            cause,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_server_refusals_have_a_code() {
        let refused = ClientError::Server {
            code: ErrorCode::NotFound,
            message: "no such file".into(),
        };
        assert_eq!(refused.code(), Some(ErrorCode::NotFound));
        assert_eq!(refused.to_string(), "no such file");
        assert_eq!(ClientError::Cancelled.code(), None);
    }

    #[test]
    fn local_errors_name_the_file_and_the_action() {
        let e = ClientError::local(
            "create",
            Path::new("/tmp/out/a b.txt"),
            io::Error::new(io::ErrorKind::PermissionDenied, "permission denied"),
        );
        assert_eq!(
            e.to_string(),
            "could not create /tmp/out/a b.txt: permission denied"
        );
    }
}
