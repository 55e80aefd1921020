//! Direct demand's candidates as OpenRTB bids: VAST built by bidgate (audio, video) or an
//! image tag (display) as `adm`, the advertiser's fields, the tier in `ext.tier` (for the
//! answer's readers only: the auction ranks by the typed `Booking`).

use crate::internal::{Creative, Tier};
use crate::money::Micros;
use crate::openrtb::Bid;
use serde_json::json;

pub(super) fn bid(impid: &str, n: usize, c: &crate::internal::Candidate<'_>) -> Bid {
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
    let mut bid = Bid {
        id: format!("{}~{n}", li.id),
        impid: impid.to_string(),
        price: price.to_f64(),
        adm: Some(crate::openrtb::Markup::from_text(&adm)),
        ..Bid::default()
    };
    bid.insert("adomain", json!([li.advertiser.domain]));
    bid.insert("crid", c.creative.id().into());
    bid.insert("cid", li.campaign.clone().into());
    bid.insert("mtype", mtype.into());
    if !li.categories.is_empty() {
        bid.insert("cat", json!(li.categories));
    }
    if let Some(d) = dur {
        bid.insert("dur", d.into());
    }
    if let Some([w, h]) = size {
        bid.insert("w", w.into());
        bid.insert("h", h.into());
    }
    bid.insert("ext", json!({ "tier": tier }));
    bid
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
