//! One process, several listeners ("virtual servers" serving one store):
//! listeners that cannot start, the status report, and the per-connection
//! rate limit.

mod support;

use std::io::Cursor;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use ferry_client::Client;
use ferry_client::{DownloadOptions, UploadOptions};
use support::{ADMIN_PASSWORD, TestServer, lines_until, payload, spawn_binary};

fn login(addr: &str) -> Client {
    Client::connect_and_login(
        addr,
        &ferry_client::Security::Plaintext,
        "admin",
        ADMIN_PASSWORD,
    )
    .expect("admin logs in")
    .0
}

fn upload(c: &mut Client, name: &str, data: &[u8]) {
    c.upload(Cursor::new(data), name, UploadOptions::default())
        .expect("upload");
}

fn download(c: &mut Client, name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    c.download(name, &mut out, DownloadOptions::default())
        .expect("download");
    out
}

/// Waits (boundedly) until `check` holds.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn three_listeners_serve_three_clients_at_once() {
    let srv = TestServer::start_with(|c| c.listen = vec!["127.0.0.1:0".into(); 3]);
    let addrs: Vec<String> = srv
        .server
        .local_addrs()
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(addrs.len(), 3);
    let size = 3 << 20;
    let start = Arc::new(Barrier::new(3));
    let handles: Vec<_> = (0..3u64)
        .map(|i| {
            let addr = addrs[i as usize].clone();
            let start = Arc::clone(&start);
            thread::Builder::new()
                .name(format!("client-{i}"))
                .spawn(move || {
                    let mut c = login(&addr);
                    let data = payload(size, i);
                    start.wait();
                    let name = format!("via listener {i}.bin");
                    upload(&mut c, &name, &data);
                    assert!(
                        download(&mut c, &name) == data,
                        "{name} came back different"
                    );
                    c
                })
                .unwrap()
        })
        .collect();
    let mut clients: Vec<Client> = handles
        .into_iter()
        .map(|h| h.join().expect("client thread"))
        .collect();

    // The listeners serve one store: what came in through one is served by
    // the others.
    for (i, c) in clients.iter_mut().enumerate() {
        let other = (i + 1) % 3;
        let data = payload(size, other as u64);
        let name = format!("via listener {other}.bin");
        assert!(
            download(c, &name) == data,
            "{name} differs through listener {i}"
        );
    }

    let snapshot = srv.server.snapshot();
    assert_eq!(snapshot.listeners.len(), 3);
    for (l, addr) in snapshot.listeners.iter().zip(&addrs) {
        assert_eq!(&l.addr.to_string(), addr);
        assert_eq!((l.connections, l.transfers), (1, 0), "{l:?}");
        assert!(l.bytes_in > size as u64, "{l:?}");
        assert!(l.bytes_out > 2 * size as u64, "{l:?}");
    }
    let total = snapshot.totals();
    assert_eq!((total.connections, total.transfers), (3, 0));
    assert!(total.bytes_in > 3 * size as u64 && total.bytes_out > 6 * size as u64);

    drop(clients);
    eventually("every connection is closed", || {
        srv.server
            .snapshot()
            .listeners
            .iter()
            .all(|l| l.connections == 0)
    });
}

#[test]
fn a_bad_listen_address_does_not_stop_the_others() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap().to_string();
    let listen = vec![
        "127.0.0.1:0".to_owned(),
        taken_addr.clone(),
        "127.0.0.1:99999".to_owned(),
        "127.0.0.1:0".to_owned(),
    ];
    let srv = TestServer::start_with(|c| c.listen = listen);
    let addrs = srv.server.local_addrs();
    assert_eq!(addrs.len(), 2, "the two good listeners start");
    for addr in &addrs {
        assert!(login(&addr.to_string()).list().unwrap().is_empty());
    }
    let errors = srv.server.bind_errors();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].starts_with(&format!("cannot listen on {taken_addr}: "))
            && errors[0].contains("already in use"),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with("cannot listen on 127.0.0.1:99999: ")
            && errors[1].contains("host:port"),
        "{errors:?}"
    );
}

#[test]
fn the_binary_exits_non_zero_when_no_listener_starts() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry-server"))
        .args(["--bcrypt-cost", "4", "--plaintext", "--listen", &taken_addr])
        .args(["--listen", "not-an-address"])
        .arg("--data")
        .arg(dir.path().join("data"))
        .arg("--logs")
        .arg(dir.path().join("logs"))
        .env("FERRY_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server kept running with no listener");
        }
        thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    let error = stderr
        .lines()
        .find(|l| l.starts_with("ferry-server: error: "))
        .unwrap_or_else(|| panic!("no error line in {stderr:?}"));
    assert!(error.contains("no listener could start"), "{error}");
    assert!(
        error.contains(&format!(
            "cannot listen on {taken_addr}: the port is already in use"
        )),
        "{error}"
    );
    assert!(
        error.contains("cannot listen on not-an-address: "),
        "{error}"
    );
    assert_eq!(
        stderr
            .matches(&format!("cannot listen on {taken_addr}"))
            .count(),
        1,
        "each problem is told once: {stderr}"
    );
}

/// The listener lines of the last complete report in `lines` (the report
/// before the last headline, so that it has all its lines).
fn last_complete_report(lines: &[String]) -> Vec<&str> {
    let heads: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("no TLS: ") || l.starts_with("TLS certificate "))
        .map(|(i, _)| i)
        .collect();
    let [.., from, to] = heads[..] else {
        return Vec::new();
    };
    lines[from..to].iter().map(String::as_str).collect()
}

#[test]
fn status_reports_are_plain_when_piped_and_reach_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap().to_string();
    let server = spawn_binary(
        dir.path(),
        &[
            "--status-interval",
            "1",
            "--listen",
            "127.0.0.1:0",
            "--listen",
            &taken_addr,
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    let startup = lines_until(&server.stdout, Duration::from_secs(30), |l| {
        l.last().is_some_and(|l| l.starts_with("Data in "))
    });
    let addrs: Vec<String> = startup
        .iter()
        .filter_map(|l| l.strip_prefix("Ferry server listening on "))
        .map(str::to_owned)
        .collect();
    assert_eq!(addrs.len(), 2, "{startup:?}");
    let warnings = lines_until(&server.stderr, Duration::from_secs(10), |l| {
        l.iter().any(|l| l.starts_with("ferry-server: warning: "))
    });
    assert!(
        warnings.iter().any(|l| l
            == &format!(
                "ferry-server: warning: cannot listen on {taken_addr}: the port is already in use (by another program, or given twice); choose another port"
            )),
        "{warnings:?}"
    );

    // A client stays connected to the second listener.
    let _client = login(&addrs[1]);
    let shows_client = |report: &[&str]| {
        report
            .iter()
            .any(|l| l.starts_with(&format!("  {} ", addrs[1])) && l.contains(" connections 1 "))
    };
    let lines = lines_until(&server.stdout, Duration::from_secs(30), |l| {
        shows_client(&last_complete_report(l))
    });
    let report = last_complete_report(&lines);
    assert!(
        shows_client(&report),
        "no report showed the client: {lines:#?}"
    );
    let heads = lines.iter().filter(|l| l.starts_with("no TLS: ")).count();
    assert!(heads >= 2, "{lines:#?}");
    assert!(
        lines.iter().all(|l| !l.contains('\x1b')),
        "escape codes on a pipe: {lines:?}"
    );
    assert_eq!(
        report.len(),
        4,
        "whether TLS is on, a headline and one line per listener: {report:#?}"
    );
    assert!(report[0].starts_with("no TLS: "), "{report:?}");
    assert!(report[1].contains(" connections 1 "), "{report:?}");
    for (line, addr) in report[2..].iter().zip(&addrs) {
        assert!(line.starts_with(&format!("  {addr} ")), "{report:#?}");
        assert!(line.contains(" in ") && line.contains(" out "), "{line}");
    }
    assert!(
        !report.iter().any(|l| l.contains(&taken_addr)),
        "{report:?}"
    );

    // The log has the same report, one record per line.
    let log_path = dir.path().join("logs/server.log");
    eventually("the log has a status report", || {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let report: Vec<&str> = log.lines().filter(|l| l.contains("[INFO]")).collect();
        report.iter().any(|l| l.contains(" status, up "))
            && addrs.iter().all(|a| {
                report
                    .iter()
                    .any(|l| l.contains(&format!("  {a}  ")) && l.contains(" connections "))
            })
    });
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(!log.contains('\x1b'), "the log is plain");
}

#[test]
fn status_reports_are_coloured_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    // `--color always` wins over NO_COLOR, as https://no-color.org asks.
    let server = spawn_binary(
        dir.path(),
        &[
            "--status-interval",
            "1",
            "--color",
            "always",
            "--listen",
            "127.0.0.1:0",
        ],
        &[("NO_COLOR", "1")],
    );
    let lines = lines_until(&server.stdout, Duration::from_secs(30), |l| {
        l.iter().filter(|l| l.contains("status, up ")).count() >= 2
    });
    let report: Vec<_> = lines.iter().filter(|l| l.contains("status, up ")).collect();
    assert_eq!(report.len(), 2, "{lines:#?}");
    assert!(report.iter().all(|l| l.contains("\x1b[")), "{report:?}");
    let log = std::fs::read_to_string(dir.path().join("logs/server.log")).unwrap();
    assert!(!log.contains('\x1b'), "the log is plain");
}

#[test]
fn rate_limit_paces_each_direction() {
    let srv = TestServer::start_with(|c| c.rate_limit = Some(2 << 20));
    let data = payload(4 << 20, 5);
    let mut c = srv.admin();

    // Receiving: the server reads at most 2 MiB/s, so the reply comes late.
    let started = Instant::now();
    upload(&mut c, "paced.bin", &data);
    let up = started.elapsed();
    assert!(up >= Duration::from_millis(1500), "4 MiB up in {up:?}");

    // Sending, watched from the side: the transfer shows in the figures.
    let addr = srv.addr.clone();
    let expected = data.clone();
    let downloader = thread::Builder::new()
        .name("downloader".into())
        .spawn(move || {
            let mut c = login(&addr);
            let started = Instant::now();
            let back = download(&mut c, "paced.bin");
            (started.elapsed(), back == expected)
        })
        .unwrap();
    eventually("the download shows as a transfer", || {
        srv.server.snapshot().listeners[0].transfers == 1
    });
    let (down, same) = downloader.join().unwrap();
    assert!(same, "the paced download came back different");
    assert!(
        down >= Duration::from_millis(1500),
        "4 MiB down in {down:?}"
    );
    assert_eq!(srv.server.snapshot().listeners[0].transfers, 0);
}
