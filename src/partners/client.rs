//! The HTTP client of bid requests: hyper-util's pooled client, which is the engine inside
//! reqwest, used without reqwest's per-request layers.
//!
//! Why not reqwest here (it stays the client of notices and of the tests): on every call it
//! parsed the partner's URL twice more (`Url::parse` of the request's URI, IDNA included, in
//! its redirect policy and again for the response), cloned the request for a retry policy,
//! and wrapped the answer in redirect, retry and decompression futures. Callgrind put that
//! at ~29,000 instructions per call, a fifth of an auction: more than reading the answer.
//! Here a partner's URI is parsed once, when the partner is built (`Http::uri`), its fixed
//! headers are built once (`Http::heads`), and a call is one request on the pool.
//!
//! What reqwest gave that is kept: keep-alive pools per partner and worker, TLS by rustls
//! with the webpki roots and ALPN (HTTP/2 when an `https://` partner offers it, h2c by
//! `http2_prior_knowledge`), connect timeout, TCP_NODELAY and keep-alive, no redirects
//! followed (a 3xx is a bad response), gzip answers inflated when asked for (`gzip`,
//! in `call`), and at most `max_connecting` connection attempts at once.

use crate::config::HttpClientConfig;
use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::Semaphore;
use tower_service::Service;

/// A request body: the serialised BidRequest, whole.
pub type Body = Full<Bytes>;

/// A partner's pooled client (cheap to clone: the pool is shared).
pub type Client = hyper_util::client::legacy::Client<Connector, Body>;

/// TLS for every partner client: rustls with ring and the webpki roots (as reqwest's
/// `rustls-tls` had it), built once.
static TLS: LazyLock<rustls::ClientConfig> = LazyLock::new(|| {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        // ring implements both default versions (TLS 1.2 and 1.3): this cannot fail.
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
});

/// A pooled, keep-alive client for one partner's settings. Built once per partner and
/// worker (kept across reloads), never per request.
pub fn client(c: &HttpClientConfig) -> Client {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(Duration::from_millis(c.connect_timeout_ms)));
    http.set_nodelay(true);
    http.set_keepalive(Some(Duration::from_secs(30)));
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(TLS.clone())
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    let connector = Connector {
        https,
        attempts: (c.max_connecting > 0).then(|| Arc::new(Semaphore::new(c.max_connecting))),
    };
    hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(c.pool_max_idle_per_host)
        .pool_idle_timeout(Duration::from_millis(c.pool_idle_timeout_ms))
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .http2_only(c.http2_prior_knowledge)
        .build(connector)
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Opens connections (TCP, then TLS for `https://`), at most `max_connecting` at a time: a
/// burst (a cold start, a pool drained by a partner's restart) waits for a free connection
/// or an attempt slot instead of opening hundreds of sockets at once.
#[derive(Clone)]
pub struct Connector {
    https: HttpsConnector<HttpConnector>,
    /// `None`: no bound (`max_connecting = 0`).
    attempts: Option<Arc<Semaphore>>,
}

impl Service<http::Uri> for Connector {
    type Response = MaybeHttpsStream<TokioIo<tokio::net::TcpStream>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // The bound is taken in `call`: hyper-util calls a connector without asking.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let mut https = self.https.clone();
        let attempts = self.attempts.clone();
        Box::pin(async move {
            let _slot = match attempts {
                Some(s) => Some(s.acquire_owned().await?),
                None => None,
            };
            std::future::poll_fn(|cx| https.poll_ready(cx)).await?;
            https.call(uri).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Connections an `https://` partner accepted: TCP is accepted and the TLS handshake
    /// never answered, so each connection attempt stays open.
    async fn silent_tls_partner() -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}/bid", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                held.push(socket);
            }
        });
        (url, accepted)
    }

    /// Fires 10 requests at once and says how many connections the partner saw.
    async fn connections_opened(max_connecting: usize) -> usize {
        let (url, accepted) = silent_tls_partner().await;
        let settings = HttpClientConfig {
            max_connecting,
            connect_timeout_ms: 5_000,
            ..HttpClientConfig::default()
        };
        let client = client(&settings);
        let uri: http::Uri = url.parse().unwrap();
        let calls: Vec<_> = (0..10)
            .map(|_| {
                let mut post = http::Request::new(Body::default());
                *post.method_mut() = http::Method::POST;
                *post.uri_mut() = uri.clone();
                tokio::spawn(client.request(post))
            })
            .collect();
        // Generous: every unbounded attempt connects within a few ms on loopback.
        let until = tokio::time::Instant::now() + Duration::from_secs(5);
        let want = if max_connecting == 0 {
            10
        } else {
            max_connecting
        };
        while accepted.load(Ordering::SeqCst) < want && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Time for attempts past the bound to show up, were they made.
        tokio::time::sleep(Duration::from_millis(300)).await;
        calls.iter().for_each(|c| c.abort());
        accepted.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn connection_attempts_are_bounded_by_max_connecting() {
        assert_eq!(connections_opened(2).await, 2, "a burst waits for a slot");
        assert_eq!(connections_opened(0).await, 10, "0: no bound");
    }
}
