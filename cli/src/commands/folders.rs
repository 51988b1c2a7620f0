//! The folder commands: `list FOLDER` / `list --tree`, `mkdir`, `mv`,
//! `rmdir`, and the whole-tree transfers `upload -r` and `download -r`.
//! The trees are planned and moved by the client library
//! (`Client::upload_tree`, `Client::download_tree`), which pipelines the
//! files on one connection, skips those the other side holds already,
//! continues cut-off large downloads and maps every server path to local
//! names this system accepts; this module checks the arguments, runs a
//! tree again after a lost connection, shows a bar on a terminal, prints
//! one line per file and turns the failures into the exit status.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use ferry_client::transfer::{self, Connector, Retry};
use ferry_client::{
    Client, ClientError, Downloaded, Entry, Stored, TreeDownloadOptions, TreeUploadOptions,
};
use ferry_proto::ConflictPolicy;
use ferry_proto::names::{LocalOs, local_file_name_for};
use ferry_proto::protocol::ErrorCode;
use serde_json::json;

use super::{Terminal, first_failure, shown};
use crate::args::{DownloadArgs, UploadArgs};
use crate::exit::{self, Failure};
use crate::output::{self, counted, quoted};
use crate::progress::TreeBar;
use crate::session::Connection;

/// `list [FOLDER] [--tree]`: folders (shown with a trailing `/`) and files.
pub fn list(
    session: &mut Connection,
    folder: Option<&str>,
    tree: bool,
    json: bool,
) -> Result<String> {
    let what = folder.map_or("the root folder".to_owned(), quoted);
    let entries = session
        .client()
        .ls(folder, tree)
        .with_context(|| format!("could not list {what}"))?;
    if json {
        let items: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| match e {
                Entry::Folder(f) => json!({ "folder": f.path, "created": f.created.to_string() }),
                Entry::File(f) => serde_json::to_value(f).unwrap_or_default(),
            })
            .collect();
        return Ok(serde_json::to_string_pretty(&items)? + "\n");
    }
    Ok(output::entries_table(&entries))
}

/// `mkdir PATH`.
pub fn mkdir(session: &mut Connection, path: &str) -> Result<String> {
    let created = session
        .client()
        .mkdir(path)
        .with_context(|| format!("could not create the folder {}", quoted(path)))?;
    Ok(match created {
        0 => format!("folder {} exists already\n", quoted(path)),
        n => format!("created folder {} ({n} new)\n", quoted(path)),
    })
}

/// `mv FROM TO`.
pub fn mv(session: &mut Connection, from: &str, to: &str) -> Result<String> {
    let moved = session
        .client()
        .move_path(from, to)
        .with_context(|| format!("could not move {} to {}", quoted(from), quoted(to)))?;
    Ok(format!(
        "moved {} to {} ({}, {})\n",
        quoted(from),
        quoted(to),
        counted(moved.files, "file", "files"),
        counted(moved.folders, "folder", "folders")
    ))
}

/// `rmdir PATH [-r]`.
pub fn rmdir(session: &mut Connection, path: &str, recursive: bool) -> Result<String> {
    let removed = session.client().rmdir(path, recursive).map_err(|e| {
        let what = format!("could not remove the folder {}", quoted(path));
        if e.code() == Some(ErrorCode::NotEmpty) {
            // The server's sentence names the protocol's option.
            let message = format!(
                "{what}: it is not empty; remove what it holds first, or run `ferry-cli rmdir -r {}` to remove it with everything in it",
                quoted(path)
            );
            anyhow::Error::new(Failure::new(exit::for_client_error(&e), message))
        } else {
            anyhow::Error::new(e).context(what)
        }
    })?;
    Ok(format!(
        "removed folder {} ({}, {}, {})\n",
        quoted(path),
        counted(removed.folders, "folder", "folders"),
        counted(removed.files, "file", "files"),
        counted(removed.versions, "version", "versions")
    ))
}

/// Each local folder of `upload -r` with the server path it goes to,
/// checked before connecting.
pub fn plan_tree_uploads(args: &UploadArgs) -> Result<Vec<(PathBuf, String)>> {
    if args.as_name.is_some() && args.paths.len() != 1 {
        return Err(Failure::usage(
            "--as names a single folder's path on the server; upload the folders one at a time",
        )
        .into());
    }
    let mut plan = Vec::new();
    for dir in &args.paths {
        if !dir.is_dir() {
            return Err(Failure::local(format!(
                "{} is not a folder; -r uploads folders, so leave it out for files",
                shown(dir)
            ))
            .into());
        }
        let remote = match &args.as_name {
            Some(name) => name.clone(),
            None => super::upload::remote_name(&std::fs::canonicalize(dir)?)?,
        };
        ferry_client::file_path(&remote)?;
        plan.push((dir.clone(), remote));
    }
    Ok(plan)
}

/// `upload -r DIR…`: every folder with everything in it, one line per file
/// stored. Files the server holds already with the same content are
/// skipped and a large file cut off continues from the byte the server
/// confirms (its state kept where single uploads keep theirs), so after a
/// lost connection the same tree is simply run again (on a new connection,
/// with back-off, up to `retry`): it continues where it stopped.
pub fn upload_trees(
    connector: &Connector,
    plan: &[(PathBuf, String)],
    policy: ConflictPolicy,
    retry: Retry,
    term: Terminal,
    out: &mut dyn Write,
) -> Result<()> {
    let mut failures: Vec<anyhow::Error> = Vec::new();
    for (dir, remote) in plan {
        let bar = TreeBar::new(format!("↑ {}", output::safe(remote)), term.bars);
        let mut lines = Vec::new();
        let what = format!("uploading the folder {}", quoted(remote));
        let result = again_after_cuts(connector, retry, &what, &bar, |client| {
            let mut each = |path: &str, result: &Result<Stored, ClientError>| {
                if let Ok(stored) = result {
                    lines.push(output::stored_line(path, stored));
                }
            };
            let mut progress = |p| bar.report(p);
            let options = TreeUploadOptions {
                policy,
                // Where single uploads keep theirs: a large file cut off
                // continues, on a retry or the next run, where it stopped.
                state_dir: transfer::default_state_dir(),
                each: Some(&mut each),
                progress: Some(&mut progress),
            };
            client.upload_tree(dir, Some(remote), options)
        });
        drop(bar);
        for line in &lines {
            writeln!(out, "{line}")?;
        }
        let what = format!("could not upload {}", shown(dir));
        let done = result.map_err(|e| cut_short(e, what))?;
        note_resumed("uploads", remote, done.resumed);
        let (stored, unchanged) = across_attempts(lines.len(), done.stored, done.unchanged);
        writeln!(
            out,
            "uploaded {} to {}: {} stored, {unchanged} unchanged, {} created, {} failed",
            shown(dir),
            quoted(remote),
            counted(stored as u64, "file", "files"),
            counted(done.folders as u64, "empty folder", "empty folders"),
            done.failed.len()
        )?;
        failures.extend(done.failed.into_iter().map(|(path, e)| failed(e, &path)));
    }
    out.flush()?;
    first_failure(failures)
}

/// The error of a tree transfer that ended early (`what` says which), with
/// the hint to run it again when a lost connection ended it: what arrived
/// is kept and the next run continues from there.
fn cut_short(e: ClientError, what: String) -> anyhow::Error {
    let again = if transfer::is_retryable(&e) {
        " (what arrived is kept; run the same command again to continue where it stopped)"
    } else {
        ""
    };
    anyhow::Error::new(e).context(format!("{what}{again}"))
}

/// Says on stderr that cut-off `what` ("uploads", "downloads") in `remote`
/// continued after `resumed` bytes that were already there.
fn note_resumed(what: &str, remote: &str, resumed: u64) {
    if resumed > 0 {
        eprintln!(
            "ferry-cli: note: continued interrupted {what} in {} after {} already there",
            quoted(remote),
            output::human_size(resumed)
        );
    }
}

/// The files moved and unchanged over every attempt at a tree: `lines`
/// files moved in all, `moved` and `unchanged` by the last attempt, which
/// found unchanged what the attempts before it had moved.
fn across_attempts(lines: usize, moved: usize, unchanged: usize) -> (usize, usize) {
    (lines, (moved + unchanged).saturating_sub(lines))
}

/// Runs `attempt` on a connection from `connector`; after a lost
/// connection, waits (doubling the wait, as single transfers do), connects
/// again and runs it again, up to `retry`. `bar` says when it waits.
fn again_after_cuts<T>(
    connector: &Connector,
    retry: Retry,
    what: &str,
    bar: &TreeBar,
    mut attempt: impl FnMut(&mut Client) -> Result<T, ClientError>,
) -> Result<T, ClientError> {
    let waiting = |retry, of| bar.reconnecting(retry, of);
    let (value, _retries) = transfer::with_retries(retry, what, waiting, || {
        let mut client = connector.connect()?;
        let value = attempt(&mut client)?;
        // A clean end: the next tree may use the connection.
        connector.keep_for_next(client);
        Ok(value)
    })?;
    Ok(value)
}

fn failed(e: ClientError, path: &Path) -> anyhow::Error {
    anyhow::Error::new(e).context(format!("could not upload {}", shown(path)))
}

/// Each server folder of `download -r` with the local folder it is saved
/// in: `-o FOLDER` (or the current folder) / the folder's own name, mapped
/// to a name this system accepts.
pub fn plan_tree_downloads(args: &DownloadArgs, os: LocalOs) -> Result<Vec<(String, PathBuf)>> {
    if args.version.is_some() || !args.mirror.is_empty() || args.restart {
        return Err(Failure::usage(
            "--version, --mirror and --restart apply to single files, not to -r",
        )
        .into());
    }
    // A folder that is not there yet is made as the first file arrives.
    let base = args.output.clone().unwrap_or_else(|| PathBuf::from("."));
    if base.exists() && !base.is_dir() {
        return Err(Failure::usage(format!(
            "folders are saved into a folder, but {} is a file; pass -o with a folder (a new one is made)",
            shown(&base)
        ))
        .into());
    }
    let mut plan = Vec::new();
    for name in &args.names {
        let path = ferry_client::file_path(name)?;
        let local = base.join(local_file_name_for(path.name(), os).as_ref());
        plan.push((name.clone(), local));
    }
    Ok(plan)
}

/// `download -r FOLDER…`: every folder with everything in it, one line per
/// file saved. Local files with the server's content are left alone and a
/// large file cut off continues from its `.part`, so after a lost
/// connection the same tree is simply run again (on a new connection, with
/// back-off, up to `retry`): it continues where it stopped.
pub fn download_trees(
    connector: &Connector,
    plan: &[(String, PathBuf)],
    overwrite: bool,
    retry: Retry,
    term: Terminal,
    out: &mut dyn Write,
) -> Result<()> {
    let mut failures: Vec<anyhow::Error> = Vec::new();
    for (remote, local) in plan {
        let bar = TreeBar::new(format!("↓ {}", output::safe(remote)), term.bars);
        let mut lines = Vec::new();
        let what = format!("downloading the folder {}", quoted(remote));
        let result = again_after_cuts(connector, retry, &what, &bar, |client| {
            let mut each = |path: &str, result: &Result<Downloaded, ClientError>| {
                if let Ok(got) = result {
                    lines.push(format!(
                        "saved {} version {} ({}, md5 {} verified)",
                        quoted(path),
                        got.version,
                        output::human_size(got.size),
                        got.md5
                    ));
                }
            };
            let mut progress = |p| bar.report(p);
            let options = TreeDownloadOptions {
                overwrite,
                each: Some(&mut each),
                progress: Some(&mut progress),
            };
            client.download_tree(Some(remote), local, options)
        });
        drop(bar);
        for line in &lines {
            writeln!(out, "{line}")?;
        }
        let what = format!("could not download the folder {}", quoted(remote));
        let done = result.map_err(|e| cut_short(e, what))?;
        for why in &done.restarted {
            eprintln!("ferry-cli: note: {why}");
        }
        note_resumed("downloads", remote, done.resumed);
        let (saved, unchanged) = across_attempts(lines.len(), done.saved, done.unchanged);
        writeln!(
            out,
            "downloaded {} to {}: {} saved, {unchanged} unchanged, {}, {} failed",
            quoted(remote),
            shown(local),
            counted(saved as u64, "file", "files"),
            counted(done.folders as u64, "folder", "folders"),
            done.failed.len()
        )?;
        failures.extend(
            done.failed
                .into_iter()
                .map(|(path, e)| download_failure(&path, e)),
        );
    }
    out.flush()?;
    first_failure(failures)
}

/// The error for a file of `download -r` that was not saved. A local file
/// that differs from the server's is said in the CLI's own words (the
/// library's do not know `--force`).
fn download_failure(path: &str, e: ClientError) -> anyhow::Error {
    match e {
        ClientError::LocalExists { path: local } => Failure::local(format!(
            "could not download {}: {} exists already with other content than the server's; \
             pass --force to replace it",
            quoted(path),
            shown(&local)
        ))
        .into(),
        e => anyhow::Error::new(e).context(format!("could not download {}", quoted(path))),
    }
}
