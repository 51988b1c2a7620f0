//! The main screen's status bar: the last thing that happened (failures
//! stand out) and how long ago the file list was refreshed. It only
//! shows; what the line says is decided where things happen.

use std::time::Instant;

use egui::{Align, Layout, RichText, Ui};

use crate::format;
use crate::panels::palette;
use crate::state::main_screen::Status;

/// Draws the bar; `refreshed_at` is when the file list last arrived.
pub fn show(ui: &mut Ui, status: Option<&Status>, refreshed_at: Option<Instant>) {
    ui.horizontal(|ui| {
        match status {
            Some(status) if status.error => {
                ui.label(RichText::new(format!("⚠ {}", status.text)).color(palette::ERROR));
            }
            Some(status) => {
                ui.label(RichText::new(&status.text).weak());
            }
            None => {
                ui.label(RichText::new("Ready.").weak());
            }
        }
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if let Some(at) = refreshed_at {
                let ago = at.elapsed().as_secs();
                let text = if ago < 5 {
                    "list refreshed just now".to_owned()
                } else {
                    format!("list refreshed {} ago", format::duration(ago))
                };
                ui.label(RichText::new(text).weak().small());
            }
        });
    });
}
