use super::*;
use crate::config::SupplyChainConfig;
use serde_json::json;

fn cfg() -> SupplyChainConfig {
    SupplyChainConfig {
        asi: Some("bidgate.example".into()),
        sid: Some("pub-1".into()),
        ..Default::default()
    }
}

fn rest(v: serde_json::Value) -> crate::openrtb::Rest {
    v.as_object().unwrap().clone()
}

/// `v`'s members as a request read from the wire keeps them (as sent, parsed when read).
fn members(v: serde_json::Value) -> crate::openrtb::Members {
    let mut r = v;
    r["id"] = json!("r");
    r["imp"] = json!([]);
    serde_json::from_str::<BidRequest>(&r.to_string())
        .unwrap()
        .rest
}

#[test]
fn supply_chain_appends_and_ands_complete() {
    let node = json!({"asi": "bidgate.example", "sid": "pub-1", "rid": "r", "hp": 1});
    let up = json!({"asi": "up.example", "sid": "9", "hp": 1});
    let cases = [
        (
            json!({}),
            json!({"ver": "1.0", "complete": 1, "nodes": [node]}),
        ),
        (
            json!({"source": {"schain": {"ver": "1.0", "complete": 1, "nodes": [up]}}}),
            json!({"ver": "1.0", "complete": 1, "nodes": [up, node]}),
        ),
        (
            json!({"source": {"schain": {"ver": "1.0", "complete": 0, "nodes": [up]}}}),
            json!({"ver": "1.0", "complete": 0, "nodes": [up, node]}),
        ),
        (
            json!({"source": {"tid": "t", "ext": {"schain": {"ver": "1.0", "complete": 1, "nodes": [up]}}}}),
            json!({"ver": "1.0", "complete": 1, "nodes": [up, node]}),
        ),
        (
            json!({"source": {"schain": "garbage"}}),
            json!({"ver": "1.0", "complete": 0, "nodes": [node]}),
        ),
    ];
    for (input, want) in cases {
        let mut m = members(input.clone());
        supply_chain(&mut m, "r", &cfg());
        let r = m.to_map();
        assert_eq!(r["source"]["schain"], want, "{input}");
        assert!(
            r["source"].get("ext").is_none(),
            "moved out of ext: {input}"
        );
    }
    let mut untouched = members(json!({"source": {"ext": {"schain": {"nodes": []}}}}));
    let before = untouched.clone();
    supply_chain(&mut untouched, "r", &SupplyChainConfig::default());
    assert_eq!(untouched, before, "not configured: as sent");
}

#[test]
fn each_partner_gets_only_its_own_params() {
    let imp: crate::openrtb::Imp = serde_json::from_value(json!({
        "id": "1", "banner": {"w": 1, "h": 1},
        "ext": {"a": {"p": 1}, "gpid": "g", "prebid": {"bidder": {"b": {"p": 2}}, "keep": 1}}
    }))
    .unwrap();
    let is_partner = |k: &str| k == "a" || k == "b" || k == "c";
    let index = |k: &str| match k {
        "a" => Some(0),
        "b" => Some(1),
        _ => None,
    };
    assert_eq!(
        scan_params(std::slice::from_ref(&imp), 3, index, is_partner),
        Some(vec![true, true, false])
    );
    let seen = |own| {
        let p = Params::Scoped {
            own,
            is_partner: &is_partner,
        };
        serde_json::to_value(p.apply(&imp)).unwrap()["ext"].clone()
    };
    assert_eq!(
        seen(Some("a")),
        json!({"gpid": "g", "prebid": {"keep": 1}, "bidder": {"p": 1}})
    );
    assert_eq!(
        seen(Some("b")),
        json!({"gpid": "g", "prebid": {"keep": 1}, "bidder": {"p": 2}})
    );
    assert_eq!(seen(Some("c")), json!({"gpid": "g", "prebid": {"keep": 1}}));
    let plain: crate::openrtb::Imp =
        serde_json::from_value(json!({"id": "1", "ext": {"bidder": {"x": 1}}})).unwrap();
    assert_eq!(
        scan_params(std::slice::from_ref(&plain), 3, index, is_partner),
        None,
        "no partner keys"
    );
    let disabled = |k: &str| k == "off";
    let off: crate::openrtb::Imp =
        serde_json::from_value(json!({"id": "1", "ext": {"off": {"x": 1}}})).unwrap();
    assert_eq!(
        scan_params(&[off], 3, index, disabled),
        Some(vec![false; 3]),
        "a disabled partner's key still needs scoping away"
    );
}

#[test]
fn media_masks() {
    let imp = |v| serde_json::from_value::<crate::openrtb::Imp>(v).unwrap();
    let media = [
        imp_media(&imp(json!({"id": "1", "banner": {}}))),
        imp_media(&imp(json!({"id": "2", "video": {}, "banner": {}}))),
    ];
    assert_eq!(media, [1, 3]);
    let video = media_bits(&[MediaType::Video]);
    assert_eq!(offered(2, |_| true, &media, video), [false, true]);
    assert!(
        offered(2, |_| true, &media, ALL_MEDIA).is_empty(),
        "all: unmasked"
    );
    assert_eq!(offered(2, |i| i == 0, &[], ALL_MEDIA), [true, false]);
}

#[test]
fn gzip_round_trips() {
    use std::io::Read;
    let body = br#"{"id":"a","imp":[{"id":"1"}]}"#;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&crate::gzip::compress(body)[..])
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, body);
}

#[test]
fn tmax_is_spliced_into_the_shared_body() {
    let body = with_tmax(br#"{"id":"a","imp":[{"id":"1"}]}"#, 150);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"tmax": 150, "id": "a", "imp": [{"id": "1"}]})
    );
    let empty: serde_json::Value = serde_json::from_slice(&with_tmax(b"{}", 7)).unwrap();
    assert_eq!(empty, serde_json::json!({"tmax": 7}));
}

#[test]
fn downgrade_to_2_5_moves_each_field_into_ext() {
    let eids = json!([{"source": "id5-sync.com", "uids": [{"id": "x"}]}]);
    let chain = json!({"ver": "1.0", "complete": 1, "nodes": []});
    // (the request's members, what a 2.5 partner gets)
    let cases = [
        (
            json!({"regs": {"gdpr": 1}}),
            json!({"regs": {"ext": {"gdpr": 1}}}),
        ),
        (
            json!({"regs": {"us_privacy": "1YNN", "coppa": 0}}),
            json!({"regs": {"coppa": 0, "ext": {"us_privacy": "1YNN"}}}),
        ),
        (
            json!({"user": {"id": "u", "consent": "CO"}}),
            json!({"user": {"id": "u", "ext": {"consent": "CO"}}}),
        ),
        (
            json!({"user": {"eids": eids}}),
            json!({"user": {"ext": {"eids": eids}}}),
        ),
        (
            json!({"source": {"tid": "t", "schain": chain}}),
            json!({"source": {"tid": "t", "ext": {"schain": chain}}}),
        ),
        // Merged into an existing ext, whose other members stay.
        (
            json!({"regs": {"gdpr": 1, "ext": {"gpp": "DBA"}}}),
            json!({"regs": {"ext": {"gpp": "DBA", "gdpr": 1}}}),
        ),
        // A member ext already has wins; the 2.6 field goes.
        (
            json!({"user": {"consent": "NEW", "ext": {"consent": "OLD"}}}),
            json!({"user": {"ext": {"consent": "OLD"}}}),
        ),
        // ... unless it is null.
        (
            json!({"regs": {"gdpr": 0, "ext": {"gdpr": null}}}),
            json!({"regs": {"ext": {"gdpr": 0}}}),
        ),
        // A null ext becomes an object.
        (
            json!({"user": {"consent": "CO", "ext": null}}),
            json!({"user": {"ext": {"consent": "CO"}}}),
        ),
        // An ext that is not an object: nothing is lost.
        (
            json!({"regs": {"gdpr": 1, "ext": "odd"}}),
            json!({"regs": {"gdpr": 1, "ext": "odd"}}),
        ),
        // Absent or null fields: untouched, no empty ext appears.
        (
            json!({"regs": {"coppa": 1}, "user": {"id": "u", "consent": null}, "site": {"id": "s"}}),
            json!({"regs": {"coppa": 1}, "user": {"id": "u", "consent": null}, "site": {"id": "s"}}),
        ),
        (json!({}), json!({})),
        // Everything at once.
        (
            json!({"regs": {"gdpr": 1, "us_privacy": "1---"}, "user": {"consent": "CO", "eids": eids},
                   "source": {"schain": chain}}),
            json!({"regs": {"ext": {"gdpr": 1, "us_privacy": "1---"}},
                   "user": {"ext": {"consent": "CO", "eids": eids}},
                   "source": {"ext": {"schain": chain}}}),
        ),
    ];
    for (sent, want) in cases {
        let mut r = rest(sent.clone());
        downgrade(&mut r);
        assert_eq!(serde_json::Value::Object(r), want, "downgrading {sent}");
    }
}

#[test]
fn a_2_5_view_has_its_own_body_only_when_something_moves() {
    use crate::config::OpenRtbVersion::{V2_5, V2_6};
    let request: BidRequest = serde_json::from_value(
        json!({"id": "a", "imp": [{"id": "1"}], "regs": {"gdpr": 1}, "user": {"consent": "CO"}}),
    )
    .unwrap();
    assert_eq!(body_version(&request.rest, V2_5), V2_5);
    assert_eq!(body_version(&request.rest, V2_6), V2_6);
    let plain = members(json!({"regs": {"coppa": 1}, "user": {"id": "u"}}));
    assert_eq!(body_version(&plain, V2_5), V2_6, "nothing to move: shared");

    let view = |version| View {
        imps: Vec::new(),
        strip: Reasons::NONE,
        own: None,
        adjustment: UNADJUSTED,
        test: false,
        version,
    };
    let mut bodies = Bodies::default();
    let parse = |b: Bytes| serde_json::from_slice::<serde_json::Value>(&b).unwrap();
    let new = parse(bodies.get(&request, &view(V2_6), &Params::AsSent, 100, false));
    let old = parse(bodies.get(&request, &view(V2_5), &Params::AsSent, 100, false));
    assert_eq!(new["regs"], json!({"gdpr": 1}));
    assert_eq!(new["user"], json!({"consent": "CO"}));
    assert_eq!(old["regs"], json!({"ext": {"gdpr": 1}}));
    assert_eq!(old["user"], json!({"ext": {"consent": "CO"}}));
    assert_eq!(old["tmax"], 100);
    assert_eq!(bodies.views.len(), 2, "one serialisation per version");
    bodies.get(&request, &view(V2_5), &Params::AsSent, 100, false);
    assert_eq!(bodies.views.len(), 2, "equal views share one");
}
