//! [`upload`]: one local file to one server, continuing an interrupted
//! upload of the same unchanged file when the server still holds it, and
//! retried after lost connections. The upload id and MD5 checkpoints live
//! in a state file in the state folder ([`default_state_dir`]), never
//! beside the user's file. [`upload_attempt`] is one attempt of it on the
//! caller's connection, for the whole-tree upload.

use std::fs;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use log::warn;
use serde::{Deserialize, Serialize};

use super::{Connector, Reports, Retry, is_retryable, mtime_ns, with_retries, write_json};
use crate::{
    Checkpoint, Client, ClientError, LocalFile, Progress, ProgressFn, Resume, Stage, Stored,
    UploadEvent, UploadOptions,
};
use ferry_proto::hash::md5_bytes;
use ferry_proto::names::escaped;
use ferry_proto::protocol::ConflictPolicy;

/// How many upload checkpoints are kept (they cover data still in flight
/// when a connection breaks).
const KEEP_CHECKPOINTS: usize = 8;

/// Choices for [`upload`].
#[derive(Clone, Debug)]
pub struct ResumableUploadOptions {
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

/// The state file of an upload: one per server (by its verified
/// identity, see [`crate::Client::identity`]), user, local file and name.
fn state_file(dir: &Path, server: &str, user: &str, absolute: &Path, name: &str) -> PathBuf {
    let key = format!("{server}\n{user}\n{}\n{name}", absolute.display());
    dir.join(format!("upload-{}.json", md5_bytes(key.as_bytes())))
}

/// Uploads the file at `path` as `name`, continuing an interrupted upload of
/// the same unchanged file when the server still holds it, and reconnecting
/// after lost connections.
pub fn upload(
    connector: &Connector,
    path: &Path,
    name: &str,
    options: &ResumableUploadOptions,
    progress: ProgressFn<'_>,
) -> Result<UploadReport, ClientError> {
    let mut file = LocalFile::open(path)?;
    let mut job = UploadJob::new(&file, path, name, options.state_dir.as_deref());
    let what = format!("uploading {}", escaped(name));
    let reports = Reports::new(progress);
    let waiting = |retry, of| reports.reconnecting(retry, of);
    let result = with_retries(options.retry, &what, waiting, || {
        let mut client = connector.connect()?;
        let mut forward = |p| reports.report(p);
        let stored = job.run(&mut client, &mut file, options.policy, &mut forward)?;
        // The conversation is at a clean end: the next transfer may use it,
        // even one started the moment this one says it is done.
        connector.keep_for_next(client);
        let _ = reports.report(done(job.size));
        Ok(stored)
    });
    job.settle(&result);
    let (stored, retries) = result?;
    Ok(UploadReport {
        stored,
        resumed_from: job.resumed_from.unwrap_or(0),
        retries,
    })
}

/// One attempt, on `client`, at uploading the file at `path` as `name`
/// under `policy`: an interrupted upload of the same unchanged file whose
/// state `state_dir` holds (left by [`upload`] or an earlier call) is
/// continued from the byte the server confirms, and the state is saved
/// there as this one goes. No retries: a lost connection or a `Break` from
/// `progress` keeps the state for the next call; any other end removes it.
/// The connection stays usable when this succeeds. The whole-tree upload
/// drives its large files through this.
pub(crate) fn upload_attempt(
    client: &mut Client,
    path: &Path,
    name: &str,
    policy: ConflictPolicy,
    state_dir: Option<&Path>,
    progress: ProgressFn<'_>,
) -> Result<UploadReport, ClientError> {
    let mut file = LocalFile::open(path)?;
    let mut job = UploadJob::new(&file, path, name, state_dir);
    let result = job.run(client, &mut file, policy, &mut *progress);
    job.settle(&result);
    let stored = result?;
    let _ = progress(done(job.size));
    Ok(UploadReport {
        stored,
        resumed_from: job.resumed_from.unwrap_or(0),
        retries: 0,
    })
}

/// The report that a file of `size` bytes is stored, its MD5 checked.
fn done(size: u64) -> Progress {
    Progress {
        stage: Stage::Done,
        done: size,
        total: size,
    }
}

/// One upload across its attempts: which local file it sends, where its
/// resume state is saved, and what that state says.
struct UploadJob<'a> {
    name: &'a str,
    /// The local file, made absolute: part of the state's key.
    absolute: PathBuf,
    size: u64,
    mtime_ns: u64,
    state_dir: Option<&'a Path>,
    /// The verified identity of the server `state_path` and `state` are
    /// for: the same server by another address finds its state, another
    /// server at the same address does not.
    server: Option<String>,
    /// Found once the server is known.
    state_path: Option<PathBuf>,
    state: Option<UploadState>,
    /// Where the last attempt the server accepted started.
    resumed_from: Option<u64>,
}

impl<'a> UploadJob<'a> {
    fn new(file: &LocalFile, path: &Path, name: &'a str, state_dir: Option<&'a Path>) -> Self {
        UploadJob {
            name,
            absolute: fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()),
            size: file.size(),
            mtime_ns: file.file().metadata().map(|m| mtime_ns(&m)).unwrap_or(0),
            state_dir,
            server: None,
            state_path: None,
            state: None,
            resumed_from: None,
        }
    }

    /// One attempt on `client`, continuing the upload the saved state names
    /// (if it is of this very file, unchanged). [`Stage::Done`] is left to
    /// the caller, which may first hand the connection on.
    fn run(
        &mut self,
        client: &mut Client,
        file: &mut LocalFile,
        policy: ConflictPolicy,
        progress: ProgressFn<'_>,
    ) -> Result<Stored, ClientError> {
        let identity = client.identity();
        let user = client.user.clone().unwrap_or_default();
        // Checked on every attempt, as downloads do: a retry may reach
        // another server at the same address (a moved name, a proxy
        // pointed elsewhere), which must not be sent the first server's
        // upload id. The first server's state file stays, for a later
        // resume there.
        if self.server.as_deref() != Some(identity.as_str()) {
            if let Some(before) = &self.server {
                warn!(
                    "uploading {}: {} is now another server ({identity}, before {before}); \
                     the upload starts there afresh, and what the first server holds \
                     stays for a later resume there",
                    escaped(self.name),
                    client.server()
                );
            }
            self.state_path = self
                .state_dir
                .map(|dir| state_file(dir, &identity, &user, &self.absolute, self.name));
            self.state = (self.state_path.as_ref())
                .and_then(|f| fs::read(f).ok())
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .filter(|s: &UploadState| {
                    s.size == self.size && s.mtime_ns == self.mtime_ns && s.name == self.name
                });
            self.server = Some(identity.clone());
        }
        let upload_id = self.state.as_ref().map(|s| s.upload_id.clone());
        let checkpoints = self
            .state
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
                    self.resumed_from = Some(offset);
                    if self.state.as_ref().is_none_or(|s| s.upload_id != upload_id) {
                        self.state = Some(UploadState {
                            server: identity.clone(),
                            user: user.clone(),
                            path: self.absolute.clone(),
                            name: self.name.to_owned(),
                            size: self.size,
                            mtime_ns: self.mtime_ns,
                            upload_id,
                            checkpoints: Vec::new(),
                        });
                    }
                }
                UploadEvent::Checkpoint(c) => {
                    if let Some(s) = self.state.as_mut() {
                        s.checkpoints.push(c);
                        let excess = s.checkpoints.len().saturating_sub(KEEP_CHECKPOINTS);
                        s.checkpoints.drain(..excess);
                    }
                }
            }
            if let (Some(f), Some(s)) = (self.state_path.as_deref(), self.state.as_ref())
                && let Err(e) = write_json(f, s)
            {
                warn!("could not save the upload's resume state: {e}");
            }
        };
        let mut forward = |p: Progress| match p.stage {
            Stage::Done => ControlFlow::Continue(()),
            _ => progress(p),
        };
        let attempt = UploadOptions {
            policy,
            resume,
            journal: Some(&mut journal),
            progress: Some(&mut forward),
        };
        client.upload(file, self.name, attempt)
    }

    /// Tidies up after the last attempt: the state is kept only for an
    /// upload that can be continued (a lost connection, a pause).
    fn settle<T>(&self, result: &Result<T, ClientError>) {
        let keep =
            matches!(result, Err(e) if is_retryable(e) || matches!(e, ClientError::Cancelled));
        if !keep && let Some(f) = &self.state_path {
            let _ = fs::remove_file(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_server_user_file_and_name_has_its_own_state_file() {
        let dir = Path::new("/state");
        let file = Path::new("/home/a/big.iso");
        let one = state_file(dir, "SHA256:1", "alice", file, "big.iso");
        assert_eq!(
            one,
            state_file(dir, "SHA256:1", "alice", file, "big.iso"),
            "stable"
        );
        assert_eq!(one.parent(), Some(dir));
        let name = one.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with("upload-") && name.ends_with(".json"),
            "{name}"
        );
        let others = [
            state_file(dir, "SHA256:2", "alice", file, "big.iso"),
            state_file(dir, "SHA256:1", "bob", file, "big.iso"),
            state_file(
                dir,
                "SHA256:1",
                "alice",
                Path::new("/home/a/other.iso"),
                "big.iso",
            ),
            state_file(dir, "SHA256:1", "alice", file, "copy.iso"),
        ];
        assert!(others.iter().all(|other| *other != one), "{others:?}");
    }
}
