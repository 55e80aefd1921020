//! The baseline: a bare fan-out proxy, the practical limit for this machine. It forwards the
//! request bytes to the same partners over the same kind of pooled client, waits for all of
//! them (or the deadline, like bidgate), and returns the first body that arrived. No parsing,
//! no validation, no auction, no metrics.

use actix_web::{App, HttpResponse, HttpServer, web};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use std::time::Duration;

struct Proxy {
    client: reqwest::Client,
    partners: Vec<reqwest::Url>,
    wait: Duration,
}

pub async fn serve(listen: &str, partners: Vec<String>, wait_ms: u64) -> std::io::Result<()> {
    let client = reqwest::Client::builder()
        .no_gzip()
        .pool_max_idle_per_host(512)
        .tcp_nodelay(true)
        .build()
        .map_err(std::io::Error::other)?;
    let partners = partners
        .iter()
        .map(|p| reqwest::Url::parse(p).map_err(std::io::Error::other))
        .collect::<Result<Vec<_>, _>>()?;
    let proxy = web::Data::new(Proxy {
        client,
        partners,
        wait: Duration::from_millis(wait_ms),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(proxy.clone())
            .default_service(web::post().to(forward))
    })
    .bind(listen)?;
    println!("baseline listening on http://{}", server.addrs()[0]);
    server.run().await
}

async fn forward(p: web::Data<Proxy>, body: Bytes) -> HttpResponse {
    let deadline = tokio::time::Instant::now() + p.wait;
    let mut calls: FuturesUnordered<_> = p
        .partners
        .iter()
        .map(|url| {
            let req = p
                .client
                .post(url.clone())
                .header("content-type", "application/json")
                .body(body.clone());
            tokio::time::timeout_at(deadline, async move { req.send().await?.bytes().await })
        })
        .collect();
    let mut first: Option<Bytes> = None;
    while let Some(result) = calls.next().await {
        if let (None, Ok(Ok(b))) = (&first, result)
            && !b.is_empty()
        {
            first = Some(b);
        }
    }
    match first {
        Some(b) => HttpResponse::Ok().content_type("application/json").body(b),
        None => HttpResponse::NoContent().finish(),
    }
}
