//! The mock partner fleet: N partners on consecutive loopback ports in this process, each
//! with its own latency distribution, bid probability, price range, faults and `adm` size.

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;
use tokio::io::AsyncReadExt;

#[derive(Clone, Copy, Debug)]
pub enum Latency {
    Fixed(u64),
    Uniform(u64, u64),
    /// Log-normal with this median (ms) and sigma: most answers near the median, a long tail.
    LogNormal {
        median: f64,
        sigma: f64,
    },
}

impl std::str::FromStr for Latency {
    type Err = String;

    /// `fixed:20`, `uniform:10:40`, `lognormal:20:0.5` (median ms, sigma).
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let num = |i: usize| -> Result<f64, String> {
            parts
                .get(i)
                .and_then(|p| p.parse().ok())
                .ok_or(format!("bad latency `{s}`"))
        };
        match parts[0] {
            "fixed" => Ok(Latency::Fixed(num(1)? as u64)),
            "uniform" => Ok(Latency::Uniform(num(1)? as u64, num(2)? as u64)),
            "lognormal" => Ok(Latency::LogNormal {
                median: num(1)?,
                sigma: num(2)?,
            }),
            _ => Err(format!(
                "bad latency `{s}`: fixed:MS, uniform:LO:HI or lognormal:MEDIAN:SIGMA"
            )),
        }
    }
}

impl Latency {
    fn sample(&self, rng: &mut fastrand::Rng) -> Duration {
        let ms = match *self {
            Latency::Fixed(ms) => ms as f64,
            Latency::Uniform(lo, hi) => rng.u64(lo..=hi) as f64,
            Latency::LogNormal { median, sigma } => {
                // Box-Muller: a standard normal from two uniforms.
                let (u1, u2) = (rng.f64().max(f64::MIN_POSITIVE), rng.f64());
                let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                (median.ln() + sigma * z).exp()
            }
        };
        Duration::from_micros((ms * 1000.0) as u64)
    }
}

#[derive(Clone, Debug)]
pub struct Profile {
    pub latency: Latency,
    /// Share of requests answered with bids; the rest get 204.
    pub bid_prob: f64,
    pub price_cents: (i64, i64),
    /// Shares of requests that hang (never answered), get a 500, or get a non-JSON body.
    pub hang: f64,
    pub error: f64,
    pub garbage: f64,
    /// Approximate size of the VAST document in `adm`.
    pub adm_bytes: usize,
}

impl Profile {
    pub fn fixed(ms: u64) -> Self {
        Self {
            latency: Latency::Fixed(ms),
            bid_prob: 1.0,
            price_cents: (100, 300),
            hang: 0.0,
            error: 0.0,
            garbage: 0.0,
            adm_bytes: 2048,
        }
    }
}

struct Partner {
    name: String,
    profile: Profile,
    adm: String,
}

/// Starts one partner per profile on consecutive ports; returns their addresses.
pub fn start(profiles: &[Profile]) -> std::io::Result<Vec<SocketAddr>> {
    let listeners = consecutive_listeners(profiles.len())?;
    let mut addrs = Vec::with_capacity(profiles.len());
    for (i, (listener, profile)) in listeners.into_iter().zip(profiles).enumerate() {
        addrs.push(listener.local_addr()?);
        let name = format!("mock-{i}");
        let p = web::Data::new(Partner {
            adm: vast(&name, profile.adm_bytes),
            name,
            profile: profile.clone(),
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(p.clone())
                .app_data(web::JsonConfig::default().limit(1 << 20))
                .default_service(web::post().to(bid))
        })
        .workers(1)
        .backlog(4096)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)?
        .run();
        tokio::spawn(server);
    }
    Ok(addrs)
}

/// N listeners on consecutive ports, searched from 21000 upwards.
fn consecutive_listeners(n: usize) -> std::io::Result<Vec<TcpListener>> {
    let mut base = 21000u16;
    while (base as usize) + n < 60000 {
        let bound: Vec<_> = (0..n as u16)
            .map_while(|i| TcpListener::bind(("127.0.0.1", base + i)).ok())
            .collect();
        if bound.len() == n {
            return Ok(bound);
        }
        base += n as u16 + 1;
    }
    Err(std::io::Error::other(format!(
        "no {n} consecutive free ports"
    )))
}

async fn bid(p: web::Data<Partner>, req: web::Json<Value>) -> HttpResponse {
    let prof = &p.profile;
    let mut rng = fastrand::Rng::new();
    let roll = rng.f64();
    if roll < prof.hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    tokio::time::sleep(prof.latency.sample(&mut rng)).await;
    if roll < prof.hang + prof.error {
        return HttpResponse::InternalServerError().finish();
    }
    if roll < prof.hang + prof.error + prof.garbage {
        return HttpResponse::Ok()
            .content_type("text/html")
            .body("<html>oops</html>");
    }
    if rng.f64() >= prof.bid_prob {
        return HttpResponse::NoContent().finish();
    }
    let bids: Vec<Value> = req["imp"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|imp| {
            let cents = rng.i64(prof.price_cents.0..=prof.price_cents.1);
            json!({
                "id": format!("{}-{}", p.name, imp["id"].as_str().unwrap_or("")),
                "impid": imp["id"],
                "price": cents as f64 / 100.0,
                "adm": p.adm,
                "adomain": [format!("{}.example", p.name)],
                "crid": "c-1",
                "mtype": 3,
            })
        })
        .collect();
    HttpResponse::Ok().json(json!({"id": req["id"], "cur": "USD", "seatbid": [{"bid": bids}]}))
}

/// A VAST 4 inline document of about `size` bytes (tracking events pad it to size).
fn vast(name: &str, size: usize) -> String {
    let head = format!(
        "<VAST version=\"4.2\"><Ad id=\"{name}-1\"><InLine><AdSystem>{name}</AdSystem><AdTitle>spot</AdTitle>\
<Impression><![CDATA[https://track.{name}.example/imp?id=${{AUCTION_ID}}&p=${{AUCTION_PRICE}}]]></Impression>\
<Creatives><Creative id=\"c-1\"><Linear><Duration>00:00:30</Duration><TrackingEvents>"
    );
    let tail = format!(
        "</TrackingEvents><MediaFiles><MediaFile delivery=\"progressive\" type=\"audio/mpeg\" bitrate=\"128\">\
<![CDATA[https://cdn.{name}.example/spot-30s.mp3]]></MediaFile></MediaFiles></Linear></Creative><Creative>\
<CompanionAds><Companion width=\"640\" height=\"640\"><StaticResource creativeType=\"image/png\">\
<![CDATA[https://cdn.{name}.example/640.png]]></StaticResource></Companion></CompanionAds></Creative>\
</Creatives></InLine></Ad></VAST>"
    );
    let mut out = head;
    let events = [
        "start",
        "firstQuartile",
        "midpoint",
        "thirdQuartile",
        "complete",
    ];
    let mut i = 0;
    while out.len() + tail.len() < size {
        let e = events[i % events.len()];
        out.push_str(&format!(
            "<Tracking event=\"{e}\"><![CDATA[https://t{i}.{name}.example/{e}?id=${{AUCTION_ID}}]]></Tracking>"
        ));
        i += 1;
    }
    out + &tail
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
