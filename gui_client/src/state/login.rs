//! The login form's data and its checks. No drawing (`panels::login`);
//! logging in with it is the app's `session` module.

use std::time::{Duration, Instant};

use crate::worker::LoginProblem;

/// What the login screen holds.
#[derive(Debug, Clone, Default)]
pub struct LoginForm {
    /// `host:port`.
    pub addr: String,
    /// User name.
    pub user: String,
    /// Password; kept only until the login finishes.
    pub password: String,
    /// Whether to add the server to the recent list.
    pub remember: bool,
    /// Whether to connect without TLS (a server run with `--plaintext`).
    pub plaintext: bool,
    /// Why the last attempt failed.
    pub error: Option<(LoginProblem, String)>,
    /// Whether an attempt is under way.
    pub busy: bool,
    /// When the attempt under way started.
    pub busy_since: Option<Instant>,
}

/// After this long without an answer the form says the server is slow.
pub const SLOW_ANSWER: Duration = Duration::from_secs(3);

impl LoginForm {
    /// Whether the form can be sent; `Err` says what is missing.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.addr.trim().is_empty() {
            return Err("Enter the server address, e.g. files.example.lan:7878.");
        }
        if self.user.trim().is_empty() {
            return Err("Enter your user name.");
        }
        if self.password.is_empty() {
            return Err("Enter your password.");
        }
        Ok(())
    }

    /// While an attempt has waited [`SLOW_ANSWER`] or longer at `now`: the
    /// sentence that says the server has not answered and when the app
    /// gives up.
    pub fn slow_note(&self, now: Instant) -> Option<String> {
        let since = self.busy_since.filter(|_| self.busy)?;
        (now.duration_since(since) >= SLOW_ANSWER).then(|| {
            format!(
                "The server has not answered yet; the app gives up after {} seconds.",
                ferry_client::GREETING_TIMEOUT.as_secs()
            )
        })
    }

    /// The address with the default port added when none was given.
    pub fn addr_with_port(&self) -> String {
        with_default_port(&self.addr)
    }
}

/// `addr` with Ferry's default port added when it names none.
pub fn with_default_port(addr: &str) -> String {
    let addr = addr.trim();
    let has_port = match addr.rsplit_once(':') {
        // "[::1]:7878" or "host:7878"; a bare IPv6 address has colons but no brackets.
        Some((host, port)) => {
            port.chars().all(|c| c.is_ascii_digit())
                && !port.is_empty()
                && (!host.contains(':') || host.ends_with(']'))
        }
        None => false,
    };
    if has_port {
        addr.to_owned()
    } else if addr.contains(':') && !addr.starts_with('[') {
        format!("[{addr}]:{}", ferry_proto::protocol::DEFAULT_PORT)
    } else {
        format!("{addr}:{}", ferry_proto::protocol::DEFAULT_PORT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_server_is_mentioned_after_a_few_seconds() {
        let start = Instant::now();
        let mut form = LoginForm {
            busy: true,
            busy_since: Some(start),
            ..LoginForm::default()
        };
        assert_eq!(form.slow_note(start + Duration::from_secs(1)), None);
        let note = form.slow_note(start + SLOW_ANSWER).unwrap();
        assert!(
            note.starts_with("The server has not answered yet"),
            "{note}"
        );
        assert!(note.contains("15 seconds"), "{note}");
        form.busy = false;
        assert_eq!(form.slow_note(start + SLOW_ANSWER), None);
    }

    #[test]
    fn default_port_is_added() {
        let form = |addr: &str| LoginForm {
            addr: addr.into(),
            ..LoginForm::default()
        };
        assert_eq!(form(" files.lan ").addr_with_port(), "files.lan:7878");
        assert_eq!(form("files.lan:9000").addr_with_port(), "files.lan:9000");
        assert_eq!(form("127.0.0.1:1").addr_with_port(), "127.0.0.1:1");
        assert_eq!(form("::1").addr_with_port(), "[::1]:7878");
        assert_eq!(form("[::1]:99").addr_with_port(), "[::1]:99");
    }

    #[test]
    fn missing_fields_are_named() {
        let mut f = LoginForm::default();
        assert!(f.check().unwrap_err().contains("server address"));
        f.addr = "h".into();
        f.user = "u".into();
        assert!(f.check().unwrap_err().contains("password"));
        f.password = "p".into();
        assert!(f.check().is_ok());
    }
}
