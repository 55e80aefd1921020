//! Which file a line goes to: one per UTC hour, named so that a plain sort is time order and
//! a shipper can tell a finished hour from the current one by its name alone.
//!
//! Dates are computed here (the civil-from-days algorithm) rather than with a date crate:
//! it is twenty lines, and the only calendar question bidgate ever asks.

use std::time::{SystemTime, UNIX_EPOCH};

/// Hours since the Unix epoch. A clock set before 1970 maps to hour 0 rather than failing:
/// the line still gets written, in an obviously wrong file.
pub(super) fn hour_of(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() / 3600)
}

/// `events-YYYY-MM-DDTHH.jsonl` for an hour since the epoch.
pub(super) fn file_name(hour: u64) -> String {
    let (year, month, day) = civil_from_days((hour / 24) as i64);
    format!(
        "events-{year:04}-{month:02}-{day:02}T{:02}.jsonl",
        hour % 24
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day). Howard Hinnant's
/// algorithm: shift to years starting on 1 March so the leap day is the last day of a year,
/// then split into 400-year eras of exactly 146 097 days.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146_096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of (March-based) year, 0..=365
    let mp = (5 * doy + 2) / 153; // March-based month, 0..=11
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn name_at(secs: u64) -> String {
        file_name(hour_of(UNIX_EPOCH + Duration::from_secs(secs)))
    }

    #[test]
    fn names_follow_the_utc_hour() {
        // Expected values from `date -u -d @SECS +%Y-%m-%dT%H`.
        let cases = [
            (0, "1970-01-01T00"),
            (3599, "1970-01-01T00"),
            (3600, "1970-01-01T01"),
            (1_700_000_000, "2023-11-14T22"),
            (946_684_799, "1999-12-31T23"),
            (951_782_400, "2000-02-29T00"), // leap day of a leap century
            (1_709_208_000, "2024-02-29T12"), // ordinary leap day
            (1_703_980_800, "2023-12-31T00"),
            (4_102_444_800, "2100-01-01T00"),
            (4_107_538_800, "2100-02-28T23"), // 2100 is not a leap year:
            (4_107_560_400, "2100-03-01T05"), // the next day is 1 March
        ];
        for (secs, want) in cases {
            assert_eq!(name_at(secs), format!("events-{want}.jsonl"), "at {secs}");
        }
    }

    #[test]
    fn a_clock_before_the_epoch_maps_to_hour_zero() {
        let before = UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(file_name(hour_of(before)), "events-1970-01-01T00.jsonl");
    }

    #[test]
    fn every_day_follows_the_one_before() {
        fn days_in(year: i64, month: u32) -> u32 {
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
            match month {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            }
        }
        // One whole 400-year cycle: each date is the day after the previous one.
        let mut prev = civil_from_days(-1);
        assert_eq!(prev, (1969, 12, 31));
        for days in 0..146_097 {
            let (y, m, d) = civil_from_days(days);
            let (py, pm, pd) = prev;
            let ok = if (y, m) == (py, pm) {
                d == pd + 1
            } else {
                let next_month = (y == py && m == pm + 1) || (y == py + 1 && (pm, m) == (12, 1));
                next_month && d == 1 && pd == days_in(py, pm)
            };
            assert!(ok, "{prev:?} -> {:?}", (y, m, d));
            prev = (y, m, d);
        }
    }
}
