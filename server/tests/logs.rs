//! The real `ferry-server` binary: start-up output, the log file and LOGS.

mod support;

use std::io::Cursor;

use ferry_client::Client;
use ferry_client::{DownloadOptions, UploadOptions};
use support::ADMIN_PASSWORD;

#[test]
fn log_file_has_timestamped_events_and_no_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr, _) = support::start_binary(dir.path(), Some(ADMIN_PASSWORD));
    let (mut c, _) = Client::connect_and_login(
        &addr,
        &ferry_client::Security::Plaintext,
        "admin",
        ADMIN_PASSWORD,
    )
    .unwrap();
    let _ = Client::connect(&addr, &ferry_client::Security::Plaintext)
        .unwrap()
        .login("admin", "not-the-password");
    c.upload(
        Cursor::new(b"hello"),
        "evil\nname.txt",
        UploadOptions::default(),
    )
    .unwrap_err();
    c.upload(
        Cursor::new(b"hello"),
        "greeting.txt",
        UploadOptions::default(),
    )
    .unwrap();
    let mut back = Vec::new();
    c.download("greeting.txt", &mut back, DownloadOptions::default())
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
        !log.contains(ADMIN_PASSWORD) && !log.contains("not-the-password"),
        "a password reached the log"
    );
    assert!(!log.contains("evil\nname"), "a name broke a log line");
    // LOGS returns the same file's last lines.
    assert!(tail.iter().any(|l| l.contains("upload end")), "{tail:?}");
}

#[test]
fn first_start_prints_a_generated_admin_password_once() {
    let dir = tempfile::tempdir().unwrap();
    let (server, addr, lines) = support::start_binary(dir.path(), None);
    let announced = lines
        .iter()
        .find_map(|l| l.strip_prefix("Created user \"admin\" with password "))
        .expect("the generated password is printed");
    let password = announced.split_whitespace().next().unwrap().to_owned();
    assert!(password.len() >= 16, "{password}");
    Client::connect_and_login(
        &addr,
        &ferry_client::Security::Plaintext,
        "admin",
        &password,
    )
    .expect("the printed password works");
    drop(server);
    let log = std::fs::read_to_string(dir.path().join("logs/server.log")).unwrap();
    assert!(!log.contains(&password), "the password reached the log");

    // A second start over the same data creates nobody and prints no password.
    let (_server, _, lines) = support::start_binary(dir.path(), None);
    assert!(!lines.iter().any(|l| l.contains("password")), "{lines:?}");
}
