//! The app's state, one module per screen or panel, without any drawing,
//! so each can be built and checked on its own. The `panels` modules draw
//! these and return what the user asked for; `app` acts on it. Nothing
//! here talks to the server, draws, or imports the app or the panels.

pub mod admin;
pub mod client_log;
pub mod conflicts;
pub mod dialogs;
pub mod files;
pub mod history;
pub mod login;
pub mod main_screen;
pub mod queue;
pub mod selection;
pub mod transfers;
pub mod trust;
pub mod upload_as;
