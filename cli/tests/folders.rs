//! The folder commands of the real `ferry-cli` against the real server:
//! `upload -r`, `download -r` (run again, and through a lost connection),
//! `list FOLDER`, `list --tree`, `mkdir`, `mv` and `rmdir`, with their exit
//! codes.

mod support;

use std::fs;

use ferry_server::testing::payload;
use ferry_server::testing::proxy::{Fault, Proxy};
use support::{ADMIN_PASSWORD, Cli, TestServer};

#[test]
fn a_folder_goes_up_and_down_with_its_structure() {
    let server = TestServer::start();
    let work = server.work_dir();
    fs::create_dir_all(work.join("site/css")).unwrap();
    fs::create_dir_all(work.join("site/empty")).unwrap();
    fs::write(work.join("site/index.html"), "<h1>hi</h1>").unwrap();
    fs::write(work.join("site/css/main.css"), "h1 {}").unwrap();

    let run = server.admin_ok(&["upload", "-r", "site"]);
    assert!(
        run.stdout
            .contains("2 files stored, 0 unchanged, 1 empty folder created, 0 failed"),
        "{run:#?}"
    );
    let tree = server.admin_ok(&["list", "--tree"]).stdout;
    for row in [
        "site/\n",
        "site/css/",
        "site/css/main.css ",
        "site/empty/",
        "site/index.html ",
    ] {
        assert!(
            tree.contains(row.trim_end_matches('\n')),
            "{row:?} in\n{tree}"
        );
    }
    let root = server.admin_ok(&["list", "--json"]).json();
    assert_eq!(root[0]["folder"], "site", "{root}");
    let inside = server.admin_ok(&["list", "site", "--json"]).json();
    assert_eq!(inside.as_array().unwrap().len(), 3, "{inside}");

    // Into a folder that is not there yet: it is made.
    server.admin_ok(&["download", "-r", "site", "-o", "out"]);
    assert_eq!(
        fs::read(work.join("out/site/css/main.css")).unwrap(),
        b"h1 {}"
    );
    assert_eq!(
        fs::read(work.join("out/site/index.html")).unwrap(),
        b"<h1>hi</h1>"
    );
    assert!(work.join("out/site/empty").is_dir());
    // Again: every file is there already, so nothing moves and all is well.
    let again = server.admin_ok(&["download", "-r", "site", "-o", "out"]);
    assert!(
        again
            .stdout
            .contains("0 files saved, 2 unchanged, 2 folders, 0 failed"),
        "{again:#?}"
    );
    assert!(!again.stdout.contains("saved \""), "{again:#?}");
    // A file is no folder to save into.
    let onto_a_file = server
        .admin()
        .run(&["download", "-r", "site", "-o", "out/site/index.html"]);
    assert_eq!(onto_a_file.code, 2, "{onto_a_file:#?}");
    assert!(
        onto_a_file
            .stderr
            .contains("is a file; pass -o with a folder"),
        "{onto_a_file:#?}"
    );
    // A local file that differs is kept without --force.
    fs::write(work.join("out/site/index.html"), "<h1>mine</h1>").unwrap();
    let kept = server.admin().run(&["download", "-r", "site", "-o", "out"]);
    assert_eq!(kept.code, 9, "{kept:#?}");
    assert!(
        kept.stdout.contains("0 files saved, 1 unchanged"),
        "{kept:#?}"
    );
    assert_eq!(kept.stderr.lines().count(), 1, "{kept:#?}");
    assert!(
        kept.stderr.contains(
            "exists already with other content than the server's; pass --force to replace it"
        ),
        "{kept:#?}"
    );
    let forced = server.admin_ok(&["download", "-r", "site", "-o", "out", "--force"]);
    assert!(
        forced.stdout.contains("1 file saved, 1 unchanged"),
        "{forced:#?}"
    );
    assert_eq!(
        fs::read(work.join("out/site/index.html")).unwrap(),
        b"<h1>hi</h1>"
    );
    // The same upload again stores nothing: no new versions.
    let run = server.admin_ok(&["upload", "-r", "site"]);
    assert!(
        run.stdout
            .contains("0 files stored, 2 unchanged, 0 empty folders created, 0 failed"),
        "{run:#?}"
    );
    let history = server.admin_ok(&["history", "site/index.html", "--json"]);
    assert_eq!(history.json().as_array().unwrap().len(), 1);

    // A single file into a folder, and back by its path.
    server.write_file("note.txt", b"n");
    server.admin_ok(&["upload", "note.txt", "--as", "site/notes/note.txt"]);
    server.admin_ok(&["download", "site/notes/note.txt", "-o", "back.txt"]);
    assert_eq!(fs::read(work.join("back.txt")).unwrap(), b"n");
}

#[test]
fn mkdir_mv_rmdir_and_their_exit_codes() {
    let server = TestServer::start();
    let run = server.admin_ok(&["mkdir", "a/b"]);
    assert!(
        run.stdout.contains("created folder \"a/b\" (2 new)"),
        "{run:#?}"
    );
    server.write_file("f.txt", b"f");
    server.admin_ok(&["upload", "f.txt", "--as", "a/b/f.txt"]);
    let run = server.admin_ok(&["mv", "a", "z"]);
    assert!(run.stdout.contains("(1 file, 2 folders)"), "{run:#?}");
    let history = server.admin_ok(&["history", "z/b/f.txt", "--json"]).json();
    assert_eq!(history.as_array().unwrap().len(), 1);

    let run = server.admin().run(&["rmdir", "z"]).failure(7);
    assert!(run.stderr.contains("not empty"), "{run:#?}");
    assert!(run.stderr.contains("ferry-cli rmdir -r \"z\""), "{run:#?}");
    let run = server.admin().run(&["list", "nope"]).failure(6);
    assert!(run.stderr.contains("no folder named"), "{run:#?}");
    let run = server.admin().run(&["mkdir", "a//b"]).failure(2);
    assert!(run.stderr.contains("//"), "{run:#?}");
    let run = server.admin_ok(&["rmdir", "-r", "z"]);
    assert!(
        run.stdout.contains("(2 folders, 1 file, 1 version)"),
        "{run:#?}"
    );
    let run = server.admin().run(&["upload", "-r", "f.txt"]).failure(9);
    assert!(run.stderr.contains("not a folder"), "{run:#?}");
}

#[test]
fn a_folder_transfer_survives_a_lost_connection() {
    const MIB: usize = 1 << 20;
    let server = TestServer::start();
    let work = server.work_dir();
    fs::create_dir_all(work.join("site/media")).unwrap();
    fs::write(work.join("site/index.html"), "<h1>hi</h1>").unwrap();
    fs::write(work.join("site/about.html"), "<p>us</p>").unwrap();
    let video = payload(6 * MIB, 11);
    fs::write(work.join("site/media/video.bin"), &video).unwrap();
    // The same server behind a proxy that cuts the first connection (the
    // one the login check hands to the transfer) in the large file.
    let proxy = Proxy::start(server.addr());
    let via_proxy = || {
        Cli::new(&proxy.addr, &server.client_logs(), &work)
            .env("FERRY_USER", "admin")
            .env("FERRY_PASSWORD", ADMIN_PASSWORD)
            .env("FERRY_TRUST", server.fingerprint())
            .env("FERRY_STATE", server.state_dir())
    };

    proxy.plan(&[Fault::CutUp(3 * MIB as u64)]);
    let up = via_proxy().run(&["upload", "-r", "site"]).success();
    assert!(
        up.stdout
            .contains("3 files stored, 0 unchanged, 0 empty folders created, 0 failed"),
        "{up:#?}"
    );
    assert_eq!(up.stdout.matches("stored \"").count(), 3, "{up:#?}");
    assert_eq!(proxy.up_bytes().len(), 2, "cut once, connected again");
    // The large file went on from where the cut left it, not from byte 0.
    assert!(
        up.stderr
            .contains("continued interrupted uploads in \"site\""),
        "{up:#?}"
    );
    assert!(
        proxy.up_bytes()[1] < video.len() as u64,
        "{:?}",
        proxy.up_bytes()
    );
    let history = server.admin_ok(&["history", "site/index.html", "--json"]);
    assert_eq!(history.json().as_array().unwrap().len(), 1);

    fs::create_dir_all(work.join("out")).unwrap();
    proxy.plan(&[Fault::CutDown(3 * MIB as u64)]);
    let down = via_proxy()
        .run(&["download", "-r", "site", "-o", "out"])
        .success();
    assert!(
        down.stdout
            .contains("3 files saved, 0 unchanged, 1 folder, 0 failed"),
        "{down:#?}"
    );
    assert_eq!(proxy.down_bytes().len(), 4, "cut once, connected again");
    assert!(
        down.stderr
            .contains("continued interrupted downloads in \"site\""),
        "{down:#?}"
    );
    assert!(fs::read(work.join("out/site/media/video.bin")).unwrap() == video);
    assert_eq!(
        fs::read(work.join("out/site/index.html")).unwrap(),
        b"<h1>hi</h1>"
    );
    let left: Vec<_> = fs::read_dir(work.join("out/site/media"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["video.bin"], "no .part or sidecar is left");
}
