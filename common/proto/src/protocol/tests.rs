use super::*;
use crate::hash::md5_bytes;
use proptest::prelude::*;

fn req(bytes: &[u8]) -> Result<Request, ProtocolError> {
    Request::parse(line_str(bytes)?)
}

#[test]
fn parses_every_request_form() {
    assert_eq!(
        req(b"LOGIN alice s3cr%20t"),
        Ok(Request::Login {
            user: "alice".into(),
            password: Secret("s3cr t".into())
        })
    );
    assert_eq!(req(b"LIST"), Ok(Request::List));
    assert_eq!(
        req(b"list"),
        Ok(Request::List),
        "verbs are case-insensitive"
    );
    assert_eq!(
        req("STAT Übersicht%20M%C3%A4rz.txt version=2".as_bytes()),
        Ok(Request::Stat {
            name: "Übersicht März.txt".into(),
            version: Some(2)
        })
    );
    assert_eq!(
        req(b"DOWNLOAD a length=10 offset=5368709120"),
        Ok(Request::Download {
            name: "a".into(),
            version: None,
            offset: 5 << 30,
            length: Some(10)
        })
    );
    assert_eq!(
        req(b"UPLOAD my%20file.txt 0 rename"),
        Ok(Request::Upload {
            name: "my file.txt".into(),
            size: 0,
            policy: ConflictPolicy::Rename,
            resume: None
        })
    );
    assert_eq!(
        req(b"UPLOAD a 10 fail resume=0f3a"),
        Ok(Request::Upload {
            name: "a".into(),
            size: 10,
            policy: ConflictPolicy::Fail,
            resume: Some("0f3a".into())
        })
    );
    assert_eq!(
        req(b"CHUNKS a version=2"),
        Ok(Request::Chunks {
            name: "a".into(),
            version: Some(2)
        })
    );
    assert_eq!(
        req(b"DELETE a version=1"),
        Ok(Request::Delete {
            name: "a".into(),
            version: Some(1)
        })
    );
    assert_eq!(
        req(b"LOGS"),
        Ok(Request::Logs {
            lines: DEFAULT_LOG_LINES
        })
    );
    assert_eq!(
        req(b"USERADD bob user pw"),
        Ok(Request::UserAdd {
            user: "bob".into(),
            role: Role::User,
            password: Secret("pw".into())
        })
    );
    assert_eq!(
        req(b"ROLE bob admin"),
        Ok(Request::SetRole {
            user: "bob".into(),
            role: Role::Admin
        })
    );
    assert_eq!(
        req(b"  QUIT  "),
        Ok(Request::Quit),
        "surrounding spaces are fine"
    );
}

#[test]
fn parses_the_folder_requests() {
    assert_eq!(
        req(b"LS"),
        Ok(Request::Ls {
            folder: None,
            recursive: false
        })
    );
    assert_eq!(
        req(b"LS folder= recursive=no"),
        Ok(Request::Ls {
            folder: None,
            recursive: false
        })
    );
    assert_eq!(
        req(b"ls recursive=yes folder=a/b%20c"),
        Ok(Request::Ls {
            folder: Some("a/b c".into()),
            recursive: true
        })
    );
    assert_eq!(req(b"MKDIR a/b"), Ok(Request::Mkdir { path: "a/b".into() }));
    assert_eq!(
        req(b"RMDIR a recursive=yes"),
        Ok(Request::Rmdir {
            path: "a".into(),
            recursive: true
        })
    );
    assert_eq!(
        req(b"MOVE a/x.txt b/y.txt"),
        Ok(Request::Move {
            from: "a/x.txt".into(),
            to: "b/y.txt".into()
        })
    );
    // Paths are checked by the server, not the parser.
    assert_eq!(
        req(b"MKDIR ../x"),
        Ok(Request::Mkdir {
            path: "../x".into()
        })
    );
    for bad in [
        &b"LS a"[..],
        b"LS recursive=1",
        b"LS folder=%ZZ",
        b"LS recursive=yes recursive=yes",
        b"MKDIR",
        b"MKDIR a b",
        b"RMDIR a recursive=true",
        b"RMDIR a b",
        b"MOVE a",
        b"MOVE a b c",
    ] {
        assert!(
            matches!(
                req(bad),
                Err(ProtocolError::Extra { .. }
                    | ProtocolError::Missing { .. }
                    | ProtocolError::Invalid { .. }
                    | ProtocolError::Duplicate { .. })
            ),
            "{:?} -> {:?}",
            String::from_utf8_lossy(bad),
            req(bad)
        );
    }
}

#[test]
fn malformed_requests_say_what_is_wrong() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "empty"),
        (b"   ", "empty"),
        (b"FETCH a", "unknown command \"FETCH\""),
        (b"LOGIN alice", "LOGIN is missing its password"),
        (b"LIST everything", "unexpected argument \"everything\""),
        (b"UPLOAD a -5 fail", "size \"-5\" is not valid"),
        (b"UPLOAD a +5 fail", "size \"+5\" is not valid"),
        (b"UPLOAD a 99999999999999999999999 fail", "size"),
        (b"UPLOAD a 18446744073709551616 fail", "size"),
        (b"UPLOAD a 5 clobber", "policy \"clobber\" is not valid"),
        (b"UPLOAD a 5 fail extra", "unexpected argument \"extra\""),
        (b"DOWNLOAD a offset=1 offset=2", "given twice"),
        (b"DOWNLOAD a color=red", "unexpected argument \"color=red\""),
        (b"DOWNLOAD a version=4294967296", "version"),
        (b"DOWNLOAD a offset=", "offset"),
        (b"STAT bad%zzname", "percent-encoded"),
        (b"STAT trunc%4", "percent-encoded"),
        (b"STAT %FF%FE", "percent-encoded"),
        (b"\xff\xfeLIST", "not valid UTF-8"),
    ];
    for (bytes, want) in cases {
        let err = req(bytes).expect_err(&String::from_utf8_lossy(bytes));
        let text = err.to_string();
        assert!(
            text.contains(want),
            "{bytes:?}: {text:?} should mention {want:?}"
        );
    }
}

/// Every way to make a secret-carrying line malformed: the error (which the
/// server sends back and logs) repeats none of what was sent.
#[test]
fn malformed_secret_lines_repeat_nothing_of_the_line() {
    let secret = "Tr0ub4dor%zz";
    let lines = [
        format!("LOGIN alice {secret}"),
        format!("LOGIN alice {secret} extra"),
        format!("LOGIN {secret}%zz pw"),
        format!("login alice pw {secret}"),
        format!("USERADD bob user {secret}"),
        format!("USERADD bob {secret} pw"),
        format!("USERADD bob user pw {secret}"),
        format!("USERADD {secret} user pw"),
        format!("PASSWD bob {secret}"),
        format!("PASSWD bob pw {secret}"),
        format!("passwd {secret} pw"),
        format!("LOGIN\talice\t{secret}"),
        format!("LOGIN\u{a0}alice\u{a0}{secret}"),
        format!("USERADD\tbob user {secret}"),
        format!("{secret}LOGIN alice pw"),
    ];
    for line in &lines {
        let err = Request::parse(line).expect_err(line);
        let text = err.to_string();
        assert!(
            !text.contains("Tr0ub4dor") && !text.contains("bob") && !text.contains("alice"),
            "{line:?} is repeated in {text:?}"
        );
    }
    // What is wrong is still said.
    let err = Request::parse("LOGIN alice pw extra").unwrap_err();
    assert!(err.to_string().contains("an argument too many"), "{err}");
    assert!(err.to_string().contains("LOGIN <user> <password>"), "{err}");
}

#[test]
fn unknown_verbs_are_repeated_only_when_plain() {
    let err = Request::parse("FETCH a").unwrap_err();
    assert!(err.to_string().contains("\"FETCH\""), "{err}");
    for line in ["UPLOAD\tname 5 fail", "LIST\u{a0}x", &"X".repeat(21)] {
        let err = Request::parse(line).unwrap_err();
        assert_eq!(err, ProtocolError::UnknownVerb(String::new()), "{line:?}");
        assert!(err.to_string().starts_with("unknown command ("), "{err}");
    }
}

/// The parser is the one tokenizer: a line it does not read as an UPLOAD
/// reports no verb, so the server expects no upload body after it.
#[test]
fn errors_name_the_verb_only_when_it_was_recognised() {
    assert_eq!(
        Request::parse("UPLOAD\tname 5 fail").unwrap_err().verb(),
        None
    );
    assert_eq!(
        Request::parse("upload name -5 fail").unwrap_err().verb(),
        Some("UPLOAD")
    );
    assert_eq!(Request::parse("UPLOAD").unwrap_err().verb(), Some("UPLOAD"));
    assert_eq!(Request::parse("").unwrap_err().verb(), None);
    assert_eq!(
        Request::parse("LOGIN a b c").unwrap_err().verb(),
        Some("LOGIN")
    );
}

#[test]
fn passwords_never_show_in_debug_output() {
    let r = req(b"LOGIN alice hunter2").unwrap();
    assert!(!format!("{r:?}").contains("hunter2"));
}

#[test]
fn upload_frames() {
    assert_eq!(
        UploadFrame::parse("DATA 1048576"),
        Ok(UploadFrame::Data(1 << 20))
    );
    assert_eq!(UploadFrame::parse("ABORT"), Ok(UploadFrame::Abort));
    let md5 = md5_bytes(b"");
    assert_eq!(
        UploadFrame::parse(&format!("DONE {md5}")),
        Ok(UploadFrame::Done(md5))
    );
    for bad in [
        "DATA 0",
        "DATA 16777217",
        "DATA",
        "DATA -1",
        "DONE nothex",
        "LIST",
        "DATA 5 6",
    ] {
        assert!(UploadFrame::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn replies_parse_from_bytes() {
    let md5 = md5_bytes(b"x");
    assert_eq!(
        Reply::parse("FERRY 1 ferry-server 0.1.0 ready"),
        Ok(Reply::Hello {
            version: 1,
            text: "ferry-server 0.1.0 ready".into()
        })
    );
    assert_eq!(
        Reply::parse("ERR NOT_FOUND there is no file \"a b\"; run LIST"),
        Ok(Reply::error(
            ErrorCode::NotFound,
            "there is no file \"a b\"; run LIST"
        ))
    );
    assert_eq!(
        Reply::parse(&format!("OK DOWNLOAD 2 10 {md5} 0 10")),
        Ok(Reply::Download {
            version: 2,
            size: 10,
            md5,
            offset: 0,
            length: 10
        })
    );
    assert_eq!(Reply::parse("OK"), Ok(Reply::Ok));
    assert_eq!(
        Reply::parse("LINE   spaced  text "),
        Ok(Reply::LogLine("  spaced  text ".into()))
    );
    for bad in [
        "ERR NOPE x",
        "OK WHAT",
        "OK LIST",
        "OK LIST -1",
        "FILE a",
        "HELLO",
        "DATA 0",
    ] {
        assert!(Reply::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn every_error_code_round_trips() {
    for code in ErrorCode::ALL {
        assert_eq!(code.as_str().parse(), Ok(*code));
    }
}

#[test]
fn rendered_text_stays_on_one_line() {
    let r = Reply::error(ErrorCode::Internal, "bad\nthing\r\x1b[0m");
    let line = r.to_string();
    assert!(!line.contains(['\n', '\r', '\x1b']));
}

#[test]
fn word_encoding_keeps_unicode_readable() {
    assert_eq!(encode_word("Übersicht März.txt"), "Übersicht%20März.txt");
    assert_eq!(encode_word("100%"), "100%25");
    assert_eq!(encode_word(""), "%");
    assert_eq!(encode_word("a\u{85}b"), "a%C2%85b");
    assert_eq!(decode_word("%"), Some(String::new()));
    assert_eq!(decode_word("a%2Fb%2fc"), Some("a/b/c".into()));
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9._-]{1,20}",
        any::<String>(),
        Just(String::new()),
        "[ %=\\n\\r\\t\\x00ÄßЖ日本]{0,12}",
    ]
}

fn text() -> impl Strategy<Value = String> {
    // Free text renders with control characters replaced, so generate none.
    "[^\\p{Cc}]{0,60}"
}

fn secret() -> impl Strategy<Value = Secret> {
    word().prop_map(Secret)
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Admin), Just(Role::User)]
}

fn policy() -> impl Strategy<Value = ConflictPolicy> {
    prop_oneof![
        Just(ConflictPolicy::Overwrite),
        Just(ConflictPolicy::Rename),
        Just(ConflictPolicy::Fail)
    ]
}

fn digest() -> impl Strategy<Value = Md5Digest> {
    any::<[u8; 16]>().prop_map(Md5Digest)
}

fn version_info() -> impl Strategy<Value = VersionInfo> {
    (
        word(),
        any::<u32>(),
        any::<u64>(),
        digest(),
        0i64..253_402_300_799,
        word(),
    )
        .prop_map(|(name, version, size, md5, secs, uploader)| VersionInfo {
            name,
            version,
            size,
            md5,
            modified: Timestamp(secs),
            uploader,
        })
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (word(), secret()).prop_map(|(user, password)| Request::Login { user, password }),
        Just(Request::List),
        (word(), any::<Option<u32>>()).prop_map(|(name, version)| Request::Stat {
            name: name.into(),
            version
        }),
        word().prop_map(|name| Request::History { name: name.into() }),
        (
            word(),
            any::<Option<u32>>(),
            any::<u64>(),
            any::<Option<u64>>()
        )
            .prop_map(|(name, version, offset, length)| Request::Download {
                name: name.into(),
                version,
                offset,
                length
            }),
        (word(), any::<u64>(), policy(), proptest::option::of(word())).prop_map(
            |(name, size, policy, resume)| Request::Upload {
                name: name.into(),
                size,
                policy,
                resume
            }
        ),
        (word(), any::<Option<u32>>()).prop_map(|(name, version)| Request::Chunks {
            name: name.into(),
            version
        }),
        (word(), any::<Option<u32>>()).prop_map(|(name, version)| Request::Delete {
            name: name.into(),
            version
        }),
        any::<u32>().prop_map(|lines| Request::Logs { lines }),
        Just(Request::Users),
        (word(), role(), secret()).prop_map(|(user, role, password)| Request::UserAdd {
            user,
            role,
            password
        }),
        word().prop_map(|user| Request::UserDel { user }),
        (word(), secret()).prop_map(|(user, password)| Request::Passwd { user, password }),
        (word(), role()).prop_map(|(user, role)| Request::SetRole { user, role }),
        (proptest::option::of(word()), any::<bool>()).prop_map(|(folder, recursive)| {
            Request::Ls {
                folder: folder.filter(|f| !f.is_empty()).map(Into::into),
                recursive,
            }
        }),
        word().prop_map(|path| Request::Mkdir { path: path.into() }),
        (word(), any::<bool>()).prop_map(|(path, recursive)| Request::Rmdir {
            path: path.into(),
            recursive
        }),
        (word(), word()).prop_map(|(from, to)| Request::Move {
            from: from.into(),
            to: to.into()
        }),
        Just(Request::Ping),
        Just(Request::Quit),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        (any::<u32>(), text()).prop_map(|(version, text)| Reply::Hello { version, text }),
        Just(Reply::Ok),
        Just(Reply::Bye),
        role().prop_map(Reply::LoggedIn),
        any::<u64>().prop_map(Reply::ListHeader),
        (version_info(), any::<u32>())
            .prop_map(|(current, versions)| Reply::File(FileEntry { current, versions })),
        version_info().prop_map(Reply::Stat),
        any::<u64>().prop_map(Reply::HistoryHeader),
        version_info().prop_map(Reply::Version),
        (
            any::<u32>(),
            any::<u64>(),
            digest(),
            any::<u64>(),
            any::<u64>()
        )
            .prop_map(|(version, size, md5, offset, length)| Reply::Download {
                version,
                size,
                md5,
                offset,
                length
            }),
        (1..=MAX_FRAME_BYTES).prop_map(Reply::Data),
        Just(Reply::End),
        (word(), any::<u64>()).prop_map(|(upload_id, offset)| Reply::Ready { upload_id, offset }),
        (any::<u64>(), any::<u64>())
            .prop_map(|(chunk_size, count)| Reply::ChunksHeader { chunk_size, count }),
        (any::<u64>(), digest()).prop_map(|(index, md5)| Reply::Chunk { index, md5 }),
        (word(), any::<u32>(), any::<u64>(), digest()).prop_map(|(name, version, size, md5)| {
            Reply::Stored {
                name,
                version,
                size,
                md5,
            }
        }),
        (word(), any::<u32>()).prop_map(|(name, versions)| Reply::Deleted { name, versions }),
        any::<u64>().prop_map(Reply::LsHeader),
        (word(), 0i64..253_402_300_799).prop_map(|(path, secs)| Reply::Folder(FolderEntry {
            path,
            created: Timestamp(secs)
        })),
        (word(), any::<u32>()).prop_map(|(path, created)| Reply::Made { path, created }),
        (word(), any::<u64>(), any::<u64>(), any::<u64>()).prop_map(
            |(path, folders, files, versions)| Reply::Removed {
                path,
                folders,
                files,
                versions
            }
        ),
        (word(), word(), any::<u64>(), any::<u64>()).prop_map(|(from, to, files, folders)| {
            Reply::Moved {
                from,
                to,
                files,
                folders,
            }
        }),
        any::<u64>().prop_map(Reply::LogsHeader),
        text().prop_map(Reply::LogLine),
        any::<u64>().prop_map(Reply::UsersHeader),
        (word(), role()).prop_map(|(name, role)| Reply::User { name, role }),
        (proptest::sample::select(ErrorCode::ALL), text())
            .prop_map(|(code, message)| Reply::Error { code, message }),
    ]
}

proptest! {
    #[test]
    fn requests_round_trip(r in request()) {
        let line = r.to_string();
        prop_assert!(!line.contains('\n'));
        prop_assert_eq!(Request::parse(&line), Ok(r));
    }

    #[test]
    fn replies_round_trip(r in reply()) {
        let line = r.to_string();
        prop_assert!(!line.contains('\n'));
        prop_assert_eq!(Reply::parse(&line), Ok(r));
    }

    #[test]
    fn upload_frames_round_trip(f in prop_oneof![
        (1..=MAX_FRAME_BYTES).prop_map(UploadFrame::Data),
        digest().prop_map(UploadFrame::Done),
        Just(UploadFrame::Abort),
    ]) {
        prop_assert_eq!(UploadFrame::parse(&f.to_string()), Ok(f));
    }

    #[test]
    fn words_round_trip(s in any::<String>()) {
        let encoded = encode_word(&s);
        prop_assert!(!encoded.contains([' ', '\n', '\r']));
        prop_assert_eq!(decode_word(&encoded), Some(s));
    }

    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(line) = line_str(&bytes) {
            let _ = Request::parse(line);
            let _ = Reply::parse(line);
            let _ = UploadFrame::parse(line);
        }
    }
}
