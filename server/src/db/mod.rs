//! The server's SQLite database: users and the version history of every
//! file. It knows nothing of sockets or of where blobs live on disk; it
//! stores each version's blob id as an opaque string.
//!
//! One connection behind a mutex: SQLite serialises writers anyway, every
//! statement here is short, and it keeps the commit of an upload (pick the
//! name, pick the version number, insert) a single transaction.
//!
//! Files and versions are here; the users table is `users`'s, and the
//! schema with its versions and migrations is `schema`'s.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ferry_proto::Md5Digest;
use ferry_proto::names::{FileName, FilePath, PathError, versioned_name};
use ferry_proto::protocol::{ConflictPolicy, FileEntry, VersionInfo};
use ferry_proto::time::Timestamp;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

mod folders;
mod schema;
mod users;

pub use folders::{Listed, MovedCount, RemovedFolder};

/// The file the database lives in, inside the data folder.
pub const DB_FILE: &str = "ferry.db";

/// A database failure, or a rule the request broke.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite failed.
    #[error("the database failed: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The name is taken.
    #[error("already exists")]
    Exists,
    /// No such file, version or user.
    #[error("not found")]
    NotFound,
    /// The change would leave the server without an admin.
    #[error("last admin")]
    LastAdmin,
    /// A file or folder is in the way of the path.
    #[error("in the way: {0:?}")]
    Blocked(Blocked),
    /// The folder holds something.
    #[error("not empty")]
    NotEmpty,
    /// A folder would move into itself.
    #[error("into itself")]
    IntoItself,
    /// A move would give a path inside the moved folder this invalid path.
    #[error("the path {0:?} would not be allowed: {1}")]
    BadTarget(String, PathError),
    /// The database was made by a newer server.
    #[error(
        "the database has schema version {found}, newer than the {known} this ferry-server knows; run a newer ferry-server, or restore a backup made for this one"
    )]
    TooNew {
        /// The version found.
        found: u32,
        /// The newest version this server knows.
        known: u32,
    },
}

impl DbError {
    /// Whether SQLite failed because the disk (or its quota) is full.
    pub fn is_disk_full(&self) -> bool {
        matches!(
            self,
            DbError::Sql(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DiskFull
        )
    }
}

/// What is in the way of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocked {
    /// This folder of the path is a file.
    FileInTheWay(String),
    /// The path is a folder, so no file can be stored there.
    FolderInTheWay(String),
    /// The path is a file, so no folder can be made (or moved) there.
    FileExists(String),
}

/// A stored version plus the blob that holds its bytes.
#[derive(Debug, Clone)]
pub struct StoredVersion {
    /// What clients see.
    pub info: VersionInfo,
    /// The blob id.
    pub blob: String,
}

/// The outcome of recording one version: the name and number it got.
pub type Recorded = Result<(String, u32), DbError>;

/// A new version to record.
pub struct NewVersion<'a> {
    /// The name the client asked for.
    pub name: &'a FilePath,
    /// What to do if it is taken.
    pub policy: ConflictPolicy,
    /// Size in bytes.
    pub size: u64,
    /// Its MD5.
    pub md5: Md5Digest,
    /// The blob id holding it.
    pub blob: &'a str,
    /// Who uploaded it.
    pub uploader: &'a str,
}

/// The database.
pub struct Db {
    conn: Mutex<Connection>,
}

impl Db {
    /// Opens (creating if needed) the database in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Db, DbError> {
        let conn = Connection::open(data_dir.join(DB_FILE))?;
        conn.busy_timeout(Duration::from_secs(10))?;
        // WAL keeps readers (the admin CLI) off the writer's back; FULL makes
        // every commit durable before the client hears "stored".
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&conn)?;
        Ok(Db {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic elsewhere while holding the lock leaves SQLite consistent
        // (it rolls back unfinished transactions), so carry on.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // -- users --------------------------------------------------------------

    /// Whether a file of this name exists.
    pub fn file_exists(&self, name: &FilePath) -> Result<bool, DbError> {
        Ok(file_last_version(&self.lock(), name.as_str())?.is_some())
    }

    /// Every file of the root folder (the files of before folders existed)
    /// with its current version and version count, sorted by name.
    pub fn list(&self) -> Result<Vec<FileEntry>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT v.name, v.version, v.size, v.md5, v.created, v.uploader, c.n
             FROM versions v
             JOIN (SELECT name, MAX(version) AS top, COUNT(*) AS n FROM versions
                   WHERE instr(name, '/') = 0 GROUP BY name) c
               ON v.name = c.name AND v.version = c.top
             ORDER BY v.name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(FileEntry {
                current: version_info(r)?,
                versions: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One version (the current one for `None`).
    pub fn version(&self, name: &FilePath, version: Option<u32>) -> Result<StoredVersion, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT name, version, size, md5, created, uploader, blob FROM versions
             WHERE name = ?1 AND (?2 IS NULL OR version = ?2)
             ORDER BY version DESC LIMIT 1",
        )?;
        stmt.query_row(params![name.as_str(), version], stored_version)
            .optional()?
            .ok_or(DbError::NotFound)
    }

    /// Every version of a file, oldest first; empty if there is no such file.
    pub fn history(&self, name: &FilePath) -> Result<Vec<VersionInfo>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT name, version, size, md5, created, uploader FROM versions
             WHERE name = ?1 ORDER BY version",
        )?;
        let rows = stmt.query_map([name.as_str()], version_info)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records several uploaded versions in one transaction (a group
    /// commit), in order, each under its own conflict policy. One refused
    /// version (a name taken under `fail`) does not stop the others.
    pub fn add_versions(&self, news: &[NewVersion<'_>]) -> Result<Vec<Recorded>, DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut results = Vec::with_capacity(news.len());
        for new in news {
            results.push(match insert_version(&tx, new) {
                Err(DbError::Sql(e)) => return Err(DbError::Sql(e)),
                other => other,
            });
        }
        tx.commit()?;
        Ok(results)
    }

    /// Deletes one version, or (for `None`) the file with all its versions.
    /// Returns the blob ids that are no longer referenced.
    pub fn delete(&self, name: &FilePath, version: Option<u32>) -> Result<Vec<String>, DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let blobs: Vec<String> = {
            let mut stmt = tx.prepare_cached(
                "SELECT blob FROM versions WHERE name = ?1 AND (?2 IS NULL OR version = ?2)",
            )?;
            stmt.query_map(params![name.as_str(), version], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        if blobs.is_empty() {
            return Err(DbError::NotFound);
        }
        tx.execute(
            "DELETE FROM versions WHERE name = ?1 AND (?2 IS NULL OR version = ?2)",
            params![name.as_str(), version],
        )?;
        for blob in &blobs {
            tx.execute("DELETE FROM chunk_sums WHERE blob = ?1", [blob])?;
        }
        forget_if_empty(&tx, name)?;
        tx.commit()?;
        Ok(blobs)
    }

    /// The cached per-chunk MD5s of a blob, if computed with this chunk size.
    pub fn chunk_sums(
        &self,
        blob: &str,
        chunk_size: u64,
    ) -> Result<Option<Vec<Md5Digest>>, DbError> {
        let row: Option<(i64, Vec<u8>)> = self
            .lock()
            .query_row(
                "SELECT chunk_size, sums FROM chunk_sums WHERE blob = ?1",
                [blob],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(row
            .filter(|(size, bytes)| *size as u64 == chunk_size && bytes.len() % 16 == 0)
            .map(|(_, bytes)| {
                bytes
                    .chunks_exact(16)
                    .map(|c| Md5Digest(c.try_into().expect("16 bytes")))
                    .collect()
            }))
    }

    /// Caches the per-chunk MD5s of a blob.
    pub fn save_chunk_sums(
        &self,
        blob: &str,
        chunk_size: u64,
        sums: &[Md5Digest],
    ) -> Result<(), DbError> {
        let bytes: Vec<u8> = sums.iter().flat_map(|d| d.0).collect();
        self.lock().execute(
            "INSERT OR REPLACE INTO chunk_sums (blob, chunk_size, sums) VALUES (?1, ?2, ?3)",
            params![blob, chunk_size as i64, bytes],
        )?;
        Ok(())
    }

    /// Every blob id the database refers to.
    pub fn all_blobs(&self) -> Result<Vec<String>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("SELECT blob FROM versions")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Forgets versions whose blob is gone (found missing at start-up), so
    /// that LIST never offers a file that cannot be downloaded.
    pub fn forget_blob(&self, blob: &str) -> Result<(), DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let name: Option<String> = tx
            .query_row("SELECT name FROM versions WHERE blob = ?1", [blob], |r| {
                r.get(0)
            })
            .optional()?;
        tx.execute("DELETE FROM versions WHERE blob = ?1", [blob])?;
        if let Some(name) = name {
            forget_if_empty(&tx, &name)?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// Forgets a file whose last version is gone, so its name is free again
/// and a new upload of it starts at version 1.
fn forget_if_empty(tx: &Connection, name: &str) -> Result<(), DbError> {
    tx.execute(
        "DELETE FROM files WHERE name = ?1
         AND NOT EXISTS (SELECT 1 FROM versions WHERE name = ?1)",
        [name],
    )?;
    Ok(())
}

fn insert_version(tx: &Connection, new: &NewVersion<'_>) -> Result<(String, u32), DbError> {
    folders::check_parents(tx, new.name)?;
    let file = file_last_version(tx, new.name)?.is_some();
    let folder = folders::is_folder(tx, new.name)?;
    let name = match new.policy {
        _ if !file && !folder => new.name.clone(),
        ConflictPolicy::Rename => first_free_name(tx, new.name)?,
        _ if folder => {
            return Err(DbError::Blocked(Blocked::FolderInTheWay(
                new.name.to_string(),
            )));
        }
        ConflictPolicy::Overwrite => new.name.clone(),
        ConflictPolicy::Fail => return Err(DbError::Exists),
    };
    folders::make_parents(tx, &name, new.uploader)?;
    let name = name.into_string();
    let version = file_last_version(tx, &name)?.unwrap_or(0) + 1;
    tx.prepare_cached(
        "INSERT INTO files (name, last_version) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET last_version = excluded.last_version",
    )?
    .execute(params![name, version])?;
    tx.prepare_cached(
        "INSERT INTO versions (name, version, size, md5, blob, uploader, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        name,
        version,
        new.size as i64,
        new.md5.to_string(),
        new.blob,
        new.uploader,
        Timestamp::now().0
    ])?;
    Ok((name, version))
}

fn file_last_version(conn: &Connection, name: &str) -> Result<Option<u32>, DbError> {
    Ok(conn
        .prepare_cached("SELECT last_version FROM files WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?)
}

/// The first free `versioned_name` sibling of `path` (neither a file nor a
/// folder). The versioned name of a valid name is valid and no longer than
/// the longest name, but its path can be longer than the longest path.
fn first_free_name(conn: &Connection, path: &FilePath) -> Result<FilePath, DbError> {
    for n in 2.. {
        let name = FileName::new(versioned_name(path.name(), n))
            .map_err(|e| DbError::BadTarget(path.to_string(), PathError::Name(e)))?;
        let candidate = path
            .with_name(&name)
            .map_err(|e| DbError::BadTarget(format!("{path}_v{n}"), e))?;
        if file_last_version(conn, &candidate)?.is_none() && !folders::is_folder(conn, &candidate)?
        {
            return Ok(candidate);
        }
    }
    unreachable!("some versioned name is free")
}

fn version_info(r: &rusqlite::Row<'_>) -> rusqlite::Result<VersionInfo> {
    let md5: String = r.get(3)?;
    Ok(VersionInfo {
        name: r.get(0)?,
        version: r.get(1)?,
        size: r.get::<_, i64>(2)? as u64,
        md5: md5.parse().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, Box::new(e))
        })?,
        modified: Timestamp(r.get(4)?),
        uploader: r.get(5)?,
    })
}

fn stored_version(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredVersion> {
    Ok(StoredVersion {
        info: version_info(r)?,
        blob: r.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(name: &str) -> FilePath {
        FilePath::new(name.to_owned()).unwrap()
    }
    use ferry_proto::hash::md5_bytes;
    use ferry_proto::protocol::Role;

    fn new<'a>(name: &'a FilePath, policy: ConflictPolicy, blob: &'a str) -> NewVersion<'a> {
        NewVersion {
            name,
            policy,
            size: 3,
            md5: md5_bytes(b"abc"),
            blob,
            uploader: "alice",
        }
    }

    fn add(db: &Db, new: NewVersion<'_>) -> Recorded {
        db.add_versions(&[new]).unwrap().pop().expect("one result")
    }

    #[test]
    fn a_refused_version_does_not_stop_the_rest_of_a_group() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        add(&db, new(&n("taken"), ConflictPolicy::Fail, "b0")).unwrap();
        let results = db
            .add_versions(&[
                new(&n("a"), ConflictPolicy::Fail, "b1"),
                new(&n("taken"), ConflictPolicy::Fail, "b2"),
                new(&n("a"), ConflictPolicy::Overwrite, "b3"),
            ])
            .unwrap();
        assert_eq!(results[0].as_ref().unwrap(), &("a".to_owned(), 1));
        assert!(matches!(results[1], Err(DbError::Exists)));
        assert_eq!(results[2].as_ref().unwrap(), &("a".to_owned(), 2));
        assert_eq!(db.history(&n("a")).unwrap().len(), 2);
    }

    #[test]
    fn conflict_policies_and_version_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        use ConflictPolicy::*;
        assert_eq!(
            add(&db, new(&n("a.txt"), Fail, "b1")).unwrap(),
            ("a.txt".into(), 1)
        );
        assert!(matches!(
            add(&db, new(&n("a.txt"), Fail, "b2")),
            Err(DbError::Exists)
        ));
        assert_eq!(
            add(&db, new(&n("a.txt"), Overwrite, "b2")).unwrap(),
            ("a.txt".into(), 2)
        );
        assert_eq!(
            add(&db, new(&n("a.txt"), Rename, "b3")).unwrap(),
            ("a_v2.txt".into(), 1)
        );
        assert_eq!(
            add(&db, new(&n("a.txt"), Rename, "b4")).unwrap(),
            ("a_v3.txt".into(), 1)
        );

        let list = db.list().unwrap();
        let names: Vec<_> = list
            .iter()
            .map(|e| (e.current.name.as_str(), e.current.version, e.versions))
            .collect();
        assert_eq!(
            names,
            [("a.txt", 2, 2), ("a_v2.txt", 1, 1), ("a_v3.txt", 1, 1)]
        );

        // Deleting the newest version does not free its number.
        assert_eq!(db.delete(&n("a.txt"), Some(2)).unwrap(), ["b2"]);
        assert_eq!(db.version(&n("a.txt"), None).unwrap().info.version, 1);
        assert_eq!(
            add(&db, new(&n("a.txt"), Overwrite, "b5")).unwrap(),
            ("a.txt".into(), 3)
        );
        // Deleting the whole file forgets it.
        assert_eq!(db.delete(&n("a.txt"), None).unwrap().len(), 2);
        assert!(!db.file_exists(&n("a.txt")).unwrap());
        assert!(matches!(
            db.delete(&n("a.txt"), None),
            Err(DbError::NotFound)
        ));
        assert_eq!(
            add(&db, new(&n("a.txt"), Fail, "b6")).unwrap(),
            ("a.txt".into(), 1)
        );
    }

    #[test]
    fn the_last_admin_stays() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        db.add_user("root", "h", Role::Admin).unwrap();
        db.add_user("bob", "h", Role::User).unwrap();
        assert!(matches!(
            db.add_user("bob", "h", Role::User),
            Err(DbError::Exists)
        ));
        assert!(matches!(db.remove_user("root"), Err(DbError::LastAdmin)));
        assert!(matches!(
            db.set_role("root", Role::User),
            Err(DbError::LastAdmin)
        ));
        db.set_role("bob", Role::Admin).unwrap();
        db.set_role("root", Role::User).unwrap();
        db.remove_user("root").unwrap();
        assert_eq!(db.users().unwrap(), [("bob".to_owned(), Role::Admin)]);
        assert!(matches!(db.remove_user("nobody"), Err(DbError::NotFound)));
    }
}
