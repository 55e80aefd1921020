//! Ad pods end to end (`/v1/ads`): what partners are told about pricing, `slotinpod`, and the
//! loss notices of a pod's losers.

use crate::helpers::*;
use serde_json::{Value, json};

const SECRET: &str = "test-events-secret-0123456789abcdef";

fn vast(domain: &str, seconds: u32) -> String {
    format!(
        r#"<VAST version="4.2"><Ad id="{domain}"><InLine><AdSystem>p</AdSystem><AdTitle>t</AdTitle><Impression><![CDATA[https://{domain}/imp]]></Impression><Creatives><Creative><Linear><Duration>00:00:{seconds:02}</Duration><MediaFiles><MediaFile delivery="progressive" type="audio/mpeg" bitrate="128"><![CDATA[https://cdn.{domain}/spot.mp3]]></MediaFile></MediaFiles></Linear></Creative></Creatives></InLine></Ad></VAST>"#
    )
}

/// A partner bidding (price, domain, slotinpod) for 15 s spots in the break `brk`; each bid's
/// `lurl` reports its loss reason and MIN_TO_WIN.
fn bidding(bids: &[(f64, &str, i64)]) -> MockPartner {
    let p = mock_partner(Reply::NoBid);
    let bids: Vec<Value> = bids
        .iter()
        .map(|(price, domain, slot)| {
            json!({"id": domain, "impid": "brk", "price": price, "adomain": [domain], "dur": 15,
                   "slotinpod": slot, "adm": vast(domain, 15), "crid": domain,
                   "lurl": format!("http://{}/loss/{domain}?r=${{AUCTION_LOSS}}&m=${{AUCTION_MIN_TO_WIN}}", p.addr)})
        })
        .collect();
    p.set_reply(Reply::Json(
        json!({"id": "x", "cur": "USD", "seatbid": [{"bid": bids}]}),
    ));
    p
}

fn pod_config(partners: &[(&str, &MockPartner)]) -> String {
    // Second price everywhere else: a pod is still sent, and cleared, at first price.
    app_config(
        "pricing = \"second_price\"",
        partners,
        &format!(
            r#"
[events]
secrets = ["{SECRET}"]

[[placements]]
id = "break"
format = "audio"
min_duration_s = 15
max_duration_s = 30
position = "mid"
pod = {{ max_ads = 3, max_duration_s = 60 }}
"#
        ),
    )
}

fn domains(out: &Value) -> Vec<String> {
    out["slots"][0]["ads"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|ad| ad["adomain"][0].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn a_pod_is_sent_at_first_price_plays_each_bid_in_its_slot_and_tells_losers_the_lowest_win() {
    // Two bids want the first slot: only the better one can have it. By price alone the pod
    // would be one, two, three (12.00); with slots it is one (first), four, three (last).
    let a = bidding(&[(5.0, "one.com", 1), (4.0, "two.com", 1)]);
    let b = bidding(&[(3.0, "three.com", -1), (1.0, "four.com", 0)]);
    let app = spawn_app(&pod_config(&[("pod-a", &a), ("pod-b", &b)])).await;
    let out = app
        .ads_json(&ad_request(json!([{"id": "brk", "placement": "break"}])))
        .await;
    assert_eq!(domains(&out), ["one.com", "four.com", "three.com"], "{out}");
    // OpenRTB `at`: the pod clears at first price, and the partners are told so.
    assert_eq!(a.requests()[0].body["at"], 1);
    // The loser had to beat the lowest price that got into the pod: 1.00, not the top 5.00.
    app.wait_for_metric(
        r#"bidgate_notices_total{kind="loss",partner="pod-a",result="ok"}"#,
        |v| v >= 1.0,
    )
    .await;
    assert_eq!(a.paths("/loss"), ["/loss/two.com?r=102&m=1"]);
}
