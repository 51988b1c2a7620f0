//! TLS on the listeners: the server's identity (a certificate and key from
//! files, or a self-signed pair made on first start in the data folder),
//! its SHA-256 fingerprint, telling a TLS client from a plaintext one on a
//! new connection, the handshake, and the encrypted stream the session
//! then speaks the unchanged line protocol over.
//!
//! rustls does the cryptography (TLS 1.3, with 1.2 as the floor); ALPN
//! names the protocol inside ([`ALPN`]).

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use crate::transport::{Socket, Transport};
use ferry_io::socket_buffer::SocketBuffer;

/// The ALPN protocol name of Ferry's line protocol, version 1.
pub const ALPN: &[u8] = b"ferry/1";

/// Where a generated certificate and key live, inside the data folder.
pub const GENERATED_DIR: &str = "tls";
const CERT_FILE: &str = "cert.pem";
const KEY_FILE: &str = "key.pem";

/// The first byte of a TLS record that carries a handshake message; a TLS
/// client's first byte is always this.
pub(crate) const HANDSHAKE_RECORD: u8 = 0x16;

/// Where the server's identity comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsSource {
    /// No TLS: the line protocol in clear.
    Plaintext,
    /// A self-signed certificate made on first start in `data/tls/`.
    Generated,
    /// A certificate chain and its key, both PEM files.
    Files {
        /// The certificate chain, leaf first.
        cert: PathBuf,
        /// The private key.
        key: PathBuf,
    },
}

/// The server's TLS identity, ready for connections.
pub struct Identity {
    config: Arc<ServerConfig>,
    fingerprint: String,
}

impl Identity {
    /// The fingerprint clients compare: `SHA256:` and 64 hex digits.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

pub use ferry_proto::fingerprint::cert_fingerprint as fingerprint;

/// Loads (or, for [`TlsSource::Generated`], first makes) the identity;
/// `None` for plaintext. Every failure is one sentence naming the file.
pub fn identity(data_dir: &Path, source: &TlsSource) -> anyhow::Result<Option<Identity>> {
    let (cert, key) = match source {
        TlsSource::Plaintext => return Ok(None),
        TlsSource::Generated => generated_files(data_dir)?,
        TlsSource::Files { cert, key } => (cert.clone(), key.clone()),
    };
    let hint = match source {
        TlsSource::Files { .. } => "; check the path given to --tls-cert",
        _ => "",
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert)
        .map_err(|e| anyhow!("cannot read the certificate {}: {e}{hint}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow!("{} is not a PEM certificate file: {e}", cert.display()))?;
    let Some(leaf) = chain.first() else {
        bail!(
            "{} holds no certificate; give a PEM file with the server's certificate first",
            cert.display()
        );
    };
    let fingerprint = fingerprint(leaf);
    let private = PrivateKeyDer::from_pem_file(&key).map_err(|e| {
        anyhow!(
            "cannot read a private key from {}: {e}; give the PEM key that belongs to the certificate",
            key.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("while choosing the TLS versions")?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| {
            anyhow!(
                "the key in {} does not fit the certificate in {} ({e}); give the matching pair",
                key.display(),
                cert.display()
            )
        })?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(Some(Identity {
        config: Arc::new(config),
        fingerprint,
    }))
}

/// The fingerprint of the certificate a server over `data_dir` uses (the
/// one given, or the generated one), for `ferry-server --data DIR fingerprint`.
pub fn fingerprint_of(data_dir: &Path, source: &TlsSource) -> anyhow::Result<String> {
    let cert = match source {
        TlsSource::Files { cert, .. } => cert.clone(),
        // With --plaintext the generated certificate, if one was made, is
        // the one a later start without it would use.
        TlsSource::Generated | TlsSource::Plaintext => {
            let cert = data_dir.join(GENERATED_DIR).join(CERT_FILE);
            if !cert.exists() {
                bail!(
                    "{} has no TLS certificate yet; start the server once without --plaintext to make one, or pass the --tls-cert and --tls-key it runs with",
                    data_dir.display()
                );
            }
            cert
        }
    };
    let leaf = CertificateDer::pem_file_iter(&cert)
        .map_err(|e| anyhow!("cannot read the certificate {}: {e}", cert.display()))?
        .next()
        .ok_or_else(|| anyhow!("{} holds no certificate", cert.display()))?
        .map_err(|e| anyhow!("{} is not a PEM certificate file: {e}", cert.display()))?;
    Ok(fingerprint(&leaf))
}

/// The generated certificate and key in `data_dir/tls/`, made if missing:
/// self-signed, for the names `localhost` and `ferry-server`, written
/// with mode 0600 into files that did not exist before.
fn generated_files(data_dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = data_dir.join(GENERATED_DIR);
    let (cert, key) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    fs::create_dir_all(&dir).with_context(|| format!("while creating {}", dir.display()))?;
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "ferry-server".to_owned()])
            .context("while making a self-signed certificate")?;
    write_private(&key, made.signing_key.serialize_pem().as_bytes())?;
    write_private(&cert, made.cert.pem().as_bytes())?;
    Ok((cert, key))
}

/// Writes a new file only its owner may read.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let _ = fs::remove_file(path);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("while creating {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("while writing {}", path.display()))
}

/// What a new connection on a TLS listener turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Hello {
    /// A TLS client: its first byte starts a handshake.
    Tls,
    /// A plaintext client: it sent something else first, or nothing
    /// (Ferry's server speaks first, so a plaintext client waits).
    Plain,
}

/// Waits up to `wait` for the client's first byte, without consuming it.
pub(crate) fn sniff(tcp: &TcpStream, wait: Duration) -> io::Result<Hello> {
    tcp.set_read_timeout(Some(wait))?;
    let mut first = [0u8; 1];
    match tcp.peek(&mut first) {
        Ok(1) if first[0] == HANDSHAKE_RECORD => Ok(Hello::Tls),
        Ok(_) => Ok(Hello::Plain),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Ok(Hello::Plain)
        }
        Err(e) => Err(e),
    }
}

/// How much encrypted data a connection may queue for the socket: a 1 MiB
/// frame goes out in a few large writes rather than many 16 KiB ones.
const SEND_BUFFER_LIMIT: usize = 1 << 20;

/// An encrypted connection, after its handshake. Its socket reads go
/// through a [`SocketBuffer`]: rustls reads 4 KiB at a time.
pub(crate) struct TlsStream {
    /// Boxed: rustls's state is large, and each move of it by value (into
    /// the session's wrappers) would be a copy in the connection thread's
    /// stack, whose pages stay resident for the connection's life.
    tls: Box<StreamOwned<ServerConnection, SocketBuffer<TcpStream>>>,
}

/// Completes the handshake with a client on `tcp` by `deadline`.
pub(crate) fn accept(
    identity: &Identity,
    tcp: TcpStream,
    deadline: Instant,
) -> io::Result<TlsStream> {
    // The handshake's cryptography runs deep in the stack, and building
    // rustls's state takes kilobytes of it too. On the connection's own
    // thread those pages would stay resident for as long as the connection
    // lives (tens of KiB for each idle client); on a thread of its own they
    // are given back (or reused) when it ends. The connection's thread
    // receives only the box.
    thread::scope(|scope| {
        thread::Builder::new()
            .name("tls-handshake".into())
            .spawn_scoped(scope, move || handshake(identity, tcp, deadline))?
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the TLS handshake panicked")))
    })
}

fn handshake(identity: &Identity, tcp: TcpStream, deadline: Instant) -> io::Result<TlsStream> {
    let mut conn = ServerConnection::new(Arc::clone(&identity.config)).map_err(io::Error::other)?;
    conn.set_buffer_limit(Some(SEND_BUFFER_LIMIT));
    let mut tls = Box::new(StreamOwned::new(conn, SocketBuffer::new(tcp)));
    while tls.conn.is_handshaking() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the TLS handshake took too long",
            ));
        }
        tls.sock.get_ref().set_read_timeout(Some(left))?;
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(TlsStream { tls })
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tls.read(buf)
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tls.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tls.flush()
    }
}

impl Transport for TlsStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tls.sock.get_ref().set_read_timeout(timeout)
    }

    fn has_pending_input(&self) -> bool {
        // rustls wants to read except while it holds decrypted bytes not
        // yet read (or the peer has said goodbye, when a read ends at once).
        !self.tls.conn.wants_read()
            || self.tls.sock.buffered() > 0
            || Transport::has_pending_input(self.tls.sock.get_ref())
    }

    fn socket(&self) -> Option<TcpStream> {
        self.tls.sock.get_ref().try_clone().ok()
    }
}

impl Socket for TlsStream {
    fn tcp(&self) -> &TcpStream {
        self.tls.sock.get_ref()
    }

    fn say_goodbye(&mut self) {
        self.tls.conn.send_close_notify();
        let _ = self.tls.conn.complete_io(&mut self.tls.sock);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_identity_is_made_once_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let first = identity(dir.path(), &TlsSource::Generated)
            .unwrap()
            .unwrap();
        let again = identity(dir.path(), &TlsSource::Generated)
            .unwrap()
            .unwrap();
        assert_eq!(
            first.fingerprint(),
            again.fingerprint(),
            "the same files again"
        );
        assert_eq!(
            fingerprint_of(dir.path(), &TlsSource::Generated).unwrap(),
            first.fingerprint()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for name in [CERT_FILE, KEY_FILE] {
                let meta = fs::metadata(dir.path().join(GENERATED_DIR).join(name)).unwrap();
                assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
            }
        }
    }

    #[test]
    fn bad_or_mismatched_files_are_one_clear_sentence() {
        let dir = tempfile::tempdir().unwrap();
        let files = |cert: &str, key: &str| TlsSource::Files {
            cert: dir.path().join(cert),
            key: dir.path().join(key),
        };
        let missing = identity(dir.path(), &files("none.pem", "none.key"))
            .err()
            .unwrap();
        assert!(
            missing.to_string().contains("cannot read the certificate")
                && missing
                    .to_string()
                    .ends_with("check the path given to --tls-cert"),
            "{missing}"
        );
        fs::write(dir.path().join("junk.pem"), "not a certificate").unwrap();
        let junk = identity(dir.path(), &files("junk.pem", "junk.pem"))
            .err()
            .unwrap();
        assert!(junk.to_string().contains("holds no certificate"), "{junk}");
        // Two generated pairs: the first's certificate with the second's key.
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        identity(a.path(), &TlsSource::Generated).unwrap();
        identity(b.path(), &TlsSource::Generated).unwrap();
        let mismatched = TlsSource::Files {
            cert: a.path().join(GENERATED_DIR).join(CERT_FILE),
            key: b.path().join(GENERATED_DIR).join(KEY_FILE),
        };
        let e = identity(dir.path(), &mismatched).err().unwrap();
        assert!(
            e.to_string().contains("does not fit the certificate"),
            "{e}"
        );
    }
}
