//! One row of the transfers panel: which way it goes, where it stands
//! ([`TransferState`]), and what the panel shows of it (the bar's fill,
//! bytes, the line under the name, whether it can be cancelled).
//!
//! It does not own the list of rows or how worker reports move a row
//! along: that is the parent module, [`Transfers`](super::Transfers).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use ferry_client::mirror::MirrorStatus;
use ferry_proto::protocol::ConflictPolicy;

use crate::format::human_size;
use crate::worker::{StopFlag, TransferId};

/// Which way the bytes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Local file to server.
    Upload,
    /// Server to local file.
    Download,
}

/// Where a transfer stands.
#[derive(Clone, Debug, PartialEq)]
pub enum TransferState {
    /// The name exists on the server; the conflict dialog is asking.
    WaitingForChoice,
    /// Waiting for a free transfer slot.
    Queued,
    /// Opening its own connection and logging in.
    Connecting,
    /// Hashing what is already there before resuming.
    Hashing,
    /// Bytes are moving.
    Transferring,
    /// The connection was lost; the library waits, then reconnects for
    /// retry `retry` of `of`.
    Reconnecting {
        /// Which retry is coming, from 1.
        retry: u32,
        /// How many there are in all.
        of: u32,
    },
    /// All bytes moved; the MD5 check is running.
    Verifying,
    /// Stopped by the user with the partial file kept, to be resumed.
    Paused,
    /// Finished, MD5 checked.
    Done,
    /// Failed; the sentence says why.
    Failed(String),
    /// Cancelled by the user.
    Cancelled,
    /// Not uploaded: the user chose "Skip" in the conflict dialog.
    Skipped,
}

impl TransferState {
    /// The word shown in the state column.
    pub fn label(&self) -> &'static str {
        match self {
            TransferState::WaitingForChoice => "waiting for your choice",
            TransferState::Queued => "queued",
            TransferState::Connecting => "connecting",
            TransferState::Hashing => "hashing",
            TransferState::Transferring => "transferring",
            TransferState::Reconnecting { .. } => "reconnecting",
            TransferState::Verifying => "verifying MD5",
            TransferState::Paused => "paused",
            TransferState::Done => "done",
            TransferState::Failed(_) => "failed",
            TransferState::Cancelled => "cancelled",
            TransferState::Skipped => "skipped",
        }
    }

    /// What the state column says: the label, with the attempt while
    /// reconnecting.
    pub fn text(&self) -> String {
        match self {
            TransferState::Reconnecting { retry, of } => {
                format!("reconnecting (attempt {retry} of {of})")
            }
            other => other.label().to_owned(),
        }
    }

    /// Whether the transfer has stopped for good (it can only be retried).
    pub fn is_finished(&self) -> bool {
        matches!(
            self,
            TransferState::Done
                | TransferState::Failed(_)
                | TransferState::Cancelled
                | TransferState::Skipped
        )
    }

    /// Whether a worker thread is (or will shortly be) working on it.
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            TransferState::Queued
                | TransferState::Connecting
                | TransferState::Hashing
                | TransferState::Transferring
                | TransferState::Reconnecting { .. }
                | TransferState::Verifying
        )
    }
}

/// One row of the transfers panel.
#[derive(Clone, Debug)]
pub struct Transfer {
    /// Its id, shared with the worker.
    pub id: TransferId,
    /// Upload or download.
    pub direction: Direction,
    /// The name on the server.
    pub name: String,
    /// The local file: the source of an upload, the target of a download.
    pub local: PathBuf,
    /// Whether it moves a whole folder (`name` and `local` are folders).
    pub folder: bool,
    /// For a folder: files finished and in all (0 of 0 until planned).
    pub files: (usize, usize),
    /// The version downloaded (`None`: current); for uploads, the version
    /// stored.
    pub version: Option<u32>,
    /// The conflict policy an upload runs with; for a folder download,
    /// `Overwrite` replaces local files that differ (otherwise they stay).
    pub policy: ConflictPolicy,
    /// The uploads queued together (one dialog pick or one drop).
    pub batch: u64,
    /// Where it stands.
    pub state: TransferState,
    /// Bytes moved so far.
    pub done: u64,
    /// Bytes in all (0 until known).
    pub total: u64,
    /// Recent rate in bytes per second.
    pub speed: f64,
    /// Whether the MD5 check passed.
    pub verified: bool,
    /// A note for finished rows: "stored as …", "saved to …".
    pub note: Option<String>,
    /// For a download saved under another name than the server's because
    /// this system cannot save that one: why (“CON” is not a valid file
    /// name on Windows).
    pub renamed: Option<String>,
    /// The other servers a multi-server download also fetches from.
    pub mirror_addrs: Vec<String>,
    /// Per-mirror progress of a multi-server download (empty otherwise).
    pub mirrors: Vec<MirrorStatus>,
    /// Set to stop or pause the worker at its next progress report.
    pub stop: Arc<StopFlag>,
    /// When the row was created.
    pub created: Instant,
    /// When it finished.
    pub finished: Option<Instant>,
}

impl Transfer {
    /// The bar's fill: 1.0 only once the MD5 check passed.
    pub fn fraction(&self) -> f32 {
        if self.state == TransferState::Done && self.verified {
            return 1.0;
        }
        if self.total == 0 {
            return 0.0;
        }
        ((self.done as f64 / self.total as f64) as f32).min(0.999)
    }

    /// "12.0 MiB / 50.0 MiB", or just the done part while the total is
    /// unknown; for a folder, the files too ("3 / 40 files · …").
    pub fn bytes_text(&self) -> String {
        let files = match self.files {
            (_, 0) => String::new(),
            (done, total) => format!("{done} / {total} files · "),
        };
        if self.total == 0 && self.done == 0 {
            return files.trim_end_matches(" · ").to_owned();
        }
        format!(
            "{files}{} / {}",
            human_size(self.done),
            human_size(self.total)
        )
    }

    /// What a narrow bar says: for a folder only its files
    /// ("3 / 40 files"), otherwise [`Transfer::bytes_text`].
    pub fn short_bytes_text(&self) -> String {
        match self.files {
            (done, total) if total > 0 => format!("{done} / {total} files"),
            _ => self.bytes_text(),
        }
    }

    /// The line under the name, if any: what happened, or while a renamed
    /// download runs, the name it is saved under and why.
    pub fn detail(&self) -> Option<String> {
        if let Some(note) = &self.note {
            return Some(note.clone());
        }
        let why = self
            .renamed
            .as_ref()
            .filter(|_| !self.state.is_finished())?;
        let local = self.local.file_name()?.to_string_lossy();
        Some(format!("{why}: saving as “{local}”"))
    }

    /// Whether the row offers Cancel.
    pub fn can_cancel(&self) -> bool {
        self.state.is_active()
            || matches!(
                self.state,
                TransferState::WaitingForChoice | TransferState::Paused
            )
    }
}
