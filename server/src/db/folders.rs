//! Folders in the database: creating, listing, removing and moving them,
//! and the checks an upload's path goes through.
//!
//! A file's row is keyed by its whole path (`a/b/c.txt`), and every folder
//! that holds a file or a folder has a row in `folders` (the invariant all
//! of this keeps), so an empty folder exists and a folder's contents are the
//! rows whose path starts with `folder/`. Those are found as the range
//! `folder/` ≤ path < `folder0` (`0` is the byte after `/`), which SQLite's
//! byte-wise text order makes exact. Nothing here knows where blobs live.

use ferry_proto::names::FilePath;
use ferry_proto::protocol::{ConflictPolicy, FileEntry, FolderEntry};
use ferry_proto::time::Timestamp;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{Blocked, Db, DbError, file_last_version, version_info};

/// One line of a folder listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed {
    /// A folder.
    Folder(FolderEntry),
    /// A file with its current version.
    File(FileEntry),
}

impl Listed {
    /// Its full path.
    pub fn path(&self) -> &str {
        match self {
            Listed::Folder(f) => &f.path,
            Listed::File(f) => &f.current.name,
        }
    }
}

/// What `RMDIR` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemovedFolder {
    /// Folders, the removed one included.
    pub folders: u64,
    /// Files.
    pub files: u64,
    /// The blob ids of the removed versions (one per version).
    pub blobs: Vec<String>,
}

/// What `MOVE` moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MovedCount {
    /// Files moved (1 for a file).
    pub files: u64,
    /// Folders moved (0 for a file).
    pub folders: u64,
}

/// The bounds of the rows inside `folder`: `lo` ≤ path < `hi`.
fn inside(folder: &str) -> (String, String) {
    (format!("{folder}/"), format!("{folder}0"))
}

pub(super) fn is_folder(conn: &Connection, path: &str) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM folders WHERE path = ?1")?
        .query_row([path], |_| Ok(()))
        .optional()?
        .is_some())
}

fn is_file(conn: &Connection, path: &str) -> Result<bool, DbError> {
    Ok(file_last_version(conn, path)?.is_some())
}

/// Refuses a path one of whose folders is a file.
pub(super) fn check_parents(conn: &Connection, path: &FilePath) -> Result<(), DbError> {
    for folder in path.ancestors() {
        if is_file(conn, &folder)? {
            return Err(DbError::Blocked(Blocked::FileInTheWay(
                folder.into_string(),
            )));
        }
    }
    Ok(())
}

/// Creates the missing folders that hold `path` (after
/// [`check_parents`]); returns how many were created.
pub(super) fn make_parents(conn: &Connection, path: &FilePath, user: &str) -> Result<u32, DbError> {
    check_parents(conn, path)?;
    let mut created = 0;
    for folder in path.ancestors() {
        created += add_folder(conn, &folder, user)?;
    }
    Ok(created)
}

/// Adds one folder row if it is missing; 1 if it was added.
fn add_folder(conn: &Connection, folder: &str, user: &str) -> Result<u32, DbError> {
    let added = conn
        .prepare_cached(
            "INSERT INTO folders (path, creator, created) VALUES (?1, ?2, ?3)
             ON CONFLICT (path) DO NOTHING",
        )?
        .execute(params![folder, user, Timestamp::now().0])?;
    Ok(added as u32)
}

impl Db {
    /// Why an upload to `path` under `policy` cannot be stored, checked
    /// before its bytes are accepted (the commit checks again).
    pub fn upload_blocked(
        &self,
        path: &FilePath,
        policy: ConflictPolicy,
    ) -> Result<Option<Blocked>, DbError> {
        let conn = self.lock();
        match check_parents(&conn, path) {
            Err(DbError::Blocked(b)) => return Ok(Some(b)),
            other => other?,
        }
        if policy != ConflictPolicy::Rename && is_folder(&conn, path)? {
            return Ok(Some(Blocked::FolderInTheWay(path.to_string())));
        }
        Ok(None)
    }

    /// Whether `path` is a folder.
    pub fn folder_exists(&self, path: &FilePath) -> Result<bool, DbError> {
        is_folder(&self.lock(), path)
    }

    /// Creates the folder `path` and the missing folders above it; returns
    /// how many were created (0 when it existed already).
    pub fn mkdir(&self, path: &FilePath, user: &str) -> Result<u32, DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if is_file(&tx, path)? {
            return Err(DbError::Blocked(Blocked::FileExists(path.to_string())));
        }
        let created = make_parents(&tx, path, user)? + add_folder(&tx, path, user)?;
        tx.commit()?;
        Ok(created)
    }

    /// The folders and files directly in `folder` (`None`: the root), or at
    /// any depth with `recursive`, sorted by path in byte order (so every
    /// folder comes before what it holds). [`DbError::NotFound`] if the
    /// folder does not exist.
    pub fn listing(
        &self,
        folder: Option<&FilePath>,
        recursive: bool,
    ) -> Result<Vec<Listed>, DbError> {
        let conn = self.lock();
        if let Some(folder) = folder
            && !is_folder(&conn, folder)?
        {
            return Err(DbError::NotFound);
        }
        let (lo, hi) = match folder {
            Some(f) => {
                let (lo, hi) = inside(f);
                (Some(lo), Some(hi))
            }
            None => (None, None),
        };
        let mut folders: Vec<Listed> = {
            let sql = format!(
                "SELECT path, created FROM folders WHERE {} ORDER BY path",
                in_listing("path")
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            stmt.query_map(params![lo, hi, recursive], |r| {
                Ok(Listed::Folder(FolderEntry {
                    path: r.get(0)?,
                    created: Timestamp(r.get(1)?),
                }))
            })?
            .collect::<Result<_, _>>()?
        };
        let files: Vec<Listed> = {
            let sql = format!(
                "SELECT v.name, v.version, v.size, v.md5, v.created, v.uploader, c.n
                 FROM versions v
                 JOIN (SELECT name, MAX(version) AS top, COUNT(*) AS n FROM versions
                       WHERE {} GROUP BY name) c
                   ON v.name = c.name AND v.version = c.top
                 ORDER BY v.name",
                in_listing("name")
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            stmt.query_map(params![lo, hi, recursive], |r| {
                Ok(Listed::File(FileEntry {
                    current: version_info(r)?,
                    versions: r.get(6)?,
                }))
            })?
            .collect::<Result<_, _>>()?
        };
        folders.extend(files);
        folders.sort_by(|a, b| a.path().as_bytes().cmp(b.path().as_bytes()));
        Ok(folders)
    }

    /// Removes the folder `path`: refused with [`DbError::NotEmpty`] if it
    /// holds anything, unless `recursive`, which removes everything in it,
    /// files with all their versions.
    pub fn rmdir(&self, path: &FilePath, recursive: bool) -> Result<RemovedFolder, DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if !is_folder(&tx, path)? {
            return Err(DbError::NotFound);
        }
        let (lo, hi) = inside(path);
        let count = |sql: &str| -> Result<u64, DbError> {
            Ok(tx.query_row(sql, params![lo, hi], |r| r.get::<_, i64>(0))? as u64)
        };
        let folders = count("SELECT COUNT(*) FROM folders WHERE path >= ?1 AND path < ?2")?;
        let files = count("SELECT COUNT(*) FROM files WHERE name >= ?1 AND name < ?2")?;
        if !recursive && folders + files > 0 {
            return Err(DbError::NotEmpty);
        }
        let blobs: Vec<String> = {
            let mut stmt =
                tx.prepare_cached("SELECT blob FROM versions WHERE name >= ?1 AND name < ?2")?;
            stmt.query_map(params![lo, hi], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        tx.execute(
            "DELETE FROM chunk_sums WHERE blob IN
             (SELECT blob FROM versions WHERE name >= ?1 AND name < ?2)",
            params![lo, hi],
        )?;
        tx.execute(
            "DELETE FROM versions WHERE name >= ?1 AND name < ?2",
            params![lo, hi],
        )?;
        tx.execute(
            "DELETE FROM files WHERE name >= ?1 AND name < ?2",
            params![lo, hi],
        )?;
        tx.execute(
            "DELETE FROM folders WHERE path = ?3 OR (path >= ?1 AND path < ?2)",
            params![lo, hi, path.as_str()],
        )?;
        tx.commit()?;
        Ok(RemovedFolder {
            folders: folders + 1,
            files,
            blobs,
        })
    }

    /// Moves the file or folder `from` to `to`, with every version of the
    /// file or everything in the folder; creates the missing folders above
    /// `to`. Refused when `to` exists, lies inside the folder `from`, has a
    /// file above it (the file `from` itself included), or would make a
    /// moved path break the path rules.
    pub fn move_path(
        &self,
        from: &FilePath,
        to: &FilePath,
        user: &str,
    ) -> Result<MovedCount, DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let from_folder = is_folder(&tx, from)?;
        if !from_folder && !is_file(&tx, from)? {
            return Err(DbError::NotFound);
        }
        // Only a folder can hold `to`: a file's path under itself is a
        // file in the way of a folder, answered below as for an upload.
        if from_folder && to.is_inside(from) {
            return Err(DbError::IntoItself);
        }
        if is_file(&tx, to)? {
            return Err(DbError::Blocked(Blocked::FileExists(to.to_string())));
        }
        if is_folder(&tx, to)? {
            return Err(DbError::Blocked(Blocked::FolderInTheWay(to.to_string())));
        }
        let (lo, hi) = inside(from);
        if from_folder {
            // Every path that moves must still be a valid path there.
            let mut stmt = tx.prepare_cached(
                "SELECT path FROM folders WHERE path >= ?1 AND path < ?2
                 UNION ALL SELECT name FROM files WHERE name >= ?1 AND name < ?2",
            )?;
            let inner: Vec<String> = stmt
                .query_map(params![lo, hi], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for text in inner {
                let moved = format!("{to}{}", &text[from.len()..]);
                if let Err(reason) = FilePath::new(moved.clone()) {
                    return Err(DbError::BadTarget(moved, reason));
                }
            }
        }
        make_parents(&tx, to, user)?;
        // The rows of files and versions are renamed one statement after
        // the other; the foreign key between them holds again at commit.
        tx.pragma_update(None, "defer_foreign_keys", "ON")?;
        let rename = |table: &str, column: &str| -> Result<u64, DbError> {
            let sql = format!(
                "UPDATE {table} SET {column} = ?3 || substr({column}, length(?4) + 1)
                 WHERE {column} = ?4 OR ({column} >= ?1 AND {column} < ?2)"
            );
            Ok(tx.execute(&sql, params![lo, hi, to.as_str(), from.as_str()])? as u64)
        };
        let files = rename("files", "name")?;
        rename("versions", "name")?;
        let folders = rename("folders", "path")?;
        tx.commit()?;
        Ok(MovedCount { files, folders })
    }
}

/// The condition "`column` lies in the listed range": anywhere for the
/// root (`?1` NULL), else inside `?1`..`?2`; and unless `?3` (recursive),
/// directly in it (no `/` after the folder's own prefix).
fn in_listing(column: &str) -> String {
    format!(
        "(?1 IS NULL OR ({column} >= ?1 AND {column} < ?2))
         AND (?3 OR instr(substr({column}, length(coalesce(?1, '')) + 1), '/') = 0)"
    )
}
