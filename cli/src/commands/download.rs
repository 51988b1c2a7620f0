//! `download`: the name and the local path checked before connecting (a
//! name this system cannot save is mapped, and the change said), then one
//! file through `ferry_client::transfer` with a progress bar (a partial
//! download left by an interrupted run is continued), or several names on
//! one connection, pipelined, into a folder.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use ferry_client::transfer::{self, Connector, ResumableDownloadOptions, Retry};
use ferry_proto::names::{LocalOs, local_file_name_for};

use super::{Terminal, first_failure, mirror, shown};
use crate::args::DownloadArgs;
use crate::exit::Failure;
use crate::output::{self, quoted};
use crate::progress::TransferBar;

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
    if folder.exists() && !folder.is_dir() {
        return Err(Failure::usage(format!(
            "several files are saved into a folder, but {} is a file; pass -o with a folder (a new one is made)",
            shown(&folder)
        ))
        .into());
    }
    make_folder(&folder)?;
    let mut plan = BatchPlan {
        files: Vec::with_capacity(args.names.len()),
        renamed: Vec::with_capacity(args.names.len()),
    };
    for name in &args.names {
        ferry_client::file_path(name)?;
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
/// [`local_file_name_for`] for `os`: for a path into folders (`a/b/c.txt`),
/// after its last part only (`c.txt`). `is_dir` is passed in to keep this a
/// pure decision. The name passed `validate_path`, so its last part is a
/// single path component to join, and so is its local form.
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
    let last = name.rsplit('/').next().unwrap_or(name);
    let local = local_file_name_for(last, os);
    Destination {
        path: folder.join(&*local),
        renamed: (local != last).then(|| output::renamed_note(name, &local, os)),
    }
}

/// Checks the name and the output path before connecting. An `-o` that
/// ends with a path separator names a folder, made if it is not there.
pub fn download_destination(args: &DownloadArgs, os: LocalOs) -> Result<Destination> {
    let name = args.name();
    ferry_client::file_path(name)?;
    let names_folder = |path: &Path| path.is_dir() || ends_with_separator(path);
    let dest = destination(name, args.output.as_deref(), names_folder, os);
    if let Some(output) = args.output.as_deref().filter(|o| ends_with_separator(o)) {
        make_folder(output)?;
    } else if let Some(parent) = dest.path.parent()
        && !parent.as_os_str().is_empty()
        && !parent.is_dir()
    {
        return Err(Failure::local(format!(
            "there is no folder {} to save {} in; make it first, or end -o with / to have it made",
            shown(parent),
            shown(&dest.path)
        ))
        .into());
    }
    check_free(&dest.path, args.force)?;
    Ok(dest)
}

/// Whether `path` is written as a folder: it ends with a separator.
fn ends_with_separator(path: &Path) -> bool {
    path.as_os_str()
        .as_encoded_bytes()
        .last()
        .is_some_and(|&b| std::path::is_separator(b as char))
}

/// Makes the folder `-o` names, with any missing folder above it.
fn make_folder(folder: &Path) -> Result<(), Failure> {
    fs::create_dir_all(folder).map_err(|e| {
        Failure::local(format!(
            "could not make the folder {} ({e}); choose another with -o",
            shown(folder)
        ))
    })
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
        return mirror::download(connector, args, target, term, out);
    }
    let options = ResumableDownloadOptions {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::{Exit, classify};
    use ferry_client::ClientError;
    use ferry_client::partial::part_path;
    use ferry_client::transfer::ResumableUploadOptions;
    use ferry_proto::ConflictPolicy;

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
            recursive: false,
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

    /// The real TLS server with "CON.bin" (version 1, then 2) and "a?b.txt".
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
        let options = ResumableUploadOptions {
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
        let mut config = testing::config(dir.path().join("data"), dir.path().join("logs"));
        config.tls = ferry_server::tls::TlsSource::Generated;
        let server = ferry_server::Server::start(config).unwrap();
        let addr = server.local_addrs()[0].to_string();
        // Over TLS, as the CLI connects; the pin lives in memory only.
        let trust = ferry_client::Trust::nothing()
            .vouch(server.fingerprint().expect("a TLS server"))
            .unwrap();
        let connector = Connector::new(
            addr,
            ferry_client::Security::Tls(trust),
            "admin",
            testing::ADMIN_PASSWORD,
        );
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
            &ResumableDownloadOptions::default(),
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
        assert!(part_path(&target.path).exists());

        // The file changes on the server; only a resume still fetches version 1.
        upload_bytes(connector, served.dir.path(), "CON.bin", b"version 2");
        let term = Terminal {
            interactive: false,
            bars: false,
            status: false,
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
        assert!(!part_path(&target.path).exists());
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
