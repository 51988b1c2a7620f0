//! Uploads and downloads: asking which files to upload or where to save
//! one, queueing them (with the "name exists" question first), starting,
//! retrying, pausing and cancelling their workers, and what their reports
//! mean for the status line, the file list and the history.
//!
//! The rows are `state::transfers` and the questions `state::conflicts`;
//! the drawing is `panels::transfers` and `panels::dialogs`; the threads
//! are the worker's.

use std::path::{Path, PathBuf};

use ferry_proto::protocol::ConflictPolicy;
use log::info;

use super::FerryApp;
use crate::native_dialog::Purpose;
use crate::panels::drop_overlay;
use crate::panels::transfers::TransferAction;
use crate::state::conflicts::{Choice, Conflict, keep_both_path};
use crate::state::dialogs::{NO_DIALOG, OfferedName, PathPrompt};
use crate::state::files::{join, last_part, parent_of};
use crate::state::queue::{SavedDirection, SavedPolicy, SavedTransfer};
use crate::state::transfers::{Direction, Followup, TransferState};
use crate::state::upload_as::NameFix;
use crate::worker::{DownloadJob, TransferId, TransferUpdate, UploadJob, WorkerHandle};

impl FerryApp {
    /// Asks for files to upload.
    pub fn request_upload(&mut self, ctx: &egui::Context) {
        self.ask_what_to_upload(ctx, Purpose::Upload);
    }

    /// Asks for a folder to upload with everything in it.
    pub fn request_folder_upload(&mut self, ctx: &egui::Context) {
        self.ask_what_to_upload(ctx, Purpose::UploadFolder);
    }

    /// The system's dialog for `purpose` (files or a folder), or where
    /// there is none the typed-path dialog; either starts in the folder
    /// the last upload came from.
    fn ask_what_to_upload(&mut self, ctx: &egui::Context, purpose: Purpose) {
        let start = self.settings.upload_dir.clone();
        if self.dialogs.enabled() {
            match purpose {
                Purpose::UploadFolder => self.dialogs.pick_folder(ctx, purpose, start.as_deref()),
                _ => self.dialogs.pick_files(ctx, start.as_deref()),
            }
            return;
        }
        let note = self.dialogs.missing().then(|| NO_DIALOG.to_owned());
        let text = (start.as_deref())
            .filter(|d| d.is_dir())
            .map(|d| d.join("").display().to_string())
            .unwrap_or_default();
        self.prompt = Some(PathPrompt {
            purpose,
            text,
            note,
            mirrors: String::new(),
            on_disk: None,
        });
    }

    /// Queues local files and folders for upload into the folder on
    /// screen: the one path shared by the file dialogs, the typed-path
    /// field and drag-and-drop. A folder goes with everything in it. Names
    /// that exist on the server are asked about first; the rest start at
    /// once (and are asked about if the server finds the name taken
    /// meanwhile).
    pub fn queue_uploads(&mut self, paths: Vec<PathBuf>) {
        if self.session.is_none() || self.role.is_none() {
            self.set_error("Log in before uploading.".to_owned());
            return;
        }
        self.next_batch += 1;
        let batch = self.next_batch;
        let mut queued = 0;
        for path in paths {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                self.settings.upload_dir = Some(dir.to_owned());
            }
            let own = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let name = self.files.child(&own);
            queued += 1;
            if path.is_dir() {
                self.queue_folder(Direction::Upload, &name, path, batch);
                continue;
            }
            let id = self.transfers.add_upload(path.clone(), &name, batch);
            if let Err(bad) = ferry_client::file_name(&own) {
                self.ask_name(id, &own, bad.to_string());
                continue;
            }
            if let Some(why) = self.taken_by_other_kind(&name, false) {
                self.ask_name(id, &own, why);
                continue;
            }
            if self.files.contains(&name) {
                self.ask_conflict(id, name, batch, None);
            } else {
                self.start_upload(id, ConflictPolicy::Fail);
            }
        }
        if queued > 0 {
            self.set_info(format!(
                "Queued {queued} upload{}.",
                if queued == 1 { "" } else { "s" }
            ));
        }
    }

    /// Adds a row that moves a whole folder, and starts it, or first asks
    /// when the folder exists on the other side: the server folder `name`
    /// for an upload from `local`, the local folder `local` for a download
    /// of `name`.
    pub(super) fn queue_folder(
        &mut self,
        direction: Direction,
        name: &str,
        local: PathBuf,
        batch: u64,
    ) {
        let id = self
            .transfers
            .add_folder(direction, name, local.clone(), batch);
        match direction {
            Direction::Upload => {
                let own = last_part(name);
                if let Err(bad) = ferry_client::file_name(own) {
                    self.ask_name(id, own, bad.to_string());
                } else if let Some(why) = self.taken_by_other_kind(name, true) {
                    self.ask_name(id, own, why);
                } else if self.files.is_folder(name) {
                    self.ask_conflict(id, name.to_owned(), batch, None);
                } else {
                    self.start_upload(id, ConflictPolicy::Fail);
                }
            }
            Direction::Download => {
                if let Some(dir) = local.parent().filter(|d| !d.as_os_str().is_empty()) {
                    self.settings.download_dir = Some(dir.to_owned());
                }
                if local.exists() {
                    self.ask_conflict(id, name.to_owned(), batch, Some(local));
                } else {
                    self.run_download(id);
                }
            }
        }
    }

    pub(super) fn drag_and_drop(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_owned())
                .collect()
        });
        if !dropped.is_empty() {
            self.queue_uploads(dropped);
        }
        let addr = self
            .session
            .as_ref()
            .map(WorkerHandle::addr)
            .unwrap_or_default();
        drop_overlay::show(ctx, addr, self.files.folder.as_deref());
    }

    /// Opens the download dialog for `name` (a version, or the current one):
    /// where to save it ("Browse…" opens the system's save dialog) and
    /// optional mirrors. Double-click and the Download button both land here.
    /// The name offered is one this system can save (see [`OfferedName`]);
    /// the dialog says so when it is not the server's.
    pub fn request_download(&mut self, name: &str, version: Option<u32>) {
        let offered = self.offered_name(name, version);
        self.prompt = Some(PathPrompt {
            purpose: Purpose::Save {
                name: name.to_owned(),
                version,
            },
            text: self
                .download_dir()
                .join(&offered.file_name)
                .display()
                .to_string(),
            note: offered.note(),
            mirrors: String::new(),
            on_disk: None,
        });
    }

    /// The file name a download of `name` is offered under here.
    pub(super) fn offered_name(&self, name: &str, version: Option<u32>) -> OfferedName {
        let current = self.files.get(name).map(|e| e.current.version);
        OfferedName::new(name, version, current, self.local_os)
    }

    pub(super) fn download_dir(&self) -> PathBuf {
        self.settings
            .download_dir
            .clone()
            .filter(|d| d.is_dir())
            .unwrap_or_else(crate::folders::downloads)
    }

    /// Starts downloading `name` (a version, or the current one) to `dest`.
    pub fn start_download(&mut self, name: &str, version: Option<u32>, dest: PathBuf) {
        self.start_mirrored_download(name, version, dest, Vec::new());
    }

    /// Starts several downloads as one batch: `(name, version, dest)` each.
    /// Targets that exist on this computer are asked about, with "apply to
    /// all" for the batch.
    pub fn start_downloads(&mut self, items: Vec<(String, Option<u32>, PathBuf)>) {
        if self.session.is_none() || self.role.is_none() {
            self.set_error("Log in before downloading.".to_owned());
            return;
        }
        self.next_batch += 1;
        let batch = self.next_batch;
        for (name, version, dest) in items {
            self.queue_download(&name, version, dest, Vec::new(), batch);
        }
    }

    /// Starts downloading `name` to `dest` from the server and, at the same
    /// time, from `mirrors` (`host:port`, same login; empty: the server only).
    /// When `dest` ends in the name the download dialog offers and that is
    /// not the server's name, the transfer row and the status line say why.
    pub fn start_mirrored_download(
        &mut self,
        name: &str,
        version: Option<u32>,
        dest: PathBuf,
        mirrors: Vec<String>,
    ) {
        if self.session.is_none() || self.role.is_none() {
            self.set_error("Log in before downloading.".to_owned());
            return;
        }
        self.next_batch += 1;
        let batch = self.next_batch;
        self.queue_download(name, version, dest, mirrors, batch);
    }

    /// Adds a download row of `batch` and starts it, or first asks when
    /// `dest` is a file already.
    pub(super) fn queue_download(
        &mut self,
        name: &str,
        version: Option<u32>,
        dest: PathBuf,
        mirrors: Vec<String>,
        batch: u64,
    ) {
        if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            self.settings.download_dir = Some(dir.to_owned());
        }
        let renamed = self.offered_name(name, version).reason_for(&dest);
        let exists = dest.is_file();
        let id = self
            .transfers
            .add_mirrored_download(name, version, dest.clone(), mirrors);
        if let Some(row) = self.transfers.get_mut(id) {
            row.renamed = renamed;
            row.batch = batch;
        }
        if exists {
            self.ask_conflict(id, name.to_owned(), batch, Some(dest));
        } else {
            self.run_download(id);
        }
    }

    /// Adds an upload row kept from an earlier session and starts it with
    /// its policy (a name taken meanwhile is asked about as usual).
    pub(super) fn continue_upload(
        &mut self,
        path: PathBuf,
        name: &str,
        policy: ConflictPolicy,
        batch: u64,
    ) {
        let id = self.transfers.add_upload(path, name, batch);
        if policy == ConflictPolicy::Fail && self.files.contains(name) {
            self.ask_conflict(id, name.to_owned(), batch, None);
        } else {
            self.start_upload(id, policy);
        }
    }

    /// Adds a whole-folder row kept from an earlier session and starts it
    /// with the choice made then (files already moved are found unchanged
    /// and skipped; a cut large download resumes from its partial file).
    pub(super) fn continue_folder(&mut self, saved: &SavedTransfer, batch: u64) {
        let direction = match saved.direction {
            SavedDirection::Upload => Direction::Upload,
            SavedDirection::Download => Direction::Download,
        };
        if saved.policy == SavedPolicy::Ask {
            // Saved while its question waited: asked again if the folder
            // is there.
            self.queue_folder(direction, &saved.name, saved.local.clone(), batch);
            return;
        }
        let id = (self.transfers).add_folder(direction, &saved.name, saved.local.clone(), batch);
        let policy = saved.policy.policy();
        match direction {
            Direction::Upload => self.start_upload(id, policy),
            Direction::Download => {
                if let Some(row) = self.transfers.get_mut(id) {
                    row.policy = policy;
                }
                self.run_download(id);
            }
        }
    }

    /// Why `name` cannot take an upload of a file (or with `folder`, a
    /// folder): a folder (a file) of that name is here, and a path is one
    /// or the other, never both. `None` when nothing of the other kind is.
    fn taken_by_other_kind(&self, name: &str, folder: bool) -> Option<String> {
        let own = last_part(name);
        if folder && self.files.contains(name) {
            Some(format!("a file named “{own}” is here already"))
        } else if !folder && self.files.is_folder(name) {
            Some(format!("a folder named “{own}” is here already"))
        } else {
            None
        }
    }

    fn ask_conflict(
        &mut self,
        id: TransferId,
        name: String,
        batch: u64,
        download_to: Option<PathBuf>,
    ) {
        let mut local = None;
        let mut folder = false;
        if let Some(row) = self.transfers.get_mut(id) {
            row.state = TransferState::WaitingForChoice;
            folder = row.folder;
            // A folder has no one file to compare.
            local = (!folder).then(|| row.local.clone());
        }
        let copy_name = download_to.as_deref().map(|path| {
            let copy = keep_both_path(path, Path::exists);
            copy.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        let conflict = Conflict {
            transfer: id,
            name,
            batch,
            download_to,
            copy_name,
            local,
            folder,
        };
        if let Some(choice) = self.conflicts.push(conflict) {
            self.resolve_conflict(id, choice);
        }
    }

    pub(super) fn resolve_conflict(&mut self, id: TransferId, choice: Choice) {
        let Some(row) = self.transfers.get_mut(id) else {
            return;
        };
        match (row.direction, choice) {
            // A folder's files that exist with the same content are never
            // moved; the choice is about those that differ.
            (Direction::Upload, choice) if row.folder => {
                let policy = choice.policy().unwrap_or(ConflictPolicy::Fail);
                self.start_upload(id, policy);
            }
            (Direction::Download, choice) if row.folder => {
                row.policy = match choice {
                    Choice::Overwrite => ConflictPolicy::Overwrite,
                    Choice::KeepBoth | Choice::Skip => ConflictPolicy::Fail,
                };
                if choice == Choice::KeepBoth {
                    row.local = keep_both_path(&row.local, Path::exists);
                }
                self.run_download(id);
            }
            (_, Choice::Skip) => {
                info!(
                    "{} of {} skipped: it exists",
                    direction_word(row.direction).to_lowercase(),
                    row.name
                );
                self.transfers.finish(id, TransferState::Skipped);
            }
            (Direction::Download, Choice::KeepBoth) => {
                row.local = keep_both_path(&row.local, Path::exists);
                self.run_download(id);
            }
            (Direction::Download, Choice::Overwrite) => self.run_download(id),
            (Direction::Upload, choice) => {
                if let Some(policy) = choice.policy() {
                    self.start_upload(id, policy);
                }
            }
        }
    }

    /// Asks for an allowed name for upload `id` ("Upload as…").
    fn ask_name(&mut self, id: TransferId, name: &str, reason: String) {
        if let Some(row) = self.transfers.get_mut(id) {
            row.state = TransferState::WaitingForChoice;
        }
        self.upload_as.push(NameFix::new(id, name, reason));
    }

    /// Uploads `id` under `name` (chosen in "Upload as…", in the folder
    /// it was going to): asked about first when the server lists that
    /// name, as any upload is.
    pub(super) fn upload_as(&mut self, id: TransferId, name: String) {
        let Some(row) = self.transfers.get_mut(id) else {
            return;
        };
        let name = join(parent_of(&row.name), &name);
        row.name.clone_from(&name);
        let (batch, folder) = (row.batch, row.folder);
        if let Some(why) = self.taken_by_other_kind(&name, folder) {
            self.ask_name(id, last_part(&name), why);
        } else if self.files.contains(&name) || (folder && self.files.is_folder(&name)) {
            self.ask_conflict(id, name, batch, None);
        } else {
            self.start_upload(id, ConflictPolicy::Fail);
        }
    }

    fn start_upload(&mut self, id: TransferId, policy: ConflictPolicy) {
        let Some(session) = &self.session else {
            return;
        };
        let Some(stop) = self.transfers.restart(id) else {
            return;
        };
        let Some(row) = self.transfers.get_mut(id) else {
            return;
        };
        row.policy = policy;
        row.done = 0;
        let own = row
            .local
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|own| ferry_client::file_name(own).is_ok());
        if policy == ConflictPolicy::Fail
            && !row.folder
            && let Some(own) = own
        {
            // A retried upload that was renamed goes out under its own
            // name, unless that name is not allowed ("Upload as…" chose).
            row.name = join(parent_of(&row.name), &own);
        }
        session.upload(UploadJob {
            id,
            path: row.local.clone(),
            name: row.name.clone(),
            policy,
            folder: row.folder,
            stop,
        });
    }

    fn run_download(&mut self, id: TransferId) {
        let Some(session) = &self.session else {
            return;
        };
        let Some(stop) = self.transfers.restart(id) else {
            return;
        };
        let Some(row) = self.transfers.get(id) else {
            return;
        };
        session.download(DownloadJob {
            id,
            name: row.name.clone(),
            version: row.version,
            dest: row.local.clone(),
            mirrors: row.mirror_addrs.clone(),
            folder: row.folder,
            overwrite: row.policy == ConflictPolicy::Overwrite,
            stop,
        });
    }

    fn retry(&mut self, id: TransferId) {
        let Some(row) = self.transfers.get(id) else {
            return;
        };
        match row.direction {
            Direction::Upload => {
                let policy = row.policy;
                self.start_upload(id, policy);
            }
            Direction::Download => self.run_download(id),
        }
    }

    pub(super) fn transfer_update(&mut self, id: TransferId, update: TransferUpdate) {
        let failed_before = self
            .transfers
            .get(id)
            .is_some_and(|t| matches!(t.state, TransferState::Failed(_)));
        match self.transfers.apply(id, update) {
            Followup::None => {}
            Followup::Uploaded => {
                if let Some(row) = self.transfers.get(id) {
                    let name = row.name.clone();
                    self.set_info(format!("Uploaded {name}."));
                    if self.history.as_ref().is_some_and(|h| h.name == name) {
                        self.open_history(&name);
                    }
                }
                self.refresh();
            }
            Followup::Downloaded => {
                self.server_answers_again();
                if let Some(row) = self.transfers.get(id) {
                    let why = row
                        .renamed
                        .as_ref()
                        .map(|why| format!(" ({why})"))
                        .unwrap_or_default();
                    let text = format!("Downloaded {} to {}{why}.", row.name, row.local.display());
                    self.set_info(text);
                }
            }
            Followup::AskName(reason) => {
                if let Some(row) = self.transfers.get(id) {
                    // "Upload as…" asks for the name in its folder.
                    let name = last_part(&row.name).to_owned();
                    self.ask_name(id, &name, reason);
                }
            }
            Followup::AskConflict => {
                if let Some(row) = self.transfers.get(id) {
                    let (name, batch) = (row.name.clone(), row.batch);
                    self.ask_conflict(id, name, batch, None);
                }
            }
            Followup::Reconnected => self.server_answers_again(),
        }
        if let Some(row) = self.transfers.get(id)
            && let TransferState::Failed(reason) = &row.state
            && !failed_before
        {
            let text = format!(
                "{} of {} failed: {reason}",
                direction_word(row.direction),
                row.name
            );
            self.set_error(text);
        }
    }

    pub(super) fn transfer_action(&mut self, action: TransferAction) {
        match action {
            TransferAction::Cancel(id) => {
                let paused_download = self.transfers.get(id).is_some_and(|t| {
                    t.state == TransferState::Paused && t.direction == Direction::Download
                });
                self.transfers.cancel(id);
                self.conflicts.forget(id);
                self.upload_as.forget(id);
                if paused_download
                    && let (Some(row), Some(session)) = (self.transfers.get(id), &self.session)
                {
                    // No worker holds it: throw the partial files away here.
                    session.discard_partials(row.local.clone(), row.folder);
                }
            }
            TransferAction::Retry(id) | TransferAction::Resume(id) => self.retry(id),
            TransferAction::Pause(id) => self.transfers.pause(id),
            TransferAction::Remove(id) => self.transfers.remove(id),
            TransferAction::ClearFinished => self.transfers.clear_finished(),
        }
    }
}

fn direction_word(direction: Direction) -> &'static str {
    match direction {
        Direction::Upload => "Upload",
        Direction::Download => "Download",
    }
}
