//! Many clients at once, and clients that vanish mid-transfer.

mod support;

use std::io::Cursor;
use std::thread;

use ferry_client::Client;
use ferry_client::{DownloadOptions, UploadOptions};
use ferry_proto::hash::md5_bytes;
use ferry_proto::protocol::{ConflictPolicy, Role};
use support::{Raw, TestServer, USER_PASSWORD, payload};

#[test]
fn sixteen_clients_upload_and_download_at_once() {
    let srv = TestServer::start();
    srv.admin()
        .add_user("worker", Role::User, USER_PASSWORD)
        .unwrap();
    let handles: Vec<_> = (0..16u64)
        .map(|i| {
            let addr = srv.addr.clone();
            thread::Builder::new()
                .name(format!("client-{i}"))
                .spawn(move || {
                    let (mut c, _) = Client::connect_and_login(
                        &addr,
                        &ferry_client::Security::Plaintext,
                        "worker",
                        USER_PASSWORD,
                    )
                    .unwrap();
                    let data = payload(((i as usize) << 16) + 1000, i);
                    let name = format!("file {i}.bin");
                    c.upload(Cursor::new(&data), &name, UploadOptions::default())
                        .unwrap();
                    for _ in 0..3 {
                        let mut back = Vec::new();
                        c.download(&name, &mut back, DownloadOptions::default())
                            .unwrap();
                        assert!(back == data, "{name} came back different");
                    }
                })
                .unwrap()
        })
        .collect();
    for h in handles {
        h.join().expect("client thread");
    }
    let list = srv.admin().list().unwrap();
    assert_eq!(list.len(), 16);
    for (i, entry) in (0..16u64).map(|i| {
        (
            i,
            list.iter()
                .find(|e| e.current.name == format!("file {i}.bin"))
                .unwrap(),
        )
    }) {
        assert_eq!(
            entry.current.md5,
            md5_bytes(&payload(((i as usize) << 16) + 1000, i))
        );
    }
}

#[test]
fn simultaneous_uploads_of_one_name_both_land() {
    let srv = TestServer::start();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let handles: Vec<_> = (0..2u64)
        .map(|i| {
            let addr = srv.addr.clone();
            let barrier = barrier.clone();
            thread::Builder::new()
                .name(format!("racer-{i}"))
                .spawn(move || {
                    let (mut c, _) = Client::connect_and_login(
                        &addr,
                        &ferry_client::Security::Plaintext,
                        "admin",
                        support::ADMIN_PASSWORD,
                    )
                    .unwrap();
                    let data = payload(1 << 20, 100 + i);
                    barrier.wait();
                    c.upload(
                        Cursor::new(&data),
                        "same.bin",
                        UploadOptions {
                            policy: ConflictPolicy::Overwrite,
                            ..UploadOptions::default()
                        },
                    )
                    .unwrap()
                })
                .unwrap()
        })
        .collect();
    let mut versions: Vec<u32> = handles
        .into_iter()
        .map(|h| h.join().unwrap().version)
        .collect();
    versions.sort();
    assert_eq!(versions, [1, 2]);
    let history = srv.admin().history("same.bin").unwrap();
    let mut md5s: Vec<_> = history.iter().map(|v| v.md5).collect();
    let mut want = vec![
        md5_bytes(&payload(1 << 20, 100)),
        md5_bytes(&payload(1 << 20, 101)),
    ];
    md5s.sort_by_key(|d| d.0);
    want.sort_by_key(|d| d.0);
    assert_eq!(md5s, want, "both contents are kept");
}

#[test]
fn disconnect_mid_upload_leaves_no_trace_in_the_list() {
    let srv = TestServer::start();
    let mut raw = Raw::login_admin(&srv.addr);
    raw.send("UPLOAD half.bin 1000000 fail");
    assert!(raw.line().starts_with("OK READY "));
    raw.send_bytes(b"DATA 500000\n");
    raw.send_bytes(&payload(200_000, 1));
    raw.shutdown();
    drop(raw);
    // The partial upload is kept (for a resume) but is never listed or stored.
    let mut admin = srv.admin();
    assert!(admin.list().unwrap().is_empty());
    assert_eq!(
        admin.stat("half.bin", None).unwrap_err().code(),
        Some(ferry_proto::ErrorCode::NotFound)
    );
    assert_eq!(srv.blob_files(), 0);
}

#[test]
fn a_paused_upload_is_invisible_until_it_is_continued() {
    let srv = TestServer::start();
    let mut c = srv.admin();
    let data = payload(5 << 20, 3);
    let err = c
        .upload(
            Cursor::new(&data),
            "big.bin",
            UploadOptions {
                progress: Some(&mut |p| {
                    if p.done >= 2 << 20 {
                        std::ops::ControlFlow::Break(())
                    } else {
                        std::ops::ControlFlow::Continue(())
                    }
                }),
                ..UploadOptions::default()
            },
        )
        .unwrap_err();
    assert!(matches!(err, ferry_client::ClientError::Cancelled));
    // Pausing closes this connection; the server keeps the bytes for a resume
    // but shows nothing.
    assert!(c.list().is_err(), "a paused connection is not reused");
    assert!(srv.admin().list().unwrap().is_empty());
    assert_eq!(srv.blob_files(), 0);
}
