//! LIST of many files: the server is filled with tiny files (over several
//! connections at once, only to keep the setup short), then one client
//! times `Client::list()`; the median of five.

use std::thread;
use std::time::Instant;

use anyhow::bail;

use crate::bench::{Bench, count_text, median};
use crate::figures::small::{SmallFile, count, stored_ok, upload_batch};
use crate::report::Figure;
use crate::server::ServerOptions;
use crate::sync::Tally;

const GROUP: &str = "list";
/// Milliseconds the issue allows for a LIST of 10,000 files.
const LIMIT_MS: f64 = 150.0;
const FULL_COUNT: usize = 10_000;
const RUNS: usize = 5;
const FILL_CONNECTIONS: usize = 8;

pub fn run(b: &mut Bench) -> anyhow::Result<()> {
    let n = b.sizes.list_files;
    let dir = b.dir(GROUP)?;
    let server = b.server(&dir, &ServerOptions::default())?;
    b.say(format!("list: uploading {} tiny files", count_text(n)));
    let files = SmallFile::create_many(&dir.join("files"), "list", 0x7000, n, 16)?;
    let started = Instant::now();
    let mut fill = Tally::default();
    thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(n.div_ceil(FILL_CONNECTIONS))
            .enumerate()
            .map(|(i, part)| {
                let server = &server;
                thread::Builder::new()
                    .name(format!("list-fill-{i}"))
                    .spawn_scoped(scope, move || {
                        let mut tally = Tally::default();
                        match server.login() {
                            Ok(mut c) => {
                                count(upload_batch(&mut c, part), part, &mut tally, stored_ok)
                            }
                            Err(e) => tally.error(format!("{e:#}")),
                        }
                        tally
                    })
            })
            .collect();
        for w in workers {
            match w.map(|h| h.join()) {
                Ok(Ok(tally)) => fill.add(tally),
                Ok(Err(_)) => fill.error("an upload thread panicked"),
                Err(e) => fill.error(format!("could not start an upload thread: {e}")),
            }
        }
    });
    let fill_secs = started.elapsed().as_secs_f64();
    if fill.errors > 0 || fill.corrupted > 0 {
        bail!("filling the server failed: {}", fill.samples.join("; "));
    }

    b.say("list: timing LIST");
    let mut client = server.login()?;
    let mut samples = Vec::with_capacity(RUNS);
    let mut wrong = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        let entries = client.list()?;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        if entries.len() != n {
            wrong += 1;
        }
    }
    let all = samples.clone();
    let ms = median(&mut samples);
    let limit = b.scaled(LIMIT_MS, n, FULL_COUNT);
    b.push(
        Figure::new(
            GROUP,
            "list",
            format!("LIST of {} files", count_text(n)),
            ms,
            "ms",
        )
        .baseline(format!("median of {RUNS}"))
        .target(
            format!("< {limit:.0} ms"),
            Some(ms / limit),
            wrong == 0 && ms < limit,
        )
        .faults(wrong, 0)
        .detail("runs_ms", all)
        .detail("files", n as u64)
        .detail("limit_ms", limit)
        .detail("fill_seconds", fill_secs)
        .detail("fill_connections", FILL_CONNECTIONS as u64),
    );
    Ok(())
}
