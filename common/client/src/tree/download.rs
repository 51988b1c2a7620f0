//! [`Client::download_tree`]: a server folder into a local one. Files the
//! local folder already holds unchanged are skipped, small files come
//! pipelined, large ones one by one through the resumable download of
//! [`crate::transfer`], so a run after a cut continues where it stopped.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use ferry_proto::names::{LocalOs, escaped};
use ferry_proto::protocol::VersionInfo;
use log::info;

use super::{Tally, TreeDownloadOptions, TreeDownloaded, plan_download, same_content, stop_on};
use crate::folders::{Entry, file_path};
use crate::partial::sidecar_path;
use crate::transfer::download_listed;
use crate::{BATCH_MAX_FILE, Client, ClientError, Downloaded, Progress, Stage};

impl Client {
    /// Downloads the server folder `remote` (`None`: the root) with
    /// everything in it into the local folder `local` (created if
    /// missing), keeping its structure, empty folders included.
    ///
    /// A local file with the same size and MD5 as the server's current
    /// version is left alone and counted as unchanged (it is hashed only
    /// when the sizes match). One that differs is replaced only with
    /// `options.overwrite`; otherwise it is kept and listed as failed.
    /// Small files come pipelined, each MD5-checked and renamed into place.
    /// Larger ones (above [`BATCH_MAX_FILE`]) come one at a time into
    /// `NAME.part` with the `NAME.part.json` sidecar of
    /// [`crate::transfer::download`], pinned to the version the listing
    /// showed: after a cut, the next run continues each from its last saved
    /// byte, or starts it again if the server's file changed meanwhile.
    ///
    /// `options.each` hears every file saved or failed, by server path;
    /// `options.progress` hears the totals and can cancel. The result lists
    /// every failure by server path. Only a lost connection, a local folder
    /// that cannot be created, or a cancel is an `Err`; after one the
    /// connection may be unusable, and running the same tree again (on a
    /// new connection) continues the work.
    pub fn download_tree(
        &mut self,
        remote: Option<&str>,
        local: &Path,
        options: TreeDownloadOptions<'_>,
    ) -> Result<TreeDownloaded, ClientError> {
        let TreeDownloadOptions {
            overwrite,
            each,
            progress,
        } = options;
        let mut unheard = |_: &str, _: &Result<Downloaded, ClientError>| {};
        let each = each.unwrap_or(&mut unheard);
        let folder = remote.map(file_path).transpose()?;
        let entries = self.ls(remote, true)?;
        let plan = plan_download(&entries, folder.as_ref(), local, LocalOs::current());
        let listed: HashMap<&str, &VersionInfo> = entries
            .iter()
            .filter_map(|e| match e {
                Entry::File(f) => Some((f.current.name.as_str(), &f.current)),
                Entry::Folder(_) => None,
            })
            .collect();
        let files: Vec<(&VersionInfo, PathBuf)> = plan
            .files
            .into_iter()
            .filter_map(|(name, dest)| Some((*listed.get(name.as_str())?, dest)))
            .collect();
        let mut tally = Tally::new(files.iter().map(|(info, _)| info.size), progress);
        let mut done = TreeDownloaded {
            failed: plan.skipped,
            ..TreeDownloaded::default()
        };
        tally.check()?;

        fs::create_dir_all(local).map_err(|cause| ClientError::local("create", local, cause))?;
        for dir in &plan.folders {
            match fs::create_dir_all(dir) {
                Ok(()) => done.folders += 1,
                Err(cause) => {
                    let e = ClientError::local("create", dir, cause);
                    done.failed.push((dir.to_string_lossy().into_owned(), e));
                }
            }
        }

        // What is there already: unchanged, or in the way.
        let mut small = Vec::new();
        let mut large = Vec::new();
        for (info, dest) in files {
            if same_content(&dest, info.size, info.md5, &mut tally)? {
                done.unchanged += 1;
                stop_on(tally.finish_file(info.size))?;
            } else if !overwrite && fs::symlink_metadata(&dest).is_ok() {
                let refused = Err(ClientError::LocalExists { path: dest });
                each(&info.name, &refused);
                if let Err(e) = refused {
                    done.failed.push((info.name.clone(), e));
                }
                stop_on(tally.finish_file(0))?;
            } else if info.size > BATCH_MAX_FILE {
                large.push((info, dest));
            } else {
                small.push((info, dest));
            }
        }

        let batch: Vec<(String, PathBuf)> = small
            .iter()
            .map(|(info, dest)| (info.name.clone(), dest.clone()))
            .collect();
        let mut failed = Vec::new();
        let pipelined = self.download_batch(&batch, &mut |i, outcome| {
            let name = &batch[i].0;
            each(name, &outcome);
            match outcome {
                Ok(_) => {
                    // A sidecar left by a cut when the file was large is
                    // of no use now.
                    let _ = fs::remove_file(sidecar_path(&small[i].1));
                    done.saved += 1;
                    tally.finish_file(small[i].0.size)
                }
                Err(e) => {
                    failed.push((name.clone(), e));
                    tally.finish_file(0)
                }
            }
        });
        done.failed.append(&mut failed);
        pipelined?;

        for (info, dest) in large {
            let mut forward = |p: Progress| match p.stage {
                Stage::Transferring => tally.moving(p.done.min(info.size)),
                _ => std::ops::ControlFlow::Continue(()),
            };
            let flow = match download_listed(self, info, &dest, &mut forward) {
                Ok(report) => {
                    done.saved += 1;
                    done.resumed += report.resumed_from;
                    done.restarted.extend(report.restarted);
                    if report.resumed_from > 0 {
                        info!(
                            "tree download continued {} from byte {}",
                            escaped(&info.name),
                            report.resumed_from
                        );
                    }
                    let got = Downloaded {
                        version: report.version,
                        size: report.size,
                        md5: report.md5,
                    };
                    each(&info.name, &Ok(got));
                    tally.finish_file(info.size)
                }
                // A lost connection or a cancel ends the tree; the `.part`
                // and its sidecar stay for the next run.
                Err(e) if matches!(e, ClientError::Io(_) | ClientError::Cancelled) => {
                    return Err(e);
                }
                Err(e) if self.broken => return Err(e),
                Err(e) => {
                    let outcome = Err(e);
                    each(&info.name, &outcome);
                    if let Err(e) = outcome {
                        done.failed.push((info.name.clone(), e));
                    }
                    tally.finish_file(0)
                }
            };
            stop_on(flow)?;
        }
        Ok(done)
    }
}
