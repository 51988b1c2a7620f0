//! The one test harness (feature `test-support`): a real server on
//! `127.0.0.1:0` over its own temporary folder, started with settings made
//! fast for tests, deterministic test data, and a loopback proxy that cuts
//! or stalls connections on cue ([`proxy`]). The server's own
//! integration tests, the CLI's and the app's all start their servers
//! here; each adds only the client-side helpers it needs.

pub mod proxy;

use std::path::PathBuf;
use std::time::Duration;

use tempfile::TempDir;

use crate::tls::TlsSource;
use crate::{Config, Server};

/// The password of the `admin` account a test server creates.
pub const ADMIN_PASSWORD: &str = "admin-secret-1";

/// [`Config::new`] made fast for tests: the cheapest bcrypt cost (tests log
/// in a lot), a 10 ms pause after a failed login, and an `admin` account
/// with [`ADMIN_PASSWORD`], and no free-space reserve (test machines' disks
/// can have less free than the 256 MiB default; the tests of the reserve set
/// their own). It listens on `127.0.0.1:0`, in plaintext so
/// tests can speak the protocol over raw sockets; set `config.tls` to
/// [`TlsSource::Generated`] (or use [`TestServer::start_tls`]) for TLS.
pub fn config(data_dir: impl Into<PathBuf>, logs_dir: impl Into<PathBuf>) -> Config {
    let mut config = Config::new(data_dir, logs_dir);
    config.tls = TlsSource::Plaintext;
    config.bcrypt_cost = 4;
    config.admin_password = Some(ADMIN_PASSWORD.to_owned());
    config.login_failure_delay = Duration::from_millis(10);
    config.min_free_space = 0;
    config
}

/// A running server over its own temporary folder (`data/` and `logs/`
/// inside it); dropped, the server stops first, then the folder goes.
pub struct TestServer {
    /// The server.
    pub server: Server,
    /// Its address, `127.0.0.1:port`.
    pub addr: String,
    /// The temporary folder.
    pub dir: TempDir,
}

impl TestServer {
    /// Starts a server with [`config`]'s settings.
    pub fn start() -> TestServer {
        Self::start_with(|_| {})
    }

    /// Starts a server with [`config`]'s settings, changed by `adjust`.
    pub fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut config = config(dir.path().join("data"), dir.path().join("logs"));
        adjust(&mut config);
        let server = Server::start(config).expect("the test server starts");
        let addr = server.local_addrs()[0].to_string();
        TestServer { server, addr, dir }
    }

    /// Starts a server with [`config`]'s settings over TLS, with the
    /// self-signed certificate it makes (see [`TestServer::fingerprint`]).
    pub fn start_tls() -> TestServer {
        Self::start_with(|c| c.tls = TlsSource::Generated)
    }

    /// The fingerprint of the server's TLS certificate (TLS servers only).
    pub fn fingerprint(&self) -> String {
        self.server
            .fingerprint()
            .expect("a TLS test server")
            .to_owned()
    }

    /// The data folder (database and blobs).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The folder holding `server.log`.
    pub fn logs_dir(&self) -> PathBuf {
        self.dir.path().join("logs")
    }

    /// A folder of that name in the temporary folder, created if needed,
    /// for a test's own files.
    pub fn folder(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(&path).expect("a folder in the temporary folder");
        path
    }
}

/// `len` deterministic pseudo-random bytes (xorshift), different per seed.
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}
