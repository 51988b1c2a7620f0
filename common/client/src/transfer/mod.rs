//! Transfers that survive broken connections and crashes: each reconnects
//! and resumes where the bytes stopped, with retries and back-off.
//!
//! **Downloads** ([`download`]) write `NAME.part` beside the target and a
//! JSON sidecar `NAME.part.json` (see [`crate::partial`]) holding the
//! server, name, pinned version, size, MD5, the bytes received and the
//! running MD5 state over them, so a resume neither re-fetches nor re-hashes
//! the prefix. A resume is pinned to its version: if that version is gone
//! the download restarts cleanly and says why, so a file is never a splice
//! of two versions. If the `.part` was touched since the sidecar was saved,
//! or the final MD5 check fails, the file is checked chunk by chunk against
//! the server's per-chunk MD5s and only bad chunks are fetched again.
//!
//! **Uploads** ([`upload`]) keep the server's upload id and MD5 checkpoints
//! in a state file (in a state folder, never beside the user's file), and
//! continue from the byte the server confirms.
//!
//! Both key their resume state on the server's verified identity (its
//! certificate fingerprint over TLS) and check it on every attempt: the
//! same server by another address resumes, another server at the same
//! address starts afresh.
//!
//! The whole-tree transfers keep their large files the same way, through
//! the same code, one attempt at a time on the caller's connection:
//! [`Client::download_tree`] in the same `.part` and sidecar,
//! [`Client::upload_tree`] in the same state files.
//!
//! This module owns how to reach a server again ([`Connector`]) and when to
//! try again ([`Retry`], [`with_retries`]); the bytes move through [`Client::upload`] and
//! [`Client::download`].

mod download;
mod upload;

use std::cell::RefCell;
use std::fs;
use std::io;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant, UNIX_EPOCH};

use log::{info, warn};
use serde::Serialize;

use crate::partial::with_suffix;
use crate::{Client, ClientError, Progress, ProgressFn, Security, Stage};
use ferry_proto::protocol::ErrorCode;

pub(crate) use download::download_listed;
pub use download::{
    DownloadReport, DownloadState, ResumableDownloadOptions, discard_partial_download,
    discard_partial_downloads_in, download, partial_download,
};
pub(crate) use upload::upload_attempt;
pub use upload::{ResumableUploadOptions, UploadReport, default_state_dir, upload};

/// How many logged-in connections a [`Connector`] keeps for reuse.
pub const SPARES: usize = 4;
/// A kept connection idle for longer is pinged before it is handed out:
/// the server may have dropped it meanwhile.
const CHECK_SPARE_AFTER: Duration = Duration::from_secs(15);

/// How to reach and log in to a server, again and again. Connections that
/// finished a transfer cleanly are kept (up to [`SPARES`], shared by the
/// clones) and handed out again, so a queue of transfers logs in once
/// per connection rather than once per file.
#[derive(Clone)]
pub struct Connector {
    /// `host:port`.
    pub addr: String,
    /// How connections are secured.
    pub security: Security,
    /// User name.
    pub user: String,
    password: String,
    /// How long one read or write may stall before the connection counts as lost.
    pub io_timeout: Duration,
    /// Logged-in connections for the next [`Connector::connect`]s, with
    /// when each was last used (shared by clones for the same server).
    spare: Arc<Mutex<Vec<(Client, Instant)>>>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Connector({}@{})", self.user, self.addr)
    }
}

impl Connector {
    /// A connector for `user` at `addr`, secured by `security`.
    pub fn new(
        addr: impl Into<String>,
        security: Security,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Connector {
            addr: addr.into(),
            security,
            user: user.into(),
            password: password.into(),
            io_timeout: crate::DEFAULT_IO_TIMEOUT,
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

    /// The same connector, sharing its kept connections, that logs in
    /// with another password from now on (the user changed theirs; the
    /// kept connections are logged in already).
    pub fn with_password(&self, password: impl Into<String>) -> Connector {
        Connector {
            password: password.into(),
            ..self.clone()
        }
    }

    /// Keeps `client`, logged in to this connector's server, for the next
    /// [`Connector::connect`]: a caller that logged in first to check the
    /// credentials saves the transfer a second login, and a transfer that
    /// finished hands its connection to the next. Beyond [`SPARES`] the
    /// oldest goes.
    pub fn keep_for_next(&self, client: Client) {
        let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        spare.push((client, Instant::now()));
        let excess = spare.len().saturating_sub(SPARES);
        spare.drain(..excess);
    }

    /// How many logged-in connections are kept for reuse now.
    pub fn spares(&self) -> usize {
        self.spare
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The most recently kept connection that still answers, if any.
    fn take_spare(&self) -> Option<Client> {
        loop {
            let (mut client, since) = self
                .spare
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop()?;
            if since.elapsed() < CHECK_SPARE_AFTER || client.ping().is_ok() {
                return Some(client);
            }
            info!("a kept connection to {} was closed; dropping it", self.addr);
        }
    }

    /// The same connector with another stall timeout.
    pub fn with_timeout(mut self, io_timeout: Duration) -> Self {
        self.io_timeout = io_timeout;
        self
    }

    /// Connects and logs in (or hands out a kept connection).
    pub fn connect(&self) -> Result<Client, ClientError> {
        if let Some(client) = self.take_spare() {
            return Ok(client);
        }
        let mut client = Client::connect_with_timeout(&self.addr, &self.security, self.io_timeout)?;
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
    /// How long to wait before retry `retry` (from 1).
    pub fn delay(&self, retry: u32) -> Duration {
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

/// How often a transfer waiting to reconnect says so (and hears "stop").
const NOTICE_EVERY: Duration = Duration::from_millis(100);

/// Runs `attempt` until it succeeds, fails for good, or retries run out;
/// returns its value with the number of retries it took. Only errors that
/// [`is_retryable`] are tried again, after a wait that doubles each time.
/// While it waits it calls `waiting(retry, of)` about ten times a second; a
/// `Break` from it ends the wait with [`ClientError::Cancelled`]. `what`
/// names the work in the log. This is how the transfers here retry; a
/// caller with work of its own (a whole tree, reconnecting each attempt
/// with a [`Connector`]) can use it the same way.
pub fn with_retries<T>(
    retry: Retry,
    what: &str,
    mut waiting: impl FnMut(u32, u32) -> ControlFlow<()>,
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
                let until = Instant::now() + wait;
                loop {
                    if waiting(used, retry.retries).is_break() {
                        return Err(ClientError::Cancelled);
                    }
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    thread::sleep(left.min(NOTICE_EVERY));
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// A transfer's progress callback, shared by its attempts and the waits to
/// reconnect between them, remembering the last report so that a
/// [`Stage::Reconnecting`] report says how far the transfer got.
struct Reports<'p> {
    inner: RefCell<(ProgressFn<'p>, Progress)>,
}

impl<'p> Reports<'p> {
    fn new(progress: ProgressFn<'p>) -> Self {
        let start = Progress {
            stage: Stage::Transferring,
            done: 0,
            total: 0,
        };
        Reports {
            inner: RefCell::new((progress, start)),
        }
    }

    /// Passes a report on.
    fn report(&self, p: Progress) -> ControlFlow<()> {
        let mut inner = self.inner.borrow_mut();
        inner.1 = p;
        (inner.0)(p)
    }

    /// Reports a wait to reconnect.
    fn reconnecting(&self, retry: u32, of: u32) -> ControlFlow<()> {
        let mut inner = self.inner.borrow_mut();
        let last = inner.1;
        (inner.0)(Progress {
            stage: Stage::Reconnecting { retry, of },
            ..last
        })
    }
}

/// A file's modification time in nanoseconds since the epoch (0 if the
/// system cannot say): how a saved state recognises its file unchanged.
fn mtime_ns(meta: &fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Writes JSON atomically: a new file renamed over the old.
fn write_json(path: &Path, value: &impl Serialize) -> Result<(), ClientError> {
    let local = ClientError::local;
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| local("create", dir, e))?;
    }
    let json =
        serde_json::to_vec_pretty(value).map_err(|e| local("write", path, io::Error::other(e)))?;
    let tmp = with_suffix(path, ".new");
    fs::write(&tmp, json).map_err(|e| local("write", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| local("write", path, e))
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
    fn retries_stop_at_the_first_final_error() {
        let quick = Retry {
            retries: 3,
            first_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
        };
        let mut calls = 0;
        let result: Result<((), u32), _> = with_retries(
            quick,
            "test",
            |_, _| ControlFlow::Continue(()),
            || {
                calls += 1;
                match calls {
                    1 => Err(ClientError::Io(io::ErrorKind::ConnectionReset.into())),
                    _ => Err(ClientError::Cancelled),
                }
            },
        );
        assert!(matches!(result, Err(ClientError::Cancelled)));
        assert_eq!(calls, 2);

        let mut calls = 0;
        let (value, used) = with_retries(
            quick,
            "test",
            |_, _| ControlFlow::Continue(()),
            || {
                calls += 1;
                if calls < 3 {
                    Err(ClientError::Io(io::ErrorKind::TimedOut.into()))
                } else {
                    Ok(calls)
                }
            },
        )
        .unwrap();
        assert_eq!((value, used), (3, 2));

        let gave_up = with_retries(
            quick,
            "test",
            |_, _| ControlFlow::Continue(()),
            || -> Result<(), _> { Err(ClientError::Io(io::ErrorKind::TimedOut.into())) },
        );
        assert!(
            matches!(gave_up, Err(ClientError::Io(_))),
            "after 3 retries"
        );
    }

    #[test]
    fn waits_to_reconnect_are_reported_and_can_be_stopped() {
        let quick = Retry {
            retries: 2,
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
        };
        let lost = || ClientError::Io(io::ErrorKind::ConnectionReset.into());
        let mut seen = Vec::new();
        let mut report = |p: Progress| {
            seen.push(p);
            ControlFlow::Continue(())
        };
        {
            let reports = Reports::new(&mut report);
            let mut calls = 0;
            let result = with_retries(
                quick,
                "test",
                |retry, of| reports.reconnecting(retry, of),
                || {
                    calls += 1;
                    let _ = reports.report(Progress {
                        stage: Stage::Transferring,
                        done: 10 * calls,
                        total: 100,
                    });
                    Err::<(), _>(lost())
                },
            );
            assert!(matches!(result, Err(ClientError::Io(_))));
        }
        let reconnects: Vec<_> = seen
            .iter()
            .filter_map(|p| match p.stage {
                Stage::Reconnecting { retry, of } => Some((retry, of, p.done)),
                _ => None,
            })
            .collect();
        assert!(reconnects.contains(&(1, 2, 10)), "{reconnects:?}");
        assert!(reconnects.contains(&(2, 2, 20)), "{reconnects:?}");
        assert_eq!(reconnects.last(), Some(&(2, 2, 20)));

        // "Stop" while waiting ends the wait at once.
        let slow = Retry {
            retries: 5,
            first_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(30),
        };
        let started = Instant::now();
        let stopped = with_retries(
            slow,
            "test",
            |_, _| ControlFlow::Break(()),
            || Err::<(), _>(lost()),
        );
        assert!(matches!(stopped, Err(ClientError::Cancelled)));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn state_is_written_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deeper/state.json");
        write_json(&path, &vec![1, 2, 3]).unwrap();
        write_json(&path, &vec![4]).unwrap();
        let back: Vec<u32> = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(back, [4]);
        assert!(!with_suffix(&path, ".new").exists());
    }
}
