//! The database's schema and its versions. The version is kept in SQLite's
//! `user_version`; [`migrate`] brings an older database up to
//! [`SCHEMA_VERSION`] step by step in one transaction, and refuses one
//! made by a newer server rather than guess at it.

use rusqlite::Connection;

use super::DbError;

/// The schema this server writes.
pub(crate) const SCHEMA_VERSION: u32 = 2;

/// Version 1: the tables as first released (before schema versions were
/// recorded, such a database says version 0).
const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS users (
    name          TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    created       INTEGER NOT NULL
);
-- One row per file that exists: the highest version number it has used, so
-- numbers are never reused while the file exists.
CREATE TABLE IF NOT EXISTS files (
    name         TEXT PRIMARY KEY,
    last_version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    name     TEXT NOT NULL REFERENCES files(name),
    version  INTEGER NOT NULL,
    size     INTEGER NOT NULL,
    md5      TEXT NOT NULL,
    blob     TEXT NOT NULL UNIQUE,
    uploader TEXT NOT NULL,
    created  INTEGER NOT NULL,
    PRIMARY KEY (name, version)
);
-- Per-chunk MD5s of a blob, computed on first request (CHUNKS) and kept.
CREATE TABLE IF NOT EXISTS chunk_sums (
    blob       TEXT PRIMARY KEY,
    chunk_size INTEGER NOT NULL,
    sums       BLOB NOT NULL
);
";

/// Version 2: folders. Files keep their rows; a file's name is now its
/// path (`a/b/c.txt`), and every folder holding a file or folder has a row
/// here, so empty folders exist too. A version-1 database has flat names
/// only, which are files in the root: nothing to convert.
const SCHEMA_V2: &str = "
CREATE TABLE IF NOT EXISTS folders (
    path    TEXT PRIMARY KEY,
    creator TEXT NOT NULL,
    created INTEGER NOT NULL
);
";

/// Each step takes a database from the version before it to its own.
const STEPS: [(u32, &str); 2] = [(1, SCHEMA_V1), (2, SCHEMA_V2)];

/// Brings the database up to [`SCHEMA_VERSION`]. A database of version 0
/// is either new or made before versions were recorded: both get version
/// 1, whose statements create only what is missing.
pub(super) fn migrate(conn: &Connection) -> Result<(), DbError> {
    let found: u32 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(DbError::TooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.unchecked_transaction()?;
    for (version, sql) in STEPS.iter().filter(|(v, _)| *v > found) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use ferry_proto::protocol::Role;

    /// A database as the server made it before schema versions: the v1
    /// tables with rows in them, `user_version` 0.
    fn unversioned(dir: &std::path::Path) {
        let conn = Connection::open(dir.join(crate::db::DB_FILE)).unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        conn.execute(
            "INSERT INTO users (name, password_hash, role, created) VALUES ('old', 'h', 'admin', 0)",
            [],
        )
        .unwrap();
    }

    #[test]
    fn a_database_made_before_versions_opens_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        unversioned(dir.path());
        let db = Db::open(dir.path()).unwrap();
        assert_eq!(db.users().unwrap(), [("old".to_owned(), Role::Admin)]);
        let conn = Connection::open(dir.path().join(crate::db::DB_FILE)).unwrap();
        let version: u32 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        // Opening again changes nothing.
        drop(db);
        Db::open(dir.path()).unwrap();
    }

    #[test]
    fn a_version_1_database_gets_folders_and_keeps_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join(crate::db::DB_FILE)).unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        conn.execute_batch(
            "INSERT INTO files (name, last_version) VALUES ('old.txt', 1);
             INSERT INTO versions (name, version, size, md5, blob, uploader, created)
             VALUES ('old.txt', 1, 3, '900150983cd24fb0d6963f7d28e17f72', 'b1', 'alice', 0);
             PRAGMA user_version = 1;",
        )
        .unwrap();
        drop(conn);
        let db = Db::open(dir.path()).unwrap();
        let list = db.list().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].current.name, "old.txt");
        let path = ferry_proto::names::FilePath::new("new/folder".to_owned()).unwrap();
        assert_eq!(db.mkdir(&path, "alice").unwrap(), 2);
    }

    #[test]
    fn a_database_from_a_newer_server_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join(crate::db::DB_FILE)).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        let e = Db::open(dir.path()).err().expect("refused");
        assert!(e.to_string().contains("newer"), "{e}");
    }
}
