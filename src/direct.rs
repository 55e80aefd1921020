//! Internal demand as a partner: the direct-sold catalog (`internal`) answering the same
//! OpenRTB bid request external partners get, in-process, as the partner `internal` (seat
//! `direct`). It has the same outcomes, metrics, stats and `ext.responsetimemillis` entry as
//! any partner, and runs inside the fan-out, before its deadline.
//!
//! The bid request is read back into the catalog's terms (placement = `imp.tagid`, format,
//! durations, sizes, country, OS, device type, age, gender, content, genre, language, UTC
//! offset, and a user key only where consent let `user.id`/`device.ifa` through). Each
//! candidate becomes a bid: VAST (built by bidgate) or an image tag as `adm`, the tier in
//! `ext.tier`, the line item in the bid id (`<line item>~<n>`) so that the impression event
//! can count delivery and frequency caps.

use crate::config::AdFormat;
use crate::internal::{Creative, Index, MemoryStore, Request, Tier};
use crate::money::Micros;
use crate::openrtb::{Bid, BidRequest, BidResponse, SeatBid};
use crate::outcome::Outcome;
use crate::vocab::{ContentKind, DeviceType, Gender};
use serde_json::{Value, json};
use std::sync::Arc;

pub use crate::vocab::{DIRECT_SEAT as SEAT, INTERNAL_PARTNER_ID as PARTNER_ID};

pub struct Direct {
    pub index: Index,
    /// Delivery and frequency-cap counters; kept across catalog reloads.
    pub store: Arc<MemoryStore>,
}

impl std::fmt::Debug for Direct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Direct")
            .field("line_items", &self.index.len())
            .finish_non_exhaustive()
    }
}

/// The auction rank of a tier: sponsorship above everything (preferred deals are 2), house
/// below every paid bid (1 is the open auction).
pub fn rank(tier: &str) -> Option<u8> {
    match tier {
        "sponsorship" => Some(3),
        "standard" => Some(1),
        "house" => Some(0),
        _ => None,
    }
}

/// Internal demand's answer to `request` (imps not `offered` are skipped; empty = all).
pub fn answer(
    d: &Direct,
    request: &BidRequest,
    offered: &[bool],
    now_unix: u64,
    currency: &str,
) -> Outcome {
    let mut rng = fastrand::Rng::new();
    let r = &request.rest;
    let get = |path: &[&str]| -> Option<&Value> {
        let mut v = r.get(path[0])?;
        for k in &path[1..] {
            v = v.get(k)?;
        }
        Some(v)
    };
    let str_at = |path: &[&str]| get(path).and_then(Value::as_str);
    let user_key = str_at(&["user", "id"]).or(str_at(&["device", "ifa"]));
    let os = str_at(&["device", "os"]).map(str::to_ascii_lowercase);
    let mut bids = Vec::new();
    for (i, imp) in request.imp.iter().enumerate() {
        if !(offered.is_empty() || offered[i]) {
            continue;
        }
        let (format, media) = match ["audio", "video", "banner"]
            .into_iter()
            .find_map(|k| imp.rest.get(k).map(|m| (k, m)))
        {
            Some(("audio", m)) => (AdFormat::Audio, m),
            Some(("video", m)) => (AdFormat::Video, m),
            Some((_, m)) => (AdFormat::Display, m),
            None => continue,
        };
        let num = |k: &str| media.get(k).and_then(Value::as_u64).map(|v| v as u32);
        let mimes: Vec<String> = media
            .get("mimes")
            .and_then(Value::as_array)
            .map(|m| {
                m.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let mut sizes: Vec<[u32; 2]> = media
            .get("format")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| Some([f.get("w")?.as_u64()? as u32, f.get("h")?.as_u64()? as u32]))
            .collect();
        if let (Some(w), Some(h)) = (num("w"), num("h")) {
            sizes.push([w, h]);
        }
        let feed = media.get("feed").and_then(Value::as_i64);
        let context = get(&["app", "content", "context"]).and_then(Value::as_i64);
        let content = match (feed, context) {
            (Some(1), _) | (_, Some(3)) => Some(ContentKind::Music),
            (Some(2), _) => Some(ContentKind::Radio),
            (Some(3), _) => Some(ContentKind::Podcast),
            (_, Some(1)) => Some(ContentKind::Video),
            _ => None,
        };
        let req = Request {
            placement: imp.rest.get("tagid").and_then(Value::as_str).unwrap_or(""),
            format,
            country: str_at(&["device", "geo", "country"]),
            os: os.as_deref(),
            device_type: get(&["device", "devicetype"])
                .and_then(Value::as_i64)
                .and_then(DeviceType::from_openrtb),
            yob: get(&["user", "yob"])
                .and_then(Value::as_u64)
                .and_then(|y| u16::try_from(y).ok()),
            gender: str_at(&["user", "gender"]).and_then(Gender::from_openrtb),
            content,
            genre: str_at(&["app", "content", "genre"]),
            language: str_at(&["app", "content", "language"]).or(str_at(&["device", "language"])),
            utc_offset_min: get(&["device", "geo", "utcoffset"])
                .and_then(Value::as_i64)
                .map(|m| m as i32),
            user_key,
            min_duration_s: num("minduration").unwrap_or(0),
            max_duration_s: num("maxduration").filter(|m| *m > 0).unwrap_or(u32::MAX),
            mimes: &mimes,
            sizes: &sizes,
            floor: imp
                .bidfloor
                .and_then(Micros::from_f64)
                .unwrap_or(Micros::ZERO),
        };
        let max = media
            .get("maxseq")
            .and_then(Value::as_u64)
            .map_or(1, |m| m.clamp(1, 10) as usize);
        for (n, c) in d
            .index
            .decide(&req, now_unix, &*d.store, &mut rng, max)
            .into_iter()
            .enumerate()
        {
            bids.push(bid(&imp.id, n, &c));
        }
    }
    if bids.is_empty() {
        return Outcome::NoBid;
    }
    Outcome::Bid(BidResponse {
        id: request.id.clone(),
        seatbid: vec![SeatBid {
            bid: bids,
            seat: Some(SEAT.into()),
            rest: Default::default(),
        }],
        bidid: None,
        // The catalog's CPMs are in the auction currency (an absent `cur` would mean USD).
        cur: Some(currency.to_string()),
        nbr: None,
        ext: None,
        rest: Default::default(),
    })
}

fn bid(impid: &str, n: usize, c: &crate::internal::Candidate<'_>) -> Bid {
    let li = c.line_item;
    // The auction needs a price > 0: a house ad without a CPM bids one micro-unit.
    let price = c.price.max(Micros(1));
    let tier = match c.tier {
        Tier::Sponsorship => "sponsorship",
        Tier::Standard => "standard",
        Tier::House => "house",
    };
    let click = c.creative.click_url(li);
    let (adm, mtype, dur, size) = match c.creative {
        Creative::Display(d) => (
            format!(
                r#"<a href="{}" target="_blank" rel="noopener"><img src="{}" width="{}" height="{}" alt="{}"></a>"#,
                attr(click),
                attr(&d.image_url),
                d.w,
                d.h,
                attr(&li.advertiser.name)
            ),
            1,
            None,
            Some([d.w, d.h]),
        ),
        Creative::Audio(a) => (
            vast(
                li,
                c.creative,
                &a.media_url,
                &a.mime,
                a.duration_s,
                a.companion.as_ref(),
                click,
            ),
            3,
            Some(a.duration_s),
            None,
        ),
        Creative::Video(v) => (
            vast(
                li,
                c.creative,
                &v.media_url,
                &v.mime,
                v.duration_s,
                None,
                click,
            ),
            2,
            Some(v.duration_s),
            Some([v.w, v.h]),
        ),
    };
    let mut rest = crate::openrtb::Rest::new();
    rest.insert("adomain".into(), json!([li.advertiser.domain]));
    rest.insert("crid".into(), c.creative.id().into());
    rest.insert("cid".into(), li.campaign.clone().into());
    rest.insert("mtype".into(), mtype.into());
    if !li.categories.is_empty() {
        rest.insert("cat".into(), json!(li.categories));
    }
    if let Some(d) = dur {
        rest.insert("dur".into(), d.into());
    }
    if let Some([w, h]) = size {
        rest.insert("w".into(), w.into());
        rest.insert("h".into(), h.into());
    }
    rest.insert("ext".into(), json!({ "tier": tier }));
    Bid {
        id: format!("{}~{n}", li.id),
        impid: impid.to_string(),
        price: price.to_f64(),
        adm: serde_json::value::to_raw_value(&adm).ok(),
        rest,
    }
}

/// The line item id in an internal bid id (`<line item>~<n>`).
pub fn line_item_of(bid_id: &str) -> &str {
    bid_id.rsplit_once('~').map_or(bid_id, |(li, _)| li)
}

fn vast(
    li: &crate::internal::LineItem,
    creative: &Creative,
    media_url: &str,
    mime: &str,
    duration_s: u32,
    companion: Option<&crate::internal::Companion>,
    click: &str,
) -> String {
    let media = [crate::vast::MediaFile {
        url: media_url.to_string(),
        mime: mime.to_string(),
        bitrate_kbps: None,
        width: None,
        height: None,
    }];
    let companion = companion.map(|c| crate::vast::Companion {
        width: c.w,
        height: c.h,
        image_url: c.image_url.clone(),
        mime: None,
        click_through: Some(click.to_string()),
    });
    crate::vast::build_inline(
        &crate::vast::Creative {
            ad_id: creative.id(),
            ad_system: "bidgate direct",
            title: &li.advertiser.name,
            advertiser: Some(&li.advertiser.domain),
            duration_ms: duration_s as u64 * 1000,
            media: &media,
            click_through: Some(click),
            companion: companion.as_ref(),
        },
        &[],
    )
}

/// Escapes text for an HTML attribute.
fn attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
