//! One progress bar per transfer, on stderr, only for a person watching:
//! [`TransferBar`] for one file, [`TreeBar`] for a whole folder.
//!
//! The bar must not look finished before the MD5 check has passed, so it
//! counts one step more than the file has bytes: the bytes fill it to just
//! short of the end, and the last step is the verification.

use std::cell::Cell;
use std::ops::ControlFlow;

use ferry_client::mirror::MirrorProgress;
use ferry_client::{Progress, Stage, TreeProgress};
use indicatif::{BinaryBytes, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// The bar's length and position for a progress report: the position
/// reaches the length only once the MD5 check has passed.
pub fn bar_geometry(p: Progress) -> (u64, u64) {
    let length = p.total.saturating_add(1);
    let position = match p.stage {
        Stage::Done => length,
        // `length - 1` only matters for a size of u64::MAX, where the
        // extra step saturates away.
        Stage::Transferring | Stage::Verifying | Stage::Reconnecting { .. } => {
            p.done.min(p.total).min(length - 1)
        }
    };
    (length, position)
}

/// A transfer's bar; cleared when dropped, so an error message that follows
/// is not printed into a half-drawn line.
pub struct TransferBar {
    bar: ProgressBar,
    label: String,
    /// Drawing starts with the first report, so a transfer the server
    /// refuses at once (a name that exists) does not flash an empty bar.
    waiting_to_show: bool,
    /// Whether the message says the MD5 is being checked (after the bytes,
    /// or of a changed partial download before the rest comes).
    checking: bool,
}

impl TransferBar {
    /// A bar labelled `label`; `visible` false gives a bar that draws nothing.
    pub fn new(label: String, visible: bool) -> TransferBar {
        let bar = ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::hidden())
            .with_style(style())
            .with_message(label.clone());
        TransferBar {
            bar,
            label,
            waiting_to_show: visible,
            checking: false,
        }
    }

    /// Shows a progress report; never asks to cancel.
    pub fn report(&mut self, p: Progress) -> ControlFlow<()> {
        if self.waiting_to_show {
            self.waiting_to_show = false;
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        let (length, position) = bar_geometry(p);
        if self.bar.length() != Some(length) {
            self.bar.set_length(length);
            self.bar.set_position(position);
            // A resumed transfer starts with bytes already there; they must
            // not count towards the speed and ETA.
            self.bar.reset_eta();
        } else {
            self.bar.set_position(position);
        }
        let checking = p.stage == Stage::Verifying;
        if checking != self.checking {
            self.checking = checking;
            self.bar.set_message(if checking {
                format!("{} (checking MD5)", self.label)
            } else {
                self.label.clone()
            });
        }
        ControlFlow::Continue(())
    }
}

impl TransferBar {
    /// Shows a multi-mirror report: the total on the bar, and what each
    /// mirror has delivered and at what speed in its message.
    pub fn report_mirrors(&mut self, p: &MirrorProgress) -> ControlFlow<()> {
        if p.stage == Stage::Transferring {
            self.bar
                .set_message(format!("{} {}", self.label, mirror_summary(p)));
        }
        self.report(p.overall())
    }
}

/// One short line of per-mirror figures: `[a:7878 12.0 MiB 3.1 MiB/s | b:7878 …]`;
/// a dropped mirror shows as `excluded`.
pub fn mirror_summary(p: &MirrorProgress) -> String {
    let parts: Vec<String> = p
        .mirrors
        .iter()
        .map(|m| match &m.dropped {
            Some(_) => format!("{} excluded", m.addr),
            None => format!(
                "{} {} {}/s",
                m.addr,
                ferry_proto::units::human_size(m.bytes),
                ferry_proto::units::human_size(m.speed)
            ),
        })
        .collect();
    format!("[{}]", parts.join(" | "))
}

impl Drop for TransferBar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// The bar's length and position for a whole tree: bytes, plus one last
/// step that is reached only once every file is finished (a large file's
/// bytes are all there before its MD5 check).
pub fn tree_geometry(p: TreeProgress) -> (u64, u64) {
    let stage = if p.files_done >= p.files_total {
        Stage::Done
    } else {
        Stage::Transferring
    };
    bar_geometry(Progress {
        stage,
        done: p.bytes_done,
        total: p.bytes_total,
    })
}

/// A whole tree's bar: its bytes with speed and ETA, and how many of its
/// files are finished. Cleared when dropped. Its methods take `&self`, so
/// the tree's attempts and the waits to reconnect between them can share it.
pub struct TreeBar {
    bar: ProgressBar,
    label: String,
    /// Drawing starts with the first report (see [`TransferBar`]).
    waiting_to_show: Cell<bool>,
}

impl TreeBar {
    /// A bar labelled `label`; `visible` false gives a bar that draws nothing.
    pub fn new(label: String, visible: bool) -> TreeBar {
        let bar = ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::hidden())
            .with_style(style())
            .with_message(label.clone());
        TreeBar {
            bar,
            label,
            waiting_to_show: Cell::new(visible),
        }
    }

    fn show(&self) {
        if self.waiting_to_show.replace(false) {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    /// Shows a progress report; never asks to cancel.
    pub fn report(&self, p: TreeProgress) -> ControlFlow<()> {
        self.show();
        let (length, position) = tree_geometry(p);
        if self.bar.length() != Some(length) {
            self.bar.set_length(length);
        }
        if position < self.bar.position() {
            // A new attempt after a reconnect counts again from the start:
            // the speed and ETA start over with it.
            self.bar.set_position(position);
            self.bar.reset_eta();
        } else {
            self.bar.set_position(position);
        }
        self.bar.set_message(format!(
            "{} ({}/{} files)",
            self.label, p.files_done, p.files_total
        ));
        ControlFlow::Continue(())
    }

    /// Says that the connection was lost and retry `retry` of `of` is
    /// coming; never asks to stop waiting.
    pub fn reconnecting(&self, retry: u32, of: u32) -> ControlFlow<()> {
        self.show();
        self.bar.set_message(format!(
            "{} (connection lost; reconnecting, retry {retry} of {of})",
            self.label
        ));
        ControlFlow::Continue(())
    }
}

impl Drop for TreeBar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// Bytes, speed and ETA. `{done}` and `{size}` are custom keys that undo the
/// extra verification step, so the byte counts shown are the file's own.
fn style() -> ProgressStyle {
    let bytes_of = |state: &ProgressState| {
        let size = state.len().unwrap_or(1).saturating_sub(1);
        (state.pos().min(size), size)
    };
    ProgressStyle::with_template("{msg} [{bar:30}] {done}/{size} {binary_bytes_per_sec} ETA {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
        .with_key(
            "done",
            move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}", BinaryBytes(bytes_of(state).0));
            },
        )
        .with_key(
            "size",
            move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}", BinaryBytes(bytes_of(state).1));
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(stage: Stage, done: u64, total: u64) -> (u64, u64) {
        bar_geometry(Progress { stage, done, total })
    }

    #[test]
    fn never_full_before_verification() {
        assert_eq!(at(Stage::Transferring, 0, 100), (101, 0));
        assert_eq!(at(Stage::Transferring, 100, 100), (101, 100));
        assert_eq!(at(Stage::Verifying, 100, 100), (101, 100));
        assert_eq!(at(Stage::Done, 100, 100), (101, 101));
    }

    #[test]
    fn a_tree_bar_is_full_only_when_every_file_is_finished() {
        let at = |files_done, bytes_done| {
            tree_geometry(TreeProgress {
                files_done,
                files_total: 3,
                bytes_done,
                bytes_total: 100,
            })
        };
        assert_eq!(at(0, 0), (101, 0));
        assert_eq!(at(2, 100), (101, 100), "the last file's check is to come");
        assert_eq!(at(3, 100), (101, 101));
        assert_eq!(at(3, 60), (101, 101), "finished, some of it failed");
        let empty = tree_geometry(TreeProgress::default());
        assert_eq!(empty, (1, 1), "a tree without files is done at once");

        let bar = TreeBar::new("t".into(), false);
        let _ = bar.report(TreeProgress {
            files_done: 1,
            files_total: 2,
            bytes_done: 7,
            bytes_total: 9,
        });
        assert_eq!(bar.bar.message(), "t (1/2 files)");
        let _ = bar.reconnecting(1, 5);
        assert!(bar.bar.message().contains("retry 1 of 5"));
    }

    #[test]
    fn empty_and_huge_files() {
        assert_eq!(at(Stage::Verifying, 0, 0), (1, 0));
        assert_eq!(at(Stage::Done, 0, 0), (1, 1));
        let (len, pos) = at(Stage::Verifying, u64::MAX, u64::MAX);
        assert!(pos < len);
    }

    #[test]
    fn mirror_summary_names_each_mirror() {
        use ferry_client::mirror::MirrorStatus;
        let p = MirrorProgress {
            done: 3 << 20,
            total: 8 << 20,
            stage: Stage::Transferring,
            mirrors: vec![
                MirrorStatus {
                    addr: "a:1".into(),
                    bytes: 3 << 20,
                    speed: 1 << 20,
                    dropped: None,
                },
                MirrorStatus {
                    addr: "b:2".into(),
                    bytes: 0,
                    speed: 0,
                    dropped: Some("disagrees".into()),
                },
            ],
        };
        assert_eq!(mirror_summary(&p), "[a:1 3.0 MiB 1.0 MiB/s | b:2 excluded]");
    }

    #[test]
    fn a_hidden_bar_accepts_reports() {
        let mut bar = TransferBar::new("x".into(), false);
        assert!(
            bar.report(Progress {
                stage: Stage::Done,
                done: 3,
                total: 3
            })
            .is_continue()
        );
        assert_eq!(bar.bar.position(), 4);
    }

    #[test]
    fn the_message_says_checking_only_while_checking() {
        let mut bar = TransferBar::new("f.bin".into(), false);
        let mut report = |stage, done| {
            let _ = bar.report(Progress {
                stage,
                done,
                total: 8,
            });
            bar.bar.message()
        };
        // A changed partial download is checked before the rest comes.
        assert_eq!(report(Stage::Verifying, 2), "f.bin (checking MD5)");
        assert_eq!(report(Stage::Transferring, 4), "f.bin");
        assert_eq!(report(Stage::Verifying, 8), "f.bin (checking MD5)");
    }
}
