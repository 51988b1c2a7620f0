//! The file list and one file's history: the folder on screen and moving
//! between folders, (auto-)refreshing the list, the file table's and the
//! history panel's buttons, and what the server says about listings,
//! versions, deletes and folders.
//!
//! The data is `state::files` and `state::history`, the drawing
//! `panels::files` and `panels::history`; downloads and uploads they start
//! are `transfers`' business.

use std::path::Path;
use std::time::{Duration, Instant};

use ferry_proto::protocol::VersionInfo;

use super::FerryApp;
use crate::native_dialog::Purpose;
use crate::panels::files::FilesAction;
use crate::panels::history::HistoryAction;
use crate::state::dialogs::{MoveDialog, NewFolder, PathPrompt, Pending};
use crate::state::history::HistoryView;
use crate::state::main_screen::Tab;
use crate::state::transfers::Direction;
use crate::worker::{Command, Listing};

/// How often the file list refreshes by itself while nothing else does.
const AUTO_REFRESH: Duration = Duration::from_secs(60);
/// How often it tries again while the last listing failed, so the "could
/// not list" banner goes soon after the server is back.
const RETRY_LISTING: Duration = Duration::from_secs(5);

/// How long after the last listing the next one is due.
fn refresh_interval(listing_failed: bool) -> Duration {
    if listing_failed {
        RETRY_LISTING
    } else {
        AUTO_REFRESH
    }
}

impl FerryApp {
    /// Lists the folder on screen again (once, however often it is asked
    /// meanwhile).
    pub fn refresh(&mut self) {
        let Some(session) = &self.session else {
            return;
        };
        if self.refresh.in_flight {
            self.refresh.again = true;
            return;
        }
        self.refresh.in_flight = true;
        self.refresh.last = Some(Instant::now());
        self.files.loading = true;
        session.send(Command::List {
            folder: self.files.folder.clone(),
        });
    }

    /// Shows the folder `folder` (`None`: the root) and lists it.
    pub fn open_folder(&mut self, folder: Option<String>) {
        if self.files.open(folder) {
            self.history = None;
            self.refresh();
        }
    }

    pub(super) fn auto_refresh(&mut self, ctx: &egui::Context) {
        let every = refresh_interval(self.files.error.is_some());
        let due = self.refresh.last.is_none_or(|t| t.elapsed() >= every);
        if due && !self.refresh.in_flight && self.tab == Tab::Files {
            self.refresh();
        }
        ctx.request_repaint_after(every);
    }

    /// Something showed the server answers again (a transfer reconnected
    /// or finished): a failed listing is tried again at once, so its
    /// banner goes.
    pub(super) fn server_answers_again(&mut self) {
        if self.files.error.is_some() {
            self.refresh();
        }
    }

    /// A listing of `folder` arrived (or why it did not); lists again if
    /// that was asked for meanwhile, or if another folder opened since.
    pub(super) fn listed(&mut self, folder: Option<String>, result: Result<Listing, String>) {
        self.refresh.in_flight = false;
        let current = folder == self.files.folder;
        match result {
            Ok((folders, entries)) if current => self.files.set_listing(folders, entries),
            Err(e) if current => self.files.set_error(e),
            _ => self.refresh.again = true,
        }
        if std::mem::take(&mut self.refresh.again) {
            self.refresh();
        }
    }

    /// A folder was created or removed, or a file or folder moved.
    pub(super) fn path_changed(&mut self, result: Result<String, String>) {
        match result {
            Ok(text) => self.set_info(text),
            Err(e) => self.set_error(e),
        }
        self.refresh();
    }

    /// Asks for the name of a new folder in the one on screen.
    pub fn request_new_folder(&mut self) {
        self.new_folder = Some(NewFolder::default());
    }

    /// Moves (renames) a file or folder, as the move dialog says.
    pub(super) fn move_path(&mut self, dialog: MoveDialog) {
        if self.history.as_ref().is_some_and(|h| h.name == dialog.from) {
            self.history = None;
        }
        if let Some(session) = &self.session {
            session.send(Command::Move {
                from: dialog.from,
                to: dialog.to.trim().to_owned(),
            });
        }
    }

    /// Creates the folder `name` in the one on screen.
    pub(super) fn make_folder(&mut self, name: &str) {
        let path = self.files.child(name);
        if let Some(session) = &self.session {
            session.send(Command::MakeFolder(path));
        }
    }

    pub(super) fn open_history(&mut self, name: &str) {
        let keep = self
            .history
            .as_ref()
            .filter(|h| h.name == name)
            .map(|h| h.versions.clone());
        let mut view = HistoryView::loading(name);
        view.versions = keep.unwrap_or_default();
        self.history = Some(view);
        if let Some(session) = &self.session {
            session.send(Command::History(name.to_owned()));
        }
    }

    /// A file's versions arrived; shown if its history is still open.
    pub(super) fn history_arrived(&mut self, name: &str, result: Result<Vec<VersionInfo>, String>) {
        if let Some(view) = &mut self.history
            && view.name == name
        {
            view.set(result);
        }
    }

    pub(super) fn files_action(&mut self, ctx: &egui::Context, action: FilesAction) {
        match action {
            FilesAction::Upload => self.request_upload(ctx),
            FilesAction::UploadFolder => self.request_folder_upload(ctx),
            FilesAction::NewFolder => self.request_new_folder(),
            FilesAction::Refresh => self.refresh(),
            FilesAction::Open(path) if self.files.is_folder(&path) => {
                self.open_folder(Some(path));
            }
            FilesAction::Open(name) => self.request_download(&name, None),
            FilesAction::GoTo(folder) => self.open_folder(folder),
            FilesAction::Download(names) => match <[String; 1]>::try_from(names) {
                Ok([name]) if !self.files.is_folder(&name) => self.request_download(&name, None),
                Ok([folder]) => self.request_downloads(vec![folder]),
                Err(names) => self.request_downloads(names),
            },
            FilesAction::History(name) => self.open_history(&name),
            FilesAction::Move(path) => {
                self.moving = Some(MoveDialog::new(&path, self.files.is_folder(&path)));
            }
            FilesAction::Delete(paths) => {
                let (folders, files): (Vec<String>, Vec<String>) =
                    paths.into_iter().partition(|p| self.files.is_folder(p));
                self.confirm = match (<[String; 1]>::try_from(files), folders.len()) {
                    (Ok([name]), 0) => Some(Pending::DeleteFile(name)),
                    (Err(files), 0) if files.is_empty() => None,
                    (Err(files), 0) => Some(Pending::DeleteFiles(files)),
                    (files, _) => Some(Pending::DeleteItems {
                        files: files.map_or_else(|files| files, Vec::from),
                        folders,
                    }),
                }
            }
        }
    }

    /// Opens the "download into folder" dialog for several files, or for
    /// folders.
    pub fn request_downloads(&mut self, names: Vec<String>) {
        let dir = self.download_dir();
        self.prompt = Some(PathPrompt {
            purpose: Purpose::SaveInto { names },
            text: dir.display().to_string(),
            note: None,
            mirrors: String::new(),
            on_disk: None,
        });
    }

    /// Downloads the current versions of `names` into `dir`, each under
    /// the name offered for it (see [`crate::state::dialogs::OfferedName`]);
    /// a folder among them comes down with everything in it.
    pub fn start_downloads_into(&mut self, names: Vec<String>, dir: &Path) {
        if !dir.is_dir() {
            self.set_error(format!(
                "{} is not a folder; choose an existing folder to download into.",
                dir.display()
            ));
            return;
        }
        let what = match names.as_slice() {
            [one] => one.clone(),
            _ => format!("{} items", names.len()),
        };
        self.next_batch += 1;
        let batch = self.next_batch;
        for name in names {
            let dest = dir.join(self.offered_name(&name, None).file_name);
            if self.files.is_folder(&name) {
                self.queue_folder(Direction::Download, &name, dest, batch);
            } else {
                self.queue_download(&name, None, dest, Vec::new(), batch);
            }
        }
        self.set_info(format!("Downloading {what} into {}.", dir.display()));
    }

    pub(super) fn history_action(&mut self, action: HistoryAction) {
        let Some(name) = self.history.as_ref().map(|h| h.name.clone()) else {
            return;
        };
        match action {
            HistoryAction::Download(v) => self.request_download(&name, Some(v)),
            HistoryAction::Delete(v) => self.confirm = Some(Pending::DeleteVersion(name, v)),
            HistoryAction::Refresh => self.open_history(&name),
            HistoryAction::Close => self.history = None,
        }
    }

    pub(super) fn deleted(
        &mut self,
        name: &str,
        version: Option<u32>,
        result: Result<u32, String>,
    ) {
        match result {
            Ok(count) => {
                self.set_info(match version {
                    Some(v) => format!("Deleted version {v} of {name}."),
                    None => format!(
                        "Deleted {name} ({count} version{}).",
                        if count == 1 { "" } else { "s" }
                    ),
                });
                self.refresh();
                let open_here = self.history.as_ref().is_some_and(|h| h.name == name);
                if open_here {
                    if version.is_none() {
                        self.history = None;
                    } else {
                        self.open_history(name);
                    }
                }
            }
            Err(e) => self.set_error(format!("Could not delete {name}: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_listing_is_tried_again_sooner() {
        assert_eq!(refresh_interval(false), AUTO_REFRESH);
        assert!(refresh_interval(true) <= Duration::from_secs(5));
    }
}
