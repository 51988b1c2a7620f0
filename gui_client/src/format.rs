//! How numbers and times read on screen: sizes, local times, speeds and
//! remaining times. Pure functions, so the tables and the transfer rows
//! agree and the rules are tested in one place.

use std::time::Duration;

use chrono::{Local, LocalResult, TimeZone};
use ferry_proto::protocol::Role;
use ferry_proto::time::Timestamp;

pub use ferry_proto::units::human_size;

/// `n` and the word for that many: "1 file", "2 files".
pub fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A server time shown in the user's local time zone, to the minute:
/// `2026-11-21 17:41`. Falls back to the UTC form if the local zone cannot
/// represent the instant.
pub fn local_time(t: Timestamp) -> String {
    match Local.timestamp_opt(t.0, 0) {
        LocalResult::Single(local) | LocalResult::Ambiguous(local, _) => {
            local.format("%Y-%m-%d %H:%M").to_string()
        }
        LocalResult::None => t.to_string(),
    }
}

/// The same time with seconds and the zone offset, for tooltips and the
/// version history: `2026-11-21 17:41:07 +01:00`.
pub fn local_time_precise(t: Timestamp) -> String {
    match Local.timestamp_opt(t.0, 0) {
        LocalResult::Single(local) | LocalResult::Ambiguous(local, _) => {
            local.format("%Y-%m-%d %H:%M:%S %:z").to_string()
        }
        LocalResult::None => t.to_string(),
    }
}

/// A transfer rate: `12.4 MiB/s`; an em dash while nothing is known yet.
pub fn speed(bytes_per_sec: f64) -> String {
    if !bytes_per_sec.is_finite() || bytes_per_sec <= 0.0 {
        return "—".to_owned();
    }
    format!("{}/s", human_size(bytes_per_sec.round() as u64))
}

/// Time left at the current rate: `3 s`, `4 min 05 s`, `2 h 10 min`; an em
/// dash when there is no rate to go by.
pub fn eta(remaining_bytes: u64, bytes_per_sec: f64) -> String {
    if remaining_bytes == 0 {
        return "0 s".to_owned();
    }
    if !bytes_per_sec.is_finite() || bytes_per_sec < 1.0 {
        return "—".to_owned();
    }
    duration((remaining_bytes as f64 / bytes_per_sec).ceil() as u64)
}

/// A duration in whole seconds, at the two largest units that matter.
pub fn duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min {:02} s", secs / 60, secs % 60),
        3600..86_400 => format!("{} h {:02} min", secs / 3600, secs / 60 % 60),
        _ => format!("{} d {:02} h", secs / 86_400, secs / 3600 % 24),
    }
}

/// A duration for log lines and tooltips, to the millisecond under a minute.
pub fn elapsed(d: Duration) -> String {
    if d < Duration::from_secs(60) {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        duration(d.as_secs())
    }
}

/// "admin" / "user", as a word for people.
pub fn role(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::User => "user",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds_and_etas() {
        assert_eq!(speed(0.0), "—");
        assert_eq!(speed(f64::NAN), "—");
        assert_eq!(
            speed(1536.0 * 1024.0),
            format!("{}/s", human_size(1536 * 1024))
        );
        assert_eq!(eta(0, 0.0), "0 s");
        assert_eq!(eta(100, 0.0), "—");
        assert_eq!(eta(100, 1000.0), "1 s");
        assert_eq!(eta(245 << 20, f64::from(1 << 20)), "4 min 05 s");
        assert_eq!(eta(3 * 3600 + 5 * 60, 1.0), "3 h 05 min");
        assert_eq!(duration(2 * 86_400 + 3 * 3600), "2 d 03 h");
    }

    #[test]
    fn local_times_have_the_right_shape() {
        let shown = local_time(Timestamp(1_795_278_067));
        assert_eq!(shown.len(), "2026-11-21 16:21".len(), "{shown}");
        assert!(shown.starts_with("2026-11-2"), "{shown}");
        let precise = local_time_precise(Timestamp(1_795_278_067));
        assert!(
            precise.ends_with(":07 +00:00") || precise.contains(":07 "),
            "{precise}"
        );
    }
}
