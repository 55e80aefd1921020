//! The mock partner fleet: N bidding partners on loopback, plus optionally one that hangs.

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;
use tokio::io::AsyncReadExt;

#[derive(Clone)]
struct Partner {
    name: String,
    delay: Duration,
    cents: i64,
}

/// Starts `n` partners, each answering after `delay` with one bid per imp (a VAST `adm`).
/// Returns their addresses. They run on this process's threads until it exits.
pub fn bidders(n: usize, delay: Duration) -> std::io::Result<Vec<SocketAddr>> {
    let mut addrs = Vec::with_capacity(n);
    for i in 0..n {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        addrs.push(listener.local_addr()?);
        let p = web::Data::new(Partner {
            name: format!("mock-{i}"),
            delay,
            cents: 100 + 17 * i as i64,
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(p.clone())
                .app_data(web::JsonConfig::default().limit(1 << 20))
                .default_service(web::post().to(bid))
        })
        .workers(1)
        .backlog(4096)
        .max_connection_rate(4096)
        .disable_signals()
        .listen(listener)?
        .run();
        tokio::spawn(server);
    }
    Ok(addrs)
}

async fn bid(p: web::Data<Partner>, req: web::Json<Value>) -> HttpResponse {
    tokio::time::sleep(p.delay).await;
    let bids: Vec<Value> = req["imp"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|imp| {
            json!({
                "id": format!("{}-{}", p.name, imp["id"].as_str().unwrap_or("")),
                "impid": imp["id"],
                "price": p.cents as f64 / 100.0,
                "adm": vast(&p.name),
                "adomain": [format!("{}.example", p.name)],
                "crid": "c-1",
                "mtype": 3,
            })
        })
        .collect();
    HttpResponse::Ok().json(json!({"id": req["id"], "cur": "USD", "seatbid": [{"bid": bids}]}))
}

/// A realistic-size VAST 4 inline document (about 2 KB).
fn vast(name: &str) -> String {
    let trackers: String = ["start", "firstQuartile", "midpoint", "thirdQuartile", "complete"]
        .iter()
        .map(|e| format!("<Tracking event=\"{e}\"><![CDATA[https://track.{name}.example/{e}?id=%%AUCTION_ID%%]]></Tracking>"))
        .collect();
    format!(
        "<VAST version=\"4.2\"><Ad id=\"{name}-1\"><InLine><AdSystem>{name}</AdSystem><AdTitle>spot</AdTitle>\
<Impression><![CDATA[https://track.{name}.example/imp?id=%%AUCTION_ID%%&p=%%AUCTION_PRICE%%]]></Impression>\
<Creatives><Creative id=\"c-1\"><Linear><Duration>00:00:30</Duration><TrackingEvents>{trackers}</TrackingEvents>\
<MediaFiles><MediaFile delivery=\"progressive\" type=\"audio/mpeg\" bitrate=\"128\"><![CDATA[https://cdn.{name}.example/spot-30s.mp3]]></MediaFile></MediaFiles>\
</Linear></Creative><Creative><CompanionAds><Companion width=\"640\" height=\"640\"><StaticResource creativeType=\"image/png\">\
<![CDATA[https://cdn.{name}.example/640.png]]></StaticResource></Companion></CompanionAds></Creative></Creatives></InLine></Ad></VAST>"
    )
}

/// A partner that accepts connections, reads, and never answers; it holds each connection
/// until the client closes it, like a partner whose backend is stuck.
pub async fn hanging() -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                // Out of file descriptors, say: keep hanging rather than start refusing.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    Ok(addr)
}
