//! Drawing, one module per screen or panel. Each takes its state from
//! `crate::state` and returns what the user asked for as a small action
//! enum; none of them talks to the server, so each can be shown on its own
//! in a test harness.

pub mod admin;
pub mod client_log;
pub mod dialogs;
pub mod drop_overlay;
pub mod file_keys;
pub mod files;
pub mod history;
pub mod login;
pub mod resume;
pub mod status_bar;
pub mod top_bar;
pub mod transfers;
pub mod trust;
pub mod upload_as;

/// Colours used across panels, readable on both light and dark themes.
pub mod palette {
    use egui::{Color32, Ui};

    /// Failures.
    pub const ERROR: Color32 = Color32::from_rgb(0xd9, 0x3b, 0x3b);
    /// Things to check.
    pub const WARN: Color32 = Color32::from_rgb(0xd9, 0x8a, 0x1c);
    /// Finished and verified.
    pub const OK: Color32 = Color32::from_rgb(0x2f, 0xa8, 0x4f);
    /// Uploads.
    pub const UP: Color32 = Color32::from_rgb(0x3b, 0x82, 0xf6);
    /// Downloads.
    pub const DOWN: Color32 = Color32::from_rgb(0x14, 0xa3, 0x8b);

    /// A soft background behind an error message.
    pub fn error_fill(ui: &Ui) -> Color32 {
        if ui.visuals().dark_mode {
            Color32::from_rgb(0x4a, 0x1d, 0x1d)
        } else {
            Color32::from_rgb(0xfd, 0xe8, 0xe8)
        }
    }
}

/// Form fields with a visible label that is also their accessible name.
pub mod field {
    use egui::{Key, Response, Ui};

    /// A caption above a field; the field is labelled by it.
    pub fn labelled(ui: &mut Ui, caption: &str, add: impl FnOnce(&mut Ui) -> Response) -> Response {
        let label = ui.label(caption);
        add(ui).labelled_by(label.id)
    }

    /// A caption left of a field, on one line.
    pub fn inline(ui: &mut Ui, caption: &str, add: impl FnOnce(&mut Ui) -> Response) -> Response {
        ui.horizontal(|ui| {
            let label = ui.label(caption);
            add(ui).labelled_by(label.id)
        })
        .inner
    }

    /// Whether Enter was pressed in this single-line field.
    pub fn entered(ui: &Ui, response: &Response) -> bool {
        response.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter))
    }
}
