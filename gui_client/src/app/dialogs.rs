//! The app's dialogs at work: showing whichever is open (name exists,
//! confirmation, path field, password), acting on the answer, taking the
//! native file dialogs' answers, and asking before the window closes on
//! running transfers.
//!
//! What each dialog holds is `state::dialogs` and `state::conflicts`; the
//! drawing is `panels::dialogs`; the native dialogs run in
//! `native_dialog`, off the UI thread.

use std::path::Path;

use egui::Ui;
use ferry_proto::names::escaped;
use log::info;

use super::FerryApp;
use crate::native_dialog::{Answer, Purpose};
use crate::panels::dialogs::{self, PromptAnswer};
use crate::panels::upload_as::{self, UploadAsAnswer};
use crate::state::dialogs::{NO_DIALOG, PathPrompt, Pending};
use crate::state::transfers::TransferState;
use crate::worker::Command;

impl FerryApp {
    pub(super) fn dialogs_ui(&mut self, ui: &mut Ui) {
        if let Some(offer) = &self.resume_offer
            && let Some(go) = crate::panels::resume::show(ui, offer)
        {
            self.resume_answer(go);
        }
        if let Some((id, path)) = self.conflicts.to_probe() {
            // Hashed only when the sizes match (u64::MAX: not listed).
            let size = (self.conflicts.current())
                .and_then(|c| self.files.get(&c.name))
                .map_or(u64::MAX, |e| e.current.size);
            self.local_probes.probe(ui.ctx(), id, path, size);
        }
        if let Some(choice) = dialogs::conflict(ui, &mut self.conflicts, &self.files) {
            for (conflict, choice) in self.conflicts.answer(choice) {
                self.resolve_conflict(conflict.transfer, choice);
            }
        }
        if let Some(fix) = self.upload_as.current_mut()
            && let Some(answer) = upload_as::show(ui, fix)
            && let Some(fix) = self.upload_as.pop()
        {
            match answer {
                UploadAsAnswer::Upload(name) => self.upload_as(fix.transfer, name),
                UploadAsAnswer::Skip => {
                    info!(
                        "upload of {} skipped: its name is not allowed",
                        escaped(&fix.refused)
                    );
                    self.transfers.finish(fix.transfer, TransferState::Skipped);
                }
            }
        }
        if let Some(pending) = &self.confirm
            && let Some(go) = dialogs::confirm(ui, pending)
        {
            let pending = self.confirm.take();
            if go && let Some(pending) = pending {
                self.confirmed(ui.ctx(), pending);
            }
        }
        if let Some(prompt) = &mut self.prompt
            && let Some(answer) = dialogs::path_prompt(ui, prompt, self.dialogs.enabled())
        {
            self.prompt_answer(ui.ctx(), answer);
        }
        if let Some(dialog) = &mut self.moving
            && let Some(go) = dialogs::move_path(ui, dialog)
        {
            let dialog = self.moving.take();
            if go && let Some(dialog) = dialog {
                self.move_path(dialog);
            }
        }
        if let Some(dialog) = &mut self.new_folder
            && let Some(go) = dialogs::new_folder(ui, dialog)
        {
            let dialog = self.new_folder.take();
            if go && let Some(dialog) = dialog {
                self.make_folder(&dialog.name);
            }
        }
        if let Some(dialog) = &mut self.password
            && let Some(go) = dialogs::password(ui, dialog)
        {
            let dialog = self.password.take();
            if go && let (Some(dialog), Some(session)) = (dialog, &self.session) {
                session.send(Command::SetPassword {
                    user: dialog.user,
                    password: dialog.password,
                });
            }
        }
    }

    fn prompt_answer(&mut self, ctx: &egui::Context, answer: PromptAnswer) {
        if answer == PromptAnswer::Browse {
            match self.prompt.as_ref().map(|p| p.purpose.clone()) {
                Some(Purpose::Upload) => {
                    self.prompt = None;
                    self.request_upload(ctx);
                }
                Some(Purpose::Save { name, version }) => {
                    // The dialog stays open; the chosen path lands in it.
                    // The system dialog starts from what is typed there.
                    let typed = self.prompt.as_ref().and_then(|p| p.paths().pop());
                    let file_name = typed
                        .as_deref()
                        .and_then(Path::file_name)
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| self.offered_name(&name, version).file_name);
                    let start = typed
                        .as_deref()
                        .and_then(Path::parent)
                        .filter(|d| d.is_dir())
                        .map_or_else(|| self.download_dir(), Path::to_owned);
                    self.dialogs
                        .save_file(ctx, &name, &file_name, version, Some(&start));
                }
                Some(purpose @ Purpose::SaveInto { .. }) => {
                    let typed = self.prompt.as_ref().and_then(|p| p.paths().pop());
                    let start = typed
                        .filter(|d| d.is_dir())
                        .unwrap_or_else(|| self.download_dir());
                    self.dialogs.pick_folder(ctx, purpose, Some(&start));
                }
                Some(Purpose::UploadFolder) => {
                    self.prompt = None;
                    self.request_folder_upload(ctx);
                }
                None => {}
            }
            return;
        }
        let Some(prompt) = self.prompt.take() else {
            return;
        };
        let PromptAnswer::Go(paths) = answer else {
            return;
        };
        match prompt.purpose {
            Purpose::Upload | Purpose::UploadFolder => self.queue_uploads(paths),
            Purpose::Save { ref name, version } => {
                if let Some(path) = paths.into_iter().next() {
                    let mirrors = prompt.mirror_addrs();
                    self.start_mirrored_download(name, version, path, mirrors);
                }
            }
            Purpose::SaveInto { names } => {
                if let Some(dir) = paths.into_iter().next() {
                    self.start_downloads_into(names, &dir);
                }
            }
        }
    }

    fn confirmed(&mut self, ctx: &egui::Context, pending: Pending) {
        if pending == Pending::Quit {
            self.quitting = true;
            self.transfers.stop_all();
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            return;
        }
        if pending == Pending::LogOut {
            self.logout();
            return;
        }
        let Some(session) = &self.session else {
            return;
        };
        match pending {
            Pending::DeleteFile(name) => session.send(Command::Delete {
                name,
                version: None,
            }),
            Pending::DeleteFiles(names) => {
                for name in names {
                    session.send(Command::Delete {
                        name,
                        version: None,
                    });
                }
            }
            Pending::DeleteItems { files, folders } => {
                for path in folders {
                    session.send(Command::RemoveFolder(path));
                }
                for name in files {
                    session.send(Command::Delete {
                        name,
                        version: None,
                    });
                }
            }
            Pending::DeleteVersion(name, v) => session.send(Command::Delete {
                name,
                version: Some(v),
            }),
            Pending::RemoveUser(user) => session.send(Command::RemoveUser(user)),
            Pending::SetRole(user, role) => session.send(Command::SetRole { user, role }),
            Pending::Quit | Pending::LogOut => {}
        }
    }

    pub(super) fn handle_dialog_answer(&mut self, answer: Answer, ctx: &egui::Context) {
        let note = NO_DIALOG;
        match answer.purpose {
            purpose @ (Purpose::Upload | Purpose::UploadFolder) if answer.unavailable => {
                self.prompt = Some(PathPrompt {
                    purpose,
                    text: String::new(),
                    note: Some(note.to_owned()),
                    mirrors: String::new(),
                    on_disk: None,
                });
            }
            Purpose::Upload | Purpose::UploadFolder => {
                if !answer.paths.is_empty() {
                    self.queue_uploads(answer.paths);
                }
            }
            purpose @ (Purpose::Save { .. } | Purpose::SaveInto { .. }) => {
                // "Browse…" of the download dialog: fill in its path.
                if let Some(prompt) = self.prompt.as_mut().filter(|p| p.purpose == purpose) {
                    if answer.unavailable {
                        prompt.note = Some(note.to_owned());
                    } else if let Some(path) = answer.paths.into_iter().next() {
                        prompt.text = path.display().to_string();
                        prompt.note = None;
                    }
                }
            }
        }
        ctx.request_repaint();
    }

    pub(super) fn handle_close_request(&mut self, ctx: &egui::Context) {
        let asked = ctx.input(|i| i.viewport().close_requested());
        if asked && !self.quitting && self.transfers.active() > 0 {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.confirm = Some(Pending::Quit);
        }
    }
}
