//! Upload and download: local checks before connecting, the conflict
//! policy, a progress bar per file, and one result line per file.
//!
//! The bytes move through `ferry_common::transfer`, which reconnects after a
//! lost connection and keeps what it has, so running the same command again
//! after an interruption continues where it stopped.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use ferry_common::client::BATCH_MAX_FILE;
use ferry_common::mirror::{self, MirrorOptions};
use ferry_common::names::validate_name;
use ferry_common::transfer::{self, Connector, DownloadOptions, Retry, UploadOptions};
use ferry_common::{ClientError, ConflictPolicy, ErrorCode};

use super::Terminal;
use crate::args::{DownloadArgs, UploadArgs};
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
    /// The name to store it under.
    pub name: String,
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
        validate_name(&name).map_err(|reason| ClientError::BadName {
            name: name.clone(),
            reason,
        })?;
        items.push(UploadItem {
            path: path.clone(),
            name,
        });
    }
    Ok(UploadPlan {
        items,
        policy: choose_policy(args.on_conflict.map(Into::into), interactive),
    })
}

fn shown(path: &Path) -> String {
    quoted(&path.display().to_string())
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
            "{} is a folder; ferry-cli uploads files, not folders, so name the files inside it",
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
        .map(|i| (i.path.clone(), i.name.clone()))
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

/// The outcome of a batch: the first failure decides the exit status; the
/// others are printed on stderr.
fn first_failure(failures: Vec<anyhow::Error>) -> Result<()> {
    let mut failures = failures.into_iter();
    let Some(first) = failures.next() else {
        return Ok(());
    };
    for other in failures {
        eprintln!("ferry-cli: error: {other:#}");
    }
    Err(first)
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
    let mut options = UploadOptions {
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

/// Checks several names and where each will be saved (all into the `-o`
/// folder, or the current one), before connecting.
pub fn plan_downloads(args: &DownloadArgs) -> Result<Vec<(String, PathBuf)>> {
    if args.version.is_some() || !args.mirror.is_empty() {
        return Err(Failure::usage(
            "--version and --mirror apply to a single file; download the others separately",
        )
        .into());
    }
    let folder = args.output.clone().unwrap_or_else(|| PathBuf::from("."));
    if !folder.is_dir() {
        return Err(Failure::usage(format!(
            "several files are saved into a folder, but {} is not one; pass -o FOLDER",
            shown(&folder)
        ))
        .into());
    }
    let mut plan = Vec::with_capacity(args.names.len());
    for name in &args.names {
        validate_name(name).map_err(|reason| ClientError::BadName {
            name: name.clone(),
            reason,
        })?;
        let dest = folder.join(name);
        check_free(&dest, args.force)?;
        plan.push((name.clone(), dest));
    }
    Ok(plan)
}

/// Downloads several files on one connection, pipelined, printing one line
/// per file. Every file is attempted; the first failure decides the exit status.
pub fn download_batch(
    connector: &Connector,
    plan: &[(String, PathBuf)],
    out: &mut dyn Write,
) -> Result<()> {
    let mut client = connector
        .connect()
        .context("could not start the downloads")?;
    let mut failures: Vec<anyhow::Error> = Vec::new();
    let mut write_error = None;
    client
        .download_many(plan, &mut |i, result| {
            let (name, dest) = &plan[i];
            match result {
                Ok(got) => {
                    let line = format!(
                        "saved {} version {} to {} ({}, md5 {} verified)",
                        quoted(name),
                        got.version,
                        shown(dest),
                        output::human_size(got.size),
                        got.md5
                    );
                    if let Err(e) = writeln!(out, "{line}") {
                        write_error.get_or_insert(e);
                    }
                }
                Err(e) => failures.push(
                    anyhow::Error::new(e).context(format!("could not download {}", quoted(name))),
                ),
            }
        })
        .context("the connection broke during the downloads; run the same command again")?;
    if let Some(e) = write_error {
        return Err(e.into());
    }
    out.flush()?;
    first_failure(failures)
}

/// Where a download goes: `-o PATH`, a file named NAME inside `-o FOLDER`,
/// or `./NAME`. `is_dir` is passed in to keep this a pure decision.
pub fn destination(name: &str, output: Option<&Path>, is_dir: impl Fn(&Path) -> bool) -> PathBuf {
    match output {
        None => Path::new(".").join(name),
        Some(folder) if is_dir(folder) => folder.join(name),
        Some(path) => path.to_owned(),
    }
}

/// Checks the name and the output path before connecting. The name passed
/// `validate_name`, so it is a single safe path component to join.
pub fn download_destination(args: &DownloadArgs) -> Result<PathBuf> {
    let name = args.name();
    validate_name(name).map_err(|reason| ClientError::BadName {
        name: name.to_owned(),
        reason,
    })?;
    let dest = destination(name, args.output.as_deref(), Path::is_dir);
    check_free(&dest, args.force)?;
    Ok(dest)
}

/// Refuses to replace an existing file without `--force`, and a folder ever.
fn check_free(dest: &Path, force: bool) -> Result<(), Failure> {
    match fs::symlink_metadata(dest) {
        Ok(meta) if meta.is_dir() => Err(Failure::local(format!(
            "{} is a folder; choose a file path with -o",
            shown(dest)
        ))),
        Ok(_) if !force => Err(Failure::local(format!(
            "{} already exists; pass --force to replace it, or choose another path with -o",
            shown(dest)
        ))),
        // Anything else (no such file, or a parent we cannot read) is for
        // the download itself to report when it creates the file.
        _ => Ok(()),
    }
}

/// Downloads into `dest`, which only appears once the MD5 check passed. A
/// partial download left there by an interrupted run is continued.
pub fn download(
    connector: &Connector,
    args: &DownloadArgs,
    dest: &Path,
    retry: Retry,
    term: Terminal,
    out: &mut dyn Write,
) -> Result<()> {
    if !args.mirror.is_empty() {
        return download_mirrored(connector, args, dest, term, out);
    }
    let options = DownloadOptions {
        version: args.version,
        restart: args.restart,
        retry,
    };
    let mut bar = TransferBar::new(format!("↓ {}", output::safe(args.name())), term.bars);
    let result = transfer::download(connector, args.name(), dest, &options, &mut |p| {
        bar.report(p)
    });
    drop(bar);
    let report = result.with_context(|| {
        let what = match args.version {
            Some(v) => format!("version {v} of {}", quoted(args.name())),
            None => quoted(args.name()),
        };
        let again = if transfer::partial_download(dest).is_some() {
            " (what arrived is kept; run the same command again to continue)"
        } else {
            ""
        };
        format!("could not download {what}{again}")
    })?;
    for note in output::download_notes(&report) {
        eprintln!("{note}");
    }
    writeln!(out, "{}", output::saved_line(args.name(), dest, &report))?;
    out.flush()?;
    Ok(())
}

/// Downloads from `--server` and every `--mirror` at once.
fn download_mirrored(
    connector: &Connector,
    args: &DownloadArgs,
    dest: &Path,
    term: Terminal,
    out: &mut dyn Write,
) -> Result<()> {
    let mut mirrors = vec![connector.clone()];
    mirrors.extend(args.mirror.iter().map(|m| connector.for_server(m)));
    let options = MirrorOptions {
        version: args.version,
        restart: args.restart,
        ..MirrorOptions::default()
    };
    let mut bar = TransferBar::new(
        format!(
            "↓ {} ({} mirrors)",
            output::safe(args.name()),
            mirrors.len()
        ),
        term.bars,
    );
    let result = mirror::download(&mirrors, args.name(), dest, &options, &mut |p| {
        bar.report_mirrors(p)
    });
    drop(bar);
    let report = result.with_context(|| {
        let again = if transfer::sidecar_path(dest).exists() {
            " (what arrived is kept; run the same command again to continue)"
        } else {
            ""
        };
        format!("could not download {}{again}", quoted(args.name()))
    })?;
    for note in output::mirror_notes(&report) {
        eprintln!("{note}");
    }
    writeln!(out, "{}", output::mirrored_line(args.name(), dest, &report))?;
    out.flush()?;
    Ok(())
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

        let bad_name = plan_uploads(&upload_args(&[&file], Some("a/b")), false).unwrap_err();
        assert_eq!(classify(&bad_name), Exit::Usage);
    }

    #[test]
    fn download_destinations() {
        let never = |_: &Path| false;
        let always = |_: &Path| true;
        assert_eq!(destination("a b.txt", None, never), Path::new("./a b.txt"));
        assert_eq!(
            destination("a.txt", Some(Path::new("out")), always),
            Path::new("out/a.txt")
        );
        assert_eq!(
            destination("a.txt", Some(Path::new("copy.txt")), never),
            Path::new("copy.txt")
        );
    }

    #[test]
    fn existing_outputs_need_force() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("there.txt");
        fs::write(&file, b"x").unwrap();
        let refused = check_free(&file, false).unwrap_err();
        assert!(refused.to_string().contains("--force"), "{refused}");
        assert!(check_free(&file, true).is_ok());
        assert!(check_free(dir.path(), true).is_err());
        assert!(check_free(&dir.path().join("new.txt"), false).is_ok());
    }
}
