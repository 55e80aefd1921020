//! Opening a connection to a partner: TCP (connect timeout, TCP_NODELAY, keep-alive), then
//! TLS by rustls for `https://` (webpki roots, ALPN offering HTTP/2 and HTTP/1.1), at most
//! `max_connecting` attempts at a time. The pool (`client`) decides when to open one.

use crate::config::HttpClientConfig;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::Semaphore;
use tower_service::Service;

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

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Opens connections (TCP, then TLS for `https://`), at most `max_connecting` at a time: a
/// burst (a cold start, a pool drained by a partner's restart) waits for a free connection
/// or an attempt slot instead of opening hundreds of sockets at once.
#[derive(Clone)]
pub struct Connector {
    https: HttpsConnector<HttpConnector>,
    /// `None`: no bound (`max_connecting = 0`).
    attempts: Option<Arc<Semaphore>>,
}

impl Connector {
    pub fn new(c: &HttpClientConfig) -> Connector {
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
        Connector {
            https,
            attempts: (c.max_connecting > 0).then(|| Arc::new(Semaphore::new(c.max_connecting))),
        }
    }
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
    use crate::partners::client::{Body, client};
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
