use super::super::time::*;

#[test]
fn parses_rfc3339_in_utc_and_with_offsets() {
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(parse_rfc3339("2000-03-01T00:00:00Z"), Some(951_868_800));
    assert_eq!(parse_rfc3339("2024-02-29T23:59:59Z"), Some(1_709_251_199));
    assert_eq!(
        parse_rfc3339("2026-11-26T12:00:00.250Z"),
        Some(1_795_694_400)
    );
    assert_eq!(parse_rfc3339("2026-11-26t12:00:00z"), Some(1_795_694_400));
    // 13:00 in UTC+1 is 12:00 UTC; 07:30 at -04:30 too.
    assert_eq!(
        parse_rfc3339("2026-11-26T13:00:00+01:00"),
        Some(1_795_694_400)
    );
    assert_eq!(
        parse_rfc3339("2026-11-26T07:30:00-04:30"),
        Some(1_795_694_400)
    );
}

#[test]
fn refuses_what_is_not_rfc3339() {
    for bad in [
        "",
        "2026-11-26",
        "2026-11-26 12:00:00Z",
        "2026-11-26T12:00:00",
        "2026-13-01T00:00:00Z",
        "2026-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-11-26T24:00:00Z",
        "2026-11-26T12:60:00Z",
        "2026-11-26T12:00:00.Z",
        "2026-11-26T12:00:00+1:00",
        "2026-11-26T12:00:00+01:00x",
        "1969-12-31T23:59:59Z",
        "+2026-11-26T12:00:00Z",
        "2026-11-26T12:00:0éZ",
        "２０２６-11-26T12:00:00Z",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
}

#[test]
fn civil_days_round_trip() {
    for (y, m, d, days) in [
        (1970, 1, 1, 0),
        (2000, 2, 29, 11_016),
        (2026, 11, 26, 20_783),
    ] {
        assert_eq!(days_from_civil(y, m, d), days);
        assert_eq!(year_of_day(days), y);
    }
    assert_eq!(year_of_day(days_from_civil(2026, 12, 31)), 2026);
    assert_eq!(year_of_day(days_from_civil(2027, 1, 1)), 2027);
}

#[test]
fn local_hour_and_weekday_follow_the_offset() {
    let now = super::NOW; // Thursday 12:00 UTC
    assert_eq!(local_hour_and_weekday(now, 0), (12, 3));
    assert_eq!(local_hour_and_weekday(now, 60), (13, 3));
    // 12:00 UTC is 01:00 Friday in UTC+13 and 02:00 Thursday in UTC-10.
    assert_eq!(local_hour_and_weekday(now, 13 * 60), (1, 4));
    assert_eq!(local_hour_and_weekday(now, -10 * 60), (2, 3));
    assert_eq!(local_hour_and_weekday(now - 13 * 3600, -60), (22, 2));
}
