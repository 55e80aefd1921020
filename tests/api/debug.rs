//! Debug output as Prebid Server has it (`ext.debug.httpcalls`): for a `test = 1` auction, or
//! `ext.debug = 1` from a `[[clients]]` entry with `debug = true`; each partner's own call
//! (uri, body sent, status, body answered), bodies clipped, no headers.

use crate::helpers::*;
use serde_json::{Value, json};
use std::time::Duration;

fn banner_request(id: &str, test: Option<i64>) -> Value {
    let mut r = json!({
        "id": id, "tmax": 400,
        "imp": [{"id": "1", "banner": {"w": 300, "h": 250},
                 "ext": {"dbg-a": {"zone": "a-only"}, "dbg-b": {"zone": "b-only"}}}],
        "app": {"bundle": "com.example.news"}
    });
    if let Some(t) = test {
        r["test"] = json!(t);
    }
    r
}

fn calls<'a>(body: &'a Value, partner: &str) -> &'a Vec<Value> {
    body["ext"]["debug"]["httpcalls"][partner]
        .as_array()
        .unwrap_or_else(|| panic!("no httpcalls for {partner}: {body}"))
}

#[tokio::test]
async fn a_test_auction_shows_each_partner_its_own_call_and_nothing_else() {
    let a = mock_partner(Reply::Bids(vec![("1", 2.5)]));
    let b = mock_partner(Reply::Status(503));
    let slow = mock_partner(Reply::Hang);
    let cfg = config(
        "",
        &[
            ("dbg-a", a.endpoint(), 300),
            ("dbg-b", b.endpoint(), 300),
            ("dbg-slow", slow.endpoint(), 60),
        ],
    );
    let cfg = with_partner_lines(
        cfg,
        &a.endpoint(),
        "headers = { Authorization = \"Bearer secret-partner-token\" }",
    );
    let app = spawn_app(&cfg).await;
    let body = app.auction_json(&banner_request("dbg-1", Some(1))).await;

    let a_call = &calls(&body, "dbg-a")[0];
    assert_eq!(a_call["uri"], a.endpoint());
    assert_eq!(a_call["status"], 200);
    let sent: Value = serde_json::from_str(a_call["requestbody"].as_str().unwrap()).unwrap();
    assert_eq!(sent, a.requests()[0].body, "the body as the partner got it");
    assert_eq!(sent["imp"][0]["ext"]["bidder"], json!({"zone": "a-only"}));
    assert!(!a_call["requestbody"].as_str().unwrap().contains("b-only"));
    let answered: Value = serde_json::from_str(a_call["responsebody"].as_str().unwrap()).unwrap();
    assert_eq!(answered["seatbid"][0]["bid"][0]["price"], 2.5);

    let b_call = &calls(&body, "dbg-b")[0];
    assert_eq!(b_call["status"], 503);
    assert!(!b_call["requestbody"].as_str().unwrap().contains("a-only"));

    // Timed out: what it was sent, and no status.
    let slow_call = &calls(&body, "dbg-slow")[0];
    assert_eq!(slow_call["uri"], slow.endpoint());
    assert!(slow_call.get("status").is_none(), "{slow_call}");
    assert!(slow_call.get("responsebody").is_none(), "{slow_call}");
    assert!(slow_call["requestbody"].as_str().unwrap().contains("dbg-1"));

    let text = body.to_string();
    assert!(!text.contains("secret-partner-token"), "no headers: {text}");
    assert_eq!(winners(&body), [("dbg-a".into(), "1".into(), 2.5)]);
}

#[tokio::test]
async fn a_billable_auction_without_debug_shows_no_calls() {
    let a = mock_partner(Reply::Bids(vec![("1", 2.5)]));
    let app = spawn_app(&config("", &[("dbg-a", a.endpoint(), 300)])).await;
    let mut request = banner_request("dbg-2", None);
    let body = app.auction_json(&request).await;
    assert!(body["ext"].get("debug").is_none(), "{body}");
    // Asking is not enough: this caller is no client allowed to.
    request["ext"] = json!({"debug": 1});
    let body = app.auction_json(&request).await;
    assert!(body["ext"].get("debug").is_none(), "{body}");
}

#[tokio::test]
async fn only_a_client_allowed_to_ask_gets_debug_output() {
    const ALLOWED: &str = "debug-client-key-0123456789";
    const OTHER: &str = "plain-client-key-0123456789";
    let a = mock_partner(Reply::Bids(vec![("1", 2.5)]));
    let file = ConfigFile::new(
        "debug-clients",
        &(config("", &[("dbg-a", a.endpoint(), 300)])
            + "\n[[clients]]\nid = \"integrator\"\nkey_env = \"BIDGATE_TEST_DEBUG_KEY\"\ndebug = true\n"
            + "\n[[clients]]\nid = \"sdk\"\nkey_env = \"BIDGATE_TEST_PLAIN_KEY\"\n"),
    );
    let (mut child, app) = serve_binary_env(
        &file,
        &[
            ("BIDGATE_TEST_DEBUG_KEY", ALLOWED),
            ("BIDGATE_TEST_PLAIN_KEY", OTHER),
        ],
    );
    let mut request = banner_request("dbg-3", None);
    request["ext"] = json!({"debug": 1});
    let ask = |key: Option<&'static str>, request: Value| {
        let app = app.clone();
        async move {
            let mut r = app.client.post(app.url("/openrtb2/auction")).json(&request);
            if let Some(k) = key {
                r = r.header("x-api-key", k);
            }
            let resp = r.send().await.unwrap();
            assert_eq!(resp.status(), 200);
            resp.json::<Value>().await.unwrap()
        }
    };
    let body = ask(Some(ALLOWED), request.clone()).await;
    assert_eq!(calls(&body, "dbg-a")[0]["status"], 200);
    let body = ask(Some(OTHER), request.clone()).await;
    assert!(body["ext"].get("debug").is_none(), "{body}");
    let body = ask(None, request.clone()).await;
    assert!(body["ext"].get("debug").is_none(), "{body}");
    // Prebid's way of asking works too; not asking gives nothing, even to the allowed.
    request["ext"] = json!({"prebid": {"debug": true}});
    let body = ask(Some(ALLOWED), request.clone()).await;
    assert_eq!(calls(&body, "dbg-a").len(), 1);
    request["ext"] = json!({});
    let body = ask(Some(ALLOWED), request).await;
    assert!(body["ext"].get("debug").is_none(), "{body}");
    child.kill().unwrap();
    let _ = child.wait();
}

#[tokio::test]
async fn debug_bodies_are_clipped_to_the_configured_size() {
    let long = "é".repeat(400); // 800 bytes of two-byte characters
    let a = mock_partner(Reply::NoBid);
    a.set_reply(Reply::Json(json!({
        "id": "dbg-4", "cur": "USD",
        "seatbid": [{"bid": [{"id": "x", "impid": "1", "price": 1.0, "adm": long}]}]
    })));
    let app = spawn_app(&config(
        "debug_body_limit_bytes = 101",
        &[("dbg-a", a.endpoint(), 300)],
    ))
    .await;
    let mut request = banner_request("dbg-4", Some(1));
    request["imp"][0]["ext"]["note"] = json!(long);
    let body = app.auction_json(&request).await;
    let call = &calls(&body, "dbg-a")[0];
    for field in ["requestbody", "responsebody"] {
        let text = call[field].as_str().unwrap();
        assert!(text.len() <= 101, "{field}: {} bytes", text.len());
        assert!(text.len() >= 99, "{field}: cut at most a character short");
        assert!(!text.contains('\u{fffd}'), "cut on a character boundary");
    }
}

#[tokio::test]
async fn a_test_auction_that_nothing_won_still_answers_with_its_calls() {
    let a = mock_partner(Reply::NoBid);
    let app = spawn_app(&config("", &[("dbg-a", a.endpoint(), 300)])).await;
    let resp = app.auction(&banner_request("dbg-5", Some(1))).await;
    assert_eq!(resp.status(), 200, "a 204 could not carry the calls");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(calls(&body, "dbg-a")[0]["status"], 204);
    assert!(body.get("seatbid").is_none_or(|s| s == &json!([])));
    // The request may still ask for a 204.
    let mut request = banner_request("dbg-6", Some(1));
    request["ext"] = json!({"no_bid_status": 204});
    let resp = app.auction(&request).await;
    assert_eq!(resp.status(), 204);
    // Shown with its gzipped body inflated.
    let g = mock_partner(Reply::Delayed(
        Duration::from_millis(1),
        Box::new(Reply::NoBid),
    ));
    let cfg = with_partner_lines(
        config("", &[("dbg-gz", g.endpoint(), 300)]),
        &g.endpoint(),
        "gzip_requests = true",
    );
    let app = spawn_app(&cfg).await;
    let body: Value = app
        .auction(&banner_request("dbg-7", Some(1)))
        .await
        .json()
        .await
        .unwrap();
    let sent = calls(&body, "dbg-gz")[0]["requestbody"].as_str().unwrap();
    let sent: Value = serde_json::from_str(sent).expect("inflated JSON");
    assert_eq!(sent["id"], "dbg-7");
}
