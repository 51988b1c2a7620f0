//! The app's own dialogs: confirmations before destructive actions, the
//! path field used when no native file dialog is available, and the
//! password dialog of the users tab.

use std::path::PathBuf;

use crate::native_dialog::Purpose;

/// What a confirmation is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    /// Delete a file with all its versions.
    DeleteFile(String),
    /// Delete one version.
    DeleteVersion(String, u32),
    /// Remove an account.
    RemoveUser(String),
    /// Close the window although transfers are running.
    Quit,
}

impl Pending {
    /// The dialog's title, text and confirm button.
    pub fn wording(&self) -> (String, String, &'static str) {
        match self {
            Pending::DeleteFile(name) => (
                format!("Delete “{name}”?"),
                "The file and every one of its versions are removed from the server for everyone. \
                 This cannot be undone."
                    .to_owned(),
                "Delete file",
            ),
            Pending::DeleteVersion(name, v) => (
                format!("Delete version {v} of “{name}”?"),
                "Only this version is removed; the others stay. This cannot be undone.".to_owned(),
                "Delete version",
            ),
            Pending::RemoveUser(user) => (
                format!("Remove the account “{user}”?"),
                "They can no longer log in. Files they uploaded stay.".to_owned(),
                "Remove user",
            ),
            Pending::Quit => (
                "Quit while transfers are running?".to_owned(),
                "Running uploads stop. Downloads keep what has arrived: downloading the same \
                 file to the same place later continues where it stopped."
                    .to_owned(),
                "Quit",
            ),
        }
    }
}

/// The path field that stands in for a native file dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPrompt {
    /// Upload or save.
    pub purpose: Purpose,
    /// What is typed: one path per line for uploads, one for a save.
    pub text: String,
    /// Why the prompt appeared, when it stands in for a missing dialog.
    pub note: Option<String>,
    /// For downloads: other servers to fetch from at the same time.
    pub mirrors: String,
}

impl PathPrompt {
    /// The paths typed, blank lines and surrounding quotes removed.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.text
            .lines()
            .map(|l| l.trim().trim_matches(|c| c == '"' || c == '\''))
            .filter(|l| !l.is_empty())
            .map(PathBuf::from)
            .collect()
    }

    /// The mirror addresses typed (spaces, commas or new lines between
    /// them), with the default port added where none was given.
    pub fn mirror_addrs(&self) -> Vec<String> {
        let mut addrs: Vec<String> = Vec::new();
        for addr in self
            .mirrors
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|a| !a.is_empty())
            .map(crate::state::login::with_default_port)
        {
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        addrs
    }
}

/// The "new password" dialog of the users tab.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasswordDialog {
    /// Whose password.
    pub user: String,
    /// The new password.
    pub password: String,
    /// Typed again.
    pub repeat: String,
}

impl PasswordDialog {
    /// Why it cannot be sent yet, if so.
    pub fn problem(&self) -> Option<&'static str> {
        if self.password.is_empty() {
            Some("Type the new password.")
        } else if self.password != self.repeat {
            Some("The two passwords differ.")
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_paths() {
        let prompt = PathPrompt {
            purpose: Purpose::Upload,
            text: " /tmp/a b.txt \n\n\"/tmp/c.txt\"\n".into(),
            note: None,
            mirrors: "m1:7000, m2\nm1:7000\n".into(),
        };
        assert_eq!(prompt.mirror_addrs(), ["m1:7000", "m2:7878"]);
        assert_eq!(
            prompt.paths(),
            [PathBuf::from("/tmp/a b.txt"), PathBuf::from("/tmp/c.txt")]
        );
    }
}
