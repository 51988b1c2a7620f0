//! `UPLOAD`: the checks made before any byte is accepted, the hold on an
//! upload id, the disk space reserved for it, and a resume of an upload
//! that was committed already. Receiving the body is [`super::body`]'s;
//! committing it, [`super::batch`]'s.

use std::collections::hash_map::Entry;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::PoisonError;
use std::thread;
use std::time::Instant;

use ferry_proto::names::{FilePath, escaped};
use ferry_proto::protocol::{ConflictPolicy, ErrorCode, Reply, UploadFrame};
use log::{error, info, warn};

use super::batch::{BATCH_MAX_BYTES, BATCH_MAX_FILE, BATCH_MAX_UPLOADS, Held, Landing, Verified};
use super::fault::{Fault, blocked, exists, is_disk_full, refuse};
use super::{Flow, Handled, Session};
use crate::Shared;
use crate::finished::Finished;
use crate::space::{self, Reserved};
use crate::storage::Partial;
use crate::transport::Transport;

/// A connection's exclusive hold on an upload id, so two connections never
/// write one partial upload. Released on drop.
pub(super) struct Claim<'a> {
    pub(super) shared: &'a Shared,
    pub(super) id: String,
    /// The disk space promised to the upload, given back with the claim.
    pub(super) space: Option<Reserved>,
}

impl<'a> Claim<'a> {
    /// Claims `id` for the connection on `socket`, waiting a little for
    /// another connection that holds it. A client that reconnects after a
    /// network cut is usually faster than the server's notice that its old
    /// connection is gone, and a silent cut is noticed only at the I/O
    /// timeout. So with `take_over` (the same user continuing the same
    /// upload) the old connection is cut at once, which makes it keep what
    /// it received and let go.
    pub(super) fn take(
        shared: &'a Shared,
        id: &str,
        mut socket: Option<TcpStream>,
        take_over: bool,
    ) -> Result<Claim<'a>, Fault> {
        let mut cut = false;
        for _ in 0..60 {
            let mut active = shared
                .active_uploads
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match active.entry(id.to_owned()) {
                Entry::Vacant(slot) => {
                    slot.insert(socket.take());
                    return Ok(Claim {
                        shared,
                        id: id.to_owned(),
                        space: None,
                    });
                }
                Entry::Occupied(holder) if take_over && !cut => {
                    if let Some(old) = holder.get() {
                        info!("upload {id} is continued on a new connection; cutting the old one");
                        let _ = old.shutdown(std::net::Shutdown::Both);
                    }
                    cut = true;
                }
                Entry::Occupied(_) => {}
            }
            drop(active);
            thread::sleep(std::time::Duration::from_millis(50));
        }
        Err(refuse(
            ErrorCode::Busy,
            "this upload is still being received on another connection; try again in a minute",
        ))
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.shared
            .active_uploads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// How an upload request goes on once its checks passed.
pub(super) enum Prepared<'a> {
    /// Receive the body into this upload.
    Receive(Box<Partial>, Claim<'a>),
    /// The resumed upload was committed already: confirm it.
    Stored(Finished),
}

impl<'a, S: Read + Write + Transport> Session<'a, S> {
    /// Answers a refused UPLOAD and swallows the body the client sends
    /// regardless, so the next request is read from the right place.
    pub(super) fn refuse_upload(&mut self, refusal: Handled) -> Handled {
        let Err(Fault::Refuse(code, message)) = refusal else {
            return refusal;
        };
        self.log_refusal(format_args!("upload refused: {code} {}", escaped(&message)));
        self.emit_now(Reply::error(code, message))?;
        self.discard_body()?;
        Ok(Flow::Continue)
    }

    pub(super) fn upload(
        &mut self,
        name: &FilePath,
        size: u64,
        policy: ConflictPolicy,
        resume: Option<&str>,
    ) -> Handled {
        let (partial, claim) = match self.prepare_upload(name, size, policy, resume) {
            Ok(Prepared::Receive(partial, claim)) => (*partial, claim),
            Ok(Prepared::Stored(finished)) => {
                let id = resume.expect("only a resume finds a stored upload");
                return self.confirm_stored(id, finished);
            }
            Err(refusal) => return self.refuse_upload(Err(refusal)),
        };
        let started = Instant::now();
        let offset = partial.received();
        info!(
            "{} upload start name={} size={size} policy={policy} id={} offset={offset}",
            self.who(),
            escaped(name),
            partial.id()
        );
        self.emit_now(Reply::Ready {
            upload_id: partial.id().to_owned(),
            offset,
        })?;
        // From here on the body is consumed by `receive_upload`, so a
        // refusal is answered directly rather than through `refuse_upload`.
        self.transfer_timeouts(true);
        let transfer = self.stats.transfer();
        let verified = self.receive_upload(partial, name, size);
        drop(transfer);
        self.transfer_timeouts(false);
        let outcome = match verified {
            Ok(Some((partial, md5))) => {
                let upload = Verified {
                    landing: Landing {
                        id: partial.id().to_owned(),
                        name: name.clone(),
                        policy,
                        size,
                        md5,
                        offset,
                        started,
                        _claim: claim,
                    },
                    partial,
                };
                // A small upload waits to be committed with the next ones;
                // the request loop commits the batch once the client has
                // sent all it had. A big one, or a full batch, goes now.
                self.batch.bytes += size;
                self.batch.held.push(Held::Upload(self.batch.uploads.len()));
                self.batch.uploads.push(upload);
                if size > BATCH_MAX_FILE
                    || self.batch.uploads.len() >= BATCH_MAX_UPLOADS
                    || self.batch.bytes >= BATCH_MAX_BYTES
                {
                    self.commit_batch();
                }
                return Ok(Flow::Continue);
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        drop(claim);
        match outcome {
            Ok(Some(())) => unreachable!("verified uploads are handled above"),
            Ok(None) => {
                info!(
                    "{} upload aborted by the client name={}",
                    self.who(),
                    escaped(name)
                );
                self.ok()
            }
            Err(Fault::Refuse(code, message)) => {
                warn!(
                    "{} upload failed name={}: {code} {}",
                    self.who(),
                    escaped(name),
                    escaped(&message)
                );
                self.emit(Reply::error(code, message));
                Ok(Flow::Continue)
            }
            Err(end) => Err(end),
        }
    }

    /// The checks made before any byte is accepted; then the upload to
    /// continue (when `resume` names one the server still holds for this
    /// user, name and size) or a new one, claimed for this connection.
    pub(super) fn prepare_upload(
        &mut self,
        name: &FilePath,
        size: u64,
        policy: ConflictPolicy,
        resume: Option<&str>,
    ) -> Result<Prepared<'a>, Fault> {
        let max = self.shared.config.max_upload_size;
        if size > max {
            return Err(refuse(
                ErrorCode::TooLarge,
                format!("this server accepts files of at most {max} bytes; this one has {size}"),
            ));
        }
        let user = self.user.as_ref().map_or(String::new(), |u| u.name.clone());
        // A resume first claims its id: that waits for a commit of the same
        // upload in progress, whose outcome is then known.
        let resumed = match resume {
            Some(id) => {
                let ours = self
                    .shared
                    .store
                    .partial_meta(id)
                    .is_some_and(|m| m.user == user && m.name == *name && m.size == size);
                let socket = self.conn.get_ref().socket();
                let claim = Claim::take(self.shared, id, socket, ours)?;
                let finished = self
                    .shared
                    .finished_uploads
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .find(id, &user, name, size, Instant::now())
                    .cloned();
                if let Some(finished) = finished {
                    return Ok(Prepared::Stored(finished));
                }
                Some((id, claim))
            }
            None => None,
        };
        if policy == ConflictPolicy::Fail && self.shared.db.file_exists(name)? {
            return Err(exists(name));
        }
        if let Some(b) = self.shared.db.upload_blocked(name, policy)? {
            return Err(blocked(&b));
        }
        let cannot_store = |e: io::Error| {
            error!("cannot start an upload: {e}");
            if is_disk_full(&e) {
                refuse(
                    ErrorCode::NoSpace,
                    "the server's disk is full; nothing was sent, tell the admin",
                )
            } else {
                refuse(
                    ErrorCode::Internal,
                    "the server cannot store files right now; tell the admin",
                )
            }
        };
        if let Some((id, mut claim)) = resumed {
            // Reserved before the kept upload is opened: a refusal must
            // leave it as it was, for a later resume.
            let kept = self.shared.store.partial_meta(id).map_or(0, |m| m.received);
            claim.space = Some(self.reserve_space(size.saturating_sub(kept))?);
            if let Some(partial) = self
                .shared
                .store
                .resume_partial(id, name, size, &user)
                .map_err(cannot_store)?
            {
                return Ok(Prepared::Receive(Box::new(partial), claim));
            }
            info!(
                "{} upload {id} cannot be resumed (expired or unknown); starting afresh",
                self.who()
            );
        }
        let space = self.reserve_space(size)?;
        let partial = self
            .shared
            .store
            .create_partial(name, size, &user)
            .map_err(cannot_store)?;
        let socket = self.conn.get_ref().socket();
        let mut claim = Claim::take(self.shared, partial.id(), socket, false)?;
        claim.space = Some(space);
        Ok(Prepared::Receive(Box::new(partial), claim))
    }

    /// Answers the resume of an upload that was committed already (its
    /// client missed the `OK STORED`): nothing is left to send, and once
    /// the client's MD5 matches, the stored version is confirmed.
    pub(super) fn confirm_stored(&mut self, id: &str, finished: Finished) -> Handled {
        info!(
            "{} upload {id} of {} was stored already as {} version {}; confirming it",
            self.who(),
            escaped(&finished.name),
            escaped(&finished.stored_as),
            finished.version
        );
        self.emit_now(Reply::Ready {
            upload_id: id.to_owned(),
            offset: finished.size,
        })?;
        let mut extra = false;
        let client_md5 = loop {
            match self.next_frame()? {
                UploadFrame::Data(n) => {
                    extra = true;
                    self.skip_payload(n)?;
                }
                UploadFrame::Done(md5) => break md5,
                UploadFrame::Abort => return self.ok(),
            }
        };
        let reply = if extra {
            Reply::error(
                ErrorCode::SizeMismatch,
                format!(
                    "this upload was complete at {} bytes and more arrived; nothing was changed",
                    finished.size
                ),
            )
        } else if client_md5 != finished.md5 {
            Reply::error(
                ErrorCode::Md5Mismatch,
                format!(
                    "this upload was stored with MD5 {} but the client announced {client_md5}; nothing was changed, send it again as a new upload",
                    finished.md5
                ),
            )
        } else {
            Reply::Stored {
                name: finished.stored_as,
                version: finished.version,
                size: finished.size,
                md5: finished.md5,
            }
        };
        self.emit(reply);
        Ok(Flow::Continue)
    }

    /// Reserves `need` bytes of disk for an upload, refusing one that does
    /// not fit beside the uploads in flight while keeping the configured
    /// reserve free (a full disk would otherwise fail it half-way).
    pub(super) fn reserve_space(&self, need: u64) -> Result<Reserved, Fault> {
        let config = &self.shared.config;
        let free = match fs4::available_space(&config.data_dir) {
            Ok(free) => free,
            Err(e) => {
                warn!("cannot tell the free disk space: {e}; accepting the upload");
                u64::MAX
            }
        };
        let keep = config.min_free_space;
        let mut promised = 0;
        let reserved = self.shared.space.reserve(need, |reserved| {
            promised = reserved;
            space::fits(free, reserved, need, keep)
        });
        reserved.ok_or_else(|| {
            warn!(
                "{} upload refused: {need} bytes with {free} free, {promised} promised to uploads in flight and {keep} to keep free",
                self.who(),
            );
            let left = free.saturating_sub(promised).saturating_sub(keep);
            refuse(
                ErrorCode::NoSpace,
                format!(
                    "the server's disk is too full for this file ({} free, {} needed); nothing was sent, tell the admin",
                    ferry_proto::units::human_size(left),
                    ferry_proto::units::human_size(need)
                ),
            )
        })
    }
}
