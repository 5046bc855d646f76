//! Byte sizes for people: parsing `100MB` / `2GiB` and printing `2.5 MB`.
//!
//! lanshare counts in 1024s, as the seed does (its "100 MB" limit is 100 × 1024 × 1024 bytes),
//! so `MB` and `MiB` mean the same, and `100MB` is exactly the seed's limit.

use std::time::Duration;

/// Parses a size such as `512`, `100MB`, `1.5 GiB`, `64k` (units count in 1024s).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a size (try 100MB or 2GiB)"))?;
    let unit = unit.trim().to_ascii_lowercase();
    let multiplier: u64 = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => {
            return Err(format!(
                "unknown size unit in '{text}' (use B, KB, MB, GB or TB)"
            ));
        }
    };
    let bytes = number * multiplier as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("'{text}' is too large"));
    }
    Ok(bytes.round() as u64)
}

/// Formats a byte count for people: `0 B`, `512 B`, `2.5 MB`, `1.00 GB`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KB", "MB", "GB", "TB", "PB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let formatted = if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    };
    // "2.50" reads better as "2.5"; keep whole numbers as they are.
    let trimmed = if formatted.contains('.') {
        formatted.trim_end_matches('0').trim_end_matches('.')
    } else {
        &formatted
    };
    format!("{trimmed} {}", UNITS[unit])
}

/// Formats a transfer rate, e.g. `117 MB/s`.
pub fn format_rate(bytes_per_second: f64) -> String {
    format!("{}/s", format_size(bytes_per_second.max(0.0) as u64))
}

/// Formats a duration as `1h 02m`, `3m 07s` or `12s`.
pub fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds >= 3600 {
        format!("{}h {:02}m", seconds / 3600, seconds % 3600 / 60)
    } else if seconds >= 60 {
        format!("{}m {:02}s", seconds / 60, seconds % 60)
    } else {
        format!("{seconds}s")
    }
}

/// Parses a lifetime such as `90s`, `30m`, `2h`, `7d` (a whole number and one unit: s, m, h
/// or d).
pub fn parse_lifetime(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("'{text}' is not a lifetime (try 30m, 2h or 7d)");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let unit_secs = match unit.trim().to_ascii_lowercase().as_str() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    match number.checked_mul(unit_secs) {
        Some(0) => Err(format!("'{text}' is no time at all")),
        Some(secs) => Ok(Duration::from_secs(secs)),
        None => Err(format!("'{text}' is too long")),
    }
}

/// How long until something happens, for people: `40 s`, `12 min`, `3 h`, `2 d` (rounded to
/// the nearest whole unit, the largest that gives at least 2).
pub fn format_remaining(left: Duration) -> String {
    let secs = left.as_secs_f64();
    for (unit, label) in [(86_400.0, "d"), (3600.0, "h"), (60.0, "min")] {
        let count = (secs / unit).round();
        if count >= 2.0 {
            return format!("{count:.0} {label}");
        }
    }
    format!("{:.0} s", secs.round())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_in_four_units() {
        assert_eq!(parse_lifetime("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_lifetime("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_lifetime("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_lifetime("7D"), Ok(Duration::from_secs(604_800)));
        for bad in [
            "",
            "2",
            "h",
            "2w",
            "-1h",
            "0s",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert!(parse_lifetime(bad).is_err(), "{bad}");
        }
        assert_eq!(format_remaining(Duration::from_secs(3 * 3600 + 59)), "3 h");
        assert_eq!(format_remaining(Duration::from_secs(2 * 3600 - 1)), "2 h");
        assert_eq!(format_remaining(Duration::from_secs(89 * 60)), "89 min");
        assert_eq!(format_remaining(Duration::from_secs(7 * 86_400 - 1)), "7 d");
        assert_eq!(format_remaining(Duration::from_millis(44_600)), "45 s");
    }

    #[test]
    fn parses_units_in_1024s() {
        assert_eq!(parse_size("100MB"), Ok(104_857_600));
        assert_eq!(parse_size("100 MiB"), Ok(104_857_600));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("1.5k"), Ok(1536));
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("7b"), Ok(7));
    }

    #[test]
    fn rejects_nonsense() {
        assert!(parse_size("").is_err());
        assert!(parse_size("MB").is_err());
        assert!(parse_size("10 parsecs").is_err());
        assert!(parse_size("-1MB").is_err());
        assert!(parse_size("99999999999TB").is_err());
    }

    #[test]
    fn formats_like_the_seed() {
        assert_eq!(format_size(0), "0 B");
        assert_eq!(format_size(1023), "1023 B");
        assert_eq!(format_size(2_621_440), "2.5 MB");
        assert_eq!(format_size(104_857_600), "100 MB");
        assert_eq!(format_size(1 << 30), "1 GB");
        assert_eq!(format_size(1_500_000), "1.43 MB");
    }

    #[test]
    fn formats_durations() {
        assert_eq!(format_duration(Duration::from_secs(12)), "12s");
        assert_eq!(format_duration(Duration::from_secs(187)), "3m 07s");
        assert_eq!(format_duration(Duration::from_secs(3720)), "1h 02m");
    }
}
