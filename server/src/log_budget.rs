//! How many lines one source may add to the server log.
//!
//! A client can make the server refuse things as fast as it can send
//! lines, and each refusal is worth a log line; unchecked, 50 KB of bare
//! newlines made 7.5 MiB of log. A [`LogBudget`] lets a burst of lines
//! through, then one per interval, and counts what it held back so that
//! the next line that is written (or the connection's last) says how many
//! were left out. It is pure bookkeeping over instants handed in.

use std::time::{Duration, Instant};

/// A token bucket for log lines.
#[derive(Debug)]
pub(crate) struct LogBudget {
    burst: u32,
    every: Duration,
    tokens: u32,
    refilled: Instant,
    held_back: u64,
}

impl LogBudget {
    /// A budget of `burst` lines at once, refilled by one every `every`.
    pub(crate) fn new(burst: u32, every: Duration, now: Instant) -> LogBudget {
        LogBudget {
            burst,
            every,
            tokens: burst,
            refilled: now,
            held_back: 0,
        }
    }

    /// Whether a line may be logged now. `Some(n)`: log it, and say that
    /// `n` lines were held back before it; `None`: leave it out.
    pub(crate) fn allow(&mut self, now: Instant) -> Option<u64> {
        if !self.every.is_zero() {
            let gained =
                now.saturating_duration_since(self.refilled).as_nanos() / self.every.as_nanos();
            if gained > 0 {
                let gained = u32::try_from(gained).unwrap_or(u32::MAX);
                self.tokens = self.tokens.saturating_add(gained).min(self.burst);
                self.refilled += self.every * gained.min(self.burst);
                if self.tokens == self.burst {
                    self.refilled = now;
                }
            }
        }
        if self.tokens == 0 {
            self.held_back += 1;
            return None;
        }
        self.tokens -= 1;
        Some(std::mem::take(&mut self.held_back))
    }

    /// How many lines were held back since the last one let through; the
    /// count starts again.
    pub(crate) fn take_held_back(&mut self) -> u64 {
        std::mem::take(&mut self.held_back)
    }
}

/// The words to add to a line after `held_back` were left out.
pub(crate) fn held_back_note(held_back: u64) -> String {
    match held_back {
        0 => String::new(),
        1 => " (1 similar line before it was not logged)".to_owned(),
        n => format!(" ({n} similar lines before it were not logged)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_line_per_interval() {
        let t0 = Instant::now();
        let second = Duration::from_secs(1);
        let mut b = LogBudget::new(3, second, t0);
        for _ in 0..3 {
            assert_eq!(b.allow(t0), Some(0));
        }
        for _ in 0..1000 {
            assert_eq!(b.allow(t0), None);
        }
        // One more a second later, telling how many were left out.
        assert_eq!(b.allow(t0 + second), Some(1000));
        assert_eq!(b.allow(t0 + second), None);
        assert_eq!(b.take_held_back(), 1);
        assert_eq!(b.take_held_back(), 0);
        // A long quiet refills the burst, no more.
        let later = t0 + second * 100;
        for _ in 0..3 {
            assert_eq!(b.allow(later), Some(0));
        }
        assert_eq!(b.allow(later), None);
    }

    #[test]
    fn notes_read_as_words() {
        assert_eq!(held_back_note(0), "");
        assert!(held_back_note(1).contains("1 similar line before it was"));
        assert!(held_back_note(7).contains("7 similar lines"));
    }
}
