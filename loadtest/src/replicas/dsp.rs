//! The scenario's one mock partner, which counts what the replicas did to it: bid requests
//! per path and per unix second (`/qps` is the QPS-capped partner's endpoint, `/bid` the
//! uncapped one's), and billing notices (`burl`) per auction id. It bids on every imp with
//! a playable VAST and a `burl` back to itself, so every billed impression of its ads is
//! one notice here: a replayed impression billed twice would be two.

use actix_web::{App, HttpResponse, HttpServer, web};
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// What the partner saw.
#[derive(Default)]
pub struct Seen {
    /// (path, unix second) → bid requests received.
    calls: Mutex<HashMap<(String, u64), u64>>,
    /// auction id → billing notices received.
    notices: Mutex<HashMap<String, u64>>,
    bids: AtomicU64,
}

impl Seen {
    /// Bid requests received on `path` in each unix second from `from` to `to` (inclusive).
    pub fn calls_per_second(&self, path: &str, from: u64, to: u64) -> Vec<(u64, u64)> {
        let calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        (from..=to)
            .map(|s| (s, calls.get(&(path.to_string(), s)).copied().unwrap_or(0)))
            .collect()
    }

    /// Billing notices received for auction `id`.
    pub fn notices(&self, id: &str) -> u64 {
        let n = self.notices.lock().unwrap_or_else(PoisonError::into_inner);
        n.get(id).copied().unwrap_or(0)
    }
}

struct Dsp {
    addr: SocketAddr,
    seen: Arc<Seen>,
    vast: String,
}

/// Starts the partner on a free loopback port.
pub fn start() -> std::io::Result<(SocketAddr, Arc<Seen>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let seen = Arc::new(Seen::default());
    let dsp = web::Data::new(Dsp {
        addr,
        seen: seen.clone(),
        vast: serde_json::to_string(&crate::fleet::vast("dsp", 800)).expect("a string"),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(dsp.clone())
            .route("/burl", web::get().to(burl))
            .route("/{path}", web::post().to(bid))
    })
    .workers(1)
    .backlog(4096)
    .disable_signals()
    .shutdown_timeout(0)
    .listen(listener)?
    .run();
    tokio::spawn(server);
    Ok((addr, seen))
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn bid(dsp: web::Data<Dsp>, path: web::Path<String>, body: web::Bytes) -> HttpResponse {
    let path = path.into_inner();
    {
        let mut calls = dsp
            .seen
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *calls.entry((path.clone(), unix_now())).or_default() += 1;
    }
    tokio::time::sleep(Duration::from_millis(3)).await;
    if path == "qps" {
        return HttpResponse::NoContent().finish();
    }
    let Ok(req) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return HttpResponse::BadRequest().finish();
    };
    let mut bids = Vec::new();
    for imp in req["imp"].as_array().into_iter().flatten() {
        if imp.get("audio").is_none() {
            continue;
        }
        let n = dsp.seen.bids.fetch_add(1, Ordering::Relaxed);
        bids.push(format!(
            "{{\"id\":\"b{n}\",\"impid\":{},\"price\":2.5,\"adomain\":[\"dsp.example\"],\"crid\":\"spot\",\
             \"mtype\":3,\"dur\":30,\"burl\":\"http://{}/burl?a=${{AUCTION_ID}}\",\"adm\":{}}}",
            imp["id"], dsp.addr, dsp.vast
        ));
    }
    if bids.is_empty() {
        return HttpResponse::NoContent().finish();
    }
    HttpResponse::Ok()
        .content_type("application/json")
        .body(format!(
            "{{\"id\":{},\"cur\":\"USD\",\"seatbid\":[{{\"seat\":\"dsp\",\"bid\":[{}]}}]}}",
            req["id"],
            bids.join(",")
        ))
}

#[derive(serde::Deserialize)]
struct Burl {
    a: String,
}

async fn burl(dsp: web::Data<Dsp>, q: web::Query<Burl>) -> HttpResponse {
    let mut n = dsp
        .seen
        .notices
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    *n.entry(q.into_inner().a).or_default() += 1;
    HttpResponse::NoContent().finish()
}
