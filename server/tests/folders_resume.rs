//! Whole trees that are cut off, cancelled and run again, through the real
//! client library against the real server: a tree download cut in the
//! middle of a large file continues from its `.part`, and never splices two
//! versions; a tree upload run again after a cut sends only what is
//! missing and makes no new versions; progress counts every file and byte,
//! and a `Break` cancels.

mod support;

use std::fs;
use std::ops::ControlFlow;
use std::path::Path;

use ferry_client::partial::part_path;
use ferry_client::transfer;
use ferry_client::{
    Client, ClientError, Entry, Security, TreeDownloadOptions, TreeDownloaded, TreeProgress,
    TreeUploadOptions,
};
use ferry_proto::protocol::ConflictPolicy;
use support::proxy::{Fault, Proxy};
use support::transfers::*;
use support::{ADMIN_PASSWORD, TestServer, payload};

/// Seven small files in folders and one of 8 MiB; returns the byte total.
fn make_tree(root: &Path) -> u64 {
    fs::create_dir_all(root.join("docs/deep")).unwrap();
    fs::create_dir_all(root.join("empty")).unwrap();
    let mut total = 0;
    for i in 0..6 {
        let data = payload(10_000 + i, i as u64);
        total += data.len() as u64;
        fs::write(root.join(format!("docs/note {i}.txt")), data).unwrap();
    }
    fs::write(root.join("a.txt"), b"first").unwrap();
    let big = payload(8 * MIB as usize, 42);
    fs::write(root.join("docs/deep/big.bin"), &big).unwrap();
    total + 5 + big.len() as u64
}

/// A client logged in as admin through `proxy`.
fn through(proxy: &Proxy) -> Client {
    Client::connect_and_login(&proxy.addr, &Security::Plaintext, "admin", ADMIN_PASSWORD)
        .unwrap()
        .0
}

/// How many versions each file under `folder` has.
fn versions(client: &mut Client, folder: &str) -> Vec<(String, u32)> {
    client
        .ls(Some(folder), true)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e {
            Entry::File(f) => Some((f.current.name, f.versions)),
            Entry::Folder(_) => None,
        })
        .collect()
}

#[test]
fn a_cut_tree_download_continues_where_it_stopped() {
    let srv = TestServer::start();
    let local = srv.dir.path().join("tree");
    make_tree(&local);
    let up = srv
        .admin()
        .upload_tree(&local, Some("t"), TreeUploadOptions::default())
        .unwrap();
    assert_eq!(up.stored, 8);

    // The small files come first; the cut falls inside the large one.
    let proxy = Proxy::start(&srv.addr);
    proxy.plan(&[Fault::CutDown(4 * MIB)]);
    let back = srv.dir.path().join("back");
    let err = through(&proxy)
        .download_tree(Some("t"), &back, TreeDownloadOptions::default())
        .unwrap_err();
    assert!(matches!(err, ClientError::Io(_)), "{err}");
    let big = back.join("docs/deep/big.bin");
    assert!(!big.exists(), "only a verified file appears");
    let partial = transfer::partial_download(&big).expect("the cut file's sidecar");
    assert_eq!(partial.name, "t/docs/deep/big.bin");
    assert_eq!((partial.version, partial.size), (1, 8 * MIB));
    assert!(
        partial.received > 0 && partial.received < 8 * MIB,
        "{}",
        partial.received
    );
    assert!(part_path(&big).exists());
    assert_eq!(fs::read(back.join("a.txt")).unwrap(), b"first");

    // The same tree again (through the proxy, which now lets everything
    // pass: in plaintext the address is the server's identity): what
    // arrived is unchanged, the large file goes on.
    let mut heard = Vec::new();
    let done = through(&proxy)
        .download_tree(
            Some("t"),
            &back,
            TreeDownloadOptions {
                each: Some(&mut |path, result| heard.push((path.to_owned(), result.is_ok()))),
                ..TreeDownloadOptions::default()
            },
        )
        .unwrap();
    assert!(done.failed.is_empty(), "{:?}", done.failed);
    assert_eq!((done.saved, done.unchanged), (1, 7));
    assert_eq!(done.resumed, partial.received);
    assert!(done.restarted.is_empty(), "{:?}", done.restarted);
    assert_eq!(heard, [("t/docs/deep/big.bin".to_owned(), true)]);
    // Byte for byte, and no `.part` or sidecar left over.
    assert_eq!(snapshot(&back), snapshot(&local));
}

#[test]
fn a_cut_tree_download_never_splices_two_versions() {
    let srv = TestServer::start();
    let first = payload(3 * MIB as usize, 1);
    put(&srv, "v/big.bin", &first, ConflictPolicy::Fail);
    let proxy = Proxy::start(&srv.addr);
    proxy.plan(&[Fault::CutDown(2 * MIB)]);
    let back = srv.dir.path().join("back");
    let err = through(&proxy)
        .download_tree(Some("v"), &back, TreeDownloadOptions::default())
        .unwrap_err();
    assert!(matches!(err, ClientError::Io(_)), "{err}");
    let partial = transfer::partial_download(&back.join("big.bin")).expect("a sidecar");
    assert!(partial.received > 0, "{partial:?}");

    // The file changes on the server: the partial one is of another version.
    let second = payload(3 * MIB as usize, 2);
    put(&srv, "v/big.bin", &second, ConflictPolicy::Overwrite);
    let done = through(&proxy)
        .download_tree(Some("v"), &back, TreeDownloadOptions::default())
        .unwrap();
    assert_eq!((done.saved, done.resumed), (1, 0));
    assert_eq!(done.restarted.len(), 1);
    assert!(
        done.restarted[0].contains("is of version 1, but the server's is now version 2"),
        "{:?}",
        done.restarted
    );
    assert!(fs::read(back.join("big.bin")).unwrap() == second);
    assert!(transfer::partial_download(&back.join("big.bin")).is_none());
}

#[test]
fn a_tree_uploaded_again_after_a_cut_sends_only_what_is_missing() {
    let srv = TestServer::start();
    let local = srv.dir.path().join("tree");
    fs::create_dir_all(local.join("sub")).unwrap();
    for i in 0..4 {
        fs::write(local.join(format!("sub/f{i}.txt")), payload(5000, i)).unwrap();
    }
    fs::write(local.join("a.txt"), b"a").unwrap();
    let big = payload(12 * MIB as usize, 9);
    fs::write(local.join("z big.bin"), &big).unwrap();
    let state = srv.dir.path().join("state");

    // The small files go first, pipelined; the cut falls inside the large one.
    let proxy = Proxy::start(&srv.addr);
    proxy.plan(&[Fault::CutUp(8 * MIB)]);
    let err = through(&proxy)
        .upload_tree(
            &local,
            Some("u"),
            TreeUploadOptions {
                state_dir: Some(state.clone()),
                ..TreeUploadOptions::default()
            },
        )
        .unwrap_err();
    assert!(matches!(err, ClientError::Io(_)), "{err}");
    let mut admin = srv.admin();
    assert_eq!(versions(&mut admin, "u").len(), 5, "the small ones arrived");
    assert_eq!(
        support::count_files(&state),
        1,
        "the large one's upload id is kept"
    );

    // The same tree again, through the proxy, which now lets everything
    // pass (in plaintext the address is the server's identity, part of the
    // state's key): the small files are unchanged, the large one goes on
    // from the byte the server confirms.
    let mut heard = Vec::new();
    let done = wait_for_ok(|| {
        heard.clear();
        through(&proxy).upload_tree(
            &local,
            Some("u"),
            TreeUploadOptions {
                state_dir: Some(state.clone()),
                each: Some(&mut |path, result| heard.push((path.to_owned(), result.is_ok()))),
                ..TreeUploadOptions::default()
            },
        )
    });
    assert!(done.failed.is_empty(), "{:?}", done.failed);
    assert_eq!((done.stored, done.unchanged), (1, 5));
    assert_eq!(heard, [("u/z big.bin".to_owned(), true)]);
    // 8 MiB went through before the cut; the server may lose what was still
    // in its old session's socket buffer when the resume took over (about
    // 2 MiB on loopback), never all of it.
    assert!(
        done.resumed > 0 && done.resumed < big.len() as u64,
        "resumed from {}",
        done.resumed
    );
    let sent = proxy.up_bytes().last().copied().unwrap();
    let rest = big.len() as u64 - done.resumed;
    assert!(
        sent <= rest + OVERHEAD,
        "sent {sent} for {rest} remaining of the large file"
    );
    assert_eq!(
        support::count_files(&state),
        0,
        "the state is removed when done"
    );
    assert!(get(&srv, "u/z big.bin") == big, "stored byte for byte");

    // Again, with every policy: nothing is sent, no version is made.
    for policy in [
        ConflictPolicy::Fail,
        ConflictPolicy::Overwrite,
        ConflictPolicy::Rename,
    ] {
        let again = admin
            .upload_tree(
                &local,
                Some("u"),
                TreeUploadOptions {
                    policy,
                    ..TreeUploadOptions::default()
                },
            )
            .unwrap();
        assert_eq!((again.stored, again.unchanged), (0, 6), "{policy}");
        assert!(again.failed.is_empty(), "{policy}: {:?}", again.failed);
    }
    let after = versions(&mut admin, "u");
    assert_eq!(after.len(), 6, "{after:?}");
    assert!(after.iter().all(|(_, n)| *n == 1), "{after:?}");
    let back = srv.dir.path().join("back");
    admin
        .download_tree(Some("u"), &back, TreeDownloadOptions::default())
        .unwrap();
    assert_eq!(snapshot(&back), snapshot(&local));
}

/// Checks a transfer's reports: totals throughout, counts that never go
/// back, a first report before anything moved, a last one with everything
/// done, and at least `within_large` reports while one file was in flight.
/// Downloads the server folder `p` into `into`, keeping every progress
/// report.
fn download_reporting(admin: &mut Client, into: &Path) -> (TreeDownloaded, Vec<TreeProgress>) {
    let mut reports = Vec::new();
    let mut report = |p| {
        reports.push(p);
        ControlFlow::Continue(())
    };
    let options = TreeDownloadOptions {
        progress: Some(&mut report),
        ..TreeDownloadOptions::default()
    };
    let done = admin.download_tree(Some("p"), into, options).unwrap();
    (done, reports)
}

/// A progress callback that cancels once `done` says so.
fn stop_once(done: impl Fn(&TreeProgress) -> bool) -> impl FnMut(TreeProgress) -> ControlFlow<()> {
    move |p| {
        if done(&p) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

fn check_reports(reports: &[TreeProgress], files: usize, bytes: u64, within_large: usize) {
    let first = reports.first().expect("reports");
    assert_eq!(
        *first,
        TreeProgress {
            files_done: 0,
            files_total: files,
            bytes_done: 0,
            bytes_total: bytes,
        }
    );
    let last = reports.last().unwrap();
    assert_eq!(
        (last.files_done, last.bytes_done),
        (files, bytes),
        "{last:?}"
    );
    for pair in reports.windows(2) {
        assert!(pair[1].files_done >= pair[0].files_done, "{pair:?}");
        assert!(pair[1].bytes_done >= pair[0].bytes_done, "{pair:?}");
        assert_eq!((pair[1].files_total, pair[1].bytes_total), (files, bytes));
    }
    let mid_file = reports
        .windows(2)
        .filter(|p| p[1].files_done == p[0].files_done && p[1].bytes_done > p[0].bytes_done)
        .count();
    assert!(mid_file >= within_large, "{mid_file} in {reports:?}");
}

#[test]
fn tree_progress_counts_every_file_and_byte_and_a_break_cancels() {
    let srv = TestServer::start();
    let local = srv.dir.path().join("tree");
    let bytes = make_tree(&local);
    let mut admin = srv.admin();

    let mut reports = Vec::new();
    let up = admin
        .upload_tree(
            &local,
            Some("p"),
            TreeUploadOptions {
                progress: Some(&mut |p| {
                    reports.push(p);
                    ControlFlow::Continue(())
                }),
                ..TreeUploadOptions::default()
            },
        )
        .unwrap();
    assert_eq!(up.stored, 8);
    // 8 MiB in one file: reported every 4 MiB on its way.
    check_reports(&reports, 8, bytes, 1);

    let back = srv.dir.path().join("back");
    let (_, reports) = download_reporting(&mut admin, &back);
    check_reports(&reports, 8, bytes, 1);
    assert_eq!(snapshot(&back), snapshot(&local));

    // Nothing to move: every file is done as unchanged.
    let (same, reports) = download_reporting(&mut admin, &back);
    assert_eq!(same.unchanged, 8);
    check_reports(&reports, 8, bytes, 0);

    // Cancelled inside the large file (the small ones come first): its
    // `.part` stays, and the next run goes on from it.
    let small = bytes - 8 * MIB;
    let cancelled = srv.dir.path().join("cancelled");
    let mut stop_inside = stop_once(|p| p.bytes_done > small);
    let options = TreeDownloadOptions {
        progress: Some(&mut stop_inside),
        ..TreeDownloadOptions::default()
    };
    let err = srv
        .admin()
        .download_tree(Some("p"), &cancelled, options)
        .unwrap_err();
    assert!(matches!(err, ClientError::Cancelled), "{err}");
    let big = cancelled.join("docs/deep/big.bin");
    let partial = transfer::partial_download(&big).expect("the cancelled file's sidecar");
    assert!(partial.received > 0, "{partial:?}");
    let done = srv
        .admin()
        .download_tree(Some("p"), &cancelled, TreeDownloadOptions::default())
        .unwrap();
    assert_eq!((done.saved, done.unchanged), (1, 7));
    assert!(done.resumed > 0);
    assert_eq!(snapshot(&cancelled), snapshot(&local));

    // An upload cancelled after its first file: the rest is sent by the
    // next run, and nothing twice.
    let mut stop_after_one = stop_once(|p| p.files_done >= 1);
    let options = TreeUploadOptions {
        progress: Some(&mut stop_after_one),
        ..TreeUploadOptions::default()
    };
    let err = srv
        .admin()
        .upload_tree(&local, Some("q"), options)
        .unwrap_err();
    assert!(matches!(err, ClientError::Cancelled), "{err}");
    let mut admin = srv.admin();
    let arrived = versions(&mut admin, "q").len();
    assert!((1..8).contains(&arrived), "{arrived} arrived");
    let rest = admin
        .upload_tree(&local, Some("q"), TreeUploadOptions::default())
        .unwrap();
    assert!(rest.failed.is_empty(), "{:?}", rest.failed);
    assert_eq!((rest.stored, rest.unchanged), (8 - arrived, arrived));
    assert!(versions(&mut admin, "q").iter().all(|(_, n)| *n == 1));
}
