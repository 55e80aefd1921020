//! The operator's view: `/admin/status` carries each partner's last minute, `GET /admin`
//! renders it as a page with one row per partner, browsers can log in with Basic auth, and
//! `admin.listen` moves the admin surface off the public listener.

use crate::helpers::*;
use serde_json::Value;

/// Three partners that behave differently, and `n` auctions through them.
async fn busy_gateway(n: usize) -> (TestApp, [MockPartner; 3], [String; 3]) {
    let ids = ["adm-bidder", "adm-silent", "adm-broken"].map(String::from);
    let partners = [
        mock_partner(Reply::Bids(vec![("1", 2.0)])),
        mock_partner(Reply::NoBid),
        mock_partner(Reply::Status(500)),
    ];
    let cfg = config(
        "pricing = \"first_price\"",
        &[
            (&ids[0], partners[0].endpoint(), 150),
            (&ids[1], partners[1].endpoint(), 150),
            (&ids[2], partners[2].endpoint(), 150),
        ],
    );
    // A QPS cap far above what the test sends: headroom is reported, nothing is skipped.
    let cfg = with_partner_lines(cfg, &partners[0].endpoint(), "qps_limit = 1000");
    // The broken partner must stay called: its breaker never opens here.
    let cfg = with_partner_lines(
        cfg,
        &partners[2].endpoint(),
        "circuit_breaker.failure_threshold = 1000",
    );
    let app = spawn_app(&cfg).await;
    for _ in 0..n {
        app.auction_json(&request(300, &[("1", 0.5)])).await;
    }
    (app, partners, ids)
}

#[tokio::test]
async fn status_json_carries_each_partners_last_minute() {
    let (app, _partners, ids) = busy_gateway(5).await;
    let status = app.admin_status().await;
    assert_eq!(status["draining"], false, "{status}");
    assert_eq!(status["in_flight"], 0);

    let bidder = partner_in(&status, &ids[0]);
    let m = &bidder["last_minute"];
    assert_eq!(m["requests_sent"], 5, "{bidder}");
    assert_eq!(m["bid_rate"], 1.0);
    assert_eq!(m["win_rate"], 1.0);
    assert_eq!(m["error_rate"], 0.0);
    assert!(m["latency_p50_ms"].as_u64().unwrap() >= 1);
    assert!(m["requests_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(bidder["qps"]["limit"], 1000);
    assert!(bidder["qps"]["headroom"].as_u64().unwrap() >= 995);

    let silent = &partner_in(&status, &ids[1])["last_minute"];
    assert_eq!(
        (
            silent["requests_sent"].as_u64(),
            silent["bid_rate"].as_f64()
        ),
        (Some(5), Some(0.0))
    );
    assert_eq!(
        silent["win_rate"],
        Value::Null,
        "no bids: no win rate, not 0%"
    );

    let broken = partner_in(&status, &ids[2]);
    assert_eq!(broken["last_minute"]["error_rate"], 1.0, "{broken}");
    assert_eq!(broken["circuit"]["state"], "closed");
    assert!(broken.get("qps").is_none(), "no cap configured");
}

#[tokio::test]
async fn the_admin_page_has_a_row_per_partner_and_refreshes_itself() {
    let (app, _partners, ids) = busy_gateway(4).await;
    let resp = app
        .admin(reqwest::Method::GET, "/admin")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains(r#"<meta http-equiv="refresh""#));
    for id in &ids {
        let start = html
            .find(&format!(r#"<tr id="partner-{id}""#))
            .unwrap_or_else(|| panic!("no row for {id}:\n{html}"));
        let row = &html[start..start + html[start..].find("</tr>").unwrap()];
        let expect = match id.as_str() {
            "adm-bidder" => r#"<td>100.0%</td><td>100.0%</td>"#, // bid rate, win rate
            "adm-silent" => r#"<td>0.0%</td><td>–</td>"#,
            _ => r#"<td class="warn">100.0%</td>"#, // the error rate, marked
        };
        assert!(row.contains(expect), "{id}: {row}");
    }
    assert!(
        !html.contains("<script") && !html.contains("<link"),
        "self-contained"
    );
}

#[tokio::test]
async fn the_admin_page_wants_the_token_and_browsers_give_it_as_basic_auth() {
    let (app, _partners, _ids) = busy_gateway(0).await;
    let anonymous = app.get("/admin").await;
    assert_eq!(anonymous.status(), 401);
    let challenges: Vec<_> = anonymous
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        challenges.iter().any(|c| c.starts_with("Basic")),
        "{challenges:?}"
    );
    let basic = |password: &str| {
        app.client
            .get(app.url("/admin"))
            .basic_auth("ops", Some(password))
            .send()
    };
    assert_eq!(basic("not-the-token-at-all").await.unwrap().status(), 401);
    assert_eq!(basic(ADMIN_TOKEN).await.unwrap().status(), 200);
}

#[tokio::test]
async fn admin_listen_moves_the_admin_surface_off_the_public_port() {
    let p = mock_partner(Reply::Bids(vec![("1", 1.0)]));
    let cfg = config("", &[("adm-sep", p.endpoint(), 150)]).replacen(
        "[admin]\n",
        "[admin]\nlisten = \"127.0.0.1:0\"\n",
        1,
    );
    let config = bidgate::config::from_toml_str(&cfg, Vec::new()).unwrap();
    let app = bidgate::build(config).unwrap();
    let (public, admin) = (app.addr(), app.admin_addr().expect("an admin listener"));
    assert_ne!(public, admin);
    tokio::spawn(app.run());
    let (public, admin) = (TestApp::at(public), TestApp::at(admin));
    // With the token, as an operator would ask.
    let get = |app: &TestApp, path: &str| app.admin(reqwest::Method::GET, path).send();
    for path in ["/admin", "/admin/status", "/metrics"] {
        assert_eq!(
            get(&public, path).await.unwrap().status(),
            404,
            "{path} on the public port"
        );
        assert_eq!(
            get(&admin, path).await.unwrap().status(),
            200,
            "{path} on the admin port"
        );
    }
    // Ready once every worker has warmed its partner connections (milliseconds here).
    eventually("/readyz answers 200", || async {
        (get(&public, "/readyz").await.ok()?.status() == 200).then_some(())
    })
    .await;
    for path in ["/healthz", "/readyz"] {
        assert_eq!(get(&public, path).await.unwrap().status(), 200, "{path}");
        assert_eq!(get(&admin, path).await.unwrap().status(), 200, "{path}");
    }
    let body = public.auction_json(&request(300, &[("1", 0.1)])).await;
    assert_eq!(winners(&body).len(), 1);
    assert_eq!(public.reload().await.0, 404);
}
