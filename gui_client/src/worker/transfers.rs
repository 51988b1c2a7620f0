//! Transfers off the UI thread: [`WorkerHandle::upload`] and
//! [`WorkerHandle::download`] start one named thread per transfer, which waits
//! for a slot, runs it through common's resumable `transfer` module (or its
//! `mirror` module for a download from several servers, or the client's
//! whole-tree transfers for a folder), and reports progress as throttled
//! [`TransferUpdate`]s, stopping when the UI asks.
//!
//! It does not own the transfer rows (that is `state::transfers`) nor decide
//! what runs next (the app does).

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use ferry_client::ClientError;
use ferry_client::mirror::{self, MirrorOptions, MirrorProgress};
use ferry_client::transfer::{
    self, Connector, ResumableDownloadOptions, ResumableUploadOptions, Retry,
};
use ferry_client::{Client, Progress, Stage, TreeDownloadOptions, TreeProgress, TreeUploadOptions};
use ferry_proto::protocol::{ConflictPolicy, ErrorCode};
use log::warn;

use super::credentials::Credentials;
use super::messages::{
    DownloadJob, Event, FolderOutcome, Stop, StopFlag, TransferId, TransferUpdate, UploadJob,
};
use super::session::WorkerHandle;
use super::slots::TransferSlots;

/// How often a transfer reports progress (and wakes the UI) at most.
const REPORT_EVERY: Duration = Duration::from_millis(50);
/// How far back the speed estimate looks.
const RATE_WINDOW: Duration = Duration::from_secs(3);

impl WorkerHandle {
    /// Starts an upload on its own thread.
    pub fn upload(&self, job: UploadJob) {
        let name = format!("upload-{}", job.id);
        let id = job.id;
        let reporter = self.reporter(id, job.stop.clone());
        let (connector, slots) = (self.creds().connector(), self.slots.clone());
        let state_dir = self.state_dir.clone();
        self.spawn_transfer(name, id, move || {
            if job.folder {
                run_folder_upload(&connector, &slots, state_dir, &job, reporter);
            } else {
                run_upload(&connector, &slots, state_dir, &job, reporter);
            }
        });
    }

    /// Starts a download on its own thread.
    pub fn download(&self, job: DownloadJob) {
        let name = format!("download-{}", job.id);
        let id = job.id;
        let reporter = self.reporter(id, job.stop.clone());
        let slots = self.slots.clone();
        let creds = self.creds();
        self.spawn_transfer(name, id, move || {
            if job.folder {
                run_folder_download(&creds.connector(), &slots, &job, reporter);
            } else {
                run_download(&creds, &slots, &job, reporter);
            }
        });
    }

    fn reporter(&self, id: TransferId, stop: Arc<StopFlag>) -> Reporter {
        Reporter {
            id,
            events: self.events_tx.clone(),
            ctx: self.ctx.clone(),
            stop,
            last_sent: None,
            last_stage: None,
            last_total: 0,
            rate: Rate::default(),
            ui_gone: false,
        }
    }

    /// Deletes the partial downloads of a stopped download to `dest` (a
    /// file, or with `folder` everything below that folder) on a thread of
    /// its own: a folder may be large, and the UI must not wait for it.
    pub fn discard_partials(&self, dest: PathBuf, folder: bool) {
        let spawned = thread::Builder::new()
            .name("discard".to_owned())
            .spawn(move || {
                if folder {
                    transfer::discard_partial_downloads_in(&dest);
                } else {
                    transfer::discard_partial_download(&dest);
                }
            });
        if let Err(e) = spawned {
            warn!("could not start a thread to delete partial downloads ({e})");
        }
    }

    fn spawn_transfer(&self, name: String, id: TransferId, body: impl FnOnce() + Send + 'static) {
        if let Err(e) = thread::Builder::new().name(name).spawn(body) {
            let _ = self.events_tx.send(Event::Transfer {
                id,
                update: TransferUpdate::Failed(format!(
                    "the app could not start a thread for this transfer ({e}); try again"
                )),
            });
        }
    }
}

fn run_upload(
    connector: &Connector,
    slots: &TransferSlots,
    state_dir: Option<PathBuf>,
    job: &UploadJob,
    mut reporter: Reporter,
) {
    let Some(_slot) = slots.acquire(&job.stop) else {
        reporter.stopped();
        return;
    };
    reporter.send(TransferUpdate::Connecting);
    let options = ResumableUploadOptions {
        policy: job.policy,
        retry: Retry::default(),
        state_dir,
    };
    let result = transfer::upload(connector, &job.path, &job.name, &options, &mut |p| {
        reporter.progress(p)
    });
    match result {
        Ok(report) => reporter.send(TransferUpdate::Uploaded(report)),
        Err(ClientError::Cancelled) => reporter.stopped(),
        Err(e) if e.code() == Some(ErrorCode::Exists) && job.policy == ConflictPolicy::Fail => {
            reporter.send(TransferUpdate::NameTaken);
        }
        // A name, or a path too long or deep: another name can fix it.
        Err(e @ (ClientError::BadName { .. } | ClientError::BadPath { .. })) => {
            reporter.send(TransferUpdate::NameRefused(e.to_string()))
        }
        Err(e) if e.code() == Some(ErrorCode::BadName) => {
            reporter.send(TransferUpdate::NameRefused(e.to_string()));
        }
        // The app shows and logs the failure, once.
        Err(e) => reporter.send(TransferUpdate::Failed(e.to_string())),
    }
}

/// Runs a download: from the session's server, or from it and the job's
/// mirrors at once. A pause keeps the partial file for the resume; a
/// cancel does not.
fn run_download(
    creds: &Credentials,
    slots: &TransferSlots,
    job: &DownloadJob,
    mut reporter: Reporter,
) {
    let Some(_slot) = slots.acquire(&job.stop) else {
        if job.stop.get() == Stop::Cancel {
            transfer::discard_partial_download(&job.dest);
        }
        reporter.stopped();
        return;
    };
    reporter.send(TransferUpdate::Connecting);
    let result = if job.mirrors.is_empty() {
        fetch_single(creds, job, &mut reporter)
    } else {
        fetch_mirrored(creds, job, &mut reporter)
    };
    match result {
        Ok(update) => reporter.send(update),
        Err(ClientError::Cancelled) => {
            if job.stop.get() != Stop::Pause {
                transfer::discard_partial_download(&job.dest);
            }
            reporter.stopped();
        }
        // The app shows and logs the failure, once.
        Err(e) => reporter.send(TransferUpdate::Failed(e.to_string())),
    }
}

fn fetch_single(
    creds: &Credentials,
    job: &DownloadJob,
    reporter: &mut Reporter,
) -> Result<TransferUpdate, ClientError> {
    let options = ResumableDownloadOptions {
        version: job.version,
        restart: false,
        retry: Retry::default(),
    };
    let report = transfer::download(
        &creds.connector(),
        &job.name,
        &job.dest,
        &options,
        &mut |p| reporter.progress(p),
    )?;
    Ok(TransferUpdate::Downloaded {
        report,
        dest: job.dest.clone(),
    })
}

fn fetch_mirrored(
    creds: &Credentials,
    job: &DownloadJob,
    reporter: &mut Reporter,
) -> Result<TransferUpdate, ClientError> {
    // The session's server first, then the mirrors, all with this login.
    let connectors: Vec<Connector> = std::iter::once(creds.connector())
        .chain(
            job.mirrors
                .iter()
                .filter(|addr| **addr != creds.addr)
                .map(|addr| creds.connector().for_server(addr)),
        )
        .collect();
    let options = MirrorOptions {
        version: job.version,
        ..MirrorOptions::default()
    };
    let report = mirror::download(&connectors, &job.name, &job.dest, &options, &mut |p| {
        reporter.mirror_progress(p)
    })?;
    Ok(TransferUpdate::MirroredDownload {
        report,
        dest: job.dest.clone(),
    })
}

/// Uploads a whole local folder into a server folder. A file whose name
/// is taken by other content under `fail` is kept on the server (the user
/// chose Skip), not a failure. A large file cut off or paused keeps its
/// upload id in `state_dir`, as single uploads do, and continues there.
fn run_folder_upload(
    connector: &Connector,
    slots: &TransferSlots,
    state_dir: Option<PathBuf>,
    job: &UploadJob,
    reporter: Reporter,
) {
    // Files stored by every attempt: a later one finds them unchanged.
    let mut stored = 0;
    run_folder(
        connector,
        slots,
        &job.stop,
        None,
        reporter,
        |client, reporter| {
            let mut progress = |p: TreeProgress| reporter.tree_progress(p);
            let mut each =
                |_: &str, result: &Result<_, ClientError>| stored += result.is_ok() as usize;
            let options = TreeUploadOptions {
                policy: job.policy,
                // A large file cut off or paused continues where it stopped.
                state_dir: state_dir.clone(),
                each: Some(&mut each),
                progress: Some(&mut progress),
            };
            let done = client.upload_tree(&job.path, Some(&job.name), options)?;
            let mut outcome = FolderOutcome {
                moved: stored,
                unchanged: (done.stored + done.unchanged).saturating_sub(stored),
                ..FolderOutcome::default()
            };
            for (local, e) in done.failed {
                let shown = local
                    .strip_prefix(&job.path)
                    .unwrap_or(&local)
                    .display()
                    .to_string();
                if e.code() == Some(ErrorCode::Exists) && job.policy == ConflictPolicy::Fail {
                    outcome.kept.push(shown);
                } else {
                    outcome.failed.push((shown, e.to_string()));
                }
            }
            Ok(outcome)
        },
    );
}

/// Downloads a whole server folder into a local folder. A local file that
/// differs from the server's, without `overwrite`, is kept (the user
/// chose Skip), not a failure.
fn run_folder_download(
    connector: &Connector,
    slots: &TransferSlots,
    job: &DownloadJob,
    reporter: Reporter,
) {
    // Files saved by every attempt: a later one finds them unchanged.
    let mut saved = 0;
    let dest = Some(job.dest.as_path());
    run_folder(
        connector,
        slots,
        &job.stop,
        dest,
        reporter,
        |client, reporter| {
            let mut progress = |p: TreeProgress| reporter.tree_progress(p);
            let mut each =
                |_: &str, result: &Result<_, ClientError>| saved += result.is_ok() as usize;
            let options = TreeDownloadOptions {
                overwrite: job.overwrite,
                each: Some(&mut each),
                progress: Some(&mut progress),
            };
            let done = client.download_tree(Some(&job.name), &job.dest, options)?;
            let mut outcome = FolderOutcome {
                moved: saved,
                unchanged: (done.saved + done.unchanged).saturating_sub(saved),
                resumed: done.resumed,
                ..FolderOutcome::default()
            };
            for (path, e) in done.failed {
                if matches!(e, ClientError::LocalExists { .. }) && !job.overwrite {
                    outcome.kept.push(path);
                } else {
                    outcome.failed.push((path, e.to_string()));
                }
            }
            Ok(outcome)
        },
    );
}

/// Runs a whole-folder transfer once it has a slot, on a connection from
/// `connector`, and reports how it ended. A cancelled download deletes
/// the partial files it left below `download_to`; the files that arrived
/// whole stay.
fn run_folder(
    connector: &Connector,
    slots: &TransferSlots,
    stop: &StopFlag,
    download_to: Option<&Path>,
    mut reporter: Reporter,
    run: impl FnMut(&mut Client, &mut Reporter) -> Result<FolderOutcome, ClientError>,
) {
    let Some(_slot) = slots.acquire(stop) else {
        reporter.stopped();
        return;
    };
    reporter.send(TransferUpdate::Connecting);
    match with_reconnects(connector, &mut reporter, run) {
        Ok(outcome) => reporter.send(TransferUpdate::FolderDone(outcome)),
        Err(ClientError::Cancelled) => {
            if stop.get() == Stop::Cancel
                && let Some(dir) = download_to
            {
                transfer::discard_partial_downloads_in(dir);
            }
            reporter.stopped();
        }
        // The app shows and logs the failure, once.
        Err(e) => reporter.send(TransferUpdate::Failed(e.to_string())),
    }
}

/// Runs `run` on a connection from `connector`, and again on a new one
/// after a lost connection, with the single transfers' back-off. Each run
/// skips the files the last one finished, and a cut large file continues
/// from where it stopped.
fn with_reconnects(
    connector: &Connector,
    reporter: &mut Reporter,
    mut run: impl FnMut(&mut Client, &mut Reporter) -> Result<FolderOutcome, ClientError>,
) -> Result<FolderOutcome, ClientError> {
    let retry = Retry::default();
    let mut used = 0;
    loop {
        let result = connector.connect().and_then(|mut client| {
            let outcome = run(&mut client, reporter)?;
            connector.keep_for_next(client);
            Ok(outcome)
        });
        match result {
            Err(e) if transfer::is_retryable(&e) && used < retry.retries => {
                used += 1;
                warn!(
                    "folder transfer: {e}; reconnecting (retry {used} of {})",
                    retry.retries
                );
                if reporter.wait_to_reconnect(retry, used).is_break() {
                    return Err(ClientError::Cancelled);
                }
            }
            other => return other,
        }
    }
}

/// Turns progress callbacks into throttled events and answers "stop?".
struct Reporter {
    id: TransferId,
    events: Sender<Event>,
    ctx: egui::Context,
    stop: Arc<StopFlag>,
    last_sent: Option<Instant>,
    last_stage: Option<Stage>,
    /// The total of the last report.
    last_total: u64,
    rate: Rate,
    ui_gone: bool,
}

impl Reporter {
    fn progress(&mut self, p: Progress) -> ControlFlow<()> {
        let now = Instant::now();
        self.rate.sample(now, p.done);
        self.last_total = p.total;
        let stage_changed = self.last_stage != Some(p.stage);
        let due = self
            .last_sent
            .is_none_or(|t| now.duration_since(t) >= REPORT_EVERY);
        if stage_changed || due {
            self.last_stage = Some(p.stage);
            self.last_sent = Some(now);
            self.send(TransferUpdate::Progress {
                stage: p.stage,
                done: p.done,
                total: p.total,
                speed: self.rate.per_second(),
            });
        }
        if self.ui_gone || self.stop.get() != Stop::Run {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    /// A whole-folder transfer's progress: its bytes as for one file, and
    /// its files.
    fn tree_progress(&mut self, p: TreeProgress) -> ControlFlow<()> {
        let due = self.last_sent.is_none_or(|t| t.elapsed() >= REPORT_EVERY);
        if due || p.files_done == p.files_total {
            self.send(TransferUpdate::Files {
                done: p.files_done,
                total: p.files_total,
            });
            // Make the bytes report go out now too.
            self.last_sent = None;
        }
        self.progress(Progress {
            stage: Stage::Transferring,
            done: p.bytes_done,
            total: p.bytes_total,
        })
    }

    /// Waits before retry `retry` of a whole-folder transfer, saying
    /// "reconnecting" about ten times a second; `Break` when the user
    /// stopped it meanwhile.
    fn wait_to_reconnect(&mut self, policy: Retry, retry: u32) -> ControlFlow<()> {
        let until = Instant::now() + policy.delay(retry);
        let (done, total) = (self.rate.last_done(), self.last_total);
        loop {
            let stage = Stage::Reconnecting {
                retry,
                of: policy.retries,
            };
            // Every notice goes out: a stop asked meanwhile is heard here.
            self.last_sent = None;
            if self.progress(Progress { stage, done, total }).is_break() {
                return ControlFlow::Break(());
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return ControlFlow::Continue(());
            }
            thread::sleep(left.min(Duration::from_millis(100)));
        }
    }

    fn mirror_progress(&mut self, p: &MirrorProgress) -> ControlFlow<()> {
        let due = self.last_sent.is_none_or(|t| t.elapsed() >= REPORT_EVERY);
        if due || p.stage != Stage::Transferring {
            self.send(TransferUpdate::Mirrors(p.mirrors.clone()));
            // Make the overall report go out now too.
            self.last_sent = None;
        }
        self.progress(p.overall())
    }

    fn send(&mut self, update: TransferUpdate) {
        let event = Event::Transfer {
            id: self.id,
            update,
        };
        if self.events.send(event).is_err() {
            self.ui_gone = true;
        } else {
            self.ctx.request_repaint();
        }
    }

    /// Reports a stop the UI asked for, as a pause or a cancel.
    fn stopped(&mut self) {
        let update = match self.stop.get() {
            Stop::Pause => TransferUpdate::Paused,
            Stop::Run | Stop::Cancel => TransferUpdate::Cancelled,
        };
        self.send(update);
    }
}

/// A transfer rate over the last few seconds.
#[derive(Default)]
struct Rate {
    samples: VecDeque<(Instant, u64)>,
}

impl Rate {
    fn sample(&mut self, at: Instant, done: u64) {
        self.samples.push_back((at, done));
        while self.samples.len() > 2
            && self
                .samples
                .front()
                .is_some_and(|(t, _)| at.duration_since(*t) > RATE_WINDOW)
        {
            self.samples.pop_front();
        }
    }

    /// The bytes of the last sample.
    fn last_done(&self) -> u64 {
        self.samples.back().map_or(0, |(_, done)| *done)
    }

    fn per_second(&self) -> f64 {
        let (Some((t0, b0)), Some((t1, b1))) = (self.samples.front(), self.samples.back()) else {
            return 0.0;
        };
        let secs = t1.duration_since(*t0).as_secs_f64();
        if secs < 0.05 {
            return 0.0;
        }
        b1.saturating_sub(*b0) as f64 / secs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_uses_the_recent_window() {
        let mut rate = Rate::default();
        let t0 = Instant::now();
        rate.sample(t0, 0);
        assert_eq!(rate.per_second(), 0.0);
        rate.sample(t0 + Duration::from_secs(1), 1000);
        rate.sample(t0 + Duration::from_secs(2), 2000);
        assert!((rate.per_second() - 1000.0).abs() < 1.0);
        rate.sample(t0 + Duration::from_secs(10), 2000 + 8 * 500);
        // The old samples fell out of the window.
        assert!(rate.per_second() < 1000.0);
    }
}
