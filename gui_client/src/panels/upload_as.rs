//! The "Upload as…" dialog: the name of an upload was refused, so it asks
//! for another, with a suggestion filled in and checked as the user types.
//! What it holds is `state::upload_as`; the app uploads under the answer.

use egui::{Button, Id, Key, Modal, RichText, TextEdit, Ui};

use crate::panels::{field, palette};
use crate::state::upload_as::NameFix;

/// What the user chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadAsAnswer {
    /// Upload under this (allowed) name.
    Upload(String),
    /// Do not upload this file.
    Skip,
}

/// Asks for an allowed name for `fix`.
pub fn show(ui: &Ui, fix: &mut NameFix) -> Option<UploadAsAnswer> {
    let mut answer = None;
    let modal = Modal::new(Id::unique("upload-as-dialog")).show(ui.ctx(), |ui| {
        ui.set_width(440.0);
        ui.label(
            RichText::new(format!(
                "“{}” cannot be stored under this name",
                fix.refused
            ))
            .heading(),
        );
        ui.add_space(4.0);
        ui.label(fix.reason.as_str());
        ui.add_space(8.0);
        let edit = field::labelled(ui, "Upload as", |ui| {
            ui.add(
                TextEdit::singleline(&mut fix.text)
                    .id_salt("upload-as-name")
                    .desired_width(f32::INFINITY),
            )
        });
        let enter = field::entered(ui, &edit);
        if !enter && ui.memory(|m| m.focused().is_none()) {
            edit.request_focus();
        }
        let problem = fix.problem();
        // One line always, so the buttons do not move while typing.
        match &problem {
            Some(problem) => ui.colored_label(palette::WARN, problem.as_str()),
            None => ui.colored_label(palette::OK, "✔ This name is allowed."),
        };
        ui.add_space(10.0);
        ui.horizontal(|ui| {
            let go = ui
                .add_enabled(
                    problem.is_none(),
                    Button::new(RichText::new("Upload as…").strong()),
                )
                .on_hover_text("Upload the file under the name in the field")
                .on_disabled_hover_text("Choose an allowed name first");
            if (go.clicked() || enter) && problem.is_none() {
                answer = Some(UploadAsAnswer::Upload(fix.text.clone()));
            }
            if ui
                .button("Skip")
                .on_hover_text("Do not upload this file")
                .clicked()
            {
                answer = Some(UploadAsAnswer::Skip);
            }
        });
    });
    if answer.is_none() && modal.should_close() && ui.input(|i| i.key_pressed(Key::Escape)) {
        answer = Some(UploadAsAnswer::Skip);
    }
    answer
}
