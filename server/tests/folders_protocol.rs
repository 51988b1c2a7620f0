//! Folders on the wire, through raw request lines against the real server:
//! paths in uploads, `LS`, `MKDIR`, `RMDIR`, `MOVE`, the conflicts between
//! files and folders, the roles, hostile paths, and flat requests that keep
//! their meaning.

mod support;

use ferry_proto::protocol::Role;
use support::{Raw, TestServer, USER_PASSWORD};

/// Uploads `data` to `path` with `policy` over `raw`; returns the final reply.
fn upload(raw: &mut Raw, path: &str, data: &[u8], policy: &str) -> String {
    raw.send(&format!("UPLOAD {path} {} {policy}", data.len()));
    let ready = raw.line();
    if !data.is_empty() {
        raw.send_bytes(format!("DATA {}\n", data.len()).as_bytes());
        raw.send_bytes(data);
    }
    raw.send(&format!("DONE {}", ferry_proto::hash::md5_bytes(data)));
    if !ready.starts_with("OK READY ") {
        return ready;
    }
    raw.line()
}

/// The lines of `LS …`, without their times.
fn ls(raw: &mut Raw, args: &str) -> Vec<String> {
    raw.send(&format!("LS{args}"));
    let header = raw.line();
    let Some(count) = header.strip_prefix("OK LS ") else {
        return vec![header];
    };
    (0..count.parse::<usize>().unwrap())
        .map(|_| {
            let line = raw.line();
            let words: Vec<&str> = line.split(' ').collect();
            match words[0] {
                "FOLDER" => format!("FOLDER {}", words[1]),
                _ => format!("FILE {} v{}", words[1], words[2]),
            }
        })
        .collect()
}

fn user_raw(srv: &TestServer) -> Raw {
    srv.user("ann", Role::User);
    let mut raw = Raw::connect(&srv.addr);
    raw.send(&format!("LOGIN ann {USER_PASSWORD}"));
    assert_eq!(raw.line(), "OK LOGIN user");
    raw
}

#[test]
fn uploads_create_folders_and_ls_lists_them() {
    let srv = TestServer::start();
    let mut raw = Raw::login_admin(&srv.addr);
    assert!(upload(&mut raw, "a/b/c.txt", b"abc", "fail").starts_with("OK STORED a/b/c.txt 1 3 "));
    assert!(upload(&mut raw, "top.txt", b"x", "fail").starts_with("OK STORED top.txt 1 "));
    raw.send("MKDIR a/empty");
    assert_eq!(raw.line(), "OK MKDIR a/empty 1");
    raw.send("MKDIR a/empty");
    assert_eq!(raw.line(), "OK MKDIR a/empty 0");
    raw.send("MKDIR x/y/z");
    assert_eq!(raw.line(), "OK MKDIR x/y/z 3");

    // LIST keeps its meaning: the files of the root only.
    raw.send("LIST");
    assert_eq!(raw.line(), "OK LIST 1");
    assert!(raw.line().starts_with("FILE top.txt 1 1 "));

    assert_eq!(
        ls(&mut raw, ""),
        ["FOLDER a", "FILE top.txt v1", "FOLDER x"]
    );
    assert_eq!(ls(&mut raw, " folder=a"), ["FOLDER a/b", "FOLDER a/empty"]);
    assert_eq!(
        ls(&mut raw, " folder=a recursive=yes"),
        ["FOLDER a/b", "FILE a/b/c.txt v1", "FOLDER a/empty"]
    );
    assert_eq!(ls(&mut raw, " folder=a/empty"), Vec::<String>::new());
    assert_eq!(ls(&mut raw, " recursive=yes").len(), 8);
    let missing = ls(&mut raw, " folder=nope");
    assert!(
        missing[0].starts_with("ERR NOT_FOUND there is no folder named \"nope\""),
        "{missing:?}"
    );
    let file = ls(&mut raw, " folder=top.txt");
    assert!(
        file[0].starts_with("ERR NOT_FOUND \"top.txt\" is a file"),
        "{file:?}"
    );

    // Every file request takes a path, versions per path.
    assert!(
        upload(&mut raw, "a/b/c.txt", b"abcd", "overwrite").starts_with("OK STORED a/b/c.txt 2 4 ")
    );
    assert!(
        upload(&mut raw, "a/b/c.txt", b"z", "rename").starts_with("OK STORED a/b/c_v2.txt 1 1 ")
    );
    raw.send("HISTORY a/b/c.txt");
    assert_eq!(raw.line(), "OK HISTORY 2");
    raw.line();
    raw.line();
    raw.send("DOWNLOAD a/b/c.txt version=1");
    assert!(raw.line().starts_with("OK DOWNLOAD 1 3 "));
    assert_eq!(raw.line(), "DATA 3");
    assert_eq!(raw.bytes(3), b"abc");
    assert_eq!(raw.line(), "END");
    raw.send("DELETE a/b/c_v2.txt");
    assert_eq!(raw.line(), "OK DELETED a/b/c_v2.txt 1");
    // The folder stays when its last file goes.
    raw.send("DELETE a/b/c.txt");
    assert_eq!(raw.line(), "OK DELETED a/b/c.txt 2");
    assert_eq!(ls(&mut raw, " folder=a"), ["FOLDER a/b", "FOLDER a/empty"]);
}

#[test]
fn files_and_folders_never_share_a_path() {
    let srv = TestServer::start();
    let mut raw = Raw::login_admin(&srv.addr);
    assert!(upload(&mut raw, "f", b"1", "fail").starts_with("OK STORED"));
    raw.send("MKDIR d");
    assert_eq!(raw.line(), "OK MKDIR d 1");

    let into_file = upload(&mut raw, "f/x.txt", b"1", "fail");
    assert!(
        into_file.starts_with("ERR EXISTS \"f\" is a file, so it cannot hold a folder"),
        "{into_file}"
    );
    for policy in ["fail", "overwrite"] {
        let onto_folder = upload(&mut raw, "d", b"1", policy);
        assert!(
            onto_folder.starts_with("ERR EXISTS a folder named \"d\" already exists"),
            "{onto_folder}"
        );
    }
    assert!(upload(&mut raw, "d", b"1", "rename").starts_with("OK STORED d_v2 1 "));
    raw.send("MKDIR f");
    assert!(
        raw.line()
            .starts_with("ERR EXISTS a file named \"f\" already exists")
    );
    raw.send("MKDIR f/g");
    assert!(raw.line().starts_with("ERR EXISTS \"f\" is a file"));
    raw.send("MOVE f d");
    assert!(raw.line().starts_with("ERR EXISTS a folder named \"d\""));
    raw.send("MOVE d f");
    assert!(raw.line().starts_with("ERR EXISTS a file named \"f\""));
    raw.send("MOVE d d/inner");
    assert!(
        raw.line()
            .starts_with("ERR BAD_NAME a folder cannot be moved into itself")
    );
    // A file under itself: the file is one of the folders above `to`.
    raw.send("MOVE f f/inner");
    let under_itself = raw.line();
    assert!(
        under_itself.starts_with("ERR EXISTS \"f\" is a file, so it cannot hold a folder"),
        "{under_itself}"
    );
    raw.send("STAT f");
    assert!(raw.line().starts_with("OK STAT f 1 "), "the file stays");
    raw.send("MOVE nothing d/x");
    assert!(
        raw.line()
            .starts_with("ERR NOT_FOUND there is no file or folder named \"nothing\"")
    );
    assert_eq!(srv.temp_files(), 0);
}

#[test]
fn moving_keeps_histories_and_rmdir_needs_recursive() {
    let srv = TestServer::start();
    let mut raw = Raw::login_admin(&srv.addr);
    upload(&mut raw, "p/q/one.txt", b"1", "fail");
    upload(&mut raw, "p/q/one.txt", b"22", "overwrite");
    upload(&mut raw, "p/two.txt", b"333", "fail");
    raw.send("MKDIR p/empty");
    raw.line();

    raw.send("MOVE p/q/one.txt solo.txt");
    assert_eq!(raw.line(), "OK MOVED p/q/one.txt solo.txt 1 0");
    raw.send("HISTORY solo.txt");
    assert_eq!(raw.line(), "OK HISTORY 2");
    assert!(raw.line().starts_with("VERSION solo.txt 1 1 "));
    assert!(raw.line().starts_with("VERSION solo.txt 2 2 "));
    raw.send("MOVE solo.txt p/q/one.txt");
    assert_eq!(raw.line(), "OK MOVED solo.txt p/q/one.txt 1 0");

    raw.send("MOVE p r/s");
    assert_eq!(raw.line(), "OK MOVED p r/s 2 3");
    assert_eq!(
        ls(&mut raw, " recursive=yes"),
        [
            "FOLDER r",
            "FOLDER r/s",
            "FOLDER r/s/empty",
            "FOLDER r/s/q",
            "FILE r/s/q/one.txt v2",
            "FILE r/s/two.txt v1"
        ]
    );
    raw.send("DOWNLOAD r/s/q/one.txt version=1");
    assert!(raw.line().starts_with("OK DOWNLOAD 1 1 "));
    raw.line();
    assert_eq!(raw.bytes(1), b"1");
    assert_eq!(raw.line(), "END");

    raw.send("RMDIR r/s/empty");
    assert_eq!(raw.line(), "OK RMDIR r/s/empty 1 0 0");
    raw.send("RMDIR r");
    assert!(
        raw.line()
            .starts_with("ERR NOT_EMPTY the folder is not empty")
    );
    raw.send("RMDIR r/s/two.txt");
    assert!(
        raw.line()
            .starts_with("ERR NOT_FOUND \"r/s/two.txt\" is a file")
    );
    let blobs = srv.blob_files();
    raw.send("RMDIR r recursive=yes");
    assert_eq!(raw.line(), "OK RMDIR r 3 2 3");
    assert_eq!(srv.blob_files(), blobs - 3);
    assert_eq!(ls(&mut raw, " recursive=yes"), Vec::<String>::new());
    raw.send("RMDIR r");
    assert!(
        raw.line()
            .starts_with("ERR NOT_FOUND there is no folder named \"r\"")
    );
}

#[test]
fn users_create_folders_admins_remove_and_move() {
    let srv = TestServer::start();
    let mut raw = user_raw(&srv);
    raw.send("MKDIR team/docs");
    assert_eq!(raw.line(), "OK MKDIR team/docs 2");
    assert!(upload(&mut raw, "team/docs/a.txt", b"a", "fail").starts_with("OK STORED"));
    assert_eq!(ls(&mut raw, " folder=team").len(), 1);
    for line in [
        "RMDIR team/docs",
        "RMDIR team recursive=yes",
        "MOVE team other",
    ] {
        raw.send(line);
        let reply = raw.line();
        assert!(reply.starts_with("ERR FORBIDDEN "), "{line}: {reply}");
    }
    let mut anonymous = Raw::connect(&srv.addr);
    for line in ["LS", "MKDIR x", "RMDIR x", "MOVE x y"] {
        anonymous.send(line);
        assert!(anonymous.line().starts_with("ERR NOT_LOGGED_IN "), "{line}");
    }
}

#[test]
fn hostile_paths_are_refused_everywhere() {
    let srv = TestServer::start();
    let mut raw = Raw::login_admin(&srv.addr);
    let deep = vec!["d"; 33].join("/");
    let long = format!(
        "{}/{}/{}",
        "a".repeat(255),
        "b".repeat(255),
        "c".repeat(200)
    );
    let hostile = [
        "/etc/passwd",
        "a/",
        "a//b",
        "a/../b",
        "..%2Fx",
        "a/.",
        "a%5Cb/c",
        "a/b%5C..%5Cc",
        "C:/x",
        "a/%00b",
        "a/%E2%80%AEfdp",
        "a/%20b",
        deep.as_str(),
        long.as_str(),
    ];
    for path in hostile {
        let reply = upload(&mut raw, path, b"x", "overwrite");
        assert!(reply.starts_with("ERR BAD_NAME "), "UPLOAD {path}: {reply}");
        for line in [
            format!("MKDIR {path}"),
            format!("RMDIR {path} recursive=yes"),
            format!("MOVE {path} ok"),
            format!("MOVE ok {path}"),
            format!("LS folder={path}"),
            format!("STAT {path}"),
            format!("DELETE {path}"),
        ] {
            raw.send(&line);
            let reply = raw.line();
            assert!(reply.starts_with("ERR BAD_NAME "), "{line}: {reply}");
        }
    }
    raw.send("PING");
    assert_eq!(raw.line(), "OK");
    assert_eq!(ls(&mut raw, " recursive=yes"), Vec::<String>::new());
    assert_eq!(srv.temp_files(), 0);
    assert_eq!(srv.blob_files(), 0);

    // A move that would make a path inside the folder too deep is refused
    // whole, before anything moves.
    let nearly = vec!["n"; 31].join("/");
    raw.send(&format!("MKDIR {nearly}"));
    assert_eq!(raw.line(), format!("OK MKDIR {nearly} 31"));
    raw.send("MOVE n deeper/still/n");
    let reply = raw.line();
    assert!(reply.starts_with("ERR BAD_NAME the path "), "{reply}");
    assert_eq!(ls(&mut raw, "")[0], "FOLDER n");
}
