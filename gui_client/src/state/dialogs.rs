//! The app's own dialogs: confirmations before destructive actions, the
//! path field used when no native file dialog is available, and the
//! password dialog of the users tab. What each holds, and the name a
//! download is offered under; drawing them is `panels::dialogs`, acting on
//! the answers the app's `dialogs` module.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use ferry_proto::names::{LocalOs, local_file_name_for, versioned_name};
use ferry_proto::protocol::Role;

use crate::native_dialog::Purpose;

/// Shown in the path dialog when no native file dialog can appear.
pub const NO_DIALOG: &str = "No file dialog is available on this system (it needs a desktop \
                             portal or zenity): type the paths here, or drop files onto the window.";

/// What a confirmation is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    /// Delete a file with all its versions.
    DeleteFile(String),
    /// Delete several files with all their versions.
    DeleteFiles(Vec<String>),
    /// Delete folders with everything in them, and files with all their
    /// versions.
    DeleteItems {
        /// The files.
        files: Vec<String>,
        /// The folders.
        folders: Vec<String>,
    },
    /// Delete one version.
    DeleteVersion(String, u32),
    /// Remove an account.
    RemoveUser(String),
    /// Give an account another role.
    SetRole(String, Role),
    /// Close the window although transfers are running.
    Quit,
    /// Log out although transfers are running.
    LogOut,
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
            Pending::DeleteFiles(names) => (
                format!("Delete {} files?", names.len()),
                format!(
                    "{} and every one of their versions are removed from the server for \
                     everyone. This cannot be undone.",
                    listed(names)
                ),
                "Delete files",
            ),
            Pending::DeleteItems { files, folders } if files.is_empty() && folders.len() == 1 => (
                format!("Delete the folder “{}”?", folders[0]),
                "The folder, every file in it and every version of those files are removed \
                 from the server for everyone. This cannot be undone."
                    .to_owned(),
                "Delete folder",
            ),
            Pending::DeleteItems { files, folders } => {
                let all: Vec<String> = folders.iter().chain(files).cloned().collect();
                (
                    format!("Delete {} items?", all.len()),
                    format!(
                        "{} are removed from the server for everyone: folders with every file \
                         in them, files with every version. This cannot be undone.",
                        listed(&all)
                    ),
                    "Delete",
                )
            }
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
            Pending::SetRole(user, Role::Admin) => (
                format!("Make “{user}” an admin?"),
                format!(
                    "{user} will be able to delete files and versions, read the server log \
                     and manage users, including you."
                ),
                "Make admin",
            ),
            Pending::SetRole(user, Role::User) => (
                format!("Make “{user}” a plain user?"),
                format!(
                    "{user} will no longer be able to delete files, read the server log or \
                     manage users."
                ),
                "Make user",
            ),
            Pending::Quit => (
                "Quit while transfers are running?".to_owned(),
                "They stop and keep what has arrived: the next login to this server offers to \
                 continue them where they stopped."
                    .to_owned(),
                "Quit",
            ),
            Pending::LogOut => (
                "Log out while transfers are running?".to_owned(),
                "They stop and keep what has arrived: the next login to this server offers to \
                 continue them where they stopped."
                    .to_owned(),
                "Stop them and log out",
            ),
        }
    }
}

/// Up to three names in quotes, then how many more: “a”, “b”, “c” and 4 more.
fn listed(names: &[String]) -> String {
    const SHOWN: usize = 3;
    let quoted: Vec<String> = names.iter().take(SHOWN).map(|n| format!("“{n}”")).collect();
    let more = names.len().saturating_sub(SHOWN);
    match (quoted.as_slice(), more) {
        (_, 0) if quoted.len() > 1 => format!(
            "{} and {}",
            quoted[..quoted.len() - 1].join(", "),
            quoted[quoted.len() - 1]
        ),
        (_, 0) => quoted.concat(),
        _ => format!("{} and {more} more", quoted.join(", ")),
    }
}

/// The "new folder" dialog: the name typed, checked by the one name rule
/// as it is typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewFolder {
    /// What is typed.
    pub name: String,
}

impl NewFolder {
    /// Why `name` cannot be a folder's name; `None` when it can.
    pub fn problem_of(name: &str) -> Option<String> {
        if name.is_empty() {
            return Some("Type a name for the folder.".to_owned());
        }
        name_problem(name)
    }
}

/// Why `name` breaks the one name rule, as the sentence shown under the
/// field it is typed in; `None` when it keeps it. Every dialog that asks
/// for a name (a new folder, "Upload as…") says it this way.
pub fn name_problem(name: &str) -> Option<String> {
    match ferry_client::file_name(name) {
        Ok(_) => None,
        // The field shows the name already: the rule is what is news.
        Err(ferry_client::ClientError::BadName { reason, .. }) => {
            Some(sentence(&reason.to_string()))
        }
        Err(e) => Some(sentence(&e.to_string())),
    }
}

/// `text` as a sentence: a capital first letter and a full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let capitalized: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    format!("{capitalized}.")
}

/// The "rename or move" dialog (admins): a file or folder's new path,
/// checked by the path rule as it is typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveDialog {
    /// Its path now.
    pub from: String,
    /// Whether it is a folder.
    pub folder: bool,
    /// The new path typed; starts as the old one.
    pub to: String,
}

impl MoveDialog {
    /// The dialog for `from`, its new path starting as the old one.
    pub fn new(from: &str, folder: bool) -> MoveDialog {
        MoveDialog {
            from: from.to_owned(),
            folder,
            to: from.to_owned(),
        }
    }

    /// Why `from` cannot be moved to `to`; `None` when it can.
    pub fn problem_of(from: &str, to: &str) -> Option<String> {
        let to = to.trim();
        if to.is_empty() {
            return Some("Type the new name or path.".to_owned());
        }
        if to == from {
            return Some("Type a new name, or a path into another folder.".to_owned());
        }
        ferry_client::file_path(to)
            .err()
            .map(|e| sentence(&e.to_string()))
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
    /// What the disk said of the first path typed, for the text it was
    /// looked up for ([`PathPrompt::first_on_disk`]).
    pub on_disk: Option<(String, OnDisk)>,
}

/// What is at a path on this computer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnDisk {
    /// Something is there.
    pub exists: bool,
    /// It is a folder.
    pub is_dir: bool,
}

impl PathPrompt {
    /// What is at the first path typed (`None`: nothing typed). Looked up
    /// when the text changes, not on every frame the dialog is drawn: a
    /// slow network drive would stall the window.
    pub fn first_on_disk(&mut self) -> Option<OnDisk> {
        let first = self.paths().into_iter().next()?;
        match &self.on_disk {
            Some((text, seen)) if *text == self.text => Some(*seen),
            _ => {
                let seen = OnDisk {
                    exists: first.exists(),
                    is_dir: first.is_dir(),
                };
                self.on_disk = Some((self.text.clone(), seen));
                Some(seen)
            }
        }
    }

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

/// The file name the download dialog offers for a file on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedName {
    /// The file name offered.
    pub file_name: String,
    /// Why it is not the server's name, when it is not (“CON” is not a
    /// valid file name on Windows).
    pub reason: Option<String>,
}

impl OfferedName {
    /// For `name` (a path's last part; a `version`, or the current one when `None` or equal to
    /// `current`): the server's name, or for an older version its `_vN`
    /// name, in the form `os` can save (see
    /// [`ferry_proto::names::local_file_name_for`]).
    pub fn new(name: &str, version: Option<u32>, current: Option<u32>, os: LocalOs) -> Self {
        // A path into folders is saved under its last part.
        let name = crate::state::files::last_part(name);
        let wanted = match version {
            Some(v) if Some(v) != current => versioned_name(name, v),
            _ => name.to_owned(),
        };
        let local = local_file_name_for(&wanted, os);
        OfferedName {
            reason: (local != wanted)
                .then(|| format!("“{wanted}” is not a valid file name on {os}")),
            file_name: local.into_owned(),
        }
    }

    /// The dialog's note when the offered name differs from the server's.
    pub fn note(&self) -> Option<String> {
        let reason = self.reason.as_ref()?;
        Some(format!(
            "{reason}, so it is saved as “{}” unless you choose another name.",
            self.file_name
        ))
    }

    /// Why a download to `dest` is saved under another name than the
    /// server's: only when `dest` ends in the offered name and that had to
    /// differ. A name the user typed or picked is theirs and needs no word.
    pub fn reason_for(&self, dest: &Path) -> Option<String> {
        self.reason
            .clone()
            .filter(|_| dest.file_name() == Some(OsStr::new(&self.file_name)))
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
    fn offered_names_follow_the_local_rule_and_say_so() {
        let win = LocalOs::Windows;
        let con = OfferedName::new("CON", None, Some(1), win);
        assert_eq!(con.file_name, "_CON");
        assert_eq!(
            con.reason.as_deref(),
            Some("“CON” is not a valid file name on Windows")
        );
        assert_eq!(
            con.note().unwrap(),
            "“CON” is not a valid file name on Windows, so it is saved as “_CON” \
             unless you choose another name."
        );
        assert_eq!(
            con.reason_for(Path::new("/home/ann/Downloads/_CON")),
            con.reason
        );
        assert_eq!(con.reason_for(Path::new("/home/ann/console.txt")), None);

        // Older versions are offered under their _vN name, mapped too.
        let old = OfferedName::new("a?b.txt", Some(1), Some(2), win);
        assert_eq!(old.file_name, "a_b_v1.txt");
        assert_eq!(
            old.reason.as_deref(),
            Some("“a?b_v1.txt” is not a valid file name on Windows")
        );
        // The current version asked for by number is the plain name.
        assert_eq!(
            OfferedName::new("notes.", Some(2), Some(2), win).file_name,
            "notes_"
        );

        let plain = OfferedName::new("report.pdf", None, None, win);
        assert_eq!(plain.file_name, "report.pdf");
        assert_eq!((plain.reason.clone(), plain.note()), (None, None));
        assert_eq!(plain.reason_for(Path::new("/tmp/report.pdf")), None);

        let linux = OfferedName::new("CON", None, None, LocalOs::Other);
        assert_eq!((linux.file_name.as_str(), linux.reason), ("CON", None));
    }

    #[test]
    fn a_batch_delete_names_its_count_once() {
        let names: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).into();
        let (title, text, _) = Pending::DeleteFiles(names.clone()).wording();
        assert_eq!(title, "Delete 5 files?");
        assert!(
            text.starts_with("“a”, “b”, “c” and 2 more and every one"),
            "{text}"
        );
        let (_, text, _) = Pending::DeleteFiles(names[..2].to_vec()).wording();
        assert!(text.starts_with("“a” and “b” and every"), "{text}");
    }

    #[test]
    fn typed_paths() {
        let prompt = PathPrompt {
            purpose: Purpose::Upload,
            text: " /tmp/a b.txt \n\n\"/tmp/c.txt\"\n".into(),
            note: None,
            mirrors: "m1:7000, m2\nm1:7000\n".into(),
            on_disk: None,
        };
        assert_eq!(prompt.mirror_addrs(), ["m1:7000", "m2:7878"]);
        assert_eq!(
            prompt.paths(),
            [PathBuf::from("/tmp/a b.txt"), PathBuf::from("/tmp/c.txt")]
        );
    }

    #[test]
    fn the_disk_is_looked_at_when_the_text_changes_not_every_frame() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.txt");
        std::fs::write(&file, b"a").unwrap();
        let mut prompt = PathPrompt {
            purpose: Purpose::Upload,
            text: file.display().to_string(),
            note: None,
            mirrors: String::new(),
            on_disk: None,
        };
        let there = OnDisk {
            exists: true,
            is_dir: false,
        };
        assert_eq!(prompt.first_on_disk(), Some(there));
        std::fs::remove_file(&file).unwrap();
        assert_eq!(prompt.first_on_disk(), Some(there), "same text: not again");
        prompt.text = dir.path().display().to_string();
        let folder = OnDisk {
            exists: true,
            is_dir: true,
        };
        assert_eq!(prompt.first_on_disk(), Some(folder), "new text: looked up");
        prompt.text.clear();
        assert_eq!(prompt.first_on_disk(), None);
    }
}
