//! The app: a thin shell over the state and panel modules.
//!
//! [`FerryApp`] is composed of the pieces of state (from `crate::state`,
//! one per screen or panel) and the worker's [`WorkerHandle`] to the server.
//! Each frame [`FerryApp::show`] drains the workers' events and hands each
//! to the concern it belongs to, then lays out the login screen or the
//! main screen from the `crate::panels` functions and passes what those
//! return to the same concerns. It never waits for the network: every
//! request goes to a worker thread.
//!
//! What the app does about each concern is in a child module, one
//! `impl FerryApp` block each:
//! - `session`: logging in and out, and the questions about a server's
//!   certificate;
//! - `files`: the file list, its refresh and one file's history;
//! - `transfers`: uploads, downloads and the "name exists" question;
//! - `admin`: the other tabs (server log, users, client log);
//! - `dialogs`: the app's dialogs, native dialog answers, closing the window;
//! - `queue`: keeping unfinished transfers for the next login, and the
//!   offer to continue them.
//!
//! Nothing here draws a widget itself, and no state lives outside the
//! `crate::state` types it holds.

mod admin;
mod dialogs;
mod files;
mod queue;
mod session;
mod transfers;

use std::path::PathBuf;

use egui::Ui;
use ferry_client::Trust;
use ferry_proto::names::LocalOs;
use ferry_proto::protocol::Role;
use log::{info, warn};

use crate::local_file::LocalProbes;
use crate::logging;
use crate::native_dialog::NativeDialogs;
use crate::panels;
use crate::panels::files::FilesContext;
use crate::panels::top_bar::{TopBarAction, Who};
use crate::settings::Settings;
use crate::state::admin::{ServerLogView, UsersView};
use crate::state::client_log::ClientLogView;
use crate::state::conflicts::Conflicts;
use crate::state::dialogs::{MoveDialog, NewFolder, PasswordDialog, PathPrompt, Pending};
use crate::state::files::{FileTable, Refresh};
use crate::state::history::HistoryView;
use crate::state::login::LoginForm;
use crate::state::queue::ResumeOffer;
use crate::state::transfers::Transfers;
use crate::state::trust::{Secured, TrustPrompt};
use crate::state::upload_as::NameFixes;
use crate::worker::{Event, WorkerHandle};

pub use crate::state::main_screen::{Status, Tab};

/// The transfers panel's first height: room for two rows and the panel's
/// own header, leaving the file table most of a 420 px high window.
pub const TRANSFERS_HEIGHT: f32 = 150.0;

/// How the app starts.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// Server address to put in the login form.
    pub server: Option<String>,
    /// User name to put in the login form.
    pub user: Option<String>,
    /// Password to put in the login form (from `FERRY_PASSWORD`).
    pub password: Option<String>,
    /// The logs folder, overriding the remembered one (from `FERRY_LOGS`).
    pub logs_dir: Option<PathBuf>,
    /// Whether to start writing client.log (once per process).
    pub init_logging: bool,
    /// Whether to use native file dialogs when the system has them.
    pub native_dialogs: bool,
    /// Where uploads keep what lets them resume after the app was closed
    /// (`None`: they resume only within one attempt).
    pub state_dir: Option<PathBuf>,
    /// Whose file-name rules a download named after the server's name
    /// follows (`None`: this system's). Tests set Windows to check its rule
    /// on any system.
    pub local_os: Option<LocalOs>,
    /// Whom TLS connections trust: `None` is the user's own, the system's
    /// certificate authorities and the known-hosts file the CLI uses too
    /// ([`Trust::for_user`]). Tests give one with a known-hosts file of
    /// their own.
    pub trust: Option<Trust>,
}

/// The Ferry desktop app.
pub struct FerryApp {
    settings: Settings,
    login: LoginForm,
    session: Option<WorkerHandle>,
    role: Option<Role>,
    tab: Tab,
    files: FileTable,
    history: Option<HistoryView>,
    transfers: Transfers,
    conflicts: Conflicts,
    local_probes: LocalProbes,
    upload_as: NameFixes,
    server_log: ServerLogView,
    users: UsersView,
    client_log: ClientLogView,
    confirm: Option<Pending>,
    prompt: Option<PathPrompt>,
    password: Option<PasswordDialog>,
    new_folder: Option<NewFolder>,
    moving: Option<MoveDialog>,
    resume_offer: Option<ResumeOffer>,
    status: Option<Status>,
    trust: Trust,
    trust_prompt: Option<TrustPrompt>,
    secured: Option<Secured>,
    dialogs: NativeDialogs,
    refresh: Refresh,
    next_batch: u64,
    quitting: bool,
    state_dir: Option<PathBuf>,
    local_os: LocalOs,
}

impl FerryApp {
    /// Builds the app from what eframe stored (if anything) and the options.
    pub fn new(storage: Option<&dyn eframe::Storage>, options: AppOptions) -> FerryApp {
        let mut settings = Settings::load(storage);
        if let Some(dir) = &options.logs_dir {
            settings.logs_dir = Some(dir.clone());
        }
        let logs_dir = settings.logs_dir();
        let mut client_log = ClientLogView::new(logs_dir.clone());
        if options.init_logging
            && let Err(e) = logging::init(&logs_dir)
        {
            client_log.error = Some(e);
        }
        let recent = settings.recent.first().cloned().unwrap_or_default();
        let addr = options.server.clone().unwrap_or(recent.addr);
        let plaintext = settings
            .recent
            .iter()
            .find(|r| r.addr == addr)
            .is_some_and(|r| r.plaintext);
        let login = LoginForm {
            addr,
            user: options.user.clone().unwrap_or(recent.user),
            password: options.password.clone().unwrap_or_default(),
            remember: settings.remember,
            plaintext,
            ..LoginForm::default()
        };
        let files = FileTable::sorted(settings.file_sort);
        info!("ferry desktop app started");
        FerryApp {
            settings,
            login,
            session: None,
            role: None,
            tab: Tab::Files,
            files,
            history: None,
            transfers: Transfers::default(),
            conflicts: Conflicts::default(),
            local_probes: LocalProbes::default(),
            upload_as: NameFixes::default(),
            server_log: ServerLogView::default(),
            users: UsersView::default(),
            client_log,
            confirm: None,
            prompt: None,
            password: None,
            new_folder: None,
            moving: None,
            resume_offer: None,
            status: None,
            trust: options.trust.unwrap_or_else(Trust::for_user),
            trust_prompt: None,
            secured: None,
            dialogs: NativeDialogs::new(options.native_dialogs),
            refresh: Refresh::default(),
            next_batch: 0,
            quitting: false,
            state_dir: options.state_dir,
            local_os: options.local_os.unwrap_or_else(LocalOs::current),
        }
    }

    // -- read access, for tests and the binary -------------------------------

    /// The persisted settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The role of the logged-in user; `None` on the login screen.
    pub fn role(&self) -> Option<Role> {
        self.role
    }

    /// The file table.
    pub fn files(&self) -> &FileTable {
        &self.files
    }

    /// The users tab.
    pub fn users(&self) -> &UsersView {
        &self.users
    }

    /// The transfers.
    pub fn transfers(&self) -> &Transfers {
        &self.transfers
    }

    /// The open version history, if any.
    pub fn history(&self) -> Option<&HistoryView> {
        self.history.as_ref()
    }

    /// The login form.
    pub fn login_form(&self) -> &LoginForm {
        &self.login
    }

    /// The status bar's line.
    pub fn status(&self) -> Option<&Status> {
        self.status.as_ref()
    }

    /// The tab on screen.
    pub fn tab(&self) -> Tab {
        self.tab
    }

    /// The open question about a server's certificate, if any.
    pub fn trust_prompt(&self) -> Option<&TrustPrompt> {
        self.trust_prompt.as_ref()
    }

    /// How the session's server was verified; `None` when not logged in.
    pub fn secured(&self) -> Option<&Secured> {
        self.secured.as_ref()
    }

    /// Whether a confirmation, conflict or path dialog is open.
    pub fn dialog_open(&self) -> bool {
        self.confirm.is_some()
            || self.prompt.is_some()
            || self.password.is_some()
            || self.new_folder.is_some()
            || self.moving.is_some()
            || self.resume_offer.is_some()
            || self.conflicts.current().is_some()
            || self.upload_as.is_open()
    }

    /// Writes the settings to eframe's storage.
    pub fn save_settings(&self, storage: &mut dyn eframe::Storage) {
        self.settings.save(storage);
    }

    fn set_info(&mut self, text: String) {
        self.status = Some(Status { text, error: false });
    }

    fn set_error(&mut self, text: String) {
        warn!("{text}");
        self.status = Some(Status { text, error: true });
    }

    // -- each frame ------------------------------------------------------------

    /// Draws one frame. `App::ui` calls this; tests call it directly.
    pub fn show(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        self.drain_events(&ctx);
        self.handle_close_request(&ctx);
        if self.role.is_some() {
            self.main_screen(ui);
        } else {
            self.login_screen(ui);
        }
    }

    fn drain_events(&mut self, ctx: &egui::Context) {
        while let Some(event) = self.session.as_ref().and_then(WorkerHandle::try_recv) {
            self.handle_event(event);
        }
        while let Some(answer) = self.dialogs.try_recv() {
            self.handle_dialog_answer(answer, ctx);
        }
        while let Some(probed) = self.local_probes.try_recv() {
            self.conflicts.learned(probed);
        }
    }

    fn handle_event(&mut self, event: Event) {
        match event {
            Event::LoggedIn {
                role,
                verified,
                fingerprint,
            } => self.logged_in(
                role,
                Secured {
                    verified,
                    fingerprint,
                },
            ),
            Event::TrustNeeded(question) => self.trust_needed(question),
            Event::LoginFailed { problem, message } => self.login_failed(problem, message),
            Event::Listing { folder, result } => self.listed(folder, result),
            Event::PathChanged(result) => self.path_changed(result),
            Event::History { name, result } => self.history_arrived(&name, result),
            Event::Deleted {
                name,
                version,
                result,
            } => self.deleted(&name, version, result),
            Event::ServerLog(result) => self.server_log.set(result),
            Event::Users(result) => self.users.set(result),
            Event::UserChanged { what, result } => self.user_changed(what, result),
            Event::Transfer { id, update } => self.transfer_update(id, update),
        }
    }

    fn login_screen(&mut self, ui: &mut Ui) {
        egui::CentralPanel::default().show(ui, |ui| {
            if let Some(action) = panels::login::show(ui, &mut self.login, &self.settings.recent) {
                self.login_action(ui.ctx(), action);
            }
        });
        if let Some(prompt) = &mut self.trust_prompt
            && let Some(answer) = panels::trust::show(ui, prompt)
        {
            self.trust_answer(ui.ctx(), answer);
        }
    }

    fn main_screen(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        let is_admin = self.role == Some(Role::Admin);
        if !is_admin && matches!(self.tab, Tab::ServerLog | Tab::Users) {
            self.tab = Tab::Files;
        }

        let who = self.session.as_ref().map(|s| Who {
            user: s.user(),
            addr: s.addr(),
            role: self.role,
            secured: self.secured.as_ref(),
        });
        let bar = egui::Panel::top("top-bar")
            .show(ui, |ui| panels::top_bar::show(ui, self.tab, is_admin, who));
        for action in bar.inner {
            self.top_bar_action(action);
        }
        egui::Panel::bottom("status-bar").show(ui, |ui| {
            panels::status_bar::show(ui, self.status.as_ref(), self.files.refreshed_at);
        });
        egui::Panel::bottom("transfers")
            .resizable(true)
            .default_size(TRANSFERS_HEIGHT)
            .min_size(80.0)
            .show(ui, |ui| {
                ui.add_space(4.0);
                for action in panels::transfers::show(ui, &self.transfers) {
                    self.transfer_action(action);
                }
            });
        if self.tab == Tab::Files
            && let Some(view) = &self.history
        {
            let mut action = None;
            egui::Panel::right("history")
                .resizable(true)
                .default_size(340.0)
                .min_size(240.0)
                .show(ui, |ui| {
                    ui.add_space(4.0);
                    action = panels::history::show(ui, view, is_admin);
                });
            if let Some(action) = action {
                self.history_action(action);
            }
        }
        egui::CentralPanel::default().show(ui, |ui| match self.tab {
            Tab::Files => {
                let cx = FilesContext {
                    is_admin,
                    dialog_open: self.dialogs.is_open(),
                    modal: self.dialog_open(),
                };
                for action in panels::files::show(ui, &mut self.files, cx) {
                    self.files_action(&ctx, action);
                }
                // Remembered across restarts.
                self.settings.file_sort = self.files.sort_order();
            }
            Tab::ServerLog => {
                if let Some(action) = panels::admin::server_log(ui, &mut self.server_log) {
                    self.admin_action(action);
                }
            }
            Tab::Users => {
                let me = self.session.as_ref().map(|s| s.user().to_owned());
                if let Some(action) =
                    panels::admin::users(ui, &mut self.users, me.as_deref().unwrap_or(""))
                {
                    self.admin_action(action);
                }
            }
            Tab::ClientLog => {
                if let Some(action) = panels::client_log::show(ui, &mut self.client_log) {
                    self.client_log_action(action);
                }
            }
        });

        self.dialogs_ui(ui);
        self.drag_and_drop(&ctx);
        self.auto_refresh(&ctx);
    }

    fn top_bar_action(&mut self, action: TopBarAction) {
        match action {
            TopBarAction::OpenTab(tab) => self.open_tab(tab),
            TopBarAction::LogOut => self.request_logout(),
            TopBarAction::ChangeMyPassword => {
                if let Some(session) = &self.session {
                    self.password = Some(PasswordDialog {
                        user: session.user().to_owned(),
                        ..PasswordDialog::default()
                    });
                }
            }
        }
    }
}

impl eframe::App for FerryApp {
    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.remember_queue();
        self.save_settings(storage);
    }

    fn on_exit(&mut self) {
        self.transfers.stop_all();
        info!("ferry desktop app closed");
    }
}
