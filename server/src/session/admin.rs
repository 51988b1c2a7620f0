//! The admin's requests (`LOGS`, `USERS`, `USERADD`, `USERDEL`, `ROLE`) and
//! `PASSWD`, which any user may send for their own account.

use std::io::{Read, Write};

use ferry_proto::names::escaped;
use ferry_proto::protocol::{ErrorCode, MAX_LOG_LINES, Reply, Role, Secret};
use log::{error, info};

use super::fault::{Fault, refuse, user_error};
use super::{Flow, Handled, Session};
use crate::auth::{self, check_password, check_user_name};
use crate::db::DbError;
use crate::logfile;
use crate::transport::Transport;

impl<'a, S: Read + Write + Transport> Session<'a, S> {
    pub(super) fn logs(&mut self, lines: u32) -> Handled {
        let lines = lines.min(MAX_LOG_LINES) as usize;
        let dir = &self.shared.config.logs_dir;
        let tail = logfile::last_log_lines(dir, lines).map_err(|e| {
            error!("cannot read the log in {}: {e}", dir.display());
            refuse(
                ErrorCode::Internal,
                "the server cannot read its log file; check its permissions",
            )
        })?;
        self.conn.queue(Reply::LogsHeader(tail.len() as u64));
        for line in tail {
            self.conn.queue(Reply::LogLine(line));
        }
        Ok(Flow::Continue)
    }

    pub(super) fn users(&mut self) -> Handled {
        let users = self.shared.db.users()?;
        self.conn.queue(Reply::UsersHeader(users.len() as u64));
        for (name, role) in users {
            self.conn.queue(Reply::User { name, role });
        }
        Ok(Flow::Continue)
    }

    pub(super) fn user_add(&mut self, user: &str, role: Role, password: &Secret) -> Handled {
        check_user_name(user).map_err(|e| refuse(ErrorCode::BadRequest, e))?;
        check_password(&password.0).map_err(|e| refuse(ErrorCode::BadRequest, e))?;
        let hash = self.hash(password)?;
        match self.shared.db.add_user(user, &hash, role) {
            Ok(()) => {}
            Err(DbError::Exists) => {
                return Err(refuse(
                    ErrorCode::Exists,
                    format!(
                        "a user named {} already exists; choose another name",
                        escaped(user)
                    ),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        info!("{} added user {} role={role}", self.who(), escaped(user));
        self.ok()
    }

    pub(super) fn user_del(&mut self, user: &str) -> Handled {
        self.shared
            .db
            .remove_user(user)
            .map_err(|e| user_error(e, user))?;
        info!("{} removed user {}", self.who(), escaped(user));
        self.ok()
    }

    pub(super) fn passwd(&mut self, user: &str, password: &Secret) -> Handled {
        let me = self.user.as_ref().is_some_and(|u| u.name == user);
        let admin = self.user.as_ref().is_some_and(|u| u.role == Role::Admin);
        if !me && !admin {
            return Err(refuse(
                ErrorCode::Forbidden,
                "you can change only your own password; ask an admin to change another's",
            ));
        }
        check_password(&password.0).map_err(|e| refuse(ErrorCode::BadRequest, e))?;
        let hash = self.hash(password)?;
        self.shared
            .db
            .set_password(user, &hash)
            .map_err(|e| user_error(e, user))?;
        info!("{} changed the password of {}", self.who(), escaped(user));
        self.ok()
    }

    pub(super) fn set_role(&mut self, user: &str, role: Role) -> Handled {
        self.shared
            .db
            .set_role(user, role)
            .map_err(|e| user_error(e, user))?;
        info!("{} set the role of {} to {role}", self.who(), escaped(user));
        self.ok()
    }

    pub(super) fn hash(&self, password: &Secret) -> Result<String, Fault> {
        let cost = self.shared.config.bcrypt_cost;
        let hash = self
            .shared
            .bcrypt
            .run(|| auth::hash_password(&password.0, cost));
        hash.map_err(|e| {
            error!("bcrypt failed: {e}");
            refuse(
                ErrorCode::Internal,
                "the server could not hash the password; try again",
            )
        })
    }
}
