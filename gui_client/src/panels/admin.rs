//! The admin panel: the server log (refresh, filter) and user management
//! (add, remove, change password, change role). Only shown to admins; the
//! server checks every one of these requests anyway. It returns what was
//! clicked; the app's `admin` module sends the requests.

use egui::{Align, Button, DragValue, Layout, RichText, ScrollArea, TextEdit, Ui};
use egui_extras::{Column, TableBuilder};
use ferry_proto::protocol::{MAX_LOG_LINES, Role};

use crate::panels::{field, palette};
use crate::state::admin::{ServerLogView, UsersView};

/// What the admin asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminAction {
    /// Fetch the server log again.
    RefreshLog,
    /// Fetch the user list again.
    RefreshUsers,
    /// Create an account.
    AddUser {
        /// Name.
        name: String,
        /// Role.
        role: Role,
        /// Password.
        password: String,
    },
    /// Remove an account (asks first).
    RemoveUser(String),
    /// Open the password dialog for a user.
    ChangePassword(String),
    /// Change a role.
    SetRole {
        /// Whose.
        user: String,
        /// The new one.
        role: Role,
    },
}

/// Draws the server log view.
pub fn server_log(ui: &mut Ui, view: &mut ServerLogView) -> Option<AdminAction> {
    let mut action = None;
    ui.horizontal(|ui| {
        ui.label(RichText::new("Server log").heading());
        ui.add_space(12.0);
        if ui
            .add_enabled(!view.loading, Button::new("Refresh log"))
            .on_hover_text("Fetch the end of the server log again")
            .clicked()
        {
            action = Some(AdminAction::RefreshLog);
        }
        if view.loading {
            ui.spinner();
        }
        field::inline(ui, "Lines", |ui| {
            ui.add(
                DragValue::new(&mut view.count)
                    .range(10..=MAX_LOG_LINES)
                    .speed(10),
            )
        });
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            let label = ui.label("🔍");
            ui.add(
                TextEdit::singleline(&mut view.filter)
                    .id_salt("server-log-filter")
                    .hint_text("Filter, e.g. login failed")
                    .desired_width(260.0),
            )
            .labelled_by(label.id);
        });
    });
    if let Some(error) = &view.error {
        ui.colored_label(palette::ERROR, error.as_str());
    }
    let lines = view.visible();
    ui.label(
        RichText::new(format!(
            "{} of {} lines{}",
            lines.len(),
            view.lines.len(),
            if view.filter.trim().is_empty() {
                ""
            } else {
                " match the filter"
            }
        ))
        .weak()
        .small(),
    );
    log_lines(ui, "server-log-lines", &lines);
    action
}

/// Lines of a log in a scrolling monospace box that follows new lines.
pub fn log_lines(ui: &mut Ui, id: &str, lines: &[&str]) {
    egui::Frame::new()
        .fill(ui.visuals().extreme_bg_color)
        .inner_margin(6)
        .corner_radius(4)
        .show(ui, |ui| {
            let row_height = ui.text_style_height(&egui::TextStyle::Monospace);
            ScrollArea::both()
                .id_salt(id)
                .auto_shrink([false, false])
                .stick_to_bottom(true)
                .show_rows(ui, row_height, lines.len(), |ui, range| {
                    for line in &lines[range] {
                        let text = RichText::new(*line).monospace();
                        let text = if line.contains("ERROR") {
                            text.color(palette::ERROR)
                        } else if line.contains("WARN") {
                            text.color(palette::WARN)
                        } else {
                            text
                        };
                        ui.add(egui::Label::new(text).extend());
                    }
                });
        });
}

/// Draws the user list and the "add user" form. `me` is the admin's own
/// name: they cannot remove or demote themselves from here.
pub fn users(ui: &mut Ui, view: &mut UsersView, me: &str) -> Option<AdminAction> {
    let mut action = None;
    ui.horizontal(|ui| {
        ui.label(RichText::new("Users").heading());
        ui.add_space(12.0);
        if ui
            .add_enabled(!view.loading, Button::new("Refresh users"))
            .clicked()
        {
            action = Some(AdminAction::RefreshUsers);
        }
        if view.loading {
            ui.spinner();
        }
    });
    if let Some(error) = &view.error {
        ui.colored_label(palette::ERROR, error.as_str());
    }
    if let Some(notice) = &view.notice {
        ui.colored_label(palette::OK, format!("✔ {notice}"));
    }
    ui.add_space(4.0);

    add_user_form(ui, view, &mut action);
    ui.add_space(8.0);

    let row_height = ui.spacing().interact_size.y + 6.0;
    let users = view.users.clone();
    TableBuilder::new(ui)
        .id_salt("users")
        .striped(true)
        .cell_layout(Layout::left_to_right(Align::Center))
        .column(Column::initial(220.0).at_least(120.0).clip(true))
        .column(Column::initial(150.0))
        .column(Column::remainder())
        .header(row_height, |mut header| {
            header.col(|ui| {
                ui.label(RichText::new("User").strong());
            });
            header.col(|ui| {
                ui.label(RichText::new("Role").strong());
            });
            header.col(|ui| {
                ui.label(RichText::new("Actions").strong());
            });
        })
        .body(|mut body| {
            for (name, role) in &users {
                body.row(row_height, |mut row| {
                    let myself = name == me;
                    row.col(|ui| {
                        ui.label(name.as_str());
                        if myself {
                            ui.label(RichText::new("(you)").weak());
                        }
                    });
                    row.col(|ui| {
                        ui.add_enabled_ui(!myself, |ui| {
                            for choice in [Role::User, Role::Admin] {
                                let response = ui
                                    .selectable_label(*role == choice, choice.as_str())
                                    .accessible_name(format!("Make {name} {choice}"))
                                    .on_hover_text(format!("Make {name} {choice}"))
                                    .on_disabled_hover_text("You cannot change your own role");
                                if response.clicked() && *role != choice {
                                    action = Some(AdminAction::SetRole {
                                        user: name.clone(),
                                        role: choice,
                                    });
                                }
                            }
                        });
                    });
                    row.col(|ui| {
                        if ui
                            .small_button("Change password…")
                            .on_hover_text(format!("Set a new password for {name}"))
                            .clicked()
                        {
                            action = Some(AdminAction::ChangePassword(name.clone()));
                        }
                        let remove = ui
                            .add_enabled(!myself, Button::new("Remove…").small())
                            .on_hover_text(format!("Delete the account {name}"))
                            .on_disabled_hover_text("You cannot remove yourself");
                        if remove.clicked() {
                            action = Some(AdminAction::RemoveUser(name.clone()));
                        }
                    });
                });
            }
        });
    action
}

fn add_user_form(ui: &mut Ui, view: &mut UsersView, action: &mut Option<AdminAction>) {
    egui::Frame::group(ui.style())
        .inner_margin(8)
        .show(ui, |ui| {
            ui.label(RichText::new("Add a user").strong());
            ui.horizontal_wrapped(|ui| {
                field::inline(ui, "Name", |ui| {
                    ui.add(
                        TextEdit::singleline(&mut view.new_name)
                            .id_salt("new-user-name")
                            .hint_text("letters, digits . _ -")
                            .desired_width(150.0),
                    )
                });
                field::inline(ui, "Password", |ui| {
                    ui.add(
                        TextEdit::singleline(&mut view.new_password)
                            .id_salt("new-user-password")
                            .password(true)
                            .hint_text("at least 8 characters")
                            .desired_width(150.0),
                    )
                });
                field::inline(ui, "Repeat", |ui| {
                    ui.add(
                        TextEdit::singleline(&mut view.new_repeat)
                            .id_salt("new-user-repeat")
                            .password(true)
                            .hint_text("the password again")
                            .desired_width(150.0),
                    )
                });
                ui.label("Role");
                ui.selectable_value(&mut view.new_role, Role::User, "user");
                ui.selectable_value(&mut view.new_role, Role::Admin, "admin");
                let problem = view.add_problem();
                if ui
                    .add_enabled(
                        problem.is_none() && view.adding.is_none(),
                        Button::new("Add user"),
                    )
                    .on_disabled_hover_text(problem.unwrap_or("Adding…"))
                    .clicked()
                {
                    let name = view.new_name.trim().to_owned();
                    view.adding = Some(name.clone());
                    *action = Some(AdminAction::AddUser {
                        name,
                        role: view.new_role,
                        password: view.new_password.clone(),
                    });
                }
            });
            // One line always: the form does not jump when it appears.
            let hint = match view.add_problem() {
                Some(problem) if !view.new_repeat.is_empty() => {
                    RichText::new(problem).color(palette::WARN)
                }
                _ => RichText::new(" ").small(),
            };
            ui.label(hint);
        });
}
