//! The media objects an impression offers (§3.2.6-3.2.10) and the duration floors of video and
//! audio (§3.2.35).

use super::object;

object! {
    /// §3.2.6: a banner impression, or a companion ad of a video/audio one.
    Banner {
        format: Vec<Format>,
        w: i64,
        h: i64,
        btype: Vec<i64>,
        battr: Vec<i64>,
        pos: i64,
        mimes: Vec<String>,
        topframe: i64,
        expdir: Vec<i64>,
        api: Vec<i64>,
        id: String,
        vcm: i64,
    }
}

object! {
    /// §3.2.10: one allowed banner size, or Flex Ad ratio.
    Format {
        w: i64,
        h: i64,
        wratio: i64,
        hratio: i64,
        wmin: i64,
    }
}

object! {
    /// §3.2.7: a video impression (VAST), including ad pods.
    Video [mimes: Vec<String>] {
        minduration: i64,
        maxduration: i64,
        startdelay: i64,
        maxseq: i64,
        poddur: i64,
        protocols: Vec<i64>,
        w: i64,
        h: i64,
        podid: String,
        podseq: i64,
        rqddurs: Vec<i64>,
        /// Deprecated by `plcmt`; still sent by many, so still typed.
        placement: i64,
        plcmt: i64,
        linearity: i64,
        skip: i64,
        skipmin: i64,
        skipafter: i64,
        /// Deprecated by pod bidding (`slotinpod`, `podseq`); still typed.
        sequence: i64,
        slotinpod: i64,
        mincpmpersec: f64,
        battr: Vec<i64>,
        maxextended: i64,
        minbitrate: i64,
        maxbitrate: i64,
        boxingallowed: i64,
        playbackmethod: Vec<i64>,
        playbackend: i64,
        delivery: Vec<i64>,
        pos: i64,
        companionad: Vec<Banner>,
        api: Vec<i64>,
        companiontype: Vec<i64>,
        poddedupe: Vec<i64>,
        durfloors: Vec<DurFloors>,
    }
}

object! {
    /// §3.2.8: an audio impression (DAAST/VAST), including ad pods.
    Audio [mimes: Vec<String>] {
        minduration: i64,
        maxduration: i64,
        poddur: i64,
        protocols: Vec<i64>,
        startdelay: i64,
        rqddurs: Vec<i64>,
        podid: String,
        podseq: i64,
        /// Deprecated by pod bidding (`slotinpod`, `podseq`); still typed.
        sequence: i64,
        slotinpod: i64,
        mincpmpersec: f64,
        battr: Vec<i64>,
        maxextended: i64,
        minbitrate: i64,
        maxbitrate: i64,
        delivery: Vec<i64>,
        companionad: Vec<Banner>,
        api: Vec<i64>,
        companiontype: Vec<i64>,
        maxseq: i64,
        feed: i64,
        stitched: i64,
        nvol: i64,
        durfloors: Vec<DurFloors>,
    }
}

object! {
    /// §3.2.9: a native impression; `request` is the Native Ads API payload as an opaque JSON
    /// string, which evolves under its own specification.
    Native [request: String] {
        ver: String,
        api: Vec<i64>,
        battr: Vec<i64>,
    }
}

object! {
    /// §3.2.35: a floor for creatives within a duration range (video, audio, and deals).
    DurFloors {
        mindur: i64,
        maxdur: i64,
        bidfloor: f64,
    }
}
