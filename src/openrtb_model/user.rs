//! Who sees the ad: the device (§3.2.18) with its location and structured user agent, and the
//! user (§3.2.20) with data segments and extended identifiers.

use super::object;

object! {
    /// §3.2.18: the device the ad is delivered to.
    Device {
        geo: Geo,
        dnt: i64,
        lmt: i64,
        ua: String,
        sua: UserAgent,
        ip: String,
        ipv6: String,
        devicetype: i64,
        make: String,
        model: String,
        os: String,
        osv: String,
        hwv: String,
        h: i64,
        w: i64,
        ppi: i64,
        pxratio: f64,
        js: i64,
        geofetch: i64,
        flashver: String,
        language: String,
        langb: String,
        carrier: String,
        mccmnc: String,
        connectiontype: i64,
        ifa: String,
        /// `didsha1` … `macmd5` are deprecated; still typed so that they are still checked.
        didsha1: String,
        didmd5: String,
        dpidsha1: String,
        dpidmd5: String,
        macsha1: String,
        macmd5: String,
    }
}

object! {
    /// §3.2.19: a location: the device's current one, or the user's home base.
    Geo {
        lat: f64,
        lon: f64,
        r#type: i64,
        accuracy: i64,
        lastfix: i64,
        ipservice: i64,
        country: String,
        region: String,
        regionfips104: String,
        metro: String,
        city: String,
        zip: String,
        utcoffset: i64,
    }
}

object! {
    /// §3.2.29: the user agent from User-Agent Client Hints (`device.sua`).
    UserAgent {
        browsers: Vec<BrandVersion>,
        platform: BrandVersion,
        mobile: i64,
        architecture: String,
        bitness: String,
        model: String,
        source: i64,
    }
}

object! {
    /// §3.2.30: a browser or platform brand and its version components.
    BrandVersion [brand: String] {
        version: Vec<String>,
    }
}

object! {
    /// §3.2.20: the human user of the device, the audience.
    User {
        id: String,
        buyeruid: String,
        /// Deprecated (as is `gender`); still typed.
        yob: i64,
        gender: String,
        keywords: String,
        kwarray: Vec<String>,
        customdata: String,
        geo: Geo,
        data: Vec<Data>,
        consent: String,
        eids: Vec<Eid>,
    }
}

object! {
    /// §3.2.21: data about the user or the content from one data provider.
    Data {
        id: String,
        name: String,
        cids: Vec<String>,
        segment: Vec<Segment>,
    }
}

object! {
    /// §3.2.22: one key-value data point from a data provider.
    Segment {
        id: String,
        name: String,
        value: String,
    }
}

object! {
    /// §3.2.27: the user identifiers from one source (identity provider).
    Eid {
        inserter: String,
        source: String,
        matcher: String,
        mm: i64,
        uids: Vec<Uid>,
    }
}

object! {
    /// §3.2.28: one user identifier of an `Eid`.
    Uid {
        id: String,
        atype: i64,
    }
}
