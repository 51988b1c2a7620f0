//! The dialog at login that offers the transfers left unfinished last
//! time: a list of them, Continue or Discard. What it holds is
//! `state::queue`; acting on the answer is the app's `queue` module.

use egui::{Id, Modal, RichText, ScrollArea, Ui};

use crate::state::queue::ResumeOffer;

/// Shows the offer. `Some(true)`: continue them; `Some(false)`: discard.
pub fn show(ui: &Ui, offer: &ResumeOffer) -> Option<bool> {
    let mut answer = None;
    Modal::new(Id::unique("resume-dialog")).show(ui.ctx(), |ui| {
        ui.set_max_width(520.0);
        ui.label(RichText::new(offer.title()).heading());
        ui.add_space(4.0);
        ui.label(offer.text());
        ui.add_space(6.0);
        ScrollArea::vertical().max_height(200.0).show(ui, |ui| {
            for t in &offer.queue.transfers {
                ui.label(t.line());
            }
        });
        ui.add_space(10.0);
        ui.horizontal(|ui| {
            if ui
                .button("Continue")
                .on_hover_text("Start them again, each from where it stopped")
                .clicked()
            {
                answer = Some(true);
            }
            if ui
                .button("Discard")
                .on_hover_text("Forget them and delete their partial downloads")
                .clicked()
            {
                answer = Some(false);
            }
        });
    });
    answer
}
