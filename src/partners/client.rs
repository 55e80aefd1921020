//! The HTTP client of bid requests: hyper's connections, pooled here, one pool per partner
//! and worker thread.
//!
//! Why not reqwest (it stays the client of notices and of the tests): on every call it
//! parsed the partner's URL twice more (`Url::parse`, IDNA included), cloned the request for
//! a retry policy, and wrapped the answer in redirect, retry and decompression futures
//! (callgrind: ~29,000 instructions a call). Why not hyper-util's pooled client either (the
//! engine inside reqwest, used here until it was measured): its pool is a map keyed by
//! scheme and authority, hashed with SipHash twice a call (checkout and return) though a
//! pool here only ever holds one partner's origin; each call formats the `Host` header
//! anew, races its checkout against a connect future, and returns a connection by a task
//! spawned per request. callgrind put that at ~11% of an auction's instructions.
//!
//! This pool is a stack of idle HTTP/1.1 connections (the most recently used on top, so
//! that surplus ones idle out at the bottom) and at most one shared HTTP/2 connection. A
//! call takes the top connection, or opens one while also waiting for a connection to come
//! back (whichever is first; a connect that loses is dropped, see `wait_or_connect`), sends the
//! request and, once the caller has read the answer to its end, puts the connection back
//! ([`Lease::done`]). A connection whose answer was not read to the end is dropped with
//! its lease: hyper then closes it, as a half-read connection cannot be reused.
//!
//! What hyper-util gave that is kept: keep-alive pools per partner and worker, TLS by
//! rustls with the webpki roots and ALPN (HTTP/2 when an `https://` partner offers it, h2c
//! by `http2_prior_knowledge`), connect timeout, TCP_NODELAY and keep-alive, no redirects
//! followed (a 3xx is a bad response), at most `max_connecting` connection attempts at once,
//! `pool_max_idle_per_host` and `pool_idle_timeout_ms`, and sending a request again when a
//! pooled connection refused it before sending (closed by the partner while idle). Added: a
//! request lost with nothing read on a connection that idled is sent again too (`Pool::send`).

use super::connect::{BoxError, Connector};
use crate::config::HttpClientConfig;
use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::{http1, http2};
use hyper_util::client::legacy::connect::Connection;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use origin::{Origin, to_origin_form};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;
use tower_service::Service;

/// A request body: the serialised BidRequest, whole.
pub type Body = Full<Bytes>;

/// An answer's head, its body still to be read.
pub type Response = http::Response<hyper::body::Incoming>;

/// A pooled, keep-alive client for one partner's settings. Built once per partner and
/// worker (kept across reloads), never per request. Cheap to clone: the pool is shared.
#[derive(Clone)]
pub struct Client(Arc<Pool>);

/// A pooled, keep-alive client for one partner's settings.
pub fn client(c: &HttpClientConfig) -> Client {
    Client(Arc::new(Pool {
        connector: Connector::new(c),
        h2_only: c.http2_prior_knowledge,
        max_idle: c.pool_max_idle_per_host,
        idle_timeout: Duration::from_millis(c.pool_idle_timeout_ms),
        idle: Mutex::new(VecDeque::new()),
        h2: Mutex::new(None),
        returned: Notify::new(),
        origin: OnceLock::new(),
    }))
}

struct Pool {
    connector: Connector,
    h2_only: bool,
    max_idle: usize,
    idle_timeout: Duration,
    /// Idle HTTP/1.1 connections, the most recently returned at the back.
    idle: Mutex<VecDeque<Idle>>,
    /// The HTTP/2 connection, shared by every call (streams are multiplexed).
    h2: Mutex<Option<http2::SendRequest<Body>>>,
    /// Wakes a call waiting for a connection when one is returned.
    returned: Notify,
    /// The partner's URI as first called, with what HTTP/1.1 sends for it: computed once.
    origin: OnceLock<Origin>,
}

struct Idle {
    send: http1::SendRequest<Body>,
    since: Instant,
}

/// A connection taken from the pool for one request.
enum Conn {
    H1(http1::SendRequest<Body>),
    H2(http2::SendRequest<Body>),
}

/// Why a request got no answer.
#[derive(Debug)]
pub enum Error {
    /// No connection: refused, timed out, TLS failed, or the HTTP handshake failed.
    Connect(BoxError),
    /// The connection failed while sending the request or reading the answer's head.
    Request(hyper::Error),
}

impl Error {
    pub fn is_connect(&self) -> bool {
        matches!(self, Error::Connect(_))
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Error::Connect(_) => "connect failed",
            Error::Request(_) => "request failed",
        })
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Connect(e) => Some(e.as_ref()),
            Error::Request(e) => Some(e),
        }
    }
}

/// The connection an answer came on: hand it back with [`Lease::done`] once the answer's
/// body has been read to its end. Dropped instead, the connection closes.
pub struct Lease {
    pool: Arc<Pool>,
    send: Option<http1::SendRequest<Body>>,
}

impl Lease {
    /// The answer was read to its end: the connection is idle again.
    pub fn done(mut self) {
        if let Some(send) = self.send.take() {
            self.pool.put(send);
        }
    }
}

impl Client {
    /// Sends `req` (an absolute URI: the partner's endpoint) on a pooled connection, or a
    /// new one. The answer's body is the caller's to read; see [`Lease`].
    pub fn request(
        &self,
        req: http::Request<Body>,
    ) -> impl Future<Output = Result<(Response, Lease), Error>> + Send + use<> {
        let pool = self.0.clone();
        async move { pool.send(req).await }
    }
}

impl Pool {
    async fn send(
        self: Arc<Self>,
        mut req: http::Request<Body>,
    ) -> Result<(Response, Lease), Error> {
        let pool = &self;
        let origin = pool.origin.get_or_init(|| {
            Origin::of(req.uri()).unwrap_or_else(|| Origin {
                absolute: req.uri().clone(),
                path: http::Uri::from_static("/"),
                host: http::HeaderValue::from_static(""),
            })
        });
        // Where to connect: the partner's endpoint (the request's URI is rewritten to its
        // origin form for HTTP/1.1 below).
        let usual = *req.uri() == origin.absolute;
        let target = if usual {
            origin.absolute.clone()
        } else {
            req.uri().clone()
        };
        let mut origin_form = false;
        for attempt in 1..=MAX_ATTEMPTS {
            let (conn, idle_for) = match pool.take() {
                Some(taken) => taken,
                None => (pool.wait_or_connect(&target).await?, Duration::ZERO),
            };
            let mut send = match conn {
                Conn::H2(mut send) => {
                    if origin_form {
                        *req.uri_mut() = target;
                    }
                    let lease = Lease {
                        pool: pool.clone(),
                        send: None,
                    };
                    return send
                        .send_request(req)
                        .await
                        .map(|r| (r, lease))
                        .map_err(Error::Request);
                }
                Conn::H1(send) => send,
            };
            if !origin_form {
                to_origin_form(&mut req, origin, usual);
                origin_form = true;
            }
            // A connection that idled a while may have been closed by the partner's
            // keep-alive timeout (5 s in actix and Node.js) just as it is used: the request
            // then fails with nothing read, and is sent again on another connection. Copied
            // only then: a busy pool's connections idle for microseconds.
            let again = (idle_for >= STALE_AFTER && attempt < MAX_ATTEMPTS).then(|| copy(&req));
            match send.try_send_request(req).await {
                Ok(resp) => {
                    let lease = Lease {
                        pool: pool.clone(),
                        send: Some(send),
                    };
                    return Ok((resp, lease));
                }
                Err(mut e) => match (e.take_message(), again) {
                    // Refused before it was sent (the connection was closing): as it was.
                    (Some(back), _) if attempt < MAX_ATTEMPTS => req = back,
                    (None, Some(copy)) if e.error().is_incomplete_message() => req = copy,
                    _ => return Err(Error::Request(e.into_error())),
                },
            }
        }
        unreachable!("the last attempt returns")
    }
}

/// Sends of one request at most: a pooled connection found closed as it is used costs a
/// send, not the call.
const MAX_ATTEMPTS: u32 = 3;
/// A pooled connection idle at least this long may have been closed by the partner: its
/// request is kept for sending again (see `Pool::send`).
const STALE_AFTER: Duration = Duration::from_millis(500);

/// The request again: same method, target, headers and body (a `Bytes`, not copied).
fn copy(req: &http::Request<Body>) -> http::Request<Body> {
    let mut copy = http::Request::new(req.body().clone());
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.headers_mut() = req.headers().clone();
    copy
}

impl Pool {
    /// A connection when none is idle: one handed back meanwhile, or a new one, whichever
    /// comes first.
    ///
    /// Boxed: the connect and handshake futures are large (kilobytes), and a call's future,
    /// which holds this one, is moved several times before it runs; most calls find an idle
    /// connection and never poll this.
    fn wait_or_connect(
        self: &Arc<Self>,
        uri: &http::Uri,
    ) -> Pin<Box<dyn Future<Output = Result<Conn, Error>> + Send>> {
        let (pool, uri) = (self.clone(), uri.clone());
        Box::pin(async move {
            let mut connect = std::pin::pin!(pool.clone().connect(uri));
            let this = &pool;
            loop {
                let returned = this.returned.notified();
                tokio::select! {
                    biased;
                    opened = &mut connect => return opened,
                    () = returned => {
                        if let Some((conn, _)) = this.take() {
                            // The connect is dropped: the burst that started it is being
                            // served by returning connections. (hyper-util finished such
                            // connects into its pool; here that made overload worse: scenario
                            // 6, p99 69–75 ms against 56–61, RSS 129–136 MiB against 106–111.)
                            return Ok(conn);
                        }
                    }
                }
            }
        })
    }

    /// A ready pooled connection, if any; closed and timed-out ones are dropped on the way.
    fn take(&self) -> Option<(Conn, Duration)> {
        if let Some(send) = self.h2.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && !send.is_closed()
        {
            return Some((Conn::H2(send.clone()), Duration::ZERO));
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        while let Some(top) = idle.pop_back() {
            let idle_for = now.duration_since(top.since);
            if top.send.is_ready() && idle_for < self.idle_timeout {
                return Some((Conn::H1(top.send), idle_for));
            }
            // Closed, timed out, or (rarely) not yet done with its last answer: dropped.
        }
        None
    }

    /// Hands an HTTP/1.1 connection back (see `Lease::done`), and closes those at the
    /// bottom of the stack that have idled out.
    fn put(self: &Arc<Self>, mut send: http1::SendRequest<Body>) {
        if send.is_closed() {
            return;
        }
        if !send.is_ready() {
            // Its I/O task has not yet seen the end of the answer the caller read: back
            // in the pool once it has (not when it closes instead).
            let pool = self.clone();
            tokio::spawn(async move {
                let ready = tokio::time::timeout(pool.idle_timeout, send.ready()).await;
                if let Ok(Ok(())) = ready {
                    pool.put(send);
                }
            });
            return;
        }
        let now = Instant::now();
        {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            while idle
                .front()
                .is_some_and(|i| now.duration_since(i.since) >= self.idle_timeout)
            {
                idle.pop_front();
            }
            if idle.len() >= self.max_idle {
                return;
            }
            idle.push_back(Idle { send, since: now });
        }
        self.returned.notify_one();
    }

    /// Opens a connection: HTTP/2 when configured or negotiated (then shared), else
    /// HTTP/1.1. Its I/O runs as a task of its own on this runtime.
    async fn connect(self: Arc<Self>, uri: http::Uri) -> Result<Conn, Error> {
        let mut connector = self.connector.clone();
        let io = connector.call(uri).await.map_err(Error::Connect)?;
        if self.h2_only || io.connected().is_negotiated_h2() {
            let (send, conn) = http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .handshake(io)
                .await
                .map_err(|e| Error::Connect(e.into()))?;
            tokio::spawn(conn);
            *self.h2.lock().unwrap_or_else(|p| p.into_inner()) = Some(send.clone());
            return Ok(Conn::H2(send));
        }
        let (send, conn) = http1::handshake(io)
            .await
            .map_err(|e| Error::Connect(e.into()))?;
        tokio::spawn(conn);
        Ok(Conn::H1(send))
    }
}

mod origin;
#[cfg(test)]
mod tests;
