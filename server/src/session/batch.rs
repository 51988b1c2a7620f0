//! Group commit: small verified uploads of a pipelining client wait here
//! and are committed together, with every reply that must wait behind
//! them so replies stay in request order. The commit itself (store, then
//! database, rolled back per upload) is [`crate::commit`]'s.

use std::io::{Read, Write};
use std::sync::PoisonError;
use std::time::Instant;

use ferry_proto::Md5Digest;
use ferry_proto::names::{FilePath, escaped};
use ferry_proto::protocol::{ConflictPolicy, Reply};
use log::{error, info};

use super::Session;
use super::fault::{db_failure, exists, fault_reply, path_refusal, storage_failure};
use super::upload::Claim;
use crate::commit::{self, Arrival, CommitError};
use crate::finished::Finished;
use crate::storage::Partial;
use crate::transport::Transport;

/// Uploads received and verified but not yet committed, and every reply
/// that must wait behind them so replies stay in request order.
#[derive(Default)]
pub(super) struct Batch<'a> {
    pub(super) uploads: Vec<Verified<'a>>,
    pub(super) held: Vec<Held>,
    pub(super) bytes: u64,
}

/// An upload whose bytes arrived intact, waiting for its commit.
pub(super) struct Verified<'a> {
    pub(super) partial: Partial,
    pub(super) landing: Landing<'a>,
}

/// What is known of a verified upload besides its bytes.
pub(super) struct Landing<'a> {
    pub(super) id: String,
    pub(super) name: FilePath,
    pub(super) policy: ConflictPolicy,
    pub(super) size: u64,
    pub(super) md5: Md5Digest,
    pub(super) offset: u64,
    pub(super) started: Instant,
    /// Held until the upload is recorded, so that a resume of it waits for
    /// the outcome.
    pub(super) _claim: Claim<'a>,
}

/// A reply held behind uncommitted uploads.
pub(super) enum Held {
    Line(Reply),
    /// The final reply of `batch.uploads[i]`, known once it is committed.
    Upload(usize),
}

/// Uploads up to this size may wait for a group commit.
pub(super) const BATCH_MAX_FILE: u64 = 1 << 20;

/// How many uploads a group commit takes at most.
pub(super) const BATCH_MAX_UPLOADS: usize = 64;

/// How many bytes a group commit takes at most.
pub(super) const BATCH_MAX_BYTES: u64 = 16 << 20;

impl<'a, S: Read + Write + Transport> Session<'a, S> {
    /// Commits the uploads waiting in the batch together and releases the
    /// replies held behind them, in order.
    pub(super) fn commit_batch(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        if batch.uploads.is_empty() {
            return;
        }
        let count = batch.uploads.len();
        let (partials, landings): (Vec<Partial>, Vec<Landing<'_>>) = batch
            .uploads
            .into_iter()
            .map(|v| (v.partial, v.landing))
            .unzip();
        let arrivals: Vec<Arrival<'_>> = landings
            .iter()
            .map(|l| Arrival {
                name: &l.name,
                policy: l.policy,
                size: l.size,
                md5: l.md5,
            })
            .collect();
        let uploader = self.user.as_ref().map_or(String::new(), |u| u.name.clone());
        let outcomes = commit::uploads(
            &self.shared.store,
            &self.shared.db,
            &uploader,
            partials,
            &arrivals,
        );
        let mut replies: Vec<Option<Reply>> = Vec::with_capacity(count);
        for (landing, outcome) in landings.iter().zip(outcomes) {
            let name = &landing.name;
            let reply = match outcome {
                Ok((stored, version)) => {
                    info!(
                        "{} upload end name={} stored_as={} version={version} bytes={} received={} md5={} secs={:.3} (group of {count})",
                        self.who(),
                        escaped(name),
                        escaped(&stored),
                        landing.size,
                        landing.size - landing.offset,
                        landing.md5,
                        landing.started.elapsed().as_secs_f64()
                    );
                    let finished = Finished {
                        user: uploader.clone(),
                        name: name.to_string(),
                        size: landing.size,
                        md5: landing.md5,
                        stored_as: stored.clone(),
                        version,
                    };
                    self.shared
                        .finished_uploads
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .record(landing.id.clone(), finished, Instant::now());
                    Reply::Stored {
                        name: stored,
                        version,
                        size: landing.size,
                        md5: landing.md5,
                    }
                }
                Err(CommitError::Exists) => fault_reply(exists(name)),
                Err(CommitError::Refused(e)) => fault_reply(path_refusal(e)),
                Err(CommitError::Database(e)) => fault_reply(db_failure(&e)),
                Err(CommitError::Storage(e)) => {
                    error!("cannot commit the upload of {}: {e}", escaped(name));
                    fault_reply(storage_failure(&e))
                }
            };
            replies.push(Some(reply));
        }
        for held in batch.held {
            let reply = match held {
                Held::Line(reply) => reply,
                Held::Upload(i) => replies[i].take().expect("one reply per upload"),
            };
            self.conn.queue(reply);
        }
    }
}
