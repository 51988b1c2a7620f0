//! Paths into the shared folders: `a/b/c.txt`, each part a name checked by
//! the one name rule ([`validate_name`]), parts joined by `/`.
//!
//! A [`FilePath`] can only be built valid, as a [`FileName`] can: holding
//! one is the proof of the check. A file name is a one-part path, so every
//! flat name of before folders existed is a path with the same text and
//! the same refusals (a path without a `/` is refused exactly as the name
//! rule refuses it). The root folder is no path: where a request can name
//! the root, it names no path at all.
//!
//! Paths are labels in the server's database, like names; the server never
//! joins one to a folder on its disk. A client that saves a download under
//! a path joins it part by part (each part is one path component, see the
//! `names` module), so a valid path cannot leave the folder it is saved in.

use std::fmt;

use super::{FileName, NameError, validate_name};

/// The longest path accepted, in bytes of UTF-8 (`/` separators included).
///
/// Chosen so that the longest request holding two paths (`MOVE`) fits the
/// 4096-byte line cap even when every byte of both is a space sent as
/// `%20`: 5 + 3 × 640 + 1 + 3 × 640 + 1 < 4096.
pub const MAX_PATH_BYTES: usize = 640;

/// The most parts a path can have (folders and the file's own name).
pub const MAX_PATH_DEPTH: usize = 32;

/// Why a path was refused. Each reads as a sentence fragment after
/// "the name … is not allowed: ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// A path without `/` that breaks the name rule: the rule's own words.
    #[error("{0}")]
    Name(NameError),
    /// An empty part: a leading or trailing `/`, or `//`.
    #[error("a path cannot start or end with \"/\" or contain \"//\"")]
    EmptyPart,
    /// A part that breaks the name rule.
    #[error("its part {part} ({shown}) breaks the name rule: {reason}")]
    Part {
        /// Which part, counted from 1.
        part: usize,
        /// The part, escaped for showing.
        shown: String,
        /// Why it is refused.
        reason: NameError,
    },
    /// Longer than [`MAX_PATH_BYTES`].
    #[error("a path can be at most {MAX_PATH_BYTES} bytes long (this one has {0})")]
    TooLong(usize),
    /// More parts than [`MAX_PATH_DEPTH`].
    #[error("a path can have at most {MAX_PATH_DEPTH} parts, folders included (this one has {0})")]
    TooDeep(usize),
}

/// Checks a path against Ferry's rules.
pub fn validate_path(path: &str) -> Result<(), PathError> {
    if !path.contains('/') {
        return validate_name(path).map_err(PathError::Name);
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(PathError::TooLong(path.len()));
    }
    let parts = path.split('/').count();
    if parts > MAX_PATH_DEPTH {
        return Err(PathError::TooDeep(parts));
    }
    for (i, part) in path.split('/').enumerate() {
        if part.is_empty() {
            return Err(PathError::EmptyPart);
        }
        validate_name(part).map_err(|reason| PathError::Part {
            part: i + 1,
            shown: format!("{part:?}"),
            reason,
        })?;
    }
    Ok(())
}

/// A path that passed Ferry's rules: it can only be built by
/// [`FilePath::new`] (or `TryFrom`, or from a [`FileName`]).
///
/// A flat name is a one-part path with the same text. Paths are labels in
/// the server's database, never joined to a folder on its disk; a client
/// saving under one joins it part by part, each part one path component.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FilePath(String);

impl FilePath {
    /// `path` if it is allowed, or why not.
    pub fn new(path: String) -> Result<FilePath, PathError> {
        validate_path(&path)?;
        Ok(FilePath(path))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }

    /// Its parts, outermost folder first; the last is the file's (or
    /// folder's) own name. Each is a valid name.
    pub fn parts(&self) -> impl DoubleEndedIterator<Item = &str> + '_ {
        self.0.split('/')
    }

    /// How many parts it has (1 for a flat name).
    pub fn depth(&self) -> usize {
        self.parts().count()
    }

    /// Its last part: the name it has inside its folder.
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The folder holding it; `None` for the root.
    pub fn parent(&self) -> Option<FilePath> {
        self.0
            .rsplit_once('/')
            .map(|(parent, _)| FilePath(parent.to_owned()))
    }

    /// The folders holding it, outermost first (empty for a flat name).
    pub fn ancestors(&self) -> Vec<FilePath> {
        self.0
            .match_indices('/')
            .map(|(at, _)| FilePath(self.0[..at].to_owned()))
            .collect()
    }

    /// Whether it lies inside `folder`, at any depth (not `folder` itself).
    pub fn is_inside(&self, folder: &FilePath) -> bool {
        self.0.len() > folder.0.len()
            && self.0.starts_with(&folder.0)
            && self.0.as_bytes()[folder.0.len()] == b'/'
    }

    /// `name` inside this folder, if the result is not too long or deep.
    pub fn join(&self, name: &FileName) -> Result<FilePath, PathError> {
        FilePath::new(format!("{}/{name}", self.0))
    }

    /// `name` inside `folder` (`None` for the root).
    pub fn child(folder: Option<&FilePath>, name: &FileName) -> Result<FilePath, PathError> {
        match folder {
            Some(folder) => folder.join(name),
            None => Ok(FilePath::from(name.clone())),
        }
    }

    /// The same path with its last part replaced by `name` (a sibling).
    pub fn with_name(&self, name: &FileName) -> Result<FilePath, PathError> {
        FilePath::child(self.parent().as_ref(), name)
    }

    /// The path this one gets when `from` (itself or a folder holding it)
    /// moves to `to`; `None` if it is not `from` nor inside it.
    pub fn moved(&self, from: &FilePath, to: &FilePath) -> Option<Result<FilePath, PathError>> {
        if self == from {
            return Some(Ok(to.clone()));
        }
        self.is_inside(from)
            .then(|| FilePath::new(format!("{}{}", to.0, &self.0[from.0.len()..])))
    }
}

impl From<FileName> for FilePath {
    fn from(name: FileName) -> FilePath {
        FilePath(name.into_string())
    }
}

impl TryFrom<String> for FilePath {
    type Error = PathError;
    fn try_from(path: String) -> Result<FilePath, PathError> {
        FilePath::new(path)
    }
}

impl TryFrom<&str> for FilePath {
    type Error = PathError;
    fn try_from(path: &str) -> Result<FilePath, PathError> {
        FilePath::new(path.to_owned())
    }
}

impl std::str::FromStr for FilePath {
    type Err = PathError;
    fn from_str(path: &str) -> Result<FilePath, PathError> {
        FilePath::try_from(path)
    }
}

/// Usable wherever text is read; the way back is only the check.
impl std::ops::Deref for FilePath {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for FilePath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for FilePath {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for FilePath {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl From<FilePath> for String {
    fn from(path: FilePath) -> String {
        path.0
    }
}

impl serde::Serialize for FilePath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for FilePath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<FilePath, D::Error> {
        let text = String::deserialize(d)?;
        FilePath::new(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> FilePath {
        FilePath::new(text.to_owned()).unwrap()
    }

    #[test]
    fn accepts_flat_names_and_nested_paths() {
        for ok in [
            "report.pdf",
            "a/b/c.txt",
            "Übersicht/März 2026/bericht.txt",
            ".config/a..b",
            "x/%2e%2e",
        ] {
            assert_eq!(validate_path(ok), Ok(()), "{ok}");
            assert_eq!(p(ok).as_str(), ok);
        }
        let deep = vec!["d"; MAX_PATH_DEPTH].join("/");
        assert_eq!(validate_path(&deep), Ok(()));
        let long = format!(
            "{}/{}/{}",
            "a".repeat(255),
            "b".repeat(255),
            "c".repeat(MAX_PATH_BYTES - 512)
        );
        assert_eq!(long.len(), MAX_PATH_BYTES);
        assert_eq!(validate_path(&long), Ok(()));
    }

    #[test]
    fn refuses_hostile_paths() {
        use PathError::*;
        let part = |part, shown: &str, reason| Part {
            part,
            shown: shown.to_owned(),
            reason,
        };
        let cases: Vec<(&str, PathError)> = vec![
            ("", Name(NameError::Empty)),
            ("..", Name(NameError::DotName)),
            ("a\\b", Name(NameError::Separator('\\'))),
            ("C:", Name(NameError::Separator(':'))),
            ("/etc/passwd", EmptyPart),
            ("a/", EmptyPart),
            ("a//b", EmptyPart),
            ("/", EmptyPart),
            ("../etc", part(1, "\"..\"", NameError::DotName)),
            ("a/../b", part(2, "\"..\"", NameError::DotName)),
            ("a/./b", part(2, "\".\"", NameError::DotName)),
            (
                "a/b\\..\\c",
                part(2, "\"b\\\\..\\\\c\"", NameError::Separator('\\')),
            ),
            ("C:/x", part(1, "\"C:\"", NameError::Separator(':'))),
            ("a/ b", part(2, "\" b\"", NameError::EdgeSpace)),
            ("a/b\nc", part(2, "\"b\\nc\"", NameError::Control(10))),
        ];
        for (path, want) in cases {
            assert_eq!(validate_path(path), Err(want.clone()), "{path:?}");
            assert_eq!(FilePath::new(path.to_owned()), Err(want), "{path:?}");
        }
        let deep = vec!["d"; MAX_PATH_DEPTH + 1].join("/");
        assert_eq!(validate_path(&deep), Err(TooDeep(MAX_PATH_DEPTH + 1)));
        let long = format!(
            "{}/{}/{}",
            "a".repeat(255),
            "b".repeat(255),
            "c".repeat(MAX_PATH_BYTES - 511)
        );
        assert_eq!(validate_path(&long), Err(TooLong(MAX_PATH_BYTES + 1)));
        let part_too_long = format!("a/{}", "x".repeat(256));
        assert!(matches!(
            validate_path(&part_too_long),
            Err(Part {
                part: 2,
                reason: NameError::TooLong(256),
                ..
            })
        ));
        // A flat name keeps the name rule's own refusal, even when long.
        assert_eq!(
            validate_path(&"x".repeat(700)),
            Err(Name(NameError::TooLong(700)))
        );
    }

    #[test]
    fn messages_read_as_sentences() {
        let e = validate_path("a/../b").unwrap_err().to_string();
        assert_eq!(
            e,
            "its part 2 (\"..\") breaks the name rule: a file name cannot be \".\" or \"..\""
        );
        assert_eq!(
            validate_path("..").unwrap_err().to_string(),
            NameError::DotName.to_string()
        );
    }

    #[test]
    fn parts_parents_and_moves() {
        let path = p("a/b/c.txt");
        assert_eq!(path.parts().collect::<Vec<_>>(), ["a", "b", "c.txt"]);
        assert_eq!(path.depth(), 3);
        assert_eq!(path.name(), "c.txt");
        assert_eq!(path.parent(), Some(p("a/b")));
        assert_eq!(path.ancestors(), [p("a"), p("a/b")]);
        assert_eq!(p("flat").parent(), None);
        assert!(p("flat").ancestors().is_empty());
        assert_eq!(p("flat").name(), "flat");
        assert!(path.is_inside(&p("a")));
        assert!(path.is_inside(&p("a/b")));
        assert!(!path.is_inside(&path));
        assert!(!p("ab/c").is_inside(&p("a")));
        let name = FileName::new("d".to_owned()).unwrap();
        assert_eq!(path.join(&name), Ok(p("a/b/c.txt/d")));
        assert_eq!(path.with_name(&name), Ok(p("a/b/d")));
        assert_eq!(FilePath::child(None, &name), Ok(p("d")));
        assert_eq!(path.moved(&p("a"), &p("x/y")), Some(Ok(p("x/y/b/c.txt"))));
        assert_eq!(path.moved(&path, &p("z")), Some(Ok(p("z"))));
        assert_eq!(path.moved(&p("b"), &p("z")), None);
        let deep = p(&vec!["d"; MAX_PATH_DEPTH - 1].join("/"));
        assert!(deep.join(&name).is_ok());
        assert!(matches!(
            deep.join(&name).unwrap().join(&name),
            Err(PathError::TooDeep(_))
        ));
    }

    #[test]
    fn paths_in_json_are_checked() {
        let path: FilePath = serde_json::from_str(r#""a/b.txt""#).unwrap();
        assert_eq!(path, "a/b.txt");
        assert_eq!(serde_json::to_string(&path).unwrap(), r#""a/b.txt""#);
        let flat: FilePath = serde_json::from_str(r#""old.txt""#).unwrap();
        assert_eq!(flat, "old.txt");
        assert!(serde_json::from_str::<FilePath>(r#""a/../b""#).is_err());
    }
}
