//! A logged-in connection, and the credentials behind it.
//!
//! Every command gathers its input (credentials, new passwords, local
//! checks) before connecting, so the server never waits on a person typing.
//! The one question that needs the server, whether to trust one met for the
//! first time, is asked after that first handshake was refused and before
//! connecting again: nothing, the password included, is sent to a server
//! that is not verified, and no connection waits on the answer.
//! Transfers go through `ferry_client::transfer`, which connects on its own
//! (to reconnect and resume); they get a [`Connector`] from the session.

use std::io::{self, IsTerminal};

use anyhow::{Context as _, Result};
use ferry_client::transfer::Connector;
use ferry_client::{Client, Security};

use crate::commands::Terminal;
use crate::exit::Failure;
use crate::{password, prompt, security};

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
    security: Security,
    credentials: Credentials,
    client: Client,
}

impl Connection {
    /// Connects to `server`, verifies it (asking about a server met for the
    /// first time when a person is there), says how it was verified, and
    /// only then logs in.
    pub fn open(
        server: &str,
        security: &Security,
        credentials: Credentials,
        term: Terminal,
    ) -> Result<Connection> {
        let mut client = security::connect(server, security, term.interactive)?;
        security::report(&client, term.status);
        client
            .login(&credentials.user, &credentials.password)
            .with_context(|| format!("could not log in to {server} as {:?}", credentials.user))?;
        Ok(Connection {
            server: server.to_owned(),
            security: security.clone(),
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
            self.security.clone(),
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
