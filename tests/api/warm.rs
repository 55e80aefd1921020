//! Warm partner connections: opened by every worker at start before `/readyz` turns 200, and
//! for a partner a reload adds; a partner that is down does not keep the gateway unready.

use crate::helpers::*;

#[tokio::test]
async fn connections_are_warmed_before_ready_and_for_partners_a_reload_adds() {
    let a = mock_partner(Reply::NoBid);
    let b = mock_partner(Reply::NoBid);
    // A port nobody listens on: its warm-up fails at once and must not block readiness.
    let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down_endpoint = format!("http://{}/bid", down.local_addr().unwrap());
    drop(down);
    let base = config(
        "",
        &[("a", a.endpoint(), 100), ("down", down_endpoint, 100)],
    );
    let base = base.replace(
        "[auction]",
        "[http_client]\nwarm_connections = 3\n\n[auction]",
    );
    let file = ConfigFile::new("warm", &base);
    let app = spawn_app_from_file(&file).await;
    eventually("/readyz answers 200", || async {
        (app.get("/readyz").await.status() == 200).then_some(())
    })
    .await;
    // Each of the 2 workers (the test config's `workers = 2`) opens its own 3.
    assert_eq!(
        a.heads(),
        6,
        "every warm-up request was sent before readiness"
    );
    assert!(a.requests().is_empty(), "warming sends no bid request");

    // A reload that adds `b`: its pool is new, so it is warmed; `a` keeps its warm pool.
    file.write(&format!(
        "{base}\n[[partners]]\nid = \"b\"\nendpoint = \"{}\"\ntimeout_ms = 100\n",
        b.endpoint()
    ));
    assert_eq!(app.reload().await.0, 200);
    eventually("the added partner is warmed", || async {
        (b.heads() == 6).then_some(())
    })
    .await;
    assert_eq!(a.heads(), 6, "an unchanged partner is not warmed again");
    assert_eq!(app.get("/readyz").await.status(), 200);
}
