//! Logging in and out: starting the session from the login form (over TLS
//! with the app's [`Trust`](ferry_client::Trust), or in plaintext when the
//! form says so), taking the server's answer, asking about a server whose
//! certificate is new or changed and logging in again once the user
//! trusted it, remembering the server (never the password), and forgetting
//! everything of the session on log out.
//!
//! The login form itself is `state::login` and `panels::login`, the
//! certificate questions `state::trust` and `panels::trust`; the
//! connection is the worker's `WorkerHandle`.

use ferry_client::Security;
use ferry_proto::protocol::Role;
use log::{info, warn};

use super::FerryApp;
use crate::panels::login::LoginAction;
use crate::panels::trust::TrustAnswer;
use crate::state::admin::{ServerLogView, UsersView};
use crate::state::dialogs::Pending;
use crate::state::files::{FileTable, Refresh};
use crate::state::main_screen::Tab;
use crate::state::transfers::Transfers;
use crate::state::trust::{Secured, TrustPrompt};
use crate::worker::{Credentials, LoginProblem, TrustQuestion, WorkerHandle};

impl FerryApp {
    /// Acts on the login screen's buttons.
    pub(super) fn login_action(&mut self, ctx: &egui::Context, action: LoginAction) {
        match action {
            LoginAction::Login => self.start_login(ctx, None),
            LoginAction::CancelLogin => {
                self.session = None;
                self.login.busy = false;
            }
            LoginAction::Forget(addr) => self.settings.forget_server(&addr),
        }
    }

    /// Logs in with the form's contents; `pin` is a fingerprint the user
    /// just trusted for its address.
    fn start_login(&mut self, ctx: &egui::Context, pin: Option<String>) {
        let security = if self.login.plaintext {
            Security::Plaintext
        } else {
            Security::Tls(self.trust.clone())
        };
        let creds = Credentials::new(
            &self.login.addr_with_port(),
            &self.login.user,
            &self.login.password,
            security,
        );
        let how = if self.login.plaintext {
            "in plaintext"
        } else {
            "over TLS"
        };
        info!("logging in to {} as {} {how}", creds.addr, creds.user);
        self.login.busy = true;
        self.login.busy_since = Some(std::time::Instant::now());
        self.login.error = None;
        self.session = Some(WorkerHandle::login(
            creds,
            pin,
            ctx,
            self.settings.parallel(),
            self.state_dir.clone(),
        ));
    }

    /// The server's certificate is new or changed: nothing was sent, and
    /// the user is asked.
    pub(super) fn trust_needed(&mut self, question: TrustQuestion) {
        match &question {
            TrustQuestion::New { addr, fingerprint } => {
                info!("{addr} is not trusted yet; it shows {fingerprint}");
            }
            TrustQuestion::Changed {
                addr,
                pinned,
                presented,
                ..
            } => warn!("{addr} shows {presented}, but {pinned} was trusted; refused"),
        }
        self.session = None;
        self.login.busy = false;
        self.login.error = None;
        self.trust_prompt = Some(TrustPrompt::new(question));
    }

    /// The user answered the certificate question.
    pub(super) fn trust_answer(&mut self, ctx: &egui::Context, answer: TrustAnswer) {
        let Some(prompt) = self.trust_prompt.take() else {
            return;
        };
        let addr = prompt.question.addr().to_owned();
        match (answer, &prompt.question) {
            (TrustAnswer::Trust(fingerprint), _) => self.start_login(ctx, Some(fingerprint)),
            (TrustAnswer::Cancel, TrustQuestion::New { .. }) => {
                info!("{addr} was not trusted; not connected");
                self.login.error = Some((
                    LoginProblem::Other,
                    format!("Not connected: you did not trust the certificate of {addr}."),
                ));
            }
            (TrustAnswer::Cancel, TrustQuestion::Changed { .. }) => {
                self.login.error = Some((
                    LoginProblem::NotVerified,
                    format!(
                        "Not connected: {addr} shows another certificate than the one you \
                         trusted, so nothing was sent to it."
                    ),
                ));
            }
        }
    }

    /// The login did not work: back to the form, which says why.
    pub(super) fn login_failed(&mut self, problem: LoginProblem, message: String) {
        self.session = None;
        self.login.busy = false;
        self.login.error = Some((problem, message));
    }

    pub(super) fn logged_in(&mut self, role: Role, secured: Secured) {
        self.role = Some(role);
        self.secured = Some(secured);
        self.login.busy = false;
        self.login.error = None;
        self.login.password.clear();
        let (addr, user) = match &self.session {
            Some(s) => (s.addr().to_owned(), s.user().to_owned()),
            None => return,
        };
        self.settings.remember = self.login.remember;
        if self.login.remember {
            self.settings
                .remember_server(&addr, &user, self.login.plaintext);
        } else {
            self.settings.forget_server(&addr);
        }
        let verified = self.secured.as_ref().map(|s| s.verified.to_string());
        info!(
            "logged in to {addr} as {user} ({role}); {}",
            verified.unwrap_or_default()
        );
        self.set_info(format!("Logged in to {addr} as {user} ({role})."));
        self.refresh();
        self.offer_saved_queue();
    }

    /// The top bar's "Log out": asks first while transfers run, as closing
    /// the window does.
    pub fn request_logout(&mut self) {
        if self.transfers.active() > 0 {
            self.confirm = Some(Pending::LogOut);
        } else {
            self.logout();
        }
    }

    /// Logs out: stops the transfers, keeping the unfinished ones for the
    /// next login, and forgets everything else of the session.
    pub fn logout(&mut self) {
        self.remember_queue();
        self.resume_offer = None;
        if let Some(session) = self.session.take() {
            info!("logged out of {} as {}", session.addr(), session.user());
        }
        self.transfers.stop_all();
        self.transfers = Transfers::default();
        self.conflicts.clear();
        self.upload_as = crate::state::upload_as::NameFixes::default();
        self.role = None;
        self.secured = None;
        self.trust_prompt = None;
        self.tab = Tab::Files;
        self.files = FileTable::sorted(self.settings.file_sort);
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
