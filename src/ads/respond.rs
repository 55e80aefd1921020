//! The answer to an app: per slot, the ads that won (a pod's in play order), each with its
//! markup (a VAST document for audio and video, HTML for display), what the app needs to play
//! it without parsing that markup, and the signed tracking URLs it must call.

use crate::config::AdFormat;
use crate::events::Kind;
use crate::events::token::{Claims, Signer};
use crate::exchange::{Settled, Won};
use crate::macros;
use crate::vast::{self, Event};
use schemars::JsonSchema;
use serde::Serialize;

#[derive(Debug, Serialize, JsonSchema)]
pub struct AdResponse {
    /// The app's request id, when it sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// bidgate's id for this auction (in every tracking token and the event log).
    pub auction_id: String,
    /// Every requested slot, in request order, filled or not.
    pub slots: Vec<SlotResult>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SlotResult {
    pub id: String,
    pub placement: String,
    pub filled: bool,
    /// One ad, or a pod's ads in play order; empty when unfilled.
    pub ads: Vec<Ad>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Ad {
    pub format: AdFormat,
    /// The demand partner whose bid won.
    pub seat: String,
    /// Advertiser domains.
    pub adomain: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<u32>,
    /// Audio and video: a VAST document with bidgate's trackers in it (a player that reads
    /// VAST needs nothing else).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vast: Option<String>,
    /// Display: the markup (HTML) to render.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub markup: Option<String>,
    /// Audio and video: the media file, for players that do not read VAST.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub companion: Option<Companion>,
    /// Where a tap goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub click_url: Option<String>,
    pub tracking: Tracking,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Companion {
    pub image_url: String,
    pub width: u32,
    pub height: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub click_url: Option<String>,
}

/// URLs the app calls (GET) when the event happens. `impression` is what bills: call it
/// once, when the ad starts to play (audio, video) or is shown (display).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Tracking {
    pub impression: String,
    pub click: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_quartile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub midpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub third_quartile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complete: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What building the answer needs besides the auction.
pub struct Context<'a> {
    pub signer: &'a Signer,
    /// `https://host` the tracking URLs start with.
    pub base_url: &'a str,
    pub currency: &'a str,
    /// Partner ids and seats by `Gateway::partners` index.
    pub partner_ids: &'a [&'a str],
    pub seats: &'a [&'a str],
    /// The listener's key for direct demand's frequency caps (None without consent).
    pub user_key: Option<&'a str>,
    /// Unix seconds when tokens expire.
    pub expires: u64,
}

/// Builds the answer. A winning bid whose markup cannot be used (no `adm`, broken VAST) is
/// left out and reported in `dropped` (partner index, reason), and its slot may stay unfilled.
pub fn respond(
    req: &super::AdRequest,
    formats: &[AdFormat],
    settled: Settled,
    ctx: &Context<'_>,
) -> (AdResponse, Vec<(crate::partners::PartnerIx, String)>) {
    let mut slots: Vec<SlotResult> = req
        .slots
        .iter()
        .map(|s| SlotResult {
            id: s.id.clone(),
            placement: s.placement.clone(),
            filled: false,
            ads: Vec::new(),
        })
        .collect();
    let mut dropped = Vec::new();
    let auction_id = settled.request.id.clone();
    for won in settled.wins {
        let format = formats[won.imp];
        match ad(&auction_id, &slots[won.imp].id, format, &won, ctx) {
            Ok(ad) => slots[won.imp].ads.push(ad),
            Err(why) => dropped.push((won.partner, why)),
        }
    }
    for s in &mut slots {
        s.filled = !s.ads.is_empty();
    }
    let response = AdResponse {
        id: req.id.clone(),
        auction_id,
        slots,
    };
    (response, dropped)
}

fn ad(
    auction_id: &str,
    imp_id: &str,
    format: AdFormat,
    won: &Won,
    ctx: &Context<'_>,
) -> Result<Ad, String> {
    let seat = ctx.partner_ids[won.partner.0];
    let bid = &won.bid;
    // The imp id is the slot id (`ads::to_openrtb` makes them so).
    let values = won.macros(auction_id, seat);
    let markup = bid
        .adm()
        .filter(|a| !a.trim().is_empty())
        .ok_or("the winning bid has no adm (nor markup from its nurl)")?;
    let adm = macros::substitute(&markup, &values);
    let claims = Claims {
        auction: auction_id.to_string(),
        imp: imp_id.to_string(),
        partner: seat.to_string(),
        bid: bid.id.clone(),
        price_micros: won.clearing.0,
        currency: ctx.currency.to_string(),
        expires: ctx.expires,
        burl: bid
            .str_field("burl")
            .map(|u| macros::substitute_url(u, &values).into_owned()),
        // A booked (direct) bid's impression counts towards its line item's goals and the
        // listener's frequency caps: the token carries both.
        user_key: won
            .booking
            .as_ref()
            .and_then(|_| ctx.user_key.map(String::from)),
        line_item: won.booking.as_ref().map(|b| b.line_item.clone()),
    };
    let token = ctx
        .signer
        .sign(&claims)
        .ok_or("its tracking token would be too long (a burl that macros made too long)")?;
    let url = |k: Kind| format!("{}/v1/events/{}?t={token}", ctx.base_url, k.name());
    let timed = matches!(format, AdFormat::Audio | AdFormat::Video);
    let tracking = Tracking {
        impression: url(Kind::Impression),
        click: url(Kind::Click),
        start: timed.then(|| url(Kind::Start)),
        first_quartile: timed.then(|| url(Kind::FirstQuartile)),
        midpoint: timed.then(|| url(Kind::Midpoint)),
        third_quartile: timed.then(|| url(Kind::ThirdQuartile)),
        complete: timed.then(|| url(Kind::Complete)),
        error: timed.then(|| url(Kind::Error)),
    };
    let adomain: Vec<String> = bid
        .get("adomain")
        .and_then(|a| a.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|d| d.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let dims = |k: &str| bid.get(k).and_then(|v| v.as_u64()).map(|v| v as u32);
    let mut ad = Ad {
        format,
        seat: ctx.seats[won.partner.0].to_string(),
        adomain,
        duration_s: bid.dur(),
        vast: None,
        markup: None,
        media_url: None,
        mime: None,
        width: dims("w"),
        height: dims("h"),
        companion: None,
        click_url: None,
        tracking,
    };
    if !timed {
        ad.markup = Some(adm.into_owned());
        return Ok(ad);
    }
    let trackers: Vec<vast::Tracker> = [
        (Event::Impression, Kind::Impression),
        (Event::Start, Kind::Start),
        (Event::FirstQuartile, Kind::FirstQuartile),
        (Event::Midpoint, Kind::Midpoint),
        (Event::ThirdQuartile, Kind::ThirdQuartile),
        (Event::Complete, Kind::Complete),
        (Event::Click, Kind::Click),
        (Event::Error, Kind::Error),
    ]
    .into_iter()
    .map(|(e, k)| (e, url(k)))
    .collect();
    if vast::is_vast(&adm) {
        let summary =
            vast::summary(&adm).map_err(|e| format!("the winning bid's VAST is unusable: {e}"))?;
        ad.vast = Some(
            vast::inject(&adm, &trackers)
                .map_err(|e| format!("the winning bid's VAST is unusable: {e}"))?,
        );
        ad.duration_s = ad
            .duration_s
            .or(summary.duration_ms.map(|ms| (ms / 1000) as u32));
        if let Some(m) = summary.media.first() {
            ad.media_url = Some(m.url.clone());
            ad.mime = Some(m.mime.clone());
        }
        ad.companion = summary.companion.map(|c| Companion {
            image_url: c.image_url,
            width: c.width,
            height: c.height,
            click_url: c.click_through,
        });
        ad.click_url = summary.click_through;
        return Ok(ad);
    }
    // Not VAST: a bare media URL is accepted and wrapped in a VAST document of our own.
    let media = adm.trim();
    if !(media.starts_with("https://") || media.starts_with("http://")) {
        return Err("the winning bid's adm is neither VAST nor a media URL".into());
    }
    let mime = bid.str_field("mime").map(String::from).unwrap_or_else(|| {
        if format == AdFormat::Audio {
            "audio/mpeg"
        } else {
            "video/mp4"
        }
        .into()
    });
    let duration_s = bid.dur().ok_or("a bare media URL needs the bid's dur")?;
    let files = [vast::MediaFile {
        url: media.to_string(),
        mime: mime.clone(),
        bitrate_kbps: None,
        width: None,
        height: None,
    }];
    ad.vast = Some(vast::build_inline(
        &vast::Creative {
            ad_id: &bid.id,
            ad_system: seat,
            title: bid.str_field("crid").unwrap_or(&bid.id),
            advertiser: ad.adomain.first().map(String::as_str),
            duration_ms: duration_s as u64 * 1000,
            media: &files,
            click_through: None,
            companion: None,
        },
        &trackers,
    ));
    ad.media_url = Some(media.to_string());
    ad.mime = Some(mime);
    Ok(ad)
}
