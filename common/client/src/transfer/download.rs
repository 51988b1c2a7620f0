//! [`download`]: one file from one server to disk, resumed from a partial
//! download left beside the destination, pinned to the version it started
//! with, repaired chunk by chunk when the partial file was touched or the
//! final check fails, and retried after lost connections. Also the sidecar
//! ([`DownloadState`]) and the functions that find or discard it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use log::{info, warn};
use serde::{Deserialize, Serialize};

use super::{Connector, Reports, Retry, mtime_ns, with_retries, write_json};
use crate::partial::{part_path, sidecar_path};
use crate::{Client, ClientError, DownloadOptions, Progress, ProgressFn, Span, Stage, read_up_to};
use ferry_io::hashed_file::HashedFile;
use ferry_proto::hash::{Hasher, Md5Digest, md5_bytes};
use ferry_proto::names::escaped;
use ferry_proto::protocol::{ErrorCode, VersionInfo};

/// How often (in bytes received) a download's sidecar is saved: a killed
/// client re-fetches at most this much.
const SAVE_EVERY: u64 = 4 << 20;

/// Choices for [`download`].
#[derive(Clone, Debug, Default)]
pub struct ResumableDownloadOptions {
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
    /// The server it came from, by its verified identity
    /// ([`crate::Client::identity`]: its certificate fingerprint over TLS),
    /// so another address of the same server resumes it and another server
    /// at the same address never adds to it.
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

/// Reads the sidecar of a partial download to `dest`, if there is one.
pub fn partial_download(dest: &Path) -> Option<DownloadState> {
    serde_json::from_slice(&fs::read(sidecar_path(dest)).ok()?).ok()
}

/// Deletes a partial download's `.part` and sidecar.
pub fn discard_partial_download(dest: &Path) {
    let _ = fs::remove_file(part_path(dest));
    let _ = fs::remove_file(sidecar_path(dest));
}

/// Deletes the partial downloads a whole-folder download left in `dir` and
/// the folders below it: each `NAME.part` whose sidecar `NAME.part.json`
/// is a download's. Nothing else is touched, and links are not followed.
pub fn discard_partial_downloads_in(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            discard_partial_downloads_in(&entry.path());
        } else if let Some(dest) = (entry.file_name().to_str())
            .and_then(|name| name.strip_suffix(".part.json"))
            .map(|name| dir.join(name))
            && partial_download(&dest).is_some()
        {
            discard_partial_download(&dest);
        }
    }
}

/// Downloads `name` to `dest`, resuming a partial download found there,
/// reconnecting after lost connections. `dest` appears only once its MD5 is
/// verified. Cancelling (the progress callback returning `Break`) keeps the
/// partial download for a later call: that is how "pause" works.
pub fn download(
    connector: &Connector,
    name: &str,
    dest: &Path,
    options: &ResumableDownloadOptions,
    progress: ProgressFn<'_>,
) -> Result<DownloadReport, ClientError> {
    let mut report = DownloadReport::default();
    let mut state = if options.restart {
        None
    } else {
        partial_download(dest)
            .filter(|s| s.name == name && options.version.is_none_or(|v| v == s.version))
    };
    report.resumed_from = state.as_ref().map_or(0, |s| s.received);
    let reports = Reports::new(progress);
    let what = format!("downloading {}", escaped(name));
    let result = with_retries(
        options.retry,
        &what,
        |retry, of| reports.reconnecting(retry, of),
        || {
            let mut forward = |p| reports.report(p);
            let mut job = DownloadJob {
                name,
                dest,
                part: part_path(dest),
                options,
                listed: None,
                progress: &mut forward,
            };
            job.attempt(connector, &mut state, &mut report)
        },
    );
    let retries = settle(dest, result)?.1;
    report.retries = retries;
    Ok(report)
}

/// One attempt, on `client`, at the version of a file that a listing
/// showed (`listed`: its path, version, size and MD5), saved to `dest`:
/// a partial download of that very version left there (by [`download`] or
/// an earlier call) is continued, one of any other version is discarded
/// and the file fetched from its start, so a file is never a splice of two
/// versions. No retries: a lost connection or a `Break` from `progress`
/// keeps the `.part` and its sidecar for the next call. The whole-tree
/// download drives its large files through this.
pub(crate) fn download_listed(
    client: &mut Client,
    listed: &VersionInfo,
    dest: &Path,
    progress: ProgressFn<'_>,
) -> Result<DownloadReport, ClientError> {
    let name = listed.name.as_str();
    let mut report = DownloadReport::default();
    let mut state = partial_download(dest).filter(|s| s.name == name);
    if let Some(pinned) = &state
        && (pinned.version, pinned.size, pinned.md5) != (listed.version, listed.size, listed.md5)
    {
        let why = format!(
            "the partial download of {} is of version {}, but the server's is now version {}",
            escaped(name),
            pinned.version,
            listed.version
        );
        warn!("{why}; discarding it and starting again");
        report.restarted = Some(format!("{why}; the download started again"));
        discard_partial_download(dest);
        state = None;
    }
    report.resumed_from = state.as_ref().map_or(0, |s| s.received);
    let options = ResumableDownloadOptions {
        version: Some(listed.version),
        ..ResumableDownloadOptions::default()
    };
    let mut job = DownloadJob {
        name,
        dest,
        part: part_path(dest),
        options: &options,
        listed: Some(listed),
        progress,
    };
    let result = job.run(client, &mut state, &mut report);
    settle(dest, result)?;
    job.done(report.size);
    Ok(report)
}

/// Tidies up after the last attempt of a download: a finished one needs
/// its sidecar no more, a corrupt one leaves nothing behind; any other
/// failure keeps both files, to be resumed.
fn settle<T>(dest: &Path, result: Result<T, ClientError>) -> Result<T, ClientError> {
    match result {
        Ok(done) => {
            let _ = fs::remove_file(sidecar_path(dest));
            Ok(done)
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
    options: &'a ResumableDownloadOptions,
    /// What a listing the caller has just read says of the version to
    /// fetch: used instead of asking the server again.
    listed: Option<&'a VersionInfo>,
    progress: ProgressFn<'p>,
}

impl DownloadJob<'_, '_> {
    /// The server's facts about `version` of the file (`None`: the current
    /// one): the listing's when it is of that version, or a `STAT`.
    fn stat(&self, client: &mut Client, version: Option<u32>) -> Result<VersionInfo, ClientError> {
        match self.listed {
            Some(listed) if version.is_some_and(|v| v == listed.version) => Ok(listed.clone()),
            _ => client.stat(self.name, version),
        }
    }

    fn attempt(
        &mut self,
        connector: &Connector,
        state: &mut Option<DownloadState>,
        report: &mut DownloadReport,
    ) -> Result<(), ClientError> {
        let mut client = connector.connect()?;
        self.run(&mut client, state, report)?;
        // The conversation is at a clean end: the next transfer may use it,
        // even one started the moment this one says it is done.
        connector.keep_for_next(client);
        self.done(report.size);
        Ok(())
    }

    /// One attempt on `client`, which stays usable when this succeeds. The
    /// caller reports [`Stage::Done`] ([`DownloadJob::done`]).
    fn run(
        &mut self,
        client: &mut Client,
        state: &mut Option<DownloadState>,
        report: &mut DownloadReport,
    ) -> Result<(), ClientError> {
        let name = self.name;
        let identity = client.identity();
        // A resume continues only the very version it started with, from
        // the very server.
        if let Some(pinned) = state.as_ref() {
            let why = if pinned.server != identity {
                Some(format!(
                    "the partial download of {} came from another server",
                    escaped(name)
                ))
            } else {
                match self.stat(client, Some(pinned.version)) {
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
                }
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
                let info = self.stat(client, self.options.version)?;
                state.insert(DownloadState {
                    server: identity,
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
            .map_err(|e| ClientError::local("create", &self.part, e))?;
        let (mut hasher, received) = self.trusted_prefix(client, &mut file, st, report)?;
        st.received = received;
        st.hash_state = hasher.save();
        let mut out = HashedFile::open(&self.part, st.size, received, hasher.clone(), SAVE_EVERY)
            .map_err(|e| ClientError::local("write", &self.part, e))?;
        save_state(&self.dest_sidecar(), st, out.file())?;

        if received < st.size {
            info!(
                "download {} version={} from byte {received} of {}",
                escaped(name),
                st.version,
                st.size
            );
            let side = self.dest_sidecar();
            let rest = DownloadOptions {
                version: Some(st.version),
                span: Span::From(received),
                expect_md5: Some(st.md5),
                progress: Some(&mut *self.progress),
            };
            let mut sink = PartWriter {
                out: &mut out,
                st: &mut *st,
                part: &self.part,
                side: &side,
            };
            let result = client.download(name, &mut sink, rest);
            // Whatever happened, record what is on disk so the next try resumes.
            hasher = out
                .finish()
                .map_err(|e| ClientError::local("write", &self.part, e))?
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
                client,
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
        fs::rename(&self.part, self.dest).map_err(|e| ClientError::local("save", self.dest, e))?;
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
        Ok(())
    }

    /// Says the file is done (after [`DownloadJob::run`] succeeded).
    fn done(&mut self, size: u64) {
        let _ = (self.progress)(Progress {
            stage: Stage::Done,
            done: size,
            total: size,
        });
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
        let meta = file
            .metadata()
            .map_err(|e| ClientError::local("read", &self.part, e))?;
        let untouched = meta.len() > st.received
            || (meta.len() == st.received && mtime_ns(&meta) == st.part_mtime_ns);
        if untouched && let Some(hasher) = Hasher::restore(&st.hash_state) {
            return Ok((hasher, st.received));
        }
        warn!(
            "{} was changed since the download stopped; checking it chunk by chunk",
            self.part.display()
        );
        let chunk = ferry_proto::protocol::CHUNK_SIZE;
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
            .map_err(|e| ClientError::local("read", path, e))?;
        let got =
            read_up_to(file, &mut buf[..len]).map_err(|e| ClientError::local("read", path, e))?;
        if got < len || md5_bytes(&buf[..len]) != *expected {
            let mut fetched = Vec::with_capacity(len);
            let piece = DownloadOptions {
                version: Some(st.version),
                span: Span::Range {
                    offset: start,
                    length: len as u64,
                },
                ..DownloadOptions::default()
            };
            client.download(name, &mut fetched, piece)?;
            if md5_bytes(&fetched) != *expected {
                return Err(ClientError::Protocol(format!(
                    "chunk {index} it sent does not match its own MD5"
                )));
            }
            file.seek(SeekFrom::Start(start))
                .map_err(|e| ClientError::local("write", path, e))?;
            file.write_all(&fetched)
                .map_err(|e| ClientError::local("write", path, e))?;
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

/// Where a resumed download's bytes go: the `.part` file, hashed as it is
/// written, with the sidecar saved at every hash snapshot. Its failures are
/// [`ClientError`]s carried through `io::Error`, which
/// [`Client::download`] unwraps.
struct PartWriter<'a> {
    out: &'a mut HashedFile,
    st: &'a mut DownloadState,
    part: &'a Path,
    side: &'a Path,
}

impl Write for PartWriter<'_> {
    fn write(&mut self, piece: &[u8]) -> io::Result<usize> {
        let point = self
            .out
            .write(piece)
            .map_err(|e| io::Error::other(ClientError::local("write", self.part, e)))?;
        if let Some(point) = point {
            self.st.received = point.offset;
            self.st.hash_state = point.state;
            save_state(self.side, self.st, self.out.file()).map_err(io::Error::other)?;
        }
        Ok(piece.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn save_state(side: &Path, st: &mut DownloadState, file: &File) -> Result<(), ClientError> {
    let meta = file
        .metadata()
        .map_err(|e| ClientError::local("read", side, e))?;
    st.part_mtime_ns = mtime_ns(&meta);
    write_json(side, st)
}
