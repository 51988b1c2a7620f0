//! Helpers for the transfer tests (resume.rs, resume_killed.rs, the
//! folder tests): quick retries, connectors through the fault-injection
//! proxy, uploads and downloads in one call, waiting for a condition, and
//! a local folder's snapshot.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use ferry_client::transfer::{self, Connector, ResumableDownloadOptions, Retry};
use ferry_client::{Client, ClientError, DownloadOptions, Span, UploadOptions, no_progress};
use ferry_proto::protocol::ConflictPolicy;

use super::proxy::Proxy;
use super::{ADMIN_PASSWORD, TestServer};

pub const MIB: u64 = 1 << 20;
/// Bytes a transfer spends on greetings, logins and headers: generous.
pub const OVERHEAD: u64 = 64 * 1024;

pub fn quick(retries: u32) -> Retry {
    Retry {
        retries,
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
    }
}

pub fn via(proxy: &Proxy) -> Connector {
    Connector::new(
        &proxy.addr,
        ferry_client::Security::Plaintext,
        "admin",
        ADMIN_PASSWORD,
    )
}

pub fn put(srv: &TestServer, name: &str, data: &[u8], policy: ConflictPolicy) {
    srv.admin()
        .upload(
            std::io::Cursor::new(data),
            name,
            UploadOptions {
                policy,
                ..UploadOptions::default()
            },
        )
        .unwrap();
}

pub fn download(
    connector: &Connector,
    name: &str,
    dest: &Path,
    retries: u32,
) -> Result<transfer::DownloadReport, ClientError> {
    let options = ResumableDownloadOptions {
        retry: quick(retries),
        ..ResumableDownloadOptions::default()
    };
    transfer::download(connector, name, dest, &options, &mut no_progress)
}

/// `length` bytes of version 1 of `name` from `offset`.
pub fn range(client: &mut Client, name: &str, offset: u64, length: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let options = DownloadOptions {
        version: Some(1),
        span: Span::Range { offset, length },
        ..DownloadOptions::default()
    };
    client.download(name, &mut out, options).unwrap();
    out
}

pub fn get(srv: &TestServer, name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    srv.admin()
        .download(name, &mut out, DownloadOptions::default())
        .unwrap();
    out
}

pub fn wait_until(mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Retries an operation that may briefly meet the server still finishing
/// the previous, cut connection (BUSY).
pub fn wait_for_ok<T>(mut op: impl FnMut() -> Result<T, ClientError>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match op() {
            Ok(v) => return v,
            Err(e) if Instant::now() < deadline && transfer::is_retryable(&e) => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("{e}"),
        }
    }
}

/// Every file and folder under `root`, as sorted relative paths (folders
/// end in `/`), with each file's bytes.
pub fn snapshot(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if path.is_dir() {
                out.push((format!("{rel}/"), Vec::new()));
                stack.push(path);
            } else {
                out.push((rel, fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}
