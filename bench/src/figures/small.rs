//! Many small files: uploaded then downloaded by one client on one
//! connection, then by several clients at once, each on its own.
//!
//! [`upload_batch`] and [`download_batch`] are the only places that decide
//! how a batch goes over the wire; when the client library gains batch
//! calls that pipeline on one connection, each becomes one call.

use std::io::Cursor;
use std::thread;
use std::time::Instant;

use ferry_common::Md5Digest;
use ferry_common::client::{Client, ClientError, Stored, no_progress};
use ferry_common::hash::md5_bytes;
use ferry_common::protocol::ConflictPolicy;

use crate::bench::{Bench, count_text, size_text};
use crate::data;
use crate::report::Figure;
use crate::server::{ServerOptions, ServerProcess};
use crate::sync::{Phases, Tally};

const GROUP: &str = "small";
/// Seconds the issue allows for 1,000 uploads and 1,000 downloads from one client call.
const UPLOAD_LIMIT: f64 = 1.5;
const DOWNLOAD_LIMIT: f64 = 1.0;
const FULL_COUNT: usize = 1000;

/// A file to upload, with what it must come back as.
pub struct SmallFile {
    pub name: String,
    pub data: Vec<u8>,
    pub md5: Md5Digest,
}

impl SmallFile {
    /// `size` pseudo-random bytes named `name`.
    pub fn new(name: String, seed: u64, size: usize) -> SmallFile {
        let data = data::bytes(seed, size);
        let md5 = md5_bytes(&data);
        SmallFile { name, data, md5 }
    }
}

/// Uploads every file on one connection, in order.
pub fn upload_batch(client: &mut Client, files: &[SmallFile]) -> Result<Vec<Stored>, ClientError> {
    files
        .iter()
        .map(|f| {
            client.upload(
                Cursor::new(&f.data),
                f.data.len() as u64,
                &f.name,
                ConflictPolicy::Overwrite,
                &mut no_progress,
            )
        })
        .collect()
}

/// Downloads every file on one connection, in order; the client library
/// checks each against the server's MD5.
pub fn download_batch(
    client: &mut Client,
    files: &[SmallFile],
) -> Result<Vec<Vec<u8>>, ClientError> {
    files
        .iter()
        .map(|f| {
            let mut out = Vec::with_capacity(f.data.len());
            client.download(&f.name, None, &mut out, &mut no_progress)?;
            Ok(out)
        })
        .collect()
}

/// Checks what a batch upload stored against what was sent.
fn check_stored(files: &[SmallFile], stored: &[Stored], tally: &mut Tally) {
    for (f, s) in files.iter().zip(stored) {
        if s.md5 != f.md5 || s.size != f.data.len() as u64 {
            tally.corrupt(format!(
                "{} was stored with MD5 {}, sent {}",
                f.name, s.md5, f.md5
            ));
        }
    }
    tally.ops += stored.len() as u64;
}

/// Checks downloaded bytes against the originals.
fn check_downloaded(files: &[SmallFile], got: &[Vec<u8>], tally: &mut Tally) {
    for (f, g) in files.iter().zip(got) {
        if *g != f.data {
            tally.corrupt(format!("{} came back different", f.name));
        }
    }
    tally.ops += got.len() as u64;
}

pub fn run(b: &mut Bench) -> anyhow::Result<()> {
    let n = b.sizes.small_files;
    let size = b.sizes.small_size;
    let clients = b.sizes.small_clients;
    let dir = b.dir(GROUP)?;
    let server = b.server(&dir, &ServerOptions::default())?;
    let label = format!("{} files of {}", count_text(n), size_text(size as u64));

    // One client, one connection.
    let files: Vec<SmallFile> = (0..n)
        .map(|i| SmallFile::new(format!("small-{i:05}.bin"), 0x5000 + i as u64, size))
        .collect();
    b.say(format!("small: {label}, one client"));
    let mut client = server.login()?;
    let mut up = Tally::default();
    let started = Instant::now();
    let stored = upload_batch(&mut client, &files);
    let up_secs = started.elapsed().as_secs_f64();
    match stored {
        Ok(stored) => check_stored(&files, &stored, &mut up),
        Err(e) => up.error(e),
    }
    let limit = b.scaled(UPLOAD_LIMIT, n, FULL_COUNT);
    b.push(time_figure(
        "small_upload_1",
        format!("upload {label}, 1 client"),
        n,
        up_secs,
        limit,
        &up,
    ));

    let mut down = Tally::default();
    let started = Instant::now();
    let got = download_batch(&mut client, &files);
    let down_secs = started.elapsed().as_secs_f64();
    match got {
        Ok(got) => check_downloaded(&files, &got, &mut down),
        Err(e) => down.error(e),
    }
    let limit = b.scaled(DOWNLOAD_LIMIT, n, FULL_COUNT);
    b.push(time_figure(
        "small_download_1",
        format!("download {label}, 1 client"),
        n,
        down_secs,
        limit,
        &down,
    ));
    drop(client);

    // Several clients at once, each with its share on its own connection.
    b.say(format!("small: {label}, {clients} clients"));
    let files: Vec<SmallFile> = (0..n)
        .map(|i| SmallFile::new(format!("parallel-{i:05}.bin"), 0x6000 + i as u64, size))
        .collect();
    let share = n.div_ceil(clients);
    let groups: Vec<&[SmallFile]> = files.chunks(share).collect();
    let (up8_secs, up8, down8_secs, down8) = parallel(&server, &groups)?;
    b.push(
        Figure::new(
            GROUP,
            "small_upload_8",
            format!("upload {label}, {clients} clients"),
            n as f64 / up8_secs,
            "files/s",
        )
        .baseline(format!(
            "{up8_secs:.2} s; 1 client {:.0} files/s",
            n as f64 / up_secs
        ))
        .ratio(up_secs / up8_secs)
        .faults(up8.errors, up8.corrupted)
        .detail("seconds", up8_secs)
        .detail("clients", clients as u64)
        .detail("speedup_vs_1_client", up_secs / up8_secs)
        .detail("error_samples", up8.samples),
    );
    b.push(
        Figure::new(
            GROUP,
            "small_download_8",
            format!("download {label}, {clients} clients"),
            n as f64 / down8_secs,
            "files/s",
        )
        .baseline(format!(
            "{down8_secs:.2} s; 1 client {:.0} files/s",
            n as f64 / down_secs
        ))
        .ratio(down_secs / down8_secs)
        .faults(down8.errors, down8.corrupted)
        .detail("seconds", down8_secs)
        .detail("clients", clients as u64)
        .detail("speedup_vs_1_client", down_secs / down8_secs)
        .detail("error_samples", down8.samples),
    );
    Ok(())
}

/// A files-per-second figure with a time limit as its target.
fn time_figure(id: &str, name: String, n: usize, secs: f64, limit: f64, tally: &Tally) -> Figure {
    let ok = tally.errors == 0 && tally.corrupted == 0;
    Figure::new(GROUP, id, name, n as f64 / secs, "files/s")
        .baseline(format!("{secs:.2} s"))
        .target(
            format!("< {limit:.2} s"),
            Some(secs / limit),
            ok && secs < limit,
        )
        .faults(tally.errors, tally.corrupted)
        .detail("seconds", secs)
        .detail("files", n as u64)
        .detail("limit_seconds", limit)
        .detail("timed", "the batch call only, after connect and login")
        .detail("error_samples", tally.samples.clone())
}

/// Each group uploaded then downloaded by its own client, all at once.
/// Returns the upload and download wall times with their tallies.
fn parallel(
    server: &ServerProcess,
    groups: &[&[SmallFile]],
) -> anyhow::Result<(f64, Tally, f64, Tally)> {
    let phases = Phases::new(groups.len() + 1);
    thread::scope(|scope| {
        let mut workers = Vec::new();
        for (i, files) in groups.iter().copied().enumerate() {
            let seat = phases.seat();
            let spawned = thread::Builder::new()
                .name(format!("small-client-{i}"))
                .spawn_scoped(scope, move || {
                    let (mut up, mut down) = (Tally::default(), Tally::default());
                    let mut client = server.login();
                    seat.wait(); // all logged in
                    match &mut client {
                        Ok(c) => match upload_batch(c, files) {
                            Ok(stored) => check_stored(files, &stored, &mut up),
                            Err(e) => up.error(e),
                        },
                        Err(e) => up.error(format!("{e:#}")),
                    }
                    seat.wait(); // all uploaded
                    if let Ok(c) = &mut client {
                        match download_batch(c, files) {
                            Ok(got) => check_downloaded(files, &got, &mut down),
                            Err(e) => down.error(e),
                        }
                    }
                    seat.wait(); // all downloaded
                    (up, down)
                });
            match spawned {
                Ok(h) => workers.push(h),
                Err(e) => eprintln!("ferry-bench: could not start client {i}: {e}"),
            }
        }
        phases.wait();
        let start = Instant::now();
        phases.wait();
        let up_secs = start.elapsed().as_secs_f64();
        let start = Instant::now();
        phases.wait();
        let down_secs = start.elapsed().as_secs_f64();
        let (mut up, mut down) = (Tally::default(), Tally::default());
        let missing = groups.len() - workers.len();
        for w in workers {
            match w.join() {
                Ok((u, d)) => {
                    up.add(u);
                    down.add(d);
                }
                Err(_) => up.error("a client thread panicked"),
            }
        }
        for _ in 0..missing {
            up.error("a client thread could not start");
        }
        Ok((up_secs, up, down_secs, down))
    })
}
