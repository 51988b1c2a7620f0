//! `LOGIN`: the throttle's places, the password check, the dummy hash for
//! unknown users. The throttle's bookkeeping itself is [`crate::auth`]'s.

use std::io::{Read, Write};
use std::thread;
use std::time::Instant;

use ferry_proto::names::escaped;
use ferry_proto::protocol::{ErrorCode, Reply, Secret};
use log::{info, warn};

use super::fault::refuse;
use super::{Flow, Handled, Session, User};
use crate::auth::{could_be_a_password, verify_password};
use crate::throttle::{self, Key, Refusal};
use crate::transport::Transport;

impl<'a, S: Read + Write + Transport> Session<'a, S> {
    pub(super) fn login(&mut self, user: &str, password: &Secret) -> Handled {
        let keys = [Key::account(user), Key::address(self.peer.ip())];
        // The places are taken before the password is checked, so parallel
        // connections get no more guesses than one connection in a row.
        // Never past the login deadline of a connection that must log in.
        let wait = match self.base_deadline() {
            Some(deadline) => {
                throttle::ADMIT_WAIT.min(deadline.saturating_duration_since(Instant::now()))
            }
            None => throttle::ADMIT_WAIT,
        };
        let attempt = match self.shared.logins.admit(&keys, wait) {
            Ok(attempt) => attempt,
            Err(refusal) => {
                let user = escaped(user);
                self.log_refusal(format_args!("login throttled user={user}"));
                let message = match refusal {
                    Refusal::Locked(wait) => format!(
                        "too many failed logins; wait {} seconds and try again",
                        wait.as_secs().max(1)
                    ),
                    Refusal::Crowded => "too many logins from your address or to this account are being checked at once; try again in a moment".to_owned(),
                };
                return Err(refuse(ErrorCode::Throttled, message));
            }
        };
        let stored = self.shared.db.user(user)?;
        let (hash, role) = match &stored {
            Some((hash, role)) => (hash.as_str(), Some(*role)),
            None => (self.shared.dummy_hash.as_str(), None),
        };
        // bcrypt would cut a longer password at 72 bytes and let
        // "password + anything" in; no account has one.
        let valid = could_be_a_password(&password.0)
            && self
                .shared
                .bcrypt
                .run(|| verify_password(&password.0, hash));
        match role {
            Some(role) if valid => {
                attempt.end(true);
                self.stranger = None;
                self.conn.get_ref().set_deadline(None);
                self.user = Some(User {
                    name: user.to_owned(),
                    role,
                });
                info!("{} login ok role={role}", self.who());
                self.conn.queue(Reply::LoggedIn(role));
                Ok(Flow::Continue)
            }
            _ => {
                attempt.end(false);
                warn!("peer={} login failed user={}", self.peer, escaped(user));
                self.user = None;
                thread::sleep(self.shared.config.login_failure_delay);
                Err(refuse(
                    ErrorCode::AuthFailed,
                    "wrong user name or password; check both and try again",
                ))
            }
        }
    }
}
