//! Shared fixtures for the GUI tests: a real Ferry server on 127.0.0.1:0
//! over a temp folder, speaking TLS as servers do by default (or plaintext,
//! as with `--plaintext`), the app in an egui_kittest harness (no window,
//! no display), and helpers that wait for the app's worker threads.
//!
//! The app trusts only a known-hosts file in the server's temp folder,
//! given to it through `AppOptions::trust`: never the user's own file, no
//! system certificate authorities, and no environment variable that would
//! leak between tests running in parallel.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use ferry_client::{Client, DownloadOptions, Security, Trust, UploadOptions};
use ferry_proto::protocol::{ConflictPolicy, Role};
use ferry_server::testing;
pub use ferry_server::testing::ADMIN_PASSWORD;
pub use ferry_server::testing::payload;
use gui_client::settings::{MemoryStorage, Settings};
use gui_client::{AppOptions, FerryApp};
use tempfile::TempDir;

pub const USER_PASSWORD: &str = "user-secret-1";

/// How long a test waits for the app's workers before failing.
const PATIENCE: Duration = Duration::from_secs(30);

/// The shared harness's server, with the client-side helpers the app's
/// tests use.
pub struct TestServer(testing::TestServer);

impl Deref for TestServer {
    type Target = testing::TestServer;

    fn deref(&self) -> &testing::TestServer {
        &self.0
    }
}

impl TestServer {
    /// A server over TLS, with the self-signed certificate it makes on its
    /// first start, as `ferry-server` runs by default.
    pub fn start() -> TestServer {
        TestServer(testing::TestServer::start_tls())
    }

    /// A server over TLS with its settings changed by `adjust` (a rate
    /// limit, say).
    pub fn start_tls_with(adjust: impl FnOnce(&mut ferry_server::Config)) -> TestServer {
        TestServer(testing::TestServer::start_with(|c| {
            c.tls = ferry_server::tls::TlsSource::Generated;
            adjust(c);
        }))
    }

    /// A server run with `--plaintext`.
    pub fn start_plaintext() -> TestServer {
        TestServer(testing::TestServer::start())
    }

    /// How the test's own clients (not the app's) reach this server: over
    /// TLS trusting its fingerprint, in plaintext if it is a plaintext one.
    pub fn security(&self) -> Security {
        match self.server.fingerprint() {
            Some(fingerprint) => {
                Security::Tls(Trust::nothing().vouch(fingerprint).expect("a fingerprint"))
            }
            None => Security::Plaintext,
        }
    }

    /// The known-hosts file the app of this test uses.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("app-known_hosts")
    }

    /// Whom the app trusts: that file only.
    pub fn app_trust(&self) -> Trust {
        Trust::nothing().with_known_hosts(self.known_hosts())
    }

    /// Pins `other` (this server, or a mirror) in the app's known-hosts
    /// file, as if the user had trusted it before.
    pub fn pin(&self, other: &TestServer) {
        self.app_trust()
            .pin(&other.addr, &other.fingerprint())
            .expect("the pin is saved");
    }

    /// The fingerprint pinned for `addr` in the app's known-hosts file.
    pub fn pinned(&self, addr: &str) -> Option<String> {
        let known = self
            .app_trust()
            .known()
            .expect("a readable known-hosts file");
        known.get(addr).map(str::to_owned)
    }

    /// The app's options in a test: no native dialogs, no global logger,
    /// the known-hosts file of [`TestServer::app_trust`].
    pub fn options(&self) -> AppOptions {
        AppOptions {
            trust: Some(self.app_trust()),
            ..AppOptions::default()
        }
    }

    /// The app, with `settings` "remembered", that has never seen this
    /// server: its first TLS login asks about the certificate.
    pub fn new_app_with(&self, settings: &Settings) -> FerryApp {
        let mut storage = MemoryStorage::default();
        settings.save(&mut storage);
        FerryApp::new(Some(&storage), self.options())
    }

    /// The app that trusted this server before (a TLS one is pinned).
    pub fn app(&self) -> FerryApp {
        self.app_with(&Settings::default())
    }

    /// [`TestServer::app`] with these settings already "remembered".
    pub fn app_with(&self, settings: &Settings) -> FerryApp {
        if self.server.fingerprint().is_some() {
            self.pin(self);
        }
        self.new_app_with(settings)
    }

    pub fn admin(&self) -> Client {
        self.login_as("admin", ADMIN_PASSWORD)
            .expect("admin logs in")
    }

    /// A login of the test's own (not the app's).
    pub fn login_as(
        &self,
        user: &str,
        password: &str,
    ) -> Result<Client, ferry_client::ClientError> {
        Client::connect_and_login(&self.addr, &self.security(), user, password).map(|(c, _)| c)
    }

    /// Creates an account with `role` (password [`USER_PASSWORD`]).
    pub fn add_user(&self, name: &str, role: Role) {
        self.admin()
            .add_user(name, role, USER_PASSWORD)
            .expect("user is added");
    }

    /// Stores `content` as `name`, the way another client would.
    pub fn put(&self, name: &str, content: &[u8]) {
        self.admin()
            .upload(
                std::io::Cursor::new(content),
                name,
                UploadOptions {
                    policy: ConflictPolicy::Overwrite,
                    ..UploadOptions::default()
                },
            )
            .expect("upload works");
    }

    /// The current content of `name` on the server.
    pub fn get(&self, name: &str, version: Option<u32>) -> Vec<u8> {
        let mut out = Vec::new();
        self.admin()
            .download(
                name,
                &mut out,
                DownloadOptions {
                    version,
                    ..DownloadOptions::default()
                },
            )
            .expect("download works");
        out
    }

    /// The names the server lists.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<_> = self
            .admin()
            .list()
            .expect("list works")
            .into_iter()
            .map(|e| e.current.name)
            .collect();
        names.sort();
        names
    }
}

/// A local folder for files to upload and downloads to land in.
pub struct Local {
    pub dir: TempDir,
}

impl Local {
    pub fn new() -> Local {
        Local {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Writes a file and returns its path.
    pub fn file(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).expect("write local file");
        path
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

pub type AppHarness = Harness<'static, FerryApp>;

/// The app in a headless harness of a desktop window's size.
pub fn harness(app: FerryApp) -> AppHarness {
    Harness::builder()
        .with_size([1200.0, 800.0])
        .build_ui_state(|ui, app: &mut FerryApp| app.show(ui), app)
}

/// Steps the app until `done` holds, sleeping between frames so the worker
/// threads can answer. Panics with `what` after 30 s.
pub fn wait_for(h: &mut AppHarness, what: &str, done: impl Fn(&FerryApp) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        h.step();
        if done(h.state()) {
            // One more frame so the screen shows the new state.
            h.step();
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(15));
    }
}

/// Clicks a text field, selects what is there and types `text` over it.
pub fn type_into(h: &mut AppHarness, label: &str, text: &str) {
    h.get_by_label(label).click();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    if text.is_empty() {
        h.key_press(egui::Key::Backspace);
    } else {
        h.get_by_label(label).type_text(text);
    }
    h.step();
}

/// A few frames, for when workers keep asking for repaints (so
/// `Harness::run` would never settle).
pub fn settle(h: &mut AppHarness) {
    for _ in 0..4 {
        h.step();
    }
}

/// Logs in through the login screen, by typing and clicking.
pub fn login(h: &mut AppHarness, addr: &str, user: &str, password: &str) {
    type_into(h, "Server", addr);
    type_into(h, "User name", user);
    type_into(h, "Password", password);
    h.get_by_label("Log in").click();
    h.step();
}

/// Logs in (to a server the app trusted before) and waits for the first
/// file list.
pub fn logged_in(server: &TestServer, user: &str, password: &str) -> AppHarness {
    let mut h = harness(server.app());
    login(&mut h, &server.addr, user, password);
    wait_for(&mut h, "the login and the first listing", |app| {
        app.role().is_some() && app.files().loaded
    });
    h
}

/// Steps the app until some node's label contains `text`.
pub fn wait_for_text(h: &mut AppHarness, text: &str) {
    let deadline = Instant::now() + PATIENCE;
    while !shows(h, text) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {text:?} on screen; it shows {:?}",
            labels(h)
        );
        h.step();
        std::thread::sleep(Duration::from_millis(15));
    }
}

/// Whether some node's accessible label contains `text`.
pub fn shows(h: &AppHarness, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

/// Every label on screen, for failure messages.
pub fn labels(h: &AppHarness) -> Vec<String> {
    h.query_all_by(|_| true)
        .filter_map(|n| n.accesskit_node().label())
        .collect()
}

/// Whether a node is labelled exactly `text`.
pub fn shows_exactly(h: &AppHarness, text: &str) -> bool {
    h.query_all_by_label(text).next().is_some()
}

/// A file "dropped" onto the window, as egui-winit reports it.
#[derive(Debug)]
pub struct Dropped(pub PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// Drops files onto the window.
pub fn drop_files(h: &mut AppHarness, paths: &[PathBuf]) {
    for path in paths {
        h.input_mut()
            .dropped_files
            .push(Arc::new(Dropped(path.clone())));
    }
    h.step();
}
