//! The bid response (§4.2): bids grouped by buyer seat.

use super::object;

object! {
    /// §4.2.1: the top-level bid response; a response without `seatbid` is a no-bid (`nbr`
    /// may say why).
    BidResponse [id: String] {
        seatbid: Vec<SeatBid>,
        bidid: String,
        cur: String,
        customdata: String,
        nbr: i64,
    }
}

object! {
    /// §4.2.2: the bids made on behalf of one buyer seat.
    SeatBid [bid: Vec<Bid>] {
        seat: String,
        group: i64,
    }
}

object! {
    /// §4.2.3: an offer to buy one impression.
    Bid [id: String, impid: String, price: f64] {
        nurl: String,
        burl: String,
        lurl: String,
        adm: String,
        adid: String,
        adomain: Vec<String>,
        bundle: String,
        iurl: String,
        cid: String,
        crid: String,
        tactic: String,
        cattax: i64,
        cat: Vec<String>,
        attr: Vec<i64>,
        apis: Vec<i64>,
        /// Deprecated in favour of `apis`; a single integer, unlike the request's `api` arrays.
        api: i64,
        protocol: i64,
        qagmediarating: i64,
        language: String,
        langb: String,
        dealid: String,
        w: i64,
        h: i64,
        wratio: i64,
        hratio: i64,
        exp: i64,
        dur: i64,
        mtype: i64,
        slotinpod: i64,
    }
}
