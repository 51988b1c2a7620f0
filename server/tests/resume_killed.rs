//! Resumable transfers when a process dies: the server killed mid-upload
//! and restarted, the client killed mid-download and run again.

mod support;

use std::fs;
use std::path::Path;
use std::time::Duration;

use ferry_client::Client;
use ferry_client::transfer::{self, Connector, ResumableUploadOptions, Retry, partial_download};
use ferry_client::{DownloadOptions, no_progress};
use ferry_proto::protocol::ConflictPolicy;
use support::proxy::{Fault, Proxy};
use support::transfers::*;
use support::{ADMIN_PASSWORD, TestServer, payload};

#[test]
fn a_killed_server_restarts_clean_and_the_upload_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (first, addr, _) = support::start_binary(dir.path(), Some(ADMIN_PASSWORD));
    let data = payload(20 * MIB as usize, 12);
    let source = dir.path().join("source.bin");
    fs::write(&source, &data).unwrap();
    let proxy = Proxy::start(&addr);
    proxy.plan(&[Fault::StallUp(14 * MIB)]);
    let connector = via(&proxy).with_timeout(Duration::from_secs(2));
    let options = ResumableUploadOptions {
        policy: ConflictPolicy::Fail,
        retry: Retry {
            retries: 60,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(200),
        },
        state_dir: Some(dir.path().join("state")),
    };
    let uploader = {
        let (connector, source) = (connector.clone(), source.clone());
        std::thread::Builder::new()
            .name("uploader".into())
            .spawn(move || {
                transfer::upload(&connector, &source, "crash.bin", &options, &mut no_progress)
            })
            .unwrap()
    };
    // Kill the server once it has recorded the first 8 MiB of the upload.
    let tmp = dir.path().join("data/tmp");
    wait_until(|| {
        fs::read_dir(&tmp).into_iter().flatten().flatten().any(|e| {
            e.path().extension().is_some_and(|x| x == "json")
                && fs::read_to_string(e.path()).is_ok_and(|t| t.contains("\"received\":8388608"))
        })
    });
    first.kill();

    let (_second, addr, _) = support::start_binary(dir.path(), None);
    let (mut admin, _) = Client::connect_and_login(
        &addr,
        &ferry_client::Security::Plaintext,
        "admin",
        ADMIN_PASSWORD,
    )
    .unwrap();
    assert!(
        admin.list().unwrap().is_empty(),
        "no half upload is listed after the crash"
    );
    proxy.retarget(&addr);
    proxy.cut_all();

    let report = uploader.join().unwrap().expect("the upload finishes");
    assert_eq!(
        report.resumed_from,
        8 * MIB,
        "resumed from the server's last saved record"
    );
    let mut back = Vec::new();
    admin
        .download("crash.bin", &mut back, DownloadOptions::default())
        .unwrap();
    assert!(back == data);
    assert_eq!(admin.list().unwrap().len(), 1);
}

/// The client process is killed outright mid-download; the next run resumes
/// from what its sidecar recorded.
#[test]
fn a_killed_client_resumes_from_its_sidecar() {
    let srv = TestServer::start();
    let data = payload(16 * MIB as usize, 13);
    put(&srv, "k.bin", &data, ConflictPolicy::Fail);
    let proxy = Proxy::start(&srv.addr);
    proxy.plan(&[Fault::StallDown(11 * MIB)]);
    let dest = srv.dir.path().join("k.bin");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_download",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("FERRY_TEST_ADDR", &proxy.addr)
        .env("FERRY_TEST_DEST", &dest)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until(|| partial_download(&dest).is_some_and(|s| s.received >= 8 * MIB));
    child.kill().unwrap(); // SIGKILL: no chance to save anything more
    child.wait().unwrap();

    let saved = partial_download(&dest).unwrap();
    let report = download(&via(&proxy), "k.bin", &dest, 0).unwrap();
    assert_eq!(report.resumed_from, saved.received);
    assert_eq!(fs::read(&dest).unwrap(), data);
    let second = *proxy.down_bytes().last().unwrap();
    assert!(
        second <= data.len() as u64 - saved.received + OVERHEAD,
        "moved {second}"
    );
}

/// Run only as the child process of `a_killed_client_resumes_from_its_sidecar`.
#[test]
#[ignore = "helper process for a_killed_client_resumes_from_its_sidecar"]
fn child_download() {
    let (Ok(addr), Ok(dest)) = (
        std::env::var("FERRY_TEST_ADDR"),
        std::env::var("FERRY_TEST_DEST"),
    ) else {
        return;
    };
    let connector = Connector::new(
        addr,
        ferry_client::Security::Plaintext,
        "admin",
        ADMIN_PASSWORD,
    );
    let _ = download(&connector, "k.bin", Path::new(&dest), 0);
}
