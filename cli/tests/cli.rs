//! End-to-end tests: the real `ferry-cli` binary against the real server,
//! checking what a script relies on — output, files on disk, exit codes.
//! The servers speak TLS and the CLI trusts them by `FERRY_TRUST`, so
//! everything here also shows that it works over TLS; `tls.rs` tests the
//! verification itself.

mod support;

use std::fs;
use std::net::TcpListener;

use ferry_proto::hash::md5_bytes;
use support::{ADMIN_PASSWORD, Cli, TestServer, trust_all};

/// Bytes that are not text, long enough to span several 1 MiB chunks.
fn binary_content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 977) as u8).collect()
}

#[test]
fn round_trip_keeps_names_and_bytes_exact() {
    let server = TestServer::start();
    let name = "Übersicht März 日本語 report.bin";
    let content = binary_content(3 * 1024 * 1024 + 17);
    server.write_file(name, &content);

    let run = server.admin_ok(&["upload", name]);
    assert!(
        run.stdout
            .starts_with(&format!("stored {name:?} (version 1, 3.0 MiB, md5 ")),
        "{run:#?}"
    );
    assert_eq!(run.stdout.lines().count(), 1);

    let listed = server.admin_ok(&["list", "--json"]).json();
    let files = listed.as_array().expect("an array");
    assert_eq!(files.len(), 1);
    let file = &files[0];
    assert_eq!(file["name"], name);
    assert_eq!(file["size"], content.len() as u64);
    assert_eq!(file["md5"], md5_bytes(&content).to_string());
    assert_eq!(file["uploader"], "admin");
    assert_eq!(file["versions"], 1);
    assert_eq!(file["version"], 1);
    let modified = file["modified"].as_str().expect("a time");
    assert!(
        modified.len() == 20 && modified.ends_with('Z') && &modified[10..11] == "T",
        "{modified}"
    );

    let table = server.admin_ok(&["list"]).stdout;
    assert!(table.starts_with("NAME"), "{table}");
    assert!(table.contains(name) && table.contains("3.0 MiB"), "{table}");

    // Default output path: ./NAME in the current folder.
    let elsewhere = server.work_dir().join("downloads");
    fs::create_dir(&elsewhere).unwrap();
    let run = server
        .admin()
        .cwd(&elsewhere)
        .run(&["download", name])
        .success();
    assert!(
        run.stdout
            .starts_with(&format!("saved {name:?} version 1 to ")),
        "{run:#?}"
    );
    assert!(
        fs::read(elsewhere.join(name)).unwrap() == content,
        "bytes differ"
    );
    assert!(!elsewhere.join(format!("{name}.part")).exists());

    // An existing output is only replaced with --force.
    fs::write(elsewhere.join(name), b"mine").unwrap();
    let refused = server
        .admin()
        .cwd(&elsewhere)
        .run(&["download", name])
        .failure(9);
    assert!(refused.stderr.contains("--force"), "{refused:#?}");
    assert_eq!(fs::read(elsewhere.join(name)).unwrap(), b"mine");
    server
        .admin()
        .cwd(&elsewhere)
        .run(&["download", name, "--force"])
        .success();
    assert!(
        fs::read(elsewhere.join(name)).unwrap() == content,
        "bytes differ"
    );

    // -o with a file path.
    let copy = server.work_dir().join("copy.bin");
    server
        .admin()
        .run(&["download", name, "-o", "copy.bin"])
        .success();
    assert!(fs::read(&copy).unwrap() == content, "bytes differ");
}

#[test]
fn empty_server_lists_nothing_kindly() {
    let server = TestServer::start();
    assert_eq!(
        server.admin_ok(&["list", "--json"]).json(),
        serde_json::json!([])
    );
    let run = server.admin_ok(&["list"]);
    assert_eq!(
        run.stdout,
        "No files yet — upload one with: ferry-cli upload PATH\n"
    );
}

#[test]
fn conflicts_follow_the_chosen_policy() {
    let server = TestServer::start();
    let path = server.write_file("notes.txt", b"first version\n");
    server.admin_ok(&["upload", "notes.txt"]);

    // No flag and no terminal: fail, with a message that says what to do.
    let run = server.admin().run(&["upload", "notes.txt"]).failure(7);
    assert!(run.stderr.contains("already exists"), "{run:#?}");
    assert!(run.stderr.contains("--on-conflict"), "{run:#?}");
    let run = server
        .admin()
        .run(&["upload", "notes.txt", "--on-conflict", "fail"])
        .failure(7);
    assert!(run.stderr.contains("\"notes.txt\""), "{run:#?}");

    // rename: stored as name_v2.ext, the original untouched.
    let run = server.admin_ok(&["upload", "notes.txt", "--on-conflict", "rename"]);
    assert!(
        run.stdout
            .starts_with("stored \"notes.txt\" as \"notes_v2.txt\" (version 1,"),
        "{run:#?}"
    );
    let names: Vec<String> = server
        .admin_ok(&["list", "--json"])
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        names.contains(&"notes.txt".into()) && names.contains(&"notes_v2.txt".into()),
        "{names:?}"
    );

    // overwrite: a second version; the first stays downloadable.
    fs::write(&path, b"second version, longer\n").unwrap();
    let run = server.admin_ok(&["upload", "notes.txt", "--on-conflict", "overwrite"]);
    assert!(
        run.stdout.starts_with("stored \"notes.txt\" (version 2,"),
        "{run:#?}"
    );

    let history = server.admin_ok(&["history", "notes.txt", "--json"]).json();
    let versions = history.as_array().unwrap();
    assert_eq!(versions.len(), 2, "{history}");
    assert_eq!(versions[0]["version"], 1);
    assert_eq!(versions[1]["version"], 2);
    assert_eq!(
        versions[0]["md5"],
        md5_bytes(b"first version\n").to_string()
    );
    assert_eq!(versions[1]["size"], 23);
    let table = server.admin_ok(&["history", "notes.txt"]).stdout;
    assert_eq!(table.lines().count(), 3, "{table}");
    assert!(table.contains("2 (current)"), "{table}");

    let old = server.work_dir().join("old.txt");
    let run = server.admin_ok(&["download", "notes.txt", "--version", "1", "-o", "old.txt"]);
    assert!(run.stdout.contains("version 1"), "{run:#?}");
    assert_eq!(fs::read(&old).unwrap(), b"first version\n");
    let new = server.work_dir().join("new.txt");
    server.admin_ok(&["download", "notes.txt", "-o", "new.txt"]);
    assert_eq!(fs::read(&new).unwrap(), b"second version, longer\n");
}

#[test]
fn upload_checks_paths_before_connecting() {
    let server = TestServer::start();
    server.write_file("a.txt", b"a");
    let run = server.admin().run(&["upload", "a.txt", "."]).failure(9);
    assert!(run.stderr.contains("is a folder"), "{run:#?}");
    let run = server
        .admin()
        .run(&["upload", "a.txt", "a.txt", "--as", "b.txt"])
        .failure(2);
    assert!(run.stderr.contains("--as"), "{run:#?}");
    server
        .admin()
        .run(&["upload", "does-not-exist.txt"])
        .failure(9);
    // Nothing was stored by the refused commands.
    assert_eq!(
        server.admin_ok(&["list", "--json"]).json(),
        serde_json::json!([])
    );

    // --as renames a single file.
    let run = server.admin_ok(&["upload", "a.txt", "--as", "Ä b.txt"]);
    assert!(
        run.stdout
            .starts_with("stored \"Ä b.txt\" (version 1, 1 B,"),
        "{run:#?}"
    );
}

#[test]
fn wrong_password_exits_4() {
    let server = TestServer::start();
    let run = server
        .as_user("admin", "not-the-password")
        .run(&["list"])
        .failure(4);
    assert!(run.stderr.contains("log in"), "{run:#?}");
}

#[test]
fn missing_credentials_without_a_terminal_are_a_usage_error() {
    let server = TestServer::start();
    let run = server
        .admin()
        .env_remove("FERRY_PASSWORD")
        .run(&["list"])
        .failure(2);
    assert!(run.stderr.contains("FERRY_PASSWORD"), "{run:#?}");
    let run = server
        .admin()
        .env_remove("FERRY_USER")
        .run(&["list"])
        .failure(2);
    assert!(run.stderr.contains("--user"), "{run:#?}");
}

#[test]
fn plain_users_cannot_administer() {
    let server = TestServer::start();
    let run = server
        .admin()
        .env("FERRY_NEW_PASSWORD", "bob-password-1")
        .run(&["users", "add", "bob", "--role", "user"])
        .success();
    assert!(run.stdout.contains("\"bob\""), "{run:#?}");

    let users = server.admin_ok(&["users", "list", "--json"]).json();
    assert!(
        users
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"name": "bob", "role": "user"})),
        "{users}"
    );

    let bob = || server.as_user("bob", "bob-password-1");
    assert_eq!(
        bob().run(&["list", "--json"]).success().json(),
        serde_json::json!([])
    );
    server.write_file("shared.txt", b"for everyone");
    bob().run(&["upload", "shared.txt"]).success();

    let run = bob().run(&["delete", "shared.txt"]).failure(5);
    assert!(
        run.stderr.contains("could not delete \"shared.txt\""),
        "{run:#?}"
    );
    bob().run(&["users", "list"]).failure(5);
    bob().run(&["logs"]).failure(5);
    bob()
        .env("FERRY_NEW_PASSWORD", "whatever-123")
        .run(&["users", "add", "eve"])
        .failure(5);

    // The admin can, and adding bob twice is "exists".
    let run = server.admin_ok(&["delete", "shared.txt"]);
    assert!(run.stdout.starts_with("deleted \"shared.txt\""), "{run:#?}");
    server
        .admin()
        .env("FERRY_NEW_PASSWORD", "bob-password-2")
        .run(&["users", "add", "bob"])
        .failure(7);
    // The library-started server may have no log file yet; the command
    // itself must work for an admin.
    let logs = server.admin_ok(&["logs", "--lines", "50"]);
    assert!(
        !logs.stdout.contains("bob-password-1"),
        "a password in the server log"
    );
}

#[test]
fn missing_files_exit_6() {
    let server = TestServer::start();
    let run = server
        .admin()
        .run(&["download", "nothing here.txt"])
        .failure(6);
    assert!(run.stderr.contains("\"nothing here.txt\""), "{run:#?}");
    assert!(!server.work_dir().join("nothing here.txt").exists());
    assert!(!server.work_dir().join("nothing here.txt.part").exists());
    server
        .admin()
        .run(&["history", "nothing here.txt"])
        .failure(6);
    server
        .admin()
        .run(&["delete", "nothing here.txt"])
        .failure(6);
}

#[test]
fn an_unreachable_server_exits_3() {
    let server = TestServer::start();
    // A port that was just free and now has no listener.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let closed = format!("127.0.0.1:{port}");
    let run = server
        .admin()
        .run(&["--server", &closed, "list"])
        .failure(3);
    assert!(run.stderr.contains(&closed), "{run:#?}");
}

#[test]
fn the_client_log_has_timestamped_lines() {
    let server = TestServer::start();
    server.admin_ok(&["list"]);
    server
        .as_user("admin", "wrong-password")
        .run(&["list"])
        .failure(4);
    let log = fs::read_to_string(server.client_logs().join("client.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.len() >= 3, "{log}");
    for line in &lines {
        // 2026-01-02T03:04:05.123456789Z INFO ...
        let stamp = line.split(' ').next().unwrap();
        assert!(
            stamp.len() >= 20
                && &stamp[4..5] == "-"
                && &stamp[10..11] == "T"
                && stamp.ends_with('Z'),
            "no UTC timestamp: {line}"
        );
    }
    assert!(log.contains("login ok"), "{log}");
    assert!(log.contains("login failed"), "{log}");
    assert!(
        !log.contains(ADMIN_PASSWORD),
        "a password in the client log"
    );
}

#[test]
fn an_unusable_log_folder_is_only_a_warning() {
    let server = TestServer::start();
    let blocker = server.write_file("not-a-folder", b"x");
    let run = server
        .admin()
        .env("FERRY_LOGS", blocker.join("logs"))
        .run(&["list", "--json"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json(), serde_json::json!([]));
    assert!(run.stderr.starts_with("ferry-cli: warning:"), "{run:#?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:#?}");
}

#[test]
fn help_documents_the_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let run = Cli::new("127.0.0.1:1", dir.path(), dir.path())
        .run(&["--help"])
        .success();
    assert!(run.stdout.contains("Exit codes"), "{run:#?}");
    for code in [
        "0  success",
        "3  cannot connect",
        "4  login failed",
        "7  the name exists",
        "9  local file",
    ] {
        assert!(
            run.stdout.contains(code),
            "{code:?} missing: {}",
            run.stdout
        );
    }
    // A usage error is clap's 2.
    let run = Cli::new("127.0.0.1:1", dir.path(), dir.path()).run(&["upload"]);
    assert_eq!(run.code, 2, "{run:#?}");
}

#[test]
fn mirrors_outvote_a_liar_and_name_it() {
    let main = TestServer::start();
    let second = TestServer::start();
    let liar = TestServer::start();
    let content = binary_content(9 * 1024 * 1024);
    for server in [&main, &second] {
        server.write_file("shared.bin", &content);
        server.admin_ok(&["upload", "shared.bin"]);
    }
    liar.write_file("shared.bin", &binary_content(9 * 1024 * 1024 + 1));
    liar.admin_ok(&["upload", "shared.bin"]);

    // Every mirror is verified on its own: all three are trusted here.
    let trusted = trust_all(&[&main, &second, &liar]);
    let run = main
        .admin()
        .env("FERRY_TRUST", &trusted)
        .run(&[
            "download",
            "shared.bin",
            "-o",
            "copy.bin",
            "--mirror",
            second.addr(),
            "--mirror",
            liar.addr(),
        ])
        .success();
    assert_eq!(fs::read(main.work_dir().join("copy.bin")).unwrap(), content);
    let named = format!("mirror {} disagrees (md5 ", liar.addr());
    assert!(
        run.stderr.contains(&named) && run.stderr.contains("— excluded"),
        "{run:#?}"
    );
    // Which honest mirrors get work depends on timing; the liar never does.
    assert!(run.stdout.contains("verified, from "), "{run:#?}");
    let liar_line = format!("{} delivered 0 B", liar.addr());
    assert!(run.stderr.contains(&liar_line), "{run:#?}");

    // Two mirrors that disagree with no majority: exit 8, nothing saved.
    let run = liar.admin().env("FERRY_TRUST", &trusted).run(&[
        "download",
        "shared.bin",
        "-o",
        "none.bin",
        "--mirror",
        main.addr(),
    ]);
    assert_eq!(run.code, 8, "{run:#?}");
    assert!(run.stderr.contains("do not agree"), "{run:#?}");
    assert!(!liar.work_dir().join("none.bin").exists());
}

#[test]
fn many_files_go_up_and_down_in_one_call() {
    let server = TestServer::start();
    let mut names = Vec::new();
    for i in 0..120 {
        let name = format!("note {i}.txt");
        server.write_file(&name, format!("content {i}").as_bytes());
        names.push(name);
    }
    server.write_file("taken.txt", b"new");
    server.admin_ok(&["upload", "taken.txt"]);
    let mut args = vec!["upload"];
    args.extend(names.iter().map(String::as_str));
    args.push("taken.txt");
    // Every file is attempted; the one whose name exists fails the call (exit 7).
    let run = server.admin().run(&args);
    assert_eq!(run.code, 7, "{run:#?}");
    assert_eq!(
        run.stdout
            .lines()
            .filter(|l| l.starts_with("stored "))
            .count(),
        120
    );
    assert!(run.stderr.contains("taken.txt"), "{run:#?}");

    // Into a folder that is not there yet: it is made.
    let mut args = vec!["download", "-o", "back"];
    args.extend(names.iter().map(String::as_str));
    let run = server.admin_ok(&args);
    assert_eq!(run.stdout.lines().count(), 120);
    for (i, name) in names.iter().enumerate() {
        let got = fs::read(server.work_dir().join("back").join(name)).unwrap();
        assert_eq!(got, format!("content {i}").as_bytes());
    }
    // Several names need a folder to go into.
    let run = server
        .admin()
        .run(&["download", "-o", "one.txt", "note 1.txt", "note 2.txt"]);
    assert_eq!(run.code, 0, "one.txt is a new folder: {run:#?}");
    let run = server.admin().run(&[
        "download",
        "-o",
        "back/note 1.txt",
        "note 1.txt",
        "note 2.txt",
    ]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("is a file"), "{run:#?}");
    // One file into a folder that is not there, not written as a folder.
    let run = server
        .admin()
        .run(&["download", "note 1.txt", "-o", "nowhere/note.txt"]);
    assert_eq!(run.code, 9, "{run:#?}");
    assert!(
        run.stderr.contains("there is no folder") && run.stderr.contains("end -o with /"),
        "{run:#?}"
    );
}

#[test]
fn names_this_system_cannot_save_still_download() {
    use ferry_proto::names::{LocalOs, local_file_name};
    let server = TestServer::start();
    // Valid on the server; Windows cannot create any of these as they are.
    let names = ["CON", "nul.txt", "why?.txt", "trailing."];
    for (i, name) in names.iter().enumerate() {
        let source = server.write_file(&format!("source {i}"), name.as_bytes());
        server.admin_ok(&["upload", source.to_str().unwrap(), "--as", name]);
    }
    // The note, if this system needs one, for `name`.
    let note = |name: &str| {
        let local = local_file_name(name);
        (local != name).then(|| {
            format!(
                "ferry-cli: note: saved {name:?} as {local:?}: {name:?} is not a valid file name on {}",
                LocalOs::current()
            )
        })
    };
    let check = |folder: &str, name: &str, stderr: &str| {
        let saved = server.work_dir().join(folder).join(&*local_file_name(name));
        assert_eq!(fs::read(&saved).unwrap(), name.as_bytes(), "{name}");
        match note(name) {
            Some(line) => assert!(stderr.lines().any(|l| l == line), "{stderr}"),
            None => assert!(!stderr.contains("is not a valid file name"), "{stderr}"),
        }
    };

    // A path that ends with / is a folder, made if it is not there.
    for name in names {
        let run = server.admin_ok(&["download", name, "-o", "one by one/"]);
        check("one by one", name, &run.stderr);
    }

    fs::create_dir(server.work_dir().join("batch")).unwrap();
    let mut args = vec!["download", "-o", "batch"];
    args.extend(names);
    let run = server.admin_ok(&args);
    assert_eq!(run.stdout.lines().count(), names.len(), "{run:#?}");
    for name in names {
        check("batch", name, &run.stderr);
    }

    // The server itself counts as a second mirror: same size, same MD5.
    fs::create_dir(server.work_dir().join("mirrored")).unwrap();
    let run = server.admin_ok(&[
        "download",
        "CON",
        "-o",
        "mirrored",
        "--mirror",
        server.addr(),
    ]);
    check("mirrored", "CON", &run.stderr);
}
