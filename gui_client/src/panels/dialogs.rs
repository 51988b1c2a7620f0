//! Modal dialogs: "the name exists", confirmations, the path field that
//! stands in for a missing native file dialog, and the password dialog.
//! Which one is open and what each answer does is the app's `dialogs`
//! module; the native dialogs are `native_dialog`.

use std::path::{Path, PathBuf};

use egui::{Button, Id, Key, Modal, RichText, TextEdit, Ui};
use ferry_proto::names::versioned_name;
use ferry_proto::protocol::VersionInfo;

use crate::format::{human_size, local_time};
use crate::native_dialog::Purpose;
use crate::panels::{field, palette};
use crate::state::conflicts::{Choice, Comparison, Conflicts};
use crate::state::dialogs::{MoveDialog, NewFolder, PasswordDialog, PathPrompt, Pending};
use crate::state::files::{FileTable, join, last_part, parent_of};

/// The first `name_vN.ext` not in the listing (for a path, its last part
/// numbered, in the same folder): what "Keep both" will most likely store
/// the file as (the server has the last word).
pub fn likely_renamed(name: &str, files: &FileTable) -> String {
    let numbered = |n| join(parent_of(name), &versioned_name(last_part(name), n));
    (2..)
        .map(numbered)
        .find(|candidate| !files.contains(candidate) && !files.is_folder(candidate))
        .unwrap_or_else(|| numbered(2))
}

/// Asks what to do about the first name that exists: the server's file
/// and the local one side by side (size, time, whether the contents are
/// identical), then Overwrite / Keep both / Skip. Enter presses the
/// default button: Skip when the contents are identical, else Overwrite.
/// Returns the choice.
pub fn conflict(ui: &Ui, conflicts: &mut Conflicts, files: &FileTable) -> Option<Choice> {
    let current = conflicts.current()?.clone();
    let others = conflicts.others_in_batch();
    let existing = files.get(&current.name).map(|e| &e.current);
    let comparison = conflicts.comparison(existing.map(|v| (v.size, v.md5)));
    // For a folder, Enter keeps both sides' files as they are.
    let default = if current.folder {
        Choice::Skip
    } else {
        comparison.default_choice()
    };
    let mut choice = None;
    Modal::new(Id::unique("conflict-dialog")).show(ui.ctx(), |ui| {
        ui.set_max_width(460.0);
        ui.label(RichText::new(format!("“{}” already exists", current.name)).heading());
        ui.add_space(4.0);
        let copy_name = current.copy_name.as_deref().unwrap_or_default();
        let wording = match (&current.download_to, current.folder) {
            (Some(local), false) => on_this_computer(local, copy_name),
            (None, false) => on_the_server(&current.name, files),
            (Some(local), true) => folder_on_this_computer(local, copy_name),
            (None, true) => folder_on_the_server(&current.name),
        };
        ui.label(wording.question);
        ui.add_space(6.0);
        sides(ui, existing, &comparison);
        ui.add_space(10.0);
        let wide = egui::vec2(ui.available_width(), 28.0);
        let highlight = ui.visuals().selection.bg_fill;
        let button = |text: String, this: Choice| {
            let text = RichText::new(text);
            if this == default {
                Button::new(text.strong())
                    .fill(highlight)
                    .min_size(wide)
            } else {
                Button::new(text).min_size(wide)
            }
        };
        if ui
            .add(button(wording.overwrite, Choice::Overwrite))
            .on_hover_text(wording.overwrite_hover)
            .clicked()
        {
            choice = Some(Choice::Overwrite);
        }
        if ui
            .add(button(wording.keep_both, Choice::KeepBoth))
            .on_hover_text(wording.keep_both_hover)
            .clicked()
        {
            choice = Some(Choice::KeepBoth);
        }
        if ui
            .add(button("Skip".to_owned(), Choice::Skip))
            .on_hover_text(wording.skip_hover)
            .clicked()
        {
            choice = Some(Choice::Skip);
        }
        if others > 0 {
            ui.add_space(6.0);
            ui.checkbox(
                &mut conflicts.apply_to_all,
                format!(
                    "Apply to all: do the same for the other {others} file{} of this {} whose names exist",
                    if others == 1 { "" } else { "s" },
                    if current.download_to.is_some() { "download" } else { "upload" },
                ),
            );
        }
    });
    if choice.is_none() && ui.input(|i| i.key_pressed(Key::Enter)) {
        choice = Some(default);
    }
    choice
}

/// What the conflict dialog says about one name.
struct ConflictWording {
    question: String,
    overwrite: String,
    overwrite_hover: &'static str,
    keep_both: String,
    keep_both_hover: &'static str,
    skip_hover: &'static str,
}

/// An upload whose name is taken on the server.
fn on_the_server(name: &str, files: &FileTable) -> ConflictWording {
    ConflictWording {
        question: "The server already has a file with this name. \
                   What should happen to the one you are uploading?"
            .to_owned(),
        overwrite: "Overwrite (keep history)".to_owned(),
        overwrite_hover: "Yours becomes the current version; the old one stays in the history",
        keep_both: format!("Keep both (rename to {})", likely_renamed(name, files)),
        keep_both_hover: "Yours is stored under a new name with _v2, _v3, …",
        skip_hover: "Do not upload this file",
    }
}

/// A folder upload whose folder exists on the server.
fn folder_on_the_server(name: &str) -> ConflictWording {
    ConflictWording {
        question: format!(
            "The server already has a folder “{name}”. Files the server has with the same \
             content are skipped. What should happen to your files whose name is taken by \
             other content?"
        ),
        overwrite: "Overwrite them (keep history)".to_owned(),
        overwrite_hover: "Yours become the current versions; the old ones stay in the history",
        keep_both: "Keep both (store yours as name_v2…)".to_owned(),
        keep_both_hover: "Yours are stored under new names with _v2, _v3, …",
        skip_hover: "Upload only the files the server does not have yet",
    }
}

/// A folder download whose target folder is already on this computer;
/// "Keep both" saves it as `copy_name` beside it.
fn folder_on_this_computer(local: &Path, copy_name: &str) -> ConflictWording {
    ConflictWording {
        question: format!(
            "This computer already has {}. Files in it with the server's content are skipped. \
             What should happen to your files there whose content differs?",
            local.display()
        ),
        overwrite: "Overwrite them".to_owned(),
        overwrite_hover: "The server's files replace yours once their MD5 is checked",
        keep_both: format!("Keep both (download into {copy_name})"),
        keep_both_hover: "The folder is saved beside yours under a new name",
        skip_hover: "Keep your files; download only what is missing",
    }
}

/// A download whose target is already on this computer; "Keep both"
/// saves it as `copy_name` beside it.
fn on_this_computer(local: &Path, copy_name: &str) -> ConflictWording {
    ConflictWording {
        question: format!(
            "This computer already has {}. What should happen to the file you are downloading?",
            local.display()
        ),
        overwrite: "Overwrite the local file".to_owned(),
        overwrite_hover: "The download replaces the local file once its MD5 is checked",
        keep_both: format!("Keep both (save as {copy_name})"),
        keep_both_hover: "The download is saved beside it under a new name",
        skip_hover: "Do not download this file",
    }
}

/// The server's file and the local one, one row each, and a line saying
/// whether their contents are identical (kept even while unknown, so the
/// buttons do not move when the answer arrives).
fn sides(ui: &mut Ui, server: Option<&VersionInfo>, local: &Comparison) {
    if *local == Comparison::NoLocalFile {
        return;
    }
    egui::Grid::new("conflict-sides")
        .num_columns(3)
        .spacing([16.0, 4.0])
        .show(ui, |ui| {
            ui.label(RichText::new("On the server").strong());
            match server {
                Some(v) => {
                    ui.label(human_size(v.size));
                    ui.label(format!("{} by {}", local_time(v.modified), v.uploader));
                }
                None => {
                    ui.label("—");
                    ui.label("not in the list on screen");
                }
            }
            ui.end_row();
            ui.label(RichText::new("Yours").strong());
            match local {
                Comparison::Known { facts, .. } => {
                    ui.label(human_size(facts.size));
                    ui.label(facts.modified.map_or_else(|| "—".to_owned(), local_time));
                }
                Comparison::Unknown => {
                    ui.label("…");
                    ui.label("");
                }
                Comparison::Unreadable(_) | Comparison::NoLocalFile => {
                    ui.label("—");
                    ui.label("");
                }
            }
            ui.end_row();
        });
    ui.add_space(4.0);
    let line = match local {
        Comparison::Known {
            same: Some(true), ..
        } => RichText::new("✔ Identical content (same MD5): there is nothing new to transfer.")
            .color(palette::OK),
        Comparison::Known {
            same: Some(false), ..
        } => RichText::new("The contents differ.").weak(),
        Comparison::Known { same: None, .. } if server.is_none() => {
            RichText::new("Refresh the file list to compare the contents.").weak()
        }
        Comparison::Known { same: None, .. } | Comparison::Unknown => {
            RichText::new("Comparing the contents (MD5)…").weak()
        }
        Comparison::Unreadable(why) => {
            RichText::new(format!("Your file cannot be compared: {why}.")).color(palette::WARN)
        }
        Comparison::NoLocalFile => return,
    };
    ui.label(line);
}

/// Asks to confirm `pending`. `Some(true)`: go ahead; `Some(false)`: cancel.
pub fn confirm(ui: &Ui, pending: &Pending) -> Option<bool> {
    let (title, text, button) = pending.wording();
    let mut answer = None;
    let modal = Modal::new(Id::unique("confirm-dialog")).show(ui.ctx(), |ui| {
        ui.set_max_width(420.0);
        ui.label(RichText::new(title).heading());
        ui.add_space(4.0);
        ui.label(text);
        ui.add_space(12.0);
        ui.horizontal(|ui| {
            let go =
                Button::new(RichText::new(button).color(egui::Color32::WHITE)).fill(palette::ERROR);
            if ui.add(go).clicked() {
                answer = Some(true);
            }
            if ui.button("Cancel").clicked() {
                answer = Some(false);
            }
        });
    });
    if answer.is_none() && modal.should_close() {
        answer = Some(false);
    }
    answer
}

/// What the path prompt asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptAnswer {
    /// Use these paths.
    Go(Vec<PathBuf>),
    /// Choose with the system's file dialog.
    Browse,
    /// Never mind.
    Cancel,
}

/// The upload and download dialog: paths typed (or chosen with "Browse…"
/// when `can_browse`), and for downloads, optional mirror servers.
pub fn path_prompt(ui: &Ui, prompt: &mut PathPrompt, can_browse: bool) -> Option<PromptAnswer> {
    let mut answer = None;
    let (title, caption, go) = match &prompt.purpose {
        Purpose::Upload => (
            "Upload files".to_owned(),
            "Files to upload (full paths, one per line)",
            "Upload",
        ),
        Purpose::Save { name, version } => (
            match version {
                Some(v) => format!("Download {name} (version {v})"),
                None => format!("Download {name}"),
            },
            "Save as (full path)",
            "Download",
        ),
        Purpose::SaveInto { names } => (
            match names.as_slice() {
                [one] => format!("Download {one}"),
                _ => format!("Download {} items", names.len()),
            },
            "Into folder (full path)",
            "Download",
        ),
        Purpose::UploadFolder => (
            "Upload a folder".to_owned(),
            "Folder to upload with everything in it (full path)",
            "Upload",
        ),
    };
    let saving = matches!(prompt.purpose, Purpose::Save { .. });
    let single_line = !matches!(prompt.purpose, Purpose::Upload);
    let modal = Modal::new(Id::unique("path-prompt")).show(ui.ctx(), |ui| {
        ui.set_width(540.0);
        ui.label(RichText::new(title).heading());
        if let Some(note) = &prompt.note {
            ui.colored_label(palette::WARN, note.as_str());
        }
        ui.add_space(6.0);
        let caption_label = ui.label(caption);
        let edit = ui
            .horizontal(|ui| {
                if can_browse
                    && ui
                        .button("Browse…")
                        .on_hover_text("Choose with the system's file dialog")
                        .clicked()
                {
                    answer = Some(PromptAnswer::Browse);
                }
                let edit = if single_line {
                    TextEdit::singleline(&mut prompt.text).id_salt("prompt-path")
                } else {
                    TextEdit::multiline(&mut prompt.text)
                        .id_salt("prompt-paths")
                        .desired_rows(3)
                };
                ui.add(edit.desired_width(ui.available_width()))
                    .labelled_by(caption_label.id)
            })
            .inner;
        // Checked before focus is handed back below, which would hide it.
        let enter = single_line && field::entered(ui, &edit);
        if !enter && ui.memory(|m| m.focused().is_none()) {
            // Typing goes straight into the path.
            edit.request_focus();
        }
        let paths = prompt.paths();
        let on_disk = prompt.first_on_disk();
        // What exists there is asked about once the download starts;
        // here only the folder itself is checked.
        if let Purpose::SaveInto { .. } = &prompt.purpose
            && on_disk.is_some_and(|d| !d.is_dir)
        {
            ui.colored_label(palette::WARN, "This is not an existing folder.");
        }
        if saving && on_disk.is_some_and(|d| d.exists) {
            ui.colored_label(
                palette::WARN,
                "A file with this name exists there: you are asked before it is replaced.",
            );
        }
        if saving {
            ui.add_space(8.0);
            field::labelled(ui, "Mirrors (optional)", |ui| {
                ui.add(
                    TextEdit::multiline(&mut prompt.mirrors)
                        .id_salt("prompt-mirrors")
                        .hint_text(
                            "Other servers with the same file, host:port, one per line. \
                             Parts are fetched from all of them at once, with the same login.",
                        )
                        .desired_rows(2)
                        .desired_width(f32::INFINITY),
                )
            });
            ui.label(
                RichText::new(
                    "Each mirror is verified on its own: one you never logged in to is left out \
                     (log in to it once to trust it).",
                )
                .weak()
                .small(),
            );
        }
        ui.add_space(10.0);
        ui.horizontal(|ui| {
            let button = Button::new(RichText::new(go).strong()).min_size(egui::vec2(90.0, 0.0));
            if (ui.add_enabled(!paths.is_empty(), button).clicked() || enter) && !paths.is_empty() {
                answer = Some(PromptAnswer::Go(paths.clone()));
            }
            if ui.button("Cancel").clicked() {
                answer = Some(PromptAnswer::Cancel);
            }
        });
    });
    if answer.is_none() && modal.should_close() && ui.input(|i| i.key_pressed(Key::Escape)) {
        answer = Some(PromptAnswer::Cancel);
    }
    answer
}

/// The new-password dialog. `Some(true)`: set it; `Some(false)`: cancel.
pub fn password(ui: &Ui, dialog: &mut PasswordDialog) -> Option<bool> {
    let mut answer = None;
    let modal = Modal::new(Id::unique("password-dialog")).show(ui.ctx(), |ui| {
        ui.set_width(360.0);
        ui.label(RichText::new(format!("New password for {}", dialog.user)).heading());
        ui.add_space(6.0);
        field::labelled(ui, "New password", |ui| {
            ui.add(
                TextEdit::singleline(&mut dialog.password)
                    .id_salt("new-password")
                    .password(true)
                    .desired_width(f32::INFINITY),
            )
        });
        field::labelled(ui, "Repeat it", |ui| {
            ui.add(
                TextEdit::singleline(&mut dialog.repeat)
                    .id_salt("new-password-again")
                    .password(true)
                    .desired_width(f32::INFINITY),
            )
        });
        let problem = dialog.problem();
        if let Some(problem) = problem
            && !dialog.repeat.is_empty()
        {
            ui.colored_label(palette::WARN, problem);
        }
        ui.add_space(10.0);
        ui.horizontal(|ui| {
            if ui
                .add_enabled(problem.is_none(), Button::new("Set password"))
                .clicked()
            {
                answer = Some(true);
            }
            if ui.button("Cancel").clicked() {
                answer = Some(false);
            }
        });
    });
    if answer.is_none() && modal.should_close() {
        answer = Some(false);
    }
    answer
}

/// What a one-field dialog shows: its title, a line under it, the
/// field's caption and the confirm button.
struct OneField<'a> {
    id: &'static str,
    title: String,
    explanation: Option<&'a str>,
    caption: &'static str,
    confirm: &'static str,
}

/// A dialog with one text field checked as it is typed: `problem` says
/// why the text cannot be used (shown once `show_problem`, in a line kept
/// for it so the buttons do not jump). `Some(true)`: confirmed (the button
/// or Enter, only without a problem); `Some(false)`: cancelled.
fn one_field(
    ui: &Ui,
    words: OneField<'_>,
    text: &mut String,
    problem: impl Fn(&str) -> Option<String>,
    show_problem: impl Fn(&str) -> bool,
) -> Option<bool> {
    let mut answer = None;
    let modal = Modal::new(Id::unique(words.id)).show(ui.ctx(), |ui| {
        ui.set_width(420.0);
        ui.label(RichText::new(words.title).heading());
        if let Some(explanation) = words.explanation {
            ui.add_space(4.0);
            ui.label(explanation);
        }
        ui.add_space(6.0);
        let field = field::labelled(ui, words.caption, |ui| {
            ui.add(
                TextEdit::singleline(text)
                    .id_salt(words.id)
                    .desired_width(f32::INFINITY),
            )
        });
        if ui.memory(|m| m.focused().is_none()) {
            field.request_focus();
        }
        let problem = problem(text);
        match &problem {
            Some(problem) if show_problem(text) => {
                ui.colored_label(palette::WARN, problem);
            }
            _ => {
                ui.label("");
            }
        }
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            if ui
                .add_enabled(problem.is_none(), Button::new(words.confirm))
                .clicked()
            {
                answer = Some(true);
            }
            if ui.button("Cancel").clicked() {
                answer = Some(false);
            }
        });
        if problem.is_none() && ui.input(|i| i.key_pressed(Key::Enter)) {
            answer = Some(true);
        }
    });
    if answer.is_none() && modal.should_close() {
        answer = Some(false);
    }
    answer
}

/// The new-folder dialog. `Some(true)`: create it; `Some(false)`: cancel.
/// The name is checked by the one name rule as it is typed; Enter creates.
pub fn new_folder(ui: &Ui, dialog: &mut NewFolder) -> Option<bool> {
    let words = OneField {
        id: "new-folder",
        title: "New folder".to_owned(),
        explanation: None,
        caption: "Folder name",
        confirm: "Create folder",
    };
    one_field(ui, words, &mut dialog.name, NewFolder::problem_of, |name| {
        !name.is_empty()
    })
}

/// The rename-or-move dialog (admins). `Some(true)`: move it;
/// `Some(false)`: cancel. The path is checked as it is typed; Enter moves.
pub fn move_path(ui: &Ui, dialog: &mut MoveDialog) -> Option<bool> {
    let what = if dialog.folder { "folder" } else { "file" };
    let words = OneField {
        id: "move-to",
        title: format!("Rename or move the {what} “{}”", dialog.from),
        explanation: Some(if dialog.folder {
            "The folder moves with everything in it. Type a new name, or a path such as \
             archive/2026 to move it into another folder (missing folders are created)."
        } else {
            "The file keeps its version history. Type a new name, or a path such as \
             archive/report.pdf to move it into another folder (missing folders are created)."
        }),
        caption: "New path",
        confirm: "Move",
    };
    let from = dialog.from.clone();
    one_field(
        ui,
        words,
        &mut dialog.to,
        |to| MoveDialog::problem_of(&from, to),
        |to| to.trim() != from,
    )
}
