//! The main screen's own state, besides what its panels hold: which tab
//! is open and the status bar's line. No drawing here (`panels::top_bar`
//! and `panels::status_bar` draw these), and nothing of the session.

/// The main screen's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// The file table.
    Files,
    /// The server log (admins).
    ServerLog,
    /// User management (admins).
    Users,
    /// The client's own log.
    ClientLog,
}

/// A line in the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// What happened.
    pub text: String,
    /// Whether it is a failure.
    pub error: bool,
}
