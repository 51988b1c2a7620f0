//! The file table with its toolbar: upload (files or a folder), new
//! folder, download, history, delete (admins), refresh, the filter box,
//! the breadcrumb of the folder on screen and sortable columns, folders
//! first. Rows are selected as in a file manager (Ctrl-click, Shift-click,
//! Ctrl-A, the arrow keys; see `file_keys`); a double-click or Enter opens
//! a folder. It changes only the table's own view (sort, filter,
//! selection); the buttons are acted on by the app's `files` module.

use egui::{Align, Button, Event, Label, Layout, RichText, Sense, TextEdit, Ui};
use egui_extras::{Column, TableBuilder};

use crate::format::{human_size, local_time, local_time_precise};
use crate::panels::file_keys::{self, KeyCommand};
use crate::panels::palette;
use crate::state::files::{FileTable, Row, SortKey};
use crate::state::selection::Gesture;

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilesAction {
    /// Pick files to upload.
    Upload,
    /// Pick a folder to upload with everything in it.
    UploadFolder,
    /// Ask for the name of a new folder here.
    NewFolder,
    /// List again.
    Refresh,
    /// Enter or a double-click on one row: a file is downloaded, a folder
    /// opens.
    Open(String),
    /// Show this folder (`None`: the root): the breadcrumb, Backspace.
    GoTo(Option<String>),
    /// Download these files (current versions) and folders (one file: the
    /// download dialog; otherwise into a folder).
    Download(Vec<String>),
    /// Show a file's versions.
    History(String),
    /// Rename or move a file or folder (admins).
    Move(String),
    /// Delete these files with all their versions and these folders with
    /// everything in them (asks first, once).
    Delete(Vec<String>),
}

/// What the panel needs to know besides the table.
#[derive(Debug, Clone, Copy, Default)]
pub struct FilesContext {
    /// Whether the user is an admin (shows Delete).
    pub is_admin: bool,
    /// Whether a file dialog is already open (disables Upload).
    pub dialog_open: bool,
    /// Whether one of the app's dialogs is on screen: keys are its own.
    pub modal: bool,
}

/// Draws the toolbar and the table.
pub fn show(ui: &mut Ui, table: &mut FileTable, cx: FilesContext) -> Vec<FilesAction> {
    let mut actions = Vec::new();
    let focus_filter = keys(ui, table, cx, &mut actions);
    toolbar(ui, table, cx, &mut actions);
    location_bar(ui, table, focus_filter, &mut actions);
    summary_line(ui, table);
    ui.add_space(4.0);
    if table.entries.is_empty() && table.folders.is_empty() {
        empty_state(ui, table);
    } else {
        file_table(ui, table, cx, &mut actions);
    }
    actions
}

/// Acts on the keys pressed this frame; returns whether the filter should
/// take the keyboard (Ctrl-F).
fn keys(ui: &Ui, table: &mut FileTable, cx: FilesContext, actions: &mut Vec<FilesAction>) -> bool {
    if cx.modal {
        return false;
    }
    let typing = ui.ctx().text_edit_focused();
    let commands: Vec<KeyCommand> = ui.input(|i| {
        i.events
            .iter()
            .filter_map(|e| match e {
                Event::Key {
                    key,
                    pressed: true,
                    modifiers,
                    ..
                } => file_keys::command(*key, *modifiers, typing),
                _ => None,
            })
            .collect()
    });
    let mut focus_filter = false;
    for command in commands {
        match command {
            KeyCommand::Move { by, extend } => table.select(Gesture::Move { by, extend }),
            KeyCommand::SelectAll => table.select(Gesture::All),
            KeyCommand::Activate => {
                let selected = table.selected();
                match selected.as_slice() {
                    [] => {}
                    [one] => actions.push(FilesAction::Open(one.clone())),
                    _ => actions.push(FilesAction::Download(selected)),
                }
            }
            KeyCommand::Delete => {
                let selected = table.selected();
                if cx.is_admin && !selected.is_empty() {
                    actions.push(FilesAction::Delete(selected));
                }
            }
            KeyCommand::FocusFilter => focus_filter = true,
            KeyCommand::Escape if !table.filter.is_empty() => table.filter.clear(),
            KeyCommand::Escape => table.select(Gesture::Clear),
            KeyCommand::Refresh if !table.loading => actions.push(FilesAction::Refresh),
            KeyCommand::Refresh => {}
            KeyCommand::Rename => {
                if let [one] = table.selected().as_slice()
                    && cx.is_admin
                {
                    actions.push(FilesAction::Move(one.clone()));
                }
            }
            KeyCommand::Up if !table.at_root() => actions.push(FilesAction::GoTo(table.parent())),
            KeyCommand::Up => {}
        }
    }
    focus_filter
}

/// The modifiers held at the click: those of the button event, which
/// arrive with it even when the key state lags a frame behind.
fn click_modifiers(ui: &Ui) -> egui::Modifiers {
    ui.input(|i| {
        i.events
            .iter()
            .rev()
            .find_map(|e| match e {
                Event::PointerButton { modifiers, .. } => Some(*modifiers),
                _ => None,
            })
            .unwrap_or(i.modifiers)
    })
}

/// "Download…" for one row; for several "Download 3 files…", "… 2
/// folders…", or "… 5 items…" when both are selected.
fn counted(verb: &str, table: &FileTable, picked: &[String]) -> String {
    let folders = picked.iter().filter(|p| table.is_folder(p)).count();
    let what = match folders {
        0 => "files",
        n if n == picked.len() => "folders",
        _ => "items",
    };
    if picked.len() > 1 {
        format!("{verb} {} {what}…", picked.len())
    } else {
        format!("{verb}…")
    }
}

/// How many folders the breadcrumb shows at most before "…".
const CRUMBS: usize = 3;

/// The first row: what can be done here and with the selection.
fn toolbar(ui: &mut Ui, table: &FileTable, cx: FilesContext, actions: &mut Vec<FilesAction>) {
    ui.horizontal_wrapped(|ui| {
        let upload = ui
            .add_enabled(!cx.dialog_open, Button::new("Upload…"))
            .on_hover_text("Choose files to upload (or drop files onto the window)")
            .on_disabled_hover_text("A file dialog is open");
        if upload.clicked() {
            actions.push(FilesAction::Upload);
        }
        let upload_folder = ui
            .add_enabled(!cx.dialog_open, Button::new("Upload folder…"))
            .on_hover_text(
                "Choose a folder to upload with everything in it (or drop it onto the window)",
            )
            .on_disabled_hover_text("A file dialog is open");
        if upload_folder.clicked() {
            actions.push(FilesAction::UploadFolder);
        }
        if ui
            .button("New folder…")
            .on_hover_text("Create a folder here")
            .clicked()
        {
            actions.push(FilesAction::NewFolder);
        }
        let selected = table.selected();
        let has = !selected.is_empty();
        if ui
            .add_enabled(has, Button::new(counted("Download", table, &selected)))
            .on_hover_text(
                "Save the selected files and folders (or double-click a file, or press Enter)",
            )
            .on_disabled_hover_text("Select a file or folder first")
            .clicked()
        {
            actions.push(FilesAction::Download(selected.clone()));
        }
        let one_file = matches!(selected.as_slice(), [one] if !table.is_folder(one));
        if ui
            .add_enabled(one_file, Button::new("History"))
            .on_hover_text("Every version of the selected file")
            .on_disabled_hover_text("Select one file first")
            .clicked()
        {
            actions.push(FilesAction::History(selected[0].clone()));
        }
        if cx.is_admin
            && ui
                .add_enabled(selected.len() == 1, Button::new("Rename…"))
                .on_hover_text(
                    "Rename the selected file or folder, or move it into another folder (F2)",
                )
                .on_disabled_hover_text("Select one file or folder first")
                .clicked()
        {
            actions.push(FilesAction::Move(selected[0].clone()));
        }
        if cx.is_admin
            && ui
                .add_enabled(has, Button::new(counted("Delete", table, &selected)))
                .on_hover_text(
                    "Delete the selected files with all their versions, and folders with \
                     everything in them (Delete key)",
                )
                .on_disabled_hover_text("Select a file or folder first")
                .clicked()
        {
            actions.push(FilesAction::Delete(selected.clone()));
        }
    });
}

/// The second row: where the table is (the breadcrumb) on the left; the
/// filter, the listing's spinner and Refresh on the right.
fn location_bar(
    ui: &mut Ui,
    table: &mut FileTable,
    focus_filter: bool,
    actions: &mut Vec<FilesAction>,
) {
    ui.horizontal(|ui| {
        breadcrumb(ui, table, actions);
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            let refresh = ui
                .add_enabled(!table.loading, Button::new("Refresh"))
                .on_hover_text("List the files again (F5)");
            if refresh.clicked() {
                actions.push(FilesAction::Refresh);
            }
            // The spinner's place is kept while there is none, so the
            // filter does not jump when a listing starts or ends.
            let spinner = egui::vec2(ui.spacing().interact_size.y, ui.spacing().interact_size.y);
            if table.loading {
                ui.add_sized(spinner, egui::Spinner::new());
            } else {
                ui.allocate_space(spinner);
            }
            let filter_label = ui.label("🔍");
            let filter = ui
                .add(
                    TextEdit::singleline(&mut table.filter)
                        .id_salt("files-filter")
                        .hint_text("Filter (Ctrl-F)")
                        .desired_width(ui.available_width().clamp(80.0, 240.0)),
                )
                .labelled_by(filter_label.id)
                .on_hover_text("Show only names or uploaders containing this; Escape clears it");
            if focus_filter {
                filter.request_focus();
            }
        });
    });
}

/// Where the table is: Home › team › docs, each part a button that opens
/// that folder, and ⬆ for the folder above. Always one line, so the table
/// does not jump when a folder opens; a deep path shows its last
/// [`CRUMBS`] folders after "…".
fn breadcrumb(ui: &mut Ui, table: &FileTable, actions: &mut Vec<FilesAction>) {
    let up = ui
        .add_enabled(!table.at_root(), Button::new("⬆").small())
        .on_hover_text("The folder above (Backspace)");
    if up.clicked() {
        actions.push(FilesAction::GoTo(table.parent()));
    }
    let crumbs = table.breadcrumb();
    let last = crumbs.len() - 1;
    let hidden = 1..crumbs.len().saturating_sub(CRUMBS).max(1);
    for (i, (label, path)) in crumbs.into_iter().enumerate() {
        if hidden.contains(&i) {
            if i == hidden.start {
                ui.label(RichText::new("› …").weak())
                    .on_hover_text(table.folder.clone().unwrap_or_default());
            }
            continue;
        }
        if i > 0 {
            ui.label(RichText::new("›").weak());
        }
        let text = if i == 0 {
            format!("🏠 {label}")
        } else {
            label
        };
        let here = i == last;
        let button =
            Button::selectable(here, RichText::new(text).strong()).frame_when_inactive(false);
        let response = ui.add(button).on_hover_text(match &path {
            Some(path) => format!("Open {path}"),
            None => "Open the root folder".to_owned(),
        });
        if response.clicked() && !here {
            actions.push(FilesAction::GoTo(path));
        }
    }
}

/// One line under the toolbar: how many files, or why the last listing
/// failed. Always one line, so the table never jumps.
fn summary_line(ui: &mut Ui, table: &FileTable) {
    if let Some(error) = &table.error {
        ui.add(
            Label::new(
                RichText::new(format!("Could not list the files: {error}"))
                    .small()
                    .color(palette::ERROR),
            )
            .truncate(),
        );
        return;
    }
    let shown = table.visible().len();
    let (folders, files) = (table.folders.len(), table.entries.len());
    let total = folders + files;
    let picked = table.selected().len();
    let mut summary = if shown == total {
        let mut parts = Vec::new();
        if folders > 0 {
            parts.push(format!(
                "{folders} folder{}",
                if folders == 1 { "" } else { "s" }
            ));
        }
        if files > 0 || folders == 0 {
            parts.push(format!(
                "{files} file{} · {}",
                if files == 1 { "" } else { "s" },
                human_size(table.total_size())
            ));
        }
        parts.join(", ")
    } else {
        let what = if folders == 0 { "files" } else { "items" };
        format!("{shown} of {total} {what} match the filter")
    };
    if picked > 1 {
        summary.push_str(&format!(" · {picked} selected"));
    }
    ui.add(Label::new(RichText::new(summary).weak().small()).truncate());
}

fn empty_state(ui: &mut Ui, table: &FileTable) {
    ui.vertical_centered(|ui| {
        ui.add_space(60.0);
        if !table.loaded {
            ui.spinner();
            ui.label("Loading the file list…");
            return;
        }
        ui.label(RichText::new("📂").size(40.0));
        if table.at_root() {
            ui.label(RichText::new("No files on this server yet").heading());
        } else {
            ui.label(RichText::new("This folder is empty").heading());
        }
        ui.add_space(4.0);
        ui.label(
            "Click “Upload…” or drop files or folders onto this window to share them with your team.",
        );
    });
}

fn file_table(
    ui: &mut Ui,
    table: &mut FileTable,
    cx: FilesContext,
    actions: &mut Vec<FilesAction>,
) {
    let rows: Vec<Shown> = table.visible().into_iter().map(Shown::of).collect();
    if rows.is_empty() {
        ui.add_space(20.0);
        ui.vertical_centered(|ui| {
            ui.label(format!("Nothing here matches “{}”.", table.filter.trim()));
            if ui.button("Clear the filter").clicked() {
                table.filter.clear();
            }
        });
        return;
    }
    let mut sort_clicked = None;
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 8.0;
    TableBuilder::new(ui)
        .id_salt("files")
        .striped(true)
        .resizable(true)
        .cell_layout(Layout::left_to_right(Align::Center))
        // The name takes what the other columns leave, also after the
        // history panel opens; the others keep the width the user dragged.
        .column(
            Column::remainder()
                .at_least(160.0)
                .clip(true)
                .resizable(false),
        )
        .column(Column::initial(90.0).at_least(60.0))
        .column(Column::initial(140.0).at_least(80.0))
        .column(Column::initial(110.0).at_least(60.0).clip(true))
        .column(Column::initial(70.0).at_least(50.0))
        .header(row_height + 2.0, |mut header| {
            for key in SortKey::ALL {
                header.col(|ui| {
                    let mut cell = |ui: &mut Ui| {
                        let sorted = table.sort == key;
                        let title = RichText::new(key.title()).strong();
                        if ui
                            .add(Button::selectable(sorted, title).frame_when_inactive(false))
                            .on_hover_text(format!("Sort by {}", key.title().to_lowercase()))
                            .clicked()
                        {
                            sort_clicked = Some(key);
                        }
                        if sorted {
                            ui.label(if table.ascending { "⏶" } else { "⏷" });
                        }
                    };
                    if key == SortKey::Size {
                        // Sizes are right-aligned; so is their header.
                        ui.with_layout(Layout::right_to_left(Align::Center), cell);
                    } else {
                        cell(ui);
                    }
                });
            }
        })
        .body(|body| {
            body.rows(row_height, rows.len(), |mut row| {
                let shown = &rows[row.index()];
                let path = shown.path.as_str();
                let selected = table.selection.contains(path);
                row.set_selected(selected);
                row.col(|ui| {
                    let label = if shown.folder {
                        format!("🗀 {}", shown.label)
                    } else {
                        shown.label.clone()
                    };
                    let hover = if shown.folder {
                        "Double-click to open".to_owned()
                    } else {
                        format!("MD5 {}", shown.md5)
                    };
                    let response = ui
                        .add(Button::selectable(selected, label).truncate())
                        .on_hover_text(hover);
                    if response.clicked() {
                        let mods = click_modifiers(ui);
                        table.select(if mods.command {
                            Gesture::Toggle(path)
                        } else if mods.shift {
                            Gesture::Extend(path)
                        } else {
                            Gesture::Click(path)
                        });
                        // The arrow keys move the selection, not egui's focus.
                        response.surrender_focus();
                    }
                    if response.double_clicked() {
                        actions.push(FilesAction::Open(path.to_owned()));
                    }
                    if response.secondary_clicked() && !selected {
                        table.select(Gesture::Click(path));
                    }
                    response.context_menu(|ui| {
                        let picked = table.selected();
                        if shown.folder && picked.len() == 1 && ui.button("Open").clicked() {
                            actions.push(FilesAction::Open(path.to_owned()));
                            ui.close();
                        }
                        if ui.button(counted("Download", table, &picked)).clicked() {
                            actions.push(FilesAction::Download(picked.clone()));
                            ui.close();
                        }
                        if !shown.folder && picked.len() == 1 && ui.button("History").clicked() {
                            actions.push(FilesAction::History(path.to_owned()));
                            ui.close();
                        }
                        if cx.is_admin && picked.len() == 1 && ui.button("Rename…").clicked() {
                            actions.push(FilesAction::Move(path.to_owned()));
                            ui.close();
                        }
                        if cx.is_admin && ui.button(counted("Delete", table, &picked)).clicked() {
                            actions.push(FilesAction::Delete(picked.clone()));
                            ui.close();
                        }
                    });
                });
                row.col(|ui| {
                    ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                        if let Some(size) = shown.size {
                            ui.label(human_size(size))
                                .on_hover_text(format!("{size} bytes"));
                        }
                    });
                });
                row.col(|ui| {
                    ui.label(local_time(shown.modified))
                        .on_hover_text(local_time_precise(shown.modified));
                });
                row.col(|ui| {
                    ui.add(Label::new(shown.uploader.as_str()).truncate());
                });
                row.col(|ui| {
                    if let Some(versions) = shown.versions {
                        let label = ui.add(Label::new(versions.to_string()).sense(Sense::click()));
                        if label.clicked() {
                            actions.push(FilesAction::History(path.to_owned()));
                        }
                        label.on_hover_text("Click to see every version");
                    }
                });
            });
        });
    if let Some(key) = sort_clicked {
        table.sort_by(key);
    }
}

/// What one row shows, taken out of the table so the rows can be drawn
/// while the table's selection changes.
struct Shown {
    path: String,
    label: String,
    folder: bool,
    /// Files only.
    size: Option<u64>,
    /// A file's last change; a folder's creation.
    modified: ferry_proto::time::Timestamp,
    uploader: String,
    /// Files only.
    versions: Option<u32>,
    md5: String,
}

impl Shown {
    fn of(row: Row<'_>) -> Shown {
        let (path, label) = (row.path().to_owned(), row.label().to_owned());
        match row {
            Row::Folder(f) => Shown {
                path,
                label,
                folder: true,
                size: None,
                modified: f.created,
                uploader: String::new(),
                versions: None,
                md5: String::new(),
            },
            Row::File(e) => Shown {
                path,
                label,
                folder: false,
                size: Some(e.current.size),
                modified: e.current.modified,
                uploader: e.current.uploader.clone(),
                versions: Some(e.versions),
                md5: e.current.md5.to_string(),
            },
        }
    }
}
