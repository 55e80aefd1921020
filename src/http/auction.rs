//! `POST /openrtb2/auction`: an OpenRTB 2.6 BidRequest in, the winners' BidResponse out.

use crate::deadline::Deadline;
use crate::deadline::LATE_GRACE;
use crate::gateway::Gateway;
use crate::limits::{self, Shed};
use crate::reload::Live;
use crate::{exchange, telemetry, validation};
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, ContentType, RETRY_AFTER};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use std::time::Duration;
use tokio::time::{Instant, timeout_at};
use tracing::Instrument;

const ENDPOINT: &str = "openrtb2";
/// How long a shed request's body is read for before the 503, to keep the connection.
const DRAIN: Duration = Duration::from_millis(20);

#[derive(Debug, thiserror::Error)]
pub enum AuctionError {
    #[error("request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("request body was not received within {0} ms")]
    BodyTimeout(u64),
    #[error("request body arrived after the request's tmax of {0} ms")]
    LateBody(u64),
    #[error("overloaded ({0}); retry later")]
    Overloaded(Shed),
    #[error("rate limited: too many requests from this client; retry in {} ms", .0.as_millis())]
    RateLimited(Duration),
    #[error("could not read the request body: {0}")]
    Body(String),
    #[error("{0}")]
    Invalid(String),
}

impl ResponseError for AuctionError {
    fn status_code(&self) -> StatusCode {
        match self {
            AuctionError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AuctionError::BodyTimeout(_) | AuctionError::LateBody(_) => StatusCode::REQUEST_TIMEOUT,
            AuctionError::Overloaded(_) => StatusCode::SERVICE_UNAVAILABLE,
            AuctionError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            AuctionError::Body(_) | AuctionError::Invalid(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status_code());
        match self {
            AuctionError::Overloaded(_) => {
                r.insert_header((RETRY_AFTER, "1"));
            }
            AuctionError::RateLimited(wait) => {
                // Whole seconds, rounded up: a client retrying sooner is refused again.
                let secs = wait.as_millis().div_ceil(1000).max(1);
                r.insert_header((RETRY_AFTER, secs.to_string()));
            }
            _ => {}
        }
        r.content_type(ContentType::plaintext())
            .body(format!("{self}\n"))
    }
}

pub async fn handle(
    live: web::Data<Live>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AuctionError> {
    // Taken once: this auction finishes under this config, whatever a reload does meanwhile.
    let gw = live.current();
    let arrived = arrival();
    let result = auction(&gw, &live, &req, payload, arrived).await;
    let won = matches!(&result, Ok(r) if r.status() == StatusCode::OK);
    count(ENDPOINT, arrived, &result, won);
    result
}

async fn auction(
    gw: &Gateway,
    live: &Live,
    req: &HttpRequest,
    payload: web::Payload,
    arrived: Instant,
) -> Result<HttpResponse, AuctionError> {
    let cfg = &gw.config;
    let (body, _slot) = intake(gw, req, payload, arrived).await?;
    rate_limit(gw, req)?;
    let request = validation::parse(&body).map_err(AuctionError::Invalid)?;
    if request.imp.len() > cfg.auction.max_imps {
        return Err(AuctionError::Invalid(format!(
            "request.imp has {} imps; at most {} are accepted (auction.max_imps)",
            request.imp.len(),
            cfg.auction.max_imps
        )));
    }
    if cfg.auction.strict_types {
        crate::openrtb_model::check_types(&body).map_err(AuctionError::Invalid)?;
    }
    // For the event log only: without one, the app is not parsed for it (`Members`).
    let bundle = live.event_log().and_then(|_| {
        request
            .rest
            .get("app")?
            .get("bundle")?
            .as_str()
            .map(String::from)
    });
    let floors = validation::validate(&request, &gw.rates).map_err(AuctionError::Invalid)?;
    let deadline = Deadline::new(arrived, request.tmax, &cfg.auction, limits::recent_lag());
    if Instant::now() >= deadline.at() {
        // A body that took the whole tmax to arrive: say so, rather than a 204 that hides it.
        return Err(AuctionError::LateBody(deadline.tmax.as_millis() as u64));
    }

    // Everything logged about this auction, down to each partner call, carries its id.
    let span = tracing::info_span!("auction", id = %request.id);
    let specs: Vec<exchange::ImpSpec> = floors
        .iter()
        .map(|&floor| exchange::ImpSpec {
            floor,
            ..Default::default()
        })
        .collect();
    // Debug output: a test auction, or a caller allowed to ask that asked (docs/api.md).
    let debug = !exchange::billable(&request)
        || (exchange::debug_asked(&request) && gw.clients.may_debug(api_key(req)));
    let settled = exchange::settle(gw, request, &specs, None, &deadline, debug)
        .instrument(span.clone())
        .await;
    // The record is built only when there is a log to take it (and it is sampled).
    if let Some(log) = live.event_log()
        && let Some(record) =
            exchange::record(gw, &settled, ENDPOINT, bundle.as_deref(), arrived.elapsed())
    {
        log.append(&crate::events::record::Record::Auction(record));
    }
    let response = match exchange::bid_response(gw, settled) {
        None => HttpResponse::NoContent().finish(),
        Some(response) => {
            let json = serde_json::to_vec(&response).expect("BidResponse serialises");
            HttpResponse::Ok()
                .content_type(ContentType::json())
                .body(json)
        }
    };
    // The promise is tmax + 5 ms; count every answer ready later than that (it should be 0).
    let late_by = Instant::now().saturating_duration_since(deadline.at());
    if late_by > LATE_GRACE {
        span.in_scope(|| telemetry::late_answer(ENDPOINT, late_by));
    }
    Ok(response)
}

/// When the request arrived, for its deadline: reading the body is part of the client's
/// tmax. A worker running behind has let this request wait unseen for up to its lag, so the
/// arrival is backdated by that much: partners get less time, the client its answer on time.
pub(super) fn arrival() -> Instant {
    let now = Instant::now();
    now.checked_sub(limits::worker_lag()).unwrap_or(now)
}

/// What every auction endpoint does before it looks at the body: shed when this worker is
/// behind, read the body (capped in size and time), take an in-flight slot.
pub(super) async fn intake(
    gw: &Gateway,
    req: &HttpRequest,
    payload: web::Payload,
    arrived: Instant,
) -> Result<(Bytes, crate::gateway::InFlight), AuctionError> {
    let cfg = &gw.config;
    // Before tmax is known (it is in the body), the longest any request may take applies.
    let read_until = arrived + Duration::from_millis(cfg.auction.max_tmax_ms);
    if let Err(shed) = gw.lag_check() {
        // Too far behind to do anything useful in time. Read the (capped) body anyway,
        // briefly: a reply before the body is read makes the server close the connection,
        // and a reconnect is the last thing an overloaded client and server need.
        let drain_until = Instant::now() + DRAIN;
        let _ = read_body(
            req,
            payload.into_inner(),
            cfg.server.max_request_bytes,
            drain_until,
        )
        .await;
        return Err(AuctionError::Overloaded(shed));
    }
    let limit = cfg.server.max_request_bytes;
    let body = read_body(req, payload.into_inner(), limit, read_until).await?;
    let body = decode(req, body, limit)?;
    // The slot is taken once the body is in: slow uploads do not hold auction slots.
    let slot = gw.admit().map_err(AuctionError::Overloaded)?;
    Ok((body, slot))
}

/// `Content-Encoding: gzip` bodies are inflated here, after the (capped) compressed body is
/// in, into at most `limit` bytes (`gzip::inflate`: a gzip bomb stops there).
fn decode(req: &HttpRequest, body: Bytes, limit: usize) -> Result<Bytes, AuctionError> {
    let encoding = req
        .headers()
        .get(actix_web::http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("identity") | Some("") => Ok(body),
        Some("gzip") | Some("x-gzip") => crate::gzip::inflate(&body, limit).map_err(|e| match e {
            crate::gzip::Inflate::TooLarge => AuctionError::TooLarge(limit),
            crate::gzip::Inflate::Corrupt(e) => {
                AuctionError::Body(format!("gzip body does not decompress: {e}"))
            }
        }),
        Some(other) => Err(AuctionError::Body(format!(
            "Content-Encoding `{other}` is not supported (use gzip or none)"
        ))),
    }
}

/// The per-client inbound limit: a configured client by its `X-Api-Key`, anyone else by
/// address (see `clients`).
pub(super) fn rate_limit(gw: &Gateway, req: &HttpRequest) -> Result<(), AuctionError> {
    let headers = req.headers();
    let api_key = api_key(req);
    let forwarded_for = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok());
    gw.clients
        .check(api_key, req.peer_addr().map(|a| a.ip()), forwarded_for)
        .map_err(AuctionError::RateLimited)
}

/// The client's API key (`X-Api-Key`), which names a `[[clients]]` entry if it is one's.
fn api_key(req: &HttpRequest) -> Option<&str> {
    req.headers().get("x-api-key").and_then(|v| v.to_str().ok())
}

/// Records the outcome metrics of an auction request (any endpoint).
pub(super) fn count(
    endpoint: &'static str,
    arrived: Instant,
    result: &Result<HttpResponse, AuctionError>,
    won: bool,
) {
    let outcome = match result {
        Ok(_) if won => "won",
        Ok(_) => "no_bid",
        Err(AuctionError::Overloaded(shed)) => {
            telemetry::rate_limited(shed.scope());
            // Shed requests stay out of the duration histogram: they would pull its
            // quantiles down exactly when the service is struggling. Their own histogram
            // says how fast a refusal is (the promise: within 10 ms).
            telemetry::auction_outcome(endpoint, "shed");
            telemetry::shed(endpoint, arrived.elapsed());
            return;
        }
        Err(AuctionError::RateLimited(_)) => {
            telemetry::rate_limited("client");
            "rate_limited"
        }
        Err(_) => "rejected",
    };
    telemetry::auction(endpoint, outcome, arrived.elapsed());
}

/// Reads the whole body, refusing more than `limit` bytes and giving up at `until`.
async fn read_body(
    req: &HttpRequest,
    mut payload: impl futures_util::Stream<Item = Result<Bytes, actix_web::error::PayloadError>> + Unpin,
    limit: usize,
    until: Instant,
) -> Result<Bytes, AuctionError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(AuctionError::TooLarge(limit));
    }
    let read = async {
        let mut buf = BytesMut::with_capacity(declared.unwrap_or(4096).min(limit as u64) as usize);
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| AuctionError::Body(e.to_string()))?;
            if buf.len() + chunk.len() > limit {
                return Err(AuctionError::TooLarge(limit));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    };
    let waited = until.saturating_duration_since(Instant::now()).as_millis() as u64;
    timeout_at(until, read)
        .await
        .map_err(|_| AuctionError::BodyTimeout(waited))?
}
