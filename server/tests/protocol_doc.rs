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

use std::path::Path;

use ferry_io::appender::{ALIGN, DIRECT_FROM};
use ferry_proto::hash::md5_bytes;
use ferry_proto::names::{MAX_NAME_BYTES, UncheckedName, validate_name, versioned_name};
use ferry_proto::protocol::{
    CHUNK_SIZE, ConflictPolicy, DEFAULT_LOG_LINES, DEFAULT_PORT, ErrorCode, FileEntry,
    MAX_FRAME_BYTES, MAX_LINE_BYTES, MAX_LOG_LINES, PROTOCOL_VERSION, ProtocolError, Reply,
    Request, Role, Secret, UploadFrame, VersionInfo,
};
use ferry_server::auth::{MAX_USER_CHARS, MIN_PASSWORD_CHARS, check_password, check_user_name};
use support::{Raw, TestServer, USER_PASSWORD};

// ---------------------------------------------------------------------------
// Reading the document

fn doc() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/PROTOCOL.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// How many `#` start a heading line; 0 for any other line.
fn heading_level(line: &str) -> usize {
    let hashes = line.bytes().take_while(|b| *b == b'#').count();
    if hashes > 0 && line[hashes..].starts_with(' ') {
        hashes
    } else {
        0
    }
}

/// The lines of `text` outside fenced code blocks, with their byte offsets.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut lines = Vec::new();
    let mut fenced = false;
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if line.starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            lines.push((at, line.trim_end_matches('\n')));
        }
        at += line.len();
    }
    lines
}

/// The body of the section whose heading starts with `title` (`"## 12."`,
/// `"### 6.3"`, `"### CHUNKS"`), up to the next heading of the same or a
/// higher level.
fn section<'a>(doc: &'a str, title: &str) -> &'a str {
    let level = heading_level(title);
    assert!(level > 0, "{title:?} is not a heading");
    let lines = prose_lines(doc);
    let start = lines
        .iter()
        .position(|(_, line)| heading_level(line) == level && line.starts_with(title))
        .unwrap_or_else(|| panic!("PROTOCOL.md has no section {title:?}"));
    let body = lines[start].0 + lines[start].1.len();
    let end = lines[start + 1..]
        .iter()
        .find(|(_, line)| (1..=level).contains(&heading_level(line)))
        .map_or(doc.len(), |(at, _)| *at);
    &doc[body..end]
}

/// The cells of one table row, trimmed; `\|` is a `|` inside a cell.
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cells.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => cells.push(String::new()),
            c => cells.last_mut().unwrap().push(c),
        }
    }
    cells.iter().map(|c| c.trim().to_owned()).collect()
}

/// The body rows of the first table in `text` whose first header cell is
/// `header`.
fn table(text: &str, header: &str) -> Vec<Vec<String>> {
    let lines = prose_lines(text);
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].1;
        if line.starts_with('|') && cells(line)[0] == header {
            let rows: Vec<Vec<String>> = lines[i + 2..]
                .iter()
                .map(|(_, line)| *line)
                .take_while(|line| line.starts_with('|'))
                .map(cells)
                .collect();
            assert!(!rows.is_empty(), "the {header:?} table is empty");
            return rows;
        }
        i += 1;
    }
    panic!("no table with the header {header:?} in:\n{text}");
}

/// The text of the code spans in `cell`, in order.
fn code_spans(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

fn first_code_span(cell: &str) -> &str {
    code_spans(cell)
        .first()
        .copied()
        .unwrap_or_else(|| panic!("no code span in the cell {cell:?}"))
}

/// A string spelled out the way the §6.3 table does: code spans joined by
/// ` + `, each possibly repeated (`` `é`×125 ``), optionally followed by its
/// length (`(254 bytes)`), which is then checked too.
fn spelled(cell: &str) -> String {
    let (terms, stated_len) = match cell.strip_suffix(" bytes)") {
        Some(rest) => {
            let open = rest.rfind(" (").expect("a length in parentheses");
            let len: usize = rest[open + 2..].parse().expect("a length in bytes");
            (&rest[..open], Some(len))
        }
        None => (cell, None),
    };
    let mut out = String::new();
    for term in terms.split(" + ") {
        let term = term.trim();
        let inner = term
            .strip_prefix('`')
            .unwrap_or_else(|| panic!("{term:?} in {cell:?} is not a code span"));
        let close = inner.find('`').expect("a closing backtick");
        let (text, rest) = (&inner[..close], &inner[close + 1..]);
        let times = match rest.strip_prefix('×') {
            Some(n) => n.parse().unwrap_or_else(|_| panic!("a count in {term:?}")),
            None if rest.is_empty() => 1,
            None => panic!("unexpected {rest:?} in {cell:?}"),
        };
        out.push_str(&text.repeat(times));
    }
    if let Some(len) = stated_len {
        assert_eq!(out.len(), len, "the byte count stated in {cell:?}");
    }
    out
}

/// Lines of the document's examples: `(block number, line)` for every
/// `C: `/`S: ` line of a fenced block, with `<TAB>` made a real tab.
fn example_lines(doc: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut block = 0;
    let mut fenced = false;
    for line in doc.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
            block += 1;
        } else if fenced && (line.starts_with("C: ") || line.starts_with("S: ")) {
            out.push((block, line.replace("<TAB>", "\t")));
        }
    }
    out
}

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

/// The code the server answers a line with that does not parse.
fn parse_error_code(e: &ProtocolError) -> ErrorCode {
    match e {
        ProtocolError::UnknownVerb(_) => ErrorCode::UnknownVerb,
        _ => ErrorCode::BadRequest,
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
