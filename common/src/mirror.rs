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
//! excluded and only those chunks are fetched again.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use log::{info, warn};
use serde::{Deserialize, Serialize};

use crate::client::{Client, ClientError, Stage};
use crate::hash::{Hasher, Md5Digest, md5_bytes};
use crate::names::escaped;
use crate::protocol::CHUNK_SIZE;
use crate::transfer::{Connector, fetch_range, part_path, sidecar_path};

/// The unit of work handed to a mirror.
pub const PIECE: u64 = 4 * CHUNK_SIZE;

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
    pub fn overall(&self) -> crate::client::Progress {
        crate::client::Progress {
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

/// What a mirror said about the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Claim {
    size: u64,
    md5: Md5Digest,
}

/// Picks the claim that a strict majority of the answers make.
fn majority(answers: &[Option<Claim>]) -> Option<Claim> {
    let given: Vec<Claim> = answers.iter().flatten().copied().collect();
    let mut counts: HashMap<Claim, usize> = HashMap::new();
    for c in &given {
        *counts.entry(*c).or_default() += 1;
    }
    counts
        .into_iter()
        .find(|(_, n)| *n * 2 > given.len())
        .map(|(c, _)| c)
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
    let answers = ask_all(&mirrors, name, options.version);
    let claims: Vec<Option<Claim>> = answers
        .iter()
        .map(|a| a.as_ref().ok().map(|(c, _, _)| *c))
        .collect();
    let Some(agreed) = majority(&claims) else {
        let said: Vec<String> = mirrors
            .iter()
            .zip(&answers)
            .map(|(m, a)| match a {
                Ok((c, _, _)) => format!("{} has {} bytes with MD5 {}", m.addr, c.size, c.md5),
                Err(e) => format!("{}: {e}", m.addr),
            })
            .collect();
        return Err(ClientError::NoMajority(said.join("; ")));
    };
    let mut excluded = Vec::new();
    let mut usable = Vec::new();
    let mut clients: Vec<Option<Client>> = Vec::new();
    for (i, (m, a)) in mirrors.iter().zip(answers).enumerate() {
        match a {
            Ok((c, version, client)) if c == agreed => {
                usable.push((i, version));
                clients.push(Some(client));
            }
            Ok((c, _, _)) => {
                let why = format!("disagrees (md5 {}, {} bytes)", c.md5, c.size);
                warn!("mirror {} {why} — excluded", m.addr);
                excluded.push((m.addr.clone(), why));
                clients.push(None);
            }
            Err(e) => {
                let why = format!("unreachable ({e})");
                warn!("mirror {} {why} — excluded", m.addr);
                excluded.push((m.addr.clone(), why));
                clients.push(None);
            }
        }
    }
    info!(
        "mirrored download of {}: {} bytes, md5 {}, from {} of {} mirrors",
        escaped(name),
        agreed.size,
        agreed.md5,
        usable.len(),
        mirrors.len()
    );

    // 2. Resume what a sidecar says is done, if it is the same file.
    let part = part_path(dest);
    let side = sidecar_path(dest);
    let pieces = agreed.size.div_ceil(PIECE);
    let mut state = (!options.restart)
        .then(|| fs::read(&side).ok())
        .flatten()
        .and_then(|bytes| serde_json::from_slice::<MirrorState>(&bytes).ok())
        .filter(|s| {
            s.name == name && s.size == agreed.size && s.md5 == agreed.md5 && s.piece == PIECE
        })
        .unwrap_or(MirrorState {
            name: name.to_owned(),
            size: agreed.size,
            md5: agreed.md5,
            piece: PIECE,
            done: Vec::new(),
        });
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(state.done.is_empty())
        .open(&part)
        .map_err(|e| local("create", &part, e))?;
    file.set_len(agreed.size)
        .map_err(|e| local("write", &part, e))?;
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
                check.advance(&job).map_err(|e| local("read", &part, e))?;
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
    let mut repaired = Vec::new();
    // Pieces already in place from an earlier run (and any whose event came
    // last) are hashed now.
    check.advance(&job).map_err(|e| local("read", &part, e))?;
    let mut actual = check.finish();
    if actual != agreed.md5 {
        warn!(
            "{} failed its MD5 check after the mirrored download; checking chunk by chunk",
            escaped(name)
        );
        // Every agreeing mirror may vote and help, including one dropped for
        // a passing failure: it may well be reachable again.
        let good = usable.clone();
        let sums = majority_chunks(&mirrors, &good, name, agreed.size)?;
        let mut liars = HashSet::new();
        let mut buf = vec![0u8; CHUNK_SIZE as usize];
        for (index, expected) in sums.iter().enumerate() {
            let start = index as u64 * CHUNK_SIZE;
            let len = CHUNK_SIZE.min(agreed.size - start) as usize;
            job.file
                .read_exact_at(&mut buf[..len], start)
                .map_err(|e| local("read", &part, e))?;
            if md5_bytes(&buf[..len]) != *expected {
                repaired.push(index as u64);
                if let Some(&m) = served_by.get(&(start / PIECE))
                    && m != usize::MAX
                {
                    liars.insert(m);
                }
            }
        }
        for &m in &liars {
            let why = "served corrupt data".to_owned();
            warn!("mirror {} {why} — excluded", mirrors[m].addr);
            statuses[m].dropped = Some(why.clone());
            excluded.push((mirrors[m].addr.clone(), why));
        }
        let honest: Vec<(usize, u32)> = good
            .iter()
            .copied()
            .filter(|(i, _)| !liars.contains(i))
            .collect();
        for &index in &repaired {
            let start = index * CHUNK_SIZE;
            let len = CHUNK_SIZE.min(agreed.size - start);
            let bytes = fetch_from_any(&mirrors, &honest, name, start, len, &sums[index as usize])?;
            job.file
                .write_all_at(&bytes, start)
                .map_err(|e| local("write", &part, e))?;
        }
        actual = hash_file(&job.file, agreed.size).map_err(|e| local("read", &part, e))?;
        if actual != agreed.md5 {
            return Err(ClientError::Corrupt {
                expected: agreed.md5,
                actual,
            });
        }
        info!("repaired chunks {repaired:?} of {}", escaped(name));
    }
    // Not fsynced: the rename only ever exposes a verified file, and a copy
    // lost to a power cut can be fetched again (as a single download does).
    fs::rename(&part, dest).map_err(|e| local("save", dest, e))?;
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

/// What one mirror answered: its claim, its version number, and the
/// logged-in connection, which its worker goes on to use.
type Answer = Result<(Claim, u32, Client), ClientError>;

/// STATs every mirror in parallel.
fn ask_all(mirrors: &[Connector], name: &str, version: Option<u32>) -> Vec<Answer> {
    thread::scope(|scope| {
        let handles: Vec<_> = mirrors
            .iter()
            .map(|m| {
                thread::Builder::new()
                    .name(format!("stat-{}", m.addr))
                    .spawn_scoped(scope, move || {
                        let mut client = m.connect()?;
                        let info = client.stat(name, version)?;
                        let claim = Claim {
                            size: info.size,
                            md5: info.md5,
                        };
                        Ok((claim, info.version, client))
                    })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h {
                Ok(h) => h.join().unwrap_or_else(|_| {
                    Err(ClientError::Protocol("asking the mirror failed".into()))
                }),
                Err(e) => Err(ClientError::Io(e)),
            })
            .collect()
    })
}

/// Per chunk, the MD5 that most of the given mirrors report.
fn majority_chunks(
    mirrors: &[Connector],
    good: &[(usize, u32)],
    name: &str,
    size: u64,
) -> Result<Vec<Md5Digest>, ClientError> {
    let count = size.div_ceil(CHUNK_SIZE) as usize;
    let lists: Vec<Vec<Md5Digest>> = good
        .iter()
        .filter_map(|&(i, version)| {
            let mut client = mirrors[i].connect().ok()?;
            let (chunk, sums) = client.chunks(name, Some(version)).ok()?;
            (chunk == CHUNK_SIZE && sums.len() == count).then_some(sums)
        })
        .collect();
    if lists.is_empty() {
        return Err(ClientError::Protocol(
            "no agreeing mirror could list the file's chunk checksums".into(),
        ));
    }
    (0..count)
        .map(|c| {
            let votes: Vec<Option<Claim>> = lists
                .iter()
                .map(|l| Some(Claim { size: 0, md5: l[c] }))
                .collect();
            majority(&votes).map(|claim| claim.md5).ok_or_else(|| {
                ClientError::NoMajority(format!("the mirrors disagree about chunk {c}"))
            })
        })
        .collect()
}

/// Fetches one chunk from the first mirror that delivers it intact.
fn fetch_from_any(
    mirrors: &[Connector],
    honest: &[(usize, u32)],
    name: &str,
    start: u64,
    len: u64,
    expected: &Md5Digest,
) -> Result<Vec<u8>, ClientError> {
    let mut last = None;
    for &(i, version) in honest {
        let got = mirrors[i]
            .connect()
            .and_then(|mut c| fetch_range(&mut c, name, version, start, len));
        match got {
            Ok(bytes) if md5_bytes(&bytes) == *expected => return Ok(bytes),
            Ok(_) => {
                last = Some(ClientError::Protocol(format!(
                    "mirror {} sent a bad chunk again",
                    mirrors[i].addr
                )))
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        ClientError::NoMajority("no honest mirror is left to repair from".into())
    }))
}

enum Event {
    Piece {
        mirror: usize,
        piece: u64,
        bytes: u64,
        speed: u64,
    },
    Dropped {
        mirror: usize,
        why: String,
    },
}

/// The shared state of one mirrored download.
struct Job {
    name: String,
    size: u64,
    file: File,
    queue: Mutex<VecDeque<u64>>,
    /// Pieces being fetched, with how many workers are on each.
    in_flight: Mutex<HashMap<u64, usize>>,
    /// Finished pieces and the mirror that delivered each.
    done: Mutex<HashMap<u64, usize>>,
    stop: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Job {
    fn done_count(&self) -> usize {
        lock(&self.done).len()
    }

    fn served_by(&self) -> HashMap<u64, usize> {
        lock(&self.done).clone()
    }

    /// The next piece for a worker: from the queue, or, once it is empty,
    /// one still in flight elsewhere (the end game).
    fn next_piece(&self) -> Option<u64> {
        if let Some(p) = lock(&self.queue).pop_front() {
            *lock(&self.in_flight).entry(p).or_default() += 1;
            return Some(p);
        }
        let mut flying = lock(&self.in_flight);
        let done = lock(&self.done);
        let p = flying
            .iter()
            .filter(|(p, workers)| **workers < 2 && !done.contains_key(*p))
            .map(|(p, _)| *p)
            .min()?;
        *flying.entry(p).or_default() += 1;
        Some(p)
    }

    fn release(&self, piece: u64) {
        let mut flying = lock(&self.in_flight);
        if let Some(n) = flying.get_mut(&piece) {
            *n -= 1;
            if *n == 0 {
                flying.remove(&piece);
            }
        }
    }

    /// One mirror's worker: fetch pieces until none are left or it fails.
    fn work(&self, mirror: usize, mut client: Client, version: u32, events: &mpsc::Sender<Event>) {
        while !self.stop.load(Ordering::SeqCst) {
            let Some(piece) = self.next_piece() else {
                if self.done_count() as u64 == self.size.div_ceil(PIECE)
                    || lock(&self.in_flight).is_empty()
                {
                    return;
                }
                thread::sleep(Duration::from_millis(20));
                continue;
            };
            let start = piece * PIECE;
            let len = piece_len(piece, self.size);
            let began = Instant::now();
            let mut bytes = Vec::with_capacity(len as usize);
            let stop = &self.stop;
            let got = client.download_range(
                &self.name,
                Some(version),
                start,
                Some(len),
                &mut |_| Ok(()),
                &mut |chunk| {
                    bytes.extend_from_slice(chunk);
                    Ok(if stop.load(Ordering::SeqCst) {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    })
                },
            );
            if let Err(e) = got {
                // Back to the queue first, then out of flight, so no idle
                // worker ever sees the piece in neither place.
                if !lock(&self.done).contains_key(&piece) {
                    lock(&self.queue).push_front(piece);
                }
                self.release(piece);
                if !matches!(e, ClientError::Cancelled) {
                    let _ = events.send(Event::Dropped {
                        mirror,
                        why: format!("failed ({e})"),
                    });
                }
                return;
            }
            // First finisher wins; a duplicate from the end game is dropped.
            let mut done = lock(&self.done);
            if done.contains_key(&piece) {
                drop(done);
                self.release(piece);
                continue;
            }
            if let Err(e) = self.file.write_all_at(&bytes, start) {
                drop(done);
                lock(&self.queue).push_front(piece);
                self.release(piece);
                let _ = events.send(Event::Dropped {
                    mirror,
                    why: format!("could not write its piece ({e})"),
                });
                return;
            }
            done.insert(piece, mirror);
            drop(done);
            self.release(piece);
            let secs = began.elapsed().as_secs_f64().max(1e-6);
            let sent = events.send(Event::Piece {
                mirror,
                piece,
                bytes: len,
                speed: (len as f64 / secs) as u64,
            });
            if sent.is_err() {
                return; // the download was given up
            }
        }
    }
}

/// Hashes a file's pieces in order as they become available.
struct InOrder {
    hasher: Hasher,
    next: u64,
    pieces: u64,
    size: u64,
    buf: Vec<u8>,
}

impl InOrder {
    fn new(size: u64) -> Self {
        InOrder {
            hasher: Hasher::new(),
            next: 0,
            pieces: size.div_ceil(PIECE),
            size,
            buf: Vec::new(),
        }
    }

    /// Hashes every piece from the next one on that is in place.
    fn advance(&mut self, job: &Job) -> io::Result<()> {
        while self.next < self.pieces && lock(&job.done).contains_key(&self.next) {
            let len = piece_len(self.next, self.size) as usize;
            self.buf.resize(len, 0);
            job.file.read_exact_at(&mut self.buf, self.next * PIECE)?;
            self.hasher.update(&self.buf);
            self.next += 1;
        }
        Ok(())
    }

    fn finish(self) -> Md5Digest {
        debug_assert_eq!(self.next, self.pieces);
        self.hasher.finish()
    }
}

fn piece_len(piece: u64, size: u64) -> u64 {
    PIECE.min(size - piece * PIECE)
}

fn hash_file(file: &File, size: u64) -> io::Result<Md5Digest> {
    let mut hasher = Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut reader = file;
    let mut at = 0u64;
    std::io::Seek::seek(&mut reader, std::io::SeekFrom::Start(0))?;
    while at < size {
        let want = ((size - at) as usize).min(buf.len());
        reader.read_exact(&mut buf[..want])?;
        hasher.update(&buf[..want]);
        at += want as u64;
    }
    Ok(hasher.finish())
}

fn save(side: &Path, state: &MirrorState) -> Result<(), ClientError> {
    let json = serde_json::to_vec(state).map_err(|e| local("write", side, io::Error::other(e)))?;
    let tmp: PathBuf = {
        let mut n = side.as_os_str().to_owned();
        n.push(".new");
        n.into()
    };
    fs::write(&tmp, json).map_err(|e| local("write", &tmp, e))?;
    fs::rename(&tmp, side).map_err(|e| local("write", side, e))
}

fn local(action: &'static str, path: &Path, cause: io::Error) -> ClientError {
    ClientError::Local {
        action,
        path: path.to_owned(),
        cause,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(n: u8) -> Option<Claim> {
        Some(Claim {
            size: 10,
            md5: Md5Digest([n; 16]),
        })
    }

    #[test]
    fn strict_majority_of_those_who_answered() {
        assert_eq!(
            majority(&[claim(1), claim(1), claim(1), claim(2)]),
            claim(1)
        );
        assert_eq!(
            majority(&[claim(1), claim(2)]),
            None,
            "a tie is no majority"
        );
        assert_eq!(majority(&[claim(1), claim(1), claim(2), claim(2)]), None);
        assert_eq!(
            majority(&[claim(1), None, None]),
            claim(1),
            "the silent do not vote"
        );
        assert_eq!(majority(&[None, None]), None);
        assert_eq!(majority(&[claim(1), claim(2), claim(3)]), None);
    }

    #[test]
    fn pieces_cover_the_file() {
        let size = 3 * PIECE + 17;
        let total: u64 = (0..size.div_ceil(PIECE)).map(|p| piece_len(p, size)).sum();
        assert_eq!(total, size);
    }
}
