use super::*;

#[test]
fn parses_bids_nobids_and_garbage() {
    assert!(matches!(parse(b""), Outcome::NoBid));
    assert!(matches!(
        parse(br#"{"id":"1","seatbid":[]}"#),
        Outcome::NoBid
    ));
    assert!(matches!(parse(br#"{"id":"1","nbr":2}"#), Outcome::NoBid));
    let bid = br#"{"id":"1","seatbid":[{"bid":[{"id":"b","impid":"1","price":1.5}]}]}"#;
    assert!(matches!(parse(bid), Outcome::Bid(_)));
    for bad in [
        &b"<html>oops</html>"[..],
        b"[1,2]",
        br#"{"seatbid":[]}"#,
        br#"{"id":"1","seatbid":[{"bid":[{"id":"b","impid":"1","price":"NaN"}]}]}"#,
    ] {
        assert!(
            matches!(parse(bad), Outcome::BadResponse(BadResponse::Body(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn userinfo_is_percent_decoded() {
    assert_eq!(percent_decoded("p%40ss%3Aw%zz%4"), "p@ss:w%zz%4");
    assert_eq!(percent_decoded(""), "");
    assert_eq!(
        percent_decoded("%+1%-f"),
        "%+1%-f",
        "a sign is no hex digit"
    );
}
