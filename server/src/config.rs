//! Everything the server can be told, with its defaults. `main.rs` maps
//! the command line onto it; tests build it with [`crate::testing`]'s
//! fast settings.

use std::path::PathBuf;
use std::time::Duration;

use ferry_proto::protocol::MAX_LINE_BYTES;

use crate::tls::TlsSource;

/// Everything the server can be told. [`Config::new`] gives the defaults.
#[derive(Clone, Debug)]
pub struct Config {
    /// Folder for the SQLite file and the blob store.
    pub data_dir: PathBuf,
    /// Folder holding `server.log` (read by the LOGS command).
    pub logs_dir: PathBuf,
    /// Addresses to listen on (`host:port`); each gets its own listener.
    pub listen: Vec<String>,
    /// Connections served at once; past it a client gets `ERR BUSY`.
    pub max_connections: usize,
    /// Longest request line, terminator included.
    pub max_line: usize,
    /// How long a client may stay silent between requests; a request line
    /// must also be complete this long after the server began waiting for
    /// it, however slowly its bytes trickle in.
    pub idle_timeout: Duration,
    /// How long after being accepted a connection must have logged in.
    pub login_timeout: Duration,
    /// Connections from one client address that may be open at once
    /// without having logged in.
    pub max_unauthenticated: usize,
    /// How long one read or write may stall in the middle of a transfer.
    pub io_timeout: Duration,
    /// Largest upload accepted, in bytes.
    pub max_upload_size: u64,
    /// bcrypt work factor for new password hashes.
    pub bcrypt_cost: u32,
    /// Password for the `admin` account created when the database has no
    /// users; `None` generates one.
    pub admin_password: Option<String>,
    /// How long a failed login waits before it is answered.
    pub login_failure_delay: Duration,
    /// How long an interrupted upload is kept for a resume.
    pub partial_upload_ttl: Duration,
    /// Disk space (bytes) that uploads must leave free in the data folder.
    pub min_free_space: u64,
    /// Print (to stdout) and log a status report this often; `None` or
    /// zero: never.
    pub status_interval: Option<Duration>,
    /// Colour the printed status report with ANSI escapes (the log copy is
    /// always plain).
    pub status_color: bool,
    /// Most bytes per second each connection may receive, and separately
    /// send; `None` or 0: unlimited.
    pub rate_limit: Option<u64>,
    /// Where the TLS identity comes from: by default a self-signed
    /// certificate made on first start; [`TlsSource::Plaintext`] turns TLS
    /// off.
    pub tls: TlsSource,
}

impl Config {
    /// Defaults, with the data and log folders given.
    pub fn new(data_dir: impl Into<PathBuf>, logs_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            logs_dir: logs_dir.into(),
            listen: vec!["127.0.0.1:0".to_owned()],
            max_connections: 1024,
            max_line: MAX_LINE_BYTES,
            idle_timeout: Duration::from_secs(300),
            login_timeout: Duration::from_secs(20),
            max_unauthenticated: 32,
            io_timeout: Duration::from_secs(60),
            max_upload_size: 1 << 40,
            bcrypt_cost: 10,
            admin_password: None,
            login_failure_delay: Duration::from_millis(500),
            partial_upload_ttl: Duration::from_secs(24 * 3600),
            min_free_space: 256 << 20,
            status_interval: None,
            status_color: false,
            rate_limit: None,
            tls: TlsSource::Generated,
        }
    }
}
