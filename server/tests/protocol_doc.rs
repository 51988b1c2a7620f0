//! `docs/PROTOCOL.md` against the code. Outside clients are written from
//! that document, so where it and the server differ, that is a bug. These
//! tests read the document and check the facts a client writer takes from
//! it: the error codes of §12, the request verbs of §7, the reply lines of
//! §11, the rename rule of §6.3, the limits quoted in the text, every
//! `C:`/`S:` example line, and a few rules that only a real server shows.
//!
//! The Markdown is read simply: a section runs from its heading to the next
//! heading of the same or a higher level, a table is a run of lines starting
//! with `|`, and examples are the `C: ` and `S: ` lines of fenced blocks.

mod support;

use support::doc::*;

use ferry_proto::hash::md5_bytes;
use ferry_proto::names::{MAX_NAME_BYTES, UncheckedName, validate_name, versioned_name};
use ferry_proto::protocol::{
    CHUNK_SIZE, ConflictPolicy, ErrorCode, FileEntry, FolderEntry, PROTOCOL_VERSION, Reply,
    Request, Role, Secret, VersionInfo,
};

// ---------------------------------------------------------------------------
// One of each request and reply, so that the lists below cannot miss one

fn md5(text: &str) -> ferry_proto::Md5Digest {
    md5_bytes(text.as_bytes())
}

fn version_info() -> VersionInfo {
    VersionInfo {
        name: "a.txt".into(),
        version: 1,
        size: 5,
        md5: md5("hello"),
        modified: "2026-11-21T16:41:07Z".parse().unwrap(),
        uploader: "alice".into(),
    }
}

/// The position of `r`'s variant; adding a variant stops this compiling,
/// and [`requests`] must then gain one.
fn request_index(r: &Request) -> usize {
    match r {
        Request::Login { .. } => 0,
        Request::List => 1,
        Request::Stat { .. } => 2,
        Request::History { .. } => 3,
        Request::Download { .. } => 4,
        Request::Upload { .. } => 5,
        Request::Chunks { .. } => 6,
        Request::Delete { .. } => 7,
        Request::Logs { .. } => 8,
        Request::Users => 9,
        Request::UserAdd { .. } => 10,
        Request::UserDel { .. } => 11,
        Request::Passwd { .. } => 12,
        Request::SetRole { .. } => 13,
        Request::Ping => 14,
        Request::Quit => 15,
        Request::Ls { .. } => 16,
        Request::Mkdir { .. } => 17,
        Request::Rmdir { .. } => 18,
        Request::Move { .. } => 19,
    }
}

fn requests() -> Vec<Request> {
    let name = || UncheckedName::from("a.txt");
    let user = || "alice".to_owned();
    let password = || Secret("correct horse".into());
    let all = vec![
        Request::Login {
            user: user(),
            password: password(),
        },
        Request::List,
        Request::Stat {
            name: name(),
            version: None,
        },
        Request::History { name: name() },
        Request::Download {
            name: name(),
            version: None,
            offset: 0,
            length: None,
        },
        Request::Upload {
            name: name(),
            size: 5,
            policy: ConflictPolicy::Fail,
            resume: None,
        },
        Request::Chunks {
            name: name(),
            version: None,
        },
        Request::Delete {
            name: name(),
            version: None,
        },
        Request::Logs { lines: 10 },
        Request::Users,
        Request::UserAdd {
            user: user(),
            role: Role::User,
            password: password(),
        },
        Request::UserDel { user: user() },
        Request::Passwd {
            user: user(),
            password: password(),
        },
        Request::SetRole {
            user: user(),
            role: Role::Admin,
        },
        Request::Ping,
        Request::Quit,
        Request::Ls {
            folder: Some("a".into()),
            recursive: true,
        },
        Request::Mkdir { path: "a/b".into() },
        Request::Rmdir {
            path: "a/b".into(),
            recursive: false,
        },
        Request::Move {
            from: "a/b".into(),
            to: "c".into(),
        },
    ];
    let indexes: Vec<usize> = all.iter().map(request_index).collect();
    assert_eq!(indexes, (0..all.len()).collect::<Vec<_>>(), "one of each");
    all
}

/// As [`request_index`], for replies.
fn reply_index(r: &Reply) -> usize {
    match r {
        Reply::Hello { .. } => 0,
        Reply::Ok => 1,
        Reply::Bye => 2,
        Reply::LoggedIn(_) => 3,
        Reply::ListHeader(_) => 4,
        Reply::File(_) => 5,
        Reply::Stat(_) => 6,
        Reply::HistoryHeader(_) => 7,
        Reply::Version(_) => 8,
        Reply::Download { .. } => 9,
        Reply::Data(_) => 10,
        Reply::End => 11,
        Reply::Ready { .. } => 12,
        Reply::ChunksHeader { .. } => 13,
        Reply::Chunk { .. } => 14,
        Reply::Stored { .. } => 15,
        Reply::Deleted { .. } => 16,
        Reply::LogsHeader(_) => 17,
        Reply::LogLine(_) => 18,
        Reply::UsersHeader(_) => 19,
        Reply::User { .. } => 20,
        Reply::Error { .. } => 21,
        Reply::LsHeader(_) => 22,
        Reply::Folder(_) => 23,
        Reply::Made { .. } => 24,
        Reply::Removed { .. } => 25,
        Reply::Moved { .. } => 26,
    }
}

fn replies() -> Vec<Reply> {
    let all = vec![
        Reply::Hello {
            version: PROTOCOL_VERSION,
            text: "ferry-server ready".into(),
        },
        Reply::Ok,
        Reply::Bye,
        Reply::LoggedIn(Role::User),
        Reply::ListHeader(1),
        Reply::File(FileEntry {
            current: version_info(),
            versions: 1,
        }),
        Reply::Stat(version_info()),
        Reply::HistoryHeader(1),
        Reply::Version(version_info()),
        Reply::Download {
            version: 1,
            size: 5,
            md5: md5("hello"),
            offset: 0,
            length: 5,
        },
        Reply::Data(5),
        Reply::End,
        Reply::Ready {
            upload_id: "0123abcd".into(),
            offset: 0,
        },
        Reply::ChunksHeader {
            chunk_size: CHUNK_SIZE,
            count: 1,
        },
        Reply::Chunk {
            index: 0,
            md5: md5("hello"),
        },
        Reply::Stored {
            name: "a.txt".into(),
            version: 1,
            size: 5,
            md5: md5("hello"),
        },
        Reply::Deleted {
            name: "a.txt".into(),
            versions: 1,
        },
        Reply::LogsHeader(1),
        Reply::LogLine("a log line".into()),
        Reply::UsersHeader(1),
        Reply::User {
            name: "alice".into(),
            role: Role::User,
        },
        Reply::error(ErrorCode::NotFound, "there is no such file"),
        Reply::LsHeader(1),
        Reply::Folder(FolderEntry {
            path: "a/b".into(),
            created: "2026-11-21T16:41:07Z".parse().unwrap(),
        }),
        Reply::Made {
            path: "a/b".into(),
            created: 2,
        },
        Reply::Removed {
            path: "a/b".into(),
            folders: 1,
            files: 0,
            versions: 0,
        },
        Reply::Moved {
            from: "a/b".into(),
            to: "c".into(),
            files: 0,
            folders: 1,
        },
    ];
    let indexes: Vec<usize> = all.iter().map(reply_index).collect();
    assert_eq!(indexes, (0..all.len()).collect::<Vec<_>>(), "one of each");
    all
}

/// The keyword of a reply line: its first word, and the second too after
/// `OK` when it is an uppercase word (`OK STAT`, but `OK` alone).
fn reply_keyword(line: &str) -> String {
    let mut words = line.split(' ');
    let first = words.next().unwrap_or_default();
    match words.next() {
        Some(second)
            if first == "OK"
                && !second.is_empty()
                && second.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') =>
        {
            format!("{first} {second}")
        }
        _ => first.to_owned(),
    }
}

// ---------------------------------------------------------------------------
// §12 and the codes everywhere

#[test]
fn the_error_codes_of_section_12_are_the_codes_of_the_code_in_order() {
    let doc = doc();
    let documented: Vec<String> = table(section(&doc, "## 12."), "Code")
        .iter()
        .map(|row| first_code_span(&row[0]).to_owned())
        .collect();
    let coded: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(documented, coded, "§12 lists the codes of ErrorCode::ALL");
    for code in ErrorCode::ALL {
        assert_eq!(code.as_str().parse::<ErrorCode>(), Ok(*code));
    }
}

#[test]
fn every_err_line_in_the_document_names_a_real_code() {
    let doc = doc();
    for (at, _) in doc.match_indices("ERR ") {
        let code: String = doc[at + 4..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        if code.is_empty() {
            continue; // `ERR <code> <text>`
        }
        assert!(
            code.parse::<ErrorCode>().is_ok(),
            "PROTOCOL.md mentions `ERR {code}`, which is no error code (near byte {at})"
        );
    }
}

// ---------------------------------------------------------------------------
// §7 and §11: the verbs and the reply lines

/// A value for a `<placeholder>` of the §7 summary table.
fn sample(placeholder: &str) -> &'static str {
    match placeholder {
        "name" => "a.txt",
        "user" => "alice",
        "password" => "correct%20horse",
        "size" => "5",
        "policy" => "rename",
        "role" => "admin",
        "upload-id" => "0123abcd",
        "path" => "a/b%20c",
        "from" => "a/b.txt",
        "to" => "c/d.txt",
        "yes|no" => "yes",
        other => panic!("§7 uses the placeholder <{other}>; give this test a sample for it"),
    }
}

/// The request line a §7 usage describes, with every option (`all`) or none.
fn instantiate(usage: &str, all: bool) -> String {
    let mut words = Vec::new();
    for token in usage.split(' ') {
        let (optional, token) = match token.strip_prefix('[') {
            Some(inner) => (true, inner.strip_suffix(']').expect("a closing ]")),
            None => (false, token),
        };
        if optional && !all {
            continue;
        }
        let word = match token.split_once('=') {
            Some((key, "N")) => format!("{key}=1"),
            Some((key, value)) => {
                let inner = value.trim_start_matches('<').trim_end_matches('>');
                format!("{key}={}", sample(inner))
            }
            None if token.starts_with('<') => {
                sample(token.trim_start_matches('<').trim_end_matches('>')).to_owned()
            }
            None => token.to_owned(),
        };
        words.push(word);
    }
    words.join(" ")
}

#[test]
fn the_requests_of_section_7_are_the_parsers_requests() {
    let doc = doc();
    let requests_section = section(&doc, "## 7.");
    let rows = table(requests_section, "Request");
    let mut documented = Vec::new();
    for row in &rows {
        let usage = first_code_span(&row[0]);
        let verb = usage.split(' ').next().unwrap().to_owned();
        for all in [false, true] {
            let line = instantiate(usage, all);
            let parsed = Request::parse(&line)
                .unwrap_or_else(|e| panic!("§7 {usage:?}: {line:?} does not parse: {e}"));
            assert_eq!(parsed.verb(), verb, "{line:?}");
        }
        // Every verb has its own subsection.
        section(requests_section, &format!("### {verb}"));
        documented.push(verb);
    }
    let mut coded: Vec<String> = requests().iter().map(|r| r.verb().to_owned()).collect();
    // The parser's own list, which it shows after an unknown verb.
    let message = Request::parse("BOGUS").unwrap_err().to_string();
    if let Some(list) = message.split("the commands are ").nth(1) {
        let mut listed: Vec<&str> = list.split(", ").collect();
        listed.sort_unstable();
        let mut sorted = documented.clone();
        sorted.sort_unstable();
        assert_eq!(listed, sorted, "the verbs an UNKNOWN_VERB reply lists");
    }
    documented.sort_unstable();
    coded.sort_unstable();
    assert_eq!(documented, coded, "§7 lists every request verb once");
}

#[test]
fn the_reply_lines_of_section_11_are_the_replies_of_the_code() {
    let doc = doc();
    let mut documented: Vec<String> = table(section(&doc, "## 11."), "Line")
        .iter()
        .map(|row| reply_keyword(first_code_span(&row[0])))
        .collect();
    let mut coded: Vec<String> = replies()
        .iter()
        .map(|r| reply_keyword(&r.to_string()))
        .collect();
    documented.sort_unstable();
    coded.sort_unstable();
    assert_eq!(documented, coded, "§11 lists every reply line once");
}

// ---------------------------------------------------------------------------
// §6.3: the rename rule

#[test]
fn the_rename_examples_of_section_6_3_are_what_versioned_name_gives() {
    let doc = doc();
    let rows = table(section(&doc, "### 6.3"), "Name");
    let mut split_limits = Vec::new();
    for row in &rows {
        let name = spelled(&row[0]);
        assert_eq!(validate_name(&name), Ok(()), "§6.3 example {:?}", row[0]);
        for (n, cell) in [(2, &row[1]), (3, &row[2])] {
            assert_eq!(
                versioned_name(&name, n),
                spelled(cell),
                "§6.3: versioned_name({}, {n})",
                row[0]
            );
        }
        if let Some(dot) = name.rfind('.').filter(|dot| *dot > 0) {
            split_limits.push(name.len() - dot + "_v2".len());
        }
    }
    // The table shows both sides of the limit on long extensions.
    for bytes in [254, 255] {
        assert!(
            split_limits.contains(&bytes),
            "§6.3 has no example whose extension and `_v2` take {bytes} bytes"
        );
    }
}

/// The three steps of §6.3, as the document words them.
fn as_documented(name: &str, n: u32) -> String {
    let tag = format!("_v{n}");
    // 1. Split at the last dot, unless it is the first character or the
    // extension and the tag would take more than 254 bytes.
    let (stem, ext) = match name.rfind('.') {
        Some(dot) if dot > 0 && name.len() - dot + tag.len() <= 254 => name.split_at(dot),
        _ => (name, ""),
    };
    // 2. Cut the stem at a character boundary to what is left of 255 bytes,
    // then strip trailing white space.
    let room = MAX_NAME_BYTES - tag.len() - ext.len();
    let mut kept = String::new();
    for c in stem.chars() {
        if kept.len() + c.len_utf8() > room {
            break;
        }
        kept.push(c);
    }
    // 3. Join.
    format!("{}{tag}{ext}", kept.trim_end())
}

#[test]
fn the_rename_rule_of_section_6_3_is_the_codes_rule() {
    let mut names = Vec::new();
    for stem_unit in ["x", "é", "a b", "日"] {
        for stem_len in [
            1, 2, 3, 50, 120, 200, 240, 248, 250, 251, 252, 253, 254, 255,
        ] {
            for ext_len in [0, 1, 2, 4, 100, 200, 240, 245, 248, 250, 251, 252, 253, 254] {
                let stem = stem_unit.repeat(stem_len / stem_unit.len() + 1);
                let mut stem: String = stem.chars().take(stem_len).collect();
                while stem.len() > stem_len {
                    stem.pop();
                }
                let ext = if ext_len == 0 {
                    String::new()
                } else {
                    format!(".{}", "y".repeat(ext_len - 1))
                };
                names.push(format!("{stem}{ext}"));
                names.push(format!("{} {ext}", stem.trim_end()));
                names.push(format!(".{stem}{ext}"));
            }
        }
    }
    let mut checked = 0;
    for name in names.iter().filter(|name| validate_name(name).is_ok()) {
        for n in [2, 3, 9, 10, 99, 100, 12345, u32::MAX] {
            let renamed = versioned_name(name, n);
            assert_eq!(renamed, as_documented(name, n), "{name:?}, {n}");
            assert!(renamed.len() <= MAX_NAME_BYTES, "{renamed:?} is too long");
            assert_eq!(validate_name(&renamed), Ok(()), "{renamed:?} is valid");
            checked += 1;
        }
    }
    assert!(checked > 1000, "only {checked} cases");
}
