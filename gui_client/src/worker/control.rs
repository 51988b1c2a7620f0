//! The `session` thread: logs in (pinning the server first when the user
//! just trusted it; a server to decide about ends the login with the
//! question, anything else with the sentence to show), then answers the UI's [`Command`]s one
//! at a time on the control connection, reopening it when the server
//! dropped it, and sends each answer back as an [`Event`].
//!
//! It does not run transfers (each has its own thread and connections, see
//! `transfers`) and never touches UI state.

use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use ferry_client::{Client, ClientError, Entry, Security};
use log::info;

use super::credentials::Credentials;
use super::messages::{Command, Event, Listing, LoginProblem, TrustQuestion, login_message};

/// A control connection idle for longer is pinged before use: the server
/// drops silent clients after a few minutes.
const PING_AFTER: Duration = Duration::from_secs(60);

/// Runs one login: pins `pin` for the address first when the user just
/// trusted it, logs in, then answers commands until the UI drops them.
pub(super) fn run_session(
    creds: &RwLock<Credentials>,
    pin: Option<&str>,
    commands: &Receiver<Command>,
    events: &Sender<Event>,
    ctx: &egui::Context,
) {
    let first = {
        let creds = creds.read().unwrap_or_else(PoisonError::into_inner);
        pin_first(&creds, pin).and_then(|()| creds.connect())
    };
    let client = match first {
        Ok((client, role)) => {
            let event = Event::LoggedIn {
                role,
                verified: client.verified(),
                fingerprint: client.fingerprint().map(str::to_owned),
            };
            if events.send(event).is_err() {
                return;
            }
            ctx.request_repaint();
            client
        }
        Err(e) => {
            let event = match TrustQuestion::of(&e) {
                Some(question) => Event::TrustNeeded(question),
                None => Event::LoginFailed {
                    problem: LoginProblem::of(&e),
                    message: login_message(&e),
                },
            };
            let _ = events.send(event);
            ctx.request_repaint();
            return;
        }
    };
    let mut control = Control {
        creds,
        client: Some(client),
        last_used: Instant::now(),
    };
    for command in commands {
        let event = control.handle(command);
        if events.send(event).is_err() {
            break;
        }
        ctx.request_repaint();
    }
    if let Some(client) = control.client.take() {
        let _ = client.quit();
    }
}

/// Pins the fingerprint the user trusted for the login's address, before
/// the connection that relies on it (here, off the UI thread: it writes the
/// known-hosts file).
fn pin_first(creds: &Credentials, pin: Option<&str>) -> Result<(), ClientError> {
    match (pin, &creds.security) {
        (Some(fingerprint), Security::Tls(trust)) => {
            trust.pin(&creds.addr, fingerprint)?;
            info!("trusted {} as {fingerprint}", creds.addr);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A folder listing split into its sub-folders and its files.
fn split_listing(entries: Vec<Entry>) -> Listing {
    let mut listing = Listing::default();
    for entry in entries {
        match entry {
            Entry::Folder(f) => listing.0.push(f),
            Entry::File(f) => listing.1.push(f),
        }
    }
    listing
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The control connection, reopened when the server dropped it.
struct Control<'a> {
    creds: &'a RwLock<Credentials>,
    client: Option<Client>,
    last_used: Instant,
}

impl Control<'_> {
    fn handle(&mut self, command: Command) -> Event {
        match command {
            Command::List { folder } => {
                let result = self.run(true, |c| c.ls(folder.as_deref(), false));
                Event::Listing {
                    folder,
                    result: result.map(split_listing),
                }
            }
            Command::MakeFolder(path) => Event::PathChanged(
                self.run(false, |c| c.mkdir(&path))
                    .map(|_| format!("Created the folder {path}."))
                    .map_err(|e| format!("Could not create the folder {path}: {e}")),
            ),
            Command::RemoveFolder(path) => Event::PathChanged(
                self.run(false, |c| c.rmdir(&path, true))
                    .map(|gone| {
                        format!(
                            "Deleted the folder {path} ({} file{}, {} version{}).",
                            gone.files,
                            plural(gone.files),
                            gone.versions,
                            plural(gone.versions)
                        )
                    })
                    .map_err(|e| format!("Could not delete the folder {path}: {e}")),
            ),
            Command::Move { from, to } => Event::PathChanged(
                self.run(false, |c| c.move_path(&from, &to))
                    .map(|_| format!("Moved {from} to {to}."))
                    .map_err(|e| format!("Could not move {from} to {to}: {e}")),
            ),
            Command::History(name) => {
                let result = self.run(true, |c| c.history(&name));
                Event::History { name, result }
            }
            Command::Delete { name, version } => {
                let result = self.run(false, |c| c.delete(&name, version));
                Event::Deleted {
                    name,
                    version,
                    result,
                }
            }
            Command::ServerLog { lines } => Event::ServerLog(self.run(true, |c| c.logs(lines))),
            Command::Users => Event::Users(self.run(true, Client::users)),
            Command::AddUser {
                name,
                role,
                password,
            } => Event::UserChanged {
                result: self.run(false, |c| c.add_user(&name, role, &password)),
                what: format!("added {name} ({role})"),
            },
            Command::RemoveUser(name) => Event::UserChanged {
                result: self.run(false, |c| c.remove_user(&name)),
                what: format!("removed {name}"),
            },
            Command::SetPassword { user, password } => {
                let result = self.run(false, |c| c.set_password(&user, &password));
                let mut creds = self.creds.write().unwrap_or_else(PoisonError::into_inner);
                if result.is_ok() && creds.user == user {
                    // New connections (transfers, reconnects) need the new one.
                    creds.set_password(password);
                }
                Event::UserChanged {
                    result,
                    what: format!("changed the password of {user}"),
                }
            }
            Command::SetRole { user, role } => Event::UserChanged {
                result: self.run(false, |c| c.set_role(&user, role)),
                what: format!("made {user} {role}"),
            },
        }
    }

    /// Runs `call` on a live connection. A connection lost in the middle is
    /// reopened; the call is repeated only when `retry` says it is safe to
    /// (it changes nothing on the server).
    fn run<T>(
        &mut self,
        retry: bool,
        mut call: impl FnMut(&mut Client) -> Result<T, ClientError>,
    ) -> Result<T, String> {
        if self.last_used.elapsed() > PING_AFTER
            && let Some(client) = &mut self.client
            && client.ping().is_err()
        {
            self.client = None;
        }
        let mut result = self.connected().and_then(&mut call);
        if retry && matches!(result, Err(ClientError::Io(_))) {
            info!("control connection lost; reconnecting");
            self.client = None;
            result = self.connected().and_then(&mut call);
        }
        if matches!(result, Err(ClientError::Io(_) | ClientError::Protocol(_))) {
            self.client = None;
        }
        self.last_used = Instant::now();
        result.map_err(|e| e.to_string())
    }

    fn connected(&mut self) -> Result<&mut Client, ClientError> {
        if self.client.is_none() {
            let creds = self.creds.read().unwrap_or_else(PoisonError::into_inner);
            let (client, _role) = creds.connect()?;
            self.client = Some(client);
        }
        Ok(self.client.as_mut().expect("connected above"))
    }
}
