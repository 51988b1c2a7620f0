//! Transfers that survive broken connections and crashes: each reconnects
//! and resumes where the bytes stopped, with retries and back-off.
//!
//! **Downloads** write `NAME.part` beside the target and a JSON sidecar
//! `NAME.part.json` holding the server, name, pinned version, size, MD5, the
//! bytes received and the running MD5 state over them, so a resume neither
//! re-fetches nor re-hashes the prefix. A resume is pinned to its version: if
//! that version is gone the download restarts cleanly and says why, so a file
//! is never a splice of two versions. If the `.part` was touched since the
//! sidecar was saved, or the final MD5 check fails, the file is checked chunk
//! by chunk against the server's per-chunk MD5s and only bad chunks are
//! fetched again.
//!
//! **Uploads** keep the server's upload id and MD5 checkpoints in a state
//! file (in a state folder, never beside the user's file), and continue from
//! the byte the server confirms.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, UNIX_EPOCH};

use log::{info, warn};
use serde::{Deserialize, Serialize};

use crate::client::{
    Checkpoint, Client, ClientError, Progress, ProgressFn, RangeInfo, Resume, Stage, Stored,
    UploadEvent, open_source,
};
use crate::hash::{Hasher, Md5Digest, md5_bytes};
use crate::hashed_file::HashedFile;
use crate::names::escaped;
use crate::protocol::{ConflictPolicy, ErrorCode};

/// How often (in bytes received) a download's sidecar is saved: a killed
/// client re-fetches at most this much.
const SAVE_EVERY: u64 = 4 << 20;
/// How many upload checkpoints are kept (they cover data still in flight
/// when a connection breaks).
const KEEP_CHECKPOINTS: usize = 8;

/// How to reach and log in to a server, again and again.
#[derive(Clone)]
pub struct Connector {
    /// `host:port`.
    pub addr: String,
    /// User name.
    pub user: String,
    password: String,
    /// How long one read or write may stall before the connection counts as lost.
    pub io_timeout: Duration,
    /// A logged-in connection for the next [`Connector::connect`] (shared
    /// by clones for the same server).
    spare: Arc<Mutex<Option<Client>>>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Connector({}@{})", self.user, self.addr)
    }
}

impl Connector {
    /// A connector for `user` at `addr`.
    pub fn new(
        addr: impl Into<String>,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Connector {
            addr: addr.into(),
            user: user.into(),
            password: password.into(),
            io_timeout: crate::client::DEFAULT_IO_TIMEOUT,
            spare: Arc::default(),
        }
    }

    /// The same credentials for another server (a mirror).
    pub fn for_server(&self, addr: impl Into<String>) -> Connector {
        Connector {
            addr: addr.into(),
            spare: Arc::default(),
            ..self.clone()
        }
    }

    /// Keeps `client`, logged in to this connector's server, for the next
    /// [`Connector::connect`]: a caller that logged in first to check the
    /// credentials saves the transfer a second login.
    pub fn keep_for_next(&self, client: Client) {
        *self.spare.lock().unwrap_or_else(PoisonError::into_inner) = Some(client);
    }

    /// The same connector with another stall timeout.
    pub fn with_timeout(mut self, io_timeout: Duration) -> Self {
        self.io_timeout = io_timeout;
        self
    }

    /// Connects and logs in (or hands out the kept connection).
    pub fn connect(&self) -> Result<Client, ClientError> {
        let kept = self
            .spare
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(client) = kept {
            return Ok(client);
        }
        let mut client = Client::connect_with_timeout(&self.addr, self.io_timeout)?;
        client.login(&self.user, &self.password)?;
        Ok(client)
    }
}

/// How often and how patiently to retry after a lost connection.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Retries after the first attempt.
    pub retries: u32,
    /// Wait before the first retry; doubled each time.
    pub first_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            retries: 5,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        }
    }
}

impl Retry {
    fn delay(&self, retry: u32) -> Duration {
        self.first_delay
            .saturating_mul(1 << (retry.saturating_sub(1)).min(16))
            .min(self.max_delay)
    }
}

/// Whether trying again later can help.
pub fn is_retryable(e: &ClientError) -> bool {
    match e {
        ClientError::Io(_) | ClientError::Connect { .. } => true,
        ClientError::Server { code, .. } => {
            matches!(
                code,
                ErrorCode::Busy | ErrorCode::Timeout | ErrorCode::ShuttingDown
            )
        }
        _ => false,
    }
}

/// Runs `attempt` until it succeeds, fails for good, or retries run out.
fn with_retries<T>(
    retry: Retry,
    what: &str,
    mut attempt: impl FnMut() -> Result<T, ClientError>,
) -> Result<(T, u32), ClientError> {
    let mut used = 0;
    loop {
        match attempt() {
            Ok(v) => return Ok((v, used)),
            Err(e) if is_retryable(&e) && used < retry.retries => {
                used += 1;
                let wait = retry.delay(used);
                warn!(
                    "{what}: {e}; retrying in {:.1}s (retry {used} of {})",
                    wait.as_secs_f64(),
                    retry.retries
                );
                thread::sleep(wait);
            }
            Err(e) => return Err(e),
        }
    }
}

// ---------------------------------------------------------------------------
// Downloads

/// Choices for [`download`].
#[derive(Clone, Debug, Default)]
pub struct DownloadOptions {
    /// The version to fetch; `None` for the current one.
    pub version: Option<u32>,
    /// Ignore any partial download and start from zero.
    pub restart: bool,
    /// Retry policy.
    pub retry: Retry,
}

/// What a finished download did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DownloadReport {
    /// The version downloaded.
    pub version: u32,
    /// Its size.
    pub size: u64,
    /// Its MD5, verified.
    pub md5: Md5Digest,
    /// Bytes already on disk when this call began (0 for a fresh start).
    pub resumed_from: u64,
    /// Chunks found damaged and fetched again.
    pub repaired_chunks: Vec<u64>,
    /// Why a partial download was thrown away, if one was.
    pub restarted: Option<String>,
    /// Retries after lost connections.
    pub retries: u32,
}

/// The sidecar of a partial download.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DownloadState {
    /// The server it came from.
    pub server: String,
    /// The file's name.
    pub name: String,
    /// The version it is pinned to.
    pub version: u32,
    /// The version's size.
    pub size: u64,
    /// The version's MD5.
    pub md5: Md5Digest,
    /// Bytes received and written, in order from the start.
    pub received: u64,
    /// The MD5 state over those bytes.
    pub hash_state: String,
    /// The `.part` file's modification time (ns) when this was saved.
    pub part_mtime_ns: u64,
}

/// `dest` with `.part` appended: where a download collects its bytes.
pub fn part_path(dest: &Path) -> PathBuf {
    with_suffix(dest, ".part")
}

/// `dest` with `.part.json` appended: the partial download's sidecar.
pub fn sidecar_path(dest: &Path) -> PathBuf {
    with_suffix(dest, ".part.json")
}

/// Reads the sidecar of a partial download to `dest`, if there is one.
pub fn partial_download(dest: &Path) -> Option<DownloadState> {
    serde_json::from_slice(&fs::read(sidecar_path(dest)).ok()?).ok()
}

/// Deletes a partial download's `.part` and sidecar.
pub fn discard_partial_download(dest: &Path) {
    let _ = fs::remove_file(part_path(dest));
    let _ = fs::remove_file(sidecar_path(dest));
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// Downloads `name` to `dest`, resuming a partial download found there,
/// reconnecting after lost connections. `dest` appears only once its MD5 is
/// verified. Cancelling (the progress callback returning `Break`) keeps the
/// partial download for a later call: that is how "pause" works.
pub fn download(
    connector: &Connector,
    name: &str,
    dest: &Path,
    options: &DownloadOptions,
    progress: ProgressFn<'_>,
) -> Result<DownloadReport, ClientError> {
    let side = sidecar_path(dest);
    let mut report = DownloadReport::default();
    let mut state = if options.restart {
        None
    } else {
        partial_download(dest).filter(|s| {
            s.server == connector.addr
                && s.name == name
                && options.version.is_none_or(|v| v == s.version)
        })
    };
    report.resumed_from = state.as_ref().map_or(0, |s| s.received);
    let mut job = DownloadJob {
        name,
        dest,
        part: part_path(dest),
        options,
        progress,
    };
    let what = format!("downloading {}", escaped(name));
    let result = with_retries(options.retry, &what, || {
        job.attempt(connector, &mut state, &mut report)
    });
    match result {
        Ok(((), retries)) => {
            report.retries = retries;
            let _ = fs::remove_file(&side);
            Ok(report)
        }
        Err(e @ ClientError::Corrupt { .. }) => {
            discard_partial_download(dest);
            Err(e)
        }
        Err(e) => Err(e),
    }
}

struct DownloadJob<'a, 'p> {
    name: &'a str,
    dest: &'a Path,
    part: PathBuf,
    options: &'a DownloadOptions,
    progress: ProgressFn<'p>,
}

impl DownloadJob<'_, '_> {
    fn attempt(
        &mut self,
        connector: &Connector,
        state: &mut Option<DownloadState>,
        report: &mut DownloadReport,
    ) -> Result<(), ClientError> {
        let name = self.name;
        let mut client = connector.connect()?;
        // A resume continues only the very version it started with.
        if let Some(pinned) = state.as_ref() {
            let why = match client.stat(name, Some(pinned.version)) {
                Ok(info) if info.md5 == pinned.md5 && info.size == pinned.size => None,
                Ok(_) => Some(format!(
                    "version {} of {} changed on the server",
                    pinned.version,
                    escaped(name)
                )),
                Err(e) if e.code() == Some(ErrorCode::NotFound) => Some(format!(
                    "version {} of {} is no longer on the server",
                    pinned.version,
                    escaped(name)
                )),
                Err(e) => return Err(e),
            };
            if let Some(why) = why {
                warn!("{why}; discarding the partial download and starting again");
                report.restarted = Some(format!("{why}; the download started again"));
                *state = None;
                report.resumed_from = 0;
            }
        }
        let st = match state {
            Some(st) => st,
            None => {
                let info = client.stat(name, self.options.version)?;
                state.insert(DownloadState {
                    server: connector.addr.clone(),
                    name: name.to_owned(),
                    version: info.version,
                    size: info.size,
                    md5: info.md5,
                    received: 0,
                    hash_state: Hasher::new().save(),
                    part_mtime_ns: 0,
                })
            }
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.part)
            .map_err(|e| local("create", &self.part, e))?;
        let (mut hasher, received) = self.trusted_prefix(&mut client, &mut file, st, report)?;
        st.received = received;
        st.hash_state = hasher.save();
        let mut out = HashedFile::open(&self.part, st.size, received, hasher.clone(), SAVE_EVERY)
            .map_err(|e| local("write", &self.part, e))?;
        save_state(&self.dest_sidecar(), st, out.file())?;

        if received < st.size {
            info!(
                "download {} version={} from byte {received} of {}",
                escaped(name),
                st.version,
                st.size
            );
            let (version, md5, size) = (st.version, st.md5, st.size);
            let side = self.dest_sidecar();
            let part = self.part.clone();
            let progress = &mut self.progress;
            let result = client.download_range(
                name,
                Some(version),
                received,
                None,
                &mut |info: &RangeInfo| {
                    if info.version == version && info.md5 == md5 {
                        Ok(())
                    } else {
                        Err(ClientError::Protocol(
                            "it sent another version than the one asked for".into(),
                        ))
                    }
                },
                &mut |piece| {
                    let point = out.write(piece).map_err(|e| local("write", &part, e))?;
                    if let Some(point) = point {
                        st.received = point.offset;
                        st.hash_state = point.state;
                        save_state(&side, st, out.file())?;
                    }
                    Ok(progress(Progress {
                        stage: Stage::Transferring,
                        done: out.len(),
                        total: size,
                    }))
                },
            );
            // Whatever happened, record what is on disk so the next try resumes.
            hasher = out
                .finish()
                .map_err(|e| local("write", &self.part, e))?
                .clone();
            st.received = out.len();
            st.hash_state = hasher.save();
            save_state(&side, st, out.file())?;
            result?;
        }
        drop(out);

        let _ = (self.progress)(Progress {
            stage: Stage::Verifying,
            done: st.size,
            total: st.size,
        });
        let mut actual = hasher.finish();
        if actual != st.md5 {
            warn!(
                "download {} failed its MD5 check ({actual}, expected {}); checking chunk by chunk",
                escaped(name),
                st.md5
            );
            let (rehashed, repaired) = verify_chunks(
                &mut client,
                name,
                st,
                &mut file,
                &self.part,
                st.size,
                &mut *self.progress,
            )?;
            report.repaired_chunks.extend(repaired);
            actual = rehashed.finish();
            if actual != st.md5 {
                return Err(ClientError::Corrupt {
                    expected: st.md5,
                    actual,
                });
            }
        }
        // Not fsynced: the rename only ever exposes a verified file, and the
        // server still holds the original. Syncing a big file would cost
        // as much as the whole transfer on a slow disk.
        drop(file);
        fs::rename(&self.part, self.dest).map_err(|e| local("save", self.dest, e))?;
        info!(
            "download done {} version={} bytes={} md5={actual} resumed_from={} repaired={:?}",
            escaped(name),
            st.version,
            st.size,
            report.resumed_from,
            report.repaired_chunks
        );
        report.version = st.version;
        report.size = st.size;
        report.md5 = actual;
        let _ = (self.progress)(Progress {
            stage: Stage::Done,
            done: st.size,
            total: st.size,
        });
        Ok(())
    }

    fn dest_sidecar(&self) -> PathBuf {
        sidecar_path(self.dest)
    }

    /// How much of the `.part` can be kept, with the MD5 state over it. The
    /// saved state is trusted when the file is as the sidecar left it (or
    /// longer, as a killed client leaves it); a file that was changed since
    /// is checked chunk by chunk and repaired.
    fn trusted_prefix(
        &mut self,
        client: &mut Client,
        file: &mut File,
        st: &DownloadState,
        report: &mut DownloadReport,
    ) -> Result<(Hasher, u64), ClientError> {
        if st.received == 0 {
            return Ok((Hasher::new(), 0));
        }
        let meta = file.metadata().map_err(|e| local("read", &self.part, e))?;
        let untouched = meta.len() > st.received
            || (meta.len() == st.received && mtime_ns(&meta) == st.part_mtime_ns);
        if untouched && let Some(hasher) = Hasher::restore(&st.hash_state) {
            return Ok((hasher, st.received));
        }
        warn!(
            "{} was changed since the download stopped; checking it chunk by chunk",
            self.part.display()
        );
        let chunk = crate::protocol::CHUNK_SIZE;
        let upto = meta.len().min(st.received) / chunk * chunk;
        let (hasher, repaired) = verify_chunks(
            client,
            self.name,
            st,
            file,
            &self.part,
            upto,
            &mut *self.progress,
        )?;
        report.repaired_chunks.extend(repaired);
        Ok((hasher, upto))
    }
}

/// Compares the first `upto` bytes of `file` chunk by chunk with the
/// server's per-chunk MD5s, fetching and rewriting every chunk that differs.
/// Returns the MD5 state over those bytes and the chunks it repaired.
/// Reports its progress as [`Stage::Verifying`]; a `Break` cancels.
fn verify_chunks(
    client: &mut Client,
    name: &str,
    st: &DownloadState,
    file: &mut File,
    path: &Path,
    upto: u64,
    progress: ProgressFn<'_>,
) -> Result<(Hasher, Vec<u64>), ClientError> {
    let (chunk_size, sums) = client.chunks(name, Some(st.version))?;
    if chunk_size == 0 || sums.len() as u64 != st.size.div_ceil(chunk_size) {
        return Err(ClientError::Protocol(
            "its chunk list does not fit the file".into(),
        ));
    }
    let mut hasher = Hasher::new();
    let mut repaired = Vec::new();
    let mut buf = vec![0u8; chunk_size as usize];
    let mut start = 0u64;
    for (index, expected) in sums.iter().enumerate() {
        if start >= upto {
            break;
        }
        let len = chunk_size.min(st.size - start) as usize;
        file.seek(SeekFrom::Start(start))
            .map_err(|e| local("read", path, e))?;
        let got = read_up_to(file, &mut buf[..len]).map_err(|e| local("read", path, e))?;
        if got < len || md5_bytes(&buf[..len]) != *expected {
            let fetched = fetch_range(client, name, st.version, start, len as u64)?;
            if md5_bytes(&fetched) != *expected {
                return Err(ClientError::Protocol(format!(
                    "chunk {index} it sent does not match its own MD5"
                )));
            }
            file.seek(SeekFrom::Start(start))
                .map_err(|e| local("write", path, e))?;
            file.write_all(&fetched)
                .map_err(|e| local("write", path, e))?;
            buf[..len].copy_from_slice(&fetched);
            repaired.push(index as u64);
        }
        hasher.update(&buf[..len]);
        start += len as u64;
        let report = Progress {
            stage: Stage::Verifying,
            done: start,
            total: st.size,
        };
        if progress(report).is_break() {
            return Err(ClientError::Cancelled);
        }
    }
    if !repaired.is_empty() {
        info!("repaired chunks {repaired:?} of {}", escaped(name));
    }
    Ok((hasher, repaired))
}

/// Downloads one range of a version into memory.
pub fn fetch_range(
    client: &mut Client,
    name: &str,
    version: u32,
    offset: u64,
    length: u64,
) -> Result<Vec<u8>, ClientError> {
    let mut out = Vec::with_capacity(length as usize);
    client.download_range(
        name,
        Some(version),
        offset,
        Some(length),
        &mut |_| Ok(()),
        &mut |piece| {
            out.extend_from_slice(piece);
            Ok(ControlFlow::Continue(()))
        },
    )?;
    Ok(out)
}

fn save_state(side: &Path, st: &mut DownloadState, file: &File) -> Result<(), ClientError> {
    let meta = file.metadata().map_err(|e| local("read", side, e))?;
    st.part_mtime_ns = mtime_ns(&meta);
    write_json(side, st)
}

fn mtime_ns(meta: &fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64)
}

// ---------------------------------------------------------------------------
// Uploads

/// Choices for [`upload`].
#[derive(Clone, Debug)]
pub struct UploadOptions {
    /// What the server does if the name is taken.
    pub policy: ConflictPolicy,
    /// Retry policy.
    pub retry: Retry,
    /// Where to keep resume state; `None` disables resuming across calls
    /// (retries within the call still resume).
    pub state_dir: Option<PathBuf>,
}

/// What a finished upload did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadReport {
    /// What the server stored.
    pub stored: Stored,
    /// The byte the finishing attempt continued from; 0 for a fresh start.
    pub resumed_from: u64,
    /// Retries after lost connections.
    pub retries: u32,
}

/// The resume state of an upload, kept in the state folder.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
struct UploadState {
    server: String,
    user: String,
    path: PathBuf,
    name: String,
    size: u64,
    mtime_ns: u64,
    upload_id: String,
    checkpoints: Vec<Checkpoint>,
}

/// Where Ferry keeps resume state: `$FERRY_STATE`, else
/// `$XDG_STATE_HOME/ferry`, else `~/.local/state/ferry`.
pub fn default_state_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("FERRY_STATE") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME") {
        return Some(PathBuf::from(dir).join("ferry"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state/ferry"))
}

/// Uploads the file at `path` as `name`, continuing an interrupted upload of
/// the same unchanged file when the server still holds it, and reconnecting
/// after lost connections.
pub fn upload(
    connector: &Connector,
    path: &Path,
    name: &str,
    options: &UploadOptions,
    progress: ProgressFn<'_>,
) -> Result<UploadReport, ClientError> {
    let (mut file, size) = open_source(path)?;
    let mtime = file.metadata().map(|m| mtime_ns(&m)).unwrap_or(0);
    let absolute = fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let state_file = options.state_dir.as_ref().map(|dir| {
        let key = format!(
            "{}\n{}\n{}\n{}",
            connector.addr,
            connector.user,
            absolute.display(),
            name
        );
        dir.join(format!("upload-{}.json", md5_bytes(key.as_bytes())))
    });
    let mut state: Option<UploadState> = state_file
        .as_deref()
        .and_then(|f| serde_json::from_slice(&fs::read(f).ok()?).ok())
        .filter(|s: &UploadState| s.size == size && s.mtime_ns == mtime && s.name == name);
    let mut resumed_from = None;
    let what = format!("uploading {}", escaped(name));
    let result = with_retries(options.retry, &what, || {
        let mut client = connector.connect()?;
        let upload_id = state.as_ref().map(|s| s.upload_id.clone());
        let checkpoints = state
            .as_ref()
            .map(|s| s.checkpoints.clone())
            .unwrap_or_default();
        let resume = upload_id.as_deref().map(|id| Resume {
            upload_id: id,
            checkpoints: &checkpoints,
        });
        let mut journal = |event: UploadEvent| {
            match event {
                UploadEvent::Ready { upload_id, offset } => {
                    resumed_from = Some(offset);
                    if state.as_ref().is_none_or(|s| s.upload_id != upload_id) {
                        state = Some(UploadState {
                            server: connector.addr.clone(),
                            user: connector.user.clone(),
                            path: absolute.clone(),
                            name: name.to_owned(),
                            size,
                            mtime_ns: mtime,
                            upload_id,
                            checkpoints: Vec::new(),
                        });
                    }
                }
                UploadEvent::Checkpoint(c) => {
                    if let Some(s) = state.as_mut() {
                        s.checkpoints.push(c);
                        let excess = s.checkpoints.len().saturating_sub(KEEP_CHECKPOINTS);
                        s.checkpoints.drain(..excess);
                    }
                }
            }
            if let (Some(f), Some(s)) = (state_file.as_deref(), state.as_ref())
                && let Err(e) = write_json(f, s)
            {
                warn!("could not save the upload's resume state: {e}");
            }
        };
        client.upload_with(
            &mut file,
            size,
            name,
            options.policy,
            resume.as_ref(),
            &mut journal,
            progress,
            path,
        )
    });
    let keep_state =
        matches!(&result, Err(e) if is_retryable(e) || matches!(e, ClientError::Cancelled));
    if !keep_state && let Some(f) = &state_file {
        let _ = fs::remove_file(f);
    }
    let (stored, retries) = result?;
    Ok(UploadReport {
        stored,
        resumed_from: resumed_from.unwrap_or(0),
        retries,
    })
}

// ---------------------------------------------------------------------------

fn local(action: &'static str, path: &Path, cause: io::Error) -> ClientError {
    ClientError::Local {
        action,
        path: path.to_owned(),
        cause,
    }
}

/// Writes JSON atomically: a new file renamed over the old.
fn write_json(path: &Path, value: &impl Serialize) -> Result<(), ClientError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| local("create", dir, e))?;
    }
    let json =
        serde_json::to_vec_pretty(value).map_err(|e| local("write", path, io::Error::other(e)))?;
    let tmp = with_suffix(path, ".new");
    fs::write(&tmp, json).map_err(|e| local("write", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| local("write", path, e))
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_a_cap() {
        let r = Retry::default();
        let waits: Vec<_> = (1..=6).map(|i| r.delay(i).as_millis()).collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 8000]);
    }

    #[test]
    fn only_network_trouble_is_retried() {
        let io = ClientError::Io(io::Error::new(io::ErrorKind::ConnectionReset, "x"));
        assert!(is_retryable(&io));
        let busy = ClientError::Server {
            code: ErrorCode::Busy,
            message: String::new(),
        };
        assert!(is_retryable(&busy));
        let denied = ClientError::Server {
            code: ErrorCode::Forbidden,
            message: String::new(),
        };
        assert!(!is_retryable(&denied));
        assert!(!is_retryable(&ClientError::Cancelled));
    }

    #[test]
    fn sidecar_names() {
        let dest = Path::new("/tmp/x/report 1.pdf");
        assert_eq!(part_path(dest), Path::new("/tmp/x/report 1.pdf.part"));
        assert_eq!(
            sidecar_path(dest),
            Path::new("/tmp/x/report 1.pdf.part.json")
        );
    }
}
