//! The mock partner fleet: N partners on consecutive loopback ports in this process, each
//! with its own latency distribution, bid probability, price range, faults and `adm` size.

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt::Write;
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

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Latency::Fixed(ms) => write!(f, "{ms} ms"),
            Latency::Uniform(lo, hi) => write!(f, "{lo}–{hi} ms (uniform)"),
            Latency::LogNormal { median, sigma } => {
                write!(f, "log-normal {median} ms median (sigma {sigma})")
            }
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
    /// Approximate size of the VAST document in `adm` (bids on audio and video imps).
    pub adm_bytes: usize,
    /// Approximate size of the HTML snippet in `adm` (bids on banner-only imps).
    pub banner_adm_bytes: usize,
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
            banner_adm_bytes: 512,
        }
    }

    /// The partner: log-normal latency around 20 ms, a ~4 KB VAST audio bid and a
    /// display bid for the companion banner, about 8.4 KB per answer to the realistic request.
    pub fn realistic() -> Self {
        Self {
            latency: Latency::LogNormal {
                median: 20.0,
                sigma: 0.3,
            },
            adm_bytes: 4096,
            banner_adm_bytes: 3450,
            ..Self::fixed(20)
        }
    }
}

/// Every bid the fleet made, by request id: the best price (cents) over its partners. The
/// `yield` scenario's oracle, which waits for every bid, would have made that much.
pub type BidLog = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, i64>>>;

struct Partner {
    name: String,
    profile: Profile,
    log: Option<BidLog>,
    /// The markups, already JSON strings (quoted and escaped): built once, copied per bid.
    vast: String,
    banner: String,
}

impl Partner {
    fn new(name: String, profile: &Profile) -> Self {
        let json = |s: String| serde_json::to_string(&s).expect("a string serialises");
        Self {
            vast: json(vast(&name, profile.adm_bytes)),
            banner: json(banner(&name, profile.banner_adm_bytes)),
            name,
            profile: profile.clone(),
            log: None,
        }
    }

    /// The answer to `req`: one bid per imp, typed by what the imp offers, so that every bid
    /// passes bidgate's screening (known impid, `mtype` of a media type the imp offered,
    /// `dur` within the imp's min/max duration, price > 0).
    fn answer(&self, req: &Req, rng: &mut fastrand::Rng) -> String {
        let (out, best) = self.answer_priced(req, rng);
        if let Some(log) = &self.log {
            let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
            let e = log.entry(req.id.clone()).or_insert(0);
            *e = (*e).max(best);
        }
        out
    }

    /// The answer and its best price in cents.
    fn answer_priced(&self, req: &Req, rng: &mut fastrand::Rng) -> (String, i64) {
        let mut best = 0;
        let name = &self.name;
        let mut out = String::with_capacity(
            256 + req.imp.len() * (self.vast.len().max(self.banner.len()) + 256),
        );
        let _ = write!(
            out,
            "{{\"id\":{},\"cur\":\"USD\",\"seatbid\":[{{\"seat\":\"{name}\",\"bid\":[",
            json_str(&req.id)
        );
        for (i, imp) in req.imp.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let cents = rng.i64(self.profile.price_cents.0..=self.profile.price_cents.1);
            best = best.max(cents);
            let _ = write!(
                out,
                "{{\"id\":{},\"impid\":{},\"price\":{}.{:02},\"adomain\":[\"{name}.example\"],\"cid\":\"{name}-campaign-7\",",
                json_str(&format!("{name}-{}", imp.id)),
                json_str(&imp.id),
                cents / 100,
                cents % 100
            );
            // Audio first: an imp that offers audio (and perhaps a banner) gets the spot.
            let media = if imp.audio.is_some() {
                Some(3)
            } else if imp.video.is_some() {
                Some(2)
            } else {
                None
            };
            match (media, &imp.banner) {
                (Some(mtype), _) => {
                    let dur = imp.dur();
                    let _ = write!(
                        out,
                        "\"crid\":\"{name}-spot-{dur}s\",\"mtype\":{mtype},\"dur\":{dur},\"adm\":{}}}",
                        self.vast
                    );
                }
                (None, banner) => {
                    let (w, h) = banner.as_ref().map_or((300, 250), Banner::size);
                    let _ = write!(
                        out,
                        "\"crid\":\"{name}-display-{w}x{h}\",\"mtype\":1,\"w\":{w},\"h\":{h},\"adm\":{}}}",
                        self.banner
                    );
                }
            }
        }
        out.push_str("]}]}");
        (out, best)
    }
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// What a partner reads of the bid request: its id and each imp's id and media.
#[derive(Deserialize)]
struct Req {
    #[serde(default)]
    id: String,
    #[serde(default)]
    imp: Vec<Imp>,
}

#[derive(Deserialize)]
struct Imp {
    #[serde(default)]
    id: String,
    audio: Option<Media>,
    video: Option<Media>,
    banner: Option<Banner>,
}

impl Imp {
    /// The spot's duration: 30 s, or the nearest the imp allows.
    fn dur(&self) -> u64 {
        let Some(m) = self.audio.as_ref().or(self.video.as_ref()) else {
            return 30;
        };
        let max = m.maxduration.filter(|&d| d > 0).unwrap_or(u64::MAX);
        30.min(max).max(m.minduration.unwrap_or(0))
    }
}

#[derive(Deserialize)]
struct Media {
    minduration: Option<u64>,
    maxduration: Option<u64>,
}

#[derive(Deserialize)]
struct Banner {
    w: Option<u32>,
    h: Option<u32>,
    #[serde(default)]
    format: Vec<Format>,
}

#[derive(Deserialize)]
struct Format {
    w: Option<u32>,
    h: Option<u32>,
}

impl Banner {
    fn size(&self) -> (u32, u32) {
        match (self.w, self.h, self.format.first()) {
            (Some(w), Some(h), _) => (w, h),
            (
                _,
                _,
                Some(Format {
                    w: Some(w),
                    h: Some(h),
                }),
            ) => (*w, *h),
            _ => (300, 250),
        }
    }
}

/// Starts one partner per profile on consecutive ports; returns their addresses.
pub fn start(profiles: &[Profile]) -> std::io::Result<Vec<SocketAddr>> {
    start_logged(profiles, None)
}

/// `start`, with every bid made recorded in `log`.
///
/// All partners share one actix worker (one thread, one event loop), each on its own port:
/// the partner is found by the port a request came in on. Why: the partners share a core
/// with the load generator, and eight workers (eight threads each woken for its own few
/// sockets) cost that core far more in wake-ups and context switches than one loop that
/// serves every ready socket at once. A gateway that serves more auctions sends the
/// partners more calls, and the generator must not lag because of them.
pub fn start_logged(profiles: &[Profile], log: Option<BidLog>) -> std::io::Result<Vec<SocketAddr>> {
    let listeners = consecutive_listeners(profiles.len())?;
    let mut addrs = Vec::with_capacity(profiles.len());
    let mut partners = HashMap::new();
    for (i, (listener, profile)) in listeners.iter().zip(profiles).enumerate() {
        let addr = listener.local_addr()?;
        addrs.push(addr);
        let mut partner = Partner::new(format!("mock-{i}"), profile);
        partner.log = log.clone();
        partners.insert(addr.port(), partner);
    }
    let fleet = web::Data::new(Fleet(partners));
    let mut server = HttpServer::new(move || {
        // The factory runs on the fleet's worker thread, before it serves anything.
        yield_to_generator();
        App::new()
            .app_data(fleet.clone())
            .app_data(web::PayloadConfig::new(1 << 20))
            .default_service(web::post().to(bid))
    })
    .workers(1)
    .backlog(4096)
    .disable_signals()
    .shutdown_timeout(0);
    for listener in listeners {
        server = server.listen(listener)?;
    }
    tokio::spawn(server.run());
    Ok(addrs)
}

/// The nice value of the fleet's thread. Why: the partners and the load generator share
/// the harness's core, and at twice a gateway's saturation the partners answer ~20,000 calls
/// a second: the generator then ran tasks up to 9 ms late (its loop lag, `load::Stats`), and
/// that wait landed on the client's clock as the server's (the slowest 503 of an overload
/// was 14.7 ms from the scheduled send while bidgate's own clock had every 503 within
/// 10 ms). Real partners run on machines of their own; here the generator goes first when
/// both are ready, and the partners take the rest of the core (at nice 5 the kernel weights
/// them 335 against the generator's 1024). With root, `report` also puts the generator's
/// threads at `SCHED_FIFO` 1 (`pin::prioritise_here`), which the nice value alone did not
/// replace: the fair scheduler still let a running partner finish its slice.
const FLEET_NICE: libc::c_int = 5;

/// Sets the calling thread's nice value to `FLEET_NICE` (an absolute value: calling it again
/// changes nothing; best effort).
fn yield_to_generator() {
    // SAFETY: setpriority on this thread's own id (Linux: a thread is a PRIO_PROCESS target).
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, FLEET_NICE);
    }
}

/// The partners of one fleet, by the port each listens on.
struct Fleet(HashMap<u16, Partner>);

/// A bidding answer of a partner with `profile` to `request` (`None`: not a bid request).
pub fn sample_answer(profile: &Profile, request: &[u8]) -> Option<String> {
    let req = serde_json::from_slice::<Req>(request).ok()?;
    Some(Partner::new("mock-0".into(), profile).answer(&req, &mut fastrand::Rng::with_seed(1)))
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

async fn bid(fleet: web::Data<Fleet>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let Some(p) = fleet.0.get(&req.app_config().local_addr().port()) else {
        return HttpResponse::NotFound().finish();
    };
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
    let Ok(req) = serde_json::from_slice::<Req>(&body) else {
        return HttpResponse::BadRequest().finish();
    };
    HttpResponse::Ok()
        .content_type("application/json")
        .body(p.answer(&req, &mut rng))
}

/// A VAST 4 inline audio document of about `size` bytes (tracking events pad it to size),
/// 30 s long, with a 300x250 companion.
pub fn vast(name: &str, size: usize) -> String {
    let head = format!(
        "<VAST version=\"4.2\"><Ad id=\"{name}-1\"><InLine><AdSystem>{name}</AdSystem><AdTitle>spot</AdTitle>\
<Impression><![CDATA[https://track.{name}.example/imp?id=${{AUCTION_ID}}&p=${{AUCTION_PRICE}}]]></Impression>\
<Creatives><Creative id=\"c-1\"><Linear><Duration>00:00:30</Duration><TrackingEvents>"
    );
    let tail = format!(
        "</TrackingEvents><MediaFiles><MediaFile delivery=\"progressive\" type=\"audio/mpeg\" bitrate=\"128\">\
<![CDATA[https://cdn.{name}.example/spot-30s.mp3]]></MediaFile><MediaFile delivery=\"progressive\" type=\"audio/mp4\" bitrate=\"96\">\
<![CDATA[https://cdn.{name}.example/spot-30s.m4a]]></MediaFile></MediaFiles></Linear></Creative><Creative>\
<CompanionAds><Companion width=\"300\" height=\"250\"><StaticResource creativeType=\"image/png\">\
<![CDATA[https://cdn.{name}.example/300x250.png]]></StaticResource></Companion></CompanionAds></Creative>\
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

/// A display ad of about `size` bytes: a linked 300x250 image, an impression pixel and
/// viewability pixels (which pad it to size), the kind of snippet display demand returns.
fn banner(name: &str, size: usize) -> String {
    let head = format!(
        "<div class=\"ad\" id=\"{name}-300x250\" style=\"width:300px;height:250px;overflow:hidden\">\
<a href=\"https://click.{name}.example/c?id=${{AUCTION_ID}}&amp;to=https%3A%2F%2Fadvertiser.example%2Flanding\" target=\"_blank\" rel=\"noopener\">\
<img src=\"https://cdn.{name}.example/display/300x250.png\" width=\"300\" height=\"250\" alt=\"Advertisement\" border=\"0\"></a>\
<img src=\"https://track.{name}.example/imp?id=${{AUCTION_ID}}&amp;p=${{AUCTION_PRICE}}\" width=\"1\" height=\"1\" style=\"display:none\" alt=\"\">"
    );
    let tail = "</div>";
    let mut out = head;
    let mut i = 0;
    while out.len() + tail.len() < size {
        out.push_str(&format!(
            "<img src=\"https://px{i}.{name}.example/v?id=${{AUCTION_ID}}&amp;ev=view{i}\" width=\"1\" height=\"1\" style=\"display:none\" alt=\"\">"
        ));
        i += 1;
    }
    out + tail
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
