//! Markup from the win notice: a winning bid without `adm` gets it from its `nurl`.

use super::{ResponseExt, Won};
use crate::deadline::Deadline;
use crate::gateway::Gateway;
use crate::telemetry;
use crate::text::clip;

/// A winning bid without `adm` gets its markup from its win notice (`nurl`), fetched within
/// the deadline; a bid whose markup does not arrive in time is dropped (code 318).
pub(super) async fn fetch_missing_markup(
    gw: &Gateway,
    auction_id: &str,
    wins: &mut Vec<Won>,
    ext: &mut ResponseExt,
    deadline: &Deadline,
) {
    let needs = |w: &Won| !w.bid.has_markup() && w.bid.str_field("nurl").is_some();
    if !wins.iter().any(needs) {
        return;
    }
    let fetches = wins
        .iter()
        .enumerate()
        .filter(|(_, w)| needs(w))
        .map(|(i, w)| {
            let partner = &gw.partners[w.partner];
            let values = w.macros(auction_id, partner.id.as_str());
            let url =
                crate::macros::substitute_url(w.bid.str_field("nurl").unwrap_or_default(), &values)
                    .into_owned();
            async move {
                // The answer still has to be built after this: stop with the processing
                // reserve left, as the fan-out does.
                let until = deadline.fanout_close(&gw.config.auction);
                let markup = crate::notices::fetch_markup(
                    &gw.events.notifier,
                    &url,
                    until,
                    partner.demand.max_response_bytes(),
                    partner.notices.allow_private,
                )
                .await;
                (i, markup)
            }
        });
    let fetched = futures_util::future::join_all(fetches).await;
    let mut dropped = Vec::new();
    for (i, markup) in fetched {
        match markup {
            Ok(adm) => {
                wins[i].bid.set_adm(&adm);
            }
            Err(why) => dropped.push((i, why)),
        }
    }
    for (i, why) in dropped.iter().rev() {
        let w = wins.remove(*i);
        let id = gw.partners[w.partner].id.as_str();
        telemetry::bids_rejected(id, NO_MARKUP_CODE, 1);
        ext.push_error(
            id,
            NO_MARKUP_CODE,
            format!("bid {}: {why}", clip(&w.bid.id)),
        );
    }
}

/// `ext.errors` code of a winning bid whose markup could not be fetched from its `nurl`.
pub const NO_MARKUP_CODE: u32 = 318;
