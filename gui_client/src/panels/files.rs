//! The file table with its toolbar: upload, download, history, delete
//! (admins), refresh, the filter box and sortable columns. It changes only
//! the table's own view (sort, filter, selection); the buttons are acted on
//! by the app's `files` module.

use egui::{Align, Button, Label, Layout, RichText, Sense, TextEdit, Ui};
use egui_extras::{Column, TableBuilder};

use crate::format::{human_size, local_time, local_time_precise};
use crate::panels::palette;
use crate::state::files::{FileTable, SortKey};

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilesAction {
    /// Pick files to upload.
    Upload,
    /// List again.
    Refresh,
    /// Download the current version of a file.
    Download(String),
    /// Show a file's versions.
    History(String),
    /// Delete a file with all its versions (asks first).
    Delete(String),
}

/// What the panel needs to know besides the table.
#[derive(Debug, Clone, Copy, Default)]
pub struct FilesContext {
    /// Whether the user is an admin (shows Delete).
    pub is_admin: bool,
    /// Whether a file dialog is already open (disables Upload).
    pub dialog_open: bool,
}

/// Draws the toolbar and the table.
pub fn show(ui: &mut Ui, table: &mut FileTable, cx: FilesContext) -> Vec<FilesAction> {
    let mut actions = Vec::new();
    toolbar(ui, table, cx, &mut actions);
    ui.add_space(4.0);
    if let Some(error) = &table.error {
        ui.colored_label(palette::ERROR, format!("Could not list the files: {error}"));
    }
    if table.entries.is_empty() {
        empty_state(ui, table);
    } else {
        file_table(ui, table, cx, &mut actions);
    }
    actions
}

fn toolbar(ui: &mut Ui, table: &mut FileTable, cx: FilesContext, actions: &mut Vec<FilesAction>) {
    ui.horizontal(|ui| {
        let upload = ui
            .add_enabled(!cx.dialog_open, Button::new("Upload…"))
            .on_hover_text("Choose files to upload (or drop files onto the window)")
            .on_disabled_hover_text("A file dialog is open");
        if upload.clicked() {
            actions.push(FilesAction::Upload);
        }
        let selected = table.selected.clone();
        let has = selected.is_some();
        if ui
            .add_enabled(has, Button::new("Download…"))
            .on_hover_text("Save the selected file (or double-click it)")
            .on_disabled_hover_text("Select a file first")
            .clicked()
            && let Some(name) = &selected
        {
            actions.push(FilesAction::Download(name.clone()));
        }
        if ui
            .add_enabled(has, Button::new("History"))
            .on_hover_text("Every version of the selected file")
            .on_disabled_hover_text("Select a file first")
            .clicked()
            && let Some(name) = &selected
        {
            actions.push(FilesAction::History(name.clone()));
        }
        if cx.is_admin
            && ui
                .add_enabled(has, Button::new("Delete…"))
                .on_hover_text("Delete the selected file with all its versions")
                .on_disabled_hover_text("Select a file first")
                .clicked()
            && let Some(name) = &selected
        {
            actions.push(FilesAction::Delete(name.clone()));
        }
        ui.separator();
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            let refresh = ui
                .add_enabled(!table.loading, Button::new("Refresh"))
                .on_hover_text("List the files again");
            if refresh.clicked() {
                actions.push(FilesAction::Refresh);
            }
            if table.loading {
                ui.spinner();
            }
            let filter_label = ui.label("🔍");
            ui.add(
                TextEdit::singleline(&mut table.filter)
                    .id_salt("files-filter")
                    .hint_text("Filter by name or uploader")
                    .desired_width(ui.available_width().min(320.0)),
            )
            .labelled_by(filter_label.id);
        });
    });
    let shown = table.visible().len();
    let total = table.entries.len();
    let summary = if shown == total {
        format!(
            "{total} file{} · {}",
            if total == 1 { "" } else { "s" },
            human_size(table.total_size())
        )
    } else {
        format!("{shown} of {total} files match the filter")
    };
    ui.label(RichText::new(summary).weak().small());
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
        ui.label(RichText::new("No files on this server yet").heading());
        ui.add_space(4.0);
        ui.label("Click “Upload…” or drop files onto this window to share them with your team.");
    });
}

fn file_table(
    ui: &mut Ui,
    table: &mut FileTable,
    cx: FilesContext,
    actions: &mut Vec<FilesAction>,
) {
    let rows: Vec<_> = table.visible().into_iter().cloned().collect();
    if rows.is_empty() {
        ui.add_space(20.0);
        ui.vertical_centered(|ui| {
            ui.label(format!("No file matches “{}”.", table.filter.trim()));
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
                let entry = &rows[row.index()];
                let v = &entry.current;
                let selected = table.selected.as_deref() == Some(v.name.as_str());
                row.set_selected(selected);
                row.col(|ui| {
                    let response = ui
                        .add(Button::selectable(selected, v.name.as_str()).truncate())
                        .on_hover_text(format!("MD5 {}", v.md5));
                    if response.clicked() {
                        table.selected = Some(v.name.clone());
                    }
                    if response.double_clicked() {
                        actions.push(FilesAction::Download(v.name.clone()));
                    }
                    response.context_menu(|ui| {
                        table.selected = Some(v.name.clone());
                        if ui.button("Download…").clicked() {
                            actions.push(FilesAction::Download(v.name.clone()));
                            ui.close();
                        }
                        if ui.button("History").clicked() {
                            actions.push(FilesAction::History(v.name.clone()));
                            ui.close();
                        }
                        if cx.is_admin && ui.button("Delete…").clicked() {
                            actions.push(FilesAction::Delete(v.name.clone()));
                            ui.close();
                        }
                    });
                });
                row.col(|ui| {
                    ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                        ui.label(human_size(v.size))
                            .on_hover_text(format!("{} bytes", v.size));
                    });
                });
                row.col(|ui| {
                    ui.label(local_time(v.modified))
                        .on_hover_text(local_time_precise(v.modified));
                });
                row.col(|ui| {
                    ui.add(Label::new(v.uploader.as_str()).truncate());
                });
                row.col(|ui| {
                    let text = entry.versions.to_string();
                    let label = ui.add(Label::new(text).sense(Sense::click()));
                    if label.clicked() {
                        actions.push(FilesAction::History(v.name.clone()));
                    }
                    label.on_hover_text("Click to see every version");
                });
            });
        });
    if let Some(key) = sort_clicked {
        table.sort_by(key);
    }
}
