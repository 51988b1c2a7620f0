//! The two types a file name has: [`FileName`], checked by Ferry's rules,
//! and [`UncheckedName`], as a request carries it before the check.

use std::fmt;

use super::{FilePath, NameError, PathError, validate_name};

/// A file name that passed Ferry's rules: it can only be built by
/// [`FileName::new`] (or `TryFrom`), so holding one is the proof of the check.
///
/// Requests do not carry a `FileName` but an [`UncheckedName`]: the parser
/// takes any name text, and the server turns it into a `FileName` in one
/// place, after the login and role checks, where a bad name has always been
/// refused (`ERR BAD_NAME`, an upload's body still swallowed). Validating in
/// the parser instead would reorder the errors a client gets (a bad name
/// would beat `NOT_LOGGED_IN`, and turn into `BAD_REQUEST`). Everything past
/// that point (handlers, the store, the database) takes `&FileName`, so the
/// check cannot be forgotten. Names in replies stay `String`: a client
/// checks a server's name only where it uses one as a local file name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileName(String);

impl FileName {
    /// `name` if it is allowed, or why not.
    pub fn new(name: String) -> Result<FileName, NameError> {
        validate_name(&name)?;
        Ok(FileName(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl TryFrom<String> for FileName {
    type Error = NameError;
    fn try_from(name: String) -> Result<FileName, NameError> {
        FileName::new(name)
    }
}

impl TryFrom<&str> for FileName {
    type Error = NameError;
    fn try_from(name: &str) -> Result<FileName, NameError> {
        FileName::new(name.to_owned())
    }
}

impl std::str::FromStr for FileName {
    type Err = NameError;
    fn from_str(name: &str) -> Result<FileName, NameError> {
        FileName::try_from(name)
    }
}

/// A `FileName` is usable wherever text is read (`escaped(&name)`,
/// `name.len()`); the way back, text to `FileName`, is only the check.
impl std::ops::Deref for FileName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for FileName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for FileName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for FileName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl From<FileName> for String {
    fn from(name: FileName) -> String {
        name.0
    }
}

impl serde::Serialize for FileName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for FileName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<FileName, D::Error> {
        let text = String::deserialize(d)?;
        FileName::new(text).map_err(serde::de::Error::custom)
    }
}

/// A file name as a request carries it: any text, not yet checked. The
/// parser builds one from the line, a client from its [`FileName`] (or,
/// where the server is to judge the name, from plain text); the server
/// makes it a [`FileName`] with [`UncheckedName::check`] before using it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UncheckedName(String);

impl UncheckedName {
    /// The name as sent, whatever it is.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as a [`FileName`], if it is allowed.
    pub fn check(&self) -> Result<FileName, NameError> {
        FileName::new(self.0.clone())
    }

    /// The text as a [`FilePath`] (a flat name is a one-part path), if it
    /// is allowed.
    pub fn check_path(&self) -> Result<FilePath, PathError> {
        FilePath::new(self.0.clone())
    }
}

impl From<String> for UncheckedName {
    fn from(name: String) -> UncheckedName {
        UncheckedName(name)
    }
}

impl From<&str> for UncheckedName {
    fn from(name: &str) -> UncheckedName {
        UncheckedName(name.to_owned())
    }
}

impl From<FileName> for UncheckedName {
    fn from(name: FileName) -> UncheckedName {
        UncheckedName(name.0)
    }
}

impl From<FilePath> for UncheckedName {
    fn from(path: FilePath) -> UncheckedName {
        UncheckedName(path.into_string())
    }
}

impl From<&FilePath> for UncheckedName {
    fn from(path: &FilePath) -> UncheckedName {
        UncheckedName(path.as_str().to_owned())
    }
}

impl From<&FileName> for UncheckedName {
    fn from(name: &FileName) -> UncheckedName {
        UncheckedName(name.0.clone())
    }
}
