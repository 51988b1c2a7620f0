//! The client log panel: the end of `client.log`, a filter, and the folder
//! the log is written to. Reading and moving the log happen elsewhere
//! (`state::client_log`, `logging`); this only draws and reports clicks.

use egui::{Align, Button, Layout, RichText, TextEdit, Ui};

use crate::logging;
use crate::panels::admin::log_lines;
use crate::panels::{field, palette};
use crate::state::client_log::ClientLogView;

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientLogAction {
    /// Read the file again.
    Reload,
    /// Write the log to this folder from now on.
    MoveTo(String),
}

/// Draws the panel.
pub fn show(ui: &mut Ui, view: &mut ClientLogView) -> Option<ClientLogAction> {
    let mut action = None;
    ui.horizontal(|ui| {
        ui.label(RichText::new("Client log").heading());
        ui.add_space(12.0);
        if ui
            .button("Reload log")
            .on_hover_text("Read client.log again")
            .clicked()
        {
            action = Some(ClientLogAction::Reload);
        }
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            let label = ui.label("🔍");
            ui.add(
                TextEdit::singleline(&mut view.filter)
                    .id_salt("client-log-filter")
                    .hint_text("Filter, e.g. upload")
                    .desired_width(260.0),
            )
            .labelled_by(label.id);
        });
    });
    ui.horizontal(|ui| {
        let edit = field::inline(ui, "Log folder", |ui| {
            ui.add(
                TextEdit::singleline(&mut view.dir_text)
                    .id_salt("client-log-dir")
                    .desired_width(320.0),
            )
        });
        let changed = view.dir_text.trim() != view.dir.display().to_string();
        let apply = ui
            .add_enabled(
                changed && !view.dir_text.trim().is_empty(),
                Button::new("Use this folder"),
            )
            .on_hover_text("Write client.log there from now on (remembered)");
        if apply.clicked() || (changed && field::entered(ui, &edit)) {
            action = Some(ClientLogAction::MoveTo(view.dir_text.trim().to_owned()));
        }
        ui.label(
            RichText::new(logging::log_path(&view.dir).display().to_string())
                .weak()
                .small(),
        );
    });
    if let Some(error) = &view.error {
        ui.colored_label(palette::WARN, error.as_str());
    }
    let lines = view.visible();
    log_lines(ui, "client-log-lines", &lines);
    action
}
