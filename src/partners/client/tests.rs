//! The pool against a real partner socket: connections are reused, a half-read one is
//! not, idle ones time out, and a connection the partner closed while idle costs no call.

use super::*;
use crate::config::HttpClientConfig;
use http_body_util::BodyExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A partner answering every POST with `body`; counts the connections it accepted and,
/// with `close_after`, closes each connection after that many answers (without saying so).
async fn partner(body: &'static str, close_after: Option<usize>) -> (http::Uri, Arc<AtomicUsize>) {
    partner_dropping(body, close_after, false).await
}

/// `partner`; with `drop_next`, the request after the last answer (`close_after`) is read
/// and the connection closed without an answer, as a keep-alive timeout firing just as
/// the request arrives would.
async fn partner_dropping(
    body: &'static str,
    close_after: Option<usize>,
    drop_next: bool,
) -> (http::Uri, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}/bid", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut answered = 0;
                loop {
                    // A request: its head, then Content-Length bytes.
                    let mut chunk = [0u8; 4096];
                    let Some(end) = find(&buf, b"\r\n\r\n") else {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    while buf.len() < end + 4 + length {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    if drop_next && close_after == Some(answered) {
                        return;
                    }
                    assert!(
                        head.contains("\r\nhost: 127.0.0.1:"),
                        "Host is sent: {head}"
                    );
                    assert!(
                        head.starts_with("post /bid http/1.1"),
                        "origin form: {head}"
                    );
                    buf.drain(..end + 4 + length);
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if socket.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                    answered += 1;
                    if close_after == Some(answered) && !drop_next {
                        return;
                    }
                }
            });
        }
    });
    (uri.parse().unwrap(), accepted)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn post(uri: &http::Uri) -> http::Request<Body> {
    let mut post = http::Request::new(Body::new(Bytes::from_static(b"{\"id\":\"r\"}")));
    *post.method_mut() = http::Method::POST;
    *post.uri_mut() = uri.clone();
    post
}

/// One call, its answer read to the end and its connection handed back.
async fn call(client: &Client, uri: &http::Uri) -> Bytes {
    let (resp, lease) = client.request(post(uri)).await.unwrap();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    lease.done();
    body
}

fn settings(max_idle: usize, idle_timeout_ms: u64) -> HttpClientConfig {
    HttpClientConfig {
        pool_max_idle_per_host: max_idle,
        pool_idle_timeout_ms: idle_timeout_ms,
        ..HttpClientConfig::default()
    }
}

#[tokio::test]
async fn calls_one_after_another_share_one_connection() {
    let (uri, accepted) = partner("{\"id\":\"r\"}", None).await;
    let client = client(&settings(8, 60_000));
    for _ in 0..20 {
        assert_eq!(call(&client, &uri).await, "{\"id\":\"r\"}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "keep-alive");
}

#[tokio::test]
async fn concurrent_calls_open_connections_that_are_kept_up_to_max_idle() {
    let (uri, accepted) = partner("{}", None).await;
    let client = client(&settings(2, 60_000));
    // Five at once: five connections (no answer comes before all five are sent).
    let calls: Vec<_> = (0..5)
        .map(|_| {
            let (client, uri) = (client.clone(), uri.clone());
            tokio::spawn(async move { call(&client, &uri).await })
        })
        .collect();
    for c in calls {
        c.await.unwrap();
    }
    let opened = accepted.load(Ordering::SeqCst);
    assert!((2..=5).contains(&opened), "{opened}");
    assert_eq!(
        client.0.idle.lock().unwrap().len(),
        2,
        "at most max_idle kept"
    );
    for _ in 0..5 {
        call(&client, &uri).await;
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        opened,
        "the kept ones serve"
    );
}

#[tokio::test]
async fn a_connection_whose_answer_was_not_read_to_the_end_is_not_reused() {
    let (uri, accepted) = partner("{\"id\":\"r\"}", None).await;
    let client = client(&settings(8, 60_000));
    let (_resp, lease) = client.request(post(&uri)).await.unwrap();
    drop(lease);
    call(&client, &uri).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    call(&client, &uri).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 2, "the second one is kept");
}

#[tokio::test]
async fn idle_connections_time_out() {
    let (uri, accepted) = partner("{}", None).await;
    let client = client(&settings(8, 100));
    call(&client, &uri).await;
    call(&client, &uri).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(250)).await;
    call(&client, &uri).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "idled out: a new connection"
    );
}

#[tokio::test]
async fn a_connection_the_partner_closed_while_idle_costs_no_call() {
    // The partner closes each connection after one answer, without `Connection: close`.
    let (uri, accepted) = partner("{}", Some(1)).await;
    let client = client(&settings(8, 60_000));
    for i in 0..10 {
        if i % 2 == 1 {
            // Time for the close to arrive, or not: both must work.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (resp, lease) = client.request(post(&uri)).await.expect("retried or fresh");
        resp.into_body().collect().await.unwrap();
        lease.done();
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 10);
}

#[tokio::test]
async fn a_refused_connect_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri: http::Uri = format!("http://{}/bid", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    drop(listener);
    let err = client(&settings(8, 60_000))
        .request(post(&uri))
        .await
        .err()
        .expect("nobody listens");
    assert!(err.is_connect(), "{err:?}");
    let chain = std::error::Error::source(&err).map(|s| s.to_string());
    assert!(chain.is_some(), "the cause is kept");
}

#[tokio::test]
async fn a_request_lost_on_a_connection_that_idled_is_sent_again_on_another() {
    // Each connection answers once; the next request on it is read and dropped.
    let (uri, accepted) = partner_dropping("{}", Some(1), true).await;
    let client = client(&settings(8, 60_000));
    call(&client, &uri).await;
    tokio::time::sleep(STALE_AFTER + Duration::from_millis(100)).await;
    let (resp, lease) = client.request(post(&uri)).await.expect("sent again");
    assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), "{}");
    lease.done();
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "the second send on a new connection"
    );
    // Reused at once, the same loss is the partner's: not sent again.
    let err = client.request(post(&uri)).await.err().expect("lost");
    assert!(!err.is_connect(), "{err:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}
