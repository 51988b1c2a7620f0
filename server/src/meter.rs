//! Counting and pacing the bytes of each connection.
//!
//! [`Metered`] wraps a connection's stream: every byte read or written is
//! added to the counters of the listener that accepted it
//! ([`ListenerStats`]), and with a rate limit each direction is paced by
//! its own [`TokenBucket`]. The session code never sees the difference; it
//! only asks for `Read + Write + Transport`.
//!
//! The bucket is pure arithmetic with the clock passed in, so it is tested
//! exactly; only [`Metered`] sleeps. Rendering what was counted is
//! [`crate::status`]'s business.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::transport::Transport;

/// What one listener has seen since the server started. Shared by the
/// listener's connection threads (which count) and the status report
/// (which reads).
#[derive(Debug)]
pub(crate) struct ListenerStats {
    pub(crate) addr: SocketAddr,
    connections: AtomicUsize,
    transfers: AtomicUsize,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

impl ListenerStats {
    pub(crate) fn new(addr: SocketAddr) -> ListenerStats {
        ListenerStats {
            addr,
            connections: AtomicUsize::new(0),
            transfers: AtomicUsize::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
        }
    }

    /// Counts an open connection until the guard is dropped.
    pub(crate) fn connection(&self) -> Counted<'_> {
        Counted::new(&self.connections)
    }

    /// Counts an upload or download in progress until the guard is dropped.
    pub(crate) fn transfer(&self) -> Counted<'_> {
        Counted::new(&self.transfers)
    }

    pub(crate) fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    pub(crate) fn transfers(&self) -> usize {
        self.transfers.load(Ordering::Relaxed)
    }

    pub(crate) fn bytes_in(&self) -> u64 {
        self.bytes_in.load(Ordering::Relaxed)
    }

    pub(crate) fn bytes_out(&self) -> u64 {
        self.bytes_out.load(Ordering::Relaxed)
    }
}

/// One unit of a gauge (open connections, transfers in progress), given
/// back on drop whichever way the work ends.
pub(crate) struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    fn new(gauge: &'a AtomicUsize) -> Counted<'a> {
        gauge.fetch_add(1, Ordering::Relaxed);
        Counted(gauge)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How much later than its deadline a read may end: a deadline at most
/// this much beyond the read timeout leaves the timeout as it is. A
/// logged-in request's deadline is "now + the idle timeout", so otherwise
/// every request would reset the socket's timeout, a system call each.
const DEADLINE_SLACK: Duration = Duration::from_millis(500);

/// A connection's stream, counted into its listener's stats and, with a
/// rate limit, paced in both directions. It also keeps the session's
/// deadline: past it every read fails as timed out, however the bytes
/// trickle in (a read timeout alone restarts with every byte).
pub(crate) struct Metered<S> {
    inner: S,
    stats: Arc<ListenerStats>,
    /// Pacing of reads and writes; `None` without a rate limit. Boxed: the
    /// buckets are 128 bytes that most servers never use, and the
    /// connection thread's stack holds copies of this struct while the
    /// session is built (see `session::open`).
    limit: Option<Box<(TokenBucket, TokenBucket)>>,
    /// Reads must be done by then, if set.
    deadline: Cell<Option<Instant>>,
    /// The read timeout the session asked for.
    timeout: Cell<Option<Duration>>,
    /// The read timeout the socket has now (shorter near the deadline).
    applied: Cell<Option<Duration>>,
    /// The socket's write timeout: a write that blocked this long moved
    /// only part of its bytes, and the peer has stopped reading.
    write_timeout: Option<Duration>,
    /// A write stalled for the whole write timeout; every later one fails
    /// at once, so a peer that stops reading is closed after one timeout,
    /// not after one per retry.
    stalled: bool,
}

impl<S> Metered<S> {
    /// Wraps `inner`; `rate_limit` is in bytes per second for each
    /// direction (`None` or 0: unlimited).
    pub(crate) fn new(inner: S, stats: Arc<ListenerStats>, rate_limit: Option<u64>) -> Self {
        let now = Instant::now();
        let limit = rate_limit.filter(|&rate| rate > 0).map(|rate| {
            Box::new((
                TokenBucket::for_rate(rate, now),
                TokenBucket::for_rate(rate, now),
            ))
        });
        Metered {
            inner,
            stats,
            limit,
            deadline: Cell::new(None),
            timeout: Cell::new(None),
            applied: Cell::new(None),
            write_timeout: None,
            stalled: false,
        }
    }

    /// Tells the stream the write timeout its socket has.
    pub(crate) fn with_write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = Some(timeout);
        self
    }

    /// Writes through `write`, timing it: a write that took the whole write
    /// timeout (and so moved only part of its bytes, or none) marks the
    /// stream as stalled.
    fn timed<T>(&mut self, write: impl FnOnce(&mut S) -> io::Result<T>) -> io::Result<T> {
        if self.stalled {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the peer stopped reading",
            ));
        }
        let started = Instant::now();
        let result = write(&mut self.inner);
        if let Some(timeout) = self.write_timeout {
            // The kernel's timer may end a hair early by our clock.
            if started.elapsed() + Duration::from_millis(10) >= timeout {
                self.stalled = true;
            }
        }
        result
    }

    /// The wrapped stream, to change it.
    pub(crate) fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

/// Waits until `bucket` grants part of `want` bytes; returns how many.
fn paced(bucket: &mut TokenBucket, want: usize) -> usize {
    loop {
        match bucket.grant(want, Instant::now()) {
            Grant::Go(n) => return n,
            Grant::Wait(d) => thread::sleep(d),
        }
    }
}

impl<S: Transport> Metered<S> {
    /// Before a read: fails once the deadline has passed, and otherwise
    /// makes the socket's timeout end no later than the deadline, give or
    /// take [`DEADLINE_SLACK`].
    fn keep_deadline(&self) -> io::Result<()> {
        let mut want = self.timeout.get();
        if let Some(deadline) = self.deadline.get() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the deadline for this request passed",
                ));
            }
            want = Some(match want {
                Some(t) if left + DEADLINE_SLACK >= t => t,
                Some(t) => t.min(left),
                None => left,
            });
        }
        if want != self.applied.get() {
            self.inner.set_read_timeout(want)?;
            self.applied.set(want);
        }
        Ok(())
    }
}

impl<S: Read + Transport> Read for Metered<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.keep_deadline()?;
        let Some((bucket, _)) = self.limit.as_deref_mut() else {
            let n = self.inner.read(buf)?;
            self.stats.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
            return Ok(n);
        };
        let granted = paced(bucket, buf.len());
        let result = self.inner.read(&mut buf[..granted]);
        let n = *result.as_ref().unwrap_or(&0);
        bucket.refund(granted - n);
        self.stats.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
        result
    }
}

impl<S: Write> Write for Metered<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let granted = match self.limit.as_deref_mut() {
            Some((_, bucket)) => paced(bucket, buf.len()),
            None => buf.len(),
        };
        let result = self.timed(|inner| inner.write(&buf[..granted]));
        let n = *result.as_ref().unwrap_or(&0);
        if let Some((_, bucket)) = self.limit.as_deref_mut() {
            bucket.refund(granted - n);
        }
        self.stats.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
        result
    }

    /// Unlimited, a frame's header and payload leave in one system call;
    /// paced, one piece at a time.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        if self.limit.is_some() {
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &**b);
            return self.write(first);
        }
        let n = self.timed(|inner| inner.write_vectored(bufs))?;
        self.stats.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<S: Transport> Transport for Metered<S> {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.timeout.set(timeout);
        self.inner.set_read_timeout(timeout)?;
        self.applied.set(timeout);
        Ok(())
    }

    fn set_deadline(&self, deadline: Option<Instant>) {
        self.deadline.set(deadline);
    }

    fn has_pending_input(&self) -> bool {
        self.inner.has_pending_input()
    }

    fn socket(&self) -> Option<std::net::TcpStream> {
        self.inner.socket()
    }
}

/// Token amounts are kept in byte-nanoseconds, so that refilling for any
/// elapsed time at any rate is exact integer arithmetic (no drift).
const NANOS: u128 = 1_000_000_000;

/// What [`TokenBucket::grant`] allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Grant {
    /// Move at most this many bytes now (they are already taken from the
    /// bucket; give back what was not used with [`TokenBucket::refund`]).
    Go(usize),
    /// Nothing yet: ask again after this long.
    Wait(Duration),
}

/// A token bucket: `rate` bytes per second flow in, up to `burst` bytes
/// are held. Each I/O call takes what it moves.
///
/// A grant is never smaller than `min_grant` bytes (unless less is asked),
/// so a slow rate means fewer, larger system calls rather than a storm of
/// tiny ones.
#[derive(Clone, Debug)]
pub(crate) struct TokenBucket {
    /// Bytes per second, at least 1.
    rate: u64,
    /// The most the bucket holds, in byte-nanoseconds.
    capacity: u128,
    /// What the bucket holds now, in byte-nanoseconds.
    level: u128,
    min_grant: u64,
    /// When `level` was last brought up to date.
    updated: Instant,
}

impl TokenBucket {
    /// The smallest burst: a few reads' or writes' worth, so a modest
    /// limit does not turn every system call into a wait.
    pub(crate) const MIN_BURST: u64 = 64 * 1024;
    /// The largest smallest-grant.
    const MAX_MIN_GRANT: u64 = 16 * 1024;

    /// A full bucket for `rate` bytes per second, with the burst the server
    /// uses: 64 KiB or a tenth of a second at the rate, whichever is larger;
    /// grants of at least 1/50 s at the rate (at most 16 KiB).
    pub(crate) fn for_rate(rate: u64, now: Instant) -> TokenBucket {
        let rate = rate.max(1);
        let burst = (rate / 10).max(Self::MIN_BURST);
        let min_grant = (rate / 50).clamp(1, Self::MAX_MIN_GRANT);
        TokenBucket::new(rate, burst, min_grant, now)
    }

    /// A full bucket with the given figures (each at least 1, and
    /// `min_grant` at most `burst`).
    pub(crate) fn new(rate: u64, burst: u64, min_grant: u64, now: Instant) -> TokenBucket {
        let burst = burst.max(1);
        let capacity = u128::from(burst) * NANOS;
        TokenBucket {
            rate: rate.max(1),
            capacity,
            level: capacity,
            min_grant: min_grant.clamp(1, burst),
            updated: now,
        }
    }

    /// Whole bytes in the bucket at `now`.
    #[cfg(test)]
    fn available(&mut self, now: Instant) -> u64 {
        self.refill(now);
        (self.level / NANOS) as u64
    }

    fn refill(&mut self, now: Instant) {
        // A clock that seems to go back adds nothing.
        let elapsed = now.saturating_duration_since(self.updated).as_nanos();
        self.updated = self.updated.max(now);
        let added = elapsed.saturating_mul(u128::from(self.rate));
        self.level = self.level.saturating_add(added).min(self.capacity);
    }

    /// Asks to move `want` bytes at `now`: either a number of bytes (at
    /// most `want`, taken from the bucket) or how long to wait first.
    pub(crate) fn grant(&mut self, want: usize, now: Instant) -> Grant {
        if want == 0 {
            return Grant::Go(0);
        }
        self.refill(now);
        let whole = self.level / NANOS;
        let least = u128::from(self.min_grant).min(want as u128);
        if whole >= least {
            let n = whole.min(want as u128);
            self.level -= n * NANOS;
            // n <= want, so it fits in a usize.
            Grant::Go(n as usize)
        } else {
            let missing = least * NANOS - self.level;
            let nanos = missing.div_ceil(u128::from(self.rate));
            Grant::Wait(Duration::from_nanos(
                u64::try_from(nanos).unwrap_or(u64::MAX),
            ))
        }
    }

    /// Gives back bytes that were granted but not moved.
    pub(crate) fn refund(&mut self, bytes: usize) {
        let back = (bytes as u128).saturating_mul(NANOS);
        self.level = self.level.saturating_add(back).min(self.capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_full_bucket_grants_its_burst_then_makes_you_wait() {
        let t0 = Instant::now();
        // 1000 B/s, burst 100, grants of at least 10.
        let mut b = TokenBucket::new(1000, 100, 10, t0);
        assert_eq!(b.grant(60, t0), Grant::Go(60));
        assert_eq!(b.grant(60, t0), Grant::Go(40), "what is left");
        // Empty: 10 bytes (the smallest grant) take 10 ms.
        assert_eq!(b.grant(60, t0), Grant::Wait(ms(10)));
        // Asking for less than the smallest grant waits only for that.
        assert_eq!(b.grant(3, t0), Grant::Wait(ms(3)));
        assert_eq!(b.grant(60, t0 + ms(5)), Grant::Wait(ms(5)));
        assert_eq!(b.grant(60, t0 + ms(10)), Grant::Go(10));
        assert_eq!(b.grant(60, t0 + ms(35)), Grant::Go(25));
    }

    #[test]
    fn refill_stops_at_the_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(1000, 100, 10, t0);
        assert_eq!(b.grant(100, t0), Grant::Go(100));
        assert_eq!(b.available(t0 + ms(50)), 50);
        assert_eq!(b.available(t0 + Duration::from_secs(3600)), 100);
        assert_eq!(
            b.grant(1000, t0 + Duration::from_secs(3600)),
            Grant::Go(100)
        );
        assert_eq!(b.grant(0, t0), Grant::Go(0), "nothing asked, nothing taken");
    }

    #[test]
    fn refunds_come_back_but_never_past_the_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(1000, 100, 10, t0);
        assert_eq!(b.grant(100, t0), Grant::Go(100));
        b.refund(40); // only 60 were moved
        assert_eq!(b.grant(100, t0), Grant::Go(40));
        b.refund(1_000_000);
        assert_eq!(b.available(t0), 100);
    }

    #[test]
    fn fractions_of_a_byte_are_kept_not_lost() {
        let t0 = Instant::now();
        // 3 B/s: a third of a second is one byte less one nanosecond's worth.
        let mut b = TokenBucket::new(3, 100, 1, t0);
        assert_eq!(b.grant(100, t0), Grant::Go(100));
        let third = Duration::from_nanos(333_333_333);
        assert_eq!(b.grant(1, t0 + third), Grant::Wait(Duration::from_nanos(1)));
        assert_eq!(
            b.grant(1, t0 + third + Duration::from_nanos(1)),
            Grant::Go(1)
        );
        // Over one second in 1000 small steps, exactly `rate` bytes pass.
        let t1 = t0 + Duration::from_secs(10);
        let mut b = TokenBucket::new(1000, 1000, 1, t0);
        assert_eq!(b.grant(1000, t1), Grant::Go(1000));
        let mut moved = 0;
        for step in 1..=1000 {
            if let Grant::Go(n) = b.grant(usize::MAX, t1 + ms(step)) {
                moved += n;
            }
        }
        assert_eq!(moved, 1000);
    }

    #[test]
    fn a_clock_going_back_adds_nothing() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut b = TokenBucket::new(1000, 100, 10, t0);
        assert_eq!(b.grant(100, t0), Grant::Go(100));
        assert_eq!(b.grant(10, t0 - ms(500)), Grant::Wait(ms(10)));
        assert_eq!(b.grant(10, t0 + ms(10)), Grant::Go(10));
    }

    #[test]
    fn server_buckets_burst_64_kib_or_a_tenth_of_a_second() {
        let t0 = Instant::now();
        let mut slow = TokenBucket::for_rate(100_000, t0);
        assert_eq!(slow.available(t0), 64 * 1024);
        assert_eq!(slow.min_grant, 2000);
        let mut fast = TokenBucket::for_rate(20 << 20, t0);
        assert_eq!(fast.available(t0), (20 << 20) / 10);
        assert_eq!(fast.min_grant, 16 * 1024);
        let tiny = TokenBucket::for_rate(0, t0);
        assert_eq!((tiny.rate, tiny.min_grant), (1, 1));
    }

    #[test]
    fn metered_streams_count_both_ways() {
        let stats = Arc::new(ListenerStats::new("127.0.0.1:1".parse().unwrap()));
        let mut m = Metered::new(Cursor::new(b"hello world".to_vec()), stats.clone(), None);
        let mut buf = [0u8; 5];
        m.read_exact(&mut buf).unwrap();
        m.write_all(b"abc").unwrap();
        assert_eq!((stats.bytes_in(), stats.bytes_out()), (5, 3));

        // With a generous limit nothing waits, and counting is the same.
        let mut m = Metered::new(
            Cursor::new(vec![7u8; 300_000]),
            stats.clone(),
            Some(1 << 30),
        );
        let mut all = Vec::new();
        m.read_to_end(&mut all).unwrap();
        assert_eq!(all.len(), 300_000);
        assert_eq!(stats.bytes_in(), 300_005);
    }

    /// An in-memory stream stands in for a socket.
    impl Transport for Cursor<Vec<u8>> {
        fn set_read_timeout(&self, _timeout: Option<Duration>) -> io::Result<()> {
            Ok(())
        }

        fn has_pending_input(&self) -> bool {
            (self.position() as usize) < self.get_ref().len()
        }

        fn socket(&self) -> Option<std::net::TcpStream> {
            None
        }
    }

    #[test]
    fn past_the_deadline_every_read_times_out() {
        let stats = Arc::new(ListenerStats::new("127.0.0.1:1".parse().unwrap()));
        let m = Metered::new(Cursor::new(b"hello".to_vec()), stats, None);
        let mut m = m;
        m.set_deadline(Some(Instant::now() + Duration::from_secs(60)));
        let mut buf = [0u8; 2];
        m.read_exact(&mut buf).unwrap();
        m.set_deadline(Some(Instant::now()));
        let e = m.read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        m.set_deadline(None);
        assert_eq!(m.read(&mut buf).unwrap(), 2);
    }

    /// Bytes to read, and the read timeouts it was given.
    struct Timed {
        bytes: Cursor<Vec<u8>>,
        timeouts: std::cell::RefCell<Vec<Option<Duration>>>,
    }

    impl Read for Timed {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.bytes.read(buf)
        }
    }

    impl Transport for Timed {
        fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
            self.timeouts.borrow_mut().push(timeout);
            Ok(())
        }

        fn has_pending_input(&self) -> bool {
            false
        }

        fn socket(&self) -> Option<std::net::TcpStream> {
            None
        }
    }

    #[test]
    fn the_timeout_is_cut_only_for_a_deadline_well_before_it() {
        let stats = Arc::new(ListenerStats::new("127.0.0.1:1".parse().unwrap()));
        let timed = Timed {
            bytes: Cursor::new(vec![1u8; 10]),
            timeouts: Default::default(),
        };
        let mut m = Metered::new(timed, stats, None);
        let idle = Duration::from_secs(300);
        m.set_read_timeout(Some(idle)).unwrap();
        let mut buf = [0u8; 1];
        // A logged-in request: its deadline is the idle timeout from now.
        for _ in 0..3 {
            m.set_deadline(Some(Instant::now() + idle));
            m.read_exact(&mut buf).unwrap();
        }
        assert_eq!(*m.inner.timeouts.borrow(), [Some(idle)], "set once");
        // A deadline well before the timeout cuts it, and the timeout comes
        // back after.
        m.set_deadline(Some(Instant::now() + Duration::from_secs(5)));
        m.read_exact(&mut buf).unwrap();
        m.set_deadline(None);
        m.read_exact(&mut buf).unwrap();
        let timeouts = m.inner.timeouts.borrow().clone();
        assert_eq!(timeouts.len(), 3, "{timeouts:?}");
        assert!(
            timeouts[1].unwrap() <= Duration::from_secs(5),
            "{timeouts:?}"
        );
        assert_eq!(timeouts[2], Some(idle));
    }

    #[test]
    fn gauges_count_while_held() {
        let stats = ListenerStats::new("127.0.0.1:1".parse().unwrap());
        let a = stats.connection();
        let t = stats.transfer();
        let b = stats.connection();
        assert_eq!((stats.connections(), stats.transfers()), (2, 1));
        drop((a, t));
        assert_eq!((stats.connections(), stats.transfers()), (1, 0));
        drop(b);
        assert_eq!(stats.connections(), 0);
    }
}
