//! Timestamps on the wire: whole seconds in UTC, written as ISO-8601
//! (`2026-11-21T16:41:07Z`). The calendar is chrono's; the strict shape of
//! the wire form (exactly 20 characters, four-digit year) is checked here.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

/// Seconds since the Unix epoch, shown as ISO-8601 UTC.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        let secs = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        };
        Timestamp(secs)
    }
}

/// The text was not a `YYYY-MM-DDTHH:MM:SSZ` timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a time must look like 2026-11-21T16:41:07Z")]
pub struct BadTimestamp;

/// The earliest and latest instants with a four-digit year, which is what
/// the wire form can show; others are shown clamped to these.
const FIRST: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
const LAST: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.clamp(FIRST, LAST);
        let time = DateTime::<Utc>::from_timestamp(secs, 0).ok_or(fmt::Error)?;
        write!(f, "{}", time.format("%Y-%m-%dT%H:%M:%SZ"))
    }
}

impl FromStr for Timestamp {
    type Err = BadTimestamp;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        let shape_ok = b.len() == 20
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && b[19] == b'Z';
        if !shape_ok {
            return Err(BadTimestamp);
        }
        let num = |range: std::ops::Range<usize>| -> Result<u32, BadTimestamp> {
            let part = &s[range];
            if part.bytes().all(|c| c.is_ascii_digit()) {
                part.parse().map_err(|_| BadTimestamp)
            } else {
                Err(BadTimestamp)
            }
        };
        let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?);
        let time = NaiveTime::from_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?);
        match (date, time) {
            (Some(date), Some(time)) => Ok(Timestamp(date.and_time(time).and_utc().timestamp())),
            _ => Err(BadTimestamp), // e.g. February 30th, or 24:00:00
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp(951_782_400).to_string(), "2000-02-29T00:00:00Z");
        assert_eq!(Timestamp(1_795_278_067).to_string(), "2026-11-21T16:21:07Z");
        assert_eq!("2026-11-21T16:21:07Z".parse(), Ok(Timestamp(1_795_278_067)));
    }

    #[test]
    fn round_trips_over_a_wide_range() {
        for secs in (-5_000_000_000i64..5_000_000_000).step_by(7_777_777) {
            let t = Timestamp(secs);
            if (FIRST..=LAST).contains(&secs) {
                assert_eq!(t.to_string().parse(), Ok(t));
            }
        }
    }

    #[test]
    fn instants_past_the_four_digit_years_are_clamped() {
        assert_eq!(Timestamp(FIRST).to_string(), "0000-01-01T00:00:00Z");
        assert_eq!(Timestamp(LAST).to_string(), "9999-12-31T23:59:59Z");
        assert_eq!(Timestamp(i64::MAX).to_string(), "9999-12-31T23:59:59Z");
        assert_eq!(Timestamp(i64::MIN).to_string(), "0000-01-01T00:00:00Z");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "2026-11-21 14:21:07Z",
            "2026-11-21T14:21:07",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-11-21T24:00:00Z",
            "+026-11-21T14:21:07Z",
        ] {
            assert_eq!(bad.parse::<Timestamp>(), Err(BadTimestamp), "{bad}");
        }
    }
}
