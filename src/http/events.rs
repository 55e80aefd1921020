//! `GET /v1/events/{kind}?t=TOKEN`: an app reports that an ad was shown, clicked, played.
//!
//! The token is verified (forged, tampered and expired ones are refused and counted, never
//! billed), the event is deduplicated (a replayed impression is billed once), a first
//! impression fires the winner's `burl`, and every call is written to the event log before
//! the answer: 204, or a 1×1 GIF with `pixel=1` (for `<img>` tags).

use crate::events::Kind;
use crate::events::record::{self, EventRecord, Record};
use crate::events::token::TokenError;
use crate::notices;
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
    let now_ms = record::now_ms();
    let mut rec = EventRecord {
        ts_ms: now_ms,
        kind: kind.name().into(),
        result: String::new(),
        auction_id: None,
        imp: None,
        partner: None,
        bid_id: None,
        price_micros: None,
        currency: None,
    };
    let (status, result) = match gw.events.signer.verify(token, now_ms / 1000) {
        Err(e) => {
            let status = match e {
                TokenError::Malformed => StatusCode::BAD_REQUEST,
                TokenError::Forged => StatusCode::FORBIDDEN,
                TokenError::Expired => StatusCode::GONE,
            };
            (status, e.label())
        }
        Ok((claims, id)) => {
            let result = if !gw.events.first_time(kind, id) {
                "duplicate"
            } else if kind == Kind::Impression {
                if let Some(burl) = &claims.burl {
                    let allow_private = gw
                        .partner_index(&claims.partner)
                        .is_some_and(|i| gw.partners[i].notices.allow_private);
                    gw.events.notifier.fire(
                        notices::Kind::Billing,
                        &claims.partner,
                        burl,
                        allow_private,
                    );
                }
                // Internal demand counts its delivery and frequency caps on impressions.
                if let Some(direct) = gw.partners.iter().find_map(|p| p.direct.as_ref())
                    && claims.partner == crate::direct::PARTNER_ID
                {
                    direct.index.record_impression(
                        &*direct.store,
                        crate::direct::line_item_of(&claims.bid),
                        claims.user_key.as_deref(),
                        crate::money::Micros(claims.price_micros),
                        now_ms / 1000,
                    );
                }
                counter!("bidgate_billed_micros_total", "partner" => claims.partner.clone(), "currency" => claims.currency.clone())
                    .increment(claims.price_micros.max(0) as u64);
                "billed"
            } else {
                "counted"
            };
            rec.auction_id = Some(claims.auction);
            rec.imp = Some(claims.imp);
            rec.partner = Some(claims.partner);
            rec.bid_id = Some(claims.bid);
            rec.price_micros = Some(claims.price_micros);
            rec.currency = Some(claims.currency);
            (StatusCode::NO_CONTENT, result)
        }
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
