//! Many clients at once, each on its own connection: every one uploads a
//! file of its own and downloads it back, and what came back is checked
//! against what was sent. The server's memory is sampled throughout.

use std::io;
use std::thread;
use std::time::Instant;

use ferry_client::{DownloadOptions, UploadOptions};
use ferry_proto::protocol::ConflictPolicy;
use ferry_proto::units::exact_size;

use crate::bench::{Bench, mb_per_s, mib};
use crate::data::Pattern;
use crate::report::Figure;
use crate::server::{RssSampler, ServerOptions};
use crate::sync::{Phases, Tally};

const GROUP: &str = "concurrent";

pub fn run(b: &mut Bench) -> anyhow::Result<()> {
    let clients = b.sizes.concurrent_clients;
    let bytes = b.sizes.concurrent_bytes;
    let dir = b.dir(GROUP)?;
    let server = b.server(
        &dir,
        &ServerOptions {
            max_connections: 1024.max(clients + 64),
            ..ServerOptions::default()
        },
    )?;
    b.say(format!(
        "concurrent: {clients} clients each uploading and downloading {}",
        exact_size(bytes)
    ));
    let sampler = RssSampler::start(server.pid)?;
    let phases = Phases::new(clients + 1);
    let (secs, tally) = thread::scope(|scope| {
        let mut workers = Vec::new();
        for i in 0..clients {
            let seat = phases.seat();
            let server = &server;
            let spawned = thread::Builder::new()
                .name(format!("concurrent-{i}"))
                .spawn_scoped(scope, move || {
                    let mut tally = Tally::default();
                    let client = server.login();
                    seat.wait(); // all logged in
                    let mut client = match client {
                        Ok(c) => c,
                        Err(e) => {
                            tally.error(format!("{e:#}"));
                            return tally;
                        }
                    };
                    let name = format!("concurrent-{i:03}.bin");
                    let source = Pattern::new(0xc0_0000 + i as u64, bytes);
                    let stored = match client.upload(
                        source,
                        &name,
                        UploadOptions {
                            policy: ConflictPolicy::Overwrite,
                            ..UploadOptions::default()
                        },
                    ) {
                        Ok(s) => s,
                        Err(e) => {
                            tally.error(e);
                            return tally;
                        }
                    };
                    tally.ops += 1;
                    // The client hashes what it receives and checks it
                    // against the server's MD5; comparing that with the MD5
                    // of what was sent closes the loop end to end.
                    match client.download(&name, &mut io::sink(), DownloadOptions::default()) {
                        Ok(got) if got.md5 == stored.md5 && got.size == bytes => tally.ops += 1,
                        Ok(got) => tally.corrupt(format!(
                            "{name} came back with MD5 {}, sent {}",
                            got.md5, stored.md5
                        )),
                        Err(e @ ferry_client::ClientError::Corrupt { .. }) => tally.corrupt(e),
                        Err(e) => tally.error(e),
                    }
                    tally
                });
            match spawned {
                Ok(h) => workers.push(h),
                Err(e) => eprintln!("ferry-bench: could not start client {i}: {e}"),
            }
        }
        phases.wait();
        let started = Instant::now();
        let mut tally = Tally::default();
        let started_workers = workers.len();
        for w in workers {
            match w.join() {
                Ok(t) => tally.add(t),
                Err(_) => tally.error("a client thread panicked"),
            }
        }
        for _ in started_workers..clients {
            tally.error("a client thread could not start");
        }
        (started.elapsed().as_secs_f64(), tally)
    });
    let sampled_peak = sampler.finish();
    let memory = server.memory()?;
    let moved = 2 * bytes * clients as u64;
    let ok = tally.errors == 0 && tally.corrupted == 0;
    b.push(
        Figure::new(
            GROUP,
            "concurrent",
            format!(
                "{clients} clients × {} up + down, aggregate",
                exact_size(bytes)
            ),
            mb_per_s(moved, secs),
            "MB/s",
        )
        .baseline(format!("{secs:.2} s for {}", exact_size(moved)))
        .target("0 errors, 0 corrupted", None, ok)
        .faults(tally.errors, tally.corrupted)
        .detail("seconds", secs)
        .detail("bytes_moved", moved)
        .detail("clients", clients as u64)
        .detail("transfers_ok", tally.ops)
        .detail("error_samples", tally.samples),
    );
    let peak = sampled_peak.max(memory.hwm);
    b.push(
        Figure::new(
            GROUP,
            "rss_concurrent",
            format!("server RSS peak during the {clients}-client run"),
            mib(peak),
            "MiB",
        )
        .baseline("VmHWM, and VmRSS sampled every 50 ms")
        .detail("vm_hwm_bytes", memory.hwm)
        .detail("sampled_peak_bytes", sampled_peak)
        .detail("rss_after_bytes", memory.rss),
    );
    drop(server);
    let _ = std::fs::remove_dir_all(dir.join("data"));
    Ok(())
}
