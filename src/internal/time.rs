//! Calendar arithmetic on unix seconds: RFC 3339 flight dates, UTC days, local hours.
//!
//! Written by hand (about 60 lines) rather than pulling in a date crate: the catalog needs
//! only "RFC 3339 → unix seconds" and "unix seconds → year, hour, weekday", all of it exact
//! integer arithmetic on the proleptic Gregorian calendar (Howard Hinnant's `days_from_civil`
//! and `civil_from_days`). No time zones database: offsets are fixed minutes.

pub const DAY_S: u64 = 86_400;

/// The unix day (days since 1970-01-01 UTC) of an instant.
pub fn unix_day(unix: u64) -> u64 {
    unix / DAY_S
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` to unix seconds (fractions dropped).
/// `None` for anything else, including times before 1970.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset_s = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let h = rest.get(1..3).and_then(num_of)?;
            let m = rest.get(4..6).and_then(num_of)?;
            if h > 23 || m > 59 {
                return None;
            }
            let off = (h * 60 + m) * 60;
            if *sign == b'-' { -off } else { off }
        }
        _ => return None,
    };
    let local = days_from_civil(year, month as u32, day as u32) * DAY_S as i64
        + hour * 3600
        + minute * 60
        + second;
    u64::try_from(local - offset_s).ok()
}

fn num_of(s: &str) -> Option<i64> {
    s.bytes()
        .all(|c| c.is_ascii_digit())
        .then(|| s.parse().ok())?
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The Gregorian year of a day since 1970-01-01.
pub fn year_of_day(days: i64) -> i64 {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let y = yoe + era * 400;
    if mp >= 10 { y + 1 } else { y }
}

/// Hour (0–23) and weekday (0 = Monday … 6 = Sunday) at `unix` in a fixed UTC offset.
pub fn local_hour_and_weekday(unix: u64, utc_offset_min: i32) -> (u32, u32) {
    let local = unix as i64 + i64::from(utc_offset_min) * 60;
    let days = local.div_euclid(DAY_S as i64);
    let hour = local.rem_euclid(DAY_S as i64) / 3600;
    // 1970-01-01 was a Thursday (3 with Monday = 0).
    let weekday = (days + 3).rem_euclid(7);
    (hour as u32, weekday as u32)
}
