//! `upload`: local checks before connecting, the conflict policy (asking a
//! person at the terminal when none was given), a progress bar per file,
//! and one result line per file.
//!
//! One file goes through `ferry_client::transfer`, which reconnects after a
//! lost connection and keeps what it has, so running the same command again
//! after an interruption continues where it stopped. Several go on one
//! connection, the small ones pipelined.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use ferry_client::BATCH_MAX_FILE;
use ferry_client::ClientError;
use ferry_client::transfer::{self, Connector, ResumableUploadOptions, Retry};
use ferry_proto::names::FilePath;
use ferry_proto::{ConflictPolicy, ErrorCode};

use super::{Terminal, first_failure, shown};
use crate::args::UploadArgs;
use crate::exit::{Exit, Failure};
use crate::output::{self, quoted};
use crate::progress::TransferBar;
use crate::prompt::{self, ConflictChoice};

/// How to treat a name that is already taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyChoice {
    /// The user said what to do (or no one is there to ask).
    Fixed(ConflictPolicy),
    /// Try without overwriting; on a conflict, ask the person at the terminal.
    Ask,
}

impl PolicyChoice {
    fn first_try(self) -> ConflictPolicy {
        match self {
            PolicyChoice::Fixed(policy) => policy,
            PolicyChoice::Ask => ConflictPolicy::Fail,
        }
    }
}

/// The policy for a run: the flag if given; otherwise ask a person, and let
/// a script fail safely rather than overwrite anything.
pub fn choose_policy(flag: Option<ConflictPolicy>, interactive: bool) -> PolicyChoice {
    match flag {
        Some(policy) => PolicyChoice::Fixed(policy),
        None if interactive => PolicyChoice::Ask,
        None => PolicyChoice::Fixed(ConflictPolicy::Fail),
    }
}

/// One file to upload.
#[derive(Debug, PartialEq, Eq)]
pub struct UploadItem {
    /// Where it is.
    pub path: PathBuf,
    /// The name (or path into folders) to store it under.
    pub name: FilePath,
}

/// What `upload` will do, checked before connecting.
#[derive(Debug)]
pub struct UploadPlan {
    items: Vec<UploadItem>,
    policy: PolicyChoice,
}

/// Checks every PATH (a readable regular file with a usable name) before
/// anything is sent, so a typo in the last path does not leave the first
/// ones uploaded.
pub fn plan_uploads(args: &UploadArgs, interactive: bool) -> Result<UploadPlan> {
    if args.as_name.is_some() && args.paths.len() != 1 {
        return Err(Failure::usage(format!(
            "--as names a single file, but {} paths were given; upload them one at a time",
            args.paths.len()
        ))
        .into());
    }
    let mut items = Vec::with_capacity(args.paths.len());
    for path in &args.paths {
        check_uploadable(path)?;
        let name = match &args.as_name {
            Some(name) => name.clone(),
            None => remote_name(path)?,
        };
        items.push(UploadItem {
            path: path.clone(),
            name: ferry_client::file_path(&name)?,
        });
    }
    Ok(UploadPlan {
        items,
        policy: choose_policy(args.on_conflict.map(Into::into), interactive),
    })
}

fn check_uploadable(path: &Path) -> Result<(), Failure> {
    let meta = fs::metadata(path).map_err(|e| {
        Failure::local(if e.kind() == io::ErrorKind::NotFound {
            format!("{} does not exist; check the path", shown(path))
        } else {
            format!("could not read {}: {e}", shown(path))
        })
    })?;
    if meta.is_dir() {
        return Err(Failure::local(format!(
            "{} is a folder; upload it with -r to keep its structure, or name the files inside it",
            shown(path)
        )));
    }
    if !meta.is_file() {
        return Err(Failure::local(format!(
            "{} is not a regular file; only regular files can be uploaded",
            shown(path)
        )));
    }
    Ok(())
}

/// The name a file is stored under when `--as` is not given: its own.
pub fn remote_name(path: &Path) -> Result<String, Failure> {
    let name = path.file_name().ok_or_else(|| {
        Failure::usage(format!(
            "{} does not end in a file name; give one with --as NAME",
            shown(path)
        ))
    })?;
    name.to_str().map(str::to_owned).ok_or_else(|| {
        Failure::usage(format!(
            "the file name of {} is not valid UTF-8; give a name with --as NAME",
            shown(path)
        ))
    })
}

/// Uploads the planned files, printing one line per file. One file goes
/// through the resumable path. Several go on one connection: the small ones
/// pipelined, the large ones (and any whose name is taken, when a person is
/// there to ask) one by one. Every file is attempted; if any failed, the
/// first failure decides the exit status.
pub fn upload(
    connector: &Connector,
    plan: &UploadPlan,
    retry: Retry,
    term: Terminal,
    out: &mut dyn Write,
) -> Result<()> {
    if let [item] = plan.items.as_slice() {
        return upload_one(connector, item, plan.policy, retry, term, out);
    }
    let is_small =
        |item: &&UploadItem| fs::metadata(&item.path).is_ok_and(|m| m.len() <= BATCH_MAX_FILE);
    let (small, large): (Vec<&UploadItem>, Vec<&UploadItem>) =
        plan.items.iter().partition(is_small);
    let files: Vec<(PathBuf, String)> = small
        .iter()
        .map(|i| (i.path.clone(), i.name.to_string()))
        .collect();
    let mut failures: Vec<anyhow::Error> = Vec::new();
    let mut to_ask: Vec<&UploadItem> = Vec::new();
    let mut client = connector.connect().context("could not start the uploads")?;
    let mut write_error = None;
    client
        .upload_many(
            &files,
            plan.policy.first_try(),
            &mut |i, result| match result {
                Ok(stored) => {
                    if let Err(e) = writeln!(out, "{}", output::stored_line(&files[i].1, &stored)) {
                        write_error.get_or_insert(e);
                    }
                }
                Err(e)
                    if e.code() == Some(ErrorCode::Exists) && plan.policy == PolicyChoice::Ask =>
                {
                    to_ask.push(small[i]);
                }
                Err(e) => failures.push(upload_failure(small[i], e, plan.policy)),
            },
        )
        .context("the connection broke during the uploads; run the same command again")?;
    drop(client);
    if let Some(e) = write_error {
        return Err(e.into());
    }
    out.flush()?;
    for item in to_ask.into_iter().chain(large) {
        if let Err(e) = upload_one(connector, item, plan.policy, retry, term, out) {
            failures.push(e);
        }
    }
    first_failure(failures)
}

/// Uploads one file through the resumable path, asking what to do about a
/// taken name when a person is there to answer.
fn upload_one(
    connector: &Connector,
    item: &UploadItem,
    policy: PolicyChoice,
    retry: Retry,
    term: Terminal,
    out: &mut dyn Write,
) -> Result<()> {
    let mut options = ResumableUploadOptions {
        policy: policy.first_try(),
        retry,
        state_dir: transfer::default_state_dir(),
    };
    loop {
        let mut bar = TransferBar::new(format!("↑ {}", output::safe(&item.name)), term.bars);
        let result = transfer::upload(connector, &item.path, &item.name, &options, &mut |p| {
            bar.report(p)
        });
        drop(bar);
        let error = match result {
            Ok(report) => {
                if report.resumed_from > 0 {
                    eprintln!(
                        "{}",
                        output::upload_resumed_note(&item.name, report.resumed_from)
                    );
                }
                writeln!(out, "{}", output::stored_line(&item.name, &report.stored))?;
                out.flush()?;
                return Ok(());
            }
            Err(error) => error,
        };
        let taken =
            error.code() == Some(ErrorCode::Exists) && options.policy == ConflictPolicy::Fail;
        if !(taken && policy == PolicyChoice::Ask) {
            return Err(upload_failure(item, error, policy));
        }
        options.policy = match prompt::conflict(&item.name)? {
            ConflictChoice::Overwrite => ConflictPolicy::Overwrite,
            ConflictChoice::Rename => ConflictPolicy::Rename,
            ConflictChoice::Skip => {
                writeln!(out, "skipped {}: it already exists", quoted(&item.name))?;
                out.flush()?;
                return Ok(());
            }
        };
    }
}

/// The error for a failed upload, in the words a script's user needs.
fn upload_failure(item: &UploadItem, error: ClientError, policy: PolicyChoice) -> anyhow::Error {
    if error.code() == Some(ErrorCode::Exists) && policy != PolicyChoice::Ask {
        // The server's own words do not know about our flag.
        return Failure::new(
            Exit::Exists,
            format!(
                "could not upload {}: {} already exists on the server; \
                 pass --on-conflict overwrite or --on-conflict rename to store it anyway",
                shown(&item.path),
                quoted(&item.name)
            ),
        )
        .into();
    }
    let again = if transfer::is_retryable(&error) {
        " (run the same command again to continue where it stopped)"
    } else {
        ""
    };
    anyhow::Error::new(error).context(format!("could not upload {}{again}", shown(&item.path)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::ConflictArg;
    use crate::exit::classify;

    fn upload_args(paths: &[&Path], as_name: Option<&str>) -> UploadArgs {
        UploadArgs {
            paths: paths.iter().map(|p| p.to_path_buf()).collect(),
            as_name: as_name.map(str::to_owned),
            on_conflict: None,
            recursive: false,
        }
    }

    #[test]
    fn policy_defaults() {
        use ConflictPolicy::*;
        assert_eq!(choose_policy(None, false), PolicyChoice::Fixed(Fail));
        assert_eq!(choose_policy(None, true), PolicyChoice::Ask);
        assert_eq!(
            choose_policy(Some(Rename), true),
            PolicyChoice::Fixed(Rename)
        );
        assert_eq!(
            choose_policy(Some(Overwrite), false),
            PolicyChoice::Fixed(Overwrite)
        );
        assert_eq!(PolicyChoice::Ask.first_try(), Fail);
    }

    #[test]
    fn remote_names_come_from_the_file_name() {
        assert_eq!(
            remote_name(Path::new("dir/Übersicht März.txt")).unwrap(),
            "Übersicht März.txt"
        );
        assert_eq!(remote_name(Path::new("report.pdf")).unwrap(), "report.pdf");
        assert!(remote_name(Path::new("dir/..")).is_err());
        assert!(remote_name(Path::new("/")).is_err());
    }

    #[test]
    fn plans_check_every_path_first() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a b.txt");
        fs::write(&file, b"x").unwrap();

        let plan = plan_uploads(&upload_args(&[&file], None), false).unwrap();
        assert_eq!(plan.items[0].name, "a b.txt");
        assert_eq!(plan.policy, PolicyChoice::Fixed(ConflictPolicy::Fail));

        let mut args = upload_args(&[&file], Some("other.txt"));
        args.on_conflict = Some(ConflictArg::Rename);
        let plan = plan_uploads(&args, true).unwrap();
        assert_eq!(plan.items[0].name, "other.txt");
        assert_eq!(plan.policy, PolicyChoice::Fixed(ConflictPolicy::Rename));

        let folder = plan_uploads(&upload_args(&[&file, dir.path()], None), false).unwrap_err();
        assert_eq!(classify(&folder), Exit::LocalFile);
        assert!(folder.to_string().contains("is a folder"), "{folder}");

        let missing = plan_uploads(&upload_args(&[&dir.path().join("nope")], None), false);
        assert_eq!(classify(&missing.unwrap_err()), Exit::LocalFile);

        let two_as = plan_uploads(&upload_args(&[&file, &file], Some("x")), false).unwrap_err();
        assert_eq!(classify(&two_as), Exit::Usage);

        for bad in ["a//b", "../b", "a\\b"] {
            let bad_name = plan_uploads(&upload_args(&[&file], Some(bad)), false).unwrap_err();
            assert_eq!(classify(&bad_name), Exit::Usage, "{bad}");
        }
        let into_folder = plan_uploads(&upload_args(&[&file], Some("a/b")), false).unwrap();
        assert_eq!(into_folder.items[0].name, "a/b");
    }
}
