//! What the window shows while files are dragged over it: a dark veil
//! saying how many files or folders would be uploaded where. Taking the
//! dropped files is the app's job, not this module's.

use egui::{Align2, Color32, Id};

/// Draws the veil over the whole window while files hover over it;
/// `addr` is the server they would go to, `folder` the folder there
/// (`None`: the root).
pub fn show(ctx: &egui::Context, addr: &str, folder: Option<&str>) {
    let hovering = ctx.input(|i| i.raw.hovered_files.len());
    if hovering > 0 {
        let painter = ctx.layer_painter(egui::LayerId::new(
            egui::Order::Foreground,
            Id::unique("drop-overlay"),
        ));
        let rect = ctx.content_rect();
        painter.rect_filled(rect, 0.0, Color32::from_black_alpha(170));
        painter.text(
            rect.center(),
            Align2::CENTER_CENTER,
            format!(
                "Drop {} item{} to upload into {} on {addr}",
                hovering,
                if hovering == 1 { "" } else { "s" },
                folder.unwrap_or("the root folder")
            ),
            egui::FontId::proportional(24.0),
            Color32::WHITE,
        );
    }
}
