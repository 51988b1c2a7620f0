//! The short request–reply commands: list, stat, history, delete, the server
//! log and user management. Each sends one request line and reads its whole
//! reply; none moves file bytes (that is `upload`, `download` and `batch`).

use log::info;

use super::{Client, ClientError, unexpected};
use ferry_proto::names::escaped;
use ferry_proto::protocol::{FileEntry, Reply, Request, Role, Secret, VersionInfo};

impl Client {
    /// The files on the server, each with its current version.
    pub fn list(&mut self) -> Result<Vec<FileEntry>, ClientError> {
        let count = match self.call(&Request::List)? {
            Reply::ListHeader(n) => n,
            other => return Err(unexpected(&other)),
        };
        self.read_items(count, |r| match r {
            Reply::File(entry) => Ok(entry),
            other => Err(other),
        })
    }

    /// One version's details; `None` for the current version.
    pub fn stat(&mut self, name: &str, version: Option<u32>) -> Result<VersionInfo, ClientError> {
        let request = Request::Stat {
            name: name.into(),
            version,
        };
        match self.call(&request)? {
            Reply::Stat(info) => Ok(info),
            other => Err(unexpected(&other)),
        }
    }

    /// Every version of a file, oldest first.
    pub fn history(&mut self, name: &str) -> Result<Vec<VersionInfo>, ClientError> {
        let count = match self.call(&Request::History { name: name.into() })? {
            Reply::HistoryHeader(n) => n,
            other => return Err(unexpected(&other)),
        };
        self.read_items(count, |r| match r {
            Reply::Version(info) => Ok(info),
            other => Err(other),
        })
    }

    /// Deletes a file with its whole history, or one version. Returns how
    /// many versions were removed.
    pub fn delete(&mut self, name: &str, version: Option<u32>) -> Result<u32, ClientError> {
        let request = Request::Delete {
            name: name.into(),
            version,
        };
        match self.call(&request)? {
            Reply::Deleted { versions, .. } => {
                match version {
                    Some(v) => info!("deleted name={} version={v}", escaped(name)),
                    None => info!("deleted name={} (all versions)", escaped(name)),
                }
                Ok(versions)
            }
            other => Err(unexpected(&other)),
        }
    }

    /// The last `lines` lines of the server log (admin only).
    pub fn logs(&mut self, lines: u32) -> Result<Vec<String>, ClientError> {
        let count = match self.call(&Request::Logs { lines })? {
            Reply::LogsHeader(n) => n,
            other => return Err(unexpected(&other)),
        };
        self.read_items(count, |r| match r {
            Reply::LogLine(line) => Ok(line),
            other => Err(other),
        })
    }

    /// All users with their roles (admin only).
    pub fn users(&mut self) -> Result<Vec<(String, Role)>, ClientError> {
        let count = match self.call(&Request::Users)? {
            Reply::UsersHeader(n) => n,
            other => return Err(unexpected(&other)),
        };
        self.read_items(count, |r| match r {
            Reply::User { name, role } => Ok((name, role)),
            other => Err(other),
        })
    }

    /// Adds a user (admin only).
    pub fn add_user(&mut self, user: &str, role: Role, password: &str) -> Result<(), ClientError> {
        self.call_ok(&Request::UserAdd {
            user: user.to_owned(),
            role,
            password: Secret(password.to_owned()),
        })
    }

    /// Removes a user (admin only).
    pub fn remove_user(&mut self, user: &str) -> Result<(), ClientError> {
        self.call_ok(&Request::UserDel {
            user: user.to_owned(),
        })
    }

    /// Sets a password: any user's for admins, one's own for users.
    pub fn set_password(&mut self, user: &str, password: &str) -> Result<(), ClientError> {
        self.call_ok(&Request::Passwd {
            user: user.to_owned(),
            password: Secret(password.to_owned()),
        })
    }

    /// Changes a user's role (admin only).
    pub fn set_role(&mut self, user: &str, role: Role) -> Result<(), ClientError> {
        self.call_ok(&Request::SetRole {
            user: user.to_owned(),
            role,
        })
    }
}
