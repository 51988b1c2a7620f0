//! Where, as whom and how securely to connect, with the password, which is
//! kept in memory only (transfers and reconnects need fresh connections)
//! and never shown, logged or stored. Opening connections with it is all
//! it does: every connection of a login (the control connection, its
//! reconnects, each transfer and each mirror) is secured and verified the
//! same way. Its [`Connector`] is shared by every transfer of the login,
//! so a connection that finished one transfer carries the next without a
//! new login (bcrypt on the server costs a noticeable fraction of a second).

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
    password: String,
    /// The transfers' connector, with the logged-in connections they
    /// hand on to each other.
    transfers: Connector,
}

impl Credentials {
    /// Bundles a login.
    pub fn new(addr: &str, user: &str, password: &str, security: Security) -> Credentials {
        let (addr, user) = (addr.trim(), user.trim());
        Credentials {
            addr: addr.to_owned(),
            user: user.to_owned(),
            transfers: Connector::new(addr, security.clone(), user, password),
            security,
            password: password.to_owned(),
        }
    }

    /// The password changed (the user set their own): new connections
    /// use the new one; those kept for transfers are logged in already.
    pub(super) fn set_password(&mut self, password: String) {
        self.transfers = self.transfers.with_password(password.as_str());
        self.password = password;
    }

    pub(super) fn connect(&self) -> Result<(Client, Role), ClientError> {
        Client::connect_and_login(&self.addr, &self.security, &self.user, &self.password)
    }

    /// The connector for this login's transfers, shared by all of them.
    pub(super) fn connector(&self) -> Connector {
        self.transfers.clone()
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
    fn transfers_share_one_connector_across_a_password_change() {
        let mut creds = Credentials::new("host:1", "ann", "old-secret", Security::Plaintext);
        let before = creds.connector();
        creds.set_password("new-secret".into());
        assert_eq!(creds.password, "new-secret");
        let shown = format!("{creds:?} {:?}", creds.connector());
        assert!(!shown.contains("secret"), "{shown}");
        assert_eq!(before.spares(), 0);
        assert_eq!(creds.connector().spares(), before.spares());
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
