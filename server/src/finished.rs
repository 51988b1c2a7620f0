//! Uploads committed lately, by upload id. A client whose connection broke
//! after it sent the whole upload but before it heard `OK STORED` resumes
//! the same id; the server then tells it what became of the upload instead
//! of receiving the file a second time (which would store a duplicate
//! version, or fail with "exists" under policy `fail`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ferry_proto::Md5Digest;
use ferry_proto::names::FilePath;

/// Most uploads remembered; the oldest are forgotten first.
const MAX_REMEMBERED: usize = 10_000;

/// The outcome of one committed upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Finished {
    pub user: String,
    /// The name asked for.
    pub name: String,
    pub size: u64,
    pub md5: Md5Digest,
    /// The name it was stored under (differs under policy `rename`).
    pub stored_as: String,
    pub version: u32,
}

/// Committed uploads, each remembered for a while.
pub(crate) struct FinishedUploads {
    by_id: HashMap<String, (Finished, Instant)>,
    keep: Duration,
}

impl FinishedUploads {
    /// Remembers each upload for `keep` (as long as an unfinished one is kept).
    pub fn new(keep: Duration) -> Self {
        FinishedUploads {
            by_id: HashMap::new(),
            keep,
        }
    }

    /// Remembers that upload `id` ended as `finished`.
    pub fn record(&mut self, id: String, finished: Finished, now: Instant) {
        if self.by_id.len() >= MAX_REMEMBERED {
            let keep = self.keep;
            self.by_id
                .retain(|_, (_, at)| now.saturating_duration_since(*at) < keep);
        }
        if self.by_id.len() >= MAX_REMEMBERED
            && let Some(oldest) = self
                .by_id
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(id, _)| id.clone())
        {
            self.by_id.remove(&oldest);
        }
        self.by_id.insert(id, (finished, now));
    }

    /// What became of upload `id`, if it was `user`'s upload of `size`
    /// bytes under `name` and is still remembered.
    pub fn find(
        &self,
        id: &str,
        user: &str,
        name: &FilePath,
        size: u64,
        now: Instant,
    ) -> Option<&Finished> {
        let (finished, at) = self.by_id.get(id)?;
        let fresh = now.saturating_duration_since(*at) < self.keep;
        let same = finished.user == user && finished.name == name.as_str() && finished.size == size;
        (fresh && same).then_some(finished)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(name: &str) -> FilePath {
        FilePath::new(name.to_owned()).unwrap()
    }
    use ferry_proto::hash::md5_bytes;

    fn finished(user: &str) -> Finished {
        Finished {
            user: user.to_owned(),
            name: "a.txt".to_owned(),
            size: 3,
            md5: md5_bytes(b"abc"),
            stored_as: "a_v2.txt".to_owned(),
            version: 1,
        }
    }

    #[test]
    fn found_only_by_its_owner_for_the_same_file_and_while_fresh() {
        let t0 = Instant::now();
        let mut done = FinishedUploads::new(Duration::from_secs(60));
        done.record("id1".into(), finished("ann"), t0);
        assert_eq!(
            done.find("id1", "ann", &n("a.txt"), 3, t0),
            Some(&finished("ann"))
        );
        assert!(done.find("id1", "bob", &n("a.txt"), 3, t0).is_none());
        assert!(done.find("id1", "ann", &n("b.txt"), 3, t0).is_none());
        assert!(done.find("id1", "ann", &n("a.txt"), 4, t0).is_none());
        assert!(done.find("id2", "ann", &n("a.txt"), 3, t0).is_none());
        let later = t0 + Duration::from_secs(61);
        assert!(done.find("id1", "ann", &n("a.txt"), 3, later).is_none());
    }

    #[test]
    fn the_oldest_are_forgotten_first() {
        let t0 = Instant::now();
        let mut done = FinishedUploads::new(Duration::from_secs(3600));
        for i in 0..MAX_REMEMBERED + 1 {
            let at = t0 + Duration::from_millis(i as u64);
            done.record(format!("id{i}"), finished("ann"), at);
        }
        let now = t0 + Duration::from_secs(20);
        assert_eq!(done.by_id.len(), MAX_REMEMBERED);
        assert!(done.find("id0", "ann", &n("a.txt"), 3, now).is_none());
        assert!(done.find("id1", "ann", &n("a.txt"), 3, now).is_some());
        let last = format!("id{MAX_REMEMBERED}");
        assert!(done.find(&last, "ann", &n("a.txt"), 3, now).is_some());
    }
}
