//! TLS on the client side: how a connection is secured ([`Security`]),
//! whom to believe ([`Trust`]: the system's certificate authorities, extra
//! ones, the pinned fingerprints of the known-hosts file and those the user
//! vouched for), the handshake that verifies the server before a single
//! byte of the protocol is sent, and the stream the protocol then runs on.
//!
//! A certificate an authority signed is verified the usual way, host name
//! included. Any other is trusted on first use, as SSH does: the first
//! connection to an address fails with [`ClientError::UnknownServer`],
//! carrying the fingerprint for the user to compare; the CLI and the app
//! ask, then call [`Trust::pin`] and connect again. A pinned address that
//! shows another fingerprint is refused ([`ClientError::ServerChanged`]),
//! never asked about.

pub mod known_hosts;
mod verifier;

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use log::{info, warn};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::ClientError;
use ferry_io::socket_buffer::SocketBuffer;
use ferry_proto::fingerprint::normalize_fingerprint;
use known_hosts::KnownHosts;
use verifier::{Decision, PinningVerifier};

/// The ALPN name of Ferry's protocol, version 1.
pub const ALPN: &[u8] = b"ferry/1";

/// How a connection is secured.
#[derive(Clone, Debug)]
pub enum Security {
    /// TLS, verifying the server by these rules.
    Tls(Trust),
    /// The protocol in clear: only on a network you trust, or through a
    /// TLS-terminating proxy.
    Plaintext,
}

/// How a connected server was verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verified {
    /// A certificate authority this client trusts signed its certificate,
    /// for the host name dialled.
    Authority,
    /// Its certificate's fingerprint is one the user trusted.
    Pinned,
    /// Not at all: the connection is in clear.
    Plaintext,
}

impl fmt::Display for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verified::Authority => "TLS, verified by a certificate authority",
            Verified::Pinned => "TLS, verified by its trusted fingerprint",
            Verified::Plaintext => "plaintext, not encrypted",
        })
    }
}

/// Whom a TLS client believes.
#[derive(Clone, Debug, Default)]
pub struct Trust {
    /// The known-hosts file of pinned servers; `None` pins nothing to disk
    /// (only [`Trust::vouch`]ed fingerprints are then trusted).
    pub known_hosts: Option<PathBuf>,
    /// Fingerprints the user vouched for (`--trust`, `FERRY_TRUST`),
    /// normalized: accepted from any server showing one, and pinned.
    vouched: Vec<String>,
    /// Extra certificate authorities, beside the system's.
    authorities: Vec<CertificateDer<'static>>,
    /// Whether the system's certificate authorities count.
    pub system_authorities: bool,
    /// Pins made while `known_hosts` is `None`, kept for this process.
    memory: Arc<Mutex<KnownHosts>>,
}

impl Trust {
    /// What a person's client trusts: the system's authorities and the
    /// known-hosts file at its usual place ([`known_hosts::default_path`]).
    pub fn for_user() -> Trust {
        Trust {
            known_hosts: known_hosts::default_path(),
            system_authorities: true,
            ..Trust::default()
        }
    }

    /// Trusts only what it is told: no system authorities, no file.
    pub fn nothing() -> Trust {
        Trust::default()
    }

    /// Also trusts the server showing `fingerprint` (as a person types or
    /// pastes it); an error if it is not a SHA-256 fingerprint.
    pub fn vouch(mut self, fingerprint: &str) -> Result<Trust, ClientError> {
        let fingerprint = normalize_fingerprint(fingerprint)
            .ok_or_else(|| ClientError::BadFingerprint(fingerprint.to_owned()))?;
        if !self.vouched.contains(&fingerprint) {
            self.vouched.push(fingerprint);
        }
        Ok(self)
    }

    /// Also trusts the certificate authorities in the PEM file at `path`.
    pub fn with_authorities_from(mut self, path: &Path) -> Result<Trust, ClientError> {
        let bad = |cause: String| ClientError::Authorities {
            path: path.to_owned(),
            cause,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("it holds no PEM certificate".into()));
        }
        let mut check = RootCertStore::empty();
        for cert in &certs {
            check.add(cert.clone()).map_err(|e| bad(e.to_string()))?;
        }
        self.authorities.extend(certs);
        Ok(self)
    }

    /// The same rules with the known-hosts file at `path`.
    pub fn with_known_hosts(mut self, path: impl Into<PathBuf>) -> Trust {
        self.known_hosts = Some(path.into());
        self
    }

    /// The pinned servers.
    pub fn known(&self) -> Result<KnownHosts, ClientError> {
        match &self.known_hosts {
            Some(path) => KnownHosts::load(path).map_err(ClientError::KnownHosts),
            None => Ok(self
                .memory
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()),
        }
    }

    /// Pins `addr` to `fingerprint`, after the user compared it.
    pub fn pin(&self, addr: &str, fingerprint: &str) -> Result<(), ClientError> {
        self.edit(|known| known.pin(addr, fingerprint))
    }

    /// Forgets the pin of `addr`; whether there was one.
    pub fn forget(&self, addr: &str) -> Result<bool, ClientError> {
        self.edit(|known| known.remove(addr))
    }

    /// Changes the pins in one step, so that pins made at the same time
    /// (mirrors met in parallel, another Ferry process) are all kept.
    fn edit<R>(&self, change: impl FnOnce(&mut KnownHosts) -> R) -> Result<R, ClientError> {
        match &self.known_hosts {
            Some(path) => KnownHosts::update(path, change).map_err(ClientError::KnownHosts),
            None => Ok(change(
                &mut self.memory.lock().unwrap_or_else(|e| e.into_inner()),
            )),
        }
    }

    /// Where a refused server's pin is, for messages.
    fn pins_place(&self) -> String {
        match &self.known_hosts {
            Some(path) => path.display().to_string(),
            None => "this session's trusted servers".to_owned(),
        }
    }

    /// The authorities to verify by, if any (the extra ones were checked
    /// when they were added).
    fn roots(&self) -> Option<Arc<RootCertStore>> {
        let mut roots = RootCertStore::empty();
        if self.system_authorities {
            roots.extend(system_roots().roots.iter().cloned());
        }
        roots.add_parsable_certificates(self.authorities.iter().cloned());
        (!roots.is_empty()).then(|| Arc::new(roots))
    }
}

/// The system's certificate authorities, read once per process.
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            warn!("reading the system's certificate authorities: {e}");
        }
        let mut roots = RootCertStore::empty();
        let (added, ignored) = roots.add_parsable_certificates(found.certs);
        info!("system certificate authorities: {added} ({ignored} unusable)");
        roots
    })
}

/// The encrypted stream of a verified connection; its socket reads are
/// buffered (rustls reads 4 KiB at a time).
pub(crate) type TlsStream = StreamOwned<ClientConnection, SocketBuffer<TcpStream>>;

/// How much encrypted data may wait for the socket: a 1 MiB frame goes out
/// in a few large writes rather than many 16 KiB ones.
const SEND_BUFFER_LIMIT: usize = 1 << 20;

/// A verified handshake: the stream, how the server was verified and its
/// certificate's fingerprint.
pub(crate) struct Handshake {
    pub(crate) stream: TlsStream,
    pub(crate) verified: Verified,
    pub(crate) fingerprint: String,
}

/// Runs the TLS handshake with the server at `addr` over `tcp` and
/// verifies it by `trust`. Nothing of the protocol is sent before this
/// returns `Ok`.
pub(crate) fn handshake(
    tcp: TcpStream,
    addr: &str,
    trust: &Trust,
) -> Result<Handshake, ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let authorities = match trust.roots() {
        Some(roots) => Some(
            WebPkiServerVerifier::builder_with_provider(roots, Arc::clone(&provider))
                .build()
                .map_err(|e| ClientError::Tls {
                    addr: addr.to_owned(),
                    cause: e.to_string(),
                })?,
        ),
        None => None,
    };
    let known = trust.known()?;
    let verifier = Arc::new(PinningVerifier {
        pinned: known.get(addr).map(str::to_owned),
        known,
        vouched: trust.vouched.clone(),
        authorities,
        provider: Arc::clone(&provider),
        outcome: Mutex::new(None),
    });
    let tls_failed = |cause: String| ClientError::Tls {
        addr: addr.to_owned(),
        cause,
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| tls_failed(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN.to_vec()];
    let mut conn = ClientConnection::new(Arc::new(config), server_name(addr))
        .map_err(|e| tls_failed(e.to_string()))?;
    conn.set_buffer_limit(Some(SEND_BUFFER_LIMIT));
    let mut stream = StreamOwned::new(conn, SocketBuffer::new(tcp));
    let mut first = FirstBytes {
        inner: &mut stream.sock,
        seen: Vec::new(),
    };
    let mut result = Ok(());
    while stream.conn.is_handshaking() {
        if let Err(e) = stream.conn.complete_io(&mut first) {
            result = Err(e);
            break;
        }
    }
    let seen = first.seen;
    let outcome = verifier.outcome();
    if let Err(e) = result {
        return Err(refusal(addr, trust, outcome, &seen, e));
    }
    let Some((fingerprint, Decision::Accept { by, pin })) = outcome else {
        return Err(tls_failed("the server showed no certificate".into()));
    };
    if let Some(other) = stream.conn.alpn_protocol().filter(|p| *p != ALPN) {
        return Err(ClientError::Protocol(format!(
            "it offers the protocol {:?} over TLS, not ferry/1",
            String::from_utf8_lossy(other)
        )));
    }
    if pin {
        match trust.pin(addr, &fingerprint) {
            Ok(()) => info!("trusted {addr} as {fingerprint}"),
            Err(e) => warn!("{e}"),
        }
    }
    Ok(Handshake {
        stream,
        verified: by,
        fingerprint,
    })
}

/// Why a handshake failed, as the error the user reads.
fn refusal(
    addr: &str,
    trust: &Trust,
    outcome: Option<(String, Decision)>,
    seen: &[u8],
    cause: io::Error,
) -> ClientError {
    let addr = addr.to_owned();
    match outcome {
        Some((fingerprint, Decision::Unknown)) => ClientError::UnknownServer { addr, fingerprint },
        Some((presented, Decision::Changed { pinned })) => ClientError::ServerChanged {
            addr,
            pinned,
            presented,
            place: trust.pins_place(),
        },
        Some((_, Decision::Invalid(reason))) => ClientError::BadCertificate { addr, reason },
        _ if seen.starts_with(b"FERRY ") || seen.starts_with(b"ERR ") => {
            ClientError::NotTls { addr }
        }
        // The network failed, not TLS: worth another try.
        _ if cause.kind() != io::ErrorKind::InvalidData => ClientError::Connect { addr, cause },
        _ => ClientError::Tls {
            addr,
            cause: cause.to_string(),
        },
    }
}

/// The name to verify a certificate for: the host part of `host:port`
/// (an IP address, or a DNS name); a host that is neither cannot match a
/// CA-signed certificate, so any placeholder serves.
fn server_name(addr: &str) -> ServerName<'static> {
    let host = match addr.rsplit_once(':') {
        Some((host, _)) => host,
        None => addr,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned())
        .unwrap_or_else(|_| ServerName::try_from("unnamed.invalid").expect("a valid DNS name"))
}

/// The socket during the handshake, keeping the first bytes the server
/// sent: a plaintext server's greeting tells "not TLS" from a broken one.
struct FirstBytes<'a> {
    inner: &'a mut SocketBuffer<TcpStream>,
    seen: Vec<u8>,
}

impl Read for FirstBytes<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.seen.len() < 8 {
            let keep = n.min(8 - self.seen.len());
            self.seen.extend_from_slice(&buf[..keep]);
        }
        Ok(n)
    }
}

impl Write for FirstBytes<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_verified_is_the_host_part() {
        let name = |addr: &str| server_name(addr).to_str().into_owned();
        assert_eq!(name("files.example.com:7878"), "files.example.com");
        assert_eq!(name("127.0.0.1:7878"), "127.0.0.1");
        assert_eq!(name("[::1]:7878"), "::1");
        assert_eq!(name("bad_name!:1"), "unnamed.invalid");
    }

    #[test]
    fn vouching_takes_what_people_paste_and_refuses_the_rest() {
        let hex = "ab".repeat(32);
        let trust = Trust::nothing().vouch(&hex.to_uppercase()).unwrap();
        assert_eq!(trust.vouched, [format!("SHA256:{hex}")]);
        let e = Trust::nothing().vouch("SHA256:12").unwrap_err();
        assert!(matches!(e, ClientError::BadFingerprint(_)), "{e}");
    }

    #[test]
    fn a_file_of_authorities_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.pem");
        let e = Trust::nothing()
            .with_authorities_from(&missing)
            .unwrap_err();
        assert!(matches!(e, ClientError::Authorities { .. }), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").unwrap();
        let e = Trust::nothing().with_authorities_from(&empty).unwrap_err();
        assert!(e.to_string().contains("holds no PEM certificate"), "{e}");
        let ca = dir.path().join("ca.pem");
        let made = rcgen::generate_simple_self_signed(vec!["ca".to_owned()]).unwrap();
        std::fs::write(&ca, made.cert.pem()).unwrap();
        let trust = Trust::nothing().with_authorities_from(&ca).unwrap();
        assert!(trust.roots().is_some());
        assert!(Trust::nothing().roots().is_none(), "no authorities at all");
    }

    #[test]
    fn pins_without_a_file_last_for_the_process() {
        let trust = Trust::nothing();
        let fp = format!("SHA256:{}", "c".repeat(64));
        trust.pin("h:1", &fp).unwrap();
        assert_eq!(trust.clone().known().unwrap().get("h:1"), Some(fp.as_str()));
        assert!(trust.forget("h:1").unwrap());
        assert!(!trust.forget("h:1").unwrap());
    }

    #[test]
    fn pins_made_at_once_are_all_kept_in_memory_and_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let fp = format!("SHA256:{}", "d".repeat(64));
        for trust in [
            Trust::nothing(),
            Trust::nothing().with_known_hosts(dir.path().join("known_hosts")),
        ] {
            std::thread::scope(|scope| {
                for i in 0..8 {
                    let (trust, fp) = (trust.clone(), &fp);
                    std::thread::Builder::new()
                        .name(format!("mirror-{i}"))
                        .spawn_scoped(scope, move || trust.pin(&format!("m{i}:1"), fp).unwrap())
                        .unwrap();
                }
            });
            let known = trust.known().unwrap();
            assert_eq!(known.entries().count(), 8, "{:?}", trust.known_hosts);
        }
    }
}
