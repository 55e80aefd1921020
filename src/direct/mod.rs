//! Direct demand: the direct-sold catalog (`internal`, its pure core) answering the same
//! OpenRTB bid request external partners get, in-process, as the partner `internal` (seat
//! `direct`; both names kept for compatibility, see `vocab`). Through the demand seam
//! (`partners::Demand::Direct`) it has the same outcomes, metrics, stats and
//! `ext.responsetimemillis` entry as any partner, and runs inside the fan-out, before its
//! deadline.
//!
//! The bid request is read back into the catalog's terms (placement = `imp.tagid`, format,
//! durations, sizes, country, OS, device type, age, gender, content, genre, language, UTC
//! offset, and a user key only where consent let `user.id`/`device.ifa` through), except
//! what the client gave in typed values (`vocab::Listener`, from `/v1/ads`): those are taken
//! as they are, since OpenRTB's codes cannot tell all of them apart. Each
//! candidate becomes a bid (`bid.rs`) and a typed [`Booking`] beside it: its tier, which the
//! auction ranks by, and its line item, which the tracking token carries so that the
//! impression event can count delivery and frequency caps (`Direct::on_impression`).

mod bid;
mod shared;

pub use shared::Caps;

use crate::config::{AdFormat, Config};
use crate::internal::{Catalog, Index, MemoryStore, Request, Tier};
use crate::money::Micros;
use crate::openrtb::{BidRequest, BidResponse, SeatBid};
use crate::outcome::Outcome;
use crate::vocab::{ContentKind, DeviceType, Gender, Listener};
use serde_json::Value;
use std::sync::Arc;

pub use crate::vocab::{DIRECT_PARTNER_ID as PARTNER_ID, DIRECT_SEAT as SEAT};

pub struct Direct {
    index: Index,
    /// Delivery and frequency-cap counters; kept across catalog reloads (`gateway::State`).
    store: Arc<MemoryStore>,
    /// The auction currency, which the catalog's CPMs are in.
    currency: String,
    /// Into the auction currency: an imp's floor is in its `bidfloorcur` (the gateway's
    /// rates, the same that floor partner bids).
    rates: Arc<crate::currency::Rates>,
    /// The store replicas share: caps and pacing leases there too when it is Redis.
    shared: Arc<crate::store::Shared>,
}

impl std::fmt::Debug for Direct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Direct")
            .field("line_items", &self.index.len())
            .finish_non_exhaustive()
    }
}

/// What direct demand decided about one of its bids, kept typed beside the OpenRTB bid (never
/// read back from it): the tier the auction ranks it by and the line item an impression of
/// it delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub tier: Tier,
    pub line_item: String,
}

impl Booking {
    /// The auction rank of its tier: sponsorship above everything (preferred deals are 2),
    /// house below every paid bid (1 is the open auction).
    pub fn rank(&self) -> u8 {
        match self.tier {
            Tier::Sponsorship => 3,
            Tier::Standard => 1,
            Tier::House => 0,
        }
    }
}

/// The bookings of one answer, one per bid of its one seat, in order; empty for demand that
/// books nothing (HTTP partners).
#[derive(Debug, Default)]
pub struct Booked(Vec<Booking>);

impl Booked {
    /// The booking of bid `bid` of seat `seatbid`, if that bid was booked.
    pub fn get(&self, seatbid: usize, bid: usize) -> Option<&Booking> {
        if seatbid == 0 { self.0.get(bid) } else { None }
    }
}

/// A billed impression, as its tracking token tells it.
#[derive(Debug, Clone, Copy)]
pub struct Impression<'a> {
    /// The booked line item (`None` in tokens signed before the line item had a claim of
    /// its own: then it is read from the bid id).
    pub line_item: Option<&'a str>,
    pub bid_id: &'a str,
    /// The listener's key, for frequency caps (where consent allowed one).
    pub user_key: Option<&'a str>,
    pub price: Micros,
    pub now_unix: u64,
}

impl Direct {
    /// The catalog at `path`, checked against the configured placements and indexed.
    /// `store` holds the delivery and frequency-cap counters, long-lived state that
    /// `gateway::State` keeps across reloads, so a reload neither resets goals nor caps.
    pub fn load(
        config: &Config,
        path: &std::path::Path,
        store: Arc<MemoryStore>,
        shared: Arc<crate::store::Shared>,
        rates: Arc<crate::currency::Rates>,
    ) -> Result<Self, String> {
        let report = |problems: Vec<crate::internal::CatalogProblem>| {
            let lines: Vec<String> = problems
                .iter()
                .map(|p| format!("internal.catalog: {p}"))
                .collect();
            lines.join("; ")
        };
        let catalog = Catalog::load_file(path).map_err(report)?;
        let unknown = catalog.unknown_placements(|id| config.placements.iter().any(|p| p.id == id));
        if !unknown.is_empty() {
            return Err(report(unknown));
        }
        Ok(Self {
            index: Index::build(catalog),
            store,
            currency: config.auction.currency.clone(),
            rates,
            shared,
        })
    }

    /// Counts a billed impression towards its line item's goals and frequency caps.
    pub fn on_impression(&self, imp: &Impression<'_>) {
        let line_item = imp.line_item.unwrap_or_else(|| line_item_of(imp.bid_id));
        self.index.record_impression(
            &*self.store,
            line_item,
            imp.user_key,
            imp.price,
            imp.now_unix,
        );
        if self.shared.is_shared() {
            shared::record(&self.shared, &self.index, line_item, imp);
        }
    }

    /// One of its bids won at CPM `clearing`: with a shared store, the line item's pacing
    /// lease is spent now, on the replica that served the ad (see `shared::won`).
    pub fn on_win(&self, line_item: &str, clearing: Micros) {
        if self.shared.is_shared() {
            let now_unix = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            shared::won(&self.shared, &self.index, line_item, clearing, now_unix);
        }
    }

    /// The listener key whose cap counters a decision on `request` needs from the shared
    /// store; `None` when it needs none (memory store, nothing capped, no key): then the
    /// answer needs no round trip.
    pub fn caps_to_fetch(&self, request: &BidRequest) -> Option<String> {
        if !self.shared.is_shared() || !self.index.has_caps() {
            return None;
        }
        user_key(&request.rest).map(str::to_string)
    }

    /// The listener's cap counters from the shared store (one round trip, bounded).
    pub async fn fetch_caps(&self, user: String) -> Caps {
        shared::fetch(&self.shared, user).await
    }

    /// Direct demand's answer to `request` at `now_unix` (imps not `offered` are skipped;
    /// empty = all), and the booking of each of its bids. Device type, gender and content
    /// are `listener`'s where the client gave them typed, else read from the OpenRTB codes.
    pub fn answer(
        &self,
        request: &BidRequest,
        offered: &[bool],
        listener: Option<&Listener>,
        now_unix: u64,
    ) -> (Outcome, Booked) {
        self.answer_with(request, offered, listener, now_unix, &Caps::Local)
    }

    /// `answer`, with the listener's cap counters as fetched from the shared store.
    pub fn answer_with(
        &self,
        request: &BidRequest,
        offered: &[bool],
        listener: Option<&Listener>,
        now_unix: u64,
        caps: &Caps,
    ) -> (Outcome, Booked) {
        let view = shared::View {
            local: &self.store,
            shared: &self.shared,
            caps,
        };
        let store: &dyn crate::internal::Store = if self.shared.is_shared() {
            &view
        } else {
            &*self.store
        };
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
        let user_key = user_key(r);
        let os = str_at(&["device", "os"]).map(str::to_ascii_lowercase);
        let (device_type, gender) = match listener {
            Some(l) => (l.device_type, l.gender),
            None => (
                get(&["device", "devicetype"])
                    .and_then(Value::as_i64)
                    .and_then(DeviceType::from_openrtb),
                str_at(&["user", "gender"]).and_then(Gender::from_openrtb),
            ),
        };
        let mut bids = Vec::new();
        let mut booked = Vec::new();
        for (i, imp) in request.imp.iter().enumerate() {
            if !(offered.is_empty() || offered[i]) {
                continue;
            }
            // The floor in the catalog's currency; one that cannot be converted (its rate
            // gone since validation) is not sold below: no bid for the imp.
            let Some(floor) = self.floor(imp) else {
                continue;
            };
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
            let content = match listener {
                Some(l) => l.content,
                None => {
                    let feed = media.get("feed").and_then(Value::as_i64);
                    let context = get(&["app", "content", "context"]).and_then(Value::as_i64);
                    match (feed, context) {
                        (Some(1), _) | (_, Some(3)) => Some(ContentKind::Music),
                        (Some(2), _) => Some(ContentKind::Radio),
                        (Some(3), _) => Some(ContentKind::Podcast),
                        (_, Some(1)) => Some(ContentKind::Video),
                        _ => None,
                    }
                }
            };
            let req = Request {
                placement: imp.rest.get("tagid").and_then(Value::as_str).unwrap_or(""),
                format,
                country: str_at(&["device", "geo", "country"]),
                os: os.as_deref(),
                device_type,
                yob: get(&["user", "yob"])
                    .and_then(Value::as_u64)
                    .and_then(|y| u16::try_from(y).ok()),
                gender,
                content,
                genre: str_at(&["app", "content", "genre"]),
                language: str_at(&["app", "content", "language"])
                    .or(str_at(&["device", "language"])),
                utc_offset_min: get(&["device", "geo", "utcoffset"])
                    .and_then(Value::as_i64)
                    .map(|m| m as i32),
                user_key,
                min_duration_s: num("minduration").unwrap_or(0),
                max_duration_s: num("maxduration").filter(|m| *m > 0).unwrap_or(u32::MAX),
                mimes: &mimes,
                sizes: &sizes,
                floor,
            };
            let max = media
                .get("maxseq")
                .and_then(Value::as_u64)
                .map_or(1, |m| m.clamp(1, 10) as usize);
            for (n, c) in self
                .index
                .decide(&req, now_unix, store, &mut rng, max)
                .into_iter()
                .enumerate()
            {
                shared::served(
                    &self.shared,
                    &self.index,
                    caps,
                    user_key,
                    &c.line_item.id,
                    now_unix,
                );
                bids.push(bid::bid(&imp.id, n, &c));
                booked.push(Booking {
                    tier: c.tier,
                    line_item: c.line_item.id.clone(),
                });
            }
        }
        if bids.is_empty() {
            return (Outcome::NoBid, Booked::default());
        }
        let response = BidResponse {
            id: request.id.clone(),
            seatbid: vec![SeatBid {
                bid: bids,
                seat: Some(SEAT.into()),
                rest: Default::default(),
            }],
            bidid: None,
            // The catalog's CPMs are in the auction currency (an absent `cur` would mean USD).
            cur: Some(self.currency.clone()),
            nbr: None,
            ext: None,
            rest: Default::default(),
        };
        (Outcome::Bid(response), Booked(booked))
    }
}

impl Direct {
    /// The imp's floor in the auction currency, as partner bids are floored (`validation`):
    /// `bidfloor` in its `bidfloorcur`, USD when absent (OpenRTB's default); `None` when it
    /// has no rate.
    fn floor(&self, imp: &crate::openrtb::Imp) -> Option<Micros> {
        let floor = imp
            .bidfloor
            .and_then(Micros::from_f64)
            .unwrap_or(Micros::ZERO);
        if floor <= Micros::ZERO {
            return Some(Micros::ZERO);
        }
        let cur = imp.bidfloorcur.as_deref().unwrap_or("USD");
        self.rates.to_base(floor, cur)
    }
}

/// The listener's key for frequency caps: `user.id`, else `device.ifa` (present only where
/// consent let them through).
fn user_key(r: &crate::openrtb::Members) -> Option<&str> {
    let at = |a: &str, b: &str| r.get(a)?.get(b)?.as_str();
    at("user", "id").or(at("device", "ifa"))
}

/// The line item id in a direct bid id (`<line item>~<n>`, written by `bid::bid`).
fn line_item_of(bid_id: &str) -> &str {
    bid_id.rsplit_once('~').map_or(bid_id, |(li, _)| li)
}

#[cfg(test)]
mod tests;
