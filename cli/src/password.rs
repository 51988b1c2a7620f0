//! Where passwords come from: an environment variable, or a prompt without
//! echo when a person is at the terminal. Never from an argument, which would
//! leak into `ps`, shell history and CI logs.

use std::ffi::OsString;
use std::io::{self, IsTerminal};

use anyhow::{Context as _, Result};

use crate::exit::Failure;

/// The login password.
pub const PASSWORD_ENV: &str = "FERRY_PASSWORD";
/// The password for `users add` and `users passwd`.
pub const NEW_PASSWORD_ENV: &str = "FERRY_NEW_PASSWORD";

/// The password to log in as `user`.
pub fn login_password(user: &str) -> Result<String> {
    if let Some(password) = from_env(PASSWORD_ENV, std::env::var_os(PASSWORD_ENV))? {
        return Ok(password);
    }
    if !io::stdin().is_terminal() {
        return Err(Failure::usage(format!(
            "no password given; set {PASSWORD_ENV} or run ferry-cli on a terminal to be asked \
             (passwords are never accepted as arguments)"
        ))
        .into());
    }
    let password = rpassword::prompt_password(format!("Password for {user:?}: "))
        .context("could not read the password from the terminal")?;
    non_empty(password).ok_or_else(|| Failure::usage("no password was entered").into())
}

/// A new password for `user`: from the environment, or typed twice.
pub fn new_password(user: &str) -> Result<String> {
    if let Some(password) = from_env(NEW_PASSWORD_ENV, std::env::var_os(NEW_PASSWORD_ENV))? {
        return Ok(password);
    }
    if !io::stdin().is_terminal() {
        return Err(Failure::usage(format!(
            "no new password given; set {NEW_PASSWORD_ENV} or run ferry-cli on a terminal \
             to be asked (passwords are never accepted as arguments)"
        ))
        .into());
    }
    let read = |prompt: String| {
        rpassword::prompt_password(prompt).context("could not read the password from the terminal")
    };
    let first = read(format!("New password for {user:?}: "))?;
    let second = read(format!("Repeat the new password for {user:?}: "))?;
    Ok(confirmed(first, &second)?)
}

/// An environment variable's value; unset and empty both mean "not given",
/// because an empty password is never a real one and `FOO=` is a common way
/// of clearing a variable.
fn from_env(name: &str, value: Option<OsString>) -> Result<Option<String>, Failure> {
    match value {
        None => Ok(None),
        Some(value) => match value.into_string() {
            Ok(text) => Ok(non_empty(text)),
            Err(_) => Err(Failure::usage(format!("{name} is not valid UTF-8 text"))),
        },
    }
}

fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

/// The password typed twice, if both agree and it is not empty.
fn confirmed(first: String, second: &str) -> Result<String, Failure> {
    if first != second {
        return Err(Failure::usage(
            "the two passwords differ; nothing was changed, try again",
        ));
    }
    non_empty(first).ok_or_else(|| Failure::usage("no password was entered; nothing was changed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_values() {
        assert_eq!(from_env("X", None).unwrap(), None);
        assert_eq!(from_env("X", Some("".into())).unwrap(), None);
        assert_eq!(
            from_env("X", Some("s3cret pw".into())).unwrap().as_deref(),
            Some("s3cret pw")
        );
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_environment_is_refused() {
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(vec![0xff, 0xfe]);
        let err = from_env("FERRY_PASSWORD", Some(bad)).unwrap_err();
        assert!(err.to_string().contains("FERRY_PASSWORD"));
    }

    #[test]
    fn typed_twice_must_agree() {
        assert_eq!(
            confirmed("abc12345".into(), "abc12345").unwrap(),
            "abc12345"
        );
        assert!(confirmed("abc12345".into(), "abc12346").is_err());
        assert!(confirmed(String::new(), "").is_err());
    }
}
