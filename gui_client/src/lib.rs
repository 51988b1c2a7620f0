//! The Ferry desktop app as a library, so the integration tests can drive
//! the very app the `ferry` binary runs.
//!
//! - [`app`]: a thin shell: the state (composed of [`state`] types), the
//!   frame that drains events and lays out the panels, `impl eframe::App`;
//!   what the app does per concern is in its child modules.
//! - [`state`]: the data behind each screen and panel, without drawing.
//! - [`panels`]: drawing, one module per screen or panel.
//! - [`worker`]: the session and transfer threads, and the commands and
//!   events they exchange with the UI.
//! - [`native_dialog`]: rfd file dialogs, off the UI thread.
//! - [`folders`]: the user's Downloads folder, per system.
//! - [`local_file`]: a local file's size, time and MD5, off the UI thread.
//! - [`settings`], [`logging`], [`format`](mod@format): what is remembered, the client
//!   log, and how values read on screen.
//!
//! Imports go one way only: `app` → `panels` → `state` → `worker`,
//! `settings`, `logging`, `native_dialog`, `local_file`, `folders`, `format`.

pub mod app;
pub mod folders;
pub mod format;
pub mod local_file;
pub mod logging;
pub mod native_dialog;
pub mod panels;
pub mod settings;
pub mod state;
pub mod worker;

pub use app::{AppOptions, FerryApp};
