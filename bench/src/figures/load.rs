//! The load tool: N active clients, each on its own connection and thread,
//! loop over a random mix of LIST, upload of a small random file and
//! download (checked byte for byte) of a file uploaded earlier, for T
//! seconds, while M idle connections are held open. Afterwards every idle
//! connection must still answer, and every file the clients know the
//! content of must be listed with that content's MD5.
//!
//! Runs against a server process of its own (so that its peak memory can
//! be read), or against any running server with `--server`.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use ferry_client::transfer::Connector;
use ferry_client::{Client, ClientError, DownloadOptions, UploadOptions};
use ferry_proto::Md5Digest;
use ferry_proto::hash::md5_bytes;
use ferry_proto::protocol::ConflictPolicy;

use crate::bench::{Bench, KIB, count_text, mib};
use crate::data::{self, Rng};
use crate::figures::small::{SmallFile, count, stored_ok, upload_batch};
use crate::idle;
use crate::report::Figure;
use crate::server::{Memory, RssSampler, ServerOptions, ServerProcess, USER, ensure_nofile};
use crate::sync::{Phases, Tally};

const GROUP: &str = "load";
/// Files every client may download, uploaded before the run.
const SEED_FILES: usize = 16;
const SEED_SIZE: usize = 64 * 1024;
/// Names each client uploads to, in turn (new versions of the same names,
/// so the file count stays bounded however long the run).
const SLOTS: u64 = 4;
/// The mix, in percent: LIST, then upload, the rest download.
const LIST_PERCENT: u64 = 20;
const UPLOAD_PERCENT: u64 = 40;

/// `ferry-bench load` options.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct LoadArgs {
    /// Active clients [default: 500; with --quick 20].
    #[arg(long, value_name = "N")]
    pub clients: Option<usize>,
    /// Seconds of load [default: 30; with --quick 3].
    #[arg(long, value_name = "T")]
    pub seconds: Option<u64>,
    /// Idle connections held open during the run [default: 2000; with --quick 50].
    #[arg(long, value_name = "M")]
    pub idle: Option<usize>,
    /// Load this running server instead of starting one (it uploads files
    /// named load-*); the password comes from FERRY_PASSWORD. Its memory is
    /// reported only with --server-pid.
    #[arg(long, value_name = "ADDR:PORT")]
    pub server: Option<String>,
    /// User to log in as on --server [default: admin].
    #[arg(long, requires = "server")]
    pub user: Option<String>,
    /// Process id of the --server, to read its memory (same machine only).
    #[arg(long, requires = "server", value_name = "PID")]
    pub server_pid: Option<u32>,
    /// The --server's TLS fingerprint (`ferry-server --data DIR fingerprint`), to
    /// trust it; without it the --server is spoken to in plaintext (run
    /// with --plaintext).
    #[arg(long, requires = "server", value_name = "SHA256:…")]
    pub trust: Option<String>,
}

/// What one active client did.
#[derive(Default)]
struct Outcome {
    tally: Tally,
    /// Operations by kind: list, upload, download.
    by_kind: [u64; 3],
    /// Latency of every successful operation, microseconds.
    latencies: Vec<u32>,
    /// The MD5 each of this client's names must have on the server now;
    /// `None` when an upload to it failed midway and it is unknown.
    mine: HashMap<String, Option<Md5Digest>>,
}

pub fn run(b: &mut Bench, args: &LoadArgs) -> anyhow::Result<()> {
    let clients = args.clients.unwrap_or(b.sizes.load_clients).max(1);
    let seconds = args.seconds.unwrap_or(b.sizes.load_seconds).max(1);
    let idle_count = args.idle.unwrap_or(b.sizes.load_idle);
    let need = (clients + idle_count) as u64 + 256;
    if let Err(why) = ensure_nofile(need) {
        b.push(Figure::skipped(GROUP, "load_ops", "load", "ops/s", why));
        return Ok(());
    }

    // The server: our own process, or the one given.
    let own: Option<ServerProcess>;
    let (connector, pid) = match &args.server {
        Some(addr) => {
            let password = std::env::var("FERRY_PASSWORD")
                .context("set FERRY_PASSWORD to the password of the --server account")?;
            let user = args.user.clone().unwrap_or_else(|| USER.to_owned());
            own = None;
            (
                Connector::new(
                    addr.clone(),
                    security_for(args.trust.as_deref())?,
                    user,
                    password,
                ),
                args.server_pid,
            )
        }
        None => {
            let dir = b.dir(GROUP)?;
            let server = b.server(
                &dir,
                &ServerOptions {
                    max_connections: clients + idle_count + 64,
                    ..ServerOptions::default()
                },
            )?;
            let found = (server.connector(), Some(server.pid));
            own = Some(server);
            found
        }
    };
    // Logging in 500 clients at bcrypt cost 10 keeps a small server busy
    // for a while; every login must still be answered.
    let connector = connector.with_timeout(Duration::from_secs(180));
    let addr = connector.addr.clone();
    let security = connector.security.clone();

    let seeds = SmallFile::create_many(
        &b.dir(GROUP)?.join("seeds"),
        "load-seed",
        0x10ad_0000,
        SEED_FILES,
        SEED_SIZE,
    )?;
    let mut client = connector
        .connect()
        .context("while logging in to upload the seed files")?;
    let mut seeded = Tally::default();
    count(
        upload_batch(&mut client, &seeds),
        &seeds,
        &mut seeded,
        stored_ok,
    );
    if seeded.errors > 0 || seeded.corrupted > 0 {
        anyhow::bail!(
            "the seed files could not be uploaded: {}",
            seeded.samples.join("; ")
        );
    }
    drop(client);

    b.say(format!(
        "load: opening {} idle connections",
        count_text(idle_count)
    ));
    let mut idle_conns = idle::open_many(&addr, &security, idle_count)?;
    let sampler = pid.map(RssSampler::start).transpose()?;

    b.say(format!(
        "load: {} clients logging in, then {seconds} s of list/upload/download",
        count_text(clients)
    ));
    let run_seed = data::run_seed();
    let phases = Phases::new(clients + 1);
    let deadline: OnceLock<Instant> = OnceLock::new();
    let login_started = Instant::now();
    let (outcomes, login_secs, run_secs) = thread::scope(|scope| {
        let mut workers = Vec::with_capacity(clients);
        for i in 0..clients {
            let seat = phases.seat();
            let (connector, seeds, deadline) = (&connector, &seeds, &deadline);
            let spawned = thread::Builder::new()
                .name(format!("load-{i}"))
                .stack_size(256 * 1024)
                .spawn_scoped(scope, move || {
                    let first = connector.connect();
                    seat.wait(); // all logged in
                    seat.wait(); // deadline set
                    let deadline = deadline.get().copied().unwrap_or_else(Instant::now);
                    work(i as u64, run_seed, first, connector, seeds, deadline)
                });
            match spawned {
                Ok(h) => workers.push(h),
                Err(e) => eprintln!("ferry-bench: could not start load client {i}: {e}"),
            }
        }
        phases.wait();
        let login_secs = login_started.elapsed().as_secs_f64();
        let start = Instant::now();
        let _ = deadline.set(start + Duration::from_secs(seconds));
        phases.wait();
        let started = workers.len();
        let mut outcomes: Vec<Outcome> = workers
            .into_iter()
            .map(|w| {
                w.join().unwrap_or_else(|_| {
                    let mut o = Outcome::default();
                    o.tally.error("a load client panicked");
                    o
                })
            })
            .collect();
        for _ in started..clients {
            let mut o = Outcome::default();
            o.tally.error("a load client thread could not start");
            outcomes.push(o);
        }
        (outcomes, login_secs, start.elapsed().as_secs_f64())
    });
    let sampled_peak = sampler.map_or(0, RssSampler::finish);
    let memory = pid.map(Memory::of).transpose()?;

    // Every idle connection must still be there and answer.
    let idle_alive = idle_conns
        .iter_mut()
        .map(idle::Idle::ping)
        .filter(|&ok| ok)
        .count();
    drop(idle_conns);

    // Every file whose content is known must be listed with its MD5.
    let mut tally = Tally::default();
    let mut by_kind = [0u64; 3];
    let mut latencies = Vec::new();
    let mut expected: HashMap<String, Md5Digest> =
        seeds.iter().map(|s| (s.name.clone(), s.md5)).collect();
    let mut starved = 0u64;
    for o in outcomes {
        if o.tally.ops == 0 {
            starved += 1;
        }
        tally.add(o.tally);
        for (total, n) in by_kind.iter_mut().zip(o.by_kind) {
            *total += n;
        }
        latencies.extend(o.latencies);
        expected.extend(o.mine.into_iter().filter_map(|(k, v)| Some((k, v?))));
    }
    let mut checker = connector
        .connect()
        .context("while logging in for the final check")?;
    let listed: HashMap<String, Md5Digest> = checker
        .list()
        .context("while listing the files after the run")?
        .into_iter()
        .map(|e| (e.current.name, e.current.md5))
        .collect();
    let mut damaged = 0u64;
    for (name, md5) in &expected {
        if listed.get(name) != Some(md5) {
            damaged += 1;
            tally.corrupt(format!("{name} is not listed with the MD5 last uploaded"));
        }
    }
    drop(checker);
    drop(own);

    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() - 1) as f64 * p).round() as usize;
        f64::from(latencies[i]) / 1000.0
    };
    let ops_per_s = tally.ops as f64 / run_secs;
    let full = clients >= 500 && seconds >= 30 && idle_count >= 2000;
    let size_note = if full || b.quick {
        String::new()
    } else {
        " (smaller than the issue's 500 clients, 30 s, 2,000 idle)".to_owned()
    };
    b.push(
        Figure::new(
            GROUP,
            "load_ops",
            format!(
                "load: {} clients × {seconds} s, list/upload/download",
                count_text(clients)
            ),
            ops_per_s,
            "ops/s",
        )
        .baseline(format!(
            "{} ops: {} list, {} upload, {} download",
            tally.ops, by_kind[0], by_kind[1], by_kind[2]
        ))
        .target(
            format!("0 errors, 0 corrupted, every client served{size_note}"),
            None,
            tally.errors == 0 && tally.corrupted == 0 && starved == 0,
        )
        .faults(tally.errors, tally.corrupted)
        .detail("clients", clients as u64)
        .detail("seconds", run_secs)
        .detail("login_seconds", login_secs)
        .detail("operations", tally.ops)
        .detail("list", by_kind[0])
        .detail("upload", by_kind[1])
        .detail("download", by_kind[2])
        .detail("clients_without_a_single_operation", starved)
        .detail("files_checked_after", expected.len() as u64)
        .detail("files_damaged_after", damaged)
        .detail("latency_ms_p50", pct(0.5))
        .detail("latency_ms_p99", pct(0.99))
        .detail("latency_ms_max", pct(1.0))
        .detail("error_samples", tally.samples.clone()),
    );
    let dead = (idle_count - idle_alive) as u64;
    b.push(
        Figure::new(
            GROUP,
            "load_idle",
            "idle connections held during the load",
            idle_alive as f64,
            "conns",
        )
        .baseline(format!("{} opened", count_text(idle_count)))
        .target(
            "all answer PING afterwards, active clients served",
            None,
            dead == 0 && starved == 0 && tally.ops > 0,
        )
        .faults(dead, 0)
        .detail("opened", idle_count as u64)
        .detail("answered_ping", idle_alive as u64),
    );
    let rss_name = "server RSS peak during the load";
    match memory {
        Some(m) => b.push(
            Figure::new(
                GROUP,
                "load_rss",
                rss_name,
                mib(m.hwm.max(sampled_peak)),
                "MiB",
            )
            .baseline("VmHWM")
            .detail("vm_hwm_bytes", m.hwm)
            .detail("sampled_peak_bytes", sampled_peak)
            .detail("rss_after_bytes", m.rss)
            .detail("threads_after", m.threads),
        ),
        None => b.push(Figure::skipped(
            GROUP,
            "load_rss",
            rss_name,
            "MiB",
            "give --server-pid to read the memory of a --server".to_owned(),
        )),
    }
    Ok(())
}

/// Why one operation did not count.
enum Fault {
    Error(String),
    Corrupt(String),
}

impl From<ClientError> for Fault {
    fn from(e: ClientError) -> Fault {
        match e {
            ClientError::Corrupt { .. } => Fault::Corrupt(e.to_string()),
            other => Fault::Error(other.to_string()),
        }
    }
}

/// One active client's loop, until `deadline`.
fn work(
    id: u64,
    run_seed: u64,
    first: Result<Client, ClientError>,
    connector: &Connector,
    seeds: &[SmallFile],
    deadline: Instant,
) -> Outcome {
    let mut out = Outcome::default();
    let mut rng = Rng::new(run_seed ^ (id << 20));
    let mut client = match first {
        Ok(c) => Some(c),
        Err(e) => {
            out.tally.error(format!("login: {e}"));
            None
        }
    };
    let mut uploads = 0u64;
    while Instant::now() < deadline {
        if client.is_none() {
            match connector.connect() {
                Ok(c) => client = Some(c),
                Err(e) => {
                    out.tally.error(format!("reconnect: {e}"));
                    thread::sleep(Duration::from_millis(200));
                    continue;
                }
            }
        }
        let Some(c) = client.as_mut() else {
            continue;
        };
        let roll = rng.below(100);
        let started = Instant::now();
        let kind;
        let result = if roll < LIST_PERCENT {
            kind = 0;
            list(c, seeds.len())
        } else if roll < LIST_PERCENT + UPLOAD_PERCENT {
            kind = 1;
            uploads += 1;
            upload(c, &mut rng, id, uploads, &mut out.mine)
        } else {
            kind = 2;
            download(c, &mut rng, seeds, &out.mine)
        };
        match result {
            Ok(()) => {
                out.tally.ops += 1;
                out.by_kind[kind] += 1;
                out.latencies
                    .push(started.elapsed().as_micros().min(u32::MAX as u128) as u32);
            }
            Err(Fault::Corrupt(why)) => out.tally.corrupt(why),
            Err(Fault::Error(why)) => {
                out.tally.error(why);
                // Whatever state the connection is in, start afresh.
                client = None;
            }
        }
    }
    if let Some(c) = client {
        let _ = c.quit();
    }
    out
}

fn list(c: &mut Client, at_least: usize) -> Result<(), Fault> {
    let entries = c.list()?;
    if entries.len() < at_least {
        return Err(Fault::Error(format!(
            "LIST returned {} files, at least {at_least} exist",
            entries.len()
        )));
    }
    Ok(())
}

fn upload(
    c: &mut Client,
    rng: &mut Rng,
    id: u64,
    n: u64,
    mine: &mut HashMap<String, Option<Md5Digest>>,
) -> Result<(), Fault> {
    let name = format!("load-{id:04}-{}.bin", rng.below(SLOTS));
    let size = (KIB + rng.below(63 * KIB)) as usize;
    let bytes = data::bytes(rng.next_u64() ^ (id << 40) ^ n, size);
    let md5 = md5_bytes(&bytes);
    // Until the server confirms, the name's content is unknown.
    mine.insert(name.clone(), None);
    let stored = c.upload(
        Cursor::new(&bytes),
        &name,
        UploadOptions {
            policy: ConflictPolicy::Overwrite,
            ..UploadOptions::default()
        },
    )?;
    if stored.md5 != md5 || stored.size != size as u64 {
        return Err(Fault::Corrupt(format!(
            "{name} stored with MD5 {}, sent {md5}",
            stored.md5
        )));
    }
    mine.insert(name, Some(md5));
    Ok(())
}

fn download(
    c: &mut Client,
    rng: &mut Rng,
    seeds: &[SmallFile],
    mine: &HashMap<String, Option<Md5Digest>>,
) -> Result<(), Fault> {
    let known: Vec<(&String, &Md5Digest)> = mine
        .iter()
        .filter_map(|(k, v)| Some((k, v.as_ref()?)))
        .collect();
    let (name, md5) = if known.is_empty() || rng.below(2) == 0 {
        let s = &seeds[rng.below(seeds.len() as u64) as usize];
        (&s.name, &s.md5)
    } else {
        known[rng.below(known.len() as u64) as usize]
    };
    let mut got = Vec::new();
    c.download(name, &mut got, DownloadOptions::default())?;
    if md5_bytes(&got) != *md5 {
        return Err(Fault::Corrupt(format!("{name} came back different")));
    }
    Ok(())
}

/// How to reach an outside `--server`: trusting the fingerprint given, or
/// in plaintext.
fn security_for(fingerprint: Option<&str>) -> anyhow::Result<ferry_client::Security> {
    Ok(match fingerprint {
        Some(fp) => ferry_client::Security::Tls(ferry_client::Trust::nothing().vouch(fp)?),
        None => ferry_client::Security::Plaintext,
    })
}
