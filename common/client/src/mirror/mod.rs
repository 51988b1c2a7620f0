//! Downloading one file from several servers at once.
//!
//! Mirrors are untrusted. Every mirror is asked for the file's size and MD5
//! in parallel; only those that agree with the strict majority of the
//! mirrors that answered are used, and the others are named. The file is cut
//! into pieces handed out from one queue to one worker thread per mirror, so a
//! fast mirror does more; a mirror that fails or stalls gives its piece back
//! to the queue, and when the queue is empty idle workers also fetch pieces
//! still in flight elsewhere, so one slow mirror cannot hold the download up.
//! Pieces land at their offsets in `NAME.part`; the sidecar records which
//! are done, so an interrupted download resumes like a single-server one.
//!
//! The whole file is checked against the majority MD5 before it is renamed
//! into place. On a mismatch, per-chunk MD5s (per chunk, the value most
//! agreeing mirrors give) find the bad chunks; the mirror that served them is
//! excluded and only those chunks are fetched again.//!
//! The steps live in submodules: `vote` (who agrees), `fetch` (the workers
//! and the in-order hash), `repair` (bad chunks after a failed check). This
//! module owns the public types, the sidecar and the order of the steps.

mod fetch;
mod repair;
mod vote;

use std::collections::{HashMap, HashSet};
use std::fs::{self, OpenOptions};
use std::io;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use log::warn;
use serde::{Deserialize, Serialize};

use crate::partial::{part_path, sidecar_path, with_suffix};
use crate::transfer::Connector;
use crate::{ClientError, Progress, Stage};
use ferry_proto::hash::Md5Digest;
use ferry_proto::names::escaped;
use ferry_proto::protocol::CHUNK_SIZE;
use fetch::{Event, InOrder, Job, piece_len};
use repair::Repair;
use vote::{Vote, vote};

/// The mirror range: how many bytes of the file one mirror is asked for at
/// a time (the last range may be shorter). A damaged chunk is blamed on the
/// mirror that served its range.
pub const MIRROR_RANGE_BYTES: u64 = 4 * CHUNK_SIZE;

/// Choices for [`download`].
#[derive(Clone, Debug)]
pub struct MirrorOptions {
    /// The version to fetch (mirrors must number versions alike); `None`
    /// for each mirror's current one.
    pub version: Option<u32>,
    /// Ignore a partial download and start from zero.
    pub restart: bool,
    /// A mirror whose read or write stalls this long counts as failed.
    pub stall_timeout: Duration,
}

impl Default for MirrorOptions {
    fn default() -> Self {
        MirrorOptions {
            version: None,
            restart: false,
            stall_timeout: Duration::from_secs(15),
        }
    }
}

/// How one mirror is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MirrorStatus {
    /// Its address.
    pub addr: String,
    /// Bytes it delivered into the file.
    pub bytes: u64,
    /// Bytes per second over its last piece.
    pub speed: u64,
    /// Why it is no longer used, if it is not.
    pub dropped: Option<String>,
}

/// Progress of a multi-mirror download.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MirrorProgress {
    /// Bytes of the file in place.
    pub done: u64,
    /// The file's size.
    pub total: u64,
    /// What is happening; `Done` only once the MD5 check passed.
    pub stage: Stage,
    /// One entry per mirror, in the order given.
    pub mirrors: Vec<MirrorStatus>,
}

impl MirrorProgress {
    /// The same as a plain progress report, for one bar over all mirrors.
    pub fn overall(&self) -> Progress {
        Progress {
            stage: self.stage,
            done: self.done,
            total: self.total,
        }
    }
}

/// Where multi-mirror progress goes: return `Break` to stop (the partial
/// download is kept for a later call).
pub type MirrorProgressFn<'a> = &'a mut dyn FnMut(&MirrorProgress) -> ControlFlow<()>;

/// What a finished multi-mirror download did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MirrorReport {
    /// Size of the file.
    pub size: u64,
    /// Its MD5, verified.
    pub md5: Md5Digest,
    /// Bytes already in place when this call began.
    pub resumed_from: u64,
    /// Mirrors not used or dropped, with the reason.
    pub excluded: Vec<(String, String)>,
    /// Bytes each mirror delivered, in the order given.
    pub bytes_per_mirror: Vec<(String, u64)>,
    /// Chunks that failed verification and were fetched again.
    pub repaired_chunks: Vec<u64>,
}

/// The sidecar of a partial multi-mirror download.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
struct MirrorState {
    name: String,
    size: u64,
    md5: Md5Digest,
    piece: u64,
    done: Vec<u64>,
}

/// Downloads `name` from several mirrors into `dest` (see the module docs).
pub fn download(
    mirrors: &[Connector],
    name: &str,
    dest: &Path,
    options: &MirrorOptions,
    progress: MirrorProgressFn<'_>,
) -> Result<MirrorReport, ClientError> {
    if mirrors.is_empty() {
        return Err(ClientError::Protocol("no mirror was given".into()));
    }
    let mirrors: Vec<Connector> = mirrors
        .iter()
        .map(|m| m.clone().with_timeout(options.stall_timeout))
        .collect();

    // 1. Ask everyone, keep the majority.
    let Vote {
        agreed,
        usable,
        mut clients,
        mut excluded,
    } = vote(&mirrors, name, options.version)?;

    // 2. Resume what a sidecar says is done, if it is the same file.
    let part = part_path(dest);
    let side = sidecar_path(dest);
    let pieces = agreed.size.div_ceil(MIRROR_RANGE_BYTES);
    let mut state = (!options.restart)
        .then(|| fs::read(&side).ok())
        .flatten()
        .and_then(|bytes| serde_json::from_slice::<MirrorState>(&bytes).ok())
        .filter(|s| {
            s.name == name
                && s.size == agreed.size
                && s.md5 == agreed.md5
                && s.piece == MIRROR_RANGE_BYTES
        })
        .unwrap_or(MirrorState {
            name: name.to_owned(),
            size: agreed.size,
            md5: agreed.md5,
            piece: MIRROR_RANGE_BYTES,
            done: Vec::new(),
        });
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(state.done.is_empty())
        .open(&part)
        .map_err(|e| ClientError::local("create", &part, e))?;
    file.set_len(agreed.size)
        .map_err(|e| ClientError::local("write", &part, e))?;
    let done: HashSet<u64> = state.done.iter().copied().filter(|p| *p < pieces).collect();
    let resumed_from: u64 = done.iter().map(|p| piece_len(*p, agreed.size)).sum();
    save(&side, &state)?;

    // 3. Fetch in parallel.
    let mut statuses: Vec<MirrorStatus> = mirrors
        .iter()
        .map(|m| MirrorStatus {
            addr: m.addr.clone(),
            bytes: 0,
            speed: 0,
            dropped: excluded
                .iter()
                .find(|(a, _)| *a == m.addr)
                .map(|(_, why)| why.clone()),
        })
        .collect();
    let job = Arc::new(Job {
        name: name.to_owned(),
        size: agreed.size,
        file,
        queue: Mutex::new((0..pieces).filter(|p| !done.contains(p)).collect()),
        in_flight: Mutex::new(HashMap::new()),
        done: Mutex::new(done.iter().map(|p| (*p, usize::MAX)).collect()),
        stop: AtomicBool::new(false),
    });
    let (events, inbox) = mpsc::channel();
    for &(index, version) in &usable {
        let job = Arc::clone(&job);
        let client = clients[index]
            .take()
            .expect("one connection per usable mirror");
        let events = events.clone();
        thread::Builder::new()
            .name(format!("mirror-{}", mirrors[index].addr))
            .spawn(move || job.work(index, client, version, &events))
            .map_err(ClientError::Io)?;
    }
    drop(events);

    let mut in_place = resumed_from;
    let mut last_save = Instant::now();
    // Pieces are hashed in order as soon as they are in place, while the
    // others still arrive, so the final check costs almost nothing.
    let mut check = InOrder::new(agreed.size);
    let mut live = usable.len();
    // Every piece is reported exactly once, by the worker that placed it.
    let mut missing = pieces as usize - done.len();
    while live > 0 && missing > 0 {
        let event = match inbox.recv_timeout(Duration::from_millis(200)) {
            Ok(e) => e,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        match event {
            Event::Piece {
                mirror,
                piece,
                bytes,
                speed,
            } => {
                missing -= 1;
                in_place += bytes;
                statuses[mirror].bytes += bytes;
                statuses[mirror].speed = speed;
                state.done.push(piece);
                check
                    .advance(&job)
                    .map_err(|e| ClientError::local("read", &part, e))?;
                if last_save.elapsed() > Duration::from_millis(500) {
                    save(&side, &state)?;
                    last_save = Instant::now();
                }
            }
            Event::Dropped { mirror, why } => {
                warn!(
                    "mirror {} {why} — its pieces go to the others",
                    mirrors[mirror].addr
                );
                statuses[mirror].dropped = Some(why.clone());
                excluded.push((mirrors[mirror].addr.clone(), why));
                live -= 1;
            }
        }
        let report = MirrorProgress {
            done: in_place,
            total: agreed.size,
            stage: Stage::Transferring,
            mirrors: statuses.clone(),
        };
        if progress(&report).is_break() {
            job.stop.store(true, Ordering::SeqCst);
            save(&side, &state)?;
            return Err(ClientError::Cancelled);
        }
    }
    job.stop.store(true, Ordering::SeqCst);
    save(&side, &state)?;
    if missing > 0 {
        return Err(ClientError::Io(io::Error::other(format!(
            "every mirror failed before {} was complete; run the download again to resume",
            escaped(name)
        ))));
    }

    // 4. Verify; repair from the majority if needed.
    let _ = progress(&MirrorProgress {
        done: agreed.size,
        total: agreed.size,
        stage: Stage::Verifying,
        mirrors: statuses.clone(),
    });
    let served_by = job.served_by();
    // Pieces already in place from an earlier run (and any whose event came
    // last) are hashed now.
    check
        .advance(&job)
        .map_err(|e| ClientError::local("read", &part, e))?;
    let mut actual = check.finish();
    let mut repaired = Vec::new();
    if actual != agreed.md5 {
        let repair = Repair {
            mirrors: &mirrors,
            good: &usable,
            name,
            size: agreed.size,
            md5: agreed.md5,
            file: &job.file,
            part: &part,
            served_by: &served_by,
        };
        repaired = repair.run(&mut statuses, &mut excluded)?;
        actual = agreed.md5;
    }
    // Not fsynced: the rename only ever exposes a verified file, and a copy
    // lost to a power cut can be fetched again (as a single download does).
    fs::rename(&part, dest).map_err(|e| ClientError::local("save", dest, e))?;
    let _ = fs::remove_file(&side);
    let _ = progress(&MirrorProgress {
        done: agreed.size,
        total: agreed.size,
        stage: Stage::Done,
        mirrors: statuses.clone(),
    });
    Ok(MirrorReport {
        size: agreed.size,
        md5: actual,
        resumed_from,
        excluded,
        bytes_per_mirror: statuses.iter().map(|s| (s.addr.clone(), s.bytes)).collect(),
        repaired_chunks: repaired,
    })
}

/// Writes the sidecar atomically: a new file renamed over the old.
fn save(side: &Path, state: &MirrorState) -> Result<(), ClientError> {
    let json = serde_json::to_vec(state)
        .map_err(|e| ClientError::local("write", side, io::Error::other(e)))?;
    let tmp = with_suffix(side, ".new");
    fs::write(&tmp, json).map_err(|e| ClientError::local("write", &tmp, e))?;
    fs::rename(&tmp, side).map_err(|e| ClientError::local("write", side, e))
}
