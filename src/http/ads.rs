//! `POST /v1/ads`: an app's ad request in, its slots filled (or not) out — always a 200 with
//! every slot listed when the request was valid, so the app gets a definite answer in time.

use super::auction::{AuctionError, arrival, count, intake, rate_limit};
use crate::ads::{self, AdResponse};
use crate::deadline::Deadline;
use crate::events::record::{self, Record};
use crate::exchange;
use crate::gateway::Gateway;
use crate::reload::Live;
use crate::telemetry;
use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, web};
use tokio::time::Instant;
use tracing::Instrument;

const ENDPOINT: &str = "ads";
/// ext.errors-style code for a winning bid whose markup could not be used (docs/api.md, status and error codes).
const UNUSABLE_MARKUP: u32 = crate::auction::UNPLAYABLE_CODE;

pub async fn handle(
    live: web::Data<Live>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AuctionError> {
    let gw = live.current();
    let arrived = arrival();
    let mut filled = false;
    let result = serve(&gw, &live, &req, payload, arrived, &mut filled).await;
    count(ENDPOINT, arrived, &result, filled);
    result
}

async fn serve(
    gw: &Gateway,
    live: &Live,
    req: &HttpRequest,
    payload: web::Payload,
    arrived: Instant,
    filled: &mut bool,
) -> Result<HttpResponse, AuctionError> {
    let cfg = &gw.config;
    let (body, _slot) = intake(gw, req, payload, arrived).await?;
    let ad_req = ads::parse(&body, &cfg.placements).map_err(AuctionError::Invalid)?;
    rate_limit(gw, req)?;

    let auction_id = format!("{:032x}", fastrand::u128(..));
    let peer = req.peer_addr().map(|a| a.ip());
    let mapped = ads::to_openrtb(
        &ad_req,
        &cfg.placements,
        &auction_id,
        &cfg.auction.currency,
        peer,
        |id| gw.partner_index(id),
    );
    let mut mapped = mapped;
    // bidgate sells the app's inventory itself here: it names the publisher.
    crate::outbound::publisher(&mut mapped.request.rest, &cfg.supply_chain);
    // A placement's partner list names external partners; demand that chooses its
    // placements itself (direct demand's catalog targets them) is offered every slot.
    for (i, _) in gw
        .partners
        .iter()
        .enumerate()
        .filter(|(_, p)| p.demand.chooses_placements())
    {
        for allowed in mapped.specs.iter_mut().filter_map(|s| s.partners.as_mut()) {
            allowed.push(crate::partners::PartnerIx(i));
        }
    }
    let deadline = Deadline::new(
        arrived,
        mapped.tmax_ms.map(|t| t as i64),
        &cfg.auction,
        crate::limits::recent_lag(),
    );
    if Instant::now() >= deadline.at() {
        return Err(AuctionError::LateBody(deadline.tmax.as_millis() as u64));
    }
    let span = tracing::info_span!("auction", id = %auction_id);
    let settled = exchange::settle(
        gw,
        mapped.request,
        &mapped.specs,
        Some(&mapped.listener),
        &deadline,
        false,
    )
    .instrument(span.clone())
    .await;

    // The record is built only when there is a log to take it (and it is sampled).
    let record = match live.event_log() {
        Some(_) => exchange::record(
            gw,
            &settled,
            ENDPOINT,
            Some(&ad_req.app.bundle),
            arrived.elapsed(),
        ),
        None => None,
    };
    let base_url = match &cfg.events.base_url {
        Some(b) => b.trim_end_matches('/').to_string(),
        // The scheme and host the app used: forwarded headers only from trusted proxies.
        None => gw.clients.proxies.origin(
            peer,
            |name| Some(req.headers().get(name)?.to_str().ok()?.to_string()),
            &req.app_config().local_addr().to_string(),
        ),
    };
    let partner_ids: Vec<&str> = gw.partners.iter().map(|p| p.id.as_str()).collect();
    let seats: Vec<&str> = gw.partners.iter().map(|p| p.seat()).collect();
    let user_key = ads::personal_data_allowed(&ad_req)
        .then(|| ad_req.user.id.as_deref().or(ad_req.device.ifa.as_deref()))
        .flatten();
    let formats: Vec<_> = mapped.placements.iter().map(|p| p.format).collect();
    let ctx = ads::respond::Context {
        signer: &gw.events.signer,
        base_url: &base_url,
        currency: &cfg.auction.currency,
        partner_ids: &partner_ids,
        seats: &seats,
        user_key,
        expires: record::now_ms() / 1000 + cfg.events.token_ttl_s,
    };
    let (response, dropped): (AdResponse, _) = ads::respond(&ad_req, &formats, settled, &ctx);
    for (partner, why) in dropped {
        telemetry::bids_rejected(partner_ids[partner.0], UNUSABLE_MARKUP, 1);
        span.in_scope(
            || tracing::debug!(partner = partner_ids[partner.0], %why, "winning bid dropped"),
        );
    }
    *filled = response.slots.iter().any(|s| s.filled);
    if let Some(log) = live.event_log()
        && let Some(record) = record
    {
        log.append(&Record::Auction(record));
    }
    let late_by = Instant::now().saturating_duration_since(deadline.at());
    if late_by > crate::deadline::LATE_GRACE {
        span.in_scope(|| telemetry::late_answer(ENDPOINT, late_by));
    }
    let json = serde_json::to_vec(&response).expect("AdResponse serialises");
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(json))
}
