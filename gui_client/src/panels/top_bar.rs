//! The main screen's top bar: the tabs (the admin tabs only for admins),
//! and on the right "Log out", "Change my password…", who is logged in
//! where, and the padlock: how the server was verified (hover for its
//! fingerprint), or a warning that the connection is not encrypted. It returns what was clicked; the app switches tabs, logs out or
//! opens the password dialog.

use egui::{Align, Layout, RichText, Ui};
use ferry_proto::protocol::Role;

use crate::format;
use crate::panels::palette;
use crate::state::main_screen::Tab;
use crate::state::trust::Secured;

/// The width from which tabs and account fit on one row.
const WIDE_ENOUGH: f32 = 900.0;

/// What the user clicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopBarAction {
    /// Switch to this tab.
    OpenTab(Tab),
    /// Log out.
    LogOut,
    /// Open the password dialog for the logged-in user.
    ChangeMyPassword,
}

/// Who is logged in where.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    /// The user name.
    pub user: &'a str,
    /// The server's `host:port`.
    pub addr: &'a str,
    /// Their role, once the login answered.
    pub role: Option<Role>,
    /// How the server was verified, once the login answered.
    pub secured: Option<&'a Secured>,
}

/// Draws the bar with `tab` selected. `who` is `None` without a session.
/// The actions come in the order they were clicked.
pub fn show(ui: &mut Ui, tab: Tab, is_admin: bool, who: Option<Who<'_>>) -> Vec<TopBarAction> {
    let mut actions = Vec::new();
    // A tab clicked shows as selected for the rest of the frame.
    let mut current = tab;
    // Below this width the account part gets a row of its own, so it
    // never overlaps the tabs (the window's minimum is 640 wide).
    let narrow = ui.available_width() < WIDE_ENOUGH;
    ui.horizontal(|ui| {
        ui.label(RichText::new("🚢 Ferry").strong().size(18.0));
        ui.separator();
        let mut tabs = vec![(Tab::Files, "Files")];
        if is_admin {
            tabs.push((Tab::ServerLog, "Server log"));
            tabs.push((Tab::Users, "Users"));
        }
        tabs.push((Tab::ClientLog, "Client log"));
        for (tab, title) in tabs {
            if ui.selectable_label(current == tab, title).clicked() && current != tab {
                current = tab;
                actions.push(TopBarAction::OpenTab(tab));
            }
        }
        if !narrow {
            account(ui, who, &mut actions);
        }
    });
    if narrow {
        ui.horizontal(|ui| account(ui, who, &mut actions));
    }
    actions
}

/// Log out, change password, who is where and the padlock, from the right.
fn account(ui: &mut Ui, who: Option<Who<'_>>, actions: &mut Vec<TopBarAction>) {
    ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
        if ui.button("Log out").clicked() {
            actions.push(TopBarAction::LogOut);
            return;
        }
        // Anyone may change their own password; admins also from the Users tab.
        if who.is_some() && ui.button("Change my password…").clicked() {
            actions.push(TopBarAction::ChangeMyPassword);
        }
        if let Some(Who {
            user,
            addr,
            role: Some(role),
            secured,
        }) = who
        {
            ui.label(
                RichText::new(format::role(role))
                    .small()
                    .color(if role == Role::Admin {
                        palette::WARN
                    } else {
                        ui.visuals().weak_text_color()
                    }),
            );
            if let Some(secured) = secured {
                padlock(ui, secured);
            }
            // Last, so it is what shortens when space runs out.
            ui.add(egui::Label::new(format!("{user} @ {addr}")).truncate());
        }
    });
}

/// The padlock: a warning colour in plaintext, the fingerprint on hover.
pub fn padlock(ui: &mut Ui, secured: &Secured) {
    let (words, warning) = secured.padlock();
    let text = if warning {
        RichText::new(words).strong().color(palette::WARN)
    } else {
        RichText::new(words).color(palette::OK)
    };
    ui.label(text).on_hover_text(secured.explanation());
}
