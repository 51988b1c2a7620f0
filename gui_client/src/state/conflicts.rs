//! The "name already exists" questions: a queue of uploads whose name is
//! on the server, and of downloads whose target is already on this
//! computer, waiting for the user's choice, the choices made "for all" in a batch, and what is
//! known about each one's local file (size, time, MD5) to compare with the
//! server's. No drawing here; `panels::dialogs` asks, and the local facts
//! are found by `local_file`, off the UI thread.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

use ferry_proto::hash::Md5Digest;
use ferry_proto::protocol::ConflictPolicy;

use crate::local_file::{LocalFacts, Probed};
use crate::worker::TransferId;

/// What the user chose for a name that exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// Upload as the new current version; the old one stays in the history.
    Overwrite,
    /// Upload under the first free `name_vN.ext`.
    KeepBoth,
    /// Do not upload this file.
    Skip,
}

impl Choice {
    /// The server policy for this choice; `None` for Skip.
    pub fn policy(self) -> Option<ConflictPolicy> {
        match self {
            Choice::Overwrite => Some(ConflictPolicy::Overwrite),
            Choice::KeepBoth => Some(ConflictPolicy::Rename),
            Choice::Skip => None,
        }
    }
}

/// An upload waiting for a choice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// Its transfer row.
    pub transfer: TransferId,
    /// The name that exists.
    pub name: String,
    /// The batch it came in.
    pub batch: u64,
    /// For a download: the local file that exists. `None` for an upload
    /// whose name exists on the server.
    pub download_to: Option<PathBuf>,
    /// For a download: the name "Keep both" would save under, found when
    /// the question is asked (not each frame: it looks at the disk).
    pub copy_name: Option<String>,
    /// The local file on the other side of the conflict (the one being
    /// uploaded, or the one a download would replace), to compare.
    pub local: Option<PathBuf>,
    /// Whether the name is a folder's (a whole-folder transfer): the choice
    /// is then about its files whose content differs.
    pub folder: bool,
}

/// Where "Keep both" saves a download whose target `path` exists: the
/// first free "name (2).ext", "name (3).ext", … beside it (`exists` says
/// which are taken), as file managers and browsers name copies.
pub fn keep_both_path(path: &Path, exists: impl Fn(&Path) -> bool) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (2u32..)
        .map(|n| path.with_file_name(format!("{stem} ({n}){ext}")))
        .find(|candidate| !exists(candidate))
        .expect("some number is free")
}

/// What the local file of a question is, compared with the server's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comparison {
    /// The question has no local file to compare.
    NoLocalFile,
    /// Nothing known yet.
    Unknown,
    /// Could not be read; the sentence says why.
    Unreadable(String),
    /// Known facts; `same` is `None` while the MD5 is being computed.
    Known {
        /// Size, time and MD5 (when needed).
        facts: LocalFacts,
        /// Whether the contents are identical, once known.
        same: Option<bool>,
    },
}

impl Comparison {
    /// The button Enter presses: Skip when the contents are identical,
    /// Overwrite (which keeps the old version in the history) otherwise.
    pub fn default_choice(&self) -> Choice {
        match self {
            Comparison::Known {
                same: Some(true), ..
            } => Choice::Skip,
            _ => Choice::Overwrite,
        }
    }
}

/// The questions still to ask.
#[derive(Debug, Default)]
pub struct Conflicts {
    queue: VecDeque<Conflict>,
    for_all: HashMap<u64, Choice>,
    /// The "apply to all" tick box of the open dialog.
    pub apply_to_all: bool,
    local: HashMap<TransferId, Result<LocalFacts, String>>,
    probing: HashSet<TransferId>,
}

impl Conflicts {
    /// Adds a question, or answers it at once when the user already chose
    /// "for all" in its batch.
    pub fn push(&mut self, conflict: Conflict) -> Option<Choice> {
        if let Some(choice) = self.for_all.get(&conflict.batch) {
            return Some(*choice);
        }
        if !self.queue.iter().any(|c| c.transfer == conflict.transfer) {
            self.queue.push_back(conflict);
        }
        None
    }

    /// The question on screen.
    pub fn current(&self) -> Option<&Conflict> {
        self.queue.front()
    }

    /// How many other questions of the current one's batch are waiting.
    pub fn others_in_batch(&self) -> usize {
        let Some(current) = self.current() else {
            return 0;
        };
        self.queue
            .iter()
            .skip(1)
            .filter(|c| c.batch == current.batch)
            .count()
    }

    /// Answers the current question (and, with "apply to all", every other
    /// one of its batch, now and later). Returns the answered conflicts.
    pub fn answer(&mut self, choice: Choice) -> Vec<(Conflict, Choice)> {
        let Some(current) = self.queue.pop_front() else {
            return Vec::new();
        };
        let mut answered = Vec::new();
        if self.apply_to_all {
            let batch = current.batch;
            self.for_all.insert(batch, choice);
            let (same, rest): (VecDeque<_>, VecDeque<_>) =
                self.queue.drain(..).partition(|c| c.batch == batch);
            self.queue = rest;
            answered.extend(same.into_iter().map(|c| (c, choice)));
        }
        answered.insert(0, (current, choice));
        for (c, _) in &answered {
            self.drop_local(c.transfer);
        }
        self.apply_to_all = false;
        answered
    }

    /// Drops the question for a transfer that went away (cancelled).
    pub fn forget(&mut self, transfer: TransferId) {
        self.queue.retain(|c| c.transfer != transfer);
        self.drop_local(transfer);
    }

    fn drop_local(&mut self, transfer: TransferId) {
        self.local.remove(&transfer);
        self.probing.remove(&transfer);
    }

    /// The current question's local file, when it still has to be looked
    /// at: the caller starts a probe (once; this marks it asked).
    pub fn to_probe(&mut self) -> Option<(TransferId, PathBuf)> {
        let current = self.queue.front()?;
        let path = current.local.clone()?;
        self.probing
            .insert(current.transfer)
            .then_some((current.transfer, path))
    }

    /// Takes what a probe found.
    pub fn learned(&mut self, probed: Probed) {
        if self.queue.iter().any(|c| c.transfer == probed.key) {
            self.local.insert(probed.key, probed.facts);
        }
    }

    /// The current question's local file against the server's `size` and
    /// `md5`.
    pub fn comparison(&self, server: Option<(u64, Md5Digest)>) -> Comparison {
        let Some(current) = self.current() else {
            return Comparison::Unknown;
        };
        if current.local.is_none() {
            return Comparison::NoLocalFile;
        }
        match self.local.get(&current.transfer) {
            None => Comparison::Unknown,
            Some(Err(why)) => Comparison::Unreadable(why.clone()),
            Some(Ok(facts)) => Comparison::Known {
                same: server.and_then(|(size, md5)| facts.same_as(size, md5)),
                facts: facts.clone(),
            },
        }
    }

    /// Forgets everything (log out).
    pub fn clear(&mut self) {
        *self = Conflicts::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conflict(transfer: TransferId, batch: u64) -> Conflict {
        Conflict {
            transfer,
            name: format!("f{transfer}"),
            batch,
            download_to: None,
            copy_name: None,
            local: Some(PathBuf::from(format!("/tmp/f{transfer}"))),
            folder: false,
        }
    }

    #[test]
    fn keep_both_picks_the_first_free_copy_name() {
        let taken = [PathBuf::from("/d/report (2).pdf")];
        let exists = |p: &Path| taken.iter().any(|t| t == p);
        assert_eq!(
            keep_both_path(Path::new("/d/report.pdf"), exists),
            PathBuf::from("/d/report (3).pdf")
        );
        assert_eq!(
            keep_both_path(Path::new("/d/notes"), |_| false),
            PathBuf::from("/d/notes (2)")
        );
        assert_eq!(
            keep_both_path(Path::new("/d/a.tar.gz"), |_| false),
            PathBuf::from("/d/a.tar (2).gz")
        );
    }

    #[test]
    fn the_local_file_is_probed_once_and_compared() {
        use crate::local_file::Digest;
        use ferry_proto::hash::md5_bytes;

        let mut c = Conflicts::default();
        c.push(conflict(1, 1));
        assert_eq!(c.to_probe(), Some((1, PathBuf::from("/tmp/f1"))));
        assert_eq!(c.to_probe(), None, "asked once");
        let server = Some((5, md5_bytes(b"hello")));
        assert_eq!(c.comparison(server), Comparison::Unknown);
        assert_eq!(c.comparison(server).default_choice(), Choice::Overwrite);
        let facts = |md5| LocalFacts {
            size: 5,
            modified: None,
            md5,
        };
        c.learned(Probed {
            key: 1,
            facts: Ok(facts(Digest::Pending)),
        });
        assert!(matches!(
            c.comparison(server),
            Comparison::Known { same: None, .. }
        ));
        c.learned(Probed {
            key: 1,
            facts: Ok(facts(Digest::Known(md5_bytes(b"hello")))),
        });
        assert_eq!(c.comparison(server).default_choice(), Choice::Skip);
        // A different file on the server: Overwrite is the default again.
        let other = c.comparison(Some((5, md5_bytes(b"world"))));
        assert!(matches!(
            other,
            Comparison::Known {
                same: Some(false),
                ..
            }
        ));
        assert_eq!(other.default_choice(), Choice::Overwrite);
        // Answers for questions no longer asked are dropped.
        c.answer(Choice::Skip);
        c.learned(Probed {
            key: 1,
            facts: Ok(facts(Digest::Pending)),
        });
        assert_eq!(c.comparison(server), Comparison::Unknown);
    }

    #[test]
    fn one_at_a_time_then_for_all() {
        let mut c = Conflicts::default();
        for (t, b) in [(1, 1), (2, 1), (3, 2), (4, 1)] {
            assert_eq!(c.push(conflict(t, b)), None);
        }
        assert_eq!(c.current().unwrap().transfer, 1);
        assert_eq!(c.others_in_batch(), 2);
        let answered = c.answer(Choice::Skip);
        assert_eq!(answered, vec![(conflict(1, 1), Choice::Skip)]);

        c.apply_to_all = true;
        let answered = c.answer(Choice::KeepBoth);
        let ids: Vec<_> = answered.iter().map(|(c, _)| c.transfer).collect();
        assert_eq!(ids, [2, 4]);
        assert!(!c.apply_to_all, "the tick box resets for the next batch");
        assert_eq!(c.current().unwrap().transfer, 3);
        // A late conflict from batch 1 is answered without asking.
        assert_eq!(c.push(conflict(5, 1)), Some(Choice::KeepBoth));
        assert_eq!(c.push(conflict(6, 2)), None);
        c.forget(3);
        assert_eq!(c.current().unwrap().transfer, 6);
    }
}
