//! The tabs besides Files: switching to one (and fetching what it shows
//! the first time), the admin tabs' buttons (server log, users) and what
//! the server says about user changes, and the client log tab's.
//!
//! The data is `state::admin` and `state::client_log`, the drawing
//! `panels::admin` and `panels::client_log`. The server checks every admin
//! request again; hiding the tabs is only a courtesy.

use std::path::Path;

use ferry_proto::protocol::Role;
use log::info;

use super::FerryApp;
use crate::logging;
use crate::panels::admin::AdminAction;
use crate::panels::client_log::ClientLogAction;
use crate::state::client_log::ClientLogView;
use crate::state::dialogs::{PasswordDialog, Pending};
use crate::state::main_screen::Tab;
use crate::worker::Command;

impl FerryApp {
    pub(super) fn open_tab(&mut self, tab: Tab) {
        self.tab = tab;
        let Some(session) = &self.session else {
            return;
        };
        match tab {
            Tab::ServerLog if !self.server_log.loaded && !self.server_log.loading => {
                self.server_log.loading = true;
                session.send(Command::ServerLog {
                    lines: self.server_log.count,
                });
            }
            Tab::Users if !self.users.loaded && !self.users.loading => {
                self.users.loading = true;
                session.send(Command::Users);
            }
            Tab::ClientLog => self.client_log.reload(),
            _ => {}
        }
    }

    pub(super) fn admin_action(&mut self, action: AdminAction) {
        let Some(session) = &self.session else {
            return;
        };
        match action {
            AdminAction::RefreshLog => {
                self.server_log.loading = true;
                session.send(Command::ServerLog {
                    lines: self.server_log.count,
                });
            }
            AdminAction::RefreshUsers => {
                self.users.loading = true;
                session.send(Command::Users);
            }
            AdminAction::AddUser {
                name,
                role,
                password,
            } => {
                session.send(Command::AddUser {
                    name,
                    role,
                    password,
                });
            }
            AdminAction::RemoveUser(name) => self.confirm = Some(Pending::RemoveUser(name)),
            AdminAction::ChangePassword(user) => {
                self.password = Some(PasswordDialog {
                    user,
                    ..PasswordDialog::default()
                });
            }
            AdminAction::SetRole { user, role } => {
                self.confirm = Some(Pending::SetRole(user, role))
            }
        }
    }

    /// What the server said about a change to a user (added, removed, new
    /// password, new role): in the Users tab and the status bar, and the
    /// user list fetched again for admins.
    pub(super) fn user_changed(&mut self, what: String, result: Result<(), String>) {
        self.users.add_answered(result.is_ok());
        match result {
            Ok(()) => {
                self.users.error = None;
                self.set_info(format!("Done: {what}."));
                self.users.notice = Some(what);
                if self.role == Some(Role::Admin)
                    && let Some(session) = &self.session
                {
                    self.users.loading = true;
                    session.send(Command::Users);
                }
            }
            Err(e) => {
                self.users.notice = None;
                // Shown in the Users tab, and in the status bar for
                // users who change their own password without one.
                self.set_error(e.clone());
                self.users.error = Some(e);
            }
        }
    }

    /// Acts on the client log tab's buttons.
    pub(super) fn client_log_action(&mut self, action: ClientLogAction) {
        match action {
            ClientLogAction::Reload => self.client_log.reload(),
            ClientLogAction::MoveTo(dir) => self.move_log(Path::new(&dir)),
        }
    }

    fn move_log(&mut self, dir: &Path) {
        match logging::switch_dir(dir) {
            Ok(()) => {
                info!("client log moved to {}", dir.display());
                self.settings.logs_dir = Some(dir.to_owned());
                self.client_log = ClientLogView::new(dir.to_owned());
                self.client_log.reload();
            }
            Err(e) => self.client_log.error = Some(e),
        }
    }
}
