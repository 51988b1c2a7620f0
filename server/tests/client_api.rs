//! The client library's two entry points, `Client::upload` and
//! `Client::download`, driven through every option against the real server:
//! what each option sends, what it reports and what it refuses.

mod support;

use std::io::{self, Cursor, Write};
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use ferry_client::transfer::is_retryable;
use ferry_client::{Client, ClientError};
use ferry_client::{
    DownloadOptions, LocalFile, Progress, Resume, Span, Stage, UploadEvent, UploadOptions,
};
use ferry_proto::hash::md5_bytes;
use ferry_proto::protocol::{CHUNK_SIZE, ConflictPolicy, ErrorCode};
use support::{TestServer, payload};

const MIB: usize = 1 << 20;

fn put(client: &mut Client, name: &str, data: &[u8], policy: ConflictPolicy) {
    let options = UploadOptions {
        policy,
        ..UploadOptions::default()
    };
    client.upload(Cursor::new(data), name, options).unwrap();
}

/// Retries while the server is still finishing the previous, cut
/// connection of the same upload (BUSY).
fn until_not_busy<T>(mut op: impl FnMut() -> Result<T, ClientError>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match op() {
            Ok(v) => return v,
            Err(e) if Instant::now() < deadline && is_retryable(&e) => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn a_local_file_uploads_with_its_progress_and_journal() {
    let srv = TestServer::start();
    let data = payload(9 * MIB + 17, 3);
    let path = srv.dir.path().join("source file.bin");
    std::fs::write(&path, &data).unwrap();
    let mut events = Vec::new();
    let mut reports: Vec<Progress> = Vec::new();
    let options = UploadOptions {
        journal: Some(&mut |event| events.push(event)),
        progress: Some(&mut |p| {
            reports.push(p);
            ControlFlow::Continue(())
        }),
        ..UploadOptions::default()
    };
    let stored = srv
        .admin()
        .upload(LocalFile::open(&path).unwrap(), "big.bin", options)
        .unwrap();
    assert_eq!(
        (stored.name.as_str(), stored.size, stored.md5),
        ("big.bin", data.len() as u64, md5_bytes(&data))
    );
    assert!(
        matches!(&events[0], UploadEvent::Ready { offset: 0, .. }),
        "{events:?}"
    );
    // One checkpoint per 8 MiB sent.
    let checkpoints: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            UploadEvent::Checkpoint(c) => Some(c.offset),
            UploadEvent::Ready { .. } => None,
        })
        .collect();
    assert_eq!(checkpoints, [8 << 20]);
    let stages: Vec<Stage> = reports.iter().map(|p| p.stage).collect();
    assert_eq!(stages.last(), Some(&Stage::Done));
    assert_eq!(stages[stages.len() - 2], Stage::Verifying);
    assert!(reports.iter().all(|p| p.total == data.len() as u64));
}

#[test]
fn upload_options_choose_the_policy_and_the_upload_to_continue() {
    let srv = TestServer::start();
    let mut c = srv.admin();
    put(&mut c, "a.txt", b"one", ConflictPolicy::Fail);
    let taken = c
        .upload(Cursor::new(b"two"), "a.txt", UploadOptions::default())
        .unwrap_err();
    assert_eq!(taken.code(), Some(ErrorCode::Exists), "fail is the default");
    let renamed = c
        .upload(
            Cursor::new(b"two"),
            "a.txt",
            UploadOptions {
                policy: ConflictPolicy::Rename,
                ..UploadOptions::default()
            },
        )
        .unwrap();
    assert_eq!(renamed.name, "a_v2.txt");

    // A paused upload continues from where the server stopped.
    let data = payload(3 * MIB, 8);
    let mut id = None;
    let paused = srv.admin().upload(
        Cursor::new(&data),
        "paused.bin",
        UploadOptions {
            journal: Some(&mut |e| {
                if let UploadEvent::Ready { upload_id, .. } = e {
                    id = Some(upload_id);
                }
            }),
            progress: Some(&mut |p| {
                if p.done >= MIB as u64 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            }),
            ..UploadOptions::default()
        },
    );
    assert!(matches!(paused, Err(ClientError::Cancelled)), "{paused:?}");
    let id = id.expect("the server gave an id");
    let mut from = None;
    let stored = until_not_busy(|| {
        srv.admin().upload(
            Cursor::new(&data),
            "paused.bin",
            UploadOptions {
                resume: Some(Resume {
                    upload_id: &id,
                    checkpoints: &[],
                }),
                journal: Some(&mut |e| {
                    if let UploadEvent::Ready { offset, .. } = e {
                        from = Some(offset);
                    }
                }),
                ..UploadOptions::default()
            },
        )
    });
    assert_eq!(stored.md5, md5_bytes(&data));
    assert!(from.is_some_and(|at| at > 0), "resumed from {from:?}");
}

#[test]
fn spans_fetch_the_whole_the_rest_or_a_range() {
    let srv = TestServer::start();
    let mut c = srv.admin();
    let data = payload(2 * CHUNK_SIZE as usize + 333, 5);
    put(&mut c, "f.bin", &data, ConflictPolicy::Fail);
    put(&mut c, "f.bin", b"version two", ConflictPolicy::Overwrite);

    let mut whole = Vec::new();
    let got = c
        .download("f.bin", &mut whole, DownloadOptions::default())
        .unwrap();
    assert_eq!((got.version, whole.as_slice()), (2, &b"version two"[..]));

    let from = CHUNK_SIZE + 5;
    let mut rest = Vec::new();
    let mut reports = Vec::new();
    let got = c
        .download(
            "f.bin",
            &mut rest,
            DownloadOptions {
                version: Some(1),
                span: Span::From(from),
                progress: Some(&mut |p| {
                    reports.push(p);
                    ControlFlow::Continue(())
                }),
                ..DownloadOptions::default()
            },
        )
        .unwrap();
    assert_eq!(got.version, 1);
    assert_eq!(got.md5, md5_bytes(&data), "the whole version's MD5");
    assert!(rest == data[from as usize..]);
    // Progress counts from the start of the file; no check, so no Done.
    assert!(reports.first().unwrap().done > from);
    assert_eq!(reports.last().unwrap().done, data.len() as u64);
    assert!(reports.iter().all(|p| p.stage == Stage::Transferring));

    let mut piece = Vec::new();
    let span = Span::Range {
        offset: 100,
        length: 1000,
    };
    c.download(
        "f.bin",
        &mut piece,
        DownloadOptions {
            version: Some(1),
            span,
            ..DownloadOptions::default()
        },
    )
    .unwrap();
    assert!(piece == data[100..1100]);
    c.ping().expect("the connection is still in step");
}

#[test]
fn an_expected_md5_refuses_other_content_before_writing() {
    let srv = TestServer::start();
    let mut c = srv.admin();
    put(&mut c, "p.bin", b"first", ConflictPolicy::Fail);
    put(&mut c, "p.bin", b"second", ConflictPolicy::Overwrite);
    let mut out = Vec::new();
    let pinned = DownloadOptions {
        version: Some(1),
        expect_md5: Some(md5_bytes(b"first")),
        ..DownloadOptions::default()
    };
    c.download("p.bin", &mut out, pinned).unwrap();
    assert_eq!(out, b"first");

    let mut out = Vec::new();
    let wrong = DownloadOptions {
        expect_md5: Some(md5_bytes(b"first")),
        ..DownloadOptions::default()
    };
    let err = c.download("p.bin", &mut out, wrong).unwrap_err();
    assert!(matches!(err, ClientError::Protocol(_)), "{err}");
    assert!(out.is_empty(), "nothing was written");
    assert!(c.ping().is_err(), "the server was still sending: abandoned");
}

/// A sink that takes `room` bytes, then fails: with a `ClientError` of its
/// own, or with a plain I/O error.
struct Full {
    room: usize,
    own: bool,
}

impl Write for Full {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() <= self.room {
            self.room -= buf.len();
            return Ok(buf.len());
        }
        Err(if self.own {
            io::Error::other(ClientError::NoMajority("the sink's own words".into()))
        } else {
            io::ErrorKind::StorageFull.into()
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_sink_says_why_and_a_cancel_stops() {
    let srv = TestServer::start();
    put(
        &mut srv.admin(),
        "s.bin",
        &payload(MIB, 6),
        ConflictPolicy::Fail,
    );
    let fetch = |sink: &mut dyn Write, stop: bool| {
        srv.admin().download(
            "s.bin",
            sink,
            DownloadOptions {
                progress: Some(&mut |_| {
                    if stop {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                }),
                ..DownloadOptions::default()
            },
        )
    };
    let own = fetch(&mut Full { room: 0, own: true }, false).unwrap_err();
    assert!(matches!(own, ClientError::NoMajority(_)), "{own:?}");
    let plain = fetch(
        &mut Full {
            room: 0,
            own: false,
        },
        false,
    )
    .unwrap_err();
    assert!(
        matches!(&plain, ClientError::Local { action: "write", path, .. } if path.as_os_str() == "s.bin"),
        "{plain:?}"
    );
    let stopped = fetch(&mut io::sink(), true).unwrap_err();
    assert!(matches!(stopped, ClientError::Cancelled), "{stopped:?}");
}
