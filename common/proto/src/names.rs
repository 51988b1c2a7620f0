//! The rules for shared file names, in one place.
//!
//! A name that arrives from the network or a command line becomes a
//! [`FileName`] before anything else looks at it; [`FileName::new`] is the
//! one place the rules are checked ([`validate_name`] is the same check for
//! text that is only tested). Names are labels in the
//! server's database, never paths: the server stores content under ids it
//! chooses itself. The rules still forbid everything that could be mistaken
//! for a path or forge a log line on any platform, so a valid name is always
//! one path component: joined to a folder, it cannot leave that folder.
//!
//! A valid name is not always a file name the client's system will create,
//! though. Windows refuses `CON`, `NUL.txt`, `a?b` and `notes.`, all valid
//! here. A client that saves a download under the server's name (the user
//! gave no file name) first validates it, then saves under
//! [`local_file_name`], which maps it to a name the local system accepts by
//! the rule documented at [`local_file_name_for`]; when that differs from the
//! server's name, the client says so. The mapping is for saving only: the
//! server, the logs and the name recorded in a resume sidecar stay the
//! server's; the `.part` file and its sidecar sit beside the local file.
//!
//! Folders: a [`FilePath`] (`a/b/c.txt`) is names joined by `/`, each part
//! checked by the same rule; a flat name is a one-part path (see
//! [`FilePath`] and [`validate_path`]).
//!
//! This module does not touch the file system.

use std::borrow::Cow;
use std::fmt;

mod file_name;
mod path;

pub use self::file_name::{FileName, UncheckedName};
pub use self::path::{FilePath, MAX_PATH_BYTES, MAX_PATH_DEPTH, PathError, validate_path};

/// The longest name accepted, in bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 255;

/// Why a file name was refused. Each reads as a sentence fragment after
/// "the name … is not allowed: ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("a file name cannot be empty")]
    Empty,
    /// The name is longer than [`MAX_NAME_BYTES`].
    #[error("a file name can be at most {MAX_NAME_BYTES} bytes long (this one has {0})")]
    TooLong(usize),
    /// `.` or `..`.
    #[error("a file name cannot be \".\" or \"..\"")]
    DotName,
    /// A path separator or drive marker.
    #[error("a file name cannot contain {0:?} (no folders or drive letters)")]
    Separator(char),
    /// A control or invisible formatting character.
    #[error(
        "a file name cannot contain control or invisible formatting characters (found U+{0:04X})"
    )]
    Control(u32),
    /// Leading or trailing white space.
    #[error("a file name cannot start or end with white space")]
    EdgeSpace,
}

/// Checks a file name against Ferry's rules.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong(name.len()));
    }
    if name == "." || name == ".." {
        return Err(NameError::DotName);
    }
    if let Some(c) = name.chars().find(|c| matches!(c, '/' | '\\' | ':')) {
        return Err(NameError::Separator(c));
    }
    if let Some(c) = name.chars().find(|&c| is_forbidden_char(c)) {
        return Err(NameError::Control(c as u32));
    }
    if name.starts_with(char::is_whitespace) || name.ends_with(char::is_whitespace) {
        return Err(NameError::EdgeSpace);
    }
    Ok(())
}

/// Control characters, plus the invisible ones that can make a name display
/// as something it is not (bidirectional overrides, line separators).
fn is_forbidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// The name under which the `n`th copy of `name` is stored by the `rename`
/// conflict policy: `report.pdf` → `report_v2.pdf`, `notes` → `notes_v2`,
/// `.profile` → `.profile_v2`.
///
/// The stem is shortened (at a character boundary) when needed so the
/// result still fits [`MAX_NAME_BYTES`].
pub fn versioned_name(name: &str, n: u32) -> String {
    let tag = format!("_v{n}");
    let (stem, ext) = match name.rfind('.') {
        // An "extension" too long to keep beside the tag is just part of the name.
        Some(dot) if dot > 0 && name.len() - dot + tag.len() < MAX_NAME_BYTES => name.split_at(dot),
        _ => (name, ""),
    };
    let room = MAX_NAME_BYTES.saturating_sub(tag.len() + ext.len());
    let mut cut = stem.len().min(room);
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{tag}{ext}", stem[..cut].trim_end())
}

/// The kind of system a download is saved on, which decides
/// [`local_file_name_for`]'s rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LocalOs {
    /// Windows: reserved device names, `< > : " / \ | ? *`, control
    /// characters and a trailing dot or space cannot be saved.
    Windows,
    /// macOS: `:` is shown as `/` in the Finder.
    MacOs,
    /// Linux and other Unix-like systems: names are kept as they are (every
    /// valid name is a legal file name there, though a FAT or SMB file
    /// system mounted there may still refuse some).
    Other,
}

impl LocalOs {
    /// The system this program was built for.
    pub fn current() -> LocalOs {
        if cfg!(target_os = "windows") {
            LocalOs::Windows
        } else if cfg!(target_os = "macos") {
            LocalOs::MacOs
        } else {
            LocalOs::Other
        }
    }
}

impl fmt::Display for LocalOs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LocalOs::Windows => "Windows",
            LocalOs::MacOs => "macOS",
            LocalOs::Other => "this system",
        })
    }
}

/// [`local_file_name_for`] on the system this program runs on.
pub fn local_file_name(name: &str) -> Cow<'_, str> {
    local_file_name_for(name, LocalOs::current())
}

/// The file name under which a download of `name` is saved on `os` when the
/// user did not choose one. `name` must have passed [`validate_name`]: this
/// function makes a valid name savable, it does not make an arbitrary string
/// safe to join to a path.
///
/// The rule:
///
/// - **Windows.** Each of `<` `>` `:` `"` `/` `\` `|` `?` `*` and each
///   control character U+0000–U+001F becomes `_` (`a?b` → `a_b`). A trailing
///   `.` or space becomes `_` (`notes.` → `notes_`). Then, if the part before
///   the first `.`, ignoring trailing spaces and case, is a reserved device
///   name (`CON`, `PRN`, `AUX`, `NUL`, `COM1`–`COM9`, `LPT1`–`LPT9`,
///   `COM¹`–`COM³`, `LPT¹`–`LPT³`), a `_` is put in front (`CON` → `_CON`,
///   `nul.tar.gz` → `_nul.tar.gz`). If that `_` would make the name longer
///   than [`MAX_NAME_BYTES`], the character just before the last `.` is
///   dropped to make room.
/// - **macOS.** `:` becomes `_` (the Finder shows `:` as `/`). Valid names
///   never hold `:`, so in practice nothing changes.
/// - **Other systems** (Linux, BSD): the name is unchanged.
///
/// The result of a valid name is itself valid, and mapping it again changes
/// nothing. Two different names can map to the same local name (`a?b` and
/// `a_b` on Windows); a client saving several files into one folder checks
/// for that.
pub fn local_file_name_for(name: &str, os: LocalOs) -> Cow<'_, str> {
    match os {
        LocalOs::Windows => windows_file_name(name),
        LocalOs::MacOs => replace_chars(name, |c| c == ':'),
        LocalOs::Other => Cow::Borrowed(name),
    }
}

fn windows_file_name(name: &str) -> Cow<'_, str> {
    let mut local = replace_chars(name, |c| {
        matches!(
            c,
            '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*' | '\0'..='\x1f'
        )
    });
    // Windows silently drops a trailing dot or space, so "notes." would be
    // saved as "notes" (or refused); keep the character, visibly.
    if local.ends_with(['.', ' ']) {
        let text = local.to_mut();
        text.pop();
        text.push('_');
    }
    if is_windows_device_name(&local) {
        let text = local.to_mut();
        text.insert(0, '_');
        if text.len() > MAX_NAME_BYTES {
            // A reserved stem is followed by a '.', so there is one; the
            // character before the last one is never the '_' just added.
            let dot = text.rfind('.').unwrap_or(text.len());
            if let Some((at, _)) = text[..dot].char_indices().next_back() {
                text.remove(at);
            }
        }
    }
    local
}

/// Whether Windows takes `name` for a device: its part before the first
/// `.`, trailing spaces ignored, is a reserved name in any case.
fn is_windows_device_name(name: &str) -> bool {
    let stem = name
        .split('.')
        .next()
        .unwrap_or_default()
        .trim_end_matches(' ');
    if ["CON", "PRN", "AUX", "NUL"]
        .iter()
        .any(|device| stem.eq_ignore_ascii_case(device))
    {
        return true;
    }
    let Some((port, number)) = stem.get(..3).zip(stem.get(3..)) else {
        return false;
    };
    (port.eq_ignore_ascii_case("COM") || port.eq_ignore_ascii_case("LPT"))
        && matches!(
            number,
            "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "¹" | "²" | "³"
        )
}

/// `text` with every character for which `bad` holds replaced by `_`,
/// borrowed when there is none.
fn replace_chars(text: &str, bad: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&bad) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().map(|c| if bad(c) { '_' } else { c }).collect())
}

/// Shows untrusted text in a log line: quoted, with control characters,
/// quotes and backslashes escaped, so it can never start a forged line or
/// send escape sequences to a terminal.
pub fn escaped(text: &str) -> impl fmt::Display + '_ {
    Escaped(text)
}

struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Debug formatting of str escapes quotes, backslashes, and every
        // control and non-printable character.
        write!(f, "{:?}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for ok in [
            "report.pdf",
            "Quarterly report 2026.xlsx",
            "Übersicht – März.txt",
            "日本語のファイル",
            ".profile",
            "a..b",
            "%2e%2e",
            "100% done",
        ] {
            assert_eq!(validate_name(ok), Ok(()), "{ok}");
        }
        assert_eq!(validate_name(&"é".repeat(127)), Ok(()));
    }

    #[test]
    fn refuses_paths_and_tricks() {
        use NameError::*;
        let cases: &[(&str, NameError)] = &[
            ("", Empty),
            (".", DotName),
            ("..", DotName),
            ("../etc/passwd", Separator('/')),
            ("a/b", Separator('/')),
            ("..\\windows", Separator('\\')),
            ("C:", Separator(':')),
            ("C:\\boot.ini", Separator(':')),
            ("nul\0byte", Control(0)),
            ("line\nbreak", Control(10)),
            ("bell\x07", Control(7)),
            ("\x1b[31mred", Control(0x1b)),
            ("del\x7f", Control(0x7f)),
            ("c1\u{85}", Control(0x85)),
            ("evil\u{202E}fdp.exe", Control(0x202E)),
            (" leading", EdgeSpace),
            ("trailing ", EdgeSpace),
        ];
        for (name, want) in cases {
            assert_eq!(validate_name(name).as_ref(), Err(want), "{name:?}");
        }
        assert_eq!(validate_name(&"x".repeat(256)), Err(TooLong(256)));
        assert_eq!(validate_name(&"é".repeat(128)), Err(TooLong(256)));
    }

    #[test]
    fn file_names_are_built_only_valid() {
        for ok in ["report.pdf", ".profile", "Übersicht – März.txt", "a..b"] {
            let name = FileName::new(ok.to_owned()).unwrap();
            assert_eq!(name.as_str(), ok);
            assert_eq!(name.to_string(), ok);
            assert_eq!(name, ok);
            assert_eq!(ok.parse::<FileName>(), Ok(name.clone()));
            assert_eq!(FileName::try_from(ok), Ok(name.clone()));
            let unchecked = UncheckedName::from(name.clone());
            assert_eq!(unchecked.as_str(), ok);
            assert_eq!(unchecked.check(), Ok(name.clone()));
            assert_eq!(String::from(name), ok);
        }
        for (bad, why) in [
            ("", NameError::Empty),
            ("..", NameError::DotName),
            ("a/b", NameError::Separator('/')),
            ("a\\b", NameError::Separator('\\')),
            ("bell\x07", NameError::Control(7)),
            (" x", NameError::EdgeSpace),
        ] {
            assert_eq!(FileName::new(bad.to_owned()), Err(why.clone()), "{bad:?}");
            assert_eq!(validate_name(bad), Err(why.clone()), "{bad:?}");
            let unchecked = UncheckedName::from(bad);
            assert_eq!(unchecked.as_str(), bad);
            assert_eq!(unchecked.check(), Err(why), "{bad:?}");
        }
        assert_eq!(FileName::new("x".repeat(256)), Err(NameError::TooLong(256)));
    }

    #[test]
    fn file_names_in_json_are_checked() {
        #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
        struct Record {
            name: FileName,
        }
        let record = Record {
            name: FileName::new("a b.txt".to_owned()).unwrap(),
        };
        let json = serde_json::to_string(&record).unwrap();
        assert_eq!(json, r#"{"name":"a b.txt"}"#);
        assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), record);
        let bad = serde_json::from_str::<Record>(r#"{"name":"../etc"}"#).unwrap_err();
        assert!(bad.to_string().contains("'/'"), "{bad}");
    }

    #[test]
    fn versioned_names() {
        assert_eq!(versioned_name("report.pdf", 2), "report_v2.pdf");
        assert_eq!(versioned_name("notes", 3), "notes_v3");
        assert_eq!(versioned_name(".profile", 2), ".profile_v2");
        assert_eq!(versioned_name("a.tar.gz", 2), "a.tar_v2.gz");
        assert_eq!(versioned_name("Übersicht.txt", 10), "Übersicht_v10.txt");
        let long = format!("{}.txt", "é".repeat(125));
        assert_eq!(validate_name(&long), Ok(()));
        let renamed = versioned_name(&long, 2);
        assert!(
            renamed.len() <= MAX_NAME_BYTES && renamed.ends_with("_v2.txt"),
            "{renamed}"
        );
        assert_eq!(validate_name(&renamed), Ok(()));
        let odd = format!("a.{}", "x".repeat(253));
        let renamed = versioned_name(&odd, 2);
        assert!(
            renamed.len() <= MAX_NAME_BYTES && renamed.ends_with("_v2"),
            "{renamed}"
        );
    }

    #[test]
    fn local_names_by_system() {
        use LocalOs::*;
        let long_con = format!("CON.{}.txt", "x".repeat(247));
        let long_con_local = format!("_CON.{}.txt", "x".repeat(246));
        let long_dotless = format!("con.{}a", "é".repeat(125));
        let long_dotless_local = format!("_co.{}a", "é".repeat(125));
        let cases: &[(&str, LocalOs, &str)] = &[
            // Ordinary names are kept everywhere.
            ("report.pdf", Windows, "report.pdf"),
            ("Übersicht März.txt", Windows, "Übersicht März.txt"),
            (".profile", Windows, ".profile"),
            ("a..b", Windows, "a..b"),
            ("CONTRACT.pdf", Windows, "CONTRACT.pdf"),
            ("console", Windows, "console"),
            ("COM10", Windows, "COM10"),
            ("COM0", Windows, "COM0"),
            ("LPT", Windows, "LPT"),
            ("my CON.txt", Windows, "my CON.txt"),
            ("notes.CON", Windows, "notes.CON"),
            // Characters Windows refuses.
            ("a?b", Windows, "a_b"),
            ("<>\"|?*.txt", Windows, "______.txt"),
            ("why?.txt", Windows, "why_.txt"),
            // Refused by validate_name, mapped anyway.
            ("a:b/c\\d", Windows, "a_b_c_d"),
            ("tab\there\x1f", Windows, "tab_here_"),
            // A trailing dot or space.
            ("trailing.", Windows, "trailing_"),
            ("a..", Windows, "a._"),
            ("a .", Windows, "a _"),
            ("trailing ", Windows, "trailing_"),
            // Reserved device names, with or without extensions, any case.
            ("CON", Windows, "_CON"),
            ("CON.txt", Windows, "_CON.txt"),
            ("con.txt", Windows, "_con.txt"),
            ("Nul.tar.gz", Windows, "_Nul.tar.gz"),
            ("PRN", Windows, "_PRN"),
            ("aux.c", Windows, "_aux.c"),
            ("COM1", Windows, "_COM1"),
            ("com9.log", Windows, "_com9.log"),
            ("LPT5", Windows, "_LPT5"),
            ("COM¹", Windows, "_COM¹"),
            ("lpt³.txt", Windows, "_lpt³.txt"),
            ("CON .txt", Windows, "_CON .txt"),
            ("NUL..txt", Windows, "_NUL..txt"),
            // Steps combine: the dot goes first, then the stem is checked.
            ("CON.", Windows, "CON_"),
            ("CON..", Windows, "_CON._"),
            ("NUL?.txt", Windows, "NUL_.txt"),
            // The prefix never makes a name too long.
            (&long_con, Windows, &long_con_local),
            (&long_dotless, Windows, &long_dotless_local),
            // macOS: only ':' (which validate_name refuses anyway).
            ("a:b", MacOs, "a_b"),
            ("CON", MacOs, "CON"),
            ("a?b", MacOs, "a?b"),
            ("trailing.", MacOs, "trailing."),
            // Elsewhere: unchanged.
            ("CON", Other, "CON"),
            ("a?b*", Other, "a?b*"),
            ("trailing.", Other, "trailing."),
        ];
        for &(name, os, want) in cases {
            let got = local_file_name_for(name, os);
            assert_eq!(got, want, "{name:?} on {os}");
            assert_eq!(
                local_file_name_for(&got, os),
                got,
                "mapping {name:?} on {os} again changes it"
            );
            if validate_name(name).is_ok() {
                assert_eq!(validate_name(&got), Ok(()), "{name:?} on {os} -> {got:?}");
            }
        }
        assert_eq!(validate_name(&long_con), Ok(()));
        assert_eq!(long_con.len(), MAX_NAME_BYTES);
        assert_eq!(validate_name(&long_dotless), Ok(()));
        assert_eq!(long_dotless.len(), MAX_NAME_BYTES);
    }

    #[test]
    fn unchanged_names_are_borrowed() {
        for os in [LocalOs::Windows, LocalOs::MacOs, LocalOs::Other] {
            assert!(matches!(
                local_file_name_for("report.pdf", os),
                Cow::Borrowed("report.pdf")
            ));
        }
        assert_eq!(local_file_name("report.pdf"), "report.pdf");
    }

    #[test]
    fn the_current_system_is_the_target() {
        let want = if cfg!(windows) {
            LocalOs::Windows
        } else if cfg!(target_os = "macos") {
            LocalOs::MacOs
        } else {
            LocalOs::Other
        };
        assert_eq!(LocalOs::current(), want);
        assert_eq!(local_file_name("CON"), local_file_name_for("CON", want));
        assert_eq!(LocalOs::Windows.to_string(), "Windows");
        assert_eq!(LocalOs::MacOs.to_string(), "macOS");
    }

    #[test]
    fn every_valid_name_maps_to_a_valid_stable_name() {
        // Short names built from the characters that matter, exhaustively.
        let alphabet = ["C", "O", "N", "1", "¹", ".", " ", "?", "é", "a"];
        let mut names = vec![String::new()];
        for _ in 0..4 {
            names = names
                .iter()
                .flat_map(|n| alphabet.iter().map(move |c| format!("{n}{c}")))
                .collect();
            for name in &names {
                if validate_name(name).is_err() {
                    continue;
                }
                for os in [LocalOs::Windows, LocalOs::MacOs, LocalOs::Other] {
                    let local = local_file_name_for(name, os);
                    assert_eq!(validate_name(&local), Ok(()), "{name:?} on {os}");
                    assert_eq!(local_file_name_for(&local, os), local, "{name:?} on {os}");
                    if os == LocalOs::Windows {
                        assert!(!is_windows_device_name(&local), "{name:?} -> {local:?}");
                        assert!(!local.ends_with(['.', ' ']), "{name:?} -> {local:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn escaping_keeps_one_line() {
        let shown = escaped("a\nb\x1b[0m\"c\"").to_string();
        assert_eq!(shown, r#""a\nb\u{1b}[0m\"c\"""#);
        assert!(!shown.contains('\n'));
    }
}
