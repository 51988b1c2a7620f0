//! A tree of many small files in many folders (issue 16): uploaded with
//! `Client::upload_tree`, then downloaded with `Client::download_tree`,
//! each in one call on one logged-in connection.
//!
//! The issue asks that a 10,000-file tree go "without one round trip per
//! file". Each figure counts the client's round trips during its call
//! (`Client::round_trips`, the target) and sets the time per file beside
//! one STAT round trip, timed on the same connection in the same run.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use ferry_client::{Client, TreeDownloadOptions, TreeUploadOptions};
use ferry_proto::protocol::ConflictPolicy;
use ferry_proto::units::exact_size;

use crate::bench::{Bench, count_text, median};
use crate::data;
use crate::report::Figure;
use crate::server::ServerOptions;
use crate::sync::Tally;

const GROUP: &str = "tree";
/// The server folder the tree goes to.
const REMOTE: &str = "tree";
/// The target: fewer round trips than one per this many files.
const FILES_PER_TRIP: u64 = 20;
/// STATs timed one after another for the round-trip time (the median).
const STAT_SAMPLES: usize = 200;

/// One transfer of the tree: how long it took, its round trips and what
/// went wrong.
struct Moved {
    secs: f64,
    trips: u64,
    tally: Tally,
}

pub fn run(b: &mut Bench) -> anyhow::Result<()> {
    let n = b.sizes.tree_files;
    let folders = b.sizes.tree_folders;
    let size = b.sizes.small_size;
    let dir = b.dir(GROUP)?;
    let server = b.server(&dir, &ServerOptions::default())?;
    let label = format!(
        "a tree of {} files of {} in {folders} folders",
        count_text(n),
        exact_size(size as u64)
    );
    b.say(format!("tree: writing {label}"));
    let local = dir.join("local");
    let files = write_tree(&local, n, folders, size)?;

    let mut client = server.login()?;
    b.say("tree: uploading it in one call");
    let up = upload(&mut client, &local, n);
    let rtt = stat_round_trip(&mut client, &files[0])?;
    b.say("tree: downloading it in one call");
    let back = dir.join("back");
    let down = download(&mut client, &files, &local, &back);

    for (id, what, moved) in [
        ("tree_upload", "upload", &up),
        ("tree_download", "download", &down),
    ] {
        b.push(figure(
            id,
            format!("{what} {label}, 1 call"),
            n,
            folders,
            rtt,
            moved,
        ));
    }
    Ok(())
}

/// Writes `n` files of `size` pseudo-random bytes, file `i` in folder
/// `i % folders`; returns their paths relative to `root`, `/`-separated.
fn write_tree(root: &Path, n: usize, folders: usize, size: usize) -> anyhow::Result<Vec<String>> {
    let mut files = Vec::with_capacity(n);
    for f in 0..folders {
        let folder = root.join(format!("d{f:03}"));
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("while creating {}", folder.display()))?;
    }
    for i in 0..n {
        let rel = format!("d{:03}/f{i:05}.bin", i % folders);
        let path = root.join(&rel);
        std::fs::write(&path, data::bytes(0x9000 + i as u64, size))
            .with_context(|| format!("while writing {}", path.display()))?;
        files.push(rel);
    }
    Ok(files)
}

/// Uploads the tree at `local` into [`REMOTE`] in one call.
fn upload(client: &mut Client, local: &Path, n: usize) -> Moved {
    let mut tally = Tally::default();
    let before = client.round_trips();
    let started = Instant::now();
    let options = TreeUploadOptions {
        policy: ConflictPolicy::Fail,
        ..TreeUploadOptions::default()
    };
    let result = client.upload_tree(local, Some(REMOTE), options);
    let secs = started.elapsed().as_secs_f64();
    let trips = client.round_trips() - before;
    match result {
        Ok(done) => {
            tally.ops = done.stored as u64;
            for (path, e) in done.failed {
                tally.error(format!("{}: {e}", path.display()));
            }
            if done.stored != n {
                tally.error(format!("{} of {n} files were stored", done.stored));
            }
        }
        Err(e) => tally.error(format!("the tree upload broke off: {e}")),
    }
    Moved { secs, trips, tally }
}

/// Downloads [`REMOTE`] into `back` in one call, then compares every file
/// with the one at the same place under `local`.
fn download(client: &mut Client, files: &[String], local: &Path, back: &Path) -> Moved {
    let mut tally = Tally::default();
    let before = client.round_trips();
    let started = Instant::now();
    let result = client.download_tree(Some(REMOTE), back, TreeDownloadOptions::default());
    let secs = started.elapsed().as_secs_f64();
    let trips = client.round_trips() - before;
    match result {
        Ok(done) => {
            for (path, e) in done.failed {
                tally.error(format!("{path}: {e}"));
            }
            for rel in files {
                match (
                    std::fs::read(local.join(rel)),
                    std::fs::read(back.join(rel)),
                ) {
                    (Ok(sent), Ok(got)) if sent == got => tally.ops += 1,
                    (Ok(_), Ok(_)) => tally.corrupt(format!("{rel} came back different")),
                    (_, Err(e)) | (Err(e), _) => tally.error(format!("{rel}: {e}")),
                }
            }
        }
        Err(e) => tally.error(format!("the tree download broke off: {e}")),
    }
    Moved { secs, trips, tally }
}

/// Seconds per STAT round trip on `client`: the median of
/// [`STAT_SAMPLES`], one after another, of the file at `rel` in the tree.
fn stat_round_trip(client: &mut Client, rel: &str) -> anyhow::Result<f64> {
    let name = format!("{REMOTE}/{rel}");
    let mut samples = Vec::with_capacity(STAT_SAMPLES);
    for _ in 0..STAT_SAMPLES {
        let started = Instant::now();
        client
            .stat(&name, None)
            .with_context(|| format!("while timing STAT of {name}"))?;
        samples.push(started.elapsed().as_secs_f64());
    }
    Ok(median(&mut samples))
}

/// A files-per-second figure whose target is its round trips: fewer than
/// one per [`FILES_PER_TRIP`] files.
fn figure(id: &str, name: String, n: usize, folders: usize, rtt: f64, moved: &Moved) -> Figure {
    let Moved { secs, trips, tally } = moved;
    let (secs, trips) = (*secs, *trips);
    let per_file = secs / n as f64;
    let ok = tally.errors == 0 && tally.corrupted == 0;
    let ratio = (trips * FILES_PER_TRIP) as f64 / n as f64;
    Figure::new(GROUP, id, name, n as f64 / secs, "files/s")
        .baseline(format!(
            "{secs:.2} s in {trips} round trips; {:.0} µs per file, one STAT round trip {:.0} µs",
            per_file * 1e6,
            rtt * 1e6
        ))
        .target(
            format!("< 1 round trip per {FILES_PER_TRIP} files"),
            Some(ratio),
            ok && ratio < 1.0,
        )
        .faults(tally.errors, tally.corrupted)
        .detail("seconds", secs)
        .detail("files", n as u64)
        .detail("folders", folders as u64)
        .detail("round_trips", trips)
        .detail("files_per_round_trip", n as f64 / trips.max(1) as f64)
        .detail("per_file_us", per_file * 1e6)
        .detail("stat_round_trip_us", rtt * 1e6)
        .detail("per_file_over_round_trip", per_file / rtt)
        // What the call spent waiting for answers, at most: on loopback a
        // round trip is cheap, so the time per file is the files' own work.
        .detail("round_trips_ms_estimate", trips as f64 * rtt * 1e3)
        .detail("one_per_file_ms_estimate", n as f64 * rtt * 1e3)
        .detail(
            "timed",
            "one upload_tree / download_tree call on a logged-in connection; the round trips \
             are the client's own count (Client::round_trips) over that call",
        )
        .detail("error_samples", tally.samples.clone())
}
