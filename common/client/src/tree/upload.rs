//! [`Client::upload_tree`]: a local folder into a server folder. Files the
//! server already holds with the same content are skipped, small files go
//! pipelined, large ones one by one through the resumable upload of
//! [`crate::transfer`], so a run after a cut continues where it stopped.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use ferry_proto::hash::Md5Digest;
use ferry_proto::names::escaped;
use ferry_proto::protocol::ErrorCode;
use log::info;

use super::{Tally, TreeUploadOptions, TreeUploaded, plan_upload, same_content, stop_on};
use crate::folders::{Entry, file_path};
use crate::transfer::upload_attempt;
use crate::{BATCH_MAX_FILE, Client, ClientError, Progress, Stage, Stored};

/// What a server folder holds already, by full path.
#[derive(Default)]
struct OnServer {
    /// Each file's current size and MD5.
    files: HashMap<String, (u64, Md5Digest)>,
    folders: HashSet<String>,
}

impl Client {
    /// Uploads the local folder `local` with everything in it into the
    /// server folder `remote` (`None`: the root), keeping its structure:
    /// each file to its path there (missing folders are created on the
    /// way), and each empty local folder created.
    ///
    /// The server folder is listed first: a local file whose server
    /// counterpart has the same size and MD5 is skipped and counted as
    /// unchanged, whatever `options.policy` (it is hashed only when the
    /// sizes match), so no pointless version is made and a tree uploaded
    /// again after a cut continues where it stopped. The other files go
    /// under `options.policy`: the small ones first, pipelined with
    /// [`Client::upload_many`]'s machinery, then the larger ones (above
    /// [`BATCH_MAX_FILE`]) one at a time. With `options.state_dir`, each
    /// large one keeps the server's upload id and MD5 checkpoints there, as
    /// [`crate::transfer::upload`] does (the same state files): one cut off
    /// continues, on the next run, from the byte the server confirms.
    ///
    /// `options.each` hears every file stored or refused, by server path;
    /// `options.progress` hears the totals and can cancel. Only a broken
    /// connection, an unreadable `local` or a cancel is an `Err` (after
    /// which the connection may be unusable); every other failure is
    /// listed in the result and the rest goes on.
    pub fn upload_tree(
        &mut self,
        local: &Path,
        remote: Option<&str>,
        options: TreeUploadOptions<'_>,
    ) -> Result<TreeUploaded, ClientError> {
        let TreeUploadOptions {
            policy,
            state_dir,
            each,
            progress,
        } = options;
        let mut unheard = |_: &str, _: &Result<Stored, ClientError>| {};
        let each = each.unwrap_or(&mut unheard);
        let remote = remote.map(file_path).transpose()?;
        let plan = plan_upload(local, remote.as_ref())?;
        let there = self.on_server(remote.as_ref().map(|r| r.as_str()))?;
        // Sizes as planned; a file that cannot be measured fails when sent.
        let sizes: Vec<u64> = plan
            .files
            .iter()
            .map(|(path, _)| fs::metadata(path).map_or(0, |m| m.len()))
            .collect();
        let mut tally = Tally::new(sizes.iter().copied(), progress);
        let mut done = TreeUploaded {
            failed: plan.skipped,
            ..TreeUploaded::default()
        };
        tally.check()?;

        for folder in &plan.folders {
            if there.folders.contains(folder.as_str()) {
                continue;
            }
            match self.mkdir(folder) {
                Ok(0) => {}
                Ok(_) => done.folders += 1,
                Err(e @ (ClientError::Io(_) | ClientError::Protocol(_))) => return Err(e),
                Err(e) => done.failed.push((local.join(folder.as_str()), e)),
            }
        }

        let mut send: Vec<(PathBuf, String)> = Vec::new();
        let mut send_sizes = Vec::new();
        for ((path, name), size) in plan.files.into_iter().zip(sizes) {
            if let Some(&(there_size, md5)) = there.files.get(&name)
                && there_size == size
                && same_content(&path, size, md5, &mut tally)?
            {
                done.unchanged += 1;
                stop_on(tally.finish_file(size))?;
            } else {
                send.push((path, name));
                send_sizes.push(size);
            }
        }

        // Small files first, pipelined; both callbacks count on the same
        // totals, one at a time.
        let (small, large): (Vec<_>, Vec<_>) = send
            .into_iter()
            .zip(send_sizes)
            .partition(|(_, size)| *size <= BATCH_MAX_FILE);
        let (batch, batch_sizes): (Vec<(PathBuf, String)>, Vec<u64>) = small.into_iter().unzip();
        let tally = RefCell::new(tally);
        let mut failed = Vec::new();
        let result = self.upload_batch(
            &batch,
            policy,
            &mut |i, outcome| {
                each(&batch[i].1, &outcome);
                let mut tally = tally.borrow_mut();
                match outcome {
                    Ok(_) => {
                        done.stored += 1;
                        tally.finish_file(batch_sizes[i])
                    }
                    Err(e) => {
                        failed.push((batch[i].0.clone(), e));
                        tally.finish_file(0)
                    }
                }
            },
            // A file that grew past the limit since it was measured goes
            // alone, from its start.
            &mut |i, p: Progress| match p.stage {
                Stage::Transferring => tally.borrow_mut().moving(p.done.min(batch_sizes[i])),
                _ => ControlFlow::Continue(()),
            },
        );
        done.failed.append(&mut failed);
        result?;

        // Then the large ones, one at a time, each continuing an upload of
        // it that was cut off, when the state folder knows one.
        let mut tally = tally.into_inner();
        for ((path, name), size) in large {
            let mut forward = |p: Progress| match p.stage {
                Stage::Transferring => tally.moving(p.done.min(size)),
                _ => ControlFlow::Continue(()),
            };
            let outcome = upload_attempt(
                self,
                &path,
                &name,
                policy,
                state_dir.as_deref(),
                &mut forward,
            );
            let flow = match outcome {
                Ok(report) => {
                    done.stored += 1;
                    done.resumed += report.resumed_from;
                    if report.resumed_from > 0 {
                        info!(
                            "tree upload continued {} from byte {}",
                            escaped(&name),
                            report.resumed_from
                        );
                    }
                    each(&name, &Ok(report.stored));
                    tally.finish_file(size)
                }
                // A lost connection or a cancel ends the tree; the server
                // keeps what it received, and the state folder its id.
                Err(e) if matches!(e, ClientError::Io(_) | ClientError::Cancelled) => {
                    return Err(e);
                }
                Err(e) if self.broken => return Err(e),
                Err(e) => {
                    let outcome = Err(e);
                    each(&name, &outcome);
                    if let Err(e) = outcome {
                        done.failed.push((path, e));
                    }
                    tally.finish_file(0)
                }
            };
            stop_on(flow)?;
        }
        Ok(done)
    }

    /// The files and folders under the server folder `remote` (`None`: the
    /// root); a folder that does not exist yet holds nothing.
    fn on_server(&mut self, remote: Option<&str>) -> Result<OnServer, ClientError> {
        let entries = match self.ls(remote, true) {
            Ok(entries) => entries,
            Err(e) if e.code() == Some(ErrorCode::NotFound) => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut there = OnServer::default();
        for entry in entries {
            match entry {
                Entry::File(f) => {
                    let current = f.current;
                    there
                        .files
                        .insert(current.name, (current.size, current.md5));
                }
                Entry::Folder(f) => {
                    there.folders.insert(f.path);
                }
            }
        }
        Ok(there)
    }
}
