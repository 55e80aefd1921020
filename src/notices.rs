//! Notices to partners after the fact: win (`nurl`) and loss (`lurl`) after an auction,
//! billing (`burl`) on a counted impression.
//!
//! SSRF guard: a notice URL comes from a bid, i.e. from outside. Unless the partner is
//! allowed (`notices.allow_private`), URLs whose host is, or resolves to, a loopback,
//! private, link-local (cloud metadata), CGNAT or otherwise non-public address are refused:
//! literal addresses are checked here, names by the guarded client's resolver, so the address
//! checked is the address connected to (no DNS rebinding between check and use).
//!
//! A notice never delays an auction or an event answer: it is fired on its own task, bounded
//! in time (`events.notice_timeout_ms`) and in number (`events.notice_concurrency` in flight,
//! a backlog of at most 16 times that; past it the notice is dropped and counted). Only
//! http(s) URLs are called. One attempt each: a partner that misses one sees it in
//! `bidgate_notices_total{result}`, and the event log has the billed impression.

use metrics::counter;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;

pub struct Notifier {
    /// For partners allowed to point notices at private addresses.
    client: reqwest::Client,
    /// Everyone else: resolves public addresses only.
    guarded: reqwest::Client,
    permits: Arc<Semaphore>,
    /// Notices accepted and not finished (in flight or waiting for a permit).
    backlog: Arc<AtomicUsize>,
    max_backlog: usize,
    timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Billing,
    Win,
    Loss,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Billing => "billing",
            Kind::Win => "win",
            Kind::Loss => "loss",
        }
    }
}

/// Whether `ip` is a public unicast address (what a notice may be sent to).
pub fn is_public(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || a >= 240 // reserved 240/4 (and broadcast)
                || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
                || (a == 198 && (18..20).contains(&b)) // benchmarking 198.18/15
                || (a == 192 && b == 0 && v4.octets()[2] == 0)) // IETF 192.0.0/24
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| {
                IpAddr::V4(std::net::Ipv4Addr::new(
                    (hi >> 8) as u8,
                    hi as u8,
                    (lo >> 8) as u8,
                    lo as u8,
                ))
            };
            // Addresses that carry an IPv4 address and reach it: NAT64 (64:ff9b::/96 and the
            // local-use 64:ff9b:1::/48), 6to4 (2002::/16), IPv4-compatible (::a.b.c.d).
            if (s[0] == 0x64 && s[1] == 0xff9b) || s[..6].iter().all(|&x| x == 0) {
                return is_public(embedded(s[6], s[7]));
            }
            if s[0] == 0x2002 {
                return is_public(embedded(s[1], s[2]));
            }
            let first = s[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80) // link local
        }
    }
}

/// Whether the URL's host is a literal non-public address (or `localhost`).
fn names_private_host(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or("");
    match host.trim_start_matches('[').trim_end_matches(']').parse() {
        Ok(ip) => !is_public(ip),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// Fetches markup from a win notice URL (for a winning bid without `adm`), giving up at
/// `until`; at most `max_bytes`. The same SSRF guard as notices.
pub async fn fetch_markup(
    notifier: &Notifier,
    url: &str,
    until: tokio::time::Instant,
    max_bytes: usize,
    allow_private: bool,
) -> Result<String, String> {
    let parsed = reqwest::Url::parse(url).map_err(|_| "its nurl is not a URL".to_string())?;
    if !matches!(parsed.scheme(), "http" | "https")
        || (!allow_private && names_private_host(&parsed))
    {
        return Err("its nurl is not an allowed http(s) URL".into());
    }
    let client = if allow_private {
        &notifier.client
    } else {
        &notifier.guarded
    };
    let fetch = async {
        let mut resp = client
            .get(parsed)
            .send()
            .await
            .map_err(|e| format!("fetching its nurl failed: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("its nurl answered HTTP {}", resp.status().as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| format!("reading its nurl failed: {e}"))?
        {
            if body.len() + chunk.len() > max_bytes {
                return Err(format!("its nurl returned more than {max_bytes} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body)
            .map_err(|_| "its nurl returned markup that is not UTF-8".to_string())
    };
    match tokio::time::timeout_at(until, fetch).await {
        Ok(Ok(adm)) if !adm.trim().is_empty() => Ok(adm),
        Ok(Ok(_)) => Err("its nurl returned no markup".into()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("its nurl did not return markup before the deadline".into()),
    }
}

/// A resolver that only returns public addresses (the SSRF guard for host names).
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let public: Vec<std::net::SocketAddr> = found.filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{} resolves to no public address", name.as_str()).into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The client of partners allowed private addresses, with the partners' default pool
/// settings. (Bid requests have their own client, `partners::client`; notices are few and
/// go to many hosts, so reqwest's per-request layers cost little here.)
pub fn client(c: &crate::config::HttpClientConfig) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(c.pool_max_idle_per_host)
        .pool_idle_timeout(Duration::from_millis(c.pool_idle_timeout_ms))
        .connect_timeout(Duration::from_millis(c.connect_timeout_ms))
        .tcp_nodelay(true)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// The guarded client: like `client`, but resolving public addresses only.
pub fn guarded_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(PublicOnly))
        // A proxy would resolve names itself, past the resolver's check.
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
}

impl Notifier {
    pub fn new(
        client: reqwest::Client,
        guarded: reqwest::Client,
        concurrency: usize,
        timeout: Duration,
    ) -> Self {
        Self {
            client,
            guarded,
            permits: Arc::new(Semaphore::new(concurrency)),
            backlog: Arc::new(AtomicUsize::new(0)),
            max_backlog: concurrency.saturating_mul(16),
            timeout,
        }
    }

    /// Fires a GET at `url` in the background. Returns at once.
    pub fn fire(&self, kind: Kind, partner: &str, url: &str, allow_private: bool) {
        let count = |result: &'static str| {
            counter!("bidgate_notices_total", "kind" => kind.label(), "partner" => partner.to_string(), "result" => result)
                .increment(1);
        };
        let Ok(parsed) = reqwest::Url::parse(url) else {
            count("refused");
            return;
        };
        if !matches!(parsed.scheme(), "http" | "https") {
            count("refused");
            return;
        }
        if !allow_private && names_private_host(&parsed) {
            count("refused");
            return;
        }
        if self.backlog.fetch_add(1, Ordering::AcqRel) >= self.max_backlog {
            self.backlog.fetch_sub(1, Ordering::AcqRel);
            count("dropped");
            return;
        }
        let (client, permits, backlog, timeout) = (
            if allow_private {
                self.client.clone()
            } else {
                self.guarded.clone()
            },
            self.permits.clone(),
            self.backlog.clone(),
            self.timeout,
        );
        let partner = partner.to_string();
        tokio::spawn(async move {
            let result = match permits.acquire_owned().await {
                Ok(_permit) => {
                    match tokio::time::timeout(timeout, client.get(parsed).send()).await {
                        Ok(Ok(r)) if r.status().is_success() => "ok",
                        Ok(Ok(_)) => "http_error",
                        Ok(Err(_)) => "transport",
                        Err(_) => "timeout",
                    }
                }
                Err(_) => "dropped",
            };
            backlog.fetch_sub(1, Ordering::AcqRel);
            counter!("bidgate_notices_total", "kind" => kind.label(), "partner" => partner, "result" => result)
                .increment(1);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::is_public;

    #[test]
    fn only_public_unicast_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "::127.0.0.1",
            "198.18.0.1",
            "192.0.0.8",
            "240.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:93.184.216.34",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
