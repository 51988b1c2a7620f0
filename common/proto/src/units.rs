//! Byte counts for people: parsing `512K` / `20M` / `1.5G` from flags and
//! showing sizes as `1.2 MiB` (or, for sizes chosen in round units, as
//! `16 MiB`). Every crate shows sizes through here.
//!
//! These are ours rather than the `bytesize` crate's because that crate
//! (checked: 2.7) reads and writes different strings from the ones users,
//! scripts and tests already see: it reads `512K`, `20M` and `1.5G` as
//! powers of 1000 (we promise 1024), saturates `99999999999T` instead of
//! refusing it, and shows `100.0 MiB` for our `100 MiB` and `1024.0 KiB`
//! for our `1.0 MiB` (1,048,575 bytes).

/// Parses a byte count: a plain number of bytes, or a number with a binary
/// suffix `K`, `M`, `G` or `T` (powers of 1024, optional `iB`/`B`).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, suffix) = t.split_at(digits_end);
    let shift = match suffix.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => {
            return Err(format!(
                "{text:?} is not a size; write e.g. 1048576, 512K, 20M or 1.5G"
            ));
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size; write e.g. 1048576, 512K, 20M or 1.5G"))?;
    let bytes = value * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes >= u64::MAX as f64 {
        return Err(format!("{text:?} is too large"));
    }
    Ok(bytes.round() as u64)
}

/// Shows a byte count in binary units: `0 B`, `1023 B`, `1.0 KiB`,
/// `1.2 MiB`, `15.3 GiB`, `512 MiB`.
pub fn human_size(bytes: u64) -> String {
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    // Move up while the shown figure would reach 1024 after rounding.
    while unit < UNITS.len() - 1 && value >= 1023.95 {
        value /= 1024.0;
        unit += 1;
    }
    if value < 100.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// Shows a byte count in the largest binary unit that divides it exactly,
/// for sizes picked in round units (benchmark labels): `1 GiB`, `16 MiB`,
/// `4 KiB`, `1500 B`.
pub fn exact_size(bytes: u64) -> String {
    let whole = (1..=UNITS.len())
        .rev()
        .map(|power| (power, 1u64 << (10 * power)))
        .find(|&(_, unit)| bytes >= unit && bytes.is_multiple_of(unit));
    match whole {
        Some((power, unit)) => format!("{} {}", bytes / unit, UNITS[power - 1]),
        None => format!("{bytes} B"),
    }
}

/// The binary units above bytes, 1024 times apart.
const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("512K"), Ok(512 << 10));
        assert_eq!(parse_size("20M"), Ok(20 << 20));
        assert_eq!(parse_size("20mib"), Ok(20 << 20));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("5 GiB"), Ok(5 << 30));
        for bad in ["", "K", "-5", "12Q", "1.2.3M", "99999999999T"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_show() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KiB");
        assert_eq!(human_size(1_258_291), "1.2 MiB");
        assert_eq!(human_size(1_048_575), "1.0 MiB");
        assert_eq!(human_size(100 << 20), "100 MiB");
        assert_eq!(human_size(5 << 30), "5.0 GiB");
        assert_eq!(human_size(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn exact_sizes_show() {
        assert_eq!(exact_size(0), "0 B");
        assert_eq!(exact_size(1500), "1500 B");
        assert_eq!(exact_size(4096), "4 KiB");
        assert_eq!(exact_size(16 << 20), "16 MiB");
        assert_eq!(exact_size(1 << 30), "1 GiB");
        assert_eq!(exact_size((1 << 30) + (1 << 20)), "1025 MiB");
        assert_eq!(exact_size(1 << 40), "1 TiB");
        assert_eq!(exact_size(u64::MAX), format!("{} B", u64::MAX));
    }
}
