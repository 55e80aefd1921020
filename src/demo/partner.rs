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
    let mut bids: Vec<Value> = Vec::new();
    for imp in &imps {
        // An ad pod (maxseq) gets two spots of different lengths from two advertisers.
        let pod = imp["audio"]["maxseq"]
            .as_u64()
            .or(imp["video"]["maxseq"].as_u64());
        let spots: &[(u32, &str)] = if pod.is_some() {
            &[(30, ""), (15, "second.")]
        } else {
            &[(30, "")]
        };
        for &(secs, prefix) in spots {
            let cents = rng.i64(p.price_cents.0..=p.price_cents.1);
            let domain = format!("{prefix}{}", p.adomain);
            let (mtype, adm, dur) = creative(imp, &domain, p.name, secs);
            let mut bid = json!({
                "id": format!("{}-{:016x}", p.name, rng.u64(..)),
                "impid": imp["id"],
                "price": cents as f64 / 100.0,
                "adm": adm,
                "adomain": [domain],
                "crid": format!("{}-creative-{mtype}", p.name),
                "mtype": mtype,
            });
            if let Some(d) = dur {
                bid["dur"] = json!(d);
            }
            bids.push(bid);
        }
    }
    HttpResponse::Ok().json(json!({
        "id": request["id"],
        "cur": "USD",
        "seatbid": [{ "seat": format!("{}-seat", p.name), "bid": bids }],
    }))
}

/// Markup matching what the imp offers: VAST for audio (with the companion image the imp
/// asks for) and video, an image tag for banners. Returns (mtype, adm, dur).
fn creative(imp: &Value, domain: &str, name: &str, secs: u32) -> (u8, String, Option<u32>) {
    if let Some(audio) = imp.get("audio") {
        let companion = audio["companionad"][0].as_object().map(|c| {
            (
                c["w"].as_u64().unwrap_or(640),
                c["h"].as_u64().unwrap_or(640),
            )
        });
        (
            3,
            vast(name, domain, "audio/mpeg", secs, companion),
            Some(secs),
        )
    } else if imp.get("video").is_some() {
        (
            2,
            vast(name, domain, "video/mp4", secs.min(15), None),
            Some(secs.min(15)),
        )
    } else {
        let w = imp["banner"]["w"].as_u64().unwrap_or(300);
        let h = imp["banner"]["h"].as_u64().unwrap_or(250);
        (
            1,
            format!(
                "<a href=\"https://{domain}/\"><img src=\"https://cdn.{domain}/{w}x{h}.png\" width=\"{w}\" height=\"{h}\"></a>"
            ),
            None,
        )
    }
}

fn vast(name: &str, d: &str, mime: &str, secs: u32, companion: Option<(u64, u64)>) -> String {
    let companion = companion.map_or(String::new(), |(w, h)| {
        format!(
            "<Creative><CompanionAds><Companion width=\"{w}\" height=\"{h}\">\
<StaticResource creativeType=\"image/png\"><![CDATA[https://cdn.{d}/cover-{w}x{h}.png]]></StaticResource>\
<CompanionClickThrough><![CDATA[https://{d}/]]></CompanionClickThrough></Companion></CompanionAds></Creative>"
        )
    });
    format!(
        "<VAST version=\"4.2\"><Ad id=\"{name}\"><InLine><AdSystem>{name}</AdSystem><AdTitle>{d} spot</AdTitle>\
<Impression><![CDATA[https://{d}/imp]]></Impression><Creatives><Creative><Linear>\
<Duration>00:00:{secs:02}</Duration><MediaFiles><MediaFile delivery=\"progressive\" type=\"{mime}\">\
<![CDATA[https://cdn.{d}/spot-{secs}s]]></MediaFile></MediaFiles></Linear></Creative>{companion}</Creatives>\
</InLine></Ad></VAST>"
    )
}
