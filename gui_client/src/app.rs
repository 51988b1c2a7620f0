//! The app: its state, the event loop glue and the layout of the screens.
//!
//! [`FerryApp`] owns every piece of state (from `crate::state`) and the
//! [`Session`] to the server. Each frame it first drains the workers'
//! events, then draws the login screen or the main screen through the
//! `crate::panels` functions, and finally acts on what those returned. It
//! never waits for the network: every request goes to a worker thread.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui::Ui;
use ferry_common::ClientError;
use ferry_common::names::{LocalOs, validate_name};
use ferry_common::protocol::{ConflictPolicy, Role};
use log::{info, warn};

use crate::logging;
use crate::native_dialog::{Answer, NativeDialogs, Purpose};
use crate::panels::admin::{self, AdminAction};
use crate::panels::client_log::{self, ClientLogAction};
use crate::panels::dialogs::{self, PromptAnswer};
use crate::panels::drop_overlay;
use crate::panels::files::{self, FilesAction, FilesContext};
use crate::panels::history::{self, HistoryAction};
use crate::panels::login::{self, LoginAction};
use crate::panels::status_bar;
use crate::panels::top_bar::{self, TopBarAction, Who};
use crate::panels::transfers::{self, TransferAction};
use crate::settings::Settings;
use crate::state::admin::{ServerLogView, UsersView};
use crate::state::client_log::ClientLogView;
use crate::state::conflicts::{Choice, Conflict, Conflicts};
use crate::state::dialogs::{OfferedName, PasswordDialog, PathPrompt, Pending};
use crate::state::files::FileTable;
use crate::state::history::HistoryView;
use crate::state::login::LoginForm;
pub use crate::state::main_screen::{Status, Tab};
use crate::state::transfers::{Direction, Followup, TransferState, Transfers};
use crate::worker::{
    Command, Credentials, DownloadJob, Event, Session, TransferId, TransferUpdate, UploadJob,
};

/// How often the file list refreshes by itself while nothing else does.
const AUTO_REFRESH: Duration = Duration::from_secs(60);

/// Shown in the path dialog when no native file dialog can appear.
const NO_DIALOG: &str = "No file dialog is available on this system (it needs a desktop \
                         portal or zenity): type the paths here, or drop files onto the window.";

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
}

#[derive(Debug, Default)]
struct Refresh {
    in_flight: bool,
    again: bool,
    last: Option<Instant>,
}

/// The Ferry desktop app.
pub struct FerryApp {
    settings: Settings,
    login: LoginForm,
    session: Option<Session>,
    role: Option<Role>,
    tab: Tab,
    files: FileTable,
    history: Option<HistoryView>,
    transfers: Transfers,
    conflicts: Conflicts,
    server_log: ServerLogView,
    users: UsersView,
    client_log: ClientLogView,
    confirm: Option<Pending>,
    prompt: Option<PathPrompt>,
    password: Option<PasswordDialog>,
    status: Option<Status>,
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
        let login = LoginForm {
            addr: options.server.clone().unwrap_or(recent.addr),
            user: options.user.clone().unwrap_or(recent.user),
            password: options.password.clone().unwrap_or_default(),
            remember: settings.remember,
            ..LoginForm::default()
        };
        info!("ferry desktop app started");
        FerryApp {
            settings,
            login,
            session: None,
            role: None,
            tab: Tab::Files,
            files: FileTable::default(),
            history: None,
            transfers: Transfers::default(),
            conflicts: Conflicts::default(),
            server_log: ServerLogView::default(),
            users: UsersView::default(),
            client_log,
            confirm: None,
            prompt: None,
            password: None,
            status: None,
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

    /// Whether a confirmation, conflict or path dialog is open.
    pub fn dialog_open(&self) -> bool {
        self.confirm.is_some()
            || self.prompt.is_some()
            || self.password.is_some()
            || self.conflicts.current().is_some()
    }

    /// Writes the settings to eframe's storage.
    pub fn save_settings(&self, storage: &mut dyn eframe::Storage) {
        self.settings.save(storage);
    }

    // -- actions anything may start --------------------------------------------

    /// Queues local files for upload: the one path shared by the file
    /// dialog, the typed-path field and drag-and-drop. Names that exist on
    /// the server are asked about first; the rest start at once (and are
    /// asked about if the server finds the name taken meanwhile).
    pub fn queue_uploads(&mut self, paths: Vec<PathBuf>) {
        if self.session.is_none() || self.role.is_none() {
            self.set_error("Log in before uploading.".to_owned());
            return;
        }
        self.next_batch += 1;
        let batch = self.next_batch;
        let mut folders = Vec::new();
        let mut queued = 0;
        for path in paths {
            if path.is_dir() {
                folders.push(path.display().to_string());
                continue;
            }
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                self.settings.upload_dir = Some(dir.to_owned());
            }
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let id = self.transfers.add_upload(path.clone(), &name, batch);
            queued += 1;
            if let Err(reason) = validate_name(&name) {
                let sentence = ClientError::BadName { name, reason }.to_string();
                self.transfers.finish(id, TransferState::Failed(sentence));
                continue;
            }
            if self.files.contains(&name) {
                self.ask_conflict(id, name, batch);
            } else {
                self.start_upload(id, ConflictPolicy::Fail);
            }
        }
        if !folders.is_empty() {
            self.set_error(format!(
                "Folders are not uploaded ({}); open the folder and choose the files inside.",
                folders.join(", ")
            ));
        } else if queued > 0 {
            self.set_info(format!(
                "Queued {queued} upload{}.",
                if queued == 1 { "" } else { "s" }
            ));
        }
    }

    /// Starts downloading `name` (a version, or the current one) to `dest`.
    pub fn start_download(&mut self, name: &str, version: Option<u32>, dest: PathBuf) {
        self.start_mirrored_download(name, version, dest, Vec::new());
    }

    /// Starts downloading `name` to `dest` from the server and, at the same
    /// time, from `mirrors` (`host:port`, same login; empty: the server only).
    /// When `dest` ends in the name the download dialog offers and that is
    /// not the server's name, the transfer row and the status line say why.
    pub fn start_mirrored_download(
        &mut self,
        name: &str,
        version: Option<u32>,
        dest: PathBuf,
        mirrors: Vec<String>,
    ) {
        if self.session.is_none() || self.role.is_none() {
            self.set_error("Log in before downloading.".to_owned());
            return;
        }
        if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            self.settings.download_dir = Some(dir.to_owned());
        }
        let renamed = self.offered_name(name, version).reason_for(&dest);
        let id = self
            .transfers
            .add_mirrored_download(name, version, dest, mirrors);
        if let Some(row) = self.transfers.get_mut(id) {
            row.renamed = renamed;
        }
        self.run_download(id);
    }

    /// Opens the download dialog for `name` (a version, or the current one):
    /// where to save it ("Browse…" opens the system's save dialog) and
    /// optional mirrors. Double-click and the Download button both land here.
    /// The name offered is one this system can save (see [`OfferedName`]);
    /// the dialog says so when it is not the server's.
    pub fn request_download(&mut self, name: &str, version: Option<u32>) {
        let offered = self.offered_name(name, version);
        self.prompt = Some(PathPrompt {
            purpose: Purpose::Save {
                name: name.to_owned(),
                version,
            },
            text: self
                .download_dir()
                .join(&offered.file_name)
                .display()
                .to_string(),
            note: offered.note(),
            mirrors: String::new(),
        });
    }

    /// The file name a download of `name` is offered under here.
    fn offered_name(&self, name: &str, version: Option<u32>) -> OfferedName {
        let current = self.files.get(name).map(|e| e.current.version);
        OfferedName::new(name, version, current, self.local_os)
    }

    /// Asks for files to upload.
    pub fn request_upload(&mut self, ctx: &egui::Context) {
        if self.dialogs.enabled() {
            let start = self.settings.upload_dir.clone();
            self.dialogs.pick_files(ctx, start.as_deref());
        } else {
            let note = self.dialogs.missing().then(|| NO_DIALOG.to_owned());
            self.prompt = Some(PathPrompt {
                purpose: Purpose::Upload,
                text: String::new(),
                note,
                mirrors: String::new(),
            });
        }
    }

    /// Lists the files again (once, however often it is asked meanwhile).
    pub fn refresh(&mut self) {
        let Some(session) = &self.session else {
            return;
        };
        if self.refresh.in_flight {
            self.refresh.again = true;
            return;
        }
        self.refresh.in_flight = true;
        self.refresh.last = Some(Instant::now());
        self.files.loading = true;
        session.send(Command::Refresh);
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

    fn download_dir(&self) -> PathBuf {
        self.settings
            .download_dir
            .clone()
            .filter(|d| d.is_dir())
            .or_else(|| {
                std::env::home_dir().map(|home| {
                    let downloads = home.join("Downloads");
                    if downloads.is_dir() { downloads } else { home }
                })
            })
            .unwrap_or_else(|| PathBuf::from("."))
    }

    fn set_info(&mut self, text: String) {
        self.status = Some(Status { text, error: false });
    }

    fn set_error(&mut self, text: String) {
        warn!("{text}");
        self.status = Some(Status { text, error: true });
    }

    // -- uploads and downloads --------------------------------------------------

    fn ask_conflict(&mut self, id: TransferId, name: String, batch: u64) {
        if let Some(row) = self.transfers.get_mut(id) {
            row.state = TransferState::WaitingForChoice;
        }
        let conflict = Conflict {
            transfer: id,
            name,
            batch,
        };
        if let Some(choice) = self.conflicts.push(conflict) {
            self.resolve_conflict(id, choice);
        }
    }

    fn resolve_conflict(&mut self, id: TransferId, choice: Choice) {
        match choice.policy() {
            Some(policy) => self.start_upload(id, policy),
            None => {
                if let Some(row) = self.transfers.get(id) {
                    info!("upload of {} skipped: the name exists", row.name);
                }
                self.transfers.finish(id, TransferState::Skipped);
            }
        }
    }

    fn start_upload(&mut self, id: TransferId, policy: ConflictPolicy) {
        let Some(session) = &self.session else {
            return;
        };
        let Some(stop) = self.transfers.restart(id) else {
            return;
        };
        let Some(row) = self.transfers.get_mut(id) else {
            return;
        };
        row.policy = policy;
        row.done = 0;
        if policy == ConflictPolicy::Fail {
            // A retried upload that was renamed goes out under its own name.
            row.name = row
                .local
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| row.name.clone());
        }
        session.upload(UploadJob {
            id,
            path: row.local.clone(),
            name: row.name.clone(),
            policy,
            stop,
        });
    }

    fn run_download(&mut self, id: TransferId) {
        let Some(session) = &self.session else {
            return;
        };
        let Some(stop) = self.transfers.restart(id) else {
            return;
        };
        let Some(row) = self.transfers.get(id) else {
            return;
        };
        session.download(DownloadJob {
            id,
            name: row.name.clone(),
            version: row.version,
            dest: row.local.clone(),
            mirrors: row.mirror_addrs.clone(),
            stop,
        });
    }

    fn retry(&mut self, id: TransferId) {
        let Some(row) = self.transfers.get(id) else {
            return;
        };
        match row.direction {
            Direction::Upload => {
                let policy = row.policy;
                self.start_upload(id, policy);
            }
            Direction::Download => self.run_download(id),
        }
    }

    // -- events from the workers ------------------------------------------------

    fn drain_events(&mut self, ctx: &egui::Context) {
        while let Some(event) = self.session.as_ref().and_then(Session::try_recv) {
            self.handle_event(event);
        }
        while let Some(answer) = self.dialogs.try_recv() {
            self.handle_dialog_answer(answer, ctx);
        }
    }

    fn handle_event(&mut self, event: Event) {
        match event {
            Event::LoggedIn { role } => self.logged_in(role),
            Event::LoginFailed { problem, message } => {
                self.session = None;
                self.login.busy = false;
                self.login.error = Some((problem, message));
            }
            Event::Files(result) => {
                self.refresh.in_flight = false;
                match result {
                    Ok(entries) => self.files.set_entries(entries),
                    Err(e) => self.files.set_error(e),
                }
                if std::mem::take(&mut self.refresh.again) {
                    self.refresh();
                }
            }
            Event::History { name, result } => {
                if let Some(view) = &mut self.history
                    && view.name == name
                {
                    view.set(result);
                }
            }
            Event::Deleted {
                name,
                version,
                result,
            } => self.deleted(&name, version, result),
            Event::ServerLog(result) => self.server_log.set(result),
            Event::Users(result) => self.users.set(result),
            Event::UserChanged { what, result } => match result {
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
            },
            Event::Transfer { id, update } => self.transfer_update(id, update),
        }
    }

    fn logged_in(&mut self, role: Role) {
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

    fn deleted(&mut self, name: &str, version: Option<u32>, result: Result<u32, String>) {
        match result {
            Ok(count) => {
                self.set_info(match version {
                    Some(v) => format!("Deleted version {v} of {name}."),
                    None => format!(
                        "Deleted {name} ({count} version{}).",
                        if count == 1 { "" } else { "s" }
                    ),
                });
                self.refresh();
                let open_here = self.history.as_ref().is_some_and(|h| h.name == name);
                if open_here {
                    if version.is_none() {
                        self.history = None;
                    } else {
                        self.open_history(name);
                    }
                }
            }
            Err(e) => self.set_error(format!("Could not delete {name}: {e}")),
        }
    }

    fn transfer_update(&mut self, id: TransferId, update: TransferUpdate) {
        let failed_before = self
            .transfers
            .get(id)
            .is_some_and(|t| matches!(t.state, TransferState::Failed(_)));
        match self.transfers.apply(id, update) {
            Followup::None => {}
            Followup::Uploaded => {
                if let Some(row) = self.transfers.get(id) {
                    let name = row.name.clone();
                    self.set_info(format!("Uploaded {name}."));
                    if self.history.as_ref().is_some_and(|h| h.name == name) {
                        self.open_history(&name);
                    }
                }
                self.refresh();
            }
            Followup::Downloaded => {
                if let Some(row) = self.transfers.get(id) {
                    let why = row
                        .renamed
                        .as_ref()
                        .map(|why| format!(" ({why})"))
                        .unwrap_or_default();
                    let text = format!("Downloaded {} to {}{why}.", row.name, row.local.display());
                    self.set_info(text);
                }
            }
            Followup::AskConflict => {
                if let Some(row) = self.transfers.get(id) {
                    let (name, batch) = (row.name.clone(), row.batch);
                    self.ask_conflict(id, name, batch);
                }
            }
        }
        if let Some(row) = self.transfers.get(id)
            && let TransferState::Failed(reason) = &row.state
            && !failed_before
        {
            let text = format!(
                "{} of {} failed: {reason}",
                direction_word(row.direction),
                row.name
            );
            self.set_error(text);
        }
    }

    fn handle_dialog_answer(&mut self, answer: Answer, ctx: &egui::Context) {
        let note = NO_DIALOG;
        match answer.purpose {
            Purpose::Upload if answer.unavailable => {
                self.prompt = Some(PathPrompt {
                    purpose: Purpose::Upload,
                    text: String::new(),
                    note: Some(note.to_owned()),
                    mirrors: String::new(),
                });
            }
            Purpose::Upload => {
                if !answer.paths.is_empty() {
                    self.queue_uploads(answer.paths);
                }
            }
            purpose @ Purpose::Save { .. } => {
                // "Browse…" of the download dialog: fill in its path.
                if let Some(prompt) = self.prompt.as_mut().filter(|p| p.purpose == purpose) {
                    if answer.unavailable {
                        prompt.note = Some(note.to_owned());
                    } else if let Some(path) = answer.paths.into_iter().next() {
                        prompt.text = path.display().to_string();
                        prompt.note = None;
                    }
                }
            }
        }
        ctx.request_repaint();
    }

    // -- drawing -----------------------------------------------------------------

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

    fn login_screen(&mut self, ui: &mut Ui) {
        egui::CentralPanel::default().show(ui, |ui| {
            let action = login::show(ui, &mut self.login, &self.settings.recent);
            match action {
                Some(LoginAction::Login) => {
                    let creds = Credentials::new(
                        &self.login.addr_with_port(),
                        &self.login.user,
                        &self.login.password,
                    );
                    info!("logging in to {} as {}", creds.addr, creds.user);
                    self.login.busy = true;
                    self.login.error = None;
                    self.session = Some(Session::login(
                        creds,
                        ui.ctx(),
                        self.settings.parallel(),
                        self.state_dir.clone(),
                    ));
                }
                Some(LoginAction::CancelLogin) => {
                    self.session = None;
                    self.login.busy = false;
                }
                Some(LoginAction::Forget(addr)) => self.settings.forget_server(&addr),
                None => {}
            }
        });
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
        });
        let bar =
            egui::Panel::top("top-bar").show(ui, |ui| top_bar::show(ui, self.tab, is_admin, who));
        for action in bar.inner {
            self.top_bar_action(action);
        }
        egui::Panel::bottom("status-bar").show(ui, |ui| {
            status_bar::show(ui, self.status.as_ref(), self.files.refreshed_at);
        });
        egui::Panel::bottom("transfers")
            .resizable(true)
            .default_size(200.0)
            .min_size(80.0)
            .show(ui, |ui| {
                ui.add_space(4.0);
                for action in transfers::show(ui, &self.transfers) {
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
                    action = history::show(ui, view, is_admin);
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
                };
                for action in files::show(ui, &mut self.files, cx) {
                    self.files_action(&ctx, action);
                }
            }
            Tab::ServerLog => {
                if let Some(action) = admin::server_log(ui, &mut self.server_log) {
                    self.admin_action(action);
                }
            }
            Tab::Users => {
                let me = self.session.as_ref().map(|s| s.user().to_owned());
                if let Some(action) = admin::users(ui, &mut self.users, me.as_deref().unwrap_or(""))
                {
                    self.admin_action(action);
                }
            }
            Tab::ClientLog => match client_log::show(ui, &mut self.client_log) {
                Some(ClientLogAction::Reload) => self.client_log.reload(),
                Some(ClientLogAction::MoveTo(dir)) => self.move_log(Path::new(&dir)),
                None => {}
            },
        });

        self.dialogs_ui(ui);
        self.drag_and_drop(&ctx);
        self.auto_refresh(&ctx);
    }

    fn top_bar_action(&mut self, action: TopBarAction) {
        match action {
            TopBarAction::OpenTab(tab) => self.open_tab(tab),
            TopBarAction::LogOut => self.logout(),
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

    fn open_tab(&mut self, tab: Tab) {
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

    fn open_history(&mut self, name: &str) {
        let keep = self
            .history
            .as_ref()
            .filter(|h| h.name == name)
            .map(|h| h.versions.clone());
        let mut view = HistoryView::loading(name);
        view.versions = keep.unwrap_or_default();
        self.history = Some(view);
        if let Some(session) = &self.session {
            session.send(Command::History(name.to_owned()));
        }
    }

    fn files_action(&mut self, ctx: &egui::Context, action: FilesAction) {
        match action {
            FilesAction::Upload => self.request_upload(ctx),
            FilesAction::Refresh => self.refresh(),
            FilesAction::Download(name) => self.request_download(&name, None),
            FilesAction::History(name) => self.open_history(&name),
            FilesAction::Delete(name) => self.confirm = Some(Pending::DeleteFile(name)),
        }
    }

    fn history_action(&mut self, action: HistoryAction) {
        let Some(name) = self.history.as_ref().map(|h| h.name.clone()) else {
            return;
        };
        match action {
            HistoryAction::Download(v) => self.request_download(&name, Some(v)),
            HistoryAction::Delete(v) => self.confirm = Some(Pending::DeleteVersion(name, v)),
            HistoryAction::Refresh => self.open_history(&name),
            HistoryAction::Close => self.history = None,
        }
    }

    fn transfer_action(&mut self, action: TransferAction) {
        match action {
            TransferAction::Cancel(id) => {
                let paused_download = self.transfers.get(id).is_some_and(|t| {
                    t.state == TransferState::Paused && t.direction == Direction::Download
                });
                self.transfers.cancel(id);
                self.conflicts.forget(id);
                if paused_download && let Some(row) = self.transfers.get(id) {
                    // No worker holds it: throw the partial file away here.
                    ferry_common::transfer::discard_partial_download(&row.local);
                }
            }
            TransferAction::Retry(id) | TransferAction::Resume(id) => self.retry(id),
            TransferAction::Pause(id) => self.transfers.pause(id),
            TransferAction::Remove(id) => self.transfers.remove(id),
            TransferAction::ClearFinished => self.transfers.clear_finished(),
        }
    }

    fn admin_action(&mut self, action: AdminAction) {
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
                self.users.new_name.clear();
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
            AdminAction::SetRole { user, role } => session.send(Command::SetRole { user, role }),
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

    fn dialogs_ui(&mut self, ui: &mut Ui) {
        if let Some(choice) = dialogs::conflict(ui, &mut self.conflicts, &self.files) {
            for (conflict, choice) in self.conflicts.answer(choice) {
                self.resolve_conflict(conflict.transfer, choice);
            }
        }
        if let Some(pending) = &self.confirm
            && let Some(go) = dialogs::confirm(ui, pending)
        {
            let pending = self.confirm.take();
            if go && let Some(pending) = pending {
                self.confirmed(ui.ctx(), pending);
            }
        }
        if let Some(prompt) = &mut self.prompt
            && let Some(answer) = dialogs::path_prompt(ui, prompt, self.dialogs.enabled())
        {
            self.prompt_answer(ui.ctx(), answer);
        }
        if let Some(dialog) = &mut self.password
            && let Some(go) = dialogs::password(ui, dialog)
        {
            let dialog = self.password.take();
            if go && let (Some(dialog), Some(session)) = (dialog, &self.session) {
                session.send(Command::SetPassword {
                    user: dialog.user,
                    password: dialog.password,
                });
            }
        }
    }

    fn prompt_answer(&mut self, ctx: &egui::Context, answer: PromptAnswer) {
        if answer == PromptAnswer::Browse {
            match self.prompt.as_ref().map(|p| p.purpose.clone()) {
                Some(Purpose::Upload) => {
                    self.prompt = None;
                    self.request_upload(ctx);
                }
                Some(Purpose::Save { name, version }) => {
                    // The dialog stays open; the chosen path lands in it.
                    // The system dialog starts from what is typed there.
                    let typed = self.prompt.as_ref().and_then(|p| p.paths().pop());
                    let file_name = typed
                        .as_deref()
                        .and_then(Path::file_name)
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| self.offered_name(&name, version).file_name);
                    let start = typed
                        .as_deref()
                        .and_then(Path::parent)
                        .filter(|d| d.is_dir())
                        .map_or_else(|| self.download_dir(), Path::to_owned);
                    self.dialogs
                        .save_file(ctx, &name, &file_name, version, Some(&start));
                }
                None => {}
            }
            return;
        }
        let Some(prompt) = self.prompt.take() else {
            return;
        };
        let PromptAnswer::Go(paths) = answer else {
            return;
        };
        match prompt.purpose {
            Purpose::Upload => self.queue_uploads(paths),
            Purpose::Save { ref name, version } => {
                if let Some(path) = paths.into_iter().next() {
                    let mirrors = prompt.mirror_addrs();
                    self.start_mirrored_download(name, version, path, mirrors);
                }
            }
        }
    }

    fn confirmed(&mut self, ctx: &egui::Context, pending: Pending) {
        if pending == Pending::Quit {
            self.quitting = true;
            self.transfers.stop_all();
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            return;
        }
        let Some(session) = &self.session else {
            return;
        };
        match pending {
            Pending::DeleteFile(name) => session.send(Command::Delete {
                name,
                version: None,
            }),
            Pending::DeleteVersion(name, v) => session.send(Command::Delete {
                name,
                version: Some(v),
            }),
            Pending::RemoveUser(user) => session.send(Command::RemoveUser(user)),
            Pending::Quit => {}
        }
    }

    fn drag_and_drop(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_owned())
                .collect()
        });
        if !dropped.is_empty() {
            self.queue_uploads(dropped);
        }
        let addr = self.session.as_ref().map(Session::addr).unwrap_or_default();
        drop_overlay::show(ctx, addr);
    }

    fn auto_refresh(&mut self, ctx: &egui::Context) {
        let due = self
            .refresh
            .last
            .is_none_or(|t| t.elapsed() >= AUTO_REFRESH);
        if due && !self.refresh.in_flight && self.tab == Tab::Files {
            self.refresh();
        }
        ctx.request_repaint_after(AUTO_REFRESH);
    }

    fn handle_close_request(&mut self, ctx: &egui::Context) {
        let asked = ctx.input(|i| i.viewport().close_requested());
        if asked && !self.quitting && self.transfers.active() > 0 {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.confirm = Some(Pending::Quit);
        }
    }
}

fn direction_word(direction: Direction) -> &'static str {
    match direction {
        Direction::Upload => "Upload",
        Direction::Download => "Download",
    }
}

impl eframe::App for FerryApp {
    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.save_settings(storage);
    }

    fn on_exit(&mut self) {
        self.transfers.stop_all();
        info!("ferry desktop app closed");
    }
}
