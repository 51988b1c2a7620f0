//! A logged-in connection, and the credentials behind it.
//!
//! Every command gathers its input (credentials, new passwords, local
//! checks) before connecting, so the server never waits on a person typing.
//! Transfers go through `ferry_client::transfer`, which connects on its own
//! (to reconnect and resume); they get a [`Connector`] from the session.

use std::io::{self, IsTerminal};

use anyhow::{Context as _, Result};
use ferry_client::Client;
use ferry_client::transfer::Connector;

use crate::exit::Failure;
use crate::{password, prompt};

/// Who to log in as.
pub struct Credentials {
    user: String,
    password: String,
}

impl Credentials {
    /// The user from `--user`/`FERRY_USER` or a prompt, the password from
    /// `FERRY_PASSWORD` or a prompt. Prompts only happen on a terminal.
    pub fn gather(user: Option<&str>) -> Result<Credentials> {
        let user = match user.filter(|u| !u.is_empty()) {
            Some(user) => user.to_owned(),
            None if io::stdin().is_terminal() => prompt::user_name()?,
            None => {
                return Err(Failure::usage(
                    "no user name given; pass --user NAME or set FERRY_USER",
                )
                .into());
            }
        };
        let password = password::login_password(&user)?;
        Ok(Credentials { user, password })
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }
}

/// A connection that is logged in.
pub struct Connection {
    server: String,
    credentials: Credentials,
    client: Client,
}

impl Connection {
    /// Connects to `server` and logs in.
    pub fn open(server: &str, credentials: Credentials) -> Result<Connection> {
        let client = login(server, &credentials)?;
        Ok(Connection {
            server: server.to_owned(),
            credentials,
            client,
        })
    }

    /// The connection.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// What the transfer functions need to log in again on their own.
    pub fn connector(&self) -> Connector {
        Connector::new(
            self.server.clone(),
            ferry_client::Security::Plaintext,
            self.credentials.user.clone(),
            self.credentials.password.clone(),
        )
    }

    /// The connection, for a [`Connector`] to hand to its first transfer.
    pub fn into_client(self) -> Client {
        self.client
    }

    /// Says goodbye. The command's work is done by now, so a failure here
    /// changes nothing for the user.
    pub fn close(self) {
        if let Err(e) = self.client.quit() {
            log::info!("closing the connection: {e}");
        }
    }
}

fn login(server: &str, credentials: &Credentials) -> Result<Client> {
    let mut client = Client::connect(server, &ferry_client::Security::Plaintext)?;
    client
        .login(&credentials.user, &credentials.password)
        .with_context(|| format!("could not log in to {server} as {:?}", credentials.user))?;
    Ok(client)
}
