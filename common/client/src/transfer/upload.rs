//! [`upload`]: one local file to one server, continuing an interrupted
//! upload of the same unchanged file when the server still holds it, and
//! retried after lost connections. The upload id and MD5 checkpoints live
//! in a state file in the state folder ([`default_state_dir`]), never
//! beside the user's file.

use std::fs;
use std::path::{Path, PathBuf};

use log::warn;
use serde::{Deserialize, Serialize};

use super::{Connector, Reports, Retry, is_retryable, mtime_ns, with_retries, write_json};
use crate::{
    Checkpoint, ClientError, LocalFile, ProgressFn, Resume, Stored, UploadEvent, UploadOptions,
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
    let size = file.size();
    let mtime = file.file().metadata().map(|m| mtime_ns(&m)).unwrap_or(0);
    let absolute = fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    // The state belongs to one server, by its verified identity: the same
    // server by another address finds it, another server at the same
    // address does not. `server` says whose `state` and `state_path` are.
    let mut server: Option<String> = None;
    let mut state_path: Option<PathBuf> = None;
    let mut state: Option<UploadState> = None;
    let mut resumed_from = None;
    let what = format!("uploading {}", escaped(name));
    let reports = Reports::new(progress);
    let waiting = |retry, of| reports.reconnecting(retry, of);
    let result = with_retries(options.retry, &what, waiting, || {
        let mut client = connector.connect()?;
        let identity = client.identity();
        // Checked on every attempt, as downloads do: a retry may reach
        // another server at the same address (a moved name, a proxy
        // pointed elsewhere), which must not be sent the first server's
        // upload id. The first server's state file stays, for a later
        // resume there.
        if server.as_deref() != Some(identity.as_str()) {
            if let Some(before) = &server {
                warn!(
                    "{what}: {} is now another server ({identity}, before {before}); \
                     the upload starts there afresh, and what the first server holds \
                     stays for a later resume there",
                    connector.addr
                );
            }
            state_path = options
                .state_dir
                .as_ref()
                .map(|dir| state_file(dir, &identity, &connector.user, &absolute, name));
            state = state_path
                .as_ref()
                .and_then(|f| fs::read(f).ok())
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .filter(|s: &UploadState| s.size == size && s.mtime_ns == mtime && s.name == name);
            server = Some(identity.clone());
        }
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
                            server: identity.clone(),
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
            if let (Some(f), Some(s)) = (state_path.as_deref(), state.as_ref())
                && let Err(e) = write_json(f, s)
            {
                warn!("could not save the upload's resume state: {e}");
            }
        };
        let mut forward = |p| reports.report(p);
        let attempt = UploadOptions {
            policy: options.policy,
            resume,
            journal: Some(&mut journal),
            progress: Some(&mut forward),
        };
        let stored = client.upload(&mut file, name, attempt)?;
        // The conversation is at a clean end: the next transfer may use it.
        connector.keep_for_next(client);
        Ok(stored)
    });
    let keep_state =
        matches!(&result, Err(e) if is_retryable(e) || matches!(e, ClientError::Cancelled));
    if !keep_state && let Some(f) = &state_path {
        let _ = fs::remove_file(f);
    }
    let (stored, retries) = result?;
    Ok(UploadReport {
        stored,
        resumed_from: resumed_from.unwrap_or(0),
        retries,
    })
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
