//! Server memory: resident set size (VmRSS) right after start, then with
//! many idle connections open (greeted, not logged in), each checked with a
//! PING after the reading so that none of them was quietly refused; and
//! the large count again over TLS, on a server of its own.

use std::thread;
use std::time::{Duration, Instant};

use ferry_client::Security;

use crate::bench::{Bench, count_text, mib};
use crate::idle;
use crate::report::Figure;
use crate::server::{Memory, ServerOptions, ServerProcess, ensure_nofile, nofile_limit};

const GROUP: &str = "memory";
/// MiB the issue allows with 1,000 and with 10,000 idle connections.
const LIMIT_SMALL_MIB: f64 = 32.0;
const LIMIT_LARGE_MIB: f64 = 200.0;
/// MiB issue 15 allows with 10,000 idle TLS connections.
const LIMIT_LARGE_TLS_MIB: f64 = 400.0;

pub fn run(b: &mut Bench) -> anyhow::Result<()> {
    let small = b.sizes.idle_small;
    let large = b.sizes.idle_large;
    // This process holds one socket per connection and the server (which
    // inherits the limit) one more, plus their files and pipes.
    let need = large as u64 + 256;
    let fd_problem = ensure_nofile(need).err();
    let dir = b.dir(GROUP)?;
    let options = ServerOptions {
        max_connections: large.max(small) + 100,
        ..ServerOptions::default()
    };
    let server = b.server(&dir.join("plaintext"), &options)?;
    // Let the start-up (database, admin hash) settle.
    thread::sleep(Duration::from_millis(500));
    let idle_memory = server.memory()?;
    b.push(
        Figure::new(
            GROUP,
            "rss_idle",
            "server RSS, idle after start",
            mib(idle_memory.rss),
            "MiB",
        )
        .detail("rss_bytes", idle_memory.rss)
        .detail("threads", idle_memory.threads),
    );

    b.say(format!("memory: {} idle connections", count_text(small)));
    b.push(idle_figure(
        &server,
        small,
        "rss_idle_small",
        LIMIT_SMALL_MIB,
        idle_memory,
    )?);

    let child_limit = nofile_limit(Some(server.pid)).map_or(0, |(soft, _)| soft);
    let problem = fd_problem.or_else(|| {
        (child_limit < need)
            .then(|| format!("the server may open only {child_limit} files, {need} are needed"))
    });
    let name = format!("server RSS, {} idle connections", count_text(large));
    let tls_name = format!("server RSS, {} idle TLS connections", count_text(large));
    if let Some(why) = problem {
        b.push(Figure::skipped(
            GROUP,
            "rss_idle_large",
            name,
            "MiB",
            why.clone(),
        ));
        b.push(Figure::skipped(
            GROUP,
            "rss_idle_large_tls",
            tls_name,
            "MiB",
            why,
        ));
        return Ok(());
    }
    b.say(format!("memory: {} idle connections", count_text(large)));
    b.push(idle_figure(
        &server,
        large,
        "rss_idle_large",
        LIMIT_LARGE_MIB,
        idle_memory,
    )?);
    drop(server);

    let server = b.server(&dir.join("tls"), &options.tls())?;
    thread::sleep(Duration::from_millis(500));
    let idle_memory = server.memory()?;
    b.say(format!(
        "memory: {} idle TLS connections",
        count_text(large)
    ));
    b.push(idle_figure(
        &server,
        large,
        "rss_idle_large_tls",
        LIMIT_LARGE_TLS_MIB,
        idle_memory,
    )?);
    Ok(())
}

/// Opens `n` idle connections, reads the server's memory, checks that every
/// connection still answers, and closes them again.
fn idle_figure(
    server: &ServerProcess,
    n: usize,
    id: &str,
    limit_mib: f64,
    idle: Memory,
) -> anyhow::Result<Figure> {
    let base_threads = server.memory()?.threads;
    let started = Instant::now();
    let mut conns = idle::open_many(&server.addr, &server.security, n)?;
    let open_secs = started.elapsed().as_secs_f64();
    let threads = server.wait_threads(|t| t >= base_threads + n as u64, Duration::from_secs(30))?;
    // The connection threads have greeted; give them a moment to block in read.
    thread::sleep(Duration::from_millis(300));
    let memory = server.memory()?;
    let alive = conns
        .iter_mut()
        .map(idle::Idle::ping)
        .filter(|&ok| ok)
        .count();
    drop(conns);
    server.wait_threads(|t| t <= base_threads, Duration::from_secs(30))?;
    let value = mib(memory.rss);
    let dead = (n - alive) as u64;
    let per_conn = memory.rss.saturating_sub(idle.rss) / n.max(1) as u64;
    let kind = match server.security {
        Security::Tls(_) => " TLS",
        Security::Plaintext => "",
    };
    Ok(Figure::new(
        GROUP,
        id,
        format!("server RSS, {} idle{kind} connections", count_text(n)),
        value,
        "MiB",
    )
    .baseline(format!(
        "idle {:.1} MiB; {:.1} KiB per connection",
        mib(idle.rss),
        per_conn as f64 / 1024.0
    ))
    .target(
        format!("< {limit_mib:.0} MiB"),
        Some(value / limit_mib),
        dead == 0 && value < limit_mib,
    )
    .faults(dead, 0)
    .detail("connections", n as u64)
    .detail("rss_bytes", memory.rss)
    .detail("server_threads", threads)
    .detail("bytes_per_connection", per_conn)
    .detail("open_seconds", open_secs)
    .detail("answered_ping", alive as u64))
}
