//! Where, as whom and how securely to connect, with the password, which is
//! kept in memory only (transfers and reconnects need fresh connections)
//! and never shown, logged or stored. Opening connections with it is all
//! it does: every connection of a login (the control connection, its
//! reconnects, each transfer and each mirror) is secured and verified the
//! same way.

use std::fmt;

use ferry_client::transfer::Connector;
use ferry_client::{Client, ClientError, Security};
use ferry_proto::protocol::Role;

/// Where and as whom to connect. `Debug` never shows the password.
#[derive(Clone)]
pub struct Credentials {
    /// `host:port`.
    pub addr: String,
    /// The user name.
    pub user: String,
    /// TLS with whom to trust, or plaintext.
    pub security: Security,
    // The session thread sets a new one when the user changed their own.
    pub(super) password: String,
}

impl Credentials {
    /// Bundles a login.
    pub fn new(addr: &str, user: &str, password: &str, security: Security) -> Credentials {
        Credentials {
            addr: addr.trim().to_owned(),
            user: user.trim().to_owned(),
            security,
            password: password.to_owned(),
        }
    }

    pub(super) fn connect(&self) -> Result<(Client, Role), ClientError> {
        Client::connect_and_login(&self.addr, &self.security, &self.user, &self.password)
    }

    pub(super) fn connector(&self) -> Connector {
        Connector::new(
            &self.addr,
            self.security.clone(),
            &self.user,
            &self.password,
        )
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("addr", &self.addr)
            .field("user", &self.user)
            .field("security", &self.security)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show_the_password() {
        let creds = Credentials::new(" host:1 ", "ann", "hunter22-secret", Security::Plaintext);
        let shown = format!("{creds:?}");
        assert!(!shown.contains("hunter22"), "{shown}");
        assert_eq!(creds.addr, "host:1");
    }

    #[test]
    fn transfers_are_secured_like_the_login() {
        let creds = Credentials::new("host:1", "ann", "pw", Security::Plaintext);
        assert!(matches!(creds.connector().security, Security::Plaintext));
        let trust = ferry_client::Trust::nothing().with_known_hosts("/nowhere/known_hosts");
        let creds = Credentials::new("host:1", "ann", "pw", Security::Tls(trust));
        let mirror = creds.connector().for_server("other:2");
        let Security::Tls(trust) = &mirror.security else {
            panic!("a mirror in plaintext")
        };
        assert_eq!(
            trust.known_hosts.as_deref(),
            Some(std::path::Path::new("/nowhere/known_hosts"))
        );
    }
}
