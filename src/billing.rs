//! What a tracking event means: the token is verified (forged, tampered and expired ones are
//! refused, never billed), the event is deduplicated (a replayed impression is billed once),
//! and a first impression bills: it fires the winner's `burl`, counts the revenue, and hands
//! the impression to the partner's demand (direct demand counts delivery and frequency caps).
//! The HTTP edge (`http::events`) maps the result to a status and writes the record to the
//! event log.

use crate::events::Kind;
use crate::events::record::EventRecord;
use crate::events::token::TokenError;
use crate::gateway::Gateway;
use crate::notices;
use crate::partners::Impression;
use metrics::counter;

/// What came of one event.
pub struct Accepted {
    /// Why the token was refused; `None`: accepted (billed, counted or a duplicate).
    pub refused: Option<TokenError>,
    /// The `result` label of `bidgate_events_total` and of the record.
    pub result: &'static str,
    /// The event log's record (its `result` is set by the caller with the label).
    pub record: EventRecord,
}

/// Verifies, deduplicates and bills one event of `kind` carrying `token`, at `now_ms`.
pub fn accept(gw: &Gateway, kind: Kind, token: &str, now_ms: u64) -> Accepted {
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
    let (claims, id) = match gw.events.signer.verify(token, now_ms / 1000) {
        Ok(ok) => ok,
        Err(e) => {
            return Accepted {
                refused: Some(e),
                result: e.label(),
                record: rec,
            };
        }
    };
    let result = if !gw.events.first_time(kind, id) {
        "duplicate"
    } else if kind == Kind::Impression {
        let partner = gw.partner_index(&claims.partner).map(|i| &gw.partners[i]);
        if let Some(burl) = &claims.burl {
            let allow_private = partner.is_some_and(|p| p.notices.allow_private);
            gw.events
                .notifier
                .fire(notices::Kind::Billing, &claims.partner, burl, allow_private);
        }
        // Its demand does its own accounting (direct demand: delivery and frequency caps).
        if let Some(partner) = partner {
            partner.demand.on_impression(&Impression {
                line_item: claims.line_item.as_deref(),
                bid_id: &claims.bid,
                user_key: claims.user_key.as_deref(),
                price: crate::money::Micros(claims.price_micros),
                now_unix: now_ms / 1000,
            });
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
    Accepted {
        refused: None,
        result,
        record: rec,
    }
}
