//! `Members`: as sent until changed, refused when a tree could not hold it.

use crate::openrtb::BidRequest;
use serde_json::{Value, json};

fn read(members: &str) -> BidRequest {
    serde_json::from_str(&format!(r#"{{"id":"r","imp":[]{members}}}"#)).unwrap()
}

#[test]
fn members_pass_through_as_sent_until_changed() {
    let sent = r#","device":{"w":1.50,"ua":"caf\u00e9","geo":{"lat":-33.90}},"app":{"id":"a"}"#;
    let mut r = read(sent);
    let body = String::from_utf8(serde_json::to_vec(&r).unwrap()).unwrap();
    // Key order as a Map's, each member's text as sent (`1.50`, the escape kept).
    assert_eq!(
        body,
        r#"{"id":"r","imp":[],"app":{"id":"a"},"device":{"w":1.50,"ua":"caf\u00e9","geo":{"lat":-33.90}}}"#
    );
    // Read: the same text goes out; its tree is the parse of it.
    assert_eq!(r.rest.get("device").unwrap()["ua"], "café");
    assert_eq!(serde_json::to_vec(&r).unwrap(), body.as_bytes());
    // Changed: the tree goes out.
    r.rest.get_mut("device").unwrap()["w"] = json!(2);
    r.rest.insert("regs".into(), json!({"coppa": 1}));
    assert_eq!(r.rest.remove("app"), Some(json!({"id": "a"})));
    let v: Value = serde_json::from_slice(&serde_json::to_vec(&r).unwrap()).unwrap();
    assert_eq!(
        v,
        json!({"id": "r", "imp": [], "regs": {"coppa": 1},
               "device": {"w": 2, "ua": "café", "geo": {"lat": -33.9}}})
    );
    assert_eq!(r.rest.len(), 2);
    assert!(r.rest.contains_key("regs") && !r.rest.contains_key("app"));
}

#[test]
fn a_repeated_member_keeps_the_last_as_a_map_does() {
    let r = read(r#","user":{"id":"1"},"user":{"id":"2"}"#);
    assert_eq!(r.rest.len(), 1);
    assert_eq!(r.rest.get("user"), Some(&json!({"id": "2"})));
    let tree: crate::openrtb::Rest = serde_json::from_value(json!({"user": {"id": "2"}})).unwrap();
    assert_eq!(r.rest, crate::openrtb::Members::from(tree));
}

#[test]
fn presence_and_negatives_are_known_without_a_parse() {
    let r = read(
        r#","site":null,"app":{"content":{"len":-3}},"device":{"w":-1,"h":2,"geo":{"accuracy":-5,"lat":-1.5,"deeper":{"x":-1}},"list":[-1]}"#,
    );
    assert!(!r.rest.is_present("site") && r.rest.is_present("app"));
    assert!(!r.rest.is_present("dooh"));
    let paths = |k| {
        r.rest
            .negatives_as_sent(k)
            .unwrap()
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(paths("device"), ["w", "geo.accuracy", "geo.lat"]);
    assert_eq!(paths("app"), ["content.len"]);
    // Once read, the tree is the truth (`None`: check it instead).
    r.rest.get("device");
    assert_eq!(r.rest.negatives_as_sent("device"), None);
}

#[test]
fn a_member_a_tree_could_not_hold_is_refused_when_read() {
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    for bad in [
        r#"{"w":1e400}"#.to_string(),
        r#"{"ua":"\ud800"}"#.to_string(),
        r#"{"ua":"\x"}"#.to_string(),
        format!(r#"{{"ext":{deep}}}"#),
    ] {
        let json = format!(r#"{{"id":"r","imp":[],"device":{bad}}}"#);
        assert!(
            serde_json::from_str::<BidRequest>(&json).is_err(),
            "refused as before: {bad:.40}"
        );
        assert!(
            serde_json::from_str::<Value>(&json).is_err(),
            "a tree refuses it too: {bad:.40}"
        );
    }
}

#[test]
fn many_members_in_any_order_come_out_in_key_order_the_last_copy_kept() {
    // Descending keys, each sent twice (the second copy wins): a sorted insert per member
    // would move the list each time; the read sorts once.
    let mut members = String::new();
    for i in (0..20_000).rev() {
        members.push_str(&format!(r#","k{i:05}":{{"n":0}},"k{i:05}":{{"n":{i}}}"#));
    }
    let r = read(&members);
    assert_eq!(r.rest.len(), 20_000);
    let keys: Vec<&String> = r.rest.iter().map(|(k, _)| k).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "in key order");
    assert_eq!(r.rest.get("k00007"), Some(&json!({"n": 7})));
    assert_eq!(r.rest.get("k19999"), Some(&json!({"n": 19999})));
    assert_eq!(r.rest.get("k00000"), Some(&json!({"n": 0})));
}
