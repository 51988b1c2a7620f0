//! The periodic status report: what it says ([`Snapshot`], [`render`]) and
//! the thread that prints and logs it (`--status-interval`).
//!
//! Rendering is a pure function of two snapshots (now and the previous
//! report, for the throughput), so it is tested without a server. The
//! counters themselves are kept by the `meter` module.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use ferry_proto::units::human_size;
use log::{info, warn};

use crate::Shared;

/// One listener's figures at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerSnapshot {
    /// The address the listener is bound to.
    pub addr: SocketAddr,
    /// Connections open now (served, not refused as busy).
    pub connections: usize,
    /// Uploads and downloads streaming now.
    pub transfers: usize,
    /// Bytes received from clients since the server started.
    pub bytes_in: u64,
    /// Bytes sent to clients since the server started.
    pub bytes_out: u64,
}

/// The whole server's figures at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Time since the server started.
    pub uptime: Duration,
    /// One entry per listener, in the order of `--listen`.
    pub listeners: Vec<ListenerSnapshot>,
    /// The TLS certificate's fingerprint; `None` without TLS.
    pub fingerprint: Option<String>,
}

/// Figures summed over all listeners.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Connections open now.
    pub connections: usize,
    /// Uploads and downloads streaming now.
    pub transfers: usize,
    /// Bytes received since the server started.
    pub bytes_in: u64,
    /// Bytes sent since the server started.
    pub bytes_out: u64,
}

impl Snapshot {
    /// Connections, transfers and bytes summed over all listeners.
    pub fn totals(&self) -> Totals {
        self.listeners
            .iter()
            .fold(Totals::default(), |t, l| Totals {
                connections: t.connections + l.connections,
                transfers: t.transfers + l.transfers,
                bytes_in: t.bytes_in + l.bytes_in,
                bytes_out: t.bytes_out + l.bytes_out,
            })
    }
}

/// Takes the server's figures now.
pub(crate) fn snapshot(shared: &Shared) -> Snapshot {
    Snapshot {
        fingerprint: shared.tls.as_ref().map(|t| t.fingerprint().to_owned()),
        uptime: shared.started.elapsed(),
        listeners: shared
            .listeners
            .iter()
            .map(|l| ListenerSnapshot {
                addr: l.addr,
                connections: l.connections(),
                transfers: l.transfers(),
                bytes_in: l.bytes_in(),
                bytes_out: l.bytes_out(),
            })
            .collect(),
    }
}

const BOLD: &str = "\x1b[1m";
const CYAN: &str = "\x1b[36m";
const GREEN: &str = "\x1b[32m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

/// The report for `current`, with throughput measured since `previous`:
/// a line with the uptime and the totals, then one line per listener, as
/// aligned columns. With `color`, ANSI colours pick out the headline, the
/// addresses and the figures that are moving; alignment is the same either
/// way. Ends with a newline.
///
/// ```text
/// TLS certificate SHA256:3f1c…
/// status, up 0:01:05   connections 3  transfers 2  in  12.0 MiB at 1.9 MiB/s  out  40.0 MiB at 6.0 MiB/s
///   127.0.0.1:7878     connections 1  transfers 1  in   4.0 MiB at 640 KiB/s  out  13.0 MiB at 2.0 MiB/s
/// ```
pub fn render(current: &Snapshot, previous: &Snapshot, color: bool) -> String {
    let secs = current.uptime.saturating_sub(previous.uptime).as_secs_f64();
    let rate = |now: u64, before: u64| -> String {
        let per_sec = if secs > 0.0 {
            (now.saturating_sub(before) as f64 / secs).round() as u64
        } else {
            0
        };
        format!("{}/s", human_size(per_sec))
    };

    // Each row: the label, connections, transfers, bytes in, rate in,
    // bytes out, rate out; a flag says whether it is the headline.
    let total = current.totals();
    let before = previous.totals();
    let mut rows = vec![Row {
        headline: true,
        label: format!("status, up {}", uptime(current.uptime)),
        connections: total.connections,
        transfers: total.transfers,
        bytes_in: human_size(total.bytes_in),
        rate_in: rate(total.bytes_in, before.bytes_in),
        bytes_out: human_size(total.bytes_out),
        rate_out: rate(total.bytes_out, before.bytes_out),
    }];
    for (i, l) in current.listeners.iter().enumerate() {
        // Listeners are fixed at start, so the same index is the same one;
        // the address check only guards against a mismatched pair.
        let before = previous
            .listeners
            .get(i)
            .filter(|p| p.addr == l.addr)
            .map_or((l.bytes_in, l.bytes_out), |p| (p.bytes_in, p.bytes_out));
        rows.push(Row {
            headline: false,
            label: format!("  {}", l.addr),
            connections: l.connections,
            transfers: l.transfers,
            bytes_in: human_size(l.bytes_in),
            rate_in: rate(l.bytes_in, before.0),
            bytes_out: human_size(l.bytes_out),
            rate_out: rate(l.bytes_out, before.1),
        });
    }

    let width = |f: fn(&Row) -> usize| rows.iter().map(f).max().unwrap_or(0);
    let w_label = width(|r| r.label.chars().count());
    let w_conns = width(|r| r.connections.to_string().len());
    let w_transfers = width(|r| r.transfers.to_string().len());
    let w_in = width(|r| r.bytes_in.len());
    let w_rate_in = width(|r| r.rate_in.len());
    let w_out = width(|r| r.bytes_out.len());
    let w_rate_out = width(|r| r.rate_out.len());

    let paint = |text: String, style: &str| -> String {
        if color && !style.is_empty() {
            format!("{style}{text}{RESET}")
        } else {
            text
        }
    };
    let mut out = match &current.fingerprint {
        Some(fingerprint) => format!("TLS certificate {fingerprint}\n"),
        None => "no TLS: passwords and files travel in clear\n".to_owned(),
    };
    for r in &rows {
        let label_style = if r.headline { BOLD } else { CYAN };
        let busy = |n: usize| if n > 0 { GREEN } else { DIM };
        let moving = |rate: &str| if rate.starts_with("0 B") { DIM } else { GREEN };
        let _ = writeln!(
            out,
            "{}  connections {}  transfers {}  in {} at {}  out {} at {}",
            paint(format!("{:<w_label$}", r.label), label_style),
            paint(format!("{:>w_conns$}", r.connections), busy(r.connections)),
            paint(format!("{:>w_transfers$}", r.transfers), busy(r.transfers)),
            format_args!("{:>w_in$}", r.bytes_in),
            paint(format!("{:>w_rate_in$}", r.rate_in), moving(&r.rate_in)),
            format_args!("{:>w_out$}", r.bytes_out),
            paint(format!("{:>w_rate_out$}", r.rate_out), moving(&r.rate_out)),
        );
    }
    out
}

struct Row {
    headline: bool,
    label: String,
    connections: usize,
    transfers: usize,
    bytes_in: String,
    rate_in: String,
    bytes_out: String,
    rate_out: String,
}

/// `H:MM:SS`, hours counting past a day.
fn uptime(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The body of the "status" thread: every `every`, prints the report to
/// stdout (coloured if configured) and logs it, one record per line, at
/// info level. Returns soon after the server starts stopping.
pub(crate) fn report_every(shared: &Shared, every: Duration) {
    const NAP: Duration = Duration::from_millis(100);
    let mut previous = snapshot(shared);
    // An interval too long for the clock means no report is ever due.
    let Some(mut next) = Instant::now().checked_add(every) else {
        return;
    };
    let mut console = true;
    while !shared.stopping.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now < next {
            thread::sleep(NAP.min(next - now));
            continue;
        }
        // Keep to the schedule, but after a long stall (a suspended
        // machine) start afresh instead of reporting in a burst.
        next = match next.checked_add(every) {
            Some(n) if n > now => n,
            _ => match now.checked_add(every) {
                Some(n) => n,
                None => return,
            },
        };
        let current = snapshot(shared);
        if console {
            let text = render(&current, &previous, shared.config.status_color);
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                // Nobody reads the console any more (a closed pipe): the
                // report still goes to the log.
                warn!("cannot print the status report ({e}); it is still written to the log");
                console = false;
            }
        }
        for line in render(&current, &previous, false).lines() {
            info!("{line}");
        }
        previous = current;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(
        port: u16,
        connections: usize,
        transfers: usize,
        inb: u64,
        outb: u64,
    ) -> ListenerSnapshot {
        ListenerSnapshot {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            connections,
            transfers,
            bytes_in: inb,
            bytes_out: outb,
        }
    }

    fn pair() -> (Snapshot, Snapshot) {
        let before = Snapshot {
            fingerprint: None,
            uptime: Duration::from_secs(60),
            listeners: vec![listener(7878, 0, 0, 0, 0), listener(17879, 1, 0, 1024, 0)],
        };
        let now = Snapshot {
            fingerprint: None,
            uptime: Duration::from_secs(3725),
            listeners: vec![
                listener(7878, 2, 1, 10 << 20, 3 << 30),
                listener(17879, 1, 0, 1024, 0),
            ],
        };
        (now, before)
    }

    #[test]
    fn plain_report_is_aligned_and_complete() {
        let (now, before) = pair();
        let text = render(&now, &before, false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "no TLS: passwords and files travel in clear",
                "status, up 1:02:05  connections 3  transfers 1  in 10.0 MiB at 2.8 KiB/s  out 3.0 GiB at 858 KiB/s",
                "  127.0.0.1:7878    connections 2  transfers 1  in 10.0 MiB at 2.8 KiB/s  out 3.0 GiB at 858 KiB/s",
                "  127.0.0.1:17879   connections 1  transfers 0  in  1.0 KiB at     0 B/s  out     0 B at     0 B/s",
            ]
        );
        assert!(text.ends_with('\n'));
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn coloured_report_has_the_same_text_under_the_escapes() {
        let (now, before) = pair();
        let coloured = render(&now, &before, true);
        assert!(coloured.contains(&format!("{CYAN}  127.0.0.1:7878 ")));
        assert!(coloured.contains(BOLD));
        let stripped = strip_ansi(&coloured);
        assert_eq!(stripped, render(&now, &before, false));
    }

    #[test]
    fn first_report_and_empty_interval_do_not_divide_by_zero() {
        let (now, _) = pair();
        let text = render(&now, &now, false);
        assert!(
            text.lines()
                .skip(1)
                .all(|l| l.trim_end().ends_with(" 0 B/s") && !l.contains("KiB/s")),
            "{text}"
        );
        let empty = Snapshot {
            fingerprint: Some("SHA256:ab".into()),
            uptime: Duration::ZERO,
            listeners: Vec::new(),
        };
        assert_eq!(
            render(&empty, &empty, false),
            "TLS certificate SHA256:ab\nstatus, up 0:00:00  connections 0  transfers 0  in 0 B at 0 B/s  out 0 B at 0 B/s\n"
        );
    }

    #[test]
    fn uptime_reads_as_hours_minutes_seconds() {
        assert_eq!(uptime(Duration::from_secs(59)), "0:00:59");
        assert_eq!(uptime(Duration::from_secs(3 * 86_400 + 61)), "72:01:01");
    }

    fn strip_ansi(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }
}
