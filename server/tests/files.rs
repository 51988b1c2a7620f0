//! Upload, list, download, integrity, conflict policies and versions,
//! through the real client library against the real server.

mod support;

use std::io::{Cursor, Write};

use ferry_client::partial::{part_path, sidecar_path};
use ferry_client::transfer::{self, Connector, ResumableDownloadOptions};
use ferry_client::{Client, ClientError};
use ferry_client::{DownloadOptions, LocalFile, Stage, UploadOptions};
use ferry_proto::hash::md5_bytes;
use ferry_proto::protocol::{ConflictPolicy, ErrorCode};
use support::{Raw, TestServer, payload};

fn upload(
    client: &mut Client,
    name: &str,
    data: &[u8],
    policy: ConflictPolicy,
) -> Result<ferry_client::Stored, ClientError> {
    client.upload(
        Cursor::new(data),
        name,
        UploadOptions {
            policy,
            ..UploadOptions::default()
        },
    )
}

fn download(client: &mut Client, name: &str, version: Option<u32>) -> Result<Vec<u8>, ClientError> {
    let mut out = Vec::new();
    client.download(
        name,
        &mut out,
        DownloadOptions {
            version,
            ..DownloadOptions::default()
        },
    )?;
    Ok(out)
}

/// The server reads requests through a buffer of 512 bytes; a request line
/// longer than that (here UPLOAD, DOWNLOAD and STAT of a path of the
/// longest length allowed) is gathered across reads and answered.
#[test]
fn a_request_line_longer_than_the_read_buffer_is_read_whole() {
    let srv = TestServer::start();
    let mut client = srv.admin();
    let part = "ü-".repeat(50); // 150 bytes, more once encoded
    let mut path = [part.as_str(); 4].join("/");
    path.push_str(&"x".repeat(ferry_proto::names::MAX_PATH_BYTES - path.len()));
    assert_eq!(path.len(), ferry_proto::names::MAX_PATH_BYTES);
    let data = payload(100, 7);
    let stored = upload(&mut client, &path, &data, ConflictPolicy::Fail).unwrap();
    assert_eq!(stored.name.as_str(), path);
    assert_eq!(download(&mut client, &path, None).unwrap(), data);
    assert_eq!(client.stat(&path, None).unwrap().size, 100);
}

#[test]
fn round_trip_of_awkward_names_and_sizes() {
    let srv = TestServer::start();
    let mut client = srv.admin();
    let cases = [
        ("empty file.txt", 0usize),
        ("Übersicht März – 日本.txt", 5),
        ("one mebibyte.bin", 1 << 20),
        ("hundred MiB (big) .bin", 100 << 20),
        ("odd size ñ.dat", (3 << 20) + 17),
    ];
    for (i, (name, size)) in cases.iter().enumerate() {
        let data = payload(*size, i as u64);
        let stored = upload(&mut client, name, &data, ConflictPolicy::Fail).unwrap();
        assert_eq!((stored.name.as_str(), stored.version), (*name, 1));
        assert_eq!(stored.md5, md5_bytes(&data));
    }
    let list = client.list().unwrap();
    assert_eq!(list.len(), cases.len());
    for (i, (name, size)) in cases.iter().enumerate() {
        let entry = list
            .iter()
            .find(|e| e.current.name == *name)
            .expect("listed");
        assert_eq!(entry.current.size, *size as u64);
        assert_eq!(entry.current.uploader, "admin");
        assert_eq!(entry.versions, 1);
        let data = payload(*size, i as u64);
        assert_eq!(entry.current.md5, md5_bytes(&data));
        assert!(
            download(&mut client, name, None).unwrap() == data,
            "{name} differs"
        );
    }
    assert!(
        list.windows(2)
            .all(|w| w[0].current.name < w[1].current.name),
        "sorted by name"
    );
    assert_eq!(srv.temp_files(), 0);
}

#[test]
fn file_download_lands_only_after_the_check() {
    let srv = TestServer::start();
    let mut client = srv.admin();
    let data = payload(2 << 20, 9);
    upload(&mut client, "a.bin", &data, ConflictPolicy::Fail).unwrap();
    let dest = srv.dir.path().join("out.bin");
    let mut stages = Vec::new();
    let mut shown = Vec::new();
    let connector = Connector::new(
        &srv.addr,
        ferry_client::Security::Plaintext,
        "admin",
        support::ADMIN_PASSWORD,
    );
    transfer::download(
        &connector,
        "a.bin",
        &dest,
        &ResumableDownloadOptions::default(),
        &mut |p| {
            stages.push(p.stage);
            shown.push(p.fraction());
            std::ops::ControlFlow::Continue(())
        },
    )
    .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    assert!(!part_path(&dest).exists());
    assert!(!sidecar_path(&dest).exists());
    assert_eq!(stages.last(), Some(&Stage::Done));
    let before_done = &shown[..shown.len() - 1];
    assert!(
        before_done.iter().all(|f| *f < 1.0),
        "100 % only after verification"
    );
    assert_eq!(shown.last(), Some(&1.0));
}

#[test]
fn md5_mismatch_is_refused_and_leaves_nothing() {
    let srv = TestServer::start();
    let mut raw = Raw::login_admin(&srv.addr);
    raw.send("UPLOAD bad.txt 5 fail");
    assert!(raw.line().starts_with("OK READY "));
    raw.send_bytes(b"DATA 5\nhello");
    raw.send(&format!("DONE {}", md5_bytes(b"jello")));
    let reply = raw.line();
    assert!(reply.starts_with("ERR MD5_MISMATCH "), "{reply}");
    assert!(reply.contains("nothing was stored"), "{reply}");
    // The connection goes on, and nothing was kept.
    raw.send("LIST");
    assert_eq!(raw.line(), "OK LIST 0");
    assert_eq!(srv.temp_files(), 0);
    assert_eq!(srv.blob_files(), 0);
}

#[test]
fn short_and_long_bodies_are_refused() {
    let srv = TestServer::start();
    let mut raw = Raw::login_admin(&srv.addr);
    raw.send("UPLOAD short.txt 10 fail");
    assert!(raw.line().starts_with("OK READY "));
    raw.send_bytes(b"DATA 5\nhello");
    raw.send(&format!("DONE {}", md5_bytes(b"hello")));
    assert!(raw.line().starts_with("ERR SIZE_MISMATCH "));

    raw.send("UPLOAD long.txt 3 fail");
    assert!(raw.line().starts_with("OK READY "));
    raw.send_bytes(b"DATA 5\nhello");
    raw.send(&format!("DONE {}", md5_bytes(b"hello")));
    assert!(raw.line().starts_with("ERR SIZE_MISMATCH "));
    raw.send("LIST");
    assert_eq!(raw.line(), "OK LIST 0");
    assert_eq!(srv.temp_files(), 0);
}

#[test]
fn conflict_policies() {
    let srv = TestServer::start();
    let mut c = srv.admin();
    upload(&mut c, "report.pdf", b"one", ConflictPolicy::Fail).unwrap();

    let err = upload(&mut c, "report.pdf", b"two", ConflictPolicy::Fail).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Exists));
    assert!(err.to_string().contains("already exists"), "{err}");

    let renamed = upload(&mut c, "report.pdf", b"three", ConflictPolicy::Rename).unwrap();
    assert_eq!(
        (renamed.name.as_str(), renamed.version),
        ("report_v2.pdf", 1)
    );
    let renamed = upload(&mut c, "report.pdf", b"four", ConflictPolicy::Rename).unwrap();
    assert_eq!(renamed.name, "report_v3.pdf");

    let over = upload(&mut c, "report.pdf", b"five", ConflictPolicy::Overwrite).unwrap();
    assert_eq!((over.name.as_str(), over.version), ("report.pdf", 2));
    assert_eq!(download(&mut c, "report.pdf", None).unwrap(), b"five");
    assert_eq!(download(&mut c, "report_v2.pdf", None).unwrap(), b"three");

    // The refused upload stored nothing; the client's connection is still usable.
    let names: Vec<_> = c
        .list()
        .unwrap()
        .into_iter()
        .map(|e| e.current.name)
        .collect();
    assert_eq!(names, ["report.pdf", "report_v2.pdf", "report_v3.pdf"]);
}

#[test]
fn history_and_old_versions() {
    let srv = TestServer::start();
    let mut admin = srv.admin();
    let mut bob = srv.user("bob", ferry_proto::Role::User);
    upload(&mut admin, "notes.txt", b"first", ConflictPolicy::Fail).unwrap();
    upload(&mut bob, "notes.txt", b"second!", ConflictPolicy::Overwrite).unwrap();
    upload(&mut admin, "notes.txt", b"third", ConflictPolicy::Overwrite).unwrap();

    let history = bob.history("notes.txt").unwrap();
    let summary: Vec<_> = history
        .iter()
        .map(|v| (v.version, v.size, v.uploader.as_str()))
        .collect();
    assert_eq!(summary, [(1, 5, "admin"), (2, 7, "bob"), (3, 5, "admin")]);
    assert_eq!(history[1].md5, md5_bytes(b"second!"));

    assert_eq!(download(&mut bob, "notes.txt", Some(1)).unwrap(), b"first");
    assert_eq!(
        download(&mut bob, "notes.txt", Some(2)).unwrap(),
        b"second!"
    );
    assert_eq!(bob.stat("notes.txt", None).unwrap().version, 3);
    let entry = &bob.list().unwrap()[0];
    assert_eq!((entry.current.version, entry.versions), (3, 3));

    let missing = download(&mut bob, "notes.txt", Some(9)).unwrap_err();
    assert_eq!(missing.code(), Some(ErrorCode::NotFound));
    assert!(
        missing.to_string().contains("has no version 9"),
        "{missing}"
    );
    assert_eq!(
        bob.history("nothing.txt").unwrap_err().code(),
        Some(ErrorCode::NotFound)
    );

    // Deleting one version keeps the rest; its number is not reused.
    assert_eq!(admin.delete("notes.txt", Some(3)).unwrap(), 1);
    assert_eq!(download(&mut bob, "notes.txt", None).unwrap(), b"second!");
    let next = upload(&mut bob, "notes.txt", b"fourth", ConflictPolicy::Overwrite).unwrap();
    assert_eq!(next.version, 4);
    assert_eq!(admin.delete("notes.txt", None).unwrap(), 3);
    assert!(bob.list().unwrap().is_empty());
    assert_eq!(srv.blob_files(), 0, "deleted content is removed from disk");
}

#[test]
fn ranges() {
    let srv = TestServer::start();
    let mut raw = Raw::login_admin(&srv.addr);
    let mut c = srv.admin();
    upload(&mut c, "r.txt", b"0123456789", ConflictPolicy::Fail).unwrap();
    raw.send("DOWNLOAD r.txt offset=3 length=4");
    let md5 = md5_bytes(b"0123456789");
    assert_eq!(raw.line(), format!("OK DOWNLOAD 1 10 {md5} 3 4"));
    assert_eq!(raw.line(), "DATA 4");
    assert_eq!(raw.bytes(4), b"3456");
    assert_eq!(raw.line(), "END");
    raw.send("DOWNLOAD r.txt offset=10");
    assert_eq!(raw.line(), format!("OK DOWNLOAD 1 10 {md5} 10 0"));
    assert_eq!(raw.line(), "END");
    for bad in [
        "offset=11",
        "offset=5 length=6",
        "offset=18446744073709551615 length=2",
    ] {
        raw.send(&format!("DOWNLOAD r.txt {bad}"));
        let reply = raw.line();
        assert!(reply.starts_with("ERR BAD_RANGE "), "{bad}: {reply}");
    }
}

#[test]
fn batches_of_small_files_on_one_connection() {
    let srv = TestServer::start();
    let mut c = srv.admin();
    upload(&mut c, "taken.txt", b"old", ConflictPolicy::Fail).unwrap();
    let dir = srv.dir.path().join("batch");
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for i in 0..300u64 {
        let path = dir.join(format!("f{i}"));
        std::fs::write(&path, payload((i as usize * 37) % 5000, i)).unwrap();
        files.push((path, format!("small {i}.txt")));
    }
    let big = dir.join("big");
    std::fs::write(&big, payload(3 << 20, 999)).unwrap();
    files.insert(150, (big, "big.bin".into()));
    files.insert(10, (dir.join("f1"), "bad/../name".into()));
    files.insert(20, (dir.join("f2"), "taken.txt".into()));

    let mut outcomes: Vec<_> = files.iter().map(|_| None).collect();
    let before = c.round_trips();
    c.upload_many(&files, ConflictPolicy::Fail, &mut |i, r| {
        outcomes[i] = Some(r)
    })
    .unwrap();
    // Pipelined: one round trip per window of files, not one per file
    // (the big file, sent alone, takes two of its own).
    let trips = c.round_trips() - before;
    assert!(
        trips * 20 < files.len() as u64 && trips >= 1,
        "{trips} round trips for {} files",
        files.len()
    );
    for (i, outcome) in outcomes.iter().enumerate() {
        let outcome = outcome.as_ref().expect("every file has an outcome");
        match files[i].1.as_str() {
            "bad/../name" => assert!(matches!(outcome, Err(ClientError::BadPath { .. }))),
            "taken.txt" => assert_eq!(
                outcome.as_ref().unwrap_err().code(),
                Some(ErrorCode::Exists)
            ),
            name => assert_eq!(outcome.as_ref().unwrap().name, name),
        }
    }
    assert_eq!(
        c.list().unwrap().len(),
        302,
        "300 small, big.bin and taken.txt"
    );

    let out = srv.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let wanted: Vec<(String, std::path::PathBuf)> = files
        .iter()
        .filter(|(_, n)| n != "bad/../name")
        .map(|(_, n)| (n.clone(), out.join(n)))
        .chain([("missing.txt".to_owned(), out.join("missing.txt"))])
        .collect();
    let mut results: Vec<_> = wanted.iter().map(|_| None).collect();
    let before = c.round_trips();
    c.download_many(&wanted, &mut |i, r| results[i] = Some(r))
        .unwrap();
    let trips = c.round_trips() - before;
    assert!(
        trips * 20 < wanted.len() as u64 && trips >= 1,
        "{trips} round trips for {} files",
        wanted.len()
    );
    for (i, (name, dest)) in wanted.iter().enumerate() {
        let result = results[i].as_ref().unwrap();
        match name.as_str() {
            "missing.txt" => assert_eq!(
                result.as_ref().unwrap_err().code(),
                Some(ErrorCode::NotFound)
            ),
            "taken.txt" => assert_eq!(std::fs::read(dest).unwrap(), b"old"),
            _ => {
                let source = &files.iter().find(|(_, n)| n == name).unwrap().0;
                assert_eq!(
                    std::fs::read(dest).unwrap(),
                    std::fs::read(source).unwrap(),
                    "{name}"
                );
            }
        }
    }
    // The connection is still good afterwards.
    assert_eq!(c.list().unwrap().len(), 302);
}

#[test]
fn a_pipelined_batch_ending_in_a_refusal_is_answered() {
    let srv = TestServer::start();
    upload(&mut srv.admin(), "taken.txt", b"old", ConflictPolicy::Fail).unwrap();
    let mut raw = Raw::login_admin(&srv.addr);
    // Two small uploads in one write: the second is refused before READY
    // (its name is taken), so nothing after it prompts a commit.
    let md5 = md5_bytes(b"x");
    raw.send_bytes(
        format!("UPLOAD new.txt 1 fail\nDATA 1\nxDONE {md5}\nUPLOAD taken.txt 1 fail\nDATA 1\nxDONE {md5}\n")
            .as_bytes(),
    );
    assert!(raw.line().starts_with("OK READY "));
    assert_eq!(raw.line(), format!("OK STORED new.txt 1 1 {md5}"));
    assert!(raw.line().starts_with("ERR EXISTS "));
    raw.send("LIST");
    assert_eq!(raw.line(), "OK LIST 2");
}

/// A file that shrinks or grows while it is uploaded is refused on the
/// client's side, whether it is read directly (large) or the ordinary way,
/// and nothing is stored.
#[test]
fn a_source_that_changes_mid_upload_is_refused_and_nothing_is_stored() {
    let srv = TestServer::start();
    let large = ferry_io::appender::DIRECT_FROM as usize + 5 * 1024 * 1024;
    for (name, size, shrink) in [
        ("shrinks.bin", large, true),
        ("grows.bin", 3 * 1024 * 1024, false),
    ] {
        let path = srv.dir.path().join(name);
        std::fs::write(&path, payload(size, 21)).unwrap();
        let mut changed = false;
        let mut change = |report: ferry_client::Progress| {
            if !changed && report.stage == Stage::Transferring {
                changed = true;
                let file = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .unwrap();
                if shrink {
                    file.set_len(size as u64 / 2).unwrap();
                } else {
                    (&file).write_all(b"more").unwrap();
                }
            }
            std::ops::ControlFlow::Continue(())
        };
        let err = srv
            .admin()
            .upload(
                LocalFile::open(&path).unwrap(),
                name,
                UploadOptions {
                    progress: Some(&mut change),
                    ..UploadOptions::default()
                },
            )
            .unwrap_err();
        assert!(
            matches!(err, ClientError::SourceChanged(_)),
            "{name}: {err}"
        );
        assert!(
            err.to_string()
                .contains("changed while it was being uploaded")
        );
    }
    assert!(srv.admin().list().unwrap().is_empty(), "nothing is stored");
}
