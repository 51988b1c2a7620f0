//! The version history of one file: every version with size, time,
//! uploader and MD5, each downloadable, each deletable by admins. It
//! returns what was clicked; the app's `files` module acts on it.

use egui::{Align, Button, Label, Layout, RichText, ScrollArea, Ui};

use crate::format::{human_size, local_time};
use crate::panels::palette;
use crate::state::history::HistoryView;

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryAction {
    /// Save this version.
    Download(u32),
    /// Delete this version (asks first).
    Delete(u32),
    /// Fetch the list again.
    Refresh,
    /// Close the panel.
    Close,
}

/// Draws the history of `view.name`.
pub fn show(ui: &mut Ui, view: &HistoryView, is_admin: bool) -> Option<HistoryAction> {
    let mut action = None;
    ui.horizontal(|ui| {
        ui.label(RichText::new("History").heading());
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if ui
                .button("Close")
                .on_hover_text("Close the history")
                .clicked()
            {
                action = Some(HistoryAction::Close);
            }
            if ui
                .add_enabled(!view.loading, Button::new("Refresh"))
                .accessible_name("Refresh history")
                .on_hover_text("Fetch the versions again")
                .clicked()
            {
                action = Some(HistoryAction::Refresh);
            }
        });
    });
    ui.add(Label::new(RichText::new(&view.name).strong()).truncate());
    ui.separator();
    if let Some(error) = &view.error {
        ui.colored_label(palette::ERROR, error.as_str());
    }
    if view.loading && view.versions.is_empty() {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Loading the versions…");
        });
        return action;
    }
    if view.versions.is_empty() && view.error.is_none() {
        ui.label("This file has no versions any more.");
        return action;
    }
    let newest = view.versions.iter().map(|v| v.version).max();
    ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for v in &view.versions {
                egui::Frame::group(ui.style())
                    .inner_margin(8)
                    .show(ui, |ui| {
                        ui.set_width(ui.available_width());
                        ui.horizontal(|ui| {
                            ui.label(RichText::new(format!("Version {}", v.version)).strong());
                            if Some(v.version) == newest {
                                ui.label(RichText::new("current").color(palette::OK).small());
                            }
                            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                                if is_admin
                                    && ui
                                        .add(Button::new(format!("Delete v{}", v.version)).small())
                                        .on_hover_text("Delete only this version")
                                        .clicked()
                                {
                                    action = Some(HistoryAction::Delete(v.version));
                                }
                                if ui
                                    .add(Button::new(format!("Download v{}", v.version)).small())
                                    .on_hover_text("Save this version")
                                    .clicked()
                                {
                                    action = Some(HistoryAction::Download(v.version));
                                }
                            });
                        });
                        ui.label(format!(
                            "{} · {} · by {}",
                            human_size(v.size),
                            local_time(v.modified),
                            v.uploader
                        ));
                        ui.add(
                            Label::new(RichText::new(format!("MD5 {}", v.md5)).monospace().small())
                                .truncate(),
                        );
                    });
                ui.add_space(4.0);
            }
        });
    action
}
