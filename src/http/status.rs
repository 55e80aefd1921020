//! The admin API: `GET /admin/status` (live per-partner state as JSON, for scripts),
//! `GET /admin` (the same as an HTML page, for on-call eyes) and `POST /admin/reload`.
//! Every handler takes `Admin`: proof of the admin token.

use crate::breaker::{State, state_name};
use crate::reload::Live;
use crate::stats::Summary;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use tokio::time::Instant;

/// Everything the status endpoints show, gathered once per request.
#[derive(Debug, Serialize)]
pub struct StatusView {
    /// Auctions running now, of `server.max_in_flight`.
    pub in_flight: usize,
    pub max_in_flight: usize,
    pub draining: bool,
    /// The shared store (`[store]`): `memory`, or Redis `up` / `degraded`.
    pub store: crate::store::StoreView,
    pub partners: Vec<PartnerView>,
    /// The Kafka event stream, with `event_stream.backend = "kafka"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_stream: Option<crate::eventlog::kafka::StreamStatus>,
}

#[derive(Debug, Serialize)]
pub struct PartnerView {
    pub id: String,
    pub endpoint: String,
    pub timeout_ms: u64,
    pub circuit: CircuitView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qps: Option<QpsView>,
    pub last_minute: Summary,
    /// `live` or `shadow`.
    pub mode: &'static str,
    /// Share of auctions it is called on.
    pub traffic_share: f64,
    /// Its latency and value model (what adaptive deadlines read).
    pub model: crate::yield_model::ModelView,
    /// A shadow partner's would-be results since start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow: Option<crate::yield_model::ShadowView>,
}

#[derive(Debug, Serialize)]
pub struct CircuitView {
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consecutive_failures: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reopens_in_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_successes: Option<u32>,
}

/// The partner's QPS cap against what was sent in the last complete second.
#[derive(Debug, Serialize)]
pub struct QpsView {
    pub limit: u32,
    pub sent_last_second: u64,
    /// `limit − sent_last_second`: 0 means the cap is biting (see `skipped_throttled`).
    pub headroom: u64,
}

pub fn view(live: &Live) -> StatusView {
    let gw = live.current();
    let now = Instant::now();
    let partners = gw
        .partners
        .iter()
        .map(|p| {
            let state = p.breaker.state();
            let mut circuit = CircuitView {
                state: state_name(&state),
                consecutive_failures: None,
                reopens_in_ms: None,
                probe_successes: None,
            };
            match state {
                State::Closed { failures } => circuit.consecutive_failures = Some(failures),
                State::Open { until } => {
                    circuit.reopens_in_ms =
                        Some(until.saturating_duration_since(now).as_millis() as u64)
                }
                State::HalfOpen { successes, .. } => circuit.probe_successes = Some(successes),
            }
            let last_minute = p.stats.summary(now);
            let qps = p.qps_limit.map(|limit| QpsView {
                limit,
                sent_last_second: last_minute.sent_last_second,
                headroom: (limit as u64).saturating_sub(last_minute.sent_last_second),
            });
            PartnerView {
                id: p.id.to_string(),
                endpoint: p.demand.endpoint(),
                timeout_ms: p.timeout_ms,
                circuit,
                qps,
                last_minute,
                mode: if p.shadow.is_some() { "shadow" } else { "live" },
                traffic_share: p.traffic_share,
                model: p.model.view(),
                shadow: p.shadow.map(|_| p.model.shadow.view()),
            }
        })
        .collect();
    StatusView {
        in_flight: gw.in_flight(),
        max_in_flight: gw.config.server.max_in_flight,
        draining: live.draining(),
        store: gw.state().store.view(),
        partners,
        event_stream: live.event_log().and_then(|log| log.stream_status()),
    }
}

pub async fn handle(_admin: Admin, live: web::Data<Live>) -> HttpResponse {
    HttpResponse::Ok().json(view(&live))
}

/// `GET /admin`: a self-contained page that refreshes itself every few seconds.
pub async fn page(_admin: Admin, live: web::Data<Live>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(super::admin_page::render(&view(&live)))
}

/// `POST /admin/reload`: re-reads the config file. 200 with the partner count, or 400 with
/// every problem, one per line, while the running config stays.
pub async fn reload(_admin: AdminWrite, live: web::Data<Live>) -> HttpResponse {
    let live = live.into_inner();
    // Reading and validating a file is blocking work: off the event loop.
    match tokio::task::spawn_blocking(move || live.reload()).await {
        Ok(Ok(n)) => HttpResponse::Ok()
            .content_type("text/plain")
            .body(format!("reloaded: {n} partners\n")),
        Ok(Err(problems)) => HttpResponse::BadRequest().content_type("text/plain").body(
            problems
                .iter()
                .map(|p| format!("{p}\n"))
                .collect::<String>(),
        ),
        Err(e) => HttpResponse::InternalServerError().body(format!("reload failed: {e}\n")),
    }
}

/// Proof that the request carried the configured admin token, as `Authorization: Bearer
/// <token>` (scripts) or HTTP Basic with the token as password (browsers, which prompt for it
/// on the 401). Without a configured token the admin API is closed: it can reconfigure the
/// gateway, so it is never open by default.
pub struct Admin;

impl actix_web::FromRequest for Admin {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(check(req))
    }
}

/// Proof that a request that changes something (`POST /admin/reload`) carries the admin
/// token *and* was not sent by a page of another site: a browser that has the Basic
/// credentials cached attaches them to any site's form post, and says where it came from in
/// `Origin` and `Sec-Fetch-Site`. Scripts send neither and pass.
pub struct AdminWrite;

impl actix_web::FromRequest for AdminWrite {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(match cross_site(req) {
            Some(why) => Err(actix_web::error::ErrorForbidden(format!(
                "admin API: cross-site request refused ({why})\n"
            ))),
            None => check(req).map(|Admin| AdminWrite),
        })
    }
}

/// Why a request looks like it came from another site's page, if it does.
fn cross_site(req: &actix_web::HttpRequest) -> Option<String> {
    let headers = req.headers();
    let value = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = value("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return Some(format!("Sec-Fetch-Site: {site}"));
    }
    let origin = headers.get(header::ORIGIN)?;
    let host = value("host").unwrap_or_default();
    // `null` (a sandboxed page, a redirect) or unreadable: not provably ours.
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, authority)| authority);
    if origin_host.is_some_and(|o| !host.is_empty() && o.eq_ignore_ascii_case(host)) {
        return None;
    }
    Some(format!(
        "Origin: {}",
        crate::text::clip(origin.to_str().unwrap_or("(not text)"))
    ))
}

fn check(req: &actix_web::HttpRequest) -> Result<Admin, actix_web::Error> {
    let live = req
        .app_data::<web::Data<Live>>()
        .ok_or_else(|| actix_web::error::ErrorInternalServerError("no gateway"))?;
    let Some(token) = live.current().config.admin.token.clone() else {
        return Err(actix_web::error::ErrorForbidden(
            "the admin API is closed: set admin.token (BIDGATE_ADMIN__TOKEN)\n",
        ));
    };
    authorize(req, &token)
}

/// `/metrics`: open without an admin token or with `admin.protect_metrics = false`, else
/// the token is asked for as for the admin API.
pub fn check_metrics(req: &actix_web::HttpRequest, live: &Live) -> Result<(), actix_web::Error> {
    let admin = &live.current().config.admin;
    match &admin.token {
        Some(token) if admin.protect_metrics => authorize(req, token).map(|_| ()),
        _ => Ok(()),
    }
}

fn authorize(req: &actix_web::HttpRequest, token: &str) -> Result<Admin, actix_web::Error> {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(presented_token);
    match given {
        Some(g) if constant_time_eq(g.as_bytes(), token.as_bytes()) => Ok(Admin),
        _ => Err(actix_web::error::InternalError::from_response(
            "unauthorized",
            HttpResponse::Unauthorized()
                .append_header((header::WWW_AUTHENTICATE, "Bearer realm=\"bidgate admin\""))
                .append_header((header::WWW_AUTHENTICATE, "Basic realm=\"bidgate admin\""))
                .body("admin API: missing or wrong token (Bearer, or Basic with the token as password)\n"),
        )
        .into()),
    }
}

/// The token in an `Authorization` value: `Bearer <token>`, or `Basic base64(user:token)`
/// with any user name. Scheme names are case-insensitive (RFC 9110 §11.1).
fn presented_token(value: &str) -> Option<String> {
    use base64::Engine;
    let (scheme, credentials) = value.trim().split_once(' ')?;
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(credentials.to_string());
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':')
        .map(|(_, password)| password.to_string())
}

/// Compares without an early exit, so the time taken does not reveal a matching prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_as_bearer_or_as_the_basic_password() {
        assert_eq!(presented_token("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(presented_token("bearer abc").as_deref(), Some("abc"));
        assert_eq!(presented_token("BEARER  abc ").as_deref(), Some("abc"));
        // "ops:s3cret-token" in base64
        assert_eq!(
            presented_token("Basic b3BzOnMzY3JldC10b2tlbg==").as_deref(),
            Some("s3cret-token")
        );
        assert_eq!(presented_token("Basic !!!"), None);
        assert_eq!(presented_token("Basic bm9jb2xvbg=="), None, "no colon");
        assert_eq!(presented_token("Token abc"), None);
    }
}
