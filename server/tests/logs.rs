//! The real `ferry-server` binary: start-up output, the log file and LOGS.

mod support;

use std::io::{BufRead, BufReader, Cursor};
use std::process::{Child, Command, Stdio};

use ferry_common::Client;
use ferry_common::client::no_progress;
use ferry_common::protocol::ConflictPolicy;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary on a free loopback port; returns it with its address
/// and everything it printed before it was ready.
fn start(dir: &std::path::Path, admin_password: Option<&str>) -> (Running, String, Vec<String>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry-server"));
    cmd.args(["--listen", "127.0.0.1:0", "--bcrypt-cost", "4"])
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

#[test]
fn log_file_has_timestamped_events_and_no_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr, _) = start(dir.path(), Some("admin-secret-1"));
    let (mut c, _) = Client::connect_and_login(&addr, "admin", "admin-secret-1").unwrap();
    let _ = Client::connect(&addr)
        .unwrap()
        .login("admin", "not-the-password");
    c.upload(
        Cursor::new(b"hello"),
        5,
        "evil\nname.txt",
        ConflictPolicy::Fail,
        &mut no_progress,
    )
    .unwrap_err();
    c.upload(
        Cursor::new(b"hello"),
        5,
        "greeting.txt",
        ConflictPolicy::Fail,
        &mut no_progress,
    )
    .unwrap();
    let mut back = Vec::new();
    c.download("greeting.txt", None, &mut back, &mut no_progress)
        .unwrap();
    let tail = c.logs(100).unwrap();
    c.quit().unwrap();

    let log = std::fs::read_to_string(dir.path().join("logs/server.log")).unwrap();
    for line in log.lines() {
        let stamp = line.split(' ').next().unwrap();
        assert!(
            stamp.len() >= 20
                && stamp.as_bytes()[4] == b'-'
                && stamp.as_bytes()[10] == b'T'
                && stamp.ends_with('Z'),
            "not timestamped: {line}"
        );
    }
    for event in [
        "connect",
        "login ok",
        "login failed",
        "upload start",
        "upload end",
        "download end",
        "bytes=5",
        "md5=5d41402abc4b2a76b9719d911017c592",
    ] {
        assert!(log.contains(event), "log lacks {event:?}:\n{log}");
    }
    assert!(
        !log.contains("admin-secret-1") && !log.contains("not-the-password"),
        "a password reached the log"
    );
    assert!(!log.contains("evil\nname"), "a name broke a log line");
    // LOGS returns the same file's last lines.
    assert!(tail.iter().any(|l| l.contains("upload end")), "{tail:?}");
}

#[test]
fn first_start_prints_a_generated_admin_password_once() {
    let dir = tempfile::tempdir().unwrap();
    let (server, addr, lines) = start(dir.path(), None);
    let announced = lines
        .iter()
        .find_map(|l| l.strip_prefix("Created user \"admin\" with password "))
        .expect("the generated password is printed");
    let password = announced.split_whitespace().next().unwrap().to_owned();
    assert!(password.len() >= 16, "{password}");
    Client::connect_and_login(&addr, "admin", &password).expect("the printed password works");
    drop(server);
    let log = std::fs::read_to_string(dir.path().join("logs/server.log")).unwrap();
    assert!(!log.contains(&password), "the password reached the log");

    // A second start over the same data creates nobody and prints no password.
    let (_server, _, lines) = start(dir.path(), None);
    assert!(!lines.iter().any(|l| l.contains("password")), "{lines:?}");
}
