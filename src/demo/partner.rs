//! A simulated demand partner: a real HTTP server on loopback that answers OpenRTB bid
//! requests with a configurable latency, bid rate and price range, and is sometimes late.

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

/// How a simulated partner behaves. Prices are in cents of the request currency.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: &'static str,
    pub latency_ms: (u64, u64),
    /// Share of requests answered with bids (0.0–1.0); the rest get HTTP 204.
    pub bid_rate: f64,
    pub price_cents: (i64, i64),
    /// Share of requests answered only after `slow_ms` (too late for any sane tmax).
    pub slow_rate: f64,
    pub slow_ms: u64,
    pub adomain: &'static str,
}

/// Binds `addr` and returns the server, to be spawned or awaited by the caller.
pub fn spawn(
    addr: SocketAddr,
    profile: Profile,
) -> std::io::Result<(SocketAddr, actix_web::dev::Server)> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    let profile = web::Data::new(profile);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(profile.clone())
            .app_data(web::JsonConfig::default().limit(1 << 20))
            .default_service(web::post().to(bid))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(0)
    .listen(listener)?
    .run();
    Ok((bound, server))
}

async fn bid(profile: web::Data<Profile>, request: web::Json<Value>) -> HttpResponse {
    let p = profile.get_ref();
    let mut rng = fastrand::Rng::new();
    let delay = if rng.f64() < p.slow_rate {
        p.slow_ms
    } else {
        rng.u64(p.latency_ms.0..=p.latency_ms.1)
    };
    tokio::time::sleep(Duration::from_millis(delay)).await;
    if rng.f64() >= p.bid_rate {
        return HttpResponse::NoContent().finish();
    }
    let imps = request["imp"].as_array().cloned().unwrap_or_default();
    let bids: Vec<Value> = imps
        .iter()
        .map(|imp| {
            let cents = rng.i64(p.price_cents.0..=p.price_cents.1);
            let id = imp["id"].as_str().unwrap_or_default();
            let (mtype, adm) = creative(imp, p);
            json!({
                "id": format!("{}-{:016x}", p.name, rng.u64(..)),
                "impid": id,
                "price": cents as f64 / 100.0,
                "adm": adm,
                "adomain": [p.adomain],
                "crid": format!("{}-creative-{mtype}", p.name),
                "mtype": mtype,
            })
        })
        .collect();
    HttpResponse::Ok().json(json!({
        "id": request["id"],
        "cur": "USD",
        "seatbid": [{ "seat": format!("{}-seat", p.name), "bid": bids }],
    }))
}

/// Markup matching what the imp offers: VAST for audio/video, an image tag for banners.
fn creative(imp: &Value, p: &Profile) -> (u8, String) {
    if imp.get("audio").is_some() {
        (3, vast(p, "audio/mpeg", 30))
    } else if imp.get("video").is_some() {
        (2, vast(p, "video/mp4", 15))
    } else {
        let w = imp["banner"]["w"].as_u64().unwrap_or(300);
        let h = imp["banner"]["h"].as_u64().unwrap_or(250);
        (
            1,
            format!(
                "<a href=\"https://{d}/\"><img src=\"https://cdn.{d}/{w}x{h}.png\" width=\"{w}\" height=\"{h}\"></a>",
                d = p.adomain
            ),
        )
    }
}

fn vast(p: &Profile, mime: &str, secs: u32) -> String {
    format!(
        "<VAST version=\"4.2\"><Ad id=\"{n}\"><InLine><AdSystem>{n}</AdSystem><AdTitle>{n} spot</AdTitle>\
<Impression><![CDATA[https://{d}/imp]]></Impression><Creatives><Creative><Linear>\
<Duration>00:00:{secs:02}</Duration><MediaFiles><MediaFile delivery=\"progressive\" type=\"{mime}\">\
<![CDATA[https://cdn.{d}/spot-{secs}s]]></MediaFile></MediaFiles></Linear></Creative></Creatives>\
</InLine></Ad></VAST>",
        n = p.name,
        d = p.adomain
    )
}
