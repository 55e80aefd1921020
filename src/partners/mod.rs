//! Demand partners: who they are, what bids for them (`Demand`, the seam in `demand.rs`: an
//! HTTP partner or direct demand), and one bid request to an HTTP partner.
//!
//! This is the only module that speaks HTTP to partners. A call never returns an error:
//! whatever the partner does becomes an [`Outcome`], a normal value on the hot path.

mod answer;
mod call;
mod client;
mod connect;
mod demand;
mod scan;

pub use crate::direct::{Booked, Booking, Impression};
pub use crate::outcome::{BadResponse, Cut, Outcome, Skip};
pub use answer::{parse, read, read_plain};
pub use call::{HttpCall, call};
pub use client::{Client, Lease, client};
pub use demand::{Ask, Call, Demand, Http, Reply};

use crate::breaker::Breaker;
use crate::config::{HttpClientConfig, PartnerConfig};
use crate::openrtb::VERSION_HEADER;
use governor::DefaultDirectRateLimiter;
use std::fmt;
use std::sync::Arc;

thread_local! {
    /// This thread's pooled clients, one per partner settings identity (`Partner::http`).
    static POOLS: std::cell::RefCell<Vec<(std::sync::Weak<HttpClientConfig>, Client)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// A partner's configured id: the seat in responses and the `partner` metrics label.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartnerId(Arc<str>);

impl From<&str> for PartnerId {
    fn from(id: &str) -> Self {
        PartnerId(id.into())
    }
}

/// Lets a map keyed by partner id be searched with a `&str`.
impl std::borrow::Borrow<str> for PartnerId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartnerId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PartnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An index into `Gateway::partners` (the enabled partners, in config order). Not to be
/// mixed up with the index of a response in the fan-out's results (`auction::BidKey`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartnerIx(pub usize);

impl std::ops::Index<PartnerIx> for Vec<Partner> {
    type Output = Partner;
    fn index(&self, ix: PartnerIx) -> &Partner {
        &self[ix.0]
    }
}

/// What a partner keeps across config reloads, by its id: built and carried over by
/// `gateway::State` (which decides what survives), and shared by every `Partner` built for
/// that id, whose fields are clones of these `Arc`s (no lookup per call).
#[derive(Debug, Clone)]
pub struct PartnerState {
    /// Its circuit breaker, as configured (`Breaker::config`).
    pub breaker: Arc<Breaker>,
    /// The QPS cap the limiter enforces, and the limiter (`None`: no cap).
    pub qps_limit: Option<u32>,
    pub limiter: Option<Arc<DefaultDirectRateLimiter>>,
    /// With a shared store (`[store] backend = "redis"`): the cap held across replicas,
    /// which replaces `limiter`.
    pub shared_qps: Option<Arc<crate::store::QpsCap>>,
    /// The last minute of its traffic, for the admin API.
    pub stats: Arc<crate::stats::PartnerStats>,
    /// Its pooled clients' identity (`None` for direct demand).
    pub pool: Option<Pool>,
    /// Its latency and value model (and shadow report), for adaptive deadlines.
    pub model: Arc<crate::yield_model::PartnerModel>,
}

/// An HTTP partner's pooled-client settings, whose `Arc` is the pools' identity (see
/// [`Http::client`]), and the endpoint they were opened for (its origin decides reuse).
#[derive(Debug, Clone)]
pub struct Pool {
    pub settings: Arc<HttpClientConfig>,
    pub endpoint: reqwest::Url,
}

/// A partner as the request path uses it, parsed once from config: what every kind of
/// demand shares (budget, breaker, QPS cap, stats, metrics, price adjustment, notices), and
/// what bids (`demand`).
#[derive(Debug)]
pub struct Partner {
    pub id: PartnerId,
    pub timeout_ms: u64,
    /// Its state's (`PartnerState`): shared with its successor after a reload while unchanged.
    pub breaker: Arc<Breaker>,
    /// The QPS cap, as configured and as enforced (the limiter is its state's).
    pub qps_limit: Option<u32>,
    pub limiter: Option<Arc<DefaultDirectRateLimiter>>,
    /// The cap held across replicas, when the store is shared (its state's).
    pub shared_qps: Option<Arc<crate::store::QpsCap>>,
    /// The last minute of this partner's traffic, for the admin API (its state's).
    pub stats: Arc<crate::stats::PartnerStats>,
    /// Its metric handles, registered when the partner is built (not per call).
    pub metrics: Arc<crate::telemetry::PartnerMetrics>,
    /// `bid_adjustment` as nano-units (10⁹ = 1.0): prices are scaled in integers.
    pub bid_adjustment_nanos: i64,
    pub notices: crate::config::NoticeConfig,
    /// The media types it bids on, as `outbound::media_bits` (`outbound::ALL_MEDIA`: every
    /// one, no per-imp mask needed).
    pub media: u8,
    /// Refuse bids for deals the request did not offer (`strict_deals`).
    pub strict_deals: bool,
    /// What bids: an HTTP partner or direct demand.
    pub demand: Demand,
    /// Its latency and value model (its state's), read by adaptive deadlines.
    pub model: Arc<crate::yield_model::PartnerModel>,
    /// `Some(max in flight)` for a shadow partner: called, never in the auction.
    pub shadow: Option<usize>,
    /// Send it `test = 1` (shadow partners that asked for it).
    pub test: bool,
    /// Share of auctions it is called on (1.0: all).
    pub traffic_share: f64,
}

impl fmt::Debug for crate::telemetry::PartnerMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PartnerMetrics")
    }
}

impl Partner {
    /// Config is validated before this is called, so the URL parses. `currency` is the
    /// auction currency (a label of the revenue metric). Its breaker, limiter, stats and pool
    /// are `state`'s, the state kept for its id (`gateway::State`).
    pub fn from_config(
        c: &PartnerConfig,
        currency: &str,
        state: &PartnerState,
    ) -> Result<Self, String> {
        let endpoint = reqwest::Url::parse(&c.endpoint).map_err(|e| e.to_string())?;
        let http = state
            .pool
            .as_ref()
            .map(|p| p.settings.clone())
            .ok_or_else(|| format!("partners.{}: its state has no HTTP pool", c.id))?;
        // Credentials in the URL become an Authorization header (`heads`), never part of
        // the request target or HTTP/2's `:authority`.
        let mut target = endpoint.clone();
        let _ = target.set_username("");
        let _ = target.set_password(None);
        let uri = target
            .as_str()
            .parse::<http::Uri>()
            .map_err(|e| format!("partners.{}: endpoint: {e}", c.id))?;
        let heads = heads(c, &endpoint)?;
        let demand = Demand::Http(Box::new(Http {
            endpoint,
            uri,
            max_response_bytes: c.http_client.max_response_bytes,
            heads,
            http,
            vendor_id: c.vendor_id,
            gzip_requests: c.gzip_requests,
            openrtb_version: c.openrtb_version,
        }));
        let mut partner = Self::new(&c.id, demand, c.timeout_ms, currency, state);
        partner.qps_limit = c.qps_limit;
        partner.bid_adjustment_nanos = (c.bid_adjustment * 1e9).round() as i64;
        partner.notices = c.notices;
        partner.media = crate::outbound::media_bits(&c.media_types);
        partner.strict_deals = c.strict_deals;
        partner.traffic_share = c.traffic_share;
        if c.mode == crate::config::PartnerMode::Shadow {
            partner.shadow = Some(c.shadow_max_in_flight);
            partner.test = c.shadow_test;
        }
        Ok(partner)
    }

    /// Direct demand as the partner `direct::PARTNER_ID`, its catalog read from `catalog`:
    /// no HTTP settings of its own, no QPS cap, no price adjustment, and `timeout_ms` of the
    /// longest tmax, so that only the request's own deadline bounds it. Its breaker (one that
    /// never opens: it cannot fail on the network) and stats are `state`'s; `store` holds its
    /// delivery counters; `rates` convert imp floors (the gateway's).
    pub fn direct(
        config: &crate::config::Config,
        catalog: &std::path::Path,
        state: &PartnerState,
        store: Arc<crate::internal::MemoryStore>,
        shared: Arc<crate::store::Shared>,
        rates: Arc<crate::currency::Rates>,
    ) -> Result<Self, String> {
        let direct = crate::direct::Direct::load(config, catalog, store, shared, rates)?;
        Ok(Self::new(
            crate::direct::PARTNER_ID,
            Demand::Direct(Arc::new(direct)),
            config.auction.max_tmax_ms,
            &config.auction.currency,
            state,
        ))
    }

    /// A partner without QPS cap, price adjustment or notice settings (see the
    /// constructors), holding `state`'s breaker, limiter and stats.
    fn new(
        id: &str,
        demand: Demand,
        timeout_ms: u64,
        currency: &str,
        state: &PartnerState,
    ) -> Self {
        Self {
            id: PartnerId(id.into()),
            timeout_ms,
            breaker: state.breaker.clone(),
            qps_limit: None,
            limiter: state.limiter.clone(),
            shared_qps: state.shared_qps.clone(),
            stats: state.stats.clone(),
            // Registered anew on a reload (cheap, and the auction currency may have changed).
            metrics: Arc::new(crate::telemetry::PartnerMetrics::new(id, currency)),
            bid_adjustment_nanos: 1_000_000_000,
            notices: Default::default(),
            media: crate::outbound::ALL_MEDIA,
            strict_deals: false,
            demand,
            model: state.model.clone(),
            shadow: None,
            test: false,
            traffic_share: 1.0,
        }
    }

    /// The seat its winning bids carry in answers: its id, or the direct seat.
    pub fn seat(&self) -> &str {
        self.demand.seat().unwrap_or(self.id.as_str())
    }

    /// Takes one request from the partner's QPS allowance; `false` when it is used up.
    pub fn within_qps(&self) -> bool {
        match &self.shared_qps {
            Some(shared) => shared.take(),
            None => self.limiter.as_ref().is_none_or(|l| l.check().is_ok()),
        }
    }
}

impl Http {
    /// Opens up to `http_client.warm_connections` keep-alive connections by sending that
    /// many `HEAD` requests at once (whatever the status, the connection returns to the
    /// pool). Bounded by `until`; failures are only counted: a partner that is down is
    /// the breaker's business, not a reason to stay unready.
    pub async fn warm(&self, id: &PartnerId, until: tokio::time::Instant) -> usize {
        if self.http.warm_connections == 0 {
            return 0;
        }
        let client = self.client();
        let heads = (0..self.http.warm_connections).map(|_| async {
            let mut head = http::Request::new(client::Body::default());
            *head.method_mut() = http::Method::HEAD;
            *head.uri_mut() = self.uri.clone();
            head.headers_mut().insert(
                VERSION_HEADER.0,
                http::HeaderValue::from_static(self.openrtb_version.as_str()),
            );
            match tokio::time::timeout_at(until, client.request(head)).await {
                Ok(Ok((resp, lease))) => {
                    // Read to the end, the connection goes back to the pool.
                    let body = http_body_util::BodyExt::collect(resp.into_body());
                    if let Ok(Ok(_)) = tokio::time::timeout_at(until, body).await {
                        lease.done();
                    }
                    true
                }
                _ => false,
            }
        });
        let opened = futures_util::future::join_all(heads)
            .await
            .into_iter()
            .filter(|ok| *ok)
            .count();
        metrics::counter!("bidgate_partner_warm_connections_total", "partner" => id.to_string())
            .increment(opened as u64);
        opened
    }

    /// This worker thread's client for this partner, built on first use. Why per thread:
    /// a connection's I/O task runs on the runtime that opened it, so a pool shared by all
    /// workers makes every call on another worker's connection a cross-thread wake-up
    /// (an eventfd write and a context switch each way); per-thread pools keep each call on
    /// its worker.
    pub fn client(&self) -> Client {
        self.with_client(Client::clone)
    }

    /// `f` of this worker thread's client for this partner (see [`Http::client`]), without
    /// cloning it: a call needs only `request`, which clones what it keeps itself. (A clone
    /// and a drop of a client are ~20 atomic reference counts; 8 an auction.) `f` must not
    /// ask for a client itself: the thread's pools are borrowed while it runs.
    fn with_client<T>(&self, f: impl FnOnce(&Client) -> T) -> T {
        POOLS.with(|pools| {
            let mut pools = pools.borrow_mut();
            if let Some((_, c)) = pools
                .iter()
                .find(|(spec, _)| std::ptr::eq(spec.as_ptr(), Arc::as_ptr(&self.http)))
            {
                return f(c);
            }
            // Settings replaced by a reload leave their pools behind: drop those now.
            pools.retain(|(spec, _)| spec.strong_count() > 0);
            let c = client(&self.http);
            let out = f(&c);
            pools.push((Arc::downgrade(&self.http), c));
            out
        })
    }
}

/// The headers every bid request to this partner carries (see [`Http::heads`]).
fn heads(c: &PartnerConfig, endpoint: &reqwest::Url) -> Result<http::HeaderMap, String> {
    use http::header::{
        ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue,
    };
    let mut heads = http::HeaderMap::new();
    heads.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    heads.insert(
        VERSION_HEADER.0,
        HeaderValue::from_static(c.openrtb_version.as_str()),
    );
    if c.gzip_requests {
        heads.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if c.http_client.gzip {
        heads.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
    }
    // Added, not replacing: a configured header is sent as configured, beside ours.
    for (name, value) in c.header_values()? {
        heads.append(name, value);
    }
    // `https://user:secret@host/…`: HTTP Basic, as reqwest sent it, unless `headers` has
    // an Authorization of its own.
    if (!endpoint.username().is_empty() || endpoint.password().is_some())
        && !heads.contains_key(AUTHORIZATION)
    {
        use base64::Engine;
        let user = percent_decoded(endpoint.username());
        let secret = percent_decoded(endpoint.password().unwrap_or(""));
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"));
        let value = HeaderValue::from_str(&format!("Basic {token}"))
            .map_err(|_| format!("partners.{}: endpoint: credentials not usable", c.id))?;
        heads.insert(AUTHORIZATION, value);
    }
    Ok(heads)
}

/// A URL's userinfo part with its `%XX` escapes decoded (as reqwest decoded it).
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        // Two hex digits exactly (`from_str_radix` alone would take a sign too).
        let hex = b
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
