//! The top of a bid request (§3.2.1) and its request-wide objects: `Source` (with the supply
//! chain) and `Regs`.

use super::object;
use super::{App, Device, Dooh, Imp, Site, User};

object! {
    /// §3.2.1: the top-level bid request; `id` and at least one `imp` are required (the
    /// "at least one" is validation's to judge, not the parser's).
    BidRequest [id: String, imp: Vec<Imp>] {
        site: Site,
        app: App,
        dooh: Dooh,
        device: Device,
        user: User,
        test: i64,
        at: i64,
        tmax: i64,
        wseat: Vec<String>,
        bseat: Vec<String>,
        allimps: i64,
        cur: Vec<String>,
        wlang: Vec<String>,
        wlangb: Vec<String>,
        acat: Vec<String>,
        bcat: Vec<String>,
        cattax: i64,
        badv: Vec<String>,
        bapp: Vec<String>,
        source: Source,
        regs: Regs,
    }
}

object! {
    /// §3.2.2: the entity upstream of the exchange (header bidding, another exchange).
    Source {
        fd: i64,
        tid: String,
        pchain: String,
        schain: SupplyChain,
    }
}

object! {
    /// §3.2.25: every entity in the direct flow of payment for the inventory (sellers.json).
    SupplyChain [complete: i64, nodes: Vec<SupplyChainNode>, ver: String] {}
}

object! {
    /// §3.2.26: one seller or reseller in a `SupplyChain`.
    SupplyChainNode [asi: String, sid: String] {
        rid: String,
        name: String,
        domain: String,
        hp: i64,
    }
}

object! {
    /// §3.2.3: the regulations in force (COPPA, GDPR, US Privacy, GPP).
    Regs {
        coppa: i64,
        gdpr: i64,
        us_privacy: String,
        gpp: String,
        gpp_sid: Vec<i64>,
    }
}
