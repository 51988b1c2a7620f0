//! The rules for shared file names, in one place.
//!
//! A name that arrives from the network or a command line passes
//! [`validate_name`] before anything else looks at it. Names are labels in the
//! server's database, never paths: the server stores content under ids it
//! chooses itself. The rules still forbid everything that could be mistaken
//! for a path or forge a log line on any platform, so a name that is valid
//! here is also a safe file name to save under on the client.

use std::fmt;

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
    fn escaping_keeps_one_line() {
        let shown = escaped("a\nb\x1b[0m\"c\"").to_string();
        assert_eq!(shown, r#""a\nb\u{1b}[0m\"c\"""#);
        assert!(!shown.contains('\n'));
    }
}
