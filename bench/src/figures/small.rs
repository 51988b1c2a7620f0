//! Many small files: uploaded then downloaded by one client in one call
//! on one connection, then by several clients at once, each on its own;
//! and the one-client calls plus a run of single requests again over TLS,
//! each compared with plaintext on a warm (logged-in) connection. The
//! one-client figures are the median of three rounds, plaintext and TLS
//! taking turns to go first.
//!
//! The calls are the client library's pipelined batches
//! (`Client::upload_many` / `Client::download_many`, what `ferry-cli` uses
//! for several files); [`upload_batch`] and [`download_batch`] are the only
//! places that know how a batch goes over the wire.

use std::path::{Path, PathBuf};
use std::thread;
use std::time::Instant;

use anyhow::Context;
use ferry_client::{Client, ClientError, Downloaded, Stored};
use ferry_proto::Md5Digest;
use ferry_proto::hash::md5_bytes;
use ferry_proto::protocol::ConflictPolicy;
use ferry_proto::units::exact_size;

use crate::bench::{Bench, count_text};
use crate::data;
use crate::report::Figure;
use crate::server::{ServerOptions, ServerProcess};
use crate::sync::{Phases, Tally};

const GROUP: &str = "small";
/// Seconds the issue allows for 1,000 uploads and 1,000 downloads from one client call.
const UPLOAD_LIMIT: f64 = 1.5;
const DOWNLOAD_LIMIT: f64 = 1.0;
const FULL_COUNT: usize = 1000;
/// The least share of the plaintext rate issue 15 allows over TLS.
const TLS_SHARE: f64 = 0.8;
/// Rounds of the one-client calls on each server (a call of 1,000 small
/// files takes tens of milliseconds: one hiccup would decide the figure).
const ROUNDS: usize = 3;

/// A file on disk to upload, with what it must come back as.
pub struct SmallFile {
    pub name: String,
    pub path: PathBuf,
    pub data: Vec<u8>,
    pub md5: Md5Digest,
}

impl SmallFile {
    /// Writes `size` pseudo-random bytes to `dir/name`.
    pub fn create(dir: &Path, name: String, seed: u64, size: usize) -> anyhow::Result<SmallFile> {
        let data = data::bytes(seed, size);
        let path = dir.join(&name);
        std::fs::write(&path, &data)
            .with_context(|| format!("while writing {}", path.display()))?;
        let md5 = md5_bytes(&data);
        Ok(SmallFile {
            name,
            path,
            data,
            md5,
        })
    }

    /// `count` files named `{prefix}-{i:05}.bin` in `dir`, one seed each.
    pub fn create_many(
        dir: &Path,
        prefix: &str,
        seed: u64,
        count: usize,
        size: usize,
    ) -> anyhow::Result<Vec<SmallFile>> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("while creating {}", dir.display()))?;
        (0..count)
            .map(|i| SmallFile::create(dir, format!("{prefix}-{i:05}.bin"), seed + i as u64, size))
            .collect()
    }
}

/// Every file's outcome, by index; `Err` only when the connection broke.
type Outcomes<T> = Result<Vec<Result<T, ClientError>>, ClientError>;

/// Uploads every file in one call on one connection.
pub fn upload_batch(client: &mut Client, files: &[SmallFile]) -> Outcomes<Stored> {
    let pairs: Vec<(PathBuf, String)> = files
        .iter()
        .map(|f| (f.path.clone(), f.name.clone()))
        .collect();
    let mut outcomes: Vec<Option<Result<Stored, ClientError>>> =
        files.iter().map(|_| None).collect();
    client.upload_many(&pairs, ConflictPolicy::Overwrite, &mut |i, outcome| {
        outcomes[i] = Some(outcome);
    })?;
    Ok(collect(outcomes))
}

/// Downloads every file in one call on one connection into `dir`; the
/// client library checks each against the server's MD5.
pub fn download_batch(
    client: &mut Client,
    files: &[SmallFile],
    dir: &Path,
) -> Outcomes<Downloaded> {
    let pairs: Vec<(String, PathBuf)> = files
        .iter()
        .map(|f| (f.name.clone(), dir.join(&f.name)))
        .collect();
    let mut outcomes: Vec<Option<Result<Downloaded, ClientError>>> =
        files.iter().map(|_| None).collect();
    client.download_many(&pairs, &mut |i, outcome| outcomes[i] = Some(outcome))?;
    Ok(collect(outcomes))
}

fn collect<T>(outcomes: Vec<Option<Result<T, ClientError>>>) -> Vec<Result<T, ClientError>> {
    outcomes
        .into_iter()
        .map(|o| {
            o.unwrap_or_else(|| {
                Err(ClientError::Protocol(
                    "the batch reported no outcome for this file".into(),
                ))
            })
        })
        .collect()
}

/// Counts a batch call's outcomes: every file an operation, an error or a
/// corruption.
pub fn count<T>(
    outcomes: Outcomes<T>,
    files: &[SmallFile],
    tally: &mut Tally,
    check: impl Fn(&SmallFile, &T) -> Result<(), String>,
) {
    let outcomes = match outcomes {
        Ok(o) => o,
        Err(e) => {
            tally.error(format!("the batch broke off: {e}"));
            return;
        }
    };
    for (f, outcome) in files.iter().zip(outcomes) {
        match outcome {
            Ok(value) => match check(f, &value) {
                Ok(()) => tally.ops += 1,
                Err(why) => tally.corrupt(why),
            },
            Err(e @ ClientError::Corrupt { .. }) => tally.corrupt(format!("{}: {e}", f.name)),
            Err(e) => tally.error(format!("{}: {e}", f.name)),
        }
    }
}

/// What the server stored must be what was sent.
pub fn stored_ok(f: &SmallFile, s: &Stored) -> Result<(), String> {
    if s.md5 == f.md5 && s.size == f.data.len() as u64 {
        Ok(())
    } else {
        Err(format!(
            "{} was stored with MD5 {}, sent {}",
            f.name, s.md5, f.md5
        ))
    }
}

/// What landed on disk must be what was uploaded.
fn downloaded_ok(dir: &Path) -> impl Fn(&SmallFile, &Downloaded) -> Result<(), String> + '_ {
    move |f, _| match std::fs::read(dir.join(&f.name)) {
        Ok(bytes) if bytes == f.data => Ok(()),
        Ok(_) => Err(format!("{} came back different", f.name)),
        Err(e) => Err(format!("{} cannot be read back: {e}", f.name)),
    }
}

pub fn run(b: &mut Bench) -> anyhow::Result<()> {
    let n = b.sizes.small_files;
    let size = b.sizes.small_size;
    let clients = b.sizes.small_clients;
    let dir = b.dir(GROUP)?;
    let server = b.server(&dir, &ServerOptions::default())?;
    let label = format!("{} files of {}", count_text(n), exact_size(size as u64));

    // One client, one call each way, in plaintext and over TLS (on a server
    // of its own): ROUNDS rounds, each of new files, the two taking turns
    // to go first; each figure is its median round.
    let tls_server = b.server(&dir.join("tls"), &ServerOptions::default().tls())?;
    let mut plain_rounds = Vec::new();
    let mut tls_rounds = Vec::new();
    for round in 0..ROUNDS {
        let prefix = format!("small{round}");
        let seed = 0x5000 + (round * n) as u64;
        let files = SmallFile::create_many(&dir.join(&prefix), &prefix, seed, n, size)?;
        for tls in [round % 2 == 1, round % 2 == 0] {
            let (server, rounds, kind) = if tls {
                (&tls_server, &mut tls_rounds, "tls")
            } else {
                (&server, &mut plain_rounds, "plain")
            };
            b.say(format!(
                "small: {label}, one client, {kind}, round {}",
                round + 1
            ));
            let back = b.dir(&format!("{GROUP}/{prefix}-{kind}-back"))?;
            rounds.push(one_client(server, &files, &back)?);
        }
    }
    drop(tls_server);
    let plain = OneClient::median(plain_rounds);
    let tls = OneClient::median(tls_rounds);
    let (up_secs, up, down_secs, down) = (plain.up_secs, &plain.up, plain.down_secs, &plain.down);
    let limit = b.scaled(UPLOAD_LIMIT, n, FULL_COUNT);
    b.push(time_figure(
        "small_upload_1",
        format!("upload {label}, 1 client"),
        n,
        up_secs,
        limit,
        up,
    ));
    let limit = b.scaled(DOWNLOAD_LIMIT, n, FULL_COUNT);
    b.push(time_figure(
        "small_download_1",
        format!("download {label}, 1 client"),
        n,
        down_secs,
        limit,
        down,
    ));
    for (id, what, plain_secs, tls_secs, tally) in [
        (
            "small_upload_1_tls",
            "upload",
            plain.up_secs,
            tls.up_secs,
            &tls.up,
        ),
        (
            "small_download_1_tls",
            "download",
            plain.down_secs,
            tls.down_secs,
            &tls.down,
        ),
        (
            "requests_1_tls",
            "STAT requests, one at a time,",
            plain.stat_secs,
            tls.stat_secs,
            &tls.stat,
        ),
    ] {
        b.push(tls_figure(
            id,
            format!("{what} {label}, 1 client, over TLS"),
            n,
            plain_secs,
            tls_secs,
            tally,
        ));
    }

    // Several clients at once, each with its share on its own connection.
    b.say(format!("small: {label}, {clients} clients"));
    let files = SmallFile::create_many(&dir.join("parallel"), "parallel", 0x6000, n, size)?;
    let share = n.div_ceil(clients);
    let groups: Vec<&[SmallFile]> = files.chunks(share).collect();
    let back = b.dir(&format!("{GROUP}/parallel-back"))?;
    let (up8_secs, up8, down8_secs, down8) = parallel(&server, &groups, &back)?;
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

/// What one client did on one warm connection: one upload call, one
/// download call, then a STAT of each file, one round trip after another.
struct OneClient {
    up_secs: f64,
    up: Tally,
    down_secs: f64,
    down: Tally,
    stat_secs: f64,
    stat: Tally,
}

impl OneClient {
    /// Each time the median of `rounds`' (one time or more), and every
    /// round's errors.
    fn median(rounds: Vec<OneClient>) -> OneClient {
        let median = |time: fn(&OneClient) -> f64| {
            let mut times: Vec<f64> = rounds.iter().map(time).collect();
            times.sort_by(f64::total_cmp);
            times[times.len() / 2]
        };
        let (up_secs, down_secs, stat_secs) = (
            median(|r| r.up_secs),
            median(|r| r.down_secs),
            median(|r| r.stat_secs),
        );
        let mut all = OneClient {
            up_secs,
            up: Tally::default(),
            down_secs,
            down: Tally::default(),
            stat_secs,
            stat: Tally::default(),
        };
        for r in rounds {
            all.up.add(r.up);
            all.down.add(r.down);
            all.stat.add(r.stat);
        }
        all
    }
}

fn one_client(
    server: &ServerProcess,
    files: &[SmallFile],
    back: &Path,
) -> anyhow::Result<OneClient> {
    let mut client = server.login()?;
    let mut up = Tally::default();
    let started = Instant::now();
    let stored = upload_batch(&mut client, files);
    let up_secs = started.elapsed().as_secs_f64();
    count(stored, files, &mut up, stored_ok);

    let mut down = Tally::default();
    let started = Instant::now();
    let got = download_batch(&mut client, files, back);
    let down_secs = started.elapsed().as_secs_f64();
    count(got, files, &mut down, downloaded_ok(back));

    let mut stat = Tally::default();
    let started = Instant::now();
    for f in files {
        match client.stat(&f.name, None) {
            Ok(info) if info.md5 == f.md5 => stat.ops += 1,
            Ok(info) => stat.corrupt(format!("{} is listed with MD5 {}", f.name, info.md5)),
            Err(e) => stat.error(format!("{}: {e}", f.name)),
        }
    }
    let stat_secs = started.elapsed().as_secs_f64();
    Ok(OneClient {
        up_secs,
        up,
        down_secs,
        down,
        stat_secs,
        stat,
    })
}

/// A files-per-second figure over TLS, with its share of the plaintext
/// rate as the target.
fn tls_figure(
    id: &str,
    name: String,
    n: usize,
    plain_secs: f64,
    tls_secs: f64,
    tally: &Tally,
) -> Figure {
    let share = plain_secs / tls_secs;
    let ok = tally.errors == 0 && tally.corrupted == 0;
    Figure::new(GROUP, id, name, n as f64 / tls_secs, "files/s")
        .baseline(format!(
            "{tls_secs:.3} s; plaintext {plain_secs:.3} s ({:.0} files/s)",
            n as f64 / plain_secs
        ))
        .target(
            format!("≥ {:.0} % of plaintext", TLS_SHARE * 100.0),
            Some(share),
            ok && share >= TLS_SHARE,
        )
        .faults(tally.errors, tally.corrupted)
        .detail("seconds", tls_secs)
        .detail("plaintext_seconds", plain_secs)
        .detail("share_of_plaintext", share)
        .detail("files", n as u64)
        .detail("error_samples", tally.samples.clone())
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
        .detail(
            "timed",
            "one upload_many / download_many call, after connect and login",
        )
        .detail("error_samples", tally.samples.clone())
}

/// Each group uploaded then downloaded by its own client, all at once,
/// downloads landing in `back`. Returns the upload and download wall times
/// with their tallies.
fn parallel(
    server: &ServerProcess,
    groups: &[&[SmallFile]],
    back: &Path,
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
                        Ok(c) => count(upload_batch(c, files), files, &mut up, stored_ok),
                        Err(e) => up.error(format!("{e:#}")),
                    }
                    seat.wait(); // all uploaded
                    if let Ok(c) = &mut client {
                        count(
                            download_batch(c, files, back),
                            files,
                            &mut down,
                            downloaded_ok(back),
                        );
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
