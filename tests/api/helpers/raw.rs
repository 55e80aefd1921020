//! Misbehaving partners written against raw TCP sockets: the faults an HTTP framework
//! would refuse to produce (dripping bodies, resets, lying lengths, full backlogs).

use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Reads the request and never answers; holds the connection until the peer closes it.
    Silent,
    /// Sends headers promising a body, then one byte every 20 ms.
    Drip,
    /// Reads the request and resets the connection (RST, not FIN).
    Reset,
    /// Declares a 50 MB body in Content-Length.
    HugeDeclared,
    /// Streams a chunked body without end (64 KiB chunks, up to 8 MiB).
    HugeChunked,
    /// A small gzip body that inflates to 8 MiB.
    GzipBomb,
    /// A valid gzip-encoded BidResponse with one bid of 4.00 on imp "1".
    GzipBid,
    /// A 500 whose body is gzip: `{"error":"upstream down"}`.
    GzipError,
}

pub struct RawPartner {
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicUsize>,
    /// Connections on which the peer (bidgate) was seen to close or stop reading.
    pub closed: Arc<AtomicUsize>,
    /// Whether a request asked for gzip (`Accept-Encoding`).
    pub asked_gzip: Arc<AtomicBool>,
}

impl RawPartner {
    pub fn endpoint(&self) -> String {
        format!("http://{}/bid", self.addr)
    }

    /// Waits (bounded) until every accepted connection has been closed by bidgate.
    pub async fn all_closed_within(&self, limit: Duration) -> bool {
        let until = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < until {
            let accepted = self.accepted.load(Ordering::SeqCst);
            if accepted > 0 && self.closed.load(Ordering::SeqCst) == accepted {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }
}

pub async fn raw_partner(fault: Fault) -> RawPartner {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let p = RawPartner {
        addr: listener.local_addr().unwrap(),
        accepted: Arc::default(),
        closed: Arc::default(),
        asked_gzip: Arc::default(),
    };
    let (accepted, closed, asked_gzip) =
        (p.accepted.clone(), p.closed.clone(), p.asked_gzip.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            accepted.fetch_add(1, Ordering::SeqCst);
            let (closed, asked_gzip) = (closed.clone(), asked_gzip.clone());
            tokio::spawn(async move {
                serve(stream, fault, &asked_gzip).await;
                closed.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    p
}

/// Serves one connection with the fault; returns when the peer has gone.
async fn serve(mut s: TcpStream, fault: Fault, asked_gzip: &AtomicBool) {
    let Some(head) = read_request(&mut s).await else {
        return;
    };
    if head.to_ascii_lowercase().contains("accept-encoding: gzip") {
        asked_gzip.store(true, Ordering::SeqCst);
    }
    const JSON_200: &str = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n";
    match fault {
        Fault::Silent => {}
        Fault::Drip => {
            let head = format!("{JSON_200}content-length: 100000\r\n\r\n{{");
            if s.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            while s.write_all(b" ").await.is_ok() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            return;
        }
        Fault::Reset => {
            let _ = s.set_zero_linger();
            return; // dropped with SO_LINGER 0: the kernel sends RST
        }
        Fault::HugeDeclared => {
            let head =
                format!("{JSON_200}content-length: 50000000\r\n\r\n{{\"id\":\"x\",\"pad\":\"");
            let _ = s.write_all(head.as_bytes()).await;
        }
        Fault::HugeChunked => {
            let head = format!("{JSON_200}transfer-encoding: chunked\r\n\r\n");
            if s.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = format!("10000\r\n{}\r\n", "a".repeat(0x10000));
            for _ in 0..128 {
                if s.write_all(chunk.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
        Fault::GzipBomb => send_gzip(&mut s, gzip_bomb()).await,
        Fault::GzipError => {
            let gz = gzip(br#"{"error":"upstream down"}"#);
            send_gzip_status(&mut s, "500 Internal Server Error", &gz).await;
        }
        Fault::GzipBid => {
            let json = r#"{"id":"req-1","cur":"USD","seatbid":[{"bid":[{"id":"g1","impid":"1","price":4.0}]}]}"#;
            send_gzip(&mut s, &gzip(json.as_bytes())).await;
        }
    }
    // Hold the connection until bidgate closes it (read returns 0 or fails).
    let mut sink = [0u8; 1024];
    while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {}
}

/// 8 MiB of JSON in about 8 KiB of gzip, compressed once before any request arrives, so the
/// bomb's cost is not paid inside the partner's time budget on a busy machine.
pub fn gzip_bomb() -> &'static [u8] {
    static BOMB: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BOMB.get_or_init(|| {
        gzip(format!("{{\"id\":\"x\",\"pad\":\"{}\"}}", "a".repeat(8 << 20)).as_bytes())
    })
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(body).unwrap();
    enc.finish().unwrap()
}

async fn send_gzip(s: &mut TcpStream, gz: &[u8]) {
    send_gzip_status(s, "200 OK", gz).await;
}

async fn send_gzip_status(s: &mut TcpStream, status: &str, gz: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
        gz.len()
    );
    let _ = s.write_all(head.as_bytes()).await;
    let _ = s.write_all(gz).await;
}

/// Reads one HTTP/1.1 request (headers and a Content-Length body); returns the head.
async fn read_request(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = s.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some(head);
        }
    }
}

/// A listening socket that never calls accept(): the kernel completes handshakes into its
/// backlog and buffers the request, and nobody ever answers.
pub fn never_accepting() -> (SocketAddr, TcpListener) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(64).unwrap();
    (listener.local_addr().unwrap(), listener)
}

/// A listening socket whose backlog is full: new SYNs are dropped, so connect() hangs.
/// Returns the address and everything that must stay alive for the fault to last.
pub async fn full_backlog() -> (SocketAddr, TcpListener, Vec<TcpStream>) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..16 {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
            Ok(Ok(s)) => fillers.push(s),
            _ => return (addr, listener, fillers), // this connect hung: the backlog is full
        }
    }
    panic!("backlog never filled after {} connections", fillers.len());
}
