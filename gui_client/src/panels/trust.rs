//! The questions about a server's certificate, as modal dialogs over the
//! login screen: the first connection to an address (compare the
//! fingerprint, by eye or by pasting the one the administrator gave, then
//! trust it or not) and the loud warning when a trusted address shows
//! another certificate, which offers no way to click through: only a
//! fingerprint pasted from the administrator that matches what the server
//! shows replaces the old one. The app acts on the answer.

use egui::text::LayoutJob;
use egui::{
    Align, Button, Color32, FontSelection, Id, Label, Layout, Modal, RichText, Stroke, TextEdit, Ui,
};

use crate::panels::palette;
use crate::state::trust::{Pasted, TrustPrompt};
use crate::worker::TrustQuestion;

/// What the user decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustAnswer {
    /// Pin this fingerprint for the address and log in again.
    Trust(String),
    /// Do not connect.
    Cancel,
}

/// Where the administrator finds the fingerprint.
const FINGERPRINT_COMMAND: &str = "ferry-server --data DIR fingerprint";

/// The caption (and accessible name) of the first-connect dialog's box
/// for the fingerprint to compare.
const COMPARE_CAPTION: &str = "Paste the fingerprint you were given (optional)";

/// Draws the open question; returns the answer once given.
pub fn show(ui: &Ui, prompt: &mut TrustPrompt) -> Option<TrustAnswer> {
    match prompt.question.clone() {
        TrustQuestion::New { addr, fingerprint } => first_connect(ui, prompt, &addr, &fingerprint),
        TrustQuestion::Changed {
            addr,
            pinned,
            presented,
            place,
        } => changed(ui, prompt, &addr, &pinned, &presented, &place),
    }
}

fn first_connect(
    ui: &Ui,
    prompt: &mut TrustPrompt,
    addr: &str,
    fingerprint: &str,
) -> Option<TrustAnswer> {
    let mut answer = None;
    let modal = Modal::new(Id::unique("trust-new-server")).show(ui.ctx(), |ui| {
        ui.set_width(600.0);
        ui.label(RichText::new("Do you trust this server?").heading());
        ui.add_space(4.0);
        ui.label(format!(
            "This is the first connection to {addr}. Its certificate is not signed by an \
             authority this computer knows; nothing has been sent to it yet."
        ));
        ui.add_space(8.0);
        address_row(ui, addr);
        ui.add_space(4.0);
        fingerprint_block(
            ui,
            "Fingerprint",
            fingerprint,
            Shown::Copyable(&mut prompt.copied),
        );
        ui.add_space(8.0);
        with_code(
            ui,
            &[
                (
                    "Compare it with the fingerprint the server printed when it started, or that \
                  its administrator sees with ",
                    false,
                ),
                (FINGERPRINT_COMMAND, true),
                (".", false),
            ],
        );
        ui.add_space(6.0);
        let pasted = compare_box(ui, prompt, COMPARE_CAPTION, "trust-compare-fingerprint");
        ui.add_space(6.0);
        ui.label(
            "Trust it only if the two are the same: this app then connects to this address \
             only while it shows that certificate.",
        );
        ui.add_space(12.0);
        ui.horizontal(|ui| {
            let words = RichText::new("Trust and connect").strong();
            let trust = match pasted {
                // What the administrator gave is what the server shows:
                // the way on is plain to see.
                Pasted::Matches(_) => Button::new(words.color(Color32::WHITE)).fill(palette::OK),
                _ => Button::new(words),
            }
            .min_size(egui::vec2(140.0, 28.0));
            let why_not = match pasted {
                Pasted::Different => {
                    "This server does not show the fingerprint you were given: do not trust it"
                }
                _ => "Paste the whole fingerprint, or empty the box to compare by eye",
            };
            let refused = matches!(pasted, Pasted::Different | Pasted::NotAFingerprint);
            if ui
                .add_enabled(!refused, trust)
                .on_disabled_hover_text(why_not)
                .clicked()
            {
                answer = Some(TrustAnswer::Trust(fingerprint.to_owned()));
            }
            if ui
                .add(Button::new("Cancel").min_size(egui::vec2(80.0, 28.0)))
                .on_hover_text("Do not connect; nothing is remembered")
                .clicked()
            {
                answer = Some(TrustAnswer::Cancel);
            }
        });
    });
    if answer.is_none() && modal.should_close() {
        answer = Some(TrustAnswer::Cancel);
    }
    answer
}

fn changed(
    ui: &Ui,
    prompt: &mut TrustPrompt,
    addr: &str,
    pinned: &str,
    presented: &str,
    place: &str,
) -> Option<TrustAnswer> {
    let mut answer = None;
    let modal =
        Modal::new(Id::unique("trust-changed-server")).show(ui.ctx(), |ui| {
            ui.set_width(620.0);
            egui::Frame::new()
                .fill(palette::error_fill(ui))
                .stroke(Stroke::new(2.0, palette::ERROR))
                .inner_margin(12)
                .corner_radius(6)
                .show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    ui.label(
                        RichText::new(format!("⚠ WARNING: {addr} is not the server you trusted"))
                            .heading()
                            .strong()
                            .color(palette::ERROR),
                    );
                    ui.add_space(4.0);
                    ui.label(RichText::new(
                    "It shows another certificate than before: someone may be intercepting the \
                     connection to read your password and files, or the server got a new \
                     certificate. Nothing was sent to it.",
                ).strong());
                });
            ui.add_space(8.0);
            address_row(ui, addr);
            ui.add_space(4.0);
            fingerprint_block(ui, "Trusted before", pinned, Shown::Plain);
            ui.add_space(4.0);
            // Not selectable: the new fingerprint must come from the
            // administrator, not be copied from here into the field below.
            fingerprint_block(ui, "Shown now", presented, Shown::Suspect);
            ui.add_space(8.0);
            ui.label(RichText::new("What to do").strong());
            with_code(
                ui,
                &[
                    (
                        "Do not connect until the server's administrator tells you its certificate \
                  changed and gives you the new fingerprint (they see it with ",
                        false,
                    ),
                    (FINGERPRINT_COMMAND, true),
                    (").", false),
                ],
            );
            ui.add_space(2.0);
            let remove = format!("ferry-cli trust remove {addr}");
            with_code(
                ui,
                &[
                    (
                        "Paste that fingerprint here, or remove the old entry with ",
                        false,
                    ),
                    (&remove, true),
                    (
                        &format!(" (it is kept in {place}) and log in again."),
                        false,
                    ),
                ],
            );
            ui.add_space(6.0);
            let pasted = compare_box(
                ui,
                prompt,
                "New fingerprint from your administrator",
                "trust-new-fingerprint",
            );
            ui.add_space(12.0);
            ui.horizontal(|ui| {
                let replace = Button::new("Replace the fingerprint and connect");
                let matches = match &pasted {
                    Pasted::Matches(fingerprint) => Some(fingerprint.clone()),
                    _ => None,
                };
                if ui
                    .add_enabled(matches.is_some(), replace)
                    .on_disabled_hover_text(
                        "Paste the new fingerprint your administrator gave you first",
                    )
                    .clicked()
                    && let Some(fingerprint) = matches
                {
                    answer = Some(TrustAnswer::Trust(fingerprint));
                }
                let close = Button::new(RichText::new("Do not connect").strong())
                    .min_size(egui::vec2(120.0, 28.0));
                if ui.add(close).clicked() {
                    answer = Some(TrustAnswer::Cancel);
                }
            });
        });
    if answer.is_none() && modal.should_close() {
        answer = Some(TrustAnswer::Cancel);
    }
    answer
}

/// A captioned box for a fingerprint the administrator gave, and below it,
/// once something is in it, whether it matches the one the server shows
/// (in green), or why not (in red). Returns that verdict.
fn compare_box(ui: &mut Ui, prompt: &mut TrustPrompt, caption: &str, id: &str) -> Pasted {
    let caption = ui.label(caption);
    ui.add(
        TextEdit::singleline(&mut prompt.typed)
            .id_salt(id)
            .hint_text("SHA256:…")
            .font(egui::TextStyle::Monospace)
            .desired_width(f32::INFINITY),
    )
    .labelled_by(caption.id);
    let pasted = prompt.pasted();
    if let Some(advice) = pasted.advice() {
        let colour = match pasted {
            Pasted::Matches(_) => palette::OK,
            _ => palette::ERROR,
        };
        ui.colored_label(colour, advice);
    }
    pasted
}

/// How a fingerprint is shown.
enum Shown<'a> {
    /// Selectable, with a Copy button (that sets the flag once used).
    Copyable(&'a mut bool),
    /// Selectable.
    Plain,
    /// In red and not selectable (a changed server's).
    Suspect,
}

/// The address, captioned.
fn address_row(ui: &mut Ui, addr: &str) {
    ui.horizontal(|ui| {
        ui.label(RichText::new("Server").weak());
        ui.label(RichText::new(addr).monospace().color(strong(ui)));
    });
}

/// A caption, then the fingerprint in monospace on one line, on a faint
/// background, as the server prints it.
fn fingerprint_block(ui: &mut Ui, caption: &str, value: &str, shown: Shown<'_>) {
    let suspect = matches!(shown, Shown::Suspect);
    ui.horizontal(|ui| {
        ui.label(RichText::new(caption).weak());
        if let Shown::Copyable(copied) = shown {
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                let text = if *copied { "Copied ✔" } else { "Copy" };
                if ui
                    .button(text)
                    .on_hover_text("Copy the fingerprint to the clipboard")
                    .clicked()
                {
                    ui.ctx().copy_text(value.to_owned());
                    *copied = true;
                }
            });
        }
    });
    let colour = if suspect { palette::ERROR } else { strong(ui) };
    egui::Frame::new()
        .fill(ui.visuals().extreme_bg_color)
        .inner_margin(egui::Margin::symmetric(8, 5))
        .corner_radius(4)
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.add(
                Label::new(RichText::new(value).monospace().size(13.0).color(colour))
                    .selectable(!suspect)
                    .wrap(),
            );
        });
}

/// One wrapped paragraph, with the `true` parts in code style.
fn with_code(ui: &mut Ui, parts: &[(&str, bool)]) {
    let mut job = LayoutJob::default();
    for (text, code) in parts {
        let text = if *code {
            RichText::new(*text).code()
        } else {
            RichText::new(*text)
        };
        text.append_to(&mut job, ui.style(), FontSelection::Default, Align::LEFT);
    }
    job.wrap.max_width = ui.available_width();
    ui.add(Label::new(job).wrap());
}

fn strong(ui: &Ui) -> Color32 {
    ui.visuals().strong_text_color()
}
