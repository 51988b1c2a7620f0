//! Shared fixtures for the CLI's integration tests: the REAL server on
//! `127.0.0.1:0` over a temporary folder, and a way to run the real
//! `ferry-cli` binary against it the way a script would (no terminal: stdin
//! is null, output captured).

#![allow(dead_code)] // each test file uses its own subset

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ferry_server::testing;
/// The admin password every test server starts with.
pub use ferry_server::testing::ADMIN_PASSWORD;

/// The shared harness's server, with scratch folders for the CLI (its
/// working folder, its logs, its resume state); all of it disappears when
/// the value is dropped.
pub struct TestServer(testing::TestServer);

impl TestServer {
    /// Starts a server with an `admin` account (password [`ADMIN_PASSWORD`]).
    pub fn start() -> TestServer {
        let server = testing::TestServer::start();
        for sub in ["work", "client-logs", "state"] {
            server.folder(sub);
        }
        TestServer(server)
    }

    /// The server's `host:port`.
    pub fn addr(&self) -> &str {
        &self.0.addr
    }

    /// A scratch folder; the CLI runs here unless told otherwise.
    pub fn work_dir(&self) -> PathBuf {
        self.0.dir.path().join("work")
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

    /// The CLI, logged in as `user`. Upload resume state goes to the
    /// temporary folder, not the real home.
    pub fn as_user(&self, user: &str, password: &str) -> Cli {
        Cli::new(self.addr(), &self.client_logs(), &self.work_dir())
            .env("FERRY_STATE", self.0.dir.path().join("state"))
            .env("FERRY_USER", user)
            .env("FERRY_PASSWORD", password)
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
    /// The binary pointed at `server`, with a clean FERRY_* environment.
    pub fn new(server: &str, logs: &Path, cwd: &Path) -> Cli {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ferry-cli"));
        for var in [
            "FERRY_SERVER",
            "FERRY_USER",
            "FERRY_PASSWORD",
            "FERRY_NEW_PASSWORD",
            "FERRY_LOGS",
            "FERRY_STATE",
        ] {
            command.env_remove(var);
        }
        command
            .env("FERRY_SERVER", server)
            .env("FERRY_LOGS", logs)
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
