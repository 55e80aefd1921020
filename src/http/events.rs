//! `GET /v1/events/{kind}?t=TOKEN`: an app reports that an ad was shown, clicked, played.
//!
//! The edge only: the rate limit, the query, the status codes and the log wait. What an
//! event means — verification, deduplication, billing, delivery — is `billing::accept`.
//! Every call is written to the event log before the answer: 204, or a 1×1 GIF with
//! `pixel=1` (for `<img>` tags).

use crate::billing::Accepted;
use crate::events::Kind;
use crate::events::record::{self, Record};
use crate::events::token::TokenError;
use crate::reload::Live;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use metrics::counter;
use std::time::Duration;

/// The smallest transparent GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// How long an answer waits for its record to reach the log file; past this it answers
/// anyway (the record stays queued; a loss is counted by the log).
const LOG_WAIT: Duration = Duration::from_secs(1);

#[derive(serde::Deserialize)]
struct Query {
    t: Option<String>,
    pixel: Option<String>,
}

pub async fn handle(
    live: web::Data<Live>,
    kind: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    let Some(kind) = Kind::parse(&kind) else {
        counter!("bidgate_events_total", "kind" => "unknown", "result" => "unknown_kind")
            .increment(1);
        return HttpResponse::NotFound()
            .content_type("text/plain")
            .body("unknown event kind\n");
    };
    let query = web::Query::<Query>::from_query(req.query_string()).ok();
    let pixel = query.as_ref().and_then(|q| q.pixel.as_deref()) == Some("1");
    let token = query.as_ref().and_then(|q| q.t.as_deref()).unwrap_or("");
    let gw = live.current();
    // The same per-client limit as ad requests (an unauthenticated endpoint that writes).
    if let Err(limited) = super::auction::rate_limit(&gw, &req, None) {
        crate::telemetry::rate_limited("client");
        counter!("bidgate_events_total", "kind" => kind.name(), "result" => "rate_limited")
            .increment(1);
        return actix_web::ResponseError::error_response(&limited);
    }
    let Accepted {
        refused,
        result,
        record: mut rec,
    } = crate::billing::accept(&gw, kind, token, record::now_ms());
    let status = match refused {
        None => StatusCode::NO_CONTENT,
        Some(TokenError::Malformed) => StatusCode::BAD_REQUEST,
        Some(TokenError::Forged) => StatusCode::FORBIDDEN,
        Some(TokenError::Expired) => StatusCode::GONE,
    };
    counter!("bidgate_events_total", "kind" => kind.name(), "result" => result).increment(1);
    rec.result = result.into();
    if let Some(log) = live.event_log() {
        if status == StatusCode::NO_CONTENT {
            // Acknowledged means written: the answer waits for the log (bounded).
            let _ = tokio::time::timeout(LOG_WAIT, log.append_durable(&Record::Event(rec))).await;
        } else {
            // A refused event is recorded, but nobody waits on a forger's line.
            log.append(&Record::Event(rec));
        }
    }
    if status == StatusCode::NO_CONTENT && pixel {
        return HttpResponse::Ok()
            .content_type("image/gif")
            .insert_header(("cache-control", "no-store"))
            .body(PIXEL);
    }
    if status == StatusCode::NO_CONTENT {
        return HttpResponse::NoContent().finish();
    }
    HttpResponse::build(status)
        .content_type("text/plain")
        .body(format!("event refused: {result}\n"))
}
