//! The transfers panel's data: every [`Transfer`] of the session, and how
//! the [`TransferUpdate`]s from the worker threads move each one along
//! ([`Transfers::apply`], which says what the app must do next). No drawing
//! here; `panels::transfers` draws it. Nor does it start or stop workers:
//! the app does, with the stop flags kept here.
//!
//! A row is built so the features still to come fit in without reshaping
//! it: `Paused` for resumable transfers, per-mirror progress for
//! multi-server downloads. One row on its own lives in `row`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use ferry_client::Stage;
use ferry_proto::protocol::ConflictPolicy;

use crate::format::{counted, human_size};
use crate::worker::{Stop, StopFlag, TransferId, TransferUpdate};

mod folder;
mod row;

pub use row::{Direction, Transfer, TransferState};

/// Every transfer of this session, oldest first.
#[derive(Debug, Default)]
pub struct Transfers {
    /// The rows.
    pub rows: Vec<Transfer>,
    next_id: TransferId,
}

/// What the app must do after an update was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followup {
    /// Nothing.
    None,
    /// An upload finished: refresh the file list.
    Uploaded,
    /// A download finished.
    Downloaded,
    /// The upload's name is taken: ask the user.
    AskConflict,
    /// The upload's name is not allowed (why): ask for another.
    AskName(String),
    /// A transfer that was reconnecting moves bytes again: the server
    /// answers again.
    Reconnected,
}

/// The sum over the running transfers, for the panel's total line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Totals {
    /// How many are running or queued.
    pub running: usize,
    /// Bytes moved by them.
    pub done: u64,
    /// Bytes they move in all (of those whose size is known).
    pub total: u64,
    /// Their summed recent rate, bytes per second.
    pub speed: f64,
}

impl Totals {
    /// The total bar's fill.
    pub fn fraction(&self) -> f32 {
        if self.total == 0 {
            0.0
        } else {
            ((self.done as f64 / self.total as f64) as f32).min(0.999)
        }
    }
}

impl Transfers {
    fn add(&mut self, direction: Direction, name: &str, local: PathBuf, batch: u64) -> TransferId {
        self.next_id += 1;
        let id = self.next_id;
        self.rows.push(Transfer {
            id,
            direction,
            name: name.to_owned(),
            local,
            folder: false,
            files: (0, 0),
            version: None,
            policy: ConflictPolicy::Fail,
            batch,
            state: TransferState::Queued,
            done: 0,
            total: 0,
            speed: 0.0,
            verified: false,
            note: None,
            renamed: None,
            mirror_addrs: Vec::new(),
            mirrors: Vec::new(),
            stop: Arc::new(StopFlag::default()),
            created: Instant::now(),
            finished: None,
        });
        id
    }

    /// A new upload row, queued.
    pub fn add_upload(&mut self, local: PathBuf, name: &str, batch: u64) -> TransferId {
        self.add(Direction::Upload, name, local, batch)
    }

    /// A new row that moves the whole folder `local` into the server folder
    /// `name` (upload) or the server folder `name` into the local folder
    /// `local` (download), queued.
    pub fn add_folder(
        &mut self,
        direction: Direction,
        name: &str,
        local: PathBuf,
        batch: u64,
    ) -> TransferId {
        let id = self.add(direction, name, local, batch);
        if let Some(row) = self.get_mut(id) {
            row.folder = true;
        }
        id
    }

    /// A new download row, queued.
    pub fn add_download(&mut self, name: &str, version: Option<u32>, dest: PathBuf) -> TransferId {
        self.add_mirrored_download(name, version, dest, Vec::new())
    }

    /// A new download row that also fetches from `mirrors`, queued.
    pub fn add_mirrored_download(
        &mut self,
        name: &str,
        version: Option<u32>,
        dest: PathBuf,
        mirrors: Vec<String>,
    ) -> TransferId {
        let id = self.add(Direction::Download, name, dest, 0);
        if let Some(row) = self.get_mut(id) {
            row.version = version;
            row.mirror_addrs = mirrors;
        }
        id
    }

    /// The row with that id.
    pub fn get(&self, id: TransferId) -> Option<&Transfer> {
        self.rows.iter().find(|t| t.id == id)
    }

    /// The row with that id, to change.
    pub fn get_mut(&mut self, id: TransferId) -> Option<&mut Transfer> {
        self.rows.iter_mut().find(|t| t.id == id)
    }

    /// Puts a row back to "queued" for a (re)start with a fresh stop flag,
    /// which it returns for the worker. The bytes done stay on screen: a
    /// resumed download continues from them.
    pub fn restart(&mut self, id: TransferId) -> Option<Arc<StopFlag>> {
        let row = self.get_mut(id)?;
        row.state = TransferState::Queued;
        row.speed = 0.0;
        row.verified = false;
        row.note = None;
        row.finished = None;
        row.stop = Arc::new(StopFlag::default());
        Some(row.stop.clone())
    }

    /// Marks a row finished without a worker (refused name, skipped).
    pub fn finish(&mut self, id: TransferId, state: TransferState) {
        if let Some(row) = self.get_mut(id) {
            row.state = state;
            row.speed = 0.0;
            row.finished = Some(Instant::now());
        }
    }

    /// Asks a transfer to stop for good. A row without a worker (waiting
    /// for the user's choice, or paused) is cancelled at once; the caller
    /// throws away a paused download's partial file.
    pub fn cancel(&mut self, id: TransferId) {
        if let Some(row) = self.get_mut(id) {
            row.stop.set(Stop::Cancel);
            if matches!(
                row.state,
                TransferState::WaitingForChoice | TransferState::Paused
            ) {
                self.finish(id, TransferState::Cancelled);
            }
        }
    }

    /// Asks a running transfer to stop, keeping what arrived: a download
    /// keeps its partial file, a paused upload leaves its bytes on the
    /// server (for the resume window) and its id in the state folder.
    pub fn pause(&mut self, id: TransferId) {
        if let Some(row) = self.get_mut(id)
            && row.state.is_active()
        {
            row.stop.set(Stop::Pause);
        }
    }

    /// Stops every transfer (log out, quit), keeping what arrived, so the
    /// same transfer started later continues where it stopped.
    pub fn stop_all(&mut self) {
        for row in &self.rows {
            if row.state.is_active() {
                row.stop.set(Stop::Pause);
            }
        }
    }

    /// Removes a finished row.
    pub fn remove(&mut self, id: TransferId) {
        self.rows.retain(|t| t.id != id || !t.state.is_finished());
    }

    /// Removes every finished row.
    pub fn clear_finished(&mut self) {
        self.rows.retain(|t| !t.state.is_finished());
    }

    /// How many are queued or running.
    pub fn active(&self) -> usize {
        self.rows.iter().filter(|t| t.state.is_active()).count()
    }

    /// The sum over the running and queued transfers; `None` when none is.
    pub fn totals(&self) -> Option<Totals> {
        let running: Vec<_> = self.rows.iter().filter(|t| t.state.is_active()).collect();
        if running.is_empty() {
            return None;
        }
        Some(Totals {
            running: running.len(),
            done: running.iter().map(|t| t.done.min(t.total)).sum(),
            total: running.iter().map(|t| t.total).sum(),
            speed: running
                .iter()
                .filter(|t| t.state == TransferState::Transferring)
                .map(|t| t.speed)
                .sum(),
        })
    }

    /// Applies a worker's report.
    pub fn apply(&mut self, id: TransferId, update: TransferUpdate) -> Followup {
        let Some(row) = self.get_mut(id) else {
            return Followup::None;
        };
        if row.state.is_finished() {
            // A late report from a worker the user already gave up on.
            return Followup::None;
        }
        match update {
            TransferUpdate::Connecting => row.state = TransferState::Connecting,
            TransferUpdate::Progress {
                stage,
                done,
                total,
                speed,
            } => {
                let was_reconnecting = matches!(row.state, TransferState::Reconnecting { .. });
                row.done = done;
                row.total = total;
                row.speed = speed;
                row.state = match stage {
                    Stage::Transferring => TransferState::Transferring,
                    // No speed while there is no connection.
                    Stage::Reconnecting { retry, of } => {
                        row.speed = 0.0;
                        TransferState::Reconnecting { retry, of }
                    }
                    // "Done" is only shown once the final report arrives
                    // with what was stored or saved.
                    Stage::Verifying | Stage::Done => TransferState::Verifying,
                };
                if was_reconnecting && !matches!(row.state, TransferState::Reconnecting { .. }) {
                    return Followup::Reconnected;
                }
            }
            TransferUpdate::Uploaded(report) => {
                let stored = report.stored;
                row.done = stored.size;
                row.total = stored.size;
                row.verified = true;
                row.version = Some(stored.version);
                let mut note = if stored.name == row.name {
                    format!("stored as version {}, MD5 {}", stored.version, stored.md5)
                } else {
                    format!("stored as {} (MD5 {})", stored.name, stored.md5)
                };
                if report.resumed_from > 0 {
                    note.push_str(&format!("; resumed at {}", human_size(report.resumed_from)));
                }
                row.note = Some(note);
                row.name = stored.name;
                self.finish(id, TransferState::Done);
                return Followup::Uploaded;
            }
            TransferUpdate::Downloaded { report, dest } => {
                row.done = report.size;
                row.total = report.size;
                row.verified = true;
                row.version = Some(report.version);
                let mut note = renamed_prefix(&row.renamed);
                note.push_str(&format!("saved to {} (MD5 {})", dest.display(), report.md5));
                if report.resumed_from > 0 {
                    note.push_str(&format!("; resumed at {}", human_size(report.resumed_from)));
                }
                if !report.repaired_chunks.is_empty() {
                    let chunks = report.repaired_chunks.len();
                    let chunks = counted(chunks, "damaged chunk", "damaged chunks");
                    note.push_str(&format!("; {chunks} fetched again"));
                }
                if let Some(why) = report.restarted {
                    note.push_str(&format!("; {why}"));
                }
                row.note = Some(note);
                self.finish(id, TransferState::Done);
                return Followup::Downloaded;
            }
            TransferUpdate::Files { done, total } => row.files = (done, total),
            TransferUpdate::FolderDone(outcome) => {
                row.verified = true;
                row.done = row.total;
                row.files.0 = row.files.1;
                let direction = row.direction;
                row.note = Some(folder::note(direction, &row.local, &outcome));
                self.finish(id, folder::state(&outcome));
                return match direction {
                    Direction::Upload => Followup::Uploaded,
                    Direction::Download => Followup::Downloaded,
                };
            }
            TransferUpdate::Mirrors(statuses) => row.mirrors = statuses,
            TransferUpdate::MirroredDownload { report, dest } => {
                row.done = report.size;
                row.total = report.size;
                row.verified = true;
                let used = report
                    .bytes_per_mirror
                    .iter()
                    .filter(|(_, b)| *b > 0)
                    .count();
                let mut note = renamed_prefix(&row.renamed);
                note.push_str(&format!(
                    "saved to {} (MD5 {}) from {used} server{}",
                    dest.display(),
                    report.md5,
                    if used == 1 { "" } else { "s" }
                ));
                if !report.excluded.is_empty() {
                    let names: Vec<_> = report.excluded.iter().map(|(a, _)| a.as_str()).collect();
                    note.push_str(&format!("; left out: {}", names.join(", ")));
                }
                if !report.repaired_chunks.is_empty() {
                    let chunks = report.repaired_chunks.len();
                    let chunks = counted(chunks, "bad chunk", "bad chunks");
                    note.push_str(&format!("; {chunks} fetched again"));
                }
                row.note = Some(note);
                self.finish(id, TransferState::Done);
                return Followup::Downloaded;
            }
            TransferUpdate::NameTaken => {
                row.state = TransferState::WaitingForChoice;
                row.speed = 0.0;
                return Followup::AskConflict;
            }
            TransferUpdate::NameRefused(reason) => {
                row.state = TransferState::WaitingForChoice;
                row.speed = 0.0;
                return Followup::AskName(reason);
            }
            TransferUpdate::Failed(reason) => self.finish(id, TransferState::Failed(reason)),
            TransferUpdate::Cancelled => self.finish(id, TransferState::Cancelled),
            TransferUpdate::Paused => {
                row.state = TransferState::Paused;
                row.speed = 0.0;
            }
        }
        Followup::None
    }
}

/// "“CON” is not a valid file name on Windows: " before a renamed
/// download's note, so the reason is seen first.
fn renamed_prefix(renamed: &Option<String>) -> String {
    renamed
        .as_ref()
        .map(|why| format!("{why}: "))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_client::Stored;
    use ferry_client::transfer::UploadReport;
    use ferry_proto::hash::md5_bytes;

    fn progress(stage: Stage, done: u64, total: u64) -> TransferUpdate {
        TransferUpdate::Progress {
            stage,
            done,
            total,
            speed: 10.0,
        }
    }

    #[test]
    fn full_only_after_the_md5_check() {
        let mut t = Transfers::default();
        let id = t.add_upload("/tmp/a.txt".into(), "a.txt", 1);
        assert_eq!(t.get(id).unwrap().fraction(), 0.0);
        t.apply(id, progress(Stage::Transferring, 50, 100));
        assert_eq!(t.get(id).unwrap().fraction(), 0.5);
        t.apply(id, progress(Stage::Verifying, 100, 100));
        let row = t.get(id).unwrap();
        assert_eq!(row.state, TransferState::Verifying);
        assert!(row.fraction() < 1.0);
        t.apply(id, progress(Stage::Done, 100, 100));
        assert!(t.get(id).unwrap().fraction() < 1.0, "not before the result");
        let stored = Stored {
            name: "a_v2.txt".into(),
            version: 1,
            size: 100,
            md5: md5_bytes(b"x"),
        };
        let report = UploadReport {
            stored,
            resumed_from: 0,
            retries: 0,
        };
        assert_eq!(
            t.apply(id, TransferUpdate::Uploaded(report)),
            Followup::Uploaded
        );
        let row = t.get(id).unwrap();
        assert_eq!(row.state, TransferState::Done);
        assert_eq!(row.fraction(), 1.0);
        assert_eq!(row.name, "a_v2.txt");
        assert!(row.note.as_deref().unwrap().contains("stored as a_v2.txt"));
    }

    #[test]
    fn a_renamed_download_says_why_while_running_and_when_done() {
        use ferry_client::transfer::DownloadReport;
        let mut t = Transfers::default();
        let id = t.add_download("CON", None, "/tmp/dl/_CON".into());
        t.get_mut(id).unwrap().renamed =
            Some("“CON” is not a valid file name on Windows".to_owned());
        t.apply(id, progress(Stage::Transferring, 5, 10));
        assert_eq!(
            t.get(id).unwrap().detail().as_deref(),
            Some("“CON” is not a valid file name on Windows: saving as “_CON”")
        );
        t.restart(id);
        assert!(t.get(id).unwrap().renamed.is_some(), "a retry keeps it");
        let report = DownloadReport {
            version: 1,
            size: 10,
            md5: md5_bytes(b"x"),
            ..DownloadReport::default()
        };
        let dest = PathBuf::from("/tmp/dl/_CON");
        t.apply(id, TransferUpdate::Downloaded { report, dest });
        let note = t.get(id).unwrap().detail().unwrap();
        assert!(
            note.starts_with(
                "“CON” is not a valid file name on Windows: saved to /tmp/dl/_CON (MD5 "
            ),
            "{note}"
        );

        let plain = t.add_download("a.txt", None, "/tmp/dl/a.txt".into());
        t.apply(plain, progress(Stage::Transferring, 5, 10));
        assert_eq!(t.get(plain).unwrap().detail(), None);
    }

    #[test]
    fn cancel_and_late_reports() {
        let mut t = Transfers::default();
        let id = t.add_download("a.txt", Some(2), "/tmp/a.txt".into());
        t.apply(id, TransferUpdate::Connecting);
        t.cancel(id);
        assert_eq!(t.get(id).unwrap().stop.get(), Stop::Cancel);
        t.apply(id, TransferUpdate::Cancelled);
        t.apply(id, progress(Stage::Transferring, 5, 10));
        assert_eq!(t.get(id).unwrap().state, TransferState::Cancelled);
        assert_eq!(t.active(), 0);

        let waiting = t.add_upload("/tmp/b".into(), "b", 2);
        assert_eq!(
            t.apply(waiting, TransferUpdate::NameTaken),
            Followup::AskConflict
        );
        t.cancel(waiting);
        assert_eq!(t.get(waiting).unwrap().state, TransferState::Cancelled);

        let fresh = t.restart(waiting).unwrap();
        assert_eq!(fresh.get(), Stop::Run);
        assert_eq!(t.get(waiting).unwrap().state, TransferState::Queued);
        t.apply(waiting, TransferUpdate::Failed("no space".into()));
        t.clear_finished();
        assert!(t.rows.is_empty());
    }

    #[test]
    fn reconnecting_shows_the_attempt_and_no_speed_then_says_the_server_is_back() {
        let mut t = Transfers::default();
        let id = t.add_download("a", None, "/tmp/a".into());
        t.apply(id, progress(Stage::Transferring, 40, 100));
        let lost = progress(Stage::Reconnecting { retry: 2, of: 5 }, 40, 100);
        assert_eq!(t.apply(id, lost), Followup::None);
        let row = t.get(id).unwrap();
        assert_eq!(row.state.text(), "reconnecting (attempt 2 of 5)");
        assert_eq!(row.speed, 0.0);
        assert!(row.state.is_active() && row.can_cancel());
        assert_eq!(row.fraction(), 0.4, "what arrived stays on screen");
        assert_eq!(
            t.apply(id, progress(Stage::Transferring, 50, 100)),
            Followup::Reconnected
        );
        assert_eq!(
            t.apply(id, progress(Stage::Transferring, 60, 100)),
            Followup::None
        );
    }

    #[test]
    fn totals_sum_the_running_transfers() {
        let mut t = Transfers::default();
        assert_eq!(t.totals(), None);
        let a = t.add_download("a", None, "/tmp/a".into());
        let b = t.add_upload("/tmp/b".into(), "b", 1);
        let c = t.add_download("c", None, "/tmp/c".into());
        t.apply(a, progress(Stage::Transferring, 30, 100));
        t.apply(b, progress(Stage::Transferring, 10, 300));
        t.apply(c, TransferUpdate::Failed("gone".into()));
        let totals = t.totals().unwrap();
        assert_eq!((totals.running, totals.done, totals.total), (2, 40, 400));
        assert_eq!(totals.speed, 20.0);
        assert_eq!(totals.fraction(), 0.1);
        t.apply(
            a,
            progress(Stage::Reconnecting { retry: 1, of: 5 }, 30, 100),
        );
        assert_eq!(
            t.totals().unwrap().speed,
            10.0,
            "no speed while reconnecting"
        );
    }

    #[test]
    fn uploads_and_downloads_pause() {
        let mut t = Transfers::default();
        let up = t.add_upload("/tmp/a".into(), "a", 1);
        let down = t.add_download("a", None, "/tmp/a".into());
        t.pause(up);
        t.pause(down);
        assert_eq!(t.get(up).unwrap().stop.get(), Stop::Pause);
        assert_eq!(t.get(down).unwrap().stop.get(), Stop::Pause);
        t.apply(down, progress(Stage::Transferring, 5, 10));
        t.apply(down, TransferUpdate::Paused);
        let row = t.get(down).unwrap();
        assert_eq!(row.state, TransferState::Paused);
        assert!(row.can_cancel() && !row.state.is_finished());
        assert_eq!(row.fraction(), 0.5, "progress stays on screen");
        t.restart(down);
        assert_eq!(t.get(down).unwrap().fraction(), 0.5);
    }
}
