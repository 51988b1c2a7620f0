//! The document as the contract, part two: the numbers and rules its text
//! quotes, and its examples, checked against the code and a real server
//! (part one, the tables and lists, is protocol_doc.rs).

mod support;

use ferry_io::appender::{ALIGN, DIRECT_FROM};
use ferry_proto::hash::md5_bytes;
use ferry_proto::names::{MAX_NAME_BYTES, MAX_PATH_BYTES, MAX_PATH_DEPTH};
use ferry_proto::protocol::{
    CHUNK_SIZE, DEFAULT_LOG_LINES, DEFAULT_PORT, ErrorCode, MAX_FRAME_BYTES, MAX_LINE_BYTES,
    MAX_LOG_LINES, PROTOCOL_VERSION, ProtocolError, Reply, Request, Role, UploadFrame,
};
use ferry_server::auth::{MAX_USER_CHARS, MIN_PASSWORD_CHARS, check_password, check_user_name};
use support::doc::*;
use support::{Raw, TestServer, USER_PASSWORD};

fn md5(text: &str) -> ferry_proto::Md5Digest {
    md5_bytes(text.as_bytes())
}

/// The ALPN protocol name the server offers, which the client offers too.
fn alpn() -> &'static str {
    assert_eq!(ferry_server::tls::ALPN, ferry_client::tls::ALPN);
    std::str::from_utf8(ferry_server::tls::ALPN).unwrap()
}

/// The code the server answers a line with that does not parse.
fn parse_error_code(e: &ProtocolError) -> ErrorCode {
    match e {
        ProtocolError::UnknownVerb(_) => ErrorCode::UnknownVerb,
        _ => ErrorCode::BadRequest,
    }
}

// ---------------------------------------------------------------------------
// Numbers quoted in the text

#[test]
fn the_limits_quoted_in_the_text_are_the_codes() {
    let doc = doc();
    let quoted: &[(&str, String, &str)] = &[
        ("## 1.", format!("**{DEFAULT_PORT}**"), "DEFAULT_PORT"),
        (
            "## 3.",
            format!("FERRY {PROTOCOL_VERSION} ferry-server"),
            "PROTOCOL_VERSION",
        ),
        (
            "### 2.1",
            format!("**{MAX_LINE_BYTES} bytes"),
            "MAX_LINE_BYTES",
        ),
        (
            "### 2.8",
            format!("n ≤ {MAX_FRAME_BYTES}**"),
            "MAX_FRAME_BYTES",
        ),
        (
            "### 2.8",
            format!("1 MiB ({CHUNK_SIZE} bytes)"),
            "CHUNK_SIZE",
        ),
        (
            "### 2.8",
            format!("64 MiB** ({DIRECT_FROM} bytes)"),
            "DIRECT_FROM",
        ),
        ("### 2.8", format!("multiples of {ALIGN} bytes"), "ALIGN"),
        ("### 2.8", format!("(*offset* mod {ALIGN})"), "ALIGN"),
        (
            "### 6.1",
            format!("**{MAX_NAME_BYTES} bytes**"),
            "MAX_NAME_BYTES",
        ),
        (
            "### 6.4",
            format!("**{MAX_PATH_BYTES} bytes**"),
            "MAX_PATH_BYTES",
        ),
        (
            "### 6.4",
            format!("**{MAX_PATH_DEPTH} parts**"),
            "MAX_PATH_DEPTH",
        ),
        ("### CHUNKS", format!("**{CHUNK_SIZE}**"), "CHUNK_SIZE"),
        (
            "### LOGS (admin)",
            format!("defaults to {DEFAULT_LOG_LINES}"),
            "DEFAULT_LOG_LINES",
        ),
        (
            "### LOGS (admin)",
            format!("at most {MAX_LOG_LINES}"),
            "MAX_LOG_LINES",
        ),
        (
            "### 5.3",
            format!("1–{MAX_USER_CHARS} characters"),
            "MAX_USER_CHARS",
        ),
        (
            "### 5.3",
            format!("at least {MIN_PASSWORD_CHARS} characters"),
            "MIN_PASSWORD_CHARS",
        ),
        (
            "## 15.",
            format!("**`{}`**", alpn()),
            "ferry_server::tls::ALPN",
        ),
        (
            "## 15.",
            format!("set_alpn_protocols([\"{}\"])", alpn()),
            "ferry_server::tls::ALPN",
        ),
    ];
    for (title, text, constant) in quoted {
        assert!(
            section(&doc, title).contains(text.as_str()),
            "PROTOCOL.md {title} should say {text:?} ({constant})"
        );
    }
    let limits = table(section(&doc, "## 13."), "What");
    let row = |what: &str| -> String {
        limits
            .iter()
            .find(|r| r[0] == what)
            .unwrap_or_else(|| panic!("§13 has no row {what:?}"))[1]
            .clone()
    };
    assert!(row("Line length").starts_with(&format!("{MAX_LINE_BYTES} bytes")));
    assert!(row("DATA frame").starts_with(&format!("1 … {MAX_FRAME_BYTES} bytes")));
    assert!(row("DATA frame").contains(&format!("{CHUNK_SIZE} (1 MiB)")));
    assert!(row("File name").starts_with(&format!("1 … {MAX_NAME_BYTES} bytes")));
    assert!(row("Path").starts_with(&format!("1 … {MAX_PATH_BYTES} bytes")));
    assert!(row("Path").contains(&format!("at most {MAX_PATH_DEPTH} parts")));
    assert!(row("`LOGS`").contains(&format!("at most {MAX_LOG_LINES}")));
    assert!(row("`CHUNKS` chunk size").starts_with(&format!("{CHUNK_SIZE} bytes")));
}

#[test]
fn the_password_and_user_name_rules_of_section_5_3_are_the_servers() {
    // At least 8 characters, at most 72 bytes, no control characters.
    let (x72, e36) = ("x".repeat(72), "é".repeat(36));
    for ok in ["12345678", "éééééééé", "correct horse", &x72, &e36] {
        assert_eq!(check_password(ok), Ok(()), "{ok:?}");
    }
    let (x73, e37) = ("x".repeat(73), "é".repeat(37));
    for bad in [
        "1234567",
        "",
        &x73,
        &e37,
        "password\0",
        "pass\tword",
        "pass\u{7f}word",
        "pass\u{85}word",
    ] {
        assert!(check_password(bad).is_err(), "{bad:?} is refused");
    }
    // 1–64 letters or digits of any script, `.`, `_`, `-`.
    let (x64, x65) = ("x".repeat(64), "x".repeat(65));
    for ok in ["a", "ana.maría_2-x", "日本", &x64] {
        assert_eq!(check_user_name(ok), Ok(()), "{ok:?}");
    }
    for bad in ["", "a b", "a/b", "a:b", "a\tb", &x65] {
        assert!(check_user_name(bad).is_err(), "{bad:?} is refused");
    }
}

// ---------------------------------------------------------------------------
// The examples

#[test]
fn every_example_line_parses_and_parse_errors_are_shown_as_the_parser_gives_them() {
    let doc = doc();
    let lines = example_lines(&doc);
    let mut refused = 0;
    for (i, (block, line)) in lines.iter().enumerate() {
        let (side, text) = line.split_at(3);
        if text.starts_with('[') {
            continue; // [5 raw bytes: hello]
        }
        if side == "S: " {
            if let Err(e) = Reply::parse(text) {
                panic!("the example reply {text:?} does not parse: {e}");
            }
            continue;
        }
        let Err(e) = Request::parse(text) else {
            continue;
        };
        if UploadFrame::parse(text).is_ok() {
            continue; // a line of an upload body
        }
        // A request that does not parse must be shown with the reply the
        // parser makes of it.
        let answer = lines
            .get(i + 1)
            .filter(|(b, next)| b == block && next.starts_with("S: "))
            .unwrap_or_else(|| {
                panic!("the example {text:?} does not parse ({e}) and has no reply")
            });
        let expected = Reply::error(parse_error_code(&e), e.to_string());
        assert_eq!(
            answer.1[3..],
            expected.to_string(),
            "the reply shown to {text:?}"
        );
        refused += 1;
    }
    assert!(refused >= 4, "the examples show {refused} refused lines");
}

// ---------------------------------------------------------------------------
// §4: what an error repeats

#[test]
fn errors_about_lines_with_a_password_repeat_none_of_their_arguments() {
    for line in [
        "LOGIN alice7",
        "LOGIN alice7 hunter2secret extra9",
        "login alice7 hunter2secret extra9",
        "LOGIN alice7 hunter2%ZZsecret",
        "LOGIN alice7%G0 hunter2secret",
        "LOGIN alice7 hunter2secret\textra9",
        "USERADD alice7 boss5 hunter2secret",
        "USERADD alice7 user hunter2secret extra9",
        "USERADD alice7 user hunter2%zzsecret",
        "PASSWD alice7 hunter2secret extra9",
        "PASSWD alice7 hunter2%G0secret",
        "PASSWD alice7 hunter2secret version=1",
        "LOGIN\talice7\thunter2secret",
        "PASSWD\talice7 hunter2secret",
    ] {
        let e = Request::parse(line).expect_err(line);
        let message = e.to_string();
        // The arguments to look for are the ones with a digit: words such
        // as `user` are in the usage the message gives.
        let args = line.split_ascii_whitespace().skip(1);
        for arg in args.filter(|arg| arg.bytes().any(|b| b.is_ascii_digit())) {
            let shown = arg.split('%').next().unwrap();
            assert!(
                !message.contains(shown),
                "the error for {line:?} repeats {shown:?}: {message}"
            );
        }
        assert!(!message.contains("hunter2"), "{line:?}: {message}");
    }
}

#[test]
fn an_unknown_verb_is_repeated_only_when_it_is_a_short_plain_word() {
    let twenty = "ABCDEFGHIJKLMNOPQRST";
    for verb in ["BOGUS", "x1", twenty] {
        let e = Request::parse(&format!("{verb} arg")).unwrap_err();
        assert_eq!(parse_error_code(&e), ErrorCode::UnknownVerb);
        // In capitals, as the verb is read.
        let shown = format!("{:?}", verb.to_ascii_uppercase());
        assert!(e.to_string().contains(&shown), "{verb}: {e}");
    }
    let twenty_one = format!("{twenty}U");
    for verb in [
        twenty_one.as_str(),
        "BO-GUS",
        "bögus",
        "LIST\tx",
        "UPLOAD\ta.txt",
    ] {
        let e = Request::parse(&format!("{verb} 5 fail")).unwrap_err();
        assert_eq!(parse_error_code(&e), ErrorCode::UnknownVerb, "{verb:?}");
        let message = e.to_string();
        assert!(!message.contains(verb), "{verb:?}: {message}");
        assert!(!message.contains("\\t"), "{verb:?}: {message}");
    }
}

// ---------------------------------------------------------------------------
// Rules that take a real server to see

#[test]
fn a_tab_after_the_verb_makes_an_unknown_verb_with_no_body() {
    let srv = TestServer::start();
    let mut raw = Raw::login_admin(&srv.addr);
    // §2.1 and §9.2: not an UPLOAD, so the next line is a request again.
    raw.send("UPLOAD\ta.txt 5 fail");
    assert!(raw.line().starts_with("ERR UNKNOWN_VERB "));
    raw.send("PING");
    assert_eq!(raw.line(), "OK");
    raw.send("LIST\t");
    assert!(raw.line().starts_with("ERR UNKNOWN_VERB "));
    // A malformed line whose verb is UPLOAD still has its body.
    raw.send("UPLOAD a.txt -5 fail");
    assert!(raw.line().starts_with("ERR BAD_REQUEST "));
    raw.send("DATA 4");
    raw.send_bytes(b"PING");
    raw.send("ABORT");
    raw.send("PING");
    assert_eq!(raw.line(), "OK");
    // Tabs between the arguments are white space.
    raw.send("STAT a.txt\tversion=1");
    assert!(raw.line().starts_with("ERR NOT_FOUND "));
}

#[test]
fn passwd_checks_whose_account_it_is_before_anything_else() {
    let srv = TestServer::start();
    let _bob = srv.user("bob", Role::User);
    let mut bob = Raw::connect(&srv.addr);
    bob.send(&format!("LOGIN bob {USER_PASSWORD}"));
    assert_eq!(bob.line(), "OK LOGIN user");
    // §7 PASSWD: another account, existing or not, whatever the password.
    let forbidden: Vec<String> = [
        "PASSWD admin long%20enough",
        "PASSWD nosuchuser long%20enough",
        "PASSWD nosuchuser short",
    ]
    .iter()
    .map(|line| {
        bob.send(line);
        bob.line()
    })
    .collect();
    assert!(forbidden[0].starts_with("ERR FORBIDDEN "), "{forbidden:?}");
    assert!(
        forbidden.iter().all(|reply| *reply == forbidden[0]),
        "the same answer reveals nothing: {forbidden:?}"
    );
    bob.send("PASSWD bob short");
    assert!(bob.line().starts_with("ERR BAD_REQUEST "));
    // An admin: the password is checked before the account is looked up.
    let mut admin = Raw::login_admin(&srv.addr);
    admin.send("PASSWD nosuchuser short");
    assert!(admin.line().starts_with("ERR BAD_REQUEST "));
    admin.send("PASSWD nosuchuser long%20enough");
    assert!(admin.line().starts_with("ERR NOT_FOUND "));
}

#[test]
fn a_refused_resume_of_a_committed_upload_keeps_its_record() {
    let srv = TestServer::start();
    let mut raw = Raw::login_admin(&srv.addr);
    let hello = md5("hello");
    raw.send("UPLOAD hello.txt 5 fail");
    let ready = raw.line();
    let Ok(Reply::Ready { upload_id, offset }) = Reply::parse(&ready) else {
        panic!("{ready}");
    };
    assert_eq!(offset, 0);
    raw.send("DATA 5");
    raw.send_bytes(b"hello");
    raw.send(&format!("DONE {hello}"));
    let stored = format!("OK STORED hello.txt 1 5 {hello}");
    assert_eq!(raw.line(), stored);

    // §9.3 and §9.5: each refusal changes nothing, and the id is confirmed
    // with the right MD5 afterwards all the same.
    let resume = format!("UPLOAD hello.txt 5 fail resume={upload_id}");
    let ready = format!("OK READY {upload_id} 5");
    raw.send(&resume);
    assert_eq!(raw.line(), ready);
    raw.send(&format!("DONE {}", md5("HELLO")));
    assert!(raw.line().starts_with("ERR MD5_MISMATCH "));
    raw.send(&resume);
    assert_eq!(raw.line(), ready);
    raw.send("DATA 1");
    raw.send_bytes(b"x");
    raw.send(&format!("DONE {hello}"));
    assert!(raw.line().starts_with("ERR SIZE_MISMATCH "));
    raw.send(&resume);
    assert_eq!(raw.line(), ready);
    raw.send("ABORT");
    assert_eq!(raw.line(), "OK");
    raw.send(&resume);
    assert_eq!(raw.line(), ready);
    raw.send(&format!("DONE {hello}"));
    assert_eq!(raw.line(), stored);
    raw.send("LIST");
    assert_eq!(raw.line(), "OK LIST 1");
    assert!(
        raw.line()
            .starts_with(&format!("FILE hello.txt 1 5 {hello} "))
    );
}
