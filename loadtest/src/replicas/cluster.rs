//! Three bidgate processes (the release binary) on loopback with real config files and a
//! direct-sold catalog written to a temp dir, sharing one store, and the clients' side of
//! them: the generator picks the replica of each request round robin itself (see the
//! scenario's docs for why there is no proxy in front).

use crate::gateway::Gateway;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub const REPLICAS: usize = 3;
const ADMIN_TOKEN: &str = "replicas-loadtest-admin-token";
const SECRET: &str = "replicas-loadtest-tracking-secret-0123456789";

/// What every replica's config and the catalog are made of.
pub struct Setup {
    pub dir: PathBuf,
    pub dsp: SocketAddr,
    pub cap: u32,
    pub budget: u64,
    pub lease_impressions: u64,
    pub qps_limit: u32,
    pub store_timeout_ms: Option<u64>,
}

impl Setup {
    pub fn catalog(&self) -> String {
        let creative = |name: &str| {
            format!(
                "[[line_items.creatives]]\nid = \"spot\"\nformat = \"audio\"\n\
                 media_url = \"https://cdn.example/{name}.mp3\"\nduration_s = 30\nmime = \"audio/mpeg\"\n\n"
            )
        };
        let item = |id: &str, extra: &str, placement: &str| {
            format!(
                "[[line_items]]\nid = \"{id}\"\ncampaign = \"c1\"\n\
                 advertiser = {{ name = \"{id}\", domain = \"{id}.example\" }}\n\
                 click_url = \"https://{id}.example/\"\n\
                 flight = {{ start = \"2020-01-01T00:00:00Z\", end = \"2100-01-01T00:00:00Z\" }}\n\
                 tier = \"sponsorship\"\ncpm = 5.0\npacing = \"asap\"\n{extra}\n\
                 targeting = {{ placements = [\"{placement}\"] }}\n\n{}",
                creative(id)
            )
        };
        format!(
            "[[campaigns]]\nid = \"c1\"\nname = \"Replicas\"\n\n{}{}",
            item(
                "capped",
                &format!(
                    "frequency_caps = [{{ max = {}, period_s = 86400 }}]",
                    self.cap
                ),
                "capped"
            ),
            item(
                "budget",
                &format!("goal = {{ total = {{ impressions = {} }} }}", self.budget),
                "paced"
            ),
        )
    }

    /// Replica `i`'s config; `redis`: the store's URL, or `None` for `backend = "memory"`.
    pub fn config(&self, i: usize, redis: Option<&str>, log_dir: &Path) -> String {
        let store = match redis {
            Some(url) => format!(
                "backend = \"redis\"\nurl = \"{url}\"\nreplicas = {REPLICAS}\nlease_impressions = {}\n{}",
                self.lease_impressions,
                self.store_timeout_ms
                    .map_or(String::new(), |t| format!("timeout_ms = {t}\n"))
            ),
            None => "backend = \"memory\"\n".to_string(),
        };
        let placement = |id: &str| {
            format!(
                "[[placements]]\nid = \"{id}\"\nformat = \"audio\"\nmin_duration_s = 15\n\
                 max_duration_s = 30\npartners = [\"dsp\"]\ntmax_ms = 200\n\n"
            )
        };
        // Worker-lag shedding is off, as in the test suite: on this shared 2-core machine
        // it would shed on the machine's noise, which is not what this scenario is about.
        format!(
            "# replicas scenario: replica {i}\n[server]\nlisten = \"127.0.0.1:0\"\nworkers = 1\n\
             max_worker_lag_ms = 0\ntarget_worker_lag_ms = 0\n\n\
             [admin]\ntoken = \"{ADMIN_TOKEN}\"\nprotect_metrics = false\n\n\
             [events]\nsecrets = [\"{SECRET}\"]\n\n\
             [event_log]\ndir = \"{}\"\nsample_auctions = 0.0\n\n\
             [internal]\ncatalog = \"{}\"\n\n[store]\n{store}\n\
             [[partners]]\nid = \"dsp\"\nendpoint = \"http://{dsp}/bid\"\ntimeout_ms = 100\n\
             notices = {{ allow_private = true }}\n\n\
             [[partners]]\nid = \"capped-dsp\"\nendpoint = \"http://{dsp}/qps\"\ntimeout_ms = 100\n\
             qps_limit = {}\n\n{}{}{}",
            log_dir.display(),
            self.dir.join("catalog.toml").display(),
            self.qps_limit,
            placement("capped"),
            placement("paced"),
            placement("open"),
            dsp = self.dsp,
        )
    }
}

/// One ad of an `/v1/ads` answer.
#[derive(Debug, Clone)]
pub struct Ad {
    pub seat: String,
    pub impression: String,
    pub auction_id: String,
}

pub struct Cluster {
    pub replicas: Vec<Gateway>,
    /// Each replica's event log directory.
    pub logs: Vec<PathBuf>,
    next: AtomicUsize,
    client: reqwest::Client,
}

impl Cluster {
    /// Starts the three replicas and waits until each is ready (and its store up, with Redis).
    pub async fn start(
        binary: &Path,
        setup: &Setup,
        redis: Option<&str>,
        name: &'static str,
    ) -> std::io::Result<Self> {
        std::fs::write(setup.dir.join("catalog.toml"), setup.catalog())?;
        let mut replicas = Vec::new();
        let mut logs = Vec::new();
        for i in 0..REPLICAS {
            let log = setup.dir.join(format!("{name}-events-{i}"));
            let config = setup.config(i, redis, &log);
            replicas.push(Gateway::start(binary, &config, &format!("{name}-{i}"))?);
            logs.push(log);
        }
        let client = reqwest::Client::builder()
            .no_gzip()
            .pool_max_idle_per_host(4096)
            .pool_idle_timeout(Duration::from_secs(2))
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(std::io::Error::other)?;
        let cluster = Cluster {
            replicas,
            logs,
            next: AtomicUsize::new(0),
            client,
        };
        for r in &cluster.replicas {
            r.wait_ready(&cluster.client, Duration::from_secs(10))
                .await
                .map_err(|s| std::io::Error::other(format!("{name}: /readyz {s}")))?;
        }
        if redis.is_some() && !cluster.wait_store("up", Duration::from_secs(10)).await {
            return Err(std::io::Error::other(format!(
                "{name}: the store did not come up"
            )));
        }
        Ok(cluster)
    }

    /// The next replica, round robin.
    pub fn pick(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % REPLICAS
    }

    fn url(&self, i: usize, path: &str) -> String {
        format!("http://{}{path}", self.replicas[i % REPLICAS].addr)
    }

    /// `POST /v1/ads` on replica `i` for one slot of `placement`, from listener `user`:
    /// the status (0 = no answer) and the slot's first ad.
    pub async fn ad(&self, i: usize, placement: &str, user: &str) -> (u16, Option<Ad>) {
        let body = json!({
            "id": format!("{user}-{placement}"),
            "app": {"bundle": "com.example.music", "name": "Example Music"},
            "device": {"os": "ios", "type": "phone", "ip": "203.0.113.7"},
            "user": {"id": user},
            "context": {"content": "music", "country": "USA"},
            "slots": [{"id": "a", "placement": placement}],
        });
        let res = self
            .client
            .post(self.url(i, "/v1/ads"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await;
        let Ok(res) = res else { return (0, None) };
        let status = res.status().as_u16();
        let Some(v) = res
            .bytes()
            .await
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        else {
            return (if status == 200 { 0 } else { status }, None);
        };
        let ad = v["slots"][0]["ads"].get(0).map(|a| Ad {
            seat: a["seat"].as_str().unwrap_or("").to_string(),
            impression: a["tracking"]["impression"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            auction_id: v["auction_id"].as_str().unwrap_or("").to_string(),
        });
        (status, ad)
    }

    /// A tracking URL fired at replica `i` (whichever replica's host it names): the status.
    pub async fn event(&self, i: usize, url: &str) -> u16 {
        let path = url.find("/v1/").map_or(url, |at| &url[at..]);
        match self.client.get(self.url(i, path)).send().await {
            Ok(r) => {
                let s = r.status().as_u16();
                let _ = r.bytes().await;
                s
            }
            Err(_) => 0,
        }
    }

    /// `POST /openrtb2/auction` on replica `i`: the status.
    pub async fn auction(&self, i: usize, body: bytes::Bytes) -> u16 {
        let res = self
            .client
            .post(self.url(i, "/openrtb2/auction"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        match res {
            Ok(r) => {
                let s = r.status().as_u16();
                let _ = r.bytes().await;
                s
            }
            Err(_) => 0,
        }
    }

    /// Each replica's `/admin/status` `store` object (Null when it does not answer).
    pub async fn stores(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for i in 0..REPLICAS {
            let v = self
                .client
                .get(self.url(i, "/admin/status"))
                .bearer_auth(ADMIN_TOKEN)
                .timeout(Duration::from_secs(1))
                .send()
                .await;
            let v = match v {
                Ok(r) => r
                    .bytes()
                    .await
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok()),
                Err(_) => None,
            };
            let v: Value = v.unwrap_or_default();
            out.push(v["store"].clone());
        }
        out
    }

    /// Polls until every replica's store is in `state`; false after `limit`.
    pub async fn wait_store(&self, state: &str, limit: Duration) -> bool {
        let t0 = tokio::time::Instant::now();
        loop {
            if self.stores().await.iter().all(|s| s["state"] == state) {
                return true;
            }
            if t0.elapsed() > limit {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A counter summed over the replicas (see `metrics::total`).
    pub async fn metric(&self, name: &str, with: &[(&str, &str)]) -> f64 {
        let mut sum = 0.0;
        for r in &self.replicas {
            if let Some(text) = crate::metrics::scrape_text(r.addr).await {
                sum += crate::metrics::total(&text, name, with);
            }
        }
        sum
    }

    /// The billed impression records of the three event logs, by auction id.
    pub fn billed_records(&self) -> std::collections::HashMap<String, u64> {
        let mut out = std::collections::HashMap::new();
        for dir in &self.logs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for e in entries.flatten() {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                for line in text.lines().filter(|l| l.contains("\"billed\"")) {
                    let Ok(v) = serde_json::from_str::<Value>(line) else {
                        continue;
                    };
                    if v["kind"] == "impression" && v["result"] == "billed" {
                        let id = v["auction_id"].as_str().unwrap_or("").to_string();
                        *out.entry(id).or_default() += 1;
                    }
                }
            }
        }
        out
    }
}
