//! Removing personal identifiers from a bid request, for a partner that may not have them.

use serde_json::{Map, Number, Value};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Identify the user across sites and apps, or describe the person.
const USER_FIELDS: [&str; 6] = ["id", "buyeruid", "yob", "gender", "eids", "data"];

/// Identify the device.
const DEVICE_FIELDS: [&str; 7] = [
    "ifa", "didsha1", "didmd5", "dpidsha1", "dpidmd5", "macsha1", "macmd5",
];

/// Removes personal identifiers from a request's `rest` (in place):
///
/// - `user`: `id`, `buyeruid`, `yob`, `gender`, `eids`, `ext.eids` and `data` are removed;
///   `geo.lat`/`geo.lon` are rounded to 2 decimals.
/// - `device`: `ifa`, `didsha1`, `didmd5`, `dpidsha1`, `dpidmd5`, `macsha1` and `macmd5` are
///   removed; `ip` is cut to its /24 and `ipv6` to its /48 (each by the family of the address
///   it actually holds); `geo.lat`/`geo.lon` are rounded to 2 decimals.
///
/// Everything else stays, on purpose: `user.consent`, `regs` and `device.lmt` are the signals
/// the partner must see to apply its own rules (and `lmt` is the user's OS setting, not ours
/// to change); coarse location (`geo.country`, `region`, `city`, `zip`, `accuracy`, …) is not
/// an identifier. A 2-decimal coordinate is within about 1.1 km; `geo.accuracy` is left as
/// sent, so it now understates the error.
///
/// Hostile shapes get the safe default: a `user`, `device` or `geo` that is not an object, an
/// address that does not parse and a coordinate that is not a number are removed whole, since
/// what they hold cannot be inspected.
pub fn strip(rest: &mut Map<String, Value>) {
    edit_object(rest, "user", |user| {
        for field in USER_FIELDS {
            user.remove(field);
        }
        if let Some(Value::Object(ext)) = user.get_mut("ext") {
            ext.remove("eids");
        }
        edit_object(user, "geo", round_geo);
    });
    edit_object(rest, "device", |device| {
        for field in DEVICE_FIELDS {
            device.remove(field);
        }
        for field in ["ip", "ipv6"] {
            let truncated = device.get(field).map(|v| v.as_str().and_then(truncate_ip));
            match truncated {
                Some(Some(ip)) => {
                    device.insert(field.to_owned(), Value::String(ip));
                }
                Some(None) => {
                    device.remove(field);
                }
                None => {}
            }
        }
        edit_object(device, "geo", round_geo);
    });
}

/// Applies `edit` to `parent[key]` when it is an object; removes it when it is anything else.
fn edit_object(
    parent: &mut Map<String, Value>,
    key: &str,
    edit: impl FnOnce(&mut Map<String, Value>),
) {
    match parent.get_mut(key) {
        Some(Value::Object(o)) => edit(o),
        Some(_) => {
            parent.remove(key);
        }
        None => {}
    }
}

fn round_geo(geo: &mut Map<String, Value>) {
    for key in ["lat", "lon"] {
        let rounded = geo.get(key).map(|v| v.as_f64().and_then(round_coordinate));
        match rounded {
            Some(Some(x)) => {
                geo.insert(key.to_owned(), Value::Number(x));
            }
            Some(None) => {
                geo.remove(key);
            }
            None => {}
        }
    }
}

/// `x` rounded to 2 decimals (`None` if it overflows to infinity on the way).
pub(super) fn round_coordinate(x: f64) -> Option<Number> {
    Number::from_f64((x * 100.0).round() / 100.0)
}

/// The address's network part: IPv4 to /24 (`a.b.c.0`), IPv6 to /48 (`a:b:c::`). `None` for
/// text that is not an address.
pub(super) fn truncate_ip(text: &str) -> Option<String> {
    Some(match text.trim().parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            Ipv4Addr::new(a, b, c, 0).to_string()
        }
        IpAddr::V6(v6) => {
            let [a, b, c, ..] = v6.segments();
            Ipv6Addr::new(a, b, c, 0, 0, 0, 0, 0).to_string()
        }
    })
}
