//! Shared state across replicas (`[store] backend = "redis"`): two gateways built from one
//! config share a real `redis-server` of the test's own. An impression replayed on the
//! other replica bills once, a frequency cap holds across both, pacing leases do not
//! over-deliver, a partner's QPS cap holds globally; Redis killed mid-run or hung never
//! costs a client an error or a late answer, and its return is noticed.

use crate::helpers::redis::{RedisServer, blackhole};
use crate::helpers::*;
use serde_json::{Value, json};
use std::time::Duration;

const CATALOG: &str = r#"
[[campaigns]]
id = "c1"
name = "Shared"

[[line_items]]
id = "capped"
campaign = "c1"
advertiser = { name = "Capped", domain = "capped.example" }
click_url = "https://capped.example/"
flight = { start = "2020-01-01T00:00:00Z", end = "2100-01-01T00:00:00Z" }
tier = "sponsorship"
cpm = 1.0
pacing = "asap"
frequency_caps = [{ max = 1, period_s = 86400 }]
targeting = { placements = ["capped"] }

[[line_items.creatives]]
id = "spot"
format = "audio"
media_url = "https://cdn.example/capped.mp3"
duration_s = 30
mime = "audio/mpeg"

[[line_items]]
id = "budget"
campaign = "c1"
advertiser = { name = "Budget", domain = "budget.example" }
click_url = "https://budget.example/"
flight = { start = "2020-01-01T00:00:00Z", end = "2100-01-01T00:00:00Z" }
tier = "sponsorship"
cpm = 1.0
pacing = "asap"
goal = { total = { impressions = 10 } }
targeting = { placements = ["paced"] }

[[line_items.creatives]]
id = "spot"
format = "audio"
media_url = "https://cdn.example/budget.mp3"
duration_s = 30
mime = "audio/mpeg"
"#;

const PLACEMENTS: &str = r#"
[[placements]]
id = "capped"
format = "audio"
min_duration_s = 15


[[placements]]
id = "paced"
format = "audio"
min_duration_s = 15

"#;

/// A gateway config with direct demand and the shared store at `url`; `extra` is added.
fn shared_config(name: &str, url: &str, extra: &str) -> (String, ConfigFile) {
    let file = ConfigFile::new(name, "");
    let catalog = file.0.parent().unwrap().join("catalog.toml");
    std::fs::write(&catalog, CATALOG).unwrap();
    let cfg = config("", &[])
        + &format!(
            "\n[internal]\ncatalog = \"{}\"\n\n[events]\nsecrets = [\"shared-test-secret-0123456789abcdef\"]\n\n\
             [store]\nbackend = \"redis\"\nurl = \"{url}\"\nreplicas = 2\nlease_impressions = 3\ncooloff_ms = 200\ntimeout_ms = 50\n{extra}\n{PLACEMENTS}",
            catalog.display()
        );
    (cfg, file)
}

async fn wait_up(app: &TestApp) {
    eventually("the store to be up", || async {
        (app.admin_status().await["store"]["state"] == "up").then_some(())
    })
    .await;
}

async fn wait_written(app: &TestApp) {
    eventually("the store's writes to finish", || async {
        (app.admin_status().await["store"]["pending_writes"] == 0).then_some(())
    })
    .await;
}

/// One `/v1/ads` request for `placement` from listener `user`: its first ad, if any.
async fn ad(app: &TestApp, placement: &str, user: &str) -> Option<Value> {
    let mut body = ad_request(json!([{"id": "a", "placement": placement}]));
    body["user"]["id"] = json!(user);
    let res = app.ads(&body).await;
    assert_eq!(
        res.status(),
        200,
        "an ad request never fails because of Redis"
    );
    let out: Value = res.json().await.unwrap();
    out["slots"][0]["ads"].get(0).cloned()
}

/// The same URL on another replica.
fn on(app: &TestApp, url: &str) -> String {
    let path = &url[url.find("/v1/").expect("a tracking URL")..];
    app.url(path)
}

#[tokio::test]
async fn an_impression_replayed_on_the_other_replica_is_billed_once() {
    let redis = RedisServer::start();
    let (cfg, _file) = shared_config("shared-dedup", &redis.url(), "");
    let (a, b) = (spawn_app(&cfg).await, spawn_app(&cfg).await);
    wait_up(&a).await;
    wait_up(&b).await;
    let won = ad(&a, "capped", "listener-dedup").await.expect("an ad");
    let imp = won["tracking"]["impression"].as_str().unwrap().to_string();
    assert_eq!(a.get(&imp).await.status(), 204);
    wait_written(&a).await;
    assert_eq!(
        b.get(&on(&b, &imp)).await.status(),
        204,
        "a duplicate is fine"
    );
    assert_eq!(a.get(&imp).await.status(), 204);
    // Both replicas report into this process's one metrics registry: over both, one bill.
    let m = a.metrics().await;
    let series = |r: &str| format!(r#"bidgate_events_total{{kind="impression",result="{r}"}}"#);
    let ops: Vec<&str> = m.lines().filter(|l| l.contains("bidgate_store_")).collect();
    assert_eq!(
        metric(&m, &series("billed")),
        Some(1.0),
        "billed once: {ops:#?}"
    );
    assert_eq!(metric(&m, &series("duplicate")), Some(2.0));
}

#[tokio::test]
async fn a_frequency_cap_of_one_holds_across_replicas() {
    let redis = RedisServer::start();
    let (cfg, _file) = shared_config("shared-caps", &redis.url(), "");
    let (a, b) = (spawn_app(&cfg).await, spawn_app(&cfg).await);
    wait_up(&a).await;
    wait_up(&b).await;
    // Wins are not impressions: both replicas still offer it.
    assert!(ad(&b, "capped", "listener-cap").await.is_some());
    let won = ad(&a, "capped", "listener-cap").await.expect("an ad");
    let imp = won["tracking"]["impression"].as_str().unwrap();
    assert_eq!(a.get(imp).await.status(), 204);
    wait_written(&a).await;
    for app in [&b, &a, &b] {
        assert_eq!(
            ad(app, "capped", "listener-cap").await,
            None,
            "capped everywhere"
        );
    }
    assert!(
        ad(&b, "capped", "someone-else").await.is_some(),
        "another listener is not"
    );
    assert!(redis.command(&["KEYS", "*fc:{u:listener-cap}*"]).is_some());
}

#[tokio::test]
async fn pacing_leases_do_not_over_deliver_a_goal_across_replicas() {
    let redis = RedisServer::start();
    let (cfg, _file) = shared_config("shared-pacing", &redis.url(), "");
    let (a, b) = (spawn_app(&cfg).await, spawn_app(&cfg).await);
    wait_up(&a).await;
    wait_up(&b).await;
    let mut delivered = 0;
    for n in 0..60 {
        let app = if n % 2 == 0 { &a } else { &b };
        if let Some(won) = ad(app, "paced", &format!("listener-{n}")).await {
            let imp = won["tracking"]["impression"].as_str().unwrap();
            assert_eq!(app.get(imp).await.status(), 204);
            delivered += 1;
        }
        // Leases are asked for in the background: give them a moment now and then.
        if n % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Every impression here plays before the next ad request: nothing is in flight when
    // the goal runs out, so the bound (goal + ads in flight) is the goal itself.
    eprintln!("pacing: goal 10, delivered {delivered} over 2 replicas, lease chunks of 3");
    assert!(delivered <= 10, "goal 10, delivered {delivered}");
    assert!(delivered >= 3, "leases were granted: delivered {delivered}");
    let granted = redis.command(&["HGET", "bidgate:pace:{li:budget}", "imps"]);
    let granted: u64 = granted.and_then(|g| g.parse().ok()).unwrap_or(0);
    assert!(granted <= 10, "grants never pass the goal: {granted}");
}

/// Behind a load balancer an ad served by one replica is billed on another: the lease is
/// spent where the ad won, or the serving replica's lease would never run out.
#[tokio::test]
async fn pacing_holds_when_impressions_are_billed_on_another_replica() {
    let redis = RedisServer::start();
    let (cfg, _file) = shared_config("shared-pacing-spread", &redis.url(), "");
    let (a, b) = (spawn_app(&cfg).await, spawn_app(&cfg).await);
    wait_up(&a).await;
    wait_up(&b).await;
    let mut delivered = 0;
    for n in 0..60 {
        if let Some(won) = ad(&a, "paced", &format!("spread-{n}")).await {
            let imp = won["tracking"]["impression"].as_str().unwrap();
            assert_eq!(b.get(&on(&b, imp)).await.status(), 204);
            delivered += 1;
        }
        if n % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    eprintln!("pacing: goal 10, delivered {delivered}, every ad on a, billed on b");
    assert!(delivered <= 10, "goal 10, delivered {delivered}");
    assert!(delivered >= 3, "leases were granted: delivered {delivered}");
}

#[tokio::test]
async fn a_partner_qps_cap_holds_across_replicas() {
    let redis = RedisServer::start();
    let partner = mock_partner(Reply::NoBid);
    let cfg = with_partner_lines(
        config("", &[("dsp", partner.endpoint(), 200)]),
        &partner.endpoint(),
        "qps_limit = 10",
    ) + &format!(
        "\n[store]\nbackend = \"redis\"\nurl = \"{}\"\nreplicas = 2\nqps_lease_share = 0.2\n",
        redis.url()
    );
    let (a, b) = (spawn_app(&cfg).await, spawn_app(&cfg).await);
    wait_up(&a).await;
    wait_up(&b).await;
    let unix = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let before = partner.requests().len();
    let (first, mut last) = (unix(), unix());
    let mut sent = 0;
    while last < first + 2 {
        for app in [&a, &b] {
            let res = app.auction(&request(300, &[("1", 0.0)])).await;
            assert_eq!(res.status(), 204);
            sent += 1;
        }
        last = unix();
    }
    let got = partner.requests().len() - before;
    let windows = (last - first + 1) as usize;
    eprintln!("qps cap 10/s over 2 replicas: {got} calls of {sent} auctions in {windows} windows");
    assert!(
        got <= 10 * windows,
        "{got} calls in {windows} one-second windows over 2 replicas, cap 10/s ({sent} auctions)"
    );
    assert!(got >= 5, "tokens were leased: {got} calls");
    assert!(sent > got, "the cap did bite");
}

#[tokio::test]
async fn redis_killed_mid_run_degrades_without_errors_and_recovers() {
    let mut redis = RedisServer::start();
    let (cfg, _file) = shared_config("shared-kill", &redis.url(), "");
    let app = spawn_app(&cfg).await;
    wait_up(&app).await;
    assert!(ad(&app, "capped", "listener-k").await.is_some());
    redis.kill();
    // Every request still answers 200; the store is shown degraded, /readyz stays 200.
    for n in 0..20 {
        let won = ad(&app, "capped", &format!("k-{n}")).await;
        if let Some(won) = won {
            let imp = won["tracking"]["impression"].as_str().unwrap();
            assert_eq!(app.get(imp).await.status(), 204, "billed locally");
        }
    }
    eventually("the store to be shown degraded", || async {
        (app.admin_status().await["store"]["state"] == "degraded").then_some(())
    })
    .await;
    assert_eq!(app.get("/readyz").await.status(), 200);
    let m = app.metrics().await;
    assert!(metric(&m, r#"bidgate_store_fallbacks_total{use="caps"}"#).unwrap_or(0.0) > 0.0);
    assert_eq!(metric(&m, "bidgate_store_up"), Some(0.0));
    // The fallback cap: 1 over 2 replicas allows this replica ceil(1/2) = 1 per listener.
    let won = ad(&app, "capped", "listener-fallback")
        .await
        .expect("its share");
    let imp = won["tracking"]["impression"].as_str().unwrap();
    assert_eq!(app.get(imp).await.status(), 204);
    assert_eq!(ad(&app, "capped", "listener-fallback").await, None);
    let page = app
        .admin(reqwest::Method::GET, "/admin")
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains("redis degraded"));
    redis.restart();
    eventually("the store to recover", || async {
        let _ = ad(&app, "capped", "listener-r").await;
        (app.admin_status().await["store"]["state"] == "up").then_some(())
    })
    .await;
    assert_eq!(app.metric("bidgate_store_up").await, Some(1.0));
}

/// Behind a load balancer an impression is billed on whichever replica its URL reaches,
/// not on the one that served the ad: while Redis is down, a replica's share of a cap must
/// count the ads it served, or one that serves without billing would serve forever.
#[tokio::test]
async fn while_redis_is_down_a_replica_that_serves_but_does_not_bill_keeps_to_its_share() {
    let mut redis = RedisServer::start();
    let (cfg, _file) = shared_config("shared-spread", &redis.url(), "");
    let (a, b) = (spawn_app(&cfg).await, spawn_app(&cfg).await);
    wait_up(&a).await;
    wait_up(&b).await;
    redis.kill();
    // Cap 1 over 2 replicas: each may serve a listener ceil(1/2) = 1 ad while degraded.
    let won = ad(&a, "capped", "listener-spread")
        .await
        .expect("a's share");
    let imp = won["tracking"]["impression"].as_str().unwrap();
    assert_eq!(b.get(&on(&b, imp)).await.status(), 204, "billed on b");
    assert_eq!(
        ad(&a, "capped", "listener-spread").await,
        None,
        "a served its share, though b billed it"
    );
    assert_eq!(
        ad(&b, "capped", "listener-spread").await,
        None,
        "b counted the impression it billed"
    );
    assert!(
        ad(&a, "capped", "listener-other").await.is_some(),
        "another listener has a share of its own"
    );
}

#[tokio::test]
async fn a_hung_redis_never_makes_an_auction_late() {
    let (port, _hold) = blackhole();
    let (cfg, _file) = shared_config("shared-hung", &format!("redis://127.0.0.1:{port}"), "");
    let app = spawn_app(&cfg).await;
    for n in 0..20 {
        let won = ad(&app, "capped", &format!("h-{n}")).await;
        if let Some(won) = won {
            let imp = won["tracking"]["impression"].as_str().unwrap();
            assert_eq!(app.get(imp).await.status(), 204);
        }
    }
    eventually("the store to be shown degraded", || async {
        (app.admin_status().await["store"]["state"] == "degraded").then_some(())
    })
    .await;
    let m = app.metrics().await;
    assert_eq!(
        metric(&m, r#"bidgate_auctions_late_total{endpoint="ads"}"#).unwrap_or(0.0),
        0.0,
        "no answer later than its tmax"
    );
    assert_eq!(app.get("/readyz").await.status(), 200);
}

#[tokio::test]
async fn sigterm_gives_the_unspent_lease_back() {
    let redis = RedisServer::start();
    let (cfg, file) = shared_config("shared-drain", &redis.url(), "");
    file.write(&cfg);
    let (mut child, app) = serve_binary(&file);
    wait_up(&app).await;
    let won = eventually("an ad once a lease is granted", || async {
        ad(&app, "paced", "drain-1").await
    })
    .await;
    let imp = won["tracking"]["impression"].as_str().unwrap();
    assert_eq!(app.get(imp).await.status(), 204);
    wait_written(&app).await;
    let granted = || {
        redis
            .command(&["HGET", "bidgate:pace:{li:budget}", "imps"])
            .and_then(|g| g.parse::<u64>().ok())
            .unwrap_or(0)
    };
    assert_eq!(granted(), 3, "one chunk of lease_impressions leased");
    send_signal(&child, "TERM");
    assert!(child.wait().unwrap().success());
    assert_eq!(granted(), 1, "the two unspent impressions went back");
}

#[tokio::test]
async fn a_frozen_redis_times_out_without_making_anything_late_and_recovers() {
    let redis = RedisServer::start();
    let (cfg, _file) = shared_config("shared-frozen", &redis.url(), "");
    let app = spawn_app(&cfg).await;
    wait_up(&app).await;
    assert!(ad(&app, "capped", "f-0").await.is_some());
    // Connected, then silent: every round trip runs into store.timeout_ms (50 ms here).
    redis.freeze();
    for n in 1..20 {
        if let Some(won) = ad(&app, "capped", &format!("f-{n}")).await {
            let imp = won["tracking"]["impression"].as_str().unwrap();
            assert_eq!(app.get(imp).await.status(), 204);
        }
    }
    assert_eq!(app.admin_status().await["store"]["state"], "degraded");
    let m = app.metrics().await;
    assert!(
        metric(
            &m,
            r#"bidgate_store_ops_total{op="caps_read",result="timeout"}"#
        )
        .unwrap_or(0.0)
            >= 1.0
    );
    assert_eq!(
        metric(&m, r#"bidgate_auctions_late_total{endpoint="ads"}"#).unwrap_or(0.0),
        0.0,
        "no answer later than its tmax"
    );
    redis.thaw();
    eventually("the store to recover", || async {
        let _ = ad(&app, "capped", "f-back").await;
        (app.admin_status().await["store"]["state"] == "up").then_some(())
    })
    .await;
}
