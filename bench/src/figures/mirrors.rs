//! Downloading from several mirrors at once: four server processes hold
//! the same file, each limited to the same rate per connection
//! (`ferry_server::Config::rate_limit`); the same multi-mirror download is
//! timed from one mirror and from all four.
//!
//! The file is uploaded while the servers run without a limit (that is
//! setup, not the figure); they are then restarted over the same folders
//! with the limit.

use std::ops::ControlFlow;
use std::thread;
use std::time::Instant;

use anyhow::{Context, bail};
use ferry_client::UploadOptions;
use ferry_client::mirror::{self, MirrorOptions, MirrorProgress, MirrorReport};
use ferry_client::transfer::Connector;
use ferry_proto::protocol::ConflictPolicy;
use ferry_proto::units::exact_size;

use crate::bench::{Bench, mb_per_s};
use crate::data::Pattern;
use crate::report::Figure;
use crate::server::{ServerOptions, ServerProcess};

const GROUP: &str = "mirrors";
const MIRRORS: usize = 4;
/// The largest ratio (4 mirrors ÷ 1 mirror) the issue allows.
const TARGET_RATIO: f64 = 0.3;
const NAME: &str = "mirrored.bin";

pub fn run(b: &mut Bench) -> anyhow::Result<()> {
    let bytes = b.sizes.mirror_bytes;
    let rate = b.sizes.mirror_rate;
    let dir = b.dir(GROUP)?;
    let dirs: Vec<_> = (0..MIRRORS)
        .map(|i| b.dir(&format!("{GROUP}/mirror-{i}")))
        .collect::<anyhow::Result<_>>()?;

    b.say(format!(
        "mirrors: putting {} on {MIRRORS} servers",
        exact_size(bytes)
    ));
    let mut expected = None;
    {
        let servers: Vec<ServerProcess> = dirs
            .iter()
            .map(|d| b.server(d, &ServerOptions::default()))
            .collect::<anyhow::Result<_>>()?;
        let stored = thread::scope(|scope| {
            let uploads: Vec<_> = servers
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    thread::Builder::new()
                        .name(format!("mirror-fill-{i}"))
                        .spawn_scoped(scope, move || -> anyhow::Result<_> {
                            let mut client = s.login()?;
                            Ok(client.upload(
                                Pattern::new(0x3177, bytes),
                                NAME,
                                UploadOptions {
                                    policy: ConflictPolicy::Overwrite,
                                    ..UploadOptions::default()
                                },
                            )?)
                        })
                })
                .collect();
            uploads
                .into_iter()
                .map(|u| {
                    u.context("could not start an upload thread")?
                        .join()
                        .map_err(|_| anyhow::anyhow!("an upload thread panicked"))?
                })
                .collect::<anyhow::Result<Vec<_>>>()
        })?;
        for s in &stored {
            if *expected.get_or_insert(s.md5) != s.md5 {
                bail!("the mirrors stored different MD5s for the same bytes");
            }
        }
    }
    let expected = expected.context("no mirror stored the file")?;

    let limited = ServerOptions {
        rate_limit: Some(rate),
        ..ServerOptions::default()
    };
    let servers: Vec<ServerProcess> = dirs
        .iter()
        .map(|d| b.server(d, &limited))
        .collect::<anyhow::Result<_>>()?;
    let connectors: Vec<Connector> = servers.iter().map(ServerProcess::connector).collect();

    b.say(format!("mirrors: 1 mirror at {}/s", exact_size(rate)));
    let (one_secs, one_ok, _) =
        timed_download(&connectors[..1], &dir.join("from-one.bin"), expected)?;
    b.say(format!(
        "mirrors: {MIRRORS} mirrors at {}/s each",
        exact_size(rate)
    ));
    let (all_secs, all_ok, report) =
        timed_download(&connectors, &dir.join("from-all.bin"), expected)?;
    let shares: Vec<u64> = report.bytes_per_mirror.iter().map(|(_, n)| *n).collect();
    let excluded: Vec<String> = report
        .excluded
        .iter()
        .map(|(addr, why)| format!("{addr}: {why}"))
        .collect();
    let corrupted = u64::from(!one_ok) + u64::from(!all_ok);
    let ratio = all_secs / one_secs;
    let label = exact_size(bytes);
    let limit = format!("{}/s per connection", exact_size(rate));
    b.push(
        Figure::new(
            GROUP,
            "mirror_1",
            format!("download {label} from 1 mirror"),
            mb_per_s(bytes, one_secs),
            "MB/s",
        )
        .baseline(format!("{one_secs:.2} s; limit {limit}"))
        .faults(0, u64::from(!one_ok))
        .detail("seconds", one_secs)
        .detail("rate_limit", rate),
    );
    b.push(
        Figure::new(
            GROUP,
            "mirror_4",
            format!("download {label} from {MIRRORS} mirrors"),
            mb_per_s(bytes, all_secs),
            "MB/s",
        )
        .baseline(format!("{all_secs:.2} s vs 1 mirror {one_secs:.2} s"))
        .target(
            format!("≤ {TARGET_RATIO}× the 1-mirror time"),
            Some(ratio),
            corrupted == 0 && ratio <= TARGET_RATIO,
        )
        .faults(0, corrupted)
        .detail("seconds", all_secs)
        .detail("one_mirror_seconds", one_secs)
        .detail("rate_limit", rate)
        .detail("mirrors", MIRRORS as u64)
        .detail("bytes_per_mirror", shares)
        .detail("excluded", excluded)
        .detail(
            "includes",
            "asking every mirror for size and MD5 (a login each), the final MD5 check and fsync",
        ),
    );
    drop(servers);
    for d in &dirs {
        let _ = std::fs::remove_dir_all(d.join("data"));
    }
    Ok(())
}

/// Times one multi-mirror download; whether the result has the right MD5.
fn timed_download(
    mirrors: &[Connector],
    dest: &std::path::Path,
    expected: ferry_proto::Md5Digest,
) -> anyhow::Result<(f64, bool, MirrorReport)> {
    let options = MirrorOptions {
        restart: true,
        ..MirrorOptions::default()
    };
    let started = Instant::now();
    let report = mirror::download(mirrors, NAME, dest, &options, &mut |_: &MirrorProgress| {
        ControlFlow::Continue(())
    })
    .with_context(|| format!("while downloading from {} mirror(s)", mirrors.len()))?;
    let secs = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(dest);
    Ok((secs, report.md5 == expected, report))
}
