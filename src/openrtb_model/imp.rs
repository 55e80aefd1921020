//! The impression (§3.2.4) and what rides on it besides the media objects: metrics, private
//! marketplace deals, the DOOH quantity multiplier and auto-refresh settings.

use super::object;
use super::{Audio, Banner, DurFloors, Native, Video};

object! {
    /// §3.2.4: one ad placement being auctioned; the media objects present say what it offers.
    Imp [id: String] {
        metric: Vec<Metric>,
        banner: Banner,
        video: Video,
        audio: Audio,
        native: Native,
        pmp: Pmp,
        displaymanager: String,
        displaymanagerver: String,
        instl: i64,
        tagid: String,
        bidfloor: f64,
        bidfloorcur: String,
        clickbrowser: i64,
        secure: i64,
        iframebuster: Vec<String>,
        rwdd: i64,
        ssai: i64,
        exp: i64,
        qty: Qty,
        /// Milliseconds since the epoch, typed `float` by the spec (so not an `i64`).
        dt: f64,
        refresh: Refresh,
    }
}

object! {
    /// §3.2.5: a measured data point about the impression (viewability, CTR, …).
    Metric [r#type: String, value: f64] {
        vendor: String,
    }
}

object! {
    /// §3.2.11: the private marketplace container of an impression.
    Pmp {
        private_auction: i64,
        deals: Vec<Deal>,
    }
}

object! {
    /// §3.2.12: one deal struck between a buyer and the seller.
    Deal [id: String] {
        bidfloor: f64,
        bidfloorcur: String,
        at: i64,
        wseat: Vec<String>,
        wadomain: Vec<String>,
        guar: i64,
        mincpmpersec: f64,
        durfloors: Vec<DurFloors>,
    }
}

object! {
    /// §3.2.31: how many billable impressions one DOOH/CTV "spot" counts for.
    Qty [multiplier: f64] {
        sourcetype: i64,
        vendor: String,
    }
}

object! {
    /// §3.2.33: an ad slot that refreshes by itself (`imp.refresh`).
    Refresh {
        refsettings: Vec<RefSettings>,
        count: i64,
    }
}

object! {
    /// §3.2.34: what triggers a refresh and how often at least.
    RefSettings {
        reftype: i64,
        minint: i64,
    }
}
