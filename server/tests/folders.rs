//! Folders through the real client library against the real server: a
//! whole tree up and down (an empty folder included), a thousand small
//! files on one connection in a few round trips, mkdir/mv/rmdir, and a
//! resumed upload and download of a file inside a folder after a cut.

mod support;

use std::fs;

use ferry_client::transfer::{self, ResumableUploadOptions};
use ferry_client::{ClientError, Entry, TreeDownloadOptions, TreeUploadOptions, no_progress};
use ferry_proto::hash::md5_bytes;
use ferry_proto::protocol::{ConflictPolicy, ErrorCode, Role};
use support::proxy::{Fault, Proxy};
use support::transfers::*;
use support::{TestServer, payload};

fn paths(entries: &[Entry]) -> Vec<&str> {
    entries.iter().map(Entry::path).collect()
}

#[test]
fn a_tree_goes_up_and_comes_down_the_same_with_its_empty_folder() {
    let srv = TestServer::start();
    let local = srv.dir.path().join("project");
    fs::create_dir_all(local.join("src/deep/er")).unwrap();
    fs::create_dir_all(local.join("empty")).unwrap();
    fs::write(local.join("README.md"), "read me").unwrap();
    fs::write(local.join("src/main.rs"), "fn main() {}").unwrap();
    fs::write(
        local.join("src/deep/er/data.bin"),
        payload(3 * MIB as usize, 7),
    )
    .unwrap();
    fs::write(local.join("src/zero.txt"), "").unwrap();

    let mut client = srv.admin();
    let mut heard = Vec::new();
    let up = client
        .upload_tree(
            &local,
            Some("project"),
            TreeUploadOptions {
                each: Some(&mut |p, r| heard.push((p.to_owned(), r.is_ok()))),
                ..TreeUploadOptions::default()
            },
        )
        .unwrap();
    assert!(up.failed.is_empty(), "{:?}", up.failed);
    assert_eq!((up.stored, up.unchanged, up.folders), (4, 0, 1));
    assert_eq!(heard.len(), 4);
    assert_eq!(
        paths(&client.ls(Some("project"), true).unwrap()),
        [
            "project/README.md",
            "project/empty",
            "project/src",
            "project/src/deep",
            "project/src/deep/er",
            "project/src/deep/er/data.bin",
            "project/src/main.rs",
            "project/src/zero.txt",
        ]
    );
    // The flat LIST of an old client does not see into folders.
    assert!(client.list().unwrap().is_empty());

    let back = srv.dir.path().join("back");
    let down = client
        .download_tree(Some("project"), &back, TreeDownloadOptions::default())
        .unwrap();
    assert!(down.failed.is_empty(), "{:?}", down.failed);
    assert_eq!((down.saved, down.unchanged), (4, 0));
    assert_eq!(snapshot(&back), snapshot(&local));

    // Again: every file is there with the server's content, so nothing moves.
    let again = client
        .download_tree(Some("project"), &back, TreeDownloadOptions::default())
        .unwrap();
    assert_eq!(
        (again.saved, again.unchanged, again.failed.len()),
        (0, 4, 0)
    );
    // A local file that differs is kept, unless overwrite says otherwise.
    fs::write(back.join("src/main.rs"), "fn main() { changed() }").unwrap();
    let kept = client
        .download_tree(Some("project"), &back, TreeDownloadOptions::default())
        .unwrap();
    assert_eq!((kept.saved, kept.unchanged), (0, 3));
    assert_eq!(kept.failed.len(), 1);
    assert_eq!(kept.failed[0].0, "project/src/main.rs");
    assert!(
        matches!(&kept.failed[0].1, ClientError::LocalExists { path } if path.ends_with("src/main.rs")),
        "{}",
        kept.failed[0].1
    );
    let forced = client
        .download_tree(
            Some("project"),
            &back,
            TreeDownloadOptions {
                overwrite: true,
                ..TreeDownloadOptions::default()
            },
        )
        .unwrap();
    assert_eq!(
        (forced.saved, forced.unchanged, forced.failed.len()),
        (1, 3, 0)
    );
    assert_eq!(snapshot(&back), snapshot(&local));

    // Uploading the same tree again stores nothing, whatever the policy;
    // a file that changed meets the policy alone.
    let twice = client
        .upload_tree(&local, Some("project"), TreeUploadOptions::default())
        .unwrap();
    assert_eq!((twice.stored, twice.unchanged, twice.folders), (0, 4, 0));
    assert!(twice.failed.is_empty(), "{:?}", twice.failed);
    fs::write(local.join("README.md"), "read me, changed").unwrap();
    let changed = client
        .upload_tree(&local, Some("project"), TreeUploadOptions::default())
        .unwrap();
    assert_eq!((changed.stored, changed.unchanged), (0, 3));
    assert_eq!(changed.failed.len(), 1);
    assert_eq!(changed.failed[0].1.code(), Some(ErrorCode::Exists));
    let overwritten = client
        .upload_tree(
            &local,
            Some("project"),
            TreeUploadOptions {
                policy: ConflictPolicy::Overwrite,
                ..TreeUploadOptions::default()
            },
        )
        .unwrap();
    assert_eq!((overwritten.stored, overwritten.unchanged), (1, 3));
    assert_eq!(client.history("project/README.md").unwrap().len(), 2);
    assert_eq!(client.history("project/src/main.rs").unwrap().len(), 1);
}

#[test]
fn a_thousand_files_in_folders_go_up_and_down_in_a_few_round_trips() {
    let srv = TestServer::start();
    let local = srv.dir.path().join("many");
    for i in 0..1000 {
        let dir = local.join(format!("d{}/e{}", i % 10, i % 7));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!("f{i}.txt")), format!("file {i}")).unwrap();
    }
    let mut client = srv.admin();
    let before = client.round_trips();
    let up = client
        .upload_tree(&local, None, TreeUploadOptions::default())
        .unwrap();
    assert!(up.failed.is_empty(), "{:?}", up.failed);
    assert_eq!(up.stored, 1000);
    // Pipelined: the listing, then one round trip per window of files,
    // far below one per file.
    // At least one per window of 64 (so the count is real), far fewer than files.
    let trips = client.round_trips() - before;
    assert!(
        (1000 / 64..1000 / 20).contains(&trips),
        "{trips} round trips up"
    );
    let listed = client.ls(None, true).unwrap();
    let files = listed
        .iter()
        .filter(|e| matches!(e, Entry::File(_)))
        .count();
    assert_eq!(files, 1000);
    let back = srv.dir.path().join("back");
    let before = client.round_trips();
    let down = client
        .download_tree(None, &back, TreeDownloadOptions::default())
        .unwrap();
    assert_eq!(down.saved, 1000);
    let trips = client.round_trips() - before;
    assert!(
        (1000 / 64..1000 / 20).contains(&trips),
        "{trips} round trips down"
    );
    assert_eq!(snapshot(&back), snapshot(&local));
}

#[test]
fn a_large_file_in_a_tree_comes_down_in_one_round_trip() {
    let srv = TestServer::start();
    for i in 0..3u64 {
        put(
            &srv,
            &format!("media/clip{i}.bin"),
            &payload(3 << 20, i),
            ConflictPolicy::Fail,
        );
    }
    let mut client = srv.admin();
    let back = srv.dir.path().join("back");
    let before = client.round_trips();
    let down = client
        .download_tree(Some("media"), &back, TreeDownloadOptions::default())
        .unwrap();
    assert_eq!(down.saved, 3);
    // The listing, then one DOWNLOAD each: what the listing said of a
    // file is not asked again.
    assert_eq!(client.round_trips() - before, 1 + 3);
    for i in 0..3u64 {
        let got = fs::read(back.join(format!("clip{i}.bin"))).unwrap();
        assert_eq!(got, payload(3 << 20, i));
    }
}

#[test]
fn mkdir_mv_rmdir_through_the_library_and_the_roles() {
    let srv = TestServer::start();
    let mut admin = srv.admin();
    assert_eq!(admin.mkdir("a/b").unwrap(), 2);
    assert_eq!(admin.mkdir("a/b").unwrap(), 0);
    put(&srv, "a/b/f.txt", b"one", ConflictPolicy::Fail);
    put(&srv, "a/b/f.txt", b"two", ConflictPolicy::Overwrite);
    let moved = admin.move_path("a", "z/a").unwrap();
    assert_eq!((moved.files, moved.folders), (1, 2));
    let history = admin.history("z/a/b/f.txt").unwrap();
    assert_eq!(history.len(), 2, "the history moves along");
    assert_eq!(get(&srv, "z/a/b/f.txt"), b"two");

    let mut user = srv.user("ann", Role::User);
    assert_eq!(user.mkdir("z/mine").unwrap(), 1);
    for e in [
        user.rmdir("z/mine", false).unwrap_err(),
        user.move_path("z/mine", "y").map(|_| ()).unwrap_err(),
    ] {
        assert_eq!(e.code(), Some(ErrorCode::Forbidden), "{e}");
    }
    let e = admin.rmdir("z", false).unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::NotEmpty), "{e}");
    let removed = admin.rmdir("z", true).unwrap();
    assert_eq!(
        (removed.folders, removed.files, removed.versions),
        (4, 1, 2)
    );
    assert!(admin.ls(None, true).unwrap().is_empty());
    assert_eq!(srv.blob_files(), 0);

    // Hostile paths never leave the client.
    for bad in ["/etc", "a//b", "a/../b", "a/"] {
        let e = admin.mkdir(bad).unwrap_err();
        assert!(matches!(e, ClientError::BadPath { .. }), "{bad}: {e}");
    }
}

#[test]
fn a_cut_upload_and_download_of_a_file_in_a_folder_resume() {
    let srv = TestServer::start();
    let data = payload(12 * MIB as usize, 5);
    let source = srv.dir.path().join("source.bin");
    fs::write(&source, &data).unwrap();
    let state = srv.dir.path().join("state");
    let proxy = Proxy::start(&srv.addr);
    proxy.plan(&[Fault::CutUp(5 * MIB)]);
    let options = ResumableUploadOptions {
        policy: ConflictPolicy::Fail,
        retry: quick(0),
        state_dir: Some(state.clone()),
    };
    let name = "team/big files/data.bin";
    let err =
        transfer::upload(&via(&proxy), &source, name, &options, &mut no_progress).unwrap_err();
    assert!(matches!(err, ClientError::Io(_)), "{err}");
    assert!(
        srv.admin().ls(None, true).unwrap().is_empty(),
        "nothing half-stored"
    );
    let report =
        wait_for_ok(|| transfer::upload(&via(&proxy), &source, name, &options, &mut no_progress));
    // Not all of the 5 MiB need be kept: the proxy's cut may reset the
    // server's socket before it has read what was in flight.
    assert!(report.resumed_from > 0, "restarted, not resumed");
    assert_eq!(report.stored.md5, md5_bytes(&data));
    assert_eq!(report.stored.name, name);

    proxy.plan(&[Fault::CutDown(5 * MIB)]);
    let dest = srv.dir.path().join("data.bin");
    let err = download(&via(&proxy), name, &dest, 0).unwrap_err();
    assert!(matches!(err, ClientError::Io(_)), "{err}");
    let report = download(&via(&proxy), name, &dest, 0).unwrap();
    assert!(report.resumed_from > 4 * MIB, "{}", report.resumed_from);
    assert_eq!(fs::read(&dest).unwrap(), data);
}
