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
use ferry_common::names::{LocalOs, local_file_name_for, validate_name};
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

/// What `download` with several names will do, checked before connecting.
#[derive(Debug)]
pub struct BatchPlan {
    /// Each name on the server with the file it is saved to.
    files: Vec<(String, PathBuf)>,
    /// For each file, the note that says its name was changed to be saved
    /// on this system, if it was.
    renamed: Vec<Option<String>>,
}

/// Checks several names and where each will be saved (all into the `-o`
/// folder, or the current one, under the name `os` can save), before
/// connecting. Two names that would land in the same file are refused.
pub fn plan_downloads(args: &DownloadArgs, os: LocalOs) -> Result<BatchPlan> {
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
    let mut plan = BatchPlan {
        files: Vec::with_capacity(args.names.len()),
        renamed: Vec::with_capacity(args.names.len()),
    };
    for name in &args.names {
        checked_name(name)?;
        let dest = destination(name, Some(&folder), |_| true, os);
        if let Some((other, _)) = plan
            .files
            .iter()
            .find(|(other, path)| other != name && same_file(path, &dest.path, os))
        {
            return Err(Failure::usage(format!(
                "{} and {} would both be saved as {} on {os}; \
                 download one of them separately with -o PATH",
                quoted(other),
                quoted(name),
                shown(&dest.path)
            ))
            .into());
        }
        check_free(&dest.path, args.force)?;
        plan.files.push((name.clone(), dest.path));
        plan.renamed.push(dest.renamed);
    }
    Ok(plan)
}

/// Whether two paths in one folder name the same file on `os`: Windows and
/// macOS (by default) ignore case.
fn same_file(a: &Path, b: &Path, os: LocalOs) -> bool {
    match os {
        LocalOs::Windows | LocalOs::MacOs => {
            a.to_string_lossy().to_lowercase() == b.to_string_lossy().to_lowercase()
        }
        LocalOs::Other => a == b,
    }
}

fn checked_name(name: &str) -> Result<(), ClientError> {
    validate_name(name).map_err(|reason| ClientError::BadName {
        name: name.to_owned(),
        reason,
    })
}

/// Downloads several files on one connection, pipelined, printing one line
/// per file. Every file is attempted; the first failure decides the exit status.
pub fn download_batch(connector: &Connector, plan: &BatchPlan, out: &mut dyn Write) -> Result<()> {
    let mut client = connector
        .connect()
        .context("could not start the downloads")?;
    let mut failures: Vec<anyhow::Error> = Vec::new();
    let mut write_error = None;
    client
        .download_many(&plan.files, &mut |i, result| {
            let (name, dest) = &plan.files[i];
            match result {
                Ok(got) => {
                    if let Some(note) = &plan.renamed[i] {
                        eprintln!("{note}");
                    }
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

/// Where one download goes.
#[derive(Debug, PartialEq, Eq)]
pub struct Destination {
    /// The file to create.
    pub path: PathBuf,
    /// When the file is named after the name on the server but that name
    /// cannot be saved here as it is: the line that says what was done.
    pub renamed: Option<String>,
}

/// Where a download goes: `-o PATH` as given, or, inside `-o FOLDER` or the
/// current folder, a file named after NAME by the rule of
/// [`local_file_name_for`] for `os`. `is_dir` is passed in to keep this a
/// pure decision. The name passed `validate_name`, so it is a single path
/// component to join, and so is its local form.
pub fn destination(
    name: &str,
    output: Option<&Path>,
    is_dir: impl Fn(&Path) -> bool,
    os: LocalOs,
) -> Destination {
    let folder = match output {
        None => Path::new("."),
        Some(folder) if is_dir(folder) => folder,
        Some(path) => {
            return Destination {
                path: path.to_owned(),
                renamed: None,
            };
        }
    };
    let local = local_file_name_for(name, os);
    Destination {
        path: folder.join(&*local),
        renamed: (local != name).then(|| output::renamed_note(name, &local, os)),
    }
}

/// Checks the name and the output path before connecting.
pub fn download_destination(args: &DownloadArgs, os: LocalOs) -> Result<Destination> {
    let name = args.name();
    checked_name(name)?;
    let dest = destination(name, args.output.as_deref(), Path::is_dir, os);
    check_free(&dest.path, args.force)?;
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
    target: &Destination,
    retry: Retry,
    term: Terminal,
    out: &mut dyn Write,
) -> Result<()> {
    let dest = target.path.as_path();
    if !args.mirror.is_empty() {
        return download_mirrored(connector, args, target, term, out);
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
    for note in output::download_notes(&report)
        .into_iter()
        .chain(target.renamed.clone())
    {
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
    target: &Destination,
    term: Terminal,
    out: &mut dyn Write,
) -> Result<()> {
    let dest = target.path.as_path();
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
    for note in output::mirror_notes(&report)
        .into_iter()
        .chain(target.renamed.clone())
    {
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
        let here = LocalOs::Other;
        let plain = |path: &str| Destination {
            path: PathBuf::from(path),
            renamed: None,
        };
        assert_eq!(
            destination("a b.txt", None, never, here),
            plain("./a b.txt")
        );
        assert_eq!(
            destination("a.txt", Some(Path::new("out")), always, here),
            plain("out/a.txt")
        );
        assert_eq!(
            destination("a.txt", Some(Path::new("copy.txt")), never, here),
            plain("copy.txt")
        );
        assert_eq!(destination("CON", None, never, here), plain("./CON"));
    }

    #[test]
    fn names_windows_cannot_save_are_mapped_and_said() {
        let never = |_: &Path| false;
        let always = |_: &Path| true;
        let win = LocalOs::Windows;
        let con = destination("CON", Some(Path::new("out")), always, win);
        assert_eq!(con.path, Path::new("out/_CON"));
        assert_eq!(
            con.renamed.as_deref(),
            Some(
                r#"ferry-cli: note: saved "CON" as "_CON": "CON" is not a valid file name on Windows"#
            )
        );
        let here = destination("a?b.txt", None, never, win);
        assert_eq!(here.path, Path::new("./a_b.txt"));
        assert!(
            here.renamed
                .unwrap()
                .contains(r#"saved "a?b.txt" as "a_b.txt""#)
        );
        assert_eq!(
            destination("notes.", None, never, win).path,
            Path::new("./notes_")
        );
        // A name that needs no change says nothing.
        assert_eq!(destination("report.pdf", None, never, win).renamed, None);
        // An explicit -o PATH is the user's choice, used as given.
        assert_eq!(
            destination("CON", Some(Path::new("console.txt")), never, win),
            Destination {
                path: PathBuf::from("console.txt"),
                renamed: None
            }
        );
    }

    fn download_args(names: &[&str], output: &Path) -> DownloadArgs {
        DownloadArgs {
            names: names.iter().map(|n| (*n).to_owned()).collect(),
            version: None,
            output: Some(output.to_owned()),
            force: false,
            restart: false,
            mirror: Vec::new(),
        }
    }

    #[test]
    fn batch_plans_use_local_names_and_refuse_collisions() {
        let dir = tempfile::tempdir().unwrap();
        let args = download_args(&["CON.txt", "a?b", "plain.txt"], dir.path());
        let plan = plan_downloads(&args, LocalOs::Windows).unwrap();
        let paths: Vec<&Path> = plan.files.iter().map(|(_, p)| p.as_path()).collect();
        assert_eq!(
            paths,
            [
                dir.path().join("_CON.txt"),
                dir.path().join("a_b"),
                dir.path().join("plain.txt")
            ]
        );
        assert_eq!(plan.files[0].0, "CON.txt", "the server's name is asked for");
        assert!(plan.renamed[0].as_deref().unwrap().ends_with(
            r#"saved "CON.txt" as "_CON.txt": "CON.txt" is not a valid file name on Windows"#
        ));
        assert!(plan.renamed[1].is_some());
        assert_eq!(plan.renamed[2], None);
        // On Linux the same names are saved as they are.
        let plan = plan_downloads(&args, LocalOs::Other).unwrap();
        assert_eq!(plan.files[1].1, dir.path().join("a?b"));
        assert!(plan.renamed.iter().all(Option::is_none));

        let clash = plan_downloads(
            &download_args(&["a?b", "a_b"], dir.path()),
            LocalOs::Windows,
        )
        .unwrap_err();
        assert_eq!(classify(&clash), Exit::Usage);
        let text = clash.to_string();
        assert!(
            text.starts_with(r#""a?b" and "a_b" would both be saved as "#)
                && text.contains(" on Windows; download one of them separately"),
            "{text}"
        );
        let case = plan_downloads(
            &download_args(&["A.txt", "a.txt"], dir.path()),
            LocalOs::MacOs,
        );
        assert!(case.is_err(), "macOS ignores case by default");
        assert!(
            plan_downloads(
                &download_args(&["A.txt", "a.txt"], dir.path()),
                LocalOs::Other
            )
            .is_ok()
        );
        // An existing local file counts under its local name.
        fs::write(dir.path().join("_CON.txt"), b"x").unwrap();
        let taken =
            plan_downloads(&download_args(&["CON.txt"], dir.path()), LocalOs::Windows).unwrap_err();
        assert!(taken.to_string().contains("_CON.txt"), "{taken}");
    }

    /// The real server with "CON.bin" (version 1, then 2) and "a?b.txt".
    struct Served {
        server: Option<ferry_server::Server>,
        connector: Connector,
        dir: tempfile::TempDir,
    }

    impl Drop for Served {
        fn drop(&mut self) {
            if let Some(server) = self.server.take() {
                server.shutdown();
            }
        }
    }

    fn upload_bytes(connector: &Connector, dir: &Path, name: &str, bytes: &[u8]) {
        let source = dir.join("source");
        fs::write(&source, bytes).unwrap();
        let options = UploadOptions {
            policy: ConflictPolicy::Overwrite,
            retry: Retry::default(),
            state_dir: None,
        };
        transfer::upload(connector, &source, name, &options, &mut |_| {
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    }

    fn serve() -> Served {
        use ferry_server::testing;
        let dir = tempfile::tempdir().unwrap();
        let config = testing::config(dir.path().join("data"), dir.path().join("logs"));
        let server = ferry_server::Server::start(config).unwrap();
        let addr = server.local_addrs()[0].to_string();
        let connector = Connector::new(addr, "admin", testing::ADMIN_PASSWORD);
        Served {
            server: Some(server),
            connector,
            dir,
        }
    }

    fn version_1() -> Vec<u8> {
        (0..3u32 << 20).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn a_windows_rename_downloads_and_resumes_under_the_local_name() {
        let served = serve();
        let connector = &served.connector;
        upload_bytes(connector, served.dir.path(), "CON.bin", &version_1());
        let out_dir = served.dir.path().join("out");
        fs::create_dir(&out_dir).unwrap();
        let args = download_args(&["CON.bin"], &out_dir);
        let target = download_destination(&args, LocalOs::Windows).unwrap();
        assert_eq!(target.path, out_dir.join("_CON.bin"));
        assert!(target.renamed.is_some());

        // An interrupted first run leaves its partial beside the local name.
        let stopped = transfer::download(
            connector,
            "CON.bin",
            &target.path,
            &DownloadOptions::default(),
            &mut |p| {
                if p.done > 0 {
                    std::ops::ControlFlow::Break(())
                } else {
                    std::ops::ControlFlow::Continue(())
                }
            },
        );
        assert!(
            matches!(stopped, Err(ClientError::Cancelled)),
            "{stopped:?}"
        );
        let partial = transfer::partial_download(&target.path).expect("a sidecar");
        assert_eq!(
            partial.name, "CON.bin",
            "the sidecar keeps the server's name"
        );
        assert!(partial.received > 0 && partial.received < partial.size);
        assert!(transfer::part_path(&target.path).exists());

        // The file changes on the server; only a resume still fetches version 1.
        upload_bytes(connector, served.dir.path(), "CON.bin", b"version 2");
        let term = Terminal {
            interactive: false,
            bars: false,
        };
        let again = download_destination(&args, LocalOs::Windows).unwrap();
        assert_eq!(again, target, "the same command finds the same file");
        let mut out = Vec::new();
        download(connector, &args, &again, Retry::default(), term, &mut out).unwrap();
        let line = String::from_utf8(out).unwrap();
        assert!(
            line.starts_with(r#"saved "CON.bin" version 1 to "#) && line.contains("_CON.bin"),
            "{line}"
        );
        assert!(fs::read(&target.path).unwrap() == version_1());
        assert!(transfer::partial_download(&target.path).is_none());
        assert!(!transfer::part_path(&target.path).exists());
        assert!(!out_dir.join("CON.bin").exists());
    }

    #[test]
    fn a_batch_saves_windows_names_under_their_local_names() {
        let served = serve();
        let connector = &served.connector;
        upload_bytes(connector, served.dir.path(), "a?b.txt", b"question");
        upload_bytes(connector, served.dir.path(), "plain.txt", b"plain");
        let out_dir = served.dir.path().join("out");
        fs::create_dir(&out_dir).unwrap();
        let args = download_args(&["a?b.txt", "plain.txt"], &out_dir);
        let plan = plan_downloads(&args, LocalOs::Windows).unwrap();
        let mut out = Vec::new();
        download_batch(connector, &plan, &mut out).unwrap();
        assert_eq!(fs::read(out_dir.join("a_b.txt")).unwrap(), b"question");
        assert_eq!(fs::read(out_dir.join("plain.txt")).unwrap(), b"plain");
        assert!(!out_dir.join("a?b.txt").exists());
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(r#"saved "a?b.txt" version 1 to "#), "{text}");
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
