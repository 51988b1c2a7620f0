//! The login screen: server, user name, password, "remember this server",
//! "plaintext" for servers run without TLS, the recent servers, and a
//! clear message when it did not work. Logging
//! in is the app's `session` module; this only edits the form.

use egui::{Align, Layout, RichText, TextEdit, Ui};

use crate::panels::{field, palette};
use crate::settings::RecentServer;
use crate::state::login::LoginForm;
use crate::worker::PLAINTEXT_BOX;

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginAction {
    /// Log in with the form's contents.
    Login,
    /// Stop the attempt under way.
    CancelLogin,
    /// Drop a server from the recent list.
    Forget(String),
}

/// Draws the login screen.
pub fn show(ui: &mut Ui, form: &mut LoginForm, recent: &[RecentServer]) -> Option<LoginAction> {
    let mut action = None;
    let card_width = 400.0_f32.min(ui.available_width() - 48.0).max(200.0);
    ui.vertical_centered(|ui| {
        ui.add_space((ui.available_height() * 0.10).clamp(12.0, 80.0));
        ui.label(RichText::new("🚢 Ferry").size(34.0).strong());
        ui.label(RichText::new("Share files with your team").weak());
        ui.add_space(18.0);
        egui::Frame::group(ui.style())
            .inner_margin(20)
            .corner_radius(8)
            .show(ui, |ui| {
                ui.set_width(card_width);
                ui.with_layout(Layout::top_down(Align::Min), |ui| {
                    action = form_contents(ui, form, recent);
                });
            });
    });
    action
}

fn form_contents(
    ui: &mut Ui,
    form: &mut LoginForm,
    recent: &[RecentServer],
) -> Option<LoginAction> {
    let mut action = None;
    let enabled = !form.busy;
    let mut submit = false;

    ui.add_enabled_ui(enabled, |ui| {
        let server_label = ui
            .horizontal(|ui| {
                let label = ui.label("Server");
                if !recent.is_empty() {
                    ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                        recent_menu(ui, form, recent);
                    });
                }
                label
            })
            .inner;
        let addr = ui
            .add(
                TextEdit::singleline(&mut form.addr)
                    .id_salt("login-server")
                    .hint_text("host:port, e.g. files.example.lan:7878")
                    .desired_width(f32::INFINITY),
            )
            .labelled_by(server_label.id);
        submit |= field::entered(ui, &addr);
        ui.add_space(6.0);
        let user = field::labelled(ui, "User name", |ui| {
            ui.add(
                TextEdit::singleline(&mut form.user)
                    .id_salt("login-user")
                    .hint_text("your user name")
                    .desired_width(f32::INFINITY),
            )
        });
        submit |= field::entered(ui, &user);
        ui.add_space(6.0);
        let password = field::labelled(ui, "Password", |ui| {
            ui.add(
                TextEdit::singleline(&mut form.password)
                    .id_salt("login-password")
                    .password(true)
                    .hint_text("your password")
                    .desired_width(f32::INFINITY),
            )
        });
        submit |= field::entered(ui, &password);
        ui.add_space(8.0);
        ui.checkbox(&mut form.remember, "Remember this server")
            .on_hover_text(
                "Keeps the address and your user name for next time, never the password.",
            );
        ui.checkbox(&mut form.plaintext, PLAINTEXT_BOX)
            .on_hover_text(
                "Only for a server started with --plaintext: without TLS, the server is not \
             verified and your password and files cross the network in clear.",
            );
        if form.plaintext {
            ui.label(
                RichText::new("Your password and files will cross the network unencrypted.")
                    .color(palette::WARN),
            );
        }
    });
    ui.add_space(12.0);

    ui.horizontal(|ui| {
        let button =
            egui::Button::new(RichText::new("Log in").strong()).min_size(egui::vec2(110.0, 30.0));
        if ui.add_enabled(enabled, button).clicked() {
            submit = true;
        }
        if form.busy {
            ui.spinner();
            ui.label("Connecting…");
            if ui.button("Cancel").clicked() {
                action = Some(LoginAction::CancelLogin);
            }
            // Check again each second whether to say the server is slow.
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_secs(1));
        } else if let Some(r) = recent.iter().find(|r| r.addr == form.addr.trim())
            && ui
                .small_button("Forget this server")
                .on_hover_text("Remove it from the recent servers")
                .clicked()
        {
            action = Some(LoginAction::Forget(r.addr.clone()));
        }
    });
    if let Some(note) = form.slow_note(std::time::Instant::now()) {
        ui.add_space(6.0);
        ui.label(RichText::new(note).color(palette::WARN));
    }

    if submit && enabled {
        match form.check() {
            Ok(()) => action = Some(LoginAction::Login),
            Err(missing) => form.error = Some((crate::worker::LoginProblem::Other, missing.into())),
        }
    }

    if let Some((problem, message)) = &form.error {
        ui.add_space(10.0);
        egui::Frame::new()
            .fill(palette::error_fill(ui))
            .inner_margin(10)
            .corner_radius(6)
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.label(
                    RichText::new(problem.title())
                        .strong()
                        .color(palette::ERROR),
                );
                ui.label(message.as_str());
            });
    }
    action
}

fn recent_menu(ui: &mut Ui, form: &mut LoginForm, recent: &[RecentServer]) {
    ui.menu_button("Recent servers ⏷", |ui| {
        for r in recent {
            let mut text = format!("{} @ {}", r.user, r.addr);
            if r.plaintext {
                text.push_str(" (plaintext)");
            }
            let current =
                form.addr == r.addr && form.user == r.user && form.plaintext == r.plaintext;
            if ui.selectable_label(current, text).clicked() {
                form.addr = r.addr.clone();
                form.user = r.user.clone();
                form.plaintext = r.plaintext;
                form.password.clear();
                form.error = None;
                ui.close();
            }
        }
    });
}
