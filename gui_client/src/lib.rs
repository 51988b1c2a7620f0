//! The Ferry desktop app as a library, so the integration tests can drive
//! the very app the `ferry` binary runs.
//!
//! - [`app`]: the app's state and layout, `impl eframe::App`.
//! - [`state`]: the data behind each screen and panel, without drawing.
//! - [`panels`]: drawing, one module per screen or panel.
//! - [`worker`]: the session and transfer threads, and the commands and
//!   events they exchange with the UI.
//! - [`native_dialog`]: rfd file dialogs, off the UI thread.
//! - [`settings`], [`logging`], [`format`](mod@format): what is remembered, the client
//!   log, and how values read on screen.

pub mod app;
pub mod format;
pub mod logging;
pub mod native_dialog;
pub mod panels;
pub mod settings;
pub mod state;
pub mod worker;

pub use app::{AppOptions, FerryApp};
