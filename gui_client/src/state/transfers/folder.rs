//! What a whole-folder transfer that ran to its end says: its state (done,
//! unless a file failed) and the line under its row. The row itself and
//! how updates move it along are the parent module's.

use std::path::Path;

use super::{Direction, TransferState};
use crate::format::{counted, human_size};
use crate::worker::FolderOutcome;

/// A folder transfer that ran to its end is done, unless a file failed.
pub(super) fn state(outcome: &FolderOutcome) -> TransferState {
    match outcome.failed.as_slice() {
        [] => TransferState::Done,
        [(path, why)] => TransferState::Failed(format!("{path}: {why}")),
        [(path, why), rest @ ..] => TransferState::Failed(format!(
            "{} files failed; the first, {path}: {why}",
            rest.len() + 1
        )),
    }
}

/// The line under a finished folder transfer: how many files moved, how
/// many were there already, and which were kept because the user skipped
/// them.
pub(super) fn note(direction: Direction, local: &Path, outcome: &FolderOutcome) -> String {
    let files = |n: usize| counted(n, "file", "files");
    let mut note = match direction {
        Direction::Upload => format!("{} stored (MD5 checked)", files(outcome.moved)),
        Direction::Download => format!(
            "{} saved to {} (MD5 checked)",
            files(outcome.moved),
            local.display()
        ),
    };
    if outcome.unchanged > 0 {
        note.push_str(&format!("; {} already there", files(outcome.unchanged)));
    }
    if outcome.resumed > 0 {
        note.push_str(&format!(
            "; {} of cut-off files continued, not fetched again",
            human_size(outcome.resumed)
        ));
    }
    if !outcome.kept.is_empty() {
        let whose = match direction {
            Direction::Upload => "the server's",
            Direction::Download => "yours",
        };
        note.push_str(&format!(
            "; {} with other content skipped ({whose} kept)",
            files(outcome.kept.len())
        ));
    }
    note
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_says_what_moved_what_was_there_and_what_failed() {
        let outcome = FolderOutcome {
            moved: 1,
            unchanged: 3,
            resumed: 2 << 20,
            kept: vec!["a.txt".into(), "b.txt".into()],
            failed: Vec::new(),
        };
        assert_eq!(state(&outcome), TransferState::Done);
        assert_eq!(
            note(Direction::Upload, Path::new("/l"), &outcome),
            "1 file stored (MD5 checked); 3 files already there; 2.0 MiB of cut-off files \
             continued, not fetched again; 2 files with other content skipped (the server's kept)"
        );
        let down = note(Direction::Download, Path::new("/home/ann/x"), &outcome);
        assert!(down.starts_with("1 file saved to /home/ann/x"), "{down}");
        assert!(down.ends_with("(yours kept)"), "{down}");

        let failed = FolderOutcome {
            failed: vec![("a".into(), "no".into()), ("b".into(), "no".into())],
            ..FolderOutcome::default()
        };
        assert_eq!(
            state(&failed),
            TransferState::Failed("2 files failed; the first, a: no".into())
        );
    }
}
