//! Where and as whom to connect, with the password, which is kept in
//! memory only (transfers and reconnects need fresh connections) and never
//! shown, logged or stored. Opening connections with it is all it does.

use std::fmt;

use ferry_client::transfer::Connector;
use ferry_client::{Client, ClientError};
use ferry_proto::protocol::Role;

/// Where and as whom to connect. `Debug` never shows the password.
#[derive(Clone)]
pub struct Credentials {
    /// `host:port`.
    pub addr: String,
    /// The user name.
    pub user: String,
    // The session thread sets a new one when the user changed their own.
    pub(super) password: String,
}

impl Credentials {
    /// Bundles a login.
    pub fn new(addr: &str, user: &str, password: &str) -> Credentials {
        Credentials {
            addr: addr.trim().to_owned(),
            user: user.trim().to_owned(),
            password: password.to_owned(),
        }
    }

    pub(super) fn connect(&self) -> Result<(Client, Role), ClientError> {
        Client::connect_and_login(
            &self.addr,
            &ferry_client::Security::Plaintext,
            &self.user,
            &self.password,
        )
    }

    pub(super) fn connector(&self) -> Connector {
        Connector::new(
            &self.addr,
            ferry_client::Security::Plaintext,
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
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show_the_password() {
        let creds = Credentials::new(" host:1 ", "ann", "hunter22-secret");
        let shown = format!("{creds:?}");
        assert!(!shown.contains("hunter22"), "{shown}");
        assert_eq!(creds.addr, "host:1");
    }
}
