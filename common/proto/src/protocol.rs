//! The wire protocol as types: every line a client or server sends, with a
//! pure `parse` and a `Display` that renders it. The same types serve both
//! sides, so the two cannot drift apart. No sockets here: reading a line (with
//! its length cap) and moving payload bytes is `ferry_io::wire`'s job.
//!
//! `docs/PROTOCOL.md` is the prose description of the same grammar.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use crate::hash::Md5Digest;
use crate::names::UncheckedName;
use crate::time::Timestamp;

/// The protocol version a server announces in its greeting.
pub const PROTOCOL_VERSION: u32 = 1;
/// The port a server listens on when none is given.
pub const DEFAULT_PORT: u16 = 7878;
/// The default cap on one line, terminator included.
pub const MAX_LINE_BYTES: usize = 4096;
/// The size of the DATA frames a sender cuts payloads into, and the unit of
/// resume bookkeeping. Receivers accept any frame up to [`MAX_FRAME_BYTES`].
pub const CHUNK_SIZE: u64 = 1 << 20;
/// The largest DATA frame a receiver accepts.
pub const MAX_FRAME_BYTES: u64 = 16 << 20;
/// How many log lines `LOGS` returns when no count is given.
pub const DEFAULT_LOG_LINES: u32 = 200;
/// The most log lines one `LOGS` request returns.
pub const MAX_LOG_LINES: u32 = 10_000;

/// What a user may do. Admins may also delete, read the server log and manage users.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Full rights.
    Admin,
    /// May list, upload and download.
    User,
}

/// What the server does when an upload's name is already taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConflictPolicy {
    /// The new content becomes current; the old stays in the version history.
    Overwrite,
    /// Store under the first free `name_vN.ext`.
    Rename,
    /// Refuse the upload.
    Fail,
}

/// A password on its way to the server: its `Debug` output never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// One stored version of a file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VersionInfo {
    /// The file's name.
    pub name: String,
    /// Its version number: 1 for the first upload, counting up, never reused.
    pub version: u32,
    /// Size in bytes.
    pub size: u64,
    /// MD5 of the content.
    pub md5: Md5Digest,
    /// When this version was stored.
    #[serde(with = "timestamp_text")]
    pub modified: Timestamp,
    /// The user who uploaded it.
    pub uploader: String,
}

/// A row of `LIST`: a file's current version and how many versions it has.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileEntry {
    /// The current (newest) version.
    #[serde(flatten)]
    pub current: VersionInfo,
    /// How many versions the history holds.
    pub versions: u32,
}

mod timestamp_text {
    use super::Timestamp;
    pub fn serialize<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(t)
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text: String = serde::Deserialize::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A command line sent by a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// `LOGIN <user> <password>`
    Login {
        /// User name.
        user: String,
        /// Password.
        password: Secret,
    },
    /// `LIST`
    List,
    /// `STAT <name> [version=N]`: one version's details (default: current).
    Stat {
        /// File name, as sent: the server checks it.
        name: UncheckedName,
        /// Version number; `None` for the current one.
        version: Option<u32>,
    },
    /// `HISTORY <name>`
    History {
        /// File name, as sent: the server checks it.
        name: UncheckedName,
    },
    /// `DOWNLOAD <name> [version=N] [offset=N] [length=N]`
    Download {
        /// File name, as sent: the server checks it.
        name: UncheckedName,
        /// Version number; `None` for the current one.
        version: Option<u32>,
        /// First byte to send.
        offset: u64,
        /// How many bytes to send; `None` for all to the end.
        length: Option<u64>,
    },
    /// `UPLOAD <name> <size> <policy> [resume=<upload-id>]`; the body (DATA
    /// frames, then DONE or ABORT) always follows.
    Upload {
        /// File name, as sent: the server checks it.
        name: UncheckedName,
        /// Total size of the file in bytes.
        size: u64,
        /// What to do if the name is taken.
        policy: ConflictPolicy,
        /// The id of an interrupted upload to continue, from an earlier READY.
        resume: Option<String>,
    },
    /// `CHUNKS <name> [version=N]`: the MD5 of every CHUNK_SIZE piece of a
    /// version, to find which pieces of a damaged copy to fetch again.
    Chunks {
        /// File name, as sent: the server checks it.
        name: UncheckedName,
        /// Version number; `None` for the current one.
        version: Option<u32>,
    },
    /// `DELETE <name> [version=N]` (admin)
    Delete {
        /// File name, as sent: the server checks it.
        name: UncheckedName,
        /// One version; `None` deletes the file with its whole history.
        version: Option<u32>,
    },
    /// `LOGS [lines=N]` (admin): the last lines of the server log.
    Logs {
        /// How many lines.
        lines: u32,
    },
    /// `USERS` (admin)
    Users,
    /// `USERADD <user> <role> <password>` (admin)
    UserAdd {
        /// New user's name.
        user: String,
        /// Their role.
        role: Role,
        /// Their password.
        password: Secret,
    },
    /// `USERDEL <user>` (admin)
    UserDel {
        /// The user to remove.
        user: String,
    },
    /// `PASSWD <user> <password>`: admins for anyone, users for themselves.
    Passwd {
        /// Whose password.
        user: String,
        /// The new password.
        password: Secret,
    },
    /// `ROLE <user> <role>` (admin)
    SetRole {
        /// Whose role.
        user: String,
        /// The new role.
        role: Role,
    },
    /// `PING`: does nothing, answers `OK`.
    Ping,
    /// `QUIT`
    Quit,
}

/// A line of an upload's body, sent by the client after `UPLOAD`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UploadFrame {
    /// `DATA <n>`, followed by exactly n raw bytes.
    Data(u64),
    /// `DONE <md5>`: the payload is complete; this is the MD5 of the whole file.
    Done(Md5Digest),
    /// `ABORT`: the client gives up on this upload.
    Abort,
}

/// A line sent by the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `FERRY <version> <text>`: the greeting.
    Hello {
        /// Protocol version.
        version: u32,
        /// Free text for people.
        text: String,
    },
    /// `OK`: done, nothing to report.
    Ok,
    /// `OK BYE`: answer to QUIT; the server closes the connection.
    Bye,
    /// `OK LOGIN <role>`
    LoggedIn(Role),
    /// `OK LIST <count>`, followed by count `FILE` lines.
    ListHeader(u64),
    /// `FILE <name> <version> <size> <md5> <modified> <uploader> <versions>`
    File(FileEntry),
    /// `OK STAT <name> <version> <size> <md5> <modified> <uploader>`
    Stat(VersionInfo),
    /// `OK HISTORY <count>`, followed by count `VERSION` lines, oldest first.
    HistoryHeader(u64),
    /// `VERSION <name> <version> <size> <md5> <modified> <uploader>`
    Version(VersionInfo),
    /// `OK DOWNLOAD <version> <size> <md5> <offset> <length>`, followed by
    /// DATA frames carrying `length` bytes, then `END`.
    Download {
        /// The version being sent.
        version: u32,
        /// The file's total size.
        size: u64,
        /// MD5 of the whole file (not of the range).
        md5: Md5Digest,
        /// First byte sent.
        offset: u64,
        /// Number of bytes sent.
        length: u64,
    },
    /// `DATA <n>`, followed by exactly n raw bytes.
    Data(u64),
    /// `END`: the download's payload is complete.
    End,
    /// `OK READY <upload-id> <offset>`: send the body starting at byte `offset`.
    Ready {
        /// The server's id for this upload.
        upload_id: String,
        /// Where the payload starts.
        offset: u64,
    },
    /// `OK CHUNKS <chunk-size> <count>`, followed by count `CHUNK` lines in order.
    ChunksHeader {
        /// Bytes per chunk (the last one may be shorter).
        chunk_size: u64,
        /// Number of chunks.
        count: u64,
    },
    /// `CHUNK <index> <md5>`: the MD5 of bytes `index*chunk_size ..` of the version.
    Chunk {
        /// Zero-based chunk number.
        index: u64,
        /// Its MD5.
        md5: Md5Digest,
    },
    /// `OK STORED <name> <version> <size> <md5>`: the upload is durable and visible.
    Stored {
        /// The name it was stored under (differs from the request under `rename`).
        name: String,
        /// Its version number.
        version: u32,
        /// Its size.
        size: u64,
        /// Its MD5, as computed by the server.
        md5: Md5Digest,
    },
    /// `OK DELETED <name> <count>`: how many versions were removed.
    Deleted {
        /// File name.
        name: String,
        /// Versions removed.
        versions: u32,
    },
    /// `OK LOGS <count>`, followed by count `LINE` lines.
    LogsHeader(u64),
    /// `LINE <text>`: one line of the server log.
    LogLine(String),
    /// `OK USERS <count>`, followed by count `USER` lines.
    UsersHeader(u64),
    /// `USER <name> <role>`
    User {
        /// User name.
        name: String,
        /// Role.
        role: Role,
    },
    /// `ERR <code> <message>`
    Error {
        /// Machine-readable code.
        code: ErrorCode,
        /// One sentence for people: what happened and what to do.
        message: String,
    },
}

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)*) => {
        /// The machine-readable part of an `ERR` reply.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $($(#[$doc])* $variant,)* }

        impl ErrorCode {
            /// Every code, in the order `docs/PROTOCOL.md` lists them.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it appears on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $text,)* }
            }
        }

        impl FromStr for ErrorCode {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($text => Ok(ErrorCode::$variant),)* _ => Err(()) }
            }
        }
    };
}

error_codes! {
    /// Malformed arguments: missing, extra, not a number, bad encoding.
    BadRequest = "BAD_REQUEST",
    /// The verb is not one the server knows.
    UnknownVerb = "UNKNOWN_VERB",
    /// A line exceeded the server's cap; the server closes the connection.
    LineTooLong = "LINE_TOO_LONG",
    /// The request needs a logged-in user.
    NotLoggedIn = "NOT_LOGGED_IN",
    /// Wrong user name or password.
    AuthFailed = "AUTH_FAILED",
    /// Too many failed logins; wait and try again.
    Throttled = "THROTTLED",
    /// The user's role does not allow this.
    Forbidden = "FORBIDDEN",
    /// No such file, version or user.
    NotFound = "NOT_FOUND",
    /// The name is taken (upload with policy `fail`, or an existing user).
    Exists = "EXISTS",
    /// The file name breaks the naming rules.
    BadName = "BAD_NAME",
    /// The payload's MD5 does not match the one announced; nothing was stored.
    Md5Mismatch = "MD5_MISMATCH",
    /// The payload was shorter or longer than announced; nothing was stored.
    SizeMismatch = "SIZE_MISMATCH",
    /// An offset or range lies outside the file.
    BadRange = "BAD_RANGE",
    /// The upload is larger than the server accepts.
    TooLarge = "TOO_LARGE",
    /// The server's disk cannot hold the upload.
    NoSpace = "NO_SPACE",
    /// The server has too many connections; try again shortly.
    Busy = "BUSY",
    /// The client was silent for too long; the server closes the connection.
    Timeout = "TIMEOUT",
    /// The server is shutting down.
    ShuttingDown = "SHUTTING_DOWN",
    /// The listener speaks only TLS and the client spoke in clear; the
    /// server closes the connection.
    TlsRequired = "TLS_REQUIRED",
    /// Something failed on the server; the message says what.
    Internal = "INTERNAL",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Role {
    /// The role as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "admin" => Ok(Role::Admin),
            "user" => Ok(Role::User),
            _ => Err(()),
        }
    }
}

impl ConflictPolicy {
    /// The policy as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictPolicy::Overwrite => "overwrite",
            ConflictPolicy::Rename => "rename",
            ConflictPolicy::Fail => "fail",
        }
    }
}

impl fmt::Display for ConflictPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ConflictPolicy {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "overwrite" => Ok(ConflictPolicy::Overwrite),
            "rename" => Ok(ConflictPolicy::Rename),
            "fail" => Ok(ConflictPolicy::Fail),
            _ => Err(()),
        }
    }
}

// ---------------------------------------------------------------------------
// Errors

/// Why a line could not be parsed. Every variant reads as a sentence.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The line was empty.
    #[error("the line is empty; send a command such as LIST")]
    Empty,
    /// The line was not UTF-8.
    #[error("the line is not valid UTF-8 text")]
    NotUtf8,
    /// The verb is unknown. It holds the verb as sent when that is at most
    /// 20 ASCII letters and digits, and is empty otherwise: a verb run
    /// together with its arguments (by a tab, say) could hold a password.
    #[error("{}", unknown_verb_message(.0))]
    UnknownVerb(String),
    /// A required argument is missing.
    #[error("{verb} is missing its {field}; usage: {usage}")]
    Missing {
        /// The verb.
        verb: &'static str,
        /// The missing argument.
        field: &'static str,
        /// The verb's usage line.
        usage: &'static str,
    },
    /// Arguments were left over.
    #[error("{verb} got an unexpected argument {extra:?}; usage: {usage}")]
    Extra {
        /// The verb.
        verb: &'static str,
        /// The first surplus argument.
        extra: String,
        /// The verb's usage line.
        usage: &'static str,
    },
    /// An argument had the wrong form.
    #[error("{verb}: {field} {text:?} is not valid: it must be {expected}")]
    Invalid {
        /// The verb.
        verb: &'static str,
        /// The argument.
        field: &'static str,
        /// What was sent.
        text: String,
        /// What was expected.
        expected: &'static str,
    },
    /// An option was given twice.
    #[error("{verb}: the option {key}= is given twice")]
    Duplicate {
        /// The verb.
        verb: &'static str,
        /// The repeated key.
        key: String,
    },
    /// A malformed request that carries a password (`LOGIN`, `USERADD`,
    /// `PASSWD`): what is wrong, without repeating any of its arguments.
    #[error("{verb}: {problem} (the line is not repeated: it may hold a password); usage: {usage}")]
    Concealed {
        /// The verb.
        verb: &'static str,
        /// What is wrong, in words that quote nothing the client sent.
        problem: String,
        /// The verb's usage line.
        usage: &'static str,
    },
}

impl ProtocolError {
    /// The verb of the line when it was recognised, so that a caller can
    /// tell a malformed `UPLOAD` (which is still followed by its body) from
    /// a line that is no request at all. Parsing is the one place that
    /// splits a line into its verb and arguments.
    pub fn verb(&self) -> Option<&'static str> {
        match self {
            ProtocolError::Missing { verb, .. }
            | ProtocolError::Extra { verb, .. }
            | ProtocolError::Invalid { verb, .. }
            | ProtocolError::Duplicate { verb, .. }
            | ProtocolError::Concealed { verb, .. } => Some(verb),
            ProtocolError::Empty | ProtocolError::NotUtf8 | ProtocolError::UnknownVerb(_) => None,
        }
    }

    /// The same error with nothing of the client's text in it, for a line
    /// that carries a secret.
    fn concealed(self) -> ProtocolError {
        match self {
            ProtocolError::Extra { verb, usage, .. } => ProtocolError::Concealed {
                verb,
                problem: "there is an argument too many".to_owned(),
                usage,
            },
            ProtocolError::Invalid {
                verb,
                field,
                expected,
                ..
            } => ProtocolError::Concealed {
                verb,
                problem: format!("the {field} is not valid: it must be {expected}"),
                usage: usage_of(verb),
            },
            ProtocolError::Duplicate { verb, .. } => ProtocolError::Concealed {
                verb,
                problem: "an option is given twice".to_owned(),
                usage: usage_of(verb),
            },
            other => other,
        }
    }
}

/// The requests whose lines carry a password: no error about them may
/// repeat what was sent.
const SECRET_VERBS: [&str; 3] = ["LOGIN", "USERADD", "PASSWD"];

const LOGIN_USAGE: &str = "LOGIN <user> <password>";
const USERADD_USAGE: &str = "USERADD <user> <admin|user> <password>";
const PASSWD_USAGE: &str = "PASSWD <user> <password>";

fn usage_of(verb: &str) -> &'static str {
    match verb {
        "LOGIN" => LOGIN_USAGE,
        "USERADD" => USERADD_USAGE,
        "PASSWD" => PASSWD_USAGE,
        _ => "see docs/PROTOCOL.md",
    }
}

/// The longest verb an `UNKNOWN_VERB` reply repeats.
const MAX_SHOWN_VERB: usize = 20;

/// The verb as an `UnknownVerb` error may hold it: itself when it is a
/// short run of ASCII letters and digits, else nothing.
fn shown_verb(verb: &str) -> String {
    let plain = !verb.is_empty()
        && verb.len() <= MAX_SHOWN_VERB
        && verb.bytes().all(|b| b.is_ascii_alphanumeric());
    if plain {
        verb.to_owned()
    } else {
        String::new()
    }
}

fn unknown_verb_message(verb: &str) -> String {
    if verb.is_empty() {
        format!(
            "unknown command (a command is a word of letters followed by a space); the commands are {ALL_VERBS}"
        )
    } else {
        format!("unknown command {verb:?}; the commands are {ALL_VERBS}")
    }
}

const ALL_VERBS: &str = "LOGIN, LIST, STAT, HISTORY, DOWNLOAD, UPLOAD, CHUNKS, DELETE, LOGS, USERS, USERADD, USERDEL, PASSWD, ROLE, PING, QUIT";

// ---------------------------------------------------------------------------
// Words: percent-encoding of arguments

/// Encodes one argument for a line: `%`, space and control characters become
/// `%XX`; everything else, including non-ASCII letters, is sent as UTF-8.
/// The empty string is sent as a lone `%`.
///
/// Hand-written rather than the `percent-encoding` crate's: that crate
/// always escapes every non-ASCII byte (our wire form keeps `ü` readable
/// and must stay byte-identical), and its decoder passes a malformed `%`
/// through where ours must refuse the line.
pub fn encode_word(text: &str) -> Cow<'_, str> {
    if text.is_empty() {
        return Cow::Borrowed("%");
    }
    if !text.chars().any(|c| c.is_control() || c == ' ' || c == '%') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_ascii() && needs_escape(c as u8) {
            out.push_str(&format!("%{:02X}", c as u8));
        } else if c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn needs_escape(b: u8) -> bool {
    b <= b' ' || b == b'%' || b == 0x7f
}

/// Decodes an argument made by [`encode_word`]. `None` if a `%` is not
/// followed by two hex digits or the result is not UTF-8.
pub fn decode_word(word: &str) -> Option<String> {
    if word == "%" {
        return Some(String::new());
    }
    if !word.contains('%') {
        return Some(word.to_owned());
    }
    let bytes = word.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = (*bytes.get(i + 1)? as char).to_digit(16)?;
            let lo = (*bytes.get(i + 2)? as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Makes free text safe to end a line with: control characters become spaces.
fn line_text(text: &str) -> Cow<'_, str> {
    if text.chars().any(char::is_control) {
        Cow::Owned(
            text.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

/// A decimal number without sign; at most 20 digits.
fn parse_number<T: FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Turns raw line bytes into text, refusing what is not UTF-8.
pub fn line_str(line: &[u8]) -> Result<&str, ProtocolError> {
    std::str::from_utf8(line).map_err(|_| ProtocolError::NotUtf8)
}

// ---------------------------------------------------------------------------
// Argument cursor shared by the parsers

struct Args<'a> {
    verb: &'static str,
    usage: &'static str,
    words: std::iter::Peekable<std::str::SplitAsciiWhitespace<'a>>,
}

impl<'a> Args<'a> {
    fn new(verb: &'static str, usage: &'static str, rest: &'a str) -> Self {
        Args {
            verb,
            usage,
            words: rest.split_ascii_whitespace().peekable(),
        }
    }

    fn raw(&mut self, field: &'static str) -> Result<&'a str, ProtocolError> {
        self.words.next().ok_or(ProtocolError::Missing {
            verb: self.verb,
            field,
            usage: self.usage,
        })
    }

    fn invalid(&self, field: &'static str, text: &str, expected: &'static str) -> ProtocolError {
        ProtocolError::Invalid {
            verb: self.verb,
            field,
            text: text.to_owned(),
            expected,
        }
    }

    fn word(&mut self, field: &'static str) -> Result<String, ProtocolError> {
        let raw = self.raw(field)?;
        decode_word(raw).ok_or_else(|| self.invalid(field, raw, "percent-encoded UTF-8"))
    }

    fn number<T: FromStr>(&mut self, field: &'static str) -> Result<T, ProtocolError> {
        let raw = self.raw(field)?;
        parse_number(raw).ok_or_else(|| self.invalid(field, raw, "a whole number in range"))
    }

    fn parsed<T: FromStr>(
        &mut self,
        field: &'static str,
        expected: &'static str,
    ) -> Result<T, ProtocolError> {
        let raw = self.raw(field)?;
        raw.parse().map_err(|_| self.invalid(field, raw, expected))
    }

    /// Reads the remaining words as `key=value` options, each key at most
    /// once and from `keys`; returns the raw values in the order of `keys`.
    fn options<const N: usize>(
        &mut self,
        keys: [&'static str; N],
    ) -> Result<[Option<&'a str>; N], ProtocolError> {
        let mut values = [None; N];
        for word in self.words.by_ref() {
            let slot = word
                .split_once('=')
                .and_then(|(key, value)| keys.iter().position(|k| *k == key).map(|i| (i, value)));
            let Some((i, value)) = slot else {
                return Err(ProtocolError::Extra {
                    verb: self.verb,
                    extra: word.to_owned(),
                    usage: self.usage,
                });
            };
            if values[i].is_some() {
                return Err(ProtocolError::Duplicate {
                    verb: self.verb,
                    key: keys[i].to_owned(),
                });
            }
            values[i] = Some(value);
        }
        Ok(values)
    }

    /// Like [`Args::options`], with every value a number.
    fn numeric_options<const N: usize>(
        &mut self,
        keys: [&'static str; N],
    ) -> Result<[Option<u64>; N], ProtocolError> {
        let raw = self.options(keys)?;
        let mut values = [None; N];
        for (i, value) in raw.iter().enumerate() {
            if let Some(text) = value {
                values[i] = Some(
                    parse_number(text)
                        .ok_or_else(|| self.invalid(keys[i], text, "a whole number in range"))?,
                );
            }
        }
        Ok(values)
    }

    /// Narrows an option to `u32`, for version numbers and line counts.
    fn small(&self, key: &'static str, value: Option<u64>) -> Result<Option<u32>, ProtocolError> {
        value
            .map(|v| {
                u32::try_from(v)
                    .map_err(|_| self.invalid(key, &v.to_string(), "a whole number in range"))
            })
            .transpose()
    }

    fn finish(mut self) -> Result<(), ProtocolError> {
        match self.words.next() {
            None => Ok(()),
            Some(extra) => Err(ProtocolError::Extra {
                verb: self.verb,
                extra: extra.to_owned(),
                usage: self.usage,
            }),
        }
    }
}

fn split_verb(line: &str) -> Result<(&str, &str), ProtocolError> {
    let line = line.trim_start_matches(' ');
    if line.trim().is_empty() {
        return Err(ProtocolError::Empty);
    }
    Ok(line.split_once(' ').unwrap_or((line, "")))
}

/// The `<n>` of a `DATA <n>` line, in either direction.
fn frame_length(rest: &str) -> Result<u64, ProtocolError> {
    let mut a = Args::new("DATA", "DATA <n>, then n bytes", rest);
    let n = a.number::<u64>("length")?;
    if n == 0 || n > MAX_FRAME_BYTES {
        return Err(a.invalid("length", &n.to_string(), "from 1 to 16777216"));
    }
    a.finish()?;
    Ok(n)
}

// ---------------------------------------------------------------------------
// Requests

impl Request {
    /// Parses one request line (without its line terminator).
    pub fn parse(line: &str) -> Result<Request, ProtocolError> {
        let (verb, rest) = split_verb(line)?;
        let verb_upper = verb.to_ascii_uppercase();
        let parsed = Self::parse_verb(&verb_upper, rest);
        if SECRET_VERBS.contains(&verb_upper.as_str()) {
            parsed.map_err(ProtocolError::concealed)
        } else {
            parsed
        }
    }

    /// Parses the arguments `rest` of a request with the (uppercased) verb.
    fn parse_verb(verb: &str, rest: &str) -> Result<Request, ProtocolError> {
        let request = match verb {
            "LOGIN" => {
                let mut a = Args::new("LOGIN", LOGIN_USAGE, rest);
                let user = a.word("user")?;
                let password = Secret(a.word("password")?);
                a.finish()?;
                Request::Login { user, password }
            }
            "LIST" => {
                Args::new("LIST", "LIST", rest).finish()?;
                Request::List
            }
            "STAT" => {
                let mut a = Args::new("STAT", "STAT <name> [version=N]", rest);
                let name = UncheckedName::from(a.word("name")?);
                let [version] = a.numeric_options(["version"])?;
                Request::Stat {
                    name,
                    version: a.small("version", version)?,
                }
            }
            "HISTORY" => {
                let mut a = Args::new("HISTORY", "HISTORY <name>", rest);
                let name = UncheckedName::from(a.word("name")?);
                a.finish()?;
                Request::History { name }
            }
            "DOWNLOAD" => {
                let usage = "DOWNLOAD <name> [version=N] [offset=N] [length=N]";
                let mut a = Args::new("DOWNLOAD", usage, rest);
                let name = UncheckedName::from(a.word("name")?);
                let [version, offset, length] =
                    a.numeric_options(["version", "offset", "length"])?;
                Request::Download {
                    name,
                    version: a.small("version", version)?,
                    offset: offset.unwrap_or(0),
                    length,
                }
            }
            "UPLOAD" => {
                let mut a = Args::new(
                    "UPLOAD",
                    "UPLOAD <name> <size> <overwrite|rename|fail> [resume=<upload-id>], then the body",
                    rest,
                );
                let name = UncheckedName::from(a.word("name")?);
                let size = a.number("size")?;
                let policy = a.parsed("policy", "overwrite, rename or fail")?;
                let [resume] = a.options(["resume"])?;
                let resume = resume
                    .map(|raw| {
                        decode_word(raw)
                            .ok_or_else(|| a.invalid("resume", raw, "percent-encoded UTF-8"))
                    })
                    .transpose()?;
                Request::Upload {
                    name,
                    size,
                    policy,
                    resume,
                }
            }
            "CHUNKS" => {
                let mut a = Args::new("CHUNKS", "CHUNKS <name> [version=N]", rest);
                let name = UncheckedName::from(a.word("name")?);
                let [version] = a.numeric_options(["version"])?;
                Request::Chunks {
                    name,
                    version: a.small("version", version)?,
                }
            }
            "DELETE" => {
                let mut a = Args::new("DELETE", "DELETE <name> [version=N]", rest);
                let name = UncheckedName::from(a.word("name")?);
                let [version] = a.numeric_options(["version"])?;
                Request::Delete {
                    name,
                    version: a.small("version", version)?,
                }
            }
            "LOGS" => {
                let mut a = Args::new("LOGS", "LOGS [lines=N]", rest);
                let [lines] = a.numeric_options(["lines"])?;
                let lines = a.small("lines", lines)?.unwrap_or(DEFAULT_LOG_LINES);
                Request::Logs { lines }
            }
            "USERS" => {
                Args::new("USERS", "USERS", rest).finish()?;
                Request::Users
            }
            "USERADD" => {
                let mut a = Args::new("USERADD", USERADD_USAGE, rest);
                let user = a.word("user")?;
                let role = a.parsed("role", "admin or user")?;
                let password = Secret(a.word("password")?);
                a.finish()?;
                Request::UserAdd {
                    user,
                    role,
                    password,
                }
            }
            "USERDEL" => {
                let mut a = Args::new("USERDEL", "USERDEL <user>", rest);
                let user = a.word("user")?;
                a.finish()?;
                Request::UserDel { user }
            }
            "PASSWD" => {
                let mut a = Args::new("PASSWD", PASSWD_USAGE, rest);
                let user = a.word("user")?;
                let password = Secret(a.word("password")?);
                a.finish()?;
                Request::Passwd { user, password }
            }
            "ROLE" => {
                let mut a = Args::new("ROLE", "ROLE <user> <admin|user>", rest);
                let user = a.word("user")?;
                let role = a.parsed("role", "admin or user")?;
                a.finish()?;
                Request::SetRole { user, role }
            }
            "PING" => {
                Args::new("PING", "PING", rest).finish()?;
                Request::Ping
            }
            "QUIT" => {
                Args::new("QUIT", "QUIT", rest).finish()?;
                Request::Quit
            }
            _ => return Err(ProtocolError::UnknownVerb(shown_verb(verb))),
        };
        Ok(request)
    }

    /// The verb, for logs.
    pub fn verb(&self) -> &'static str {
        match self {
            Request::Login { .. } => "LOGIN",
            Request::List => "LIST",
            Request::Stat { .. } => "STAT",
            Request::History { .. } => "HISTORY",
            Request::Download { .. } => "DOWNLOAD",
            Request::Upload { .. } => "UPLOAD",
            Request::Chunks { .. } => "CHUNKS",
            Request::Delete { .. } => "DELETE",
            Request::Logs { .. } => "LOGS",
            Request::Users => "USERS",
            Request::UserAdd { .. } => "USERADD",
            Request::UserDel { .. } => "USERDEL",
            Request::Passwd { .. } => "PASSWD",
            Request::SetRole { .. } => "ROLE",
            Request::Ping => "PING",
            Request::Quit => "QUIT",
        }
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = encode_word;
        match self {
            Request::Login { user, password } => write!(f, "LOGIN {} {}", w(user), w(&password.0)),
            Request::List => f.write_str("LIST"),
            Request::Stat { name, version } => {
                write!(f, "STAT {}", w(name.as_str()))?;
                write_option(f, "version", *version)
            }
            Request::History { name } => write!(f, "HISTORY {}", w(name.as_str())),
            Request::Download {
                name,
                version,
                offset,
                length,
            } => {
                write!(f, "DOWNLOAD {}", w(name.as_str()))?;
                write_option(f, "version", *version)?;
                write_option(f, "offset", Some(*offset).filter(|o| *o != 0))?;
                write_option(f, "length", *length)
            }
            Request::Upload {
                name,
                size,
                policy,
                resume,
            } => {
                write!(f, "UPLOAD {} {size} {policy}", w(name.as_str()))?;
                write_option(f, "resume", resume.as_deref().map(w))
            }
            Request::Chunks { name, version } => {
                write!(f, "CHUNKS {}", w(name.as_str()))?;
                write_option(f, "version", *version)
            }
            Request::Delete { name, version } => {
                write!(f, "DELETE {}", w(name.as_str()))?;
                write_option(f, "version", *version)
            }
            Request::Logs { lines } => write!(f, "LOGS lines={lines}"),
            Request::Users => f.write_str("USERS"),
            Request::UserAdd {
                user,
                role,
                password,
            } => write!(f, "USERADD {} {role} {}", w(user), w(&password.0)),
            Request::UserDel { user } => write!(f, "USERDEL {}", w(user)),
            Request::Passwd { user, password } => {
                write!(f, "PASSWD {} {}", w(user), w(&password.0))
            }
            Request::SetRole { user, role } => write!(f, "ROLE {} {role}", w(user)),
            Request::Ping => f.write_str("PING"),
            Request::Quit => f.write_str("QUIT"),
        }
    }
}

fn write_option<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    key: &str,
    value: Option<T>,
) -> fmt::Result {
    match value {
        Some(v) => write!(f, " {key}={v}"),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Upload frames

impl UploadFrame {
    /// Parses one line of an upload body.
    pub fn parse(line: &str) -> Result<UploadFrame, ProtocolError> {
        let (verb, rest) = split_verb(line)?;
        match verb {
            "DATA" => Ok(UploadFrame::Data(frame_length(rest)?)),
            "DONE" => {
                let mut a = Args::new("DONE", "DONE <md5>", rest);
                let md5 = a.parsed("md5", "32 hexadecimal digits")?;
                a.finish()?;
                Ok(UploadFrame::Done(md5))
            }
            "ABORT" => {
                Args::new("ABORT", "ABORT", rest).finish()?;
                Ok(UploadFrame::Abort)
            }
            other => Err(ProtocolError::Invalid {
                verb: "UPLOAD",
                field: "body line",
                text: other.chars().take(40).collect(),
                expected: "DATA <n>, DONE <md5> or ABORT",
            }),
        }
    }
}

impl fmt::Display for UploadFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UploadFrame::Data(n) => write!(f, "DATA {n}"),
            UploadFrame::Done(md5) => write!(f, "DONE {md5}"),
            UploadFrame::Abort => f.write_str("ABORT"),
        }
    }
}

// ---------------------------------------------------------------------------
// Replies

impl Reply {
    /// Parses one line sent by a server.
    pub fn parse(line: &str) -> Result<Reply, ProtocolError> {
        let (verb, rest) = split_verb(line)?;
        let reply = match verb {
            "FERRY" => {
                let (version, text) = rest.split_once(' ').unwrap_or((rest, ""));
                let version = parse_number(version).ok_or_else(|| ProtocolError::Invalid {
                    verb: "FERRY",
                    field: "version",
                    text: version.to_owned(),
                    expected: "a whole number",
                })?;
                Reply::Hello {
                    version,
                    text: text.to_owned(),
                }
            }
            "OK" => return parse_ok(rest),
            "ERR" => {
                let (code, message) = rest.split_once(' ').unwrap_or((rest, ""));
                let code = code.parse().map_err(|_| ProtocolError::Invalid {
                    verb: "ERR",
                    field: "code",
                    text: code.to_owned(),
                    expected: "an error code from docs/PROTOCOL.md",
                })?;
                Reply::Error {
                    code,
                    message: message.to_owned(),
                }
            }
            "FILE" => {
                let mut a = Args::new("FILE", "FILE <version fields> <versions>", rest);
                let current = version_fields(&mut a)?;
                let versions = a.number("versions")?;
                a.finish()?;
                Reply::File(FileEntry { current, versions })
            }
            "VERSION" => {
                let mut a = Args::new("VERSION", "VERSION <version fields>", rest);
                let info = version_fields(&mut a)?;
                a.finish()?;
                Reply::Version(info)
            }
            "DATA" => Reply::Data(frame_length(rest)?),
            "CHUNK" => {
                let mut a = Args::new("CHUNK", "CHUNK <index> <md5>", rest);
                let index = a.number("index")?;
                let md5 = a.parsed("md5", "32 hexadecimal digits")?;
                a.finish()?;
                Reply::Chunk { index, md5 }
            }
            "END" => {
                Args::new("END", "END", rest).finish()?;
                Reply::End
            }
            "LINE" => Reply::LogLine(rest.to_owned()),
            "USER" => {
                let mut a = Args::new("USER", "USER <name> <role>", rest);
                let name = a.word("name")?;
                let role = a.parsed("role", "admin or user")?;
                a.finish()?;
                Reply::User { name, role }
            }
            other => return Err(ProtocolError::UnknownVerb(shown_verb(other))),
        };
        Ok(reply)
    }

    /// An error reply.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Reply {
        Reply::Error {
            code,
            message: message.into(),
        }
    }
}

fn parse_ok(rest: &str) -> Result<Reply, ProtocolError> {
    if rest.trim().is_empty() {
        return Ok(Reply::Ok);
    }
    let (kind, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let reply = match kind {
        "BYE" => {
            Args::new("OK BYE", "OK BYE", rest).finish()?;
            Reply::Bye
        }
        "LOGIN" => {
            let mut a = Args::new("OK LOGIN", "OK LOGIN <role>", rest);
            let role = a.parsed("role", "admin or user")?;
            a.finish()?;
            Reply::LoggedIn(role)
        }
        "LIST" | "HISTORY" | "LOGS" | "USERS" => {
            let mut a = Args::new("OK", "OK <kind> <count>", rest);
            let count = a.number("count")?;
            a.finish()?;
            match kind {
                "LIST" => Reply::ListHeader(count),
                "HISTORY" => Reply::HistoryHeader(count),
                "LOGS" => Reply::LogsHeader(count),
                _ => Reply::UsersHeader(count),
            }
        }
        "STAT" => {
            let mut a = Args::new("OK STAT", "OK STAT <version fields>", rest);
            let info = version_fields(&mut a)?;
            a.finish()?;
            Reply::Stat(info)
        }
        "DOWNLOAD" => {
            let mut a = Args::new(
                "OK DOWNLOAD",
                "OK DOWNLOAD <version> <size> <md5> <offset> <length>",
                rest,
            );
            let reply = Reply::Download {
                version: a.number("version")?,
                size: a.number("size")?,
                md5: a.parsed("md5", "32 hexadecimal digits")?,
                offset: a.number("offset")?,
                length: a.number("length")?,
            };
            a.finish()?;
            reply
        }
        "CHUNKS" => {
            let mut a = Args::new("OK CHUNKS", "OK CHUNKS <chunk-size> <count>", rest);
            let chunk_size = a.number("chunk size")?;
            let count = a.number("count")?;
            a.finish()?;
            Reply::ChunksHeader { chunk_size, count }
        }
        "READY" => {
            let mut a = Args::new("OK READY", "OK READY <upload-id> <offset>", rest);
            let upload_id = a.word("upload id")?;
            let offset = a.number("offset")?;
            a.finish()?;
            Reply::Ready { upload_id, offset }
        }
        "STORED" => {
            let mut a = Args::new("OK STORED", "OK STORED <name> <version> <size> <md5>", rest);
            let reply = Reply::Stored {
                name: a.word("name")?,
                version: a.number("version")?,
                size: a.number("size")?,
                md5: a.parsed("md5", "32 hexadecimal digits")?,
            };
            a.finish()?;
            reply
        }
        "DELETED" => {
            let mut a = Args::new("OK DELETED", "OK DELETED <name> <count>", rest);
            let name = a.word("name")?;
            let versions = a.number("count")?;
            a.finish()?;
            Reply::Deleted { name, versions }
        }
        other => {
            return Err(ProtocolError::UnknownVerb(shown_verb(other)));
        }
    };
    Ok(reply)
}

fn version_fields(a: &mut Args<'_>) -> Result<VersionInfo, ProtocolError> {
    Ok(VersionInfo {
        name: a.word("name")?,
        version: a.number("version")?,
        size: a.number("size")?,
        md5: a.parsed("md5", "32 hexadecimal digits")?,
        modified: a.parsed("modified", "an ISO-8601 UTC time like 2026-11-21T16:41:07Z")?,
        uploader: a.word("uploader")?,
    })
}

struct VersionFields<'a>(&'a VersionInfo);

impl fmt::Display for VersionFields<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        write!(
            f,
            "{} {} {} {} {} {}",
            encode_word(&v.name),
            v.version,
            v.size,
            v.md5,
            v.modified,
            encode_word(&v.uploader)
        )
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = encode_word;
        match self {
            Reply::Hello { version, text } => write!(f, "FERRY {version} {}", line_text(text)),
            Reply::Ok => f.write_str("OK"),
            Reply::Bye => f.write_str("OK BYE"),
            Reply::LoggedIn(role) => write!(f, "OK LOGIN {role}"),
            Reply::ListHeader(n) => write!(f, "OK LIST {n}"),
            Reply::File(e) => write!(f, "FILE {} {}", VersionFields(&e.current), e.versions),
            Reply::Stat(v) => write!(f, "OK STAT {}", VersionFields(v)),
            Reply::HistoryHeader(n) => write!(f, "OK HISTORY {n}"),
            Reply::Version(v) => write!(f, "VERSION {}", VersionFields(v)),
            Reply::Download {
                version,
                size,
                md5,
                offset,
                length,
            } => write!(f, "OK DOWNLOAD {version} {size} {md5} {offset} {length}"),
            Reply::Data(n) => write!(f, "DATA {n}"),
            Reply::End => f.write_str("END"),
            Reply::Ready { upload_id, offset } => write!(f, "OK READY {} {offset}", w(upload_id)),
            Reply::ChunksHeader { chunk_size, count } => {
                write!(f, "OK CHUNKS {chunk_size} {count}")
            }
            Reply::Chunk { index, md5 } => write!(f, "CHUNK {index} {md5}"),
            Reply::Stored {
                name,
                version,
                size,
                md5,
            } => write!(f, "OK STORED {} {version} {size} {md5}", w(name)),
            Reply::Deleted { name, versions } => write!(f, "OK DELETED {} {versions}", w(name)),
            Reply::LogsHeader(n) => write!(f, "OK LOGS {n}"),
            Reply::LogLine(text) => write!(f, "LINE {}", line_text(text)),
            Reply::UsersHeader(n) => write!(f, "OK USERS {n}"),
            Reply::User { name, role } => write!(f, "USER {} {role}", w(name)),
            Reply::Error { code, message } => write!(f, "ERR {code} {}", line_text(message)),
        }
    }
}

#[cfg(test)]
mod tests;
