//! Shared fixtures for the CLI's integration tests: the REAL server on
//! `127.0.0.1:0` over a temporary folder, and a way to run the real
//! `ferry-cli` binary against it the way a script would (no terminal: stdin
//! is null, output captured).
//!
//! Servers speak TLS, as they do by default, and the CLI trusts them the way
//! a script would: `FERRY_TRUST` names the server's fingerprint. The
//! known-hosts file is always a temporary one (`FERRY_KNOWN_HOSTS`), never
//! the real home's.

#![allow(dead_code)] // each test file uses its own subset

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ferry_server::testing;
/// The admin password every test server starts with.
pub use ferry_server::testing::ADMIN_PASSWORD;

/// `FERRY_TRUST` for all of `servers` (a mirrored download's).
pub fn trust_all(servers: &[&TestServer]) -> String {
    servers
        .iter()
        .map(|s| s.fingerprint())
        .collect::<Vec<_>>()
        .join(",")
}

/// The shared harness's server, with scratch folders for the CLI (its
/// working folder, its logs, its resume state); all of it disappears when
/// the value is dropped.
pub struct TestServer(testing::TestServer);

impl TestServer {
    /// Starts a TLS server with an `admin` account (password
    /// [`ADMIN_PASSWORD`]) and its own self-signed certificate.
    pub fn start() -> TestServer {
        Self::with(testing::TestServer::start_tls())
    }

    /// Starts a server run with `--plaintext`.
    pub fn start_plaintext() -> TestServer {
        Self::with(testing::TestServer::start())
    }

    /// Starts a TLS server with this certificate (e.g. one a test
    /// authority signed).
    pub fn start_with_tls(source: ferry_server::tls::TlsSource) -> TestServer {
        Self::with(testing::TestServer::start_with(|c| c.tls = source))
    }

    fn with(server: testing::TestServer) -> TestServer {
        for sub in ["work", "client-logs", "state"] {
            server.folder(sub);
        }
        TestServer(server)
    }

    /// The fingerprint of the server's certificate (TLS servers only).
    pub fn fingerprint(&self) -> String {
        self.0.fingerprint()
    }

    /// The known-hosts file the CLI uses with this server.
    pub fn known_hosts(&self) -> PathBuf {
        self.0.dir.path().join("known_hosts")
    }

    /// The server's `host:port`.
    pub fn addr(&self) -> &str {
        &self.0.addr
    }

    /// A scratch folder; the CLI runs here unless told otherwise.
    pub fn work_dir(&self) -> PathBuf {
        self.0.dir.path().join("work")
    }

    /// Where the CLI keeps upload resume state (`FERRY_STATE`).
    pub fn state_dir(&self) -> PathBuf {
        self.0.dir.path().join("state")
    }

    /// Where the CLI writes `client.log`.
    pub fn client_logs(&self) -> PathBuf {
        self.0.dir.path().join("client-logs")
    }

    /// Writes a file into the scratch folder and returns its path.
    pub fn write_file(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.work_dir().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, content).unwrap();
        path
    }

    /// The CLI, logged in as admin.
    pub fn admin(&self) -> Cli {
        self.as_user("admin", ADMIN_PASSWORD)
    }

    /// The CLI, logged in as `user`, trusting this server's fingerprint
    /// through `FERRY_TRUST` (nothing, for a plaintext server). Upload
    /// resume state and the known-hosts file are in the temporary folder,
    /// not the real home.
    pub fn as_user(&self, user: &str, password: &str) -> Cli {
        let cli = self
            .untrusting()
            .env("FERRY_USER", user)
            .env("FERRY_PASSWORD", password);
        match self.0.server.fingerprint() {
            Some(fingerprint) => cli.env("FERRY_TRUST", fingerprint),
            None => cli,
        }
    }

    /// The CLI as admin, trusting only what the known-hosts file (and the
    /// caller) say: a server met for the first time is unknown.
    pub fn admin_untrusting(&self) -> Cli {
        self.untrusting()
            .env("FERRY_USER", "admin")
            .env("FERRY_PASSWORD", ADMIN_PASSWORD)
    }

    fn untrusting(&self) -> Cli {
        Cli::new(self.addr(), &self.client_logs(), &self.work_dir())
            .env("FERRY_STATE", self.state_dir())
            .env("FERRY_KNOWN_HOSTS", self.known_hosts())
    }

    /// Runs `ferry-cli ARGS` as admin and insists that it succeeded.
    pub fn admin_ok(&self, args: &[&str]) -> Run {
        self.admin().run(args).success()
    }
}

/// One `ferry-cli` invocation being prepared.
pub struct Cli {
    command: Command,
}

impl Cli {
    /// The binary pointed at `server`, with a clean FERRY_* environment;
    /// its known-hosts file is `known_hosts` in `logs` (a test's own
    /// folder) unless changed.
    pub fn new(server: &str, logs: &Path, cwd: &Path) -> Cli {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ferry-cli"));
        for var in [
            "FERRY_SERVER",
            "FERRY_USER",
            "FERRY_PASSWORD",
            "FERRY_NEW_PASSWORD",
            "FERRY_LOGS",
            "FERRY_STATE",
            "FERRY_TRUST",
            "FERRY_CA",
            "FERRY_KNOWN_HOSTS",
        ] {
            command.env_remove(var);
        }
        command
            .env("FERRY_SERVER", server)
            .env("FERRY_LOGS", logs)
            .env("FERRY_KNOWN_HOSTS", logs.join("known_hosts"))
            .current_dir(cwd)
            .stdin(Stdio::null());
        Cli { command }
    }

    /// Sets an environment variable.
    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Cli {
        self.command.env(key, value);
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(mut self, key: &str) -> Cli {
        self.command.env_remove(key);
        self
    }

    /// Runs in `dir` instead of the scratch folder.
    pub fn cwd(mut self, dir: &Path) -> Cli {
        self.command.current_dir(dir);
        self
    }

    /// Runs with `args` and waits.
    pub fn run<S: AsRef<OsStr>>(mut self, args: &[S]) -> Run {
        let output = self.command.args(args).output().expect("ferry-cli runs");
        Run {
            code: output.status.code().expect("ferry-cli exits normally"),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }
}

/// What one run produced.
#[derive(Debug)]
pub struct Run {
    /// The exit status.
    pub code: i32,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
}

impl Run {
    /// Insists on exit status 0 and returns the run.
    #[track_caller]
    pub fn success(self) -> Run {
        assert_eq!(self.code, 0, "ferry-cli failed: {self:#?}");
        self
    }

    /// Insists on a failure with exit status `code`, reported the way the
    /// CLI promises: one `ferry-cli: error:` line on stderr, nothing on stdout.
    #[track_caller]
    pub fn failure(self, code: i32) -> Run {
        assert_eq!(self.code, code, "unexpected exit status: {self:#?}");
        assert_eq!(self.stdout, "", "a failure printed on stdout: {self:#?}");
        assert!(
            self.stderr.starts_with("ferry-cli: error: "),
            "no error line: {self:#?}"
        );
        assert_eq!(
            self.stderr.lines().count(),
            1,
            "more than one line: {self:#?}"
        );
        self
    }

    /// Parses stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {self:#?}"))
    }
}
