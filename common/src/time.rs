//! Timestamps on the wire: whole seconds in UTC, written as ISO-8601
//! (`2026-11-21T16:41:07Z`). Pure arithmetic, no time-zone database.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

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

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
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
        let num = |range: std::ops::Range<usize>| -> Result<i64, BadTimestamp> {
            let part = &s[range];
            if part.bytes().all(|c| c.is_ascii_digit()) {
                part.parse().map_err(|_| BadTimestamp)
            } else {
                Err(BadTimestamp)
            }
        };
        let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 59 {
            return Err(BadTimestamp);
        }
        let days = days_from_civil(y, m as u32, d as u32);
        if civil_from_days(days) != (y, m as u32, d as u32) {
            return Err(BadTimestamp); // e.g. February 30th
        }
        Ok(Timestamp(days * 86_400 + hh * 3600 + mm * 60 + ss))
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month, day) → days since 1970-01-01, proleptic Gregorian.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
            if (0..=9999).contains(&civil_from_days(secs.div_euclid(86_400)).0) {
                assert_eq!(t.to_string().parse(), Ok(t));
            }
        }
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
