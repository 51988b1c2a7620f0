//! Users, roles, passwords and hostile names.

mod support;

use std::io::Cursor;

use ferry_client::UploadOptions;
use ferry_client::{Client, ClientError};
use ferry_proto::protocol::{ErrorCode, Role};
use support::{ADMIN_PASSWORD, Raw, TestServer, USER_PASSWORD};

fn code(result: Result<impl std::fmt::Debug, ClientError>) -> Option<ErrorCode> {
    result.expect_err("should be refused").code()
}

#[test]
fn users_cannot_do_admin_things() {
    let srv = TestServer::start();
    let mut admin = srv.admin();
    admin
        .upload(Cursor::new(b"x"), "keep.txt", UploadOptions::default())
        .unwrap();
    let mut bob = srv.user("bob", Role::User);

    assert_eq!(
        code(bob.delete("keep.txt", None)),
        Some(ErrorCode::Forbidden)
    );
    assert_eq!(code(bob.logs(10)), Some(ErrorCode::Forbidden));
    assert_eq!(code(bob.users()), Some(ErrorCode::Forbidden));
    assert_eq!(
        code(bob.add_user("eve", Role::Admin, "password-1")),
        Some(ErrorCode::Forbidden)
    );
    assert_eq!(code(bob.remove_user("admin")), Some(ErrorCode::Forbidden));
    assert_eq!(
        code(bob.set_role("bob", Role::Admin)),
        Some(ErrorCode::Forbidden)
    );
    assert_eq!(
        code(bob.set_password("admin", "new-password-1")),
        Some(ErrorCode::Forbidden)
    );
    // What users may do still works on the same connection.
    assert_eq!(bob.list().unwrap().len(), 1);
    bob.set_password("bob", "bobs-new-password").unwrap();

    // Admins can.
    admin.logs(50).expect("admins may read the log");
    let users = admin.users().unwrap();
    assert_eq!(
        users,
        [
            ("admin".to_owned(), Role::Admin),
            ("bob".to_owned(), Role::User)
        ]
    );
    admin.set_role("bob", Role::Admin).unwrap();
    // The role change applies to bob's open session at once.
    assert_eq!(bob.users().unwrap().len(), 2);
    admin.set_role("bob", Role::User).unwrap();
    assert_eq!(code(bob.users()), Some(ErrorCode::Forbidden));
    assert_eq!(admin.delete("keep.txt", None).unwrap(), 1);

    // The last admin stays.
    assert_eq!(code(admin.remove_user("admin")), Some(ErrorCode::Forbidden));
    assert_eq!(
        code(admin.set_role("admin", Role::User)),
        Some(ErrorCode::Forbidden)
    );

    // A removed user's open session loses its rights.
    admin.remove_user("bob").unwrap();
    assert_eq!(code(bob.list()), Some(ErrorCode::NotLoggedIn));
    assert_eq!(code(admin.remove_user("bob")), Some(ErrorCode::NotFound));
}

#[test]
fn user_management_rules() {
    let srv = TestServer::start();
    let mut admin = srv.admin();
    assert_eq!(
        code(admin.add_user("ann", Role::User, "short")),
        Some(ErrorCode::BadRequest)
    );
    assert_eq!(
        code(admin.add_user("bad name", Role::User, "long enough")),
        Some(ErrorCode::BadRequest)
    );
    admin.add_user("ann", Role::User, "long enough").unwrap();
    assert_eq!(
        code(admin.add_user("ann", Role::User, "long enough")),
        Some(ErrorCode::Exists)
    );
    admin.set_password("ann", "another password").unwrap();
    assert!(
        Client::connect_and_login(
            &srv.addr,
            &ferry_client::Security::Plaintext,
            "ann",
            "long enough"
        )
        .is_err()
    );
    let (_, role) = Client::connect_and_login(
        &srv.addr,
        &ferry_client::Security::Plaintext,
        "ann",
        "another password",
    )
    .unwrap();
    assert_eq!(role, Role::User);
}

#[test]
fn wrong_passwords_are_refused_then_throttled() {
    let srv = TestServer::start();
    let _bob = srv.user("bob", Role::User);
    let mut client = Client::connect(&srv.addr, &ferry_client::Security::Plaintext).unwrap();
    let err = client.login("bob", "wrong-password").unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::AuthFailed));
    assert!(
        err.to_string().contains("wrong user name or password"),
        "{err}"
    );
    // An unknown user gets the very same answer.
    let unknown = client.login("nobody", "wrong-password").unwrap_err();
    assert_eq!(unknown.to_string(), err.to_string());
    // A failed login leaves the connection logged out.
    assert_eq!(code(client.list()), Some(ErrorCode::NotLoggedIn));

    // Five failures of one account lock it.
    for _ in 0..4 {
        let _ = client.login("bob", "wrong-password");
    }
    let throttled = client.login("bob", USER_PASSWORD).unwrap_err();
    assert_eq!(throttled.code(), Some(ErrorCode::Throttled));
    assert!(throttled.to_string().contains("wait"), "{throttled}");
    // Another account from this address is not locked by bob's five...
    let (_, role) = Client::connect_and_login(
        &srv.addr,
        &ferry_client::Security::Plaintext,
        "admin",
        ADMIN_PASSWORD,
    )
    .unwrap();
    assert_eq!(role, Role::Admin);
    // ...but twenty failures from one address lock it, whatever the user name.
    for i in 0..14 {
        let mut guesser = Client::connect(&srv.addr, &ferry_client::Security::Plaintext).unwrap();
        let e = guesser
            .login(&format!("guess{i}"), "wrong-password")
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::AuthFailed), "{e}");
    }
    let other = Client::connect(&srv.addr, &ferry_client::Security::Plaintext)
        .unwrap()
        .login("admin", ADMIN_PASSWORD)
        .unwrap_err();
    assert_eq!(other.code(), Some(ErrorCode::Throttled));
}

#[test]
fn commands_need_a_login() {
    let srv = TestServer::start();
    let mut raw = Raw::connect(&srv.addr);
    for line in [
        "LIST",
        "HISTORY a",
        "DOWNLOAD a",
        "DELETE a",
        "LOGS",
        "USERS",
    ] {
        raw.send(line);
        let reply = raw.line();
        assert!(reply.starts_with("ERR NOT_LOGGED_IN "), "{line}: {reply}");
    }
    // An upload refused for want of a login still has its body swallowed.
    raw.send("UPLOAD a.txt 3 fail");
    assert!(raw.line().starts_with("ERR NOT_LOGGED_IN "));
    raw.send_bytes(b"DATA 3\nabc");
    raw.send("DONE 900150983cd24fb0d6963f7d28e17f72");
    raw.send("PING");
    assert_eq!(raw.line(), "OK");
}

#[test]
fn hostile_names_are_refused() {
    let srv = TestServer::start();
    let mut raw = Raw::login_admin(&srv.addr);
    let names = [
        "..",
        "../etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "a//b",
        "/a",
        "a/",
        "/",
        "a/../b",
        "a/%2e%2e/b",
        "a/%20b",
        "a%5Cb",
        "C:",
        "C:%5Cboot.ini",
        "nul%00byte",
        "line%0Abreak",
        "%1B[31mred",
        "%E2%80%AEevil",
        "%20leading",
        "%",
    ];
    for name in names {
        raw.send(&format!("UPLOAD {name} 1 fail"));
        let reply = raw.line();
        assert!(reply.starts_with("ERR BAD_NAME "), "{name}: {reply}");
        assert!(
            !reply.contains('\u{1b}'),
            "no raw escapes echoed: {reply:?}"
        );
        raw.send_bytes(b"DATA 1\nx");
        raw.send("ABORT");
        for verb in ["DOWNLOAD", "HISTORY", "STAT", "DELETE"] {
            raw.send(&format!("{verb} {name}"));
            let reply = raw.line();
            assert!(reply.starts_with("ERR BAD_NAME "), "{verb} {name}: {reply}");
        }
    }
    let long = "x".repeat(256);
    raw.send(&format!("STAT {long}"));
    assert!(raw.line().starts_with("ERR BAD_NAME "));
    // An encoded "%2e%2e" is the literal name "..": refused. A name that merely
    // contains percent signs is fine.
    raw.send("STAT %2e%2e");
    assert!(raw.line().starts_with("ERR BAD_NAME "));
    raw.send("STAT 100%25");
    assert!(raw.line().starts_with("ERR NOT_FOUND "));
    raw.send("LIST");
    assert_eq!(raw.line(), "OK LIST 0");
    assert_eq!(srv.temp_files(), 0);
    assert_eq!(srv.blob_files(), 0);
}

/// A file name (or path) is checked after the line is parsed and the
/// request is authorized, and before anything else about the file: the
/// order of the errors a client gets is part of the protocol.
#[test]
fn a_bad_name_is_refused_after_parsing_and_authorization() {
    let srv = TestServer::start_with(|c| c.max_upload_size = 10);
    let mut raw = Raw::connect(&srv.addr);
    raw.send("STAT bad/../name");
    assert!(raw.line().starts_with("ERR NOT_LOGGED_IN "));
    raw.send("STAT bad/../name version=x");
    assert!(raw.line().starts_with("ERR BAD_REQUEST "));
    drop(raw);

    srv.user("ann", Role::User);
    let mut user = Raw::connect(&srv.addr);
    user.send(&format!("LOGIN ann {USER_PASSWORD}"));
    assert!(user.line().starts_with("OK"));
    user.send("DELETE bad/../name");
    assert!(user.line().starts_with("ERR FORBIDDEN "));

    let mut raw = Raw::login_admin(&srv.addr);
    raw.send("DOWNLOAD bad/../name offset=x");
    assert!(raw.line().starts_with("ERR BAD_REQUEST "));
    for verb in ["STAT", "HISTORY", "DOWNLOAD", "CHUNKS", "DELETE"] {
        raw.send(&format!("{verb} bad/../name"));
        assert_eq!(
            raw.line(),
            r#"ERR BAD_NAME the name "bad/../name" is not allowed: its part 2 ("..") breaks the name rule: a file name cannot be "." or ".."; choose another name"#,
            "{verb}"
        );
    }
    // BAD_NAME comes before TOO_LARGE, and the body is still swallowed.
    raw.send("UPLOAD bad/../name 11 fail");
    assert_eq!(
        raw.line(),
        r#"ERR BAD_NAME the name "bad/../name" is not allowed: its part 2 ("..") breaks the name rule: a file name cannot be "." or ".."; choose another name"#
    );
    raw.send_bytes(b"DATA 11\nhello world");
    raw.send("DONE 5eb63bbbe01eeed093cb22bb8f5acdc3");
    raw.send("PING");
    assert_eq!(raw.line(), "OK");
    assert_eq!(srv.temp_files(), 0);
}

#[test]
fn malformed_lines_get_one_error_each() {
    let srv = TestServer::start();
    let mut raw = Raw::login_admin(&srv.addr);
    for (line, want) in [
        ("BOGUS", "ERR UNKNOWN_VERB "),
        ("LIST extra", "ERR BAD_REQUEST "),
        ("UPLOAD", "ERR BAD_REQUEST "),
        ("DOWNLOAD a offset=-1", "ERR BAD_REQUEST "),
        (
            "DOWNLOAD a offset=99999999999999999999999",
            "ERR BAD_REQUEST ",
        ),
        ("", "ERR BAD_REQUEST "),
    ] {
        raw.send(line);
        if line == "UPLOAD" {
            let reply = raw.line();
            assert!(reply.starts_with(want), "{line}: {reply}");
            raw.send("ABORT");
            continue;
        }
        let reply = raw.line();
        assert!(reply.starts_with(want), "{line:?}: {reply}");
    }
    raw.send_bytes(b"\xff\xfe\n");
    assert!(raw.line().starts_with("ERR BAD_REQUEST "));
    raw.send("PING");
    assert_eq!(raw.line(), "OK");

    // An over-long line ends the conversation with one clear line.
    raw.send(&"A".repeat(10_000));
    assert!(raw.line().starts_with("ERR LINE_TOO_LONG "));
    assert!(raw.is_closed());
}

#[test]
fn a_kept_connection_serves_the_next_connect_only() {
    let srv = TestServer::start();
    // The password is wrong: only the kept connection gets in.
    let connector = ferry_client::transfer::Connector::new(
        &srv.addr,
        ferry_client::Security::Plaintext,
        "admin",
        "not the password",
    );
    connector.keep_for_next(srv.admin());
    let mirror = connector.for_server(&srv.addr);
    assert!(
        mirror.connect().is_err(),
        "another server's connector has its own"
    );
    let mut kept = connector.clone().connect().expect("the kept connection");
    assert!(kept.list().unwrap().is_empty());
    assert_eq!(
        code(connector.connect().map(drop)),
        Some(ErrorCode::AuthFailed)
    );
}
