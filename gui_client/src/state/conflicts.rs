//! The "name already exists" questions: a queue of uploads whose name is
//! on the server, and of downloads whose target is already on this
//! computer, waiting for the user's choice, and the choices made "for all"
//! in a batch. No drawing here; `panels::dialogs` asks.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

use ferry_proto::protocol::ConflictPolicy;

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

/// The questions still to ask.
#[derive(Debug, Default)]
pub struct Conflicts {
    queue: VecDeque<Conflict>,
    for_all: HashMap<u64, Choice>,
    /// The "apply to all" tick box of the open dialog.
    pub apply_to_all: bool,
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
        self.apply_to_all = false;
        answered
    }

    /// Drops the question for a transfer that went away (cancelled).
    pub fn forget(&mut self, transfer: TransferId) {
        self.queue.retain(|c| c.transfer != transfer);
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
