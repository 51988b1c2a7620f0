//! The requests on folders: `LS`, `MKDIR`, `RMDIR` and `MOVE`. What a
//! folder is in the database, and every rule of paths that goes with it,
//! is [`crate::db`]'s; these handlers only log and answer.

use std::io::{Read, Write};

use ferry_proto::names::{FilePath, escaped};
use ferry_proto::protocol::Reply;
use log::info;

use super::fault::{Fault, no_folder, path_refusal, refuse};
use super::{Flow, Handled, Session};
use crate::db::{DbError, Listed};
use crate::transport::Transport;

impl<'a, S: Read + Write + Transport> Session<'a, S> {
    pub(super) fn ls(&mut self, folder: Option<&FilePath>, recursive: bool) -> Handled {
        let listed = self
            .shared
            .db
            .listing(folder, recursive)
            .map_err(|e| match folder {
                Some(folder) => self.no_such_folder(e, folder),
                None => e.into(),
            })?;
        self.conn.queue(Reply::LsHeader(listed.len() as u64));
        for entry in listed {
            self.conn.queue(match entry {
                Listed::Folder(f) => Reply::Folder(f),
                Listed::File(f) => Reply::File(f),
            });
        }
        Ok(Flow::Continue)
    }

    pub(super) fn mkdir(&mut self, path: &FilePath) -> Handled {
        let user = self.user_name();
        let created = self.shared.db.mkdir(path, &user).map_err(path_refusal)?;
        info!(
            "{} mkdir path={} created={created}",
            self.who(),
            escaped(path)
        );
        self.conn.queue(Reply::Made {
            path: path.to_string(),
            created,
        });
        Ok(Flow::Continue)
    }

    pub(super) fn rmdir(&mut self, path: &FilePath, recursive: bool) -> Handled {
        let removed = self
            .shared
            .db
            .rmdir(path, recursive)
            .map_err(|e| self.no_such_folder(e, path))?;
        self.shared.store.remove_blobs(&removed.blobs);
        info!(
            "{} rmdir path={} recursive={recursive} folders={} files={} versions={}",
            self.who(),
            escaped(path),
            removed.folders,
            removed.files,
            removed.blobs.len()
        );
        self.conn.queue(Reply::Removed {
            path: path.to_string(),
            folders: removed.folders,
            files: removed.files,
            versions: removed.blobs.len() as u64,
        });
        Ok(Flow::Continue)
    }

    pub(super) fn move_path(&mut self, from: &FilePath, to: &FilePath) -> Handled {
        let user = self.user_name();
        let moved = match self.shared.db.move_path(from, to, &user) {
            Ok(moved) => moved,
            Err(DbError::NotFound) => {
                return Err(refuse(
                    ferry_proto::ErrorCode::NotFound,
                    format!(
                        "there is no file or folder named {}; check the path",
                        escaped(from)
                    ),
                ));
            }
            Err(e) => return Err(path_refusal(e)),
        };
        info!(
            "{} move from={} to={} files={} folders={}",
            self.who(),
            escaped(from),
            escaped(to),
            moved.files,
            moved.folders
        );
        self.conn.queue(Reply::Moved {
            from: from.to_string(),
            to: to.to_string(),
            files: moved.files,
            folders: moved.folders,
        });
        Ok(Flow::Continue)
    }

    /// The refusal for a folder that is not there: a file of that path is
    /// named as such.
    fn no_such_folder(&self, e: DbError, path: &FilePath) -> Fault {
        if matches!(e, DbError::NotFound) && self.shared.db.file_exists(path).unwrap_or(false) {
            return refuse(
                ferry_proto::ErrorCode::NotFound,
                format!(
                    "{} is a file, not a folder; use the file commands for it",
                    escaped(path)
                ),
            );
        }
        no_folder(e, path)
    }

    fn user_name(&self) -> String {
        self.user.as_ref().map_or(String::new(), |u| u.name.clone())
    }
}
