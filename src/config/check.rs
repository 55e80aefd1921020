//! Semantic checks of a parsed config that the types alone cannot express: every problem
//! is reported with its key path.

use super::load::is_partner_id;
use super::{Config, Problem};

/// Semantic checks that the types alone cannot express. Returns every problem found.
pub(crate) fn validate(c: &Config) -> Vec<Problem> {
    let mut p = Vec::new();
    let a = &c.auction;
    if c.server.max_request_bytes == 0 {
        p.push(Problem::new("server.max_request_bytes", "must be > 0"));
    }
    if a.default_tmax_ms == 0 {
        p.push(Problem::new("auction.default_tmax_ms", "must be > 0"));
    }
    if a.default_tmax_ms <= a.network_buffer_ms + a.processing_reserve_ms {
        p.push(Problem::new(
            "auction.default_tmax_ms",
            "must be larger than network_buffer_ms + processing_reserve_ms, or requests without tmax never reach a partner",
        ));
    }
    if a.processing_reserve_ms == 0 {
        p.push(Problem::new(
            "auction.processing_reserve_ms",
            "must be >= 1: the auction and the response need time after the fan-out",
        ));
    }
    if a.max_tmax_ms > MAX_TMAX_MS {
        p.push(Problem::new(
            "auction.max_tmax_ms",
            format!("must be <= {MAX_TMAX_MS} (it also bounds how long a request body may take)"),
        ));
    }
    if a.default_tmax_ms > a.max_tmax_ms {
        p.push(Problem::new(
            "auction.default_tmax_ms",
            format!("must be <= auction.max_tmax_ms ({})", a.max_tmax_ms),
        ));
    }
    if a.max_tmax_ms <= a.network_buffer_ms + a.processing_reserve_ms {
        p.push(Problem::new(
            "auction.max_tmax_ms",
            "must be larger than network_buffer_ms + processing_reserve_ms, or no partner ever gets time",
        ));
    }
    if !is_currency_code(&a.currency) {
        p.push(Problem::new(
            "auction.currency",
            format!(
                "`{}` is not an ISO-4217 code (three capital letters)",
                a.currency
            ),
        ));
    }
    if !(a.second_price_increment.is_finite() && (0.0..=1000.0).contains(&a.second_price_increment))
    {
        p.push(Problem::new(
            "auction.second_price_increment",
            "must be a number between 0 and 1000",
        ));
    }
    let bids_share = c.event_log.record_bids_sample;
    if !(bids_share.is_finite() && (0.0..=1.0).contains(&bids_share)) {
        p.push(Problem::new(
            "event_log.record_bids_sample",
            "must be a share between 0.0 and 1.0",
        ));
    }
    if c.admin
        .token
        .as_ref()
        .is_some_and(|t| t.chars().count() < 16)
    {
        p.push(Problem::new(
            "admin.token",
            "must be at least 16 characters",
        ));
    }
    if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&c.log.level) {
        p.push(Problem::new(
            "log.level",
            format!("is not a valid filter: {e}"),
        ));
    }
    // Port 0 (any free port) twice is fine: two different ports get picked.
    if c.admin.listen == Some(c.server.listen) && c.server.listen.port() != 0 {
        p.push(Problem::new(
            "admin.listen",
            "must differ from server.listen (leave it unset to serve admin routes there)",
        ));
    }
    if ![200, 204].contains(&a.no_bid_status) {
        p.push(Problem::new("auction.no_bid_status", "must be 204 or 200"));
    }
    if a.debug_body_limit_bytes > 1024 * 1024 {
        p.push(Problem::new(
            "auction.debug_body_limit_bytes",
            "must be at most 1048576 (1 MiB): every partner's bodies go into one answer",
        ));
    }
    if !(1..=MAX_IMPS).contains(&a.max_imps) {
        p.push(Problem::new(
            "auction.max_imps",
            format!("must be between 1 and {MAX_IMPS}"),
        ));
    }
    for (i, proxy) in c.server.trusted_proxies.iter().enumerate() {
        if let Err(e) = crate::netaddr::Cidr::parse(proxy) {
            p.push(Problem::new(format!("server.trusted_proxies[{i}]"), e));
        }
    }
    check_clients(c, &mut p);
    check_supply_chain(&c.supply_chain, &mut p);
    super::event_stream::check(c, &mut p);
    super::ads::validate(c, &mut p);
    super::store::validate(&c.store, &mut p);
    for (code, rate) in &c.currency.rates {
        if !is_currency_code(code) {
            p.push(Problem::new(
                format!("currency.rates.{code}"),
                "is not an ISO-4217 code",
            ));
        } else if !(rate.is_finite() && *rate > 0.0 && *rate < 1e9) {
            p.push(Problem::new(
                format!("currency.rates.{code}"),
                "must be a number > 0",
            ));
        }
    }
    for (key, why) in super::adaptive::check(&c.auction.adaptive) {
        p.push(Problem::new(key, why));
    }
    if c.currency.refresh_s == 0 {
        p.push(Problem::new("currency.refresh_s", "must be > 0"));
    }
    check_http(&c.http_client, "http_client", &mut p);
    check_breaker(&c.circuit_breaker, "circuit_breaker", &mut p);
    let mut seen = std::collections::HashSet::new();
    for (i, partner) in c.partners.iter().enumerate() {
        let key = |k: &str| format!("partners[{i}].{k}");
        if partner.id == crate::vocab::DIRECT_PARTNER_ID && c.internal.catalog.is_some() {
            p.push(Problem::new(
                key("id"),
                "`internal` is direct demand's id while [internal] catalog is set",
            ));
        } else {
            unique_id(&partner.id, key("id"), "partner", &mut seen, &mut p);
        }
        match reqwest::Url::parse(&partner.endpoint) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            Ok(_) => p.push(Problem::new(key("endpoint"), "must be an http(s) URL")),
            Err(e) => p.push(Problem::new(key("endpoint"), format!("invalid URL: {e}"))),
        }
        if partner.timeout_ms == 0 {
            p.push(Problem::new(key("timeout_ms"), "must be > 0"));
        }
        if !(partner.bid_adjustment.is_finite()
            && partner.bid_adjustment > 0.0
            && partner.bid_adjustment <= 10.0)
        {
            p.push(Problem::new(
                key("bid_adjustment"),
                "must be a number > 0 and <= 10",
            ));
        }
        if partner.qps_limit == Some(0) {
            p.push(Problem::new(
                key("qps_limit"),
                "must be >= 1 (remove the key for no cap; set enabled = false to stop calling)",
            ));
        }
        if !(partner.traffic_share > 0.0 && partner.traffic_share <= 1.0) {
            p.push(Problem::new(key("traffic_share"), "must be in (0, 1]"));
        }
        let shadow = partner.mode == super::PartnerMode::Shadow;
        if partner.shadow_test && !shadow {
            p.push(Problem::new(
                key("shadow_test"),
                "only applies to mode = \"shadow\"",
            ));
        }
        if shadow && partner.shadow_max_in_flight == 0 {
            p.push(Problem::new(key("shadow_max_in_flight"), "must be >= 1"));
        }
        check_partner_requests(partner, &key, &mut p);
        // Inherited values were checked at the top level; only report a partner's own.
        if partner.http_client != c.http_client {
            check_http(&partner.http_client, &key("http_client"), &mut p);
        }
        if partner.circuit_breaker != c.circuit_breaker {
            check_breaker(&partner.circuit_breaker, &key("circuit_breaker"), &mut p);
        }
    }
    p
}

/// Advice that does not stop the config from loading: settings an operator most likely
/// wants (`check-config` prints them as notes).
pub fn advice(c: &Config) -> Vec<Problem> {
    let mut notes = Vec::new();
    if c.supply_chain.asi.is_none() && !c.partners.is_empty() {
        notes.push(Problem::new(
            "supply_chain",
            "not set: outbound requests carry no node for bidgate in source.schain, and buyers \
             that check sellers.json and ads.txt/app-ads.txt may discount or drop them; set asi \
             and sid",
        ));
    }
    notes
}

/// `asi` and `sid` come together (a node needs both), and are plain non-empty text.
fn check_supply_chain(s: &super::SupplyChainConfig, p: &mut Vec<Problem>) {
    fn text(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim)
    }
    match (text(&s.asi), text(&s.sid)) {
        (Some(""), _) => p.push(Problem::new("supply_chain.asi", "must not be empty")),
        (_, Some("")) => p.push(Problem::new("supply_chain.sid", "must not be empty")),
        (Some(_), None) => p.push(Problem::new(
            "supply_chain.sid",
            "must be set with supply_chain.asi (a node names both)",
        )),
        (None, Some(_)) => p.push(Problem::new(
            "supply_chain.asi",
            "must be set with supply_chain.sid (a node names both)",
        )),
        _ => {}
    }
    if let Some(asi) = text(&s.asi)
        && asi.contains(|c: char| c.is_whitespace() || c == '/')
    {
        p.push(Problem::new(
            "supply_chain.asi",
            "must be a domain name (e.g. exchange.example.com), not a URL",
        ));
    }
}

/// Headers bidgate sets itself, which a partner's `headers` may not replace.
const OWN_HEADERS: [&str; 5] = [
    "content-type",
    "content-length",
    "content-encoding",
    "host",
    "x-openrtb-version",
];

/// A partner's media types and extra headers (names valid, values present in the
/// environment and sendable).
fn check_partner_requests(
    partner: &super::PartnerConfig,
    key: &dyn Fn(&str) -> String,
    p: &mut Vec<Problem>,
) {
    if partner.media_types.is_empty() {
        p.push(Problem::new(
            key("media_types"),
            "must name at least one of banner, video, audio, native (set enabled = false to stop calling)",
        ));
    }
    for name in partner.headers.keys() {
        if OWN_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            p.push(Problem::new(
                key(&format!("headers.{name}")),
                "is set by bidgate itself",
            ));
        }
    }
    if let Err(e) = partner.header_values() {
        let (at, message) = e.split_once(": ").unwrap_or((&e, ""));
        p.push(Problem::new(key(at), message));
    }
}

/// Far more imps than any real request has; the cap bounds the work of one request.
const MAX_IMPS: usize = 1000;

/// Client ids are unique and their keys are in the environment, long enough and distinct
/// (a key names exactly one client).
fn check_clients(c: &Config, p: &mut Vec<Problem>) {
    let mut ids = std::collections::HashSet::new();
    let mut keys = std::collections::HashMap::new();
    for (i, client) in c.clients.iter().enumerate() {
        let key = |k: &str| format!("clients[{i}].{k}");
        unique_id(&client.id, key("id"), "client", &mut ids, p);
        match std::env::var(&client.key_env) {
            Ok(k) if k.chars().count() >= 16 => {
                if let Some(other) = keys.insert(k, client.id.as_str()) {
                    p.push(Problem::new(
                        key("key_env"),
                        format!("holds the same key as client `{other}`"),
                    ));
                }
            }
            Ok(_) => p.push(Problem::new(
                key("key_env"),
                format!("${} must hold at least 16 characters", client.key_env),
            )),
            Err(_) => p.push(Problem::new(
                key("key_env"),
                format!("${} is not set (or not UTF-8)", client.key_env),
            )),
        }
    }
}

/// An id (of a partner, placement or client) is 1-64 plain characters and not used by
/// another of its `kind`, `seen` so far.
pub(super) fn unique_id<'a>(
    id: &'a str,
    at: String,
    kind: &str,
    seen: &mut std::collections::HashSet<&'a str>,
    p: &mut Vec<Problem>,
) {
    if !is_partner_id(id) {
        p.push(Problem::new(
            at,
            "must be 1-64 characters of a-z, A-Z, 0-9, '-', '_' or '.'",
        ));
    } else if !seen.insert(id) {
        p.push(Problem::new(
            at,
            format!("`{id}` is used by another {kind}"),
        ));
    }
}

/// One minute: no auction waits longer, and neither does a slow request body.
const MAX_TMAX_MS: u64 = 60_000;

fn check_http(h: &super::HttpClientConfig, at: &str, p: &mut Vec<Problem>) {
    if h.pool_idle_timeout_ms == 0 {
        p.push(Problem::new(
            format!("{at}.pool_idle_timeout_ms"),
            "must be > 0 (0 would close every connection at once: no keep-alive)",
        ));
    }
    if h.max_response_bytes == 0 {
        p.push(Problem::new(
            format!("{at}.max_response_bytes"),
            "must be > 0",
        ));
    }
    if h.connect_timeout_ms == 0 {
        p.push(Problem::new(
            format!("{at}.connect_timeout_ms"),
            "must be > 0",
        ));
    }
}

fn check_breaker(b: &super::CircuitBreakerConfig, at: &str, p: &mut Vec<Problem>) {
    if !(b.failure_rate > 0.0 && b.failure_rate <= 1.0) {
        p.push(Problem::new(
            format!("{at}.failure_rate"),
            "must be > 0 and <= 1 (a share of calls)",
        ));
    }
    if !(b.probe_share > 0.0 && b.probe_share <= 1.0) {
        p.push(Problem::new(
            format!("{at}.probe_share"),
            "must be > 0 and <= 1",
        ));
    }
    if b.failure_threshold > 0 && (b.cooloff_ms == 0 || b.probe_successes == 0) {
        p.push(Problem::new(
            at.to_string(),
            "cooloff_ms and probe_successes must be > 0 when failure_threshold is set",
        ));
    }
}

pub(crate) fn is_currency_code(s: &str) -> bool {
    s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase())
}
