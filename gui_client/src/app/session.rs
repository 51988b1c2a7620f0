//! Logging in and out: starting the session from the login form, taking
//! the server's answer, remembering the server (never the password), and
//! forgetting everything of the session on log out.
//!
//! The login form itself is `state::login` and `panels::login`; the
//! connection is the worker's `WorkerHandle`.

use ferry_proto::protocol::Role;
use log::info;

use super::FerryApp;
use crate::panels::login::LoginAction;
use crate::state::admin::{ServerLogView, UsersView};
use crate::state::files::{FileTable, Refresh};
use crate::state::main_screen::Tab;
use crate::state::transfers::Transfers;
use crate::worker::{Credentials, LoginProblem, WorkerHandle};

impl FerryApp {
    /// Acts on the login screen's buttons.
    pub(super) fn login_action(&mut self, ctx: &egui::Context, action: LoginAction) {
        match action {
            LoginAction::Login => {
                let creds = Credentials::new(
                    &self.login.addr_with_port(),
                    &self.login.user,
                    &self.login.password,
                );
                info!("logging in to {} as {}", creds.addr, creds.user);
                self.login.busy = true;
                self.login.error = None;
                self.session = Some(WorkerHandle::login(
                    creds,
                    ctx,
                    self.settings.parallel(),
                    self.state_dir.clone(),
                ));
            }
            LoginAction::CancelLogin => {
                self.session = None;
                self.login.busy = false;
            }
            LoginAction::Forget(addr) => self.settings.forget_server(&addr),
        }
    }

    /// The login did not work: back to the form, which says why.
    pub(super) fn login_failed(&mut self, problem: LoginProblem, message: String) {
        self.session = None;
        self.login.busy = false;
        self.login.error = Some((problem, message));
    }

    pub(super) fn logged_in(&mut self, role: Role) {
        self.role = Some(role);
        self.login.busy = false;
        self.login.error = None;
        self.login.password.clear();
        let (addr, user) = match &self.session {
            Some(s) => (s.addr().to_owned(), s.user().to_owned()),
            None => return,
        };
        self.settings.remember = self.login.remember;
        if self.login.remember {
            self.settings.remember_server(&addr, &user);
        } else {
            self.settings.forget_server(&addr);
        }
        info!("logged in to {addr} as {user} ({role})");
        self.set_info(format!("Logged in to {addr} as {user} ({role})."));
        self.refresh();
    }

    /// Logs out: cancels transfers and forgets everything of the session.
    pub fn logout(&mut self) {
        if let Some(session) = self.session.take() {
            info!("logged out of {} as {}", session.addr(), session.user());
        }
        self.transfers.stop_all();
        self.transfers = Transfers::default();
        self.conflicts.clear();
        self.role = None;
        self.tab = Tab::Files;
        self.files = FileTable::default();
        self.history = None;
        self.server_log = ServerLogView::default();
        self.users = UsersView::default();
        self.confirm = None;
        self.prompt = None;
        self.password = None;
        self.refresh = Refresh::default();
        self.login.busy = false;
        self.login.error = None;
        self.status = None;
    }
}
