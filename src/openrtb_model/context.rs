//! Where the ad appears: the distribution channel (`Site`, `App` or `Dooh`, §3.2.13, 3.2.14,
//! 3.2.32), its publisher and the content around the ad (§3.2.15-3.2.17, 3.2.23, 3.2.24).

use super::Data;
use super::object;
use serde_json::Value;

object! {
    /// §3.2.13: a website.
    Site {
        id: String,
        name: String,
        domain: String,
        cattax: i64,
        cat: Vec<String>,
        sectioncat: Vec<String>,
        pagecat: Vec<String>,
        page: String,
        r#ref: String,
        search: String,
        mobile: i64,
        privacypolicy: i64,
        publisher: Publisher,
        content: Content,
        keywords: String,
        kwarray: Vec<String>,
        inventorypartnerdomain: String,
    }
}

object! {
    /// §3.2.14: a non-browser application.
    App {
        id: String,
        name: String,
        bundle: String,
        domain: String,
        storeurl: String,
        cattax: i64,
        cat: Vec<String>,
        sectioncat: Vec<String>,
        pagecat: Vec<String>,
        ver: String,
        privacypolicy: i64,
        paid: i64,
        publisher: Publisher,
        content: Content,
        keywords: String,
        kwarray: Vec<String>,
        inventorypartnerdomain: String,
    }
}

object! {
    /// §3.2.32: a digital out-of-home screen.
    Dooh {
        id: String,
        name: String,
        venuetype: Vec<String>,
        venuetypetax: i64,
        publisher: Publisher,
        domain: String,
        keywords: String,
        content: Content,
    }
}

object! {
    /// §3.2.15: the seller paid for the inventory (a `seller_id` in sellers.json).
    Publisher {
        id: String,
        name: String,
        cattax: i64,
        cat: Vec<String>,
        domain: String,
    }
}

object! {
    /// §3.2.16: the content in which the ad appears.
    Content {
        id: String,
        episode: i64,
        title: String,
        series: String,
        season: String,
        artist: String,
        genre: String,
        gtax: i64,
        /// Typed loosely on purpose: the spec's table says "int array", its own JSON Schema
        /// says string array, and Content Taxonomy 3.x IDs are not all numeric. An array is
        /// required; its items may be either.
        genres: Vec<Value>,
        album: String,
        isrc: String,
        producer: Producer,
        url: String,
        cattax: i64,
        cat: Vec<String>,
        prodq: i64,
        context: i64,
        contentrating: String,
        userrating: String,
        qagmediarating: i64,
        keywords: String,
        kwarray: Vec<String>,
        livestream: i64,
        sourcerelationship: i64,
        len: i64,
        language: String,
        langb: String,
        embeddable: i64,
        data: Vec<Data>,
        network: Network,
        channel: Channel,
    }
}

object! {
    /// §3.2.17: who produced the content (not necessarily its publisher, e.g. syndication).
    Producer {
        id: String,
        name: String,
        cattax: i64,
        cat: Vec<String>,
        domain: String,
    }
}

object! {
    /// §3.2.23: the network a channel belongs to (e.g. a TV network).
    Network {
        id: String,
        name: String,
        domain: String,
    }
}

object! {
    /// §3.2.24: the channel the content is on (a TV channel, a radio station).
    Channel {
        id: String,
        name: String,
        domain: String,
    }
}
