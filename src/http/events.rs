//! `GET /v1/events/{kind}?t=TOKEN`: an app reports that an ad was shown, clicked, played.
//!
//! The edge only: the rate limit, the query, the status codes and the log wait. What an
//! event means — verification, deduplication, billing, delivery — is `billing::accept`.
//! An accepted event is answered 2xx (204, or a 1×1 GIF with `pixel=1` for `<img>` tags)
//! only once its record is durable (per `event_log.fsync`; with Kafka: acked by the broker or
//! fsynced to the spill, see `eventlog::kafka`), and billed only then; a record
//! that is lost or late gets a 503, and the app's retry counts as the first.

use crate::billing::{Accepted, Refused};
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

/// How long an answer waits for its record to reach the log file; past this it is a 503.
/// The record stays queued: if it is written after all, the event is settled (billed) then,
/// and the app's retry finds it a duplicate.
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
    if let Err(limited) = super::auction::rate_limit(&gw, &req) {
        crate::telemetry::rate_limited("client");
        counter!("bidgate_events_total", "kind" => kind.name(), "result" => "rate_limited")
            .increment(1);
        return actix_web::ResponseError::error_response(&limited);
    }
    let Accepted {
        refused,
        result,
        record: mut rec,
        pending,
    } = crate::billing::accept(&gw, kind, token, record::now_ms()).await;
    rec.result = result.into();
    if let Some(refused) = refused {
        counter!("bidgate_events_total", "kind" => kind.name(), "result" => result).increment(1);
        if let Some(log) = live.event_log() {
            // A refused event is recorded, but nobody waits on a forger's line.
            log.append(&Record::Event(rec));
        }
        return refusal(refused, result);
    }
    let durable = match (live.event_log(), pending) {
        (None, Some(pending)) => {
            crate::billing::settle(&gw, pending, true, record::now_ms());
            true
        }
        (None, None) => true,
        (Some(log), pending) => {
            let written = log.append_durable(&Record::Event(rec));
            // Settled in a task of its own, so that a record written after the answer gave
            // up waiting still bills (and a lost one is still forgotten).
            let settled = actix_web::rt::spawn(async move {
                let durable = written.await;
                if let Some(pending) = pending {
                    crate::billing::settle(&gw, pending, durable, record::now_ms());
                }
                durable
            });
            matches!(tokio::time::timeout(LOG_WAIT, settled).await, Ok(Ok(true)))
        }
    };
    if !durable {
        counter!("bidgate_events_total", "kind" => kind.name(), "result" => "not_recorded")
            .increment(1);
        return HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .insert_header(("retry-after", "1"))
            .body("event not recorded (the event log failed); retry\n");
    }
    counter!("bidgate_events_total", "kind" => kind.name(), "result" => result).increment(1);
    if pixel {
        return HttpResponse::Ok()
            .content_type("image/gif")
            .insert_header(("cache-control", "no-store"))
            .body(PIXEL);
    }
    HttpResponse::NoContent().finish()
}

fn refusal(refused: Refused, result: &str) -> HttpResponse {
    let status = match refused {
        Refused::Token(TokenError::Malformed) => StatusCode::BAD_REQUEST,
        Refused::Token(TokenError::Forged) => StatusCode::FORBIDDEN,
        Refused::Token(TokenError::Expired) => StatusCode::GONE,
        Refused::MemoryFull | Refused::InProgress => StatusCode::SERVICE_UNAVAILABLE,
    };
    let mut r = HttpResponse::build(status);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        r.insert_header(("retry-after", "1"));
    }
    r.content_type("text/plain")
        .body(format!("event refused: {result}\n"))
}
