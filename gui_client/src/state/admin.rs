//! The admin panel's data: the server log view and the user list with its
//! forms. No drawing here (`panels::admin` draws it) and no requests: the
//! app's `admin` module sends them and brings the answers here.

use ferry_proto::protocol::Role;

/// The server log as last fetched.
#[derive(Debug, Clone)]
pub struct ServerLogView {
    /// The lines, oldest first.
    pub lines: Vec<String>,
    /// How many lines to fetch.
    pub count: u32,
    /// Only lines containing this (case-insensitive) are shown.
    pub filter: String,
    /// Whether a fetch is under way.
    pub loading: bool,
    /// Whether lines were fetched since login.
    pub loaded: bool,
    /// Why the last fetch failed.
    pub error: Option<String>,
}

impl Default for ServerLogView {
    fn default() -> Self {
        ServerLogView {
            lines: Vec::new(),
            count: 500,
            filter: String::new(),
            loading: false,
            loaded: false,
            error: None,
        }
    }
}

impl ServerLogView {
    /// The lines that pass the filter.
    pub fn visible(&self) -> Vec<&str> {
        filtered(&self.lines, &self.filter)
    }

    /// Takes a fetch result.
    pub fn set(&mut self, result: Result<Vec<String>, String>) {
        self.loading = false;
        match result {
            Ok(lines) => {
                self.lines = lines;
                self.loaded = true;
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
    }
}

/// Lines containing `filter`, case-insensitive.
pub fn filtered<'a>(lines: &'a [String], filter: &str) -> Vec<&'a str> {
    let needle = filter.trim().to_lowercase();
    lines
        .iter()
        .filter(|l| needle.is_empty() || l.to_lowercase().contains(&needle))
        .map(String::as_str)
        .collect()
}

/// The users tab.
#[derive(Debug, Clone)]
pub struct UsersView {
    /// Users with their roles.
    pub users: Vec<(String, Role)>,
    /// Whether a fetch is under way.
    pub loading: bool,
    /// Whether the list was fetched since login.
    pub loaded: bool,
    /// Why the last fetch or change failed.
    pub error: Option<String>,
    /// The last change that worked.
    pub notice: Option<String>,
    /// "Add user" form: name.
    pub new_name: String,
    /// "Add user" form: password.
    pub new_password: String,
    /// "Add user" form: the password typed again.
    pub new_repeat: String,
    /// "Add user" form: role.
    pub new_role: Role,
    /// The account being added: the form is cleared when that works and
    /// kept, to correct, when it does not.
    pub adding: Option<String>,
}

impl Default for UsersView {
    fn default() -> Self {
        UsersView {
            users: Vec::new(),
            loading: false,
            loaded: false,
            error: None,
            notice: None,
            new_name: String::new(),
            new_password: String::new(),
            new_repeat: String::new(),
            new_role: Role::User,
            adding: None,
        }
    }
}

impl UsersView {
    /// Why the "add user" form cannot be sent yet, as a sentence.
    pub fn add_problem(&self) -> Option<&'static str> {
        if self.new_name.trim().is_empty() {
            Some("Type a name.")
        } else if self.new_password.is_empty() {
            Some("Type a password.")
        } else if self.new_password != self.new_repeat {
            Some("The two passwords differ.")
        } else {
            None
        }
    }

    /// What the server said about the change last sent: an account added
    /// clears the form; a refusal keeps it for correcting.
    pub fn add_answered(&mut self, ok: bool) {
        if self.adding.take().is_some() && ok {
            self.new_name.clear();
            self.new_password.clear();
            self.new_repeat.clear();
            self.new_role = Role::User;
        }
    }

    /// Takes a fetch result.
    pub fn set(&mut self, result: Result<Vec<(String, Role)>, String>) {
        self.loading = false;
        match result {
            Ok(mut users) => {
                users.sort_by_key(|(name, _)| name.to_lowercase());
                self.users = users;
                self.loaded = true;
            }
            Err(e) => self.error = Some(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_add_form_is_kept_until_the_account_exists() {
        let mut v = UsersView::default();
        assert_eq!(v.add_problem(), Some("Type a name."));
        v.new_name = "carol".into();
        v.new_password = "short".into();
        assert_eq!(v.add_problem(), Some("The two passwords differ."));
        v.new_repeat = "short".into();
        assert_eq!(v.add_problem(), None);
        v.adding = Some("carol".into());
        v.add_answered(false);
        assert_eq!(
            (v.new_name.as_str(), v.new_password.as_str()),
            ("carol", "short")
        );
        v.adding = Some("carol".into());
        v.add_answered(true);
        assert!(v.new_name.is_empty() && v.new_password.is_empty() && v.new_repeat.is_empty());
    }

    #[test]
    fn filter_is_case_insensitive() {
        let lines = vec![
            "INFO login ok user=ann".to_owned(),
            "WARN login failed".to_owned(),
        ];
        assert_eq!(filtered(&lines, "FAILED"), ["WARN login failed"]);
        assert_eq!(filtered(&lines, "  ").len(), 2);
    }
}
