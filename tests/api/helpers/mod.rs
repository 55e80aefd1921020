//! Test harness: the real gateway (`bidgate::build`) and scripted mock partners, each on a
//! real loopback socket with port 0.
#![allow(dead_code)]

pub mod raw;
pub mod redis;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A gateway listening on `addr`, and a client for it. The requests tests make of it are its
/// methods.
#[derive(Clone)]
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
}

impl TestApp {
    /// A handle on a gateway already listening at `addr`.
    pub fn at(addr: SocketAddr) -> Self {
        TestApp {
            addr,
            client: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// GETs a path of the gateway (`/healthz`) or a URL it handed out (a tracking URL).
    pub async fn get(&self, path_or_url: &str) -> reqwest::Response {
        let url = if path_or_url.starts_with("http") {
            path_or_url.to_string()
        } else {
            self.url(path_or_url)
        };
        self.client.get(url).send().await.expect("gateway answers")
    }

    /// POSTs a JSON body to the auction endpoint.
    pub async fn auction(&self, body: &Value) -> reqwest::Response {
        self.auction_raw(serde_json::to_vec(body).unwrap()).await
    }

    pub async fn auction_raw(&self, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .post(self.url("/openrtb2/auction"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("gateway answers")
    }

    /// POSTs a bid request and returns the JSON body of the answer (a 200 is expected).
    pub async fn auction_json(&self, body: &Value) -> Value {
        let resp = self.auction(body).await;
        assert_eq!(resp.status(), 200, "expected winners");
        resp.json().await.expect("a JSON BidResponse")
    }

    /// POSTs a client ad request (`ad_request`) to `/v1/ads`.
    pub async fn ads(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/v1/ads"))
            .json(body)
            .send()
            .await
            .expect("gateway answers")
    }

    /// POSTs a client ad request and returns the JSON body of the answer (a 200 is expected).
    pub async fn ads_json(&self, body: &Value) -> Value {
        let resp = self.ads(body).await;
        assert_eq!(resp.status(), 200, "expected an ad response");
        resp.json().await.expect("a JSON ad response")
    }

    /// `GET /admin/status` with the test token, as JSON.
    pub async fn admin_status(&self) -> Value {
        let resp = self
            .admin(reqwest::Method::GET, "/admin/status")
            .send()
            .await
            .unwrap();
        resp.json().await.expect("status JSON")
    }

    /// A request to the admin API with the test token.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(ADMIN_TOKEN)
    }

    /// The entry of partner `id` in `/admin/status`.
    pub async fn partner_status(&self, id: &str) -> Value {
        partner_in(&self.admin_status().await, id).clone()
    }

    /// The ids of the partners in `/admin/status`, in its order.
    pub async fn partner_ids(&self) -> Vec<String> {
        self.admin_status().await["partners"]
            .as_array()
            .expect("partners in the status")
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// `POST /admin/reload` with the test token: status and body text.
    pub async fn reload(&self) -> (u16, String) {
        let r = self
            .admin(reqwest::Method::POST, "/admin/reload")
            .send()
            .await
            .expect("gateway answers");
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// The Prometheus text of `/metrics` (with the admin token, which it asks for).
    pub async fn metrics(&self) -> String {
        let resp = self
            .admin(reqwest::Method::GET, "/metrics")
            .send()
            .await
            .expect("gateway answers");
        assert_eq!(resp.status(), 200, "/metrics");
        resp.text().await.unwrap()
    }

    /// The value of one series (`name{labels}`) of `/metrics` now.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        metric(&self.metrics().await, series)
    }

    /// Polls `/metrics` until `series` has a value that `wanted` accepts; returns that value.
    /// For a counter that moves when background work is done: the positive signal a test
    /// waits for before it asserts that something else did not happen.
    pub async fn wait_for_metric(&self, series: &str, wanted: impl Fn(f64) -> bool) -> f64 {
        let wanted = &wanted;
        eventually(&format!("{series} in /metrics"), || async move {
            self.metric(series).await.filter(|v| wanted(*v))
        })
        .await
    }
}

/// The entry of partner `id` in an `/admin/status` document.
pub fn partner_in<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["partners"]
        .as_array()
        .expect("partners in the status")
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {status}"))
}

/// How long a test waits for something that must happen: generous, because tests share two
/// cores with each other and with builds. Waiting is not measuring: no test asserts on it.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Polls `probe` every 20 ms until it returns `Some`, and returns that; fails the test naming
/// `what` after `PATIENCE`.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = std::time::Instant::now();
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "waited {PATIENCE:?} for {what}, in vain"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts the gateway from config text (parsed exactly as a config file would be).
pub async fn spawn_app(config_toml: &str) -> TestApp {
    let config = bidgate::config::from_toml_str(config_toml, Vec::new())
        .unwrap_or_else(|p| panic!("test config invalid: {p:?}"));
    let app = bidgate::build(config).expect("gateway builds");
    let addr = app.addr();
    tokio::spawn(app.run());
    TestApp::at(addr)
}

/// Starts the gateway from a config file, as the binary does (so `/admin/reload` rereads it).
pub async fn spawn_app_from_file(file: &ConfigFile) -> TestApp {
    let app = bidgate::build_from_file(&file.0).expect("valid config");
    let addr = app.addr();
    tokio::spawn(app.run());
    TestApp::at(addr)
}

/// The admin token every test config carries.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// Config text with the given `[auction]` body and partners (id, endpoint, timeout_ms).
pub fn config(auction: &str, partners: &[(&str, String, u64)]) -> String {
    // Worker-lag shedding and the adaptive limit off: tests share two cores with each
    // other, and a stalled worker must not turn a functional test into a 503 (shedding has
    // its own tests).
    let mut s = format!(
        "[admin]\ntoken = \"{ADMIN_TOKEN}\"\n\n[server]\nlisten = \"127.0.0.1:0\"\nworkers = 2\nmax_worker_lag_ms = 0\ntarget_worker_lag_ms = 0\n\n[auction]\n{auction}\n"
    );
    for (id, endpoint, timeout) in partners {
        s.push_str(&format!(
            "\n[[partners]]\nid = \"{id}\"\nendpoint = \"{endpoint}\"\ntimeout_ms = {timeout}\n"
        ));
    }
    s
}

/// Config text for `/v1/ads` tests: the `[auction]` body, partners (id, mock; 200 ms, notices
/// to loopback allowed, vendor 37, consented in `TCF`), then `rest` (events, placements).
pub fn app_config(auction: &str, partners: &[(&str, &MockPartner)], rest: &str) -> String {
    let list: Vec<(&str, String, u64)> = partners
        .iter()
        .map(|(id, p)| (*id, p.endpoint(), 200))
        .collect();
    let mut cfg = config(auction, &list);
    for (_, p) in partners {
        cfg = with_partner_lines(
            cfg,
            &p.endpoint(),
            "notices = { allow_private = true }\nvendor_id = 37",
        );
    }
    cfg + "\n" + rest
}

/// Adds `lines` to the `[[partners]]` entry of `config` whose endpoint is `endpoint`.
pub fn with_partner_lines(config: String, endpoint: &str, lines: &str) -> String {
    let at = format!("endpoint = \"{endpoint}\"");
    assert!(config.contains(&at), "no partner with endpoint {endpoint}");
    config.replace(&at, &format!("{at}\n{lines}"))
}

/// What a mock partner does with each request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Bids (impid, price) in one seatbid, `cur` USD.
    Bids(Vec<(&'static str, f64)>),
    /// A literal 200 JSON body.
    Json(Value),
    /// A literal 200 body with the given content type.
    Raw(&'static str, String),
    NoBid,
    Status(u16),
    /// Never answers (well, not for an hour).
    Hang,
    Delayed(Duration, Box<Reply>),
}

/// A request as the mock partner received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    /// Path and query, e.g. `/bill?price=2.5`.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    pub peer: Option<SocketAddr>,
    pub version: actix_web::http::Version,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct MockPartner {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
    reply: Arc<Mutex<Reply>>,
    heads: Arc<std::sync::atomic::AtomicUsize>,
}

impl MockPartner {
    /// `HEAD` requests received: bidgate's connection warm-up.
    pub fn heads(&self) -> usize {
        self.heads.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}/bid", self.addr)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The paths (with their queries) of the requests received under `prefix`, in order of
    /// arrival: the notices fired at this partner (`/win`, `/loss`, `/bill`…).
    pub fn paths(&self, prefix: &str) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.starts_with(prefix))
            .map(|r| r.path)
            .collect()
    }

    /// The `id`s of the bid requests received, in order of arrival.
    pub fn request_ids(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| r.body["id"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Changes what the partner answers from now on.
    pub fn set_reply(&self, reply: Reply) {
        *self.reply.lock().unwrap() = reply;
    }
}

struct MockState {
    reply: Arc<Mutex<Reply>>,
    received: Arc<Mutex<Vec<Received>>>,
    heads: Arc<std::sync::atomic::AtomicUsize>,
}

pub fn mock_partner(reply: Reply) -> MockPartner {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let reply = Arc::new(Mutex::new(reply));
    let heads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let state = web::Data::new(MockState {
        reply: reply.clone(),
        received: received.clone(),
        heads: heads.clone(),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .default_service(web::to(handle))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(0)
    // Speaks HTTP/1.1, and HTTP/2 to clients that open with the h2c preface.
    .listen_auto_h2c(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    MockPartner {
        addr,
        received,
        reply,
        heads,
    }
}

async fn handle(req: HttpRequest, body: web::Bytes, state: web::Data<MockState>) -> HttpResponse {
    // bidgate's connection warm-up (`http_client.warm_connections`): counted, not recorded,
    // so that tests of what partners receive see bid requests and notices only.
    if req.method() == actix_web::http::Method::HEAD {
        state
            .heads
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        return HttpResponse::Ok().finish();
    }
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state.received.lock().unwrap().push(Received {
        method: req.method().to_string(),
        path: req
            .uri()
            .path_and_query()
            .map_or_else(String::new, |p| p.to_string()),
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: parsed.clone(),
        peer: req.peer_addr(),
        version: req.version(),
    });
    let reply = state.reply.lock().unwrap().clone();
    respond(&reply, &parsed).await
}

async fn respond(reply: &Reply, request: &Value) -> HttpResponse {
    let mut reply = reply;
    if let Reply::Delayed(d, inner) = reply {
        tokio::time::sleep(*d).await;
        reply = inner;
    }
    match reply {
        Reply::Bids(bids) => HttpResponse::Ok().json(bid_response(request, bids)),
        Reply::Json(v) => HttpResponse::Ok().json(v),
        Reply::Raw(ct, body) => HttpResponse::Ok().content_type(*ct).body(body.clone()),
        Reply::NoBid => HttpResponse::NoContent().finish(),
        Reply::Status(s) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(*s).unwrap()).finish()
        }
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            HttpResponse::NoContent().finish()
        }
        Reply::Delayed(..) => unreachable!("one level of delay"),
    }
}

pub fn bid_response(request: &Value, bids: &[(&str, f64)]) -> Value {
    let bids: Vec<Value> = bids
        .iter()
        .enumerate()
        .map(|(i, (imp, price))| {
            json!({"id": format!("bid-{i}"), "impid": imp, "price": price, "adm": "<VAST/>", "crid": "c1"})
        })
        .collect();
    json!({"id": request["id"], "cur": "USD", "seatbid": [{"seat": "buyer-7", "bid": bids}]})
}

/// A bid request with the given imps (id, floor).
pub fn request(tmax: u64, imps: &[(&str, f64)]) -> Value {
    let imps: Vec<Value> = imps
        .iter()
        .map(|(id, floor)| {
            json!({"id": id, "audio": {"mimes": ["audio/mpeg"], "minduration": 15, "maxduration": 30},
                   "bidfloor": floor, "bidfloorcur": "USD", "ext": {"bidder": {"placementId": 42}}})
        })
        .collect();
    json!({"id": "req-1", "tmax": tmax, "imp": imps, "app": {"bundle": "com.example.music"}})
}

/// A TCF v2 string (from the encoder of `src/privacy/tcf_tests.rs`): purposes 1, 2, 3, 4 and 7,
/// vendors 2, 37 and 61 consented, and special feature 1 (precise geolocation): the vendors
/// get everything, purpose 2 included (without it a vendor is not called at all).
pub const TCF: &str = "CO5rKAAO5rKAAEsAHBENCWEIAPIAAAAAAAYgAekAAAAAIAAAIAAAAA";

/// A `/v1/ads` request from a Swedish listener of the example music app, who gave GDPR
/// consent (`TCF`), for the given slots (`[{"id", "placement"}]`).
pub fn ad_request(slots: Value) -> Value {
    json!({
        "id": "app-req-1",
        "app": {"bundle": "com.example.music", "name": "Example Music"},
        "device": {"os": "ios", "type": "phone", "ifa": "AAAA-BBBB", "ip": "203.0.113.77"},
        "user": {"id": "listener-1", "yob": 1995, "consent": {"gdpr": true, "tcf": TCF}},
        "context": {"content": "music", "genre": "hip-hop", "country": "SWE", "language": "sv"},
        "slots": slots
    })
}

/// The winning bids of a response body: (seat, impid, price).
pub fn winners(body: &Value) -> Vec<(String, String, f64)> {
    let mut out = Vec::new();
    for seat in body["seatbid"].as_array().into_iter().flatten() {
        for bid in seat["bid"].as_array().into_iter().flatten() {
            out.push((
                seat["seat"].as_str().unwrap().to_string(),
                bid["impid"].as_str().unwrap().to_string(),
                bid["price"].as_f64().unwrap(),
            ));
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

/// The error codes reported for one partner in `ext.errors`.
pub fn error_codes(body: &Value, partner: &str) -> Vec<u64> {
    body["ext"]["errors"][partner]
        .as_array()
        .map(|a| a.iter().map(|e| e["code"].as_u64().unwrap()).collect())
        .unwrap_or_default()
}

/// The value of one series (`name{labels}`) in Prometheus text output.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// A config file in a temp dir of its own, removed on drop.
pub struct ConfigFile(pub std::path::PathBuf);

impl ConfigFile {
    pub fn new(name: &str, text: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("bidgate-test-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = ConfigFile(dir.join("bidgate.toml"));
        f.write(text);
        f
    }

    /// Writes then renames, as config management does: a reader never sees half a file.
    pub fn write(&self, text: &str) {
        let tmp = self.0.with_extension("tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &self.0).unwrap();
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.0.parent().unwrap());
    }
}

/// The real binary, `bidgate serve --config PATH`, in its own process, once it listens.
pub fn serve_binary(config: &ConfigFile) -> (std::process::Child, TestApp) {
    serve_binary_with(config, std::process::Stdio::null())
}

/// `serve_binary` with these environment variables set for the process.
pub fn serve_binary_env(
    config: &ConfigFile,
    env: &[(&str, &str)],
) -> (std::process::Child, TestApp) {
    serve_binary_inner(config, std::process::Stdio::null(), env)
}

/// `serve_binary` with its log (stderr) piped to `child.stderr`.
pub fn serve_binary_logged(config: &ConfigFile) -> (std::process::Child, TestApp) {
    serve_binary_with(config, std::process::Stdio::piped())
}

fn serve_binary_with(
    config: &ConfigFile,
    stderr: std::process::Stdio,
) -> (std::process::Child, TestApp) {
    serve_binary_inner(config, stderr, &[])
}

fn serve_binary_inner(
    config: &ConfigFile,
    stderr: std::process::Stdio,
    env: &[(&str, &str)],
) -> (std::process::Child, TestApp) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bidgate"))
        .args(["serve", "--config"])
        .arg(&config.0)
        .envs(env.iter().copied())
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("bidgate listening on http://"), "{line}");
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    answers_healthz(addr);
    (child, TestApp::at(addr))
}

/// Waits (10 s at most) until the process serves `/healthz`: the address is printed once
/// the socket is bound, and on a loaded machine a test's first request could otherwise
/// meet a server still starting its workers (seen once: a connection reset).
fn answers_healthz(addr: std::net::SocketAddr) {
    use std::io::{Read, Write};
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let ok = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(1))
            .and_then(|mut s| {
                s.set_read_timeout(Some(std::time::Duration::from_secs(1)))?;
                s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")?;
                let mut head = [0u8; 12];
                s.read_exact(&mut head)?;
                Ok(head.starts_with(b"HTTP/1.1 200"))
            })
            .unwrap_or(false);
        if ok {
            return;
        }
        assert!(
            std::time::Instant::now() < until,
            "{addr}: no /healthz 200 within 10 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Sends `signal` (`TERM`, `HUP`…) with the shell's builtin kill: no procps needed.
pub fn send_signal(child: &std::process::Child, signal: &str) {
    let kill = format!("kill -{signal} {}", child.id());
    let ok = std::process::Command::new("sh")
        .args(["-c", &kill])
        .status()
        .unwrap();
    assert!(ok.success(), "{kill}");
}
