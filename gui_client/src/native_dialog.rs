//! Native file dialogs (rfd), kept off the UI thread.
//!
//! rfd's synchronous dialogs block the thread that opens them, so each one
//! runs on a named `file-dialog` thread and its answer comes back on a
//! channel the UI drains every frame. On Linux rfd needs a desktop portal or
//! `zenity`; without either it returns `None` at once, exactly as if the
//! user had cancelled. The app tells the two apart by how quickly the answer
//! came, and then offers its own path field instead.

use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

/// Faster than any person can cancel a dialog: it never appeared.
const NEVER_SHOWN: Duration = Duration::from_millis(400);

/// What a dialog was opened for, echoed back with its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    /// Files to upload.
    Upload,
    /// A folder to upload with everything in it.
    UploadFolder,
    /// Where to save a download.
    Save {
        /// The file on the server.
        name: String,
        /// The version, or the current one.
        version: Option<u32>,
    },
    /// A folder to save several downloads, or folders, into.
    SaveInto {
        /// The files (current versions) and folders on the server.
        names: Vec<String>,
    },
}

/// A dialog's answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Why it was opened.
    pub purpose: Purpose,
    /// The chosen paths; empty when cancelled or never shown.
    pub paths: Vec<PathBuf>,
    /// Whether no dialog could be shown at all.
    pub unavailable: bool,
}

/// Opens dialogs and collects their answers.
pub struct NativeDialogs {
    requested: bool,
    enabled: bool,
    open: bool,
    tx: Sender<Answer>,
    rx: Receiver<Answer>,
}

impl NativeDialogs {
    /// `enabled: false` never opens a native dialog (tests, or a machine
    /// known to have none); the app then always uses its own path field.
    pub fn new(enabled: bool) -> NativeDialogs {
        let (tx, rx) = crossbeam_channel::unbounded();
        NativeDialogs {
            requested: enabled,
            enabled: enabled && likely_available(),
            open: false,
            tx,
            rx,
        }
    }

    /// Whether native dialogs are used.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Whether native dialogs were wanted but this system cannot show them.
    pub fn missing(&self) -> bool {
        self.requested && !self.enabled
    }

    /// Whether a dialog is on screen now.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Asks for files to upload.
    pub fn pick_files(&mut self, ctx: &egui::Context, start: Option<&Path>) {
        let mut dialog = rfd::FileDialog::new().set_title("Upload files to Ferry");
        if let Some(dir) = start {
            dialog = dialog.set_directory(dir);
        }
        self.spawn(ctx, Purpose::Upload, move || {
            dialog.pick_files().unwrap_or_default()
        });
    }

    /// Asks where to save `name` (the name on the server), offering
    /// `file_name` as the local file's name.
    pub fn save_file(
        &mut self,
        ctx: &egui::Context,
        name: &str,
        file_name: &str,
        version: Option<u32>,
        start: Option<&Path>,
    ) {
        let title = match version {
            Some(v) => format!("Save {name} (version {v})"),
            None => format!("Save {name}"),
        };
        let mut dialog = rfd::FileDialog::new()
            .set_title(title)
            .set_file_name(file_name);
        if let Some(dir) = start {
            dialog = dialog.set_directory(dir);
        }
        let purpose = Purpose::Save {
            name: name.to_owned(),
            version,
        };
        self.spawn(ctx, purpose, move || {
            dialog.save_file().into_iter().collect()
        });
    }

    /// Asks for a folder, for `purpose` (a folder to upload, or where
    /// several downloads go).
    pub fn pick_folder(&mut self, ctx: &egui::Context, purpose: Purpose, start: Option<&Path>) {
        let title = match purpose {
            Purpose::UploadFolder => "Upload a folder to Ferry",
            _ => "Download into folder",
        };
        let mut dialog = rfd::FileDialog::new().set_title(title);
        if let Some(dir) = start {
            dialog = dialog.set_directory(dir);
        }
        self.spawn(ctx, purpose, move || {
            dialog.pick_folder().into_iter().collect()
        });
    }

    fn spawn(
        &mut self,
        ctx: &egui::Context,
        purpose: Purpose,
        ask: impl FnOnce() -> Vec<PathBuf> + Send + 'static,
    ) {
        let (tx, ctx) = (self.tx.clone(), ctx.clone());
        let fallback = purpose.clone();
        let spawned = thread::Builder::new()
            .name("file-dialog".to_owned())
            .spawn(move || {
                let started = Instant::now();
                let paths = ask();
                let unavailable = paths.is_empty() && started.elapsed() < NEVER_SHOWN;
                let _ = tx.send(Answer {
                    purpose,
                    paths,
                    unavailable,
                });
                ctx.request_repaint();
            });
        match spawned {
            Ok(_) => self.open = true,
            Err(_) => {
                let _ = self.tx.send(Answer {
                    purpose: fallback,
                    paths: Vec::new(),
                    unavailable: true,
                });
            }
        }
    }

    /// The next answer, if one came.
    pub fn try_recv(&mut self) -> Option<Answer> {
        let answer = self.rx.try_recv().ok()?;
        self.open = false;
        if answer.unavailable && self.enabled {
            log::info!(
                "no file dialog appeared (it needs a desktop portal or zenity); using the path field"
            );
        }
        if answer.unavailable {
            // Do not try again this run; the path field works everywhere.
            self.enabled = false;
        }
        Some(answer)
    }
}

/// Whether a dialog can possibly appear: on Linux that needs a session bus
/// (for the portal) or `zenity` on the PATH.
fn likely_available() -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    let has_bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
    let has_zenity = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join("zenity").is_file()));
    has_bus || has_zenity
}
