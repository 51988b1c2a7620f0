//! The transfers panel: one row per upload or download with its progress
//! bar, bytes, speed, time left, state and buttons. It returns what was
//! clicked; the app's `transfers` module stops, retries or removes rows.

use egui::{Align, Button, Label, Layout, ProgressBar, RichText, Ui};
use egui_extras::{Column, TableBuilder};

use crate::format::{eta, human_size, speed};
use crate::panels::palette;
use crate::state::transfers::{Direction, Totals, Transfer, TransferState, Transfers};
use crate::worker::TransferId;

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferAction {
    /// Stop a transfer.
    Cancel(TransferId),
    /// Start a failed or cancelled transfer again.
    Retry(TransferId),
    /// Remove a finished row.
    Remove(TransferId),
    /// Remove every finished row.
    ClearFinished,
    /// Stop, keeping the partial file.
    Pause(TransferId),
    /// Continue a paused transfer.
    Resume(TransferId),
}

/// Below this width the table takes its narrow layout.
const WIDE: f32 = 930.0;

/// Draws the panel.
pub fn show(ui: &mut Ui, transfers: &Transfers) -> Vec<TransferAction> {
    let mut actions = Vec::new();
    ui.horizontal(|ui| {
        ui.label(RichText::new("Transfers").strong());
        let active = transfers.active();
        let waiting = transfers
            .rows
            .iter()
            .filter(|t| t.state == TransferState::WaitingForChoice)
            .count();
        let mut parts = Vec::new();
        if active > 0 {
            parts.push(format!("{active} running or queued"));
        }
        if waiting > 0 {
            parts.push(format!("{waiting} waiting for your choice"));
        }
        if !parts.is_empty() {
            ui.label(RichText::new(parts.join(", ")).weak());
        }
        if let Some(totals) = transfers.totals() {
            total_line(ui, totals);
        }
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            let finished = transfers.rows.iter().any(|t| t.state.is_finished());
            if ui
                .add_enabled(finished, Button::new("Clear finished"))
                .on_hover_text("Remove the rows of finished transfers")
                .clicked()
            {
                actions.push(TransferAction::ClearFinished);
            }
        });
    });
    if transfers.rows.is_empty() {
        ui.add_space(6.0);
        ui.label(
            RichText::new(
                "No transfers yet. Upload with “Upload…” or by dropping files or folders onto the \
                 window; download with “Download…” or a double-click on a file.",
            )
            .weak(),
        );
        return actions;
    }
    let line = ui.text_style_height(&egui::TextStyle::Body);
    // A narrow window gets narrower bars, and the speed and time left move
    // into the state column, so the buttons stay on screen.
    let narrow = ui.available_width() < WIDE;
    let (bar_width, rate_width, state_width) = if narrow {
        (150.0, 0.0, 120.0)
    } else {
        (240.0, 90.0, 165.0)
    };
    TableBuilder::new(ui)
        .id_salt(("transfers", narrow))
        .striped(true)
        .stick_to_bottom(true)
        .auto_shrink([false, true])
        .cell_layout(Layout::left_to_right(Align::Center))
        .column(Column::remainder().at_least(110.0).clip(true))
        .column(Column::exact(bar_width))
        .column(Column::exact(rate_width))
        .column(Column::exact(rate_width))
        .column(Column::exact(state_width).clip(true))
        .column(Column::auto().at_least(if narrow { 120.0 } else { 170.0 }))
        .body(|mut body| {
            for t in &transfers.rows {
                // A failure's reason may take two lines.
                let note_lines = match (&t.state, second_line(t)) {
                    (TransferState::Failed(_), _) => 2,
                    (_, Some(_)) => 1,
                    (_, None) => 0,
                };
                let lines = 1 + note_lines + t.mirrors.len();
                let height = line * lines as f32 + 10.0;
                body.row(height, |mut row| {
                    row.col(|ui| name_cell(ui, t));
                    row.col(|ui| {
                        // No bar before the size is known: an empty bar says nothing.
                        if t.total == 0 && t.state != TransferState::Done {
                            return;
                        }
                        let text = if narrow {
                            t.short_bytes_text()
                        } else {
                            t.bytes_text()
                        };
                        let bar = ProgressBar::new(t.fraction())
                            .desired_width(bar_width - 10.0)
                            .text(text);
                        let bar = match t.state {
                            TransferState::Done => bar.fill(palette::OK),
                            TransferState::Failed(_) => bar.fill(palette::ERROR),
                            TransferState::Paused | TransferState::Cancelled => {
                                bar.fill(ui.visuals().widgets.inactive.bg_fill)
                            }
                            _ => bar,
                        };
                        ui.add(bar);
                    });
                    row.col(|ui| {
                        if !narrow && matches!(t.state, TransferState::Transferring) {
                            ui.label(speed(t.speed));
                        }
                    });
                    row.col(|ui| {
                        if !narrow && matches!(t.state, TransferState::Transferring) {
                            ui.label(eta(t.total.saturating_sub(t.done), t.speed))
                                .on_hover_text("Time left at the current speed");
                        }
                    });
                    row.col(|ui| {
                        if narrow && t.state == TransferState::Transferring {
                            let left = eta(t.total.saturating_sub(t.done), t.speed);
                            ui.label(format!("{} · {left}", speed(t.speed)))
                                .on_hover_text("Speed, and time left at that speed");
                        } else {
                            state_cell(ui, t);
                        }
                    });
                    row.col(|ui| buttons(ui, t, &mut actions));
                });
            }
        });
    actions
}

/// All running transfers together: one bar, bytes and the summed speed.
fn total_line(ui: &mut Ui, totals: Totals) {
    if totals.total == 0 {
        return;
    }
    let text = format!(
        "Total {} / {}",
        human_size(totals.done),
        human_size(totals.total)
    );
    ui.add(
        ProgressBar::new(totals.fraction())
            .desired_width(200.0)
            .text(text),
    )
    .on_hover_text("All running and queued transfers together");
    if totals.speed > 0.0 {
        ui.label(format!("at {}", speed(totals.speed)));
    }
}

fn second_line(t: &Transfer) -> Option<(String, bool)> {
    match &t.state {
        TransferState::Failed(reason) => Some((reason.clone(), true)),
        _ => t.detail().map(|n| (n, false)),
    }
}

fn name_cell(ui: &mut Ui, t: &Transfer) {
    ui.vertical(|ui| {
        ui.horizontal(|ui| {
            let (arrow, colour, tip) = match t.direction {
                Direction::Upload => ("⬆", palette::UP, "Upload"),
                Direction::Download => ("⬇", palette::DOWN, "Download"),
            };
            ui.label(RichText::new(arrow).color(colour))
                .on_hover_text(tip);
            let mut name = if t.folder {
                format!("🗀 {}", t.name)
            } else {
                t.name.clone()
            };
            if t.direction == Direction::Download
                && let Some(v) = t.version
            {
                name.push_str(&format!("  (v{v})"));
            }
            ui.add(Label::new(RichText::new(name).strong()).truncate())
                .on_hover_text(t.local.display().to_string());
        });
        if let Some((text, failed)) = second_line(t) {
            if failed {
                ui.add(Label::new(RichText::new(&text).color(palette::ERROR)).wrap())
                    .on_hover_text(text);
            } else {
                ui.add(Label::new(RichText::new(&text).weak().small()).truncate())
                    .on_hover_text(text);
            }
        }
        for m in &t.mirrors {
            let line = match &m.dropped {
                Some(why) => format!("from {}: left out, {why}", m.addr),
                None if t.state == TransferState::Transferring => format!(
                    "from {}: {} at {}",
                    m.addr,
                    human_size(m.bytes),
                    speed(m.speed as f64)
                ),
                None => format!("from {}: {}", m.addr, human_size(m.bytes)),
            };
            let text = RichText::new(&line).small();
            let text = match m.dropped {
                Some(_) => text.color(palette::WARN),
                None => text,
            };
            // The whole line on hover: a refused mirror's reason is long.
            ui.add(Label::new(text).truncate()).on_hover_text(line);
        }
    });
}

fn state_cell(ui: &mut Ui, t: &Transfer) {
    let label = t.state.text();
    match &t.state {
        TransferState::Done => {
            ui.label(RichText::new("✔ done").color(palette::OK))
                .on_hover_text("Transferred and MD5 checked");
        }
        TransferState::Failed(reason) => {
            ui.label(RichText::new("✖ failed").color(palette::ERROR))
                .on_hover_text(reason.as_str());
        }
        TransferState::WaitingForChoice => {
            ui.label(RichText::new(label).color(palette::WARN));
        }
        TransferState::Connecting | TransferState::Hashing | TransferState::Verifying => {
            ui.spinner();
            ui.label(label);
        }
        TransferState::Reconnecting { .. } => {
            ui.spinner();
            ui.label(RichText::new(label).color(palette::WARN))
                .on_hover_text("The connection was lost; the transfer continues once it is back");
        }
        _ => {
            ui.label(label);
        }
    }
}

fn buttons(ui: &mut Ui, t: &Transfer, actions: &mut Vec<TransferAction>) {
    let id = t.id;
    if t.state == TransferState::Paused {
        if ui
            .add(Button::new("Resume").small())
            .on_hover_text("Continue where it stopped")
            .clicked()
        {
            actions.push(TransferAction::Resume(id));
        }
    } else if !t.state.is_finished() {
        let can = t.state.is_active();
        let pause = ui
            .add_enabled(can, Button::new("Pause").small())
            .on_hover_text("Stop for now, keeping what arrived")
            .on_disabled_hover_text("Only a running transfer can be paused");
        if pause.clicked() {
            actions.push(TransferAction::Pause(id));
        }
    }
    if t.can_cancel() {
        if ui
            .add(Button::new("Cancel").small())
            .on_hover_text("Stop this transfer and discard what arrived")
            .clicked()
        {
            actions.push(TransferAction::Cancel(id));
        }
    } else {
        let retry = matches!(t.state, TransferState::Failed(_) | TransferState::Cancelled);
        if retry
            && ui
                .add(Button::new("Retry").small())
                .on_hover_text("Start this transfer again")
                .clicked()
        {
            actions.push(TransferAction::Retry(id));
        }
        if ui
            .add(Button::new("Remove").small())
            .on_hover_text("Remove this row")
            .clicked()
        {
            actions.push(TransferAction::Remove(id));
        }
    }
}
