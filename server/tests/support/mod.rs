//! Shared fixtures: a real server on 127.0.0.1:0 over a temp folder, clients
//! logged in as admin or as fresh users, and a raw line-level connection for
//! speaking the protocol by hand.

#![allow(dead_code, unused_imports)] // each test binary uses a different subset

pub mod doc;
pub mod transfers;

/// The fault-injection proxy lives in the shared harness, for the CLI's tests too.
pub use ferry_server::testing::proxy;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::ops::Deref;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ferry_client::transfer::Connector;
use ferry_client::{Client, Security, Trust};
use ferry_proto::protocol::Role;
pub use ferry_server::testing::ADMIN_PASSWORD;
pub use ferry_server::testing::payload;
use ferry_server::{Config, testing};

pub const USER_PASSWORD: &str = "user-secret-1";

/// The shared harness's server, with the clients these tests use and how
/// they secure their connections to it.
pub struct TestServer {
    inner: testing::TestServer,
    /// Plaintext, or TLS trusting exactly this server's fingerprint.
    pub security: Security,
}

impl Deref for TestServer {
    type Target = testing::TestServer;

    fn deref(&self) -> &testing::TestServer {
        &self.inner
    }
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer {
            inner: testing::TestServer::start(),
            security: Security::Plaintext,
        }
    }

    pub fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        TestServer {
            inner: testing::TestServer::start_with(adjust),
            security: Security::Plaintext,
        }
    }

    /// A TLS server; its clients trust its fingerprint (and nothing else).
    pub fn start_tls() -> TestServer {
        let inner = testing::TestServer::start_tls();
        let trust = Trust::nothing().vouch(&inner.fingerprint()).unwrap();
        TestServer {
            inner,
            security: Security::Tls(trust),
        }
    }

    /// What the transfer functions need to log in as admin.
    pub fn connector(&self) -> Connector {
        Connector::new(&self.addr, self.security.clone(), "admin", ADMIN_PASSWORD)
    }

    pub fn admin(&self) -> Client {
        Client::connect_and_login(&self.addr, &self.security, "admin", ADMIN_PASSWORD)
            .expect("admin logs in")
            .0
    }

    /// Creates a user with `role` and returns a client logged in as them.
    pub fn user(&self, name: &str, role: Role) -> Client {
        self.admin()
            .add_user(name, role, USER_PASSWORD)
            .expect("user is added");
        Client::connect_and_login(&self.addr, &self.security, name, USER_PASSWORD)
            .expect("user logs in")
            .0
    }

    pub fn raw(&self) -> Raw {
        Raw::connect(&self.addr)
    }

    /// Files in the temp-upload folder (should be empty between uploads).
    pub fn temp_files(&self) -> usize {
        count_files(&self.data_dir().join("tmp"))
    }

    pub fn blob_files(&self) -> usize {
        count_files(&self.data_dir().join("blobs"))
    }
}

pub fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// A connection that speaks the protocol line by line.
pub struct Raw {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Raw {
    pub fn connect(addr: &str) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let writer = stream.try_clone().unwrap();
        let mut raw = Raw {
            reader: BufReader::new(stream),
            writer,
        };
        let hello = raw.line();
        assert!(hello.starts_with("FERRY 1 "), "{hello}");
        raw
    }

    pub fn login_admin(addr: &str) -> Raw {
        let mut raw = Raw::connect(addr);
        raw.send(&format!("LOGIN admin {ADMIN_PASSWORD}"));
        assert_eq!(raw.line(), "OK LOGIN admin");
        raw
    }

    pub fn send(&mut self, line: &str) {
        self.send_bytes(format!("{line}\n").as_bytes());
    }

    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send");
    }

    /// The next line, without its newline; "" at end of stream.
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read line");
        line.trim_end_matches('\n').to_owned()
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        self.reader.read_exact(&mut buf).expect("read payload");
        buf
    }

    /// Whether the server closed the connection (reads to end of stream).
    pub fn is_closed(&mut self) -> bool {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => true,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }

    pub fn shutdown(&self) {
        let _ = self.writer.shutdown(std::net::Shutdown::Both);
    }

    /// A second handle for writing, e.g. from another thread.
    pub fn writer(&self) -> TcpStream {
        self.writer.try_clone().expect("clone the socket")
    }
}

/// The real `ferry-server` binary, killed (SIGKILL) when dropped.
pub struct Running(pub Child);

impl Running {
    /// Kills the server the hard way, as a power cut or `kill -9` would.
    pub fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// Stops the server the way an operator does (SIGTERM) and waits, at
    /// most a minute, until it has exited; returns whether it exited
    /// cleanly. Everything it logs is written by then.
    pub fn stop(&mut self) -> bool {
        let status = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .expect("the kill command runs");
        assert!(status.success(), "kill -TERM failed: {status:?}");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(exit) = self.0.try_wait().expect("the server's status") {
                return exit.success();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server did not stop within a minute of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary on a free loopback port over `dir/data` and
/// `dir/logs`; returns it with its address and what it printed up to the
/// "Data in" line.
pub fn start_binary(dir: &Path, admin_password: Option<&str>) -> (Running, String, Vec<String>) {
    start_until_ready(dir, admin_password, &["--plaintext"])
}

/// [`start_binary`], but over TLS (the binary's default).
pub fn start_binary_with_tls(
    dir: &Path,
    admin_password: Option<&str>,
) -> (Running, String, Vec<String>) {
    start_until_ready(dir, admin_password, &[])
}

fn start_until_ready(
    dir: &Path,
    admin_password: Option<&str>,
    args: &[&str],
) -> (Running, String, Vec<String>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry-server"));
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--bcrypt-cost",
        "4",
        "--min-free-space",
        "0",
    ])
    .args(args)
    .arg("--data")
    .arg(dir.join("data"))
    .arg("--logs")
    .arg(dir.join("logs"))
    .env_remove("FERRY_ADMIN_PASSWORD")
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    if let Some(p) = admin_password {
        cmd.env("FERRY_ADMIN_PASSWORD", p);
    }
    let mut child = cmd.spawn().expect("server binary starts");
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut lines = Vec::new();
    let mut addr = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(a) = line.strip_prefix("Ferry server listening on ") {
            addr = Some(a.to_owned());
        }
        let done = line.starts_with("Data in ");
        lines.push(line);
        if done {
            break;
        }
    }
    (
        running,
        addr.expect("the server printed its address"),
        lines,
    )
}

/// A `ferry-server` process started by [`spawn_binary`], with what it
/// prints, line by line.
pub struct Spawned {
    pub running: Running,
    pub stdout: mpsc::Receiver<String>,
    pub stderr: mpsc::Receiver<String>,
}

/// Starts the binary over `dir/data` and `dir/logs` with `args` (which
/// should include `--listen`), `FERRY_ADMIN_PASSWORD` set to
/// [`ADMIN_PASSWORD`], `NO_COLOR` removed and then `env` set. Its stdout and
/// stderr are read by threads for as long as the process lives (so a server
/// that keeps printing never meets a closed pipe) and arrive line by line.
pub fn spawn_binary(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Spawned {
    spawn(dir, &[&["--plaintext"], args].concat(), env)
}

/// [`spawn_binary`] on `127.0.0.1:0`, but over TLS (the binary's default).
pub fn spawn_binary_with_tls(dir: &Path) -> Spawned {
    spawn(dir, &["--listen", "127.0.0.1:0"], &[])
}

fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Spawned {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry-server"))
        .args(["--bcrypt-cost", "4", "--min-free-space", "0"])
        .arg("--data")
        .arg(dir.join("data"))
        .arg("--logs")
        .arg(dir.join("logs"))
        .args(args)
        .env("FERRY_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("server binary starts");
    let stdout = forward_lines("server-stdout", child.stdout.take().unwrap());
    let stderr = forward_lines("server-stderr", child.stderr.take().unwrap());
    Spawned {
        running: Running(child),
        stdout,
        stderr,
    }
}

/// Reads `from` line by line on a thread until it ends; the lines arrive on
/// the receiver (and are drained even when nobody listens any more).
fn forward_lines(name: &str, from: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            for line in BufReader::new(from).split(b'\n') {
                let Ok(line) = line else { break };
                let _ = tx.send(String::from_utf8_lossy(&line).into_owned());
            }
        })
        .unwrap();
    rx
}

/// Lines from `rx` until `done` says the collection is complete, or until
/// `limit` passes; returns them either way.
pub fn lines_until(
    rx: &mpsc::Receiver<String>,
    limit: Duration,
    mut done: impl FnMut(&[String]) -> bool,
) -> Vec<String> {
    let deadline = std::time::Instant::now() + limit;
    let mut lines = Vec::new();
    while !done(&lines) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(_) => break,
        }
    }
    lines
}
