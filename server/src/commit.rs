//! Making verified uploads visible, all or nothing per upload.
//!
//! [`uploads`] takes uploads whose bytes arrived and were hash-checked,
//! moves their contents into the blob store (fsynced, renamed into place)
//! and records their versions in one database transaction. An upload that
//! fails at either step leaves nothing behind: a blob moved into place but
//! not recorded is removed again. The session decides what to reply; this
//! module owns only the order of the steps and the rollback, so it is
//! tested without a socket.

use std::io;
use std::sync::Arc;

use ferry_proto::Md5Digest;
use ferry_proto::names::FilePath;
use ferry_proto::protocol::ConflictPolicy;

use crate::db::{Db, DbError, NewVersion};
use crate::storage::{Partial, Store};

/// What is known of a verified upload besides its bytes.
pub(crate) struct Arrival<'a> {
    /// The name the client asked for.
    pub(crate) name: &'a FilePath,
    /// What to do when the name is taken.
    pub(crate) policy: ConflictPolicy,
    /// Its size in bytes.
    pub(crate) size: u64,
    /// Its MD5, checked on arrival.
    pub(crate) md5: Md5Digest,
}

/// Why an upload could not be made visible.
#[derive(Debug)]
pub(crate) enum CommitError {
    /// Its name is taken and its policy is `fail`.
    Exists,
    /// A file or folder is in the way of its path, or the name the
    /// `rename` policy found would make too long a path.
    Refused(DbError),
    /// Its contents could not be synced or moved into the store.
    Storage(io::Error),
    /// The database refused the group (shared by every upload in it).
    Database(Arc<DbError>),
}

/// Commits `partials` (each described by the `arrivals` entry of the same
/// index) as versions uploaded by `uploader`. Returns, in order, each
/// one's stored name and version number, or why it is not stored.
pub(crate) fn uploads(
    store: &Store,
    db: &Db,
    uploader: &str,
    partials: Vec<Partial>,
    arrivals: &[Arrival<'_>],
) -> Vec<Result<(String, u32), CommitError>> {
    debug_assert_eq!(partials.len(), arrivals.len());
    let blobs = store.commit_many(partials);
    let moved: Vec<usize> = (0..blobs.len()).filter(|&i| blobs[i].is_ok()).collect();
    let news: Vec<NewVersion<'_>> = moved
        .iter()
        .map(|&i| {
            let arrival = &arrivals[i];
            NewVersion {
                name: arrival.name,
                policy: arrival.policy,
                size: arrival.size,
                md5: arrival.md5,
                blob: blobs[i].as_ref().expect("moved"),
                uploader,
            }
        })
        .collect();
    let mut outcomes: Vec<Option<Result<(String, u32), CommitError>>> =
        (0..blobs.len()).map(|_| None).collect();
    match db.add_versions(&news) {
        Ok(results) => {
            for (&i, result) in moved.iter().zip(results) {
                outcomes[i] = Some(match result {
                    Ok(stored) => Ok(stored),
                    Err(DbError::Exists) => Err(CommitError::Exists),
                    Err(e @ (DbError::Blocked(_) | DbError::BadTarget(..))) => {
                        Err(CommitError::Refused(e))
                    }
                    Err(e) => Err(CommitError::Database(Arc::new(e))),
                });
            }
        }
        Err(e) => {
            let e = Arc::new(e);
            for &i in &moved {
                outcomes[i] = Some(Err(CommitError::Database(Arc::clone(&e))));
            }
        }
    }
    let unrecorded: Vec<String> = moved
        .iter()
        .filter(|&&i| outcomes[i].as_ref().is_some_and(Result::is_err))
        .map(|&i| blobs[i].as_ref().expect("moved").clone())
        .collect();
    store.remove_blobs(&unrecorded);
    for (i, blob) in blobs.into_iter().enumerate() {
        if let Err(e) = blob {
            outcomes[i] = Some(Err(CommitError::Storage(e)));
        }
    }
    outcomes
        .into_iter()
        .map(|o| o.expect("one outcome per upload"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(name: &str) -> FilePath {
        FilePath::new(name.to_owned()).unwrap()
    }
    use ferry_proto::hash::md5_bytes;
    use ferry_proto::protocol::Role;

    fn arrived(store: &Store, name: &FilePath, bytes: &[u8]) -> (Partial, Md5Digest) {
        let mut partial = store
            .create_partial(name, bytes.len() as u64, "ann")
            .unwrap();
        let mut written = 0;
        while written < bytes.len() {
            let space = partial.space(bytes.len() - written);
            let n = space.len();
            space.copy_from_slice(&bytes[written..written + n]);
            partial.filled(n).unwrap();
            written += n;
        }
        let md5 = partial.finish().unwrap();
        assert_eq!(md5, md5_bytes(bytes));
        (partial, md5)
    }

    fn setup() -> (tempfile::TempDir, Store, Db) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let db = Db::open(dir.path()).unwrap();
        db.add_user("ann", "hash", Role::User).unwrap();
        (dir, store, db)
    }

    fn blob_count(dir: &tempfile::TempDir) -> usize {
        std::fs::read_dir(dir.path().join("blobs")).unwrap().count()
    }

    #[test]
    fn a_group_is_stored_and_recorded_together() {
        let (dir, store, db) = setup();
        let (a, a_md5) = arrived(&store, &n("a.txt"), b"first");
        let (b, b_md5) = arrived(&store, &n("b.txt"), b"second");
        let arrivals = [
            Arrival {
                name: &n("a.txt"),
                policy: ConflictPolicy::Fail,
                size: 5,
                md5: a_md5,
            },
            Arrival {
                name: &n("b.txt"),
                policy: ConflictPolicy::Fail,
                size: 6,
                md5: b_md5,
            },
        ];
        let outcomes = uploads(&store, &db, "ann", vec![a, b], &arrivals);
        let stored: Vec<(String, u32)> = outcomes.into_iter().map(Result::unwrap).collect();
        assert_eq!(stored, [("a.txt".into(), 1), ("b.txt".into(), 1)]);
        assert_eq!(db.list().unwrap().len(), 2);
        assert_eq!(blob_count(&dir), 2);
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }

    /// The rollback: a version the database refuses (its name is taken
    /// under `fail`) leaves no blob behind, and does not stop the others.
    #[test]
    fn a_refused_version_leaves_no_blob_and_stops_nothing_else() {
        let (dir, store, db) = setup();
        let (first, md5) = arrived(&store, &n("taken.txt"), b"one");
        fn arrival(name: &FilePath, md5: Md5Digest) -> Arrival<'_> {
            Arrival {
                name,
                policy: ConflictPolicy::Fail,
                size: 3,
                md5,
            }
        }
        uploads(
            &store,
            &db,
            "ann",
            vec![first],
            &[arrival(&n("taken.txt"), md5)],
        )
        .pop()
        .unwrap()
        .unwrap();
        let (again, again_md5) = arrived(&store, &n("taken.txt"), b"two");
        let (other, other_md5) = arrived(&store, &n("other.txt"), b"six");
        let outcomes = uploads(
            &store,
            &db,
            "ann",
            vec![again, other],
            &[
                arrival(&n("taken.txt"), again_md5),
                arrival(&n("other.txt"), other_md5),
            ],
        );
        assert!(matches!(outcomes[0], Err(CommitError::Exists)));
        assert_eq!(outcomes[1].as_ref().unwrap(), &("other.txt".to_owned(), 1));
        assert_eq!(blob_count(&dir), 2, "the refused one's blob is gone");
        assert_eq!(db.history(&n("taken.txt")).unwrap().len(), 1);
    }
}
