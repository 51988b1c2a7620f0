//! Limits, timeouts and hostile or broken clients: each meets a clear error,
//! everyone else is served as usual, and nothing stored is damaged.

mod support;

use std::io::{Cursor, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use ferry_client::Client;
use ferry_client::{DownloadOptions, UploadOptions};
use ferry_proto::ErrorCode;
use support::{ADMIN_PASSWORD, Raw, TestServer, payload};

#[test]
fn a_silent_client_is_told_and_closed() {
    let srv = TestServer::start_with(|c| c.idle_timeout = Duration::from_millis(800));
    let mut raw = Raw::connect(&srv.addr);
    let started = Instant::now();
    let reply = raw.line();
    assert!(reply.starts_with("ERR TIMEOUT "), "{reply}");
    assert!(started.elapsed() >= Duration::from_millis(700));
    assert!(raw.is_closed());
    // Everyone else is still served.
    assert!(srv.admin().list().unwrap().is_empty());
}

#[test]
fn a_trickling_upload_is_cut_and_kept_for_a_resume() {
    let srv = TestServer::start_with(|c| c.io_timeout = Duration::from_millis(800));
    let mut raw = Raw::login_admin(&srv.addr);
    raw.send("UPLOAD slow.bin 100 fail");
    assert!(raw.line().starts_with("OK READY "));
    raw.send_bytes(b"DATA 100\nabc");
    // Three of the hundred bytes, then nothing for longer than the I/O timeout.
    let reply = raw.line();
    assert!(reply.starts_with("ERR TIMEOUT "), "{reply}");
    assert!(reply.contains("kept for a resume"), "{reply}");
    assert!(srv.admin().list().unwrap().is_empty());
}

#[test]
fn past_the_connection_cap_clients_hear_busy() {
    let srv = TestServer::start_with(|c| c.max_connections = 3);
    let held: Vec<Raw> = (0..3).map(|_| Raw::connect(&srv.addr)).collect();
    let mut extra = TcpStream::connect(&srv.addr).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut said = String::new();
    extra.read_to_string(&mut said).unwrap();
    assert!(said.starts_with("ERR BUSY "), "{said}");
    assert!(said.contains("try again"), "{said}");
    drop(held);
    // Slots are given back when connections close.
    let deadline = Instant::now() + Duration::from_secs(10);
    while srv.server.connection_count() > 0 {
        assert!(Instant::now() < deadline, "connections were not released");
        thread::sleep(Duration::from_millis(20));
    }
    assert!(srv.admin().list().unwrap().is_empty());
}

#[test]
fn a_full_disk_refuses_the_upload_up_front() {
    // Ask to keep more space free than any disk has: every upload is "too big".
    let srv = TestServer::start_with(|c| c.min_free_space = u64::MAX / 4);
    let mut c = srv.admin();
    let err = c
        .upload(Cursor::new(b"hello"), "a.txt", UploadOptions::default())
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NoSpace), "{err}");
    assert!(err.to_string().contains("disk is too full"), "{err}");
    assert!(
        c.list().unwrap().is_empty(),
        "the connection goes on, nothing stored"
    );
    assert_eq!(srv.blob_files(), 0);
}

#[test]
fn garbage_bytes_get_errors_and_others_are_served() {
    let srv = TestServer::start();
    let mut c = srv.admin();
    c.upload(Cursor::new(b"keep"), "keep.txt", UploadOptions::default())
        .unwrap();
    for seed in 0..20u64 {
        let mut stream = TcpStream::connect(&srv.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let junk = payload(3000, seed);
        let _ = stream.write_all(&junk);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("FERRY 1 "), "{answer}");
        assert!(
            answer.lines().skip(1).all(|l| l.starts_with("ERR ")),
            "only one-line errors: {answer}"
        );
    }
    let mut back = Vec::new();
    c.download("keep.txt", &mut back, DownloadOptions::default())
        .unwrap();
    assert_eq!(back, b"keep");
}

#[test]
fn idle_connections_do_not_keep_active_clients_waiting() {
    // From one address, past the cap on connections not logged in.
    let srv = TestServer::start_with(|c| c.max_unauthenticated = 1000);
    let idle: Vec<Raw> = (0..200).map(|_| Raw::connect(&srv.addr)).collect();
    let mut c = srv.admin();
    let data = payload(2 << 20, 5);
    c.upload(Cursor::new(&data), "busy.bin", UploadOptions::default())
        .unwrap();
    let mut back = Vec::new();
    c.download("busy.bin", &mut back, DownloadOptions::default())
        .unwrap();
    assert!(back == data);
    assert!(srv.server.connection_count() >= 201);
    drop(idle);
}

#[test]
fn sigterm_lets_a_running_transfer_finish_then_exits() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_ferry-server"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--bcrypt-cost",
            "4",
            "--rate-limit",
            "2M",
            "--plaintext",
            "--min-free-space",
            "0",
        ])
        .arg("--data")
        .arg(dir.path().join("data"))
        .arg("--logs")
        .arg(dir.path().join("logs"))
        .env("FERRY_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(server.stdout.take().unwrap());
    let addr = loop {
        let mut line = String::new();
        assert!(std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0);
        if let Some(a) = line.trim().strip_prefix("Ferry server listening on ") {
            break a.to_owned();
        }
    };
    let data = payload(3 << 20, 9);
    let uploader = {
        let (addr, data) = (addr.clone(), data.clone());
        thread::Builder::new()
            .name("slow-upload".into())
            .spawn(move || {
                let (mut c, _) = Client::connect_and_login(
                    &addr,
                    &ferry_client::Security::Plaintext,
                    "admin",
                    ADMIN_PASSWORD,
                )
                .unwrap();
                c.upload(Cursor::new(&data), "late.bin", UploadOptions::default())
            })
            .unwrap()
    };
    thread::sleep(Duration::from_millis(500));
    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    thread::sleep(Duration::from_millis(300));
    // No new connections once stopping...
    assert!(
        TcpStream::connect(&addr).is_err()
            || Client::connect(&addr, &ferry_client::Security::Plaintext).is_err()
    );
    // ...but the upload under way completes, and the server then exits cleanly.
    let stored = uploader
        .join()
        .unwrap()
        .expect("the running upload finished");
    assert_eq!(stored.size, data.len() as u64);
    let exit = server.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}

/// An idle connection costs the server one file descriptor, its socket, so
/// that 10,000 idle connections fit a limit of about 10,000 open files.
#[test]
fn an_idle_connection_costs_the_server_one_descriptor() {
    let dir = tempfile::tempdir().unwrap();
    let (server, addr, _) = support::start_binary(dir.path(), Some(ADMIN_PASSWORD));
    let open_files = || {
        std::fs::read_dir(format!("/proc/{}/fd", server.0.id()))
            .unwrap()
            .count()
    };
    let before = open_files();
    // Connected and greeted: each has its thread on the server.
    // (Fewer than the 32 the server lets one address hold without a login.)
    let idle: Vec<Raw> = (0..30).map(|_| Raw::connect(&addr)).collect();
    let added = open_files() - before;
    assert!(
        added <= idle.len() + 2,
        "{added} descriptors for {} idle connections",
        idle.len()
    );
}
