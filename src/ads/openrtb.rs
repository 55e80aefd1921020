//! An ad request as one OpenRTB 2.6 bid request: one imp per slot, with the placement's
//! format object, floor and pod fields, plus `app`, `device`, `user` and `regs`.
//!
//! Privacy is applied here, before anything leaves bidgate: without consent (see
//! `personal_data_allowed`) the request carries no user id, year of birth, gender or
//! advertising id, and the IP address is truncated (IPv4 to /24, IPv6 to /48).

use super::{AdRequest, ContentKind, personal_data_allowed};
use crate::auction::Pod;
use crate::config::{AdFormat, PlacementConfig, Position};
use crate::exchange::ImpSpec;
use crate::money::Micros;
use crate::openrtb::{BidRequest, Imp, Rest};
use crate::vocab::Listener;
use serde_json::{Value, json};
use std::net::IpAddr;

/// VAST 2.0–4.2, inline and wrapper (AdCOM protocols 2, 3, 5–8, 11–14).
const PROTOCOLS: [u8; 10] = [2, 3, 5, 6, 7, 8, 11, 12, 13, 14];

/// The bid request and, per imp (= per slot, same order), its placement and auction rules.
pub struct Mapped<'a> {
    pub request: BidRequest,
    pub placements: Vec<&'a PlacementConfig>,
    pub specs: Vec<ImpSpec>,
    /// The smallest tmax of the request and its placements, if any was given.
    pub tmax_ms: Option<u64>,
    /// The request's typed targeting values, as consent allows (for direct demand, which
    /// would otherwise read them back, with losses, from the OpenRTB codes).
    pub listener: Listener,
}

/// `partner_index` maps a partner id to its index in `Gateway::partners` (disabled or
/// unknown partners map to `None` and are left out).
pub fn to_openrtb<'a>(
    r: &AdRequest,
    placements: &'a [PlacementConfig],
    auction_id: &str,
    currency: &str,
    peer: Option<IpAddr>,
    partner_index: impl Fn(&str) -> Option<crate::partners::PartnerIx>,
) -> Mapped<'a> {
    let mut imps = Vec::with_capacity(r.slots.len());
    let mut chosen = Vec::with_capacity(r.slots.len());
    let mut specs = Vec::with_capacity(r.slots.len());
    let mut tmax_ms = r.tmax_ms;
    for slot in &r.slots {
        let p = placements
            .iter()
            .find(|p| p.id == slot.placement)
            .expect("placements are checked by `parse`");
        tmax_ms = match (tmax_ms, p.tmax_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        imps.push(imp(&slot.id, p, r.context.content, currency));
        specs.push(ImpSpec {
            floor: Micros::from_f64(p.floor).unwrap_or(Micros::ZERO),
            pod: p.pod.map(|pod| Pod {
                max_ads: pod.max_ads,
                max_duration_s: pod.max_duration_s,
                min_ad_s: p.min_duration_s,
                max_ad_s: p.max_duration_s,
            }),
            partners: (!p.partners.is_empty()).then(|| {
                p.partners
                    .iter()
                    .filter_map(|id| partner_index(id))
                    .collect()
            }),
            playable: matches!(p.format, AdFormat::Audio | AdFormat::Video),
        });
        chosen.push(p);
    }
    let personal = personal_data_allowed(r);
    let listener = Listener {
        device_type: r.device.r#type,
        gender: r.user.gender.filter(|_| personal),
        content: r.context.content,
    };
    let mut rest = Rest::new();
    rest.insert("app".into(), app(r));
    rest.insert("device".into(), device(r, peer, personal));
    if let Some(user) = user(r, personal) {
        rest.insert("user".into(), user);
    }
    rest.insert("regs".into(), regs(r));
    rest.insert("source".into(), json!({ "tid": auction_id }));
    let request = BidRequest {
        id: auction_id.to_string(),
        imp: imps,
        tmax: None,
        at: None,
        cur: None,
        rest: rest.into(),
    };
    Mapped {
        request,
        placements: chosen,
        specs,
        tmax_ms,
        listener,
    }
}

fn imp(id: &str, p: &PlacementConfig, content: Option<ContentKind>, currency: &str) -> Imp {
    let mut rest = Rest::new();
    rest.insert("tagid".into(), p.id.clone().into());
    rest.insert("secure".into(), 1.into());
    match p.format {
        AdFormat::Display => {
            let format: Vec<Value> = p
                .sizes
                .iter()
                .map(|[w, h]| json!({"w": w, "h": h}))
                .collect();
            let [w, h] = p.sizes[0];
            rest.insert("banner".into(), json!({ "format": format, "w": w, "h": h }));
        }
        AdFormat::Audio | AdFormat::Video => {
            let mut o = json!({
                "mimes": mimes(p),
                "minduration": p.min_duration_s,
                "maxduration": p.max_duration_s,
                "protocols": PROTOCOLS,
                "startdelay": match p.position { Position::Pre => 0, Position::Mid => -1, Position::Post => -2 },
            });
            if let Some([w, h]) = p.companion {
                o["companionad"] = json!([{ "id": "1", "w": w, "h": h }]);
                o["companiontype"] = json!([1]); // static resource
            }
            if let Some(pod) = p.pod {
                o["podid"] = json!(id);
                o["poddur"] = json!(pod.max_duration_s);
                o["maxseq"] = json!(pod.max_ads);
                o["slotinpod"] = json!(0);
            }
            if p.format == AdFormat::Audio {
                // AdCOM feed types: 1 music service, 2 broadcast radio, 3 podcast.
                if let Some(feed) = match content {
                    Some(ContentKind::Music) => Some(1),
                    Some(ContentKind::Radio) => Some(2),
                    Some(ContentKind::Podcast) => Some(3),
                    _ => None,
                } {
                    o["feed"] = json!(feed);
                }
                rest.insert("audio".into(), o);
            } else {
                if let Some([w, h]) = p.sizes.first() {
                    o["w"] = json!(w);
                    o["h"] = json!(h);
                }
                o["plcmt"] = json!(1); // instream
                o["linearity"] = json!(1);
                rest.insert("video".into(), o);
            }
        }
    }
    Imp {
        id: id.to_string(),
        bidfloor: Some(Micros::from_f64(p.floor).unwrap_or(Micros::ZERO).to_f64()),
        bidfloorcur: Some(currency.to_string()),
        rest,
    }
}

fn mimes(p: &PlacementConfig) -> Vec<String> {
    if !p.mimes.is_empty() {
        return p.mimes.clone();
    }
    let defaults: &[&str] = match p.format {
        AdFormat::Audio => &["audio/mpeg", "audio/mp4", "audio/aac"],
        _ => &["video/mp4"],
    };
    defaults.iter().map(|s| s.to_string()).collect()
}

fn app(r: &AdRequest) -> Value {
    let a = &r.app;
    let c = &r.context;
    let mut content = json!({});
    for (k, v) in [
        ("genre", &c.genre),
        ("title", &c.title),
        ("series", &c.series),
        ("language", &c.language),
    ] {
        if let Some(v) = v {
            content[k] = json!(v);
        }
    }
    // AdCOM content contexts: 1 video, 3 music.
    match c.content {
        Some(ContentKind::Music) => content["context"] = json!(3),
        Some(ContentKind::Video) => content["context"] = json!(1),
        _ => {}
    }
    let mut app = json!({ "bundle": a.bundle, "content": content });
    for (k, v) in [
        ("name", &a.name),
        ("ver", &a.version),
        ("storeurl", &a.store_url),
    ] {
        if let Some(v) = v {
            app[k] = json!(v);
        }
    }
    app
}

fn device(r: &AdRequest, peer: Option<IpAddr>, personal: bool) -> Value {
    let d = &r.device;
    let mut o = json!({ "lmt": if d.lmt || !personal { 1 } else { 0 } });
    for (k, v) in [
        ("os", &d.os),
        ("osv", &d.os_version),
        ("make", &d.make),
        ("model", &d.model),
        ("ua", &d.ua),
        ("language", &d.language),
    ] {
        if let Some(v) = v {
            o[k] = json!(v);
        }
    }
    if let Some(t) = d.r#type {
        // AdCOM device types: 2 PC, 3 connected TV, 4 phone, 5 tablet, 6 connected device.
        o["devicetype"] = json!(t.to_openrtb());
    }
    if personal && let Some(ifa) = &d.ifa {
        o["ifa"] = json!(ifa);
    }
    match d
        .ip
        .or(peer)
        .map(|ip| if personal { ip } else { truncate(ip) })
    {
        Some(IpAddr::V4(ip)) => o["ip"] = json!(ip.to_string()),
        Some(IpAddr::V6(ip)) => o["ipv6"] = json!(ip.to_string()),
        None => {}
    }
    let mut geo = json!({});
    if let Some(country) = &r.context.country {
        geo["country"] = json!(country);
    }
    if let Some(offset) = d.utc_offset_min {
        geo["utcoffset"] = json!(offset);
    }
    if geo.as_object().is_some_and(|g| !g.is_empty()) {
        o["geo"] = geo;
    }
    o
}

/// IPv4 to its /24, IPv6 to its /48: the network, not the household.
pub fn truncate(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::from([a, b, c, 0])
        }
        IpAddr::V6(v6) => {
            let mut s = v6.segments();
            s[3..].fill(0);
            IpAddr::from(s)
        }
    }
}

fn user(r: &AdRequest, personal: bool) -> Option<Value> {
    let u = &r.user;
    let mut o = json!({});
    if let Some(tcf) = &u.consent.tcf {
        o["consent"] = json!(tcf);
    }
    if personal {
        if let Some(id) = &u.id {
            o["id"] = json!(id);
        }
        if let Some(yob) = u.yob {
            o["yob"] = json!(yob);
        }
        if let Some(g) = u.gender {
            o["gender"] = json!(g.to_openrtb());
        }
    }
    (o.as_object().is_some_and(|m| !m.is_empty())).then_some(o)
}

fn regs(r: &AdRequest) -> Value {
    let c = &r.user.consent;
    let mut o = json!({ "coppa": c.coppa as u8, "gdpr": c.gdpr as u8 });
    if let Some(us) = &c.us_privacy {
        o["us_privacy"] = json!(us);
    }
    if let Some(gpp) = &c.gpp {
        o["gpp"] = json!(gpp);
        o["gpp_sid"] = json!(c.gpp_sid);
    }
    o
}
