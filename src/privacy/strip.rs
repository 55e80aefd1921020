//! Removing and coarsening personal data in a bid request, for a partner that may not have it.

use super::Reasons;
use super::table::{Action, Coarse, FIELDS, Field};
use serde_json::{Map, Number, Value};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Applies the rules of [`table`](super::table) for `reasons` to a request's `rest` (in
/// place): each listed field gets the strongest action any of the reasons asks for.
///
/// Hostile shapes get the safe default: a parent on a field's path (`user`, `device`, `geo`,
/// `ext`) that is not an object, an address that does not parse and a coordinate that is not
/// a number are removed whole, since what they hold cannot be inspected. A parent is only
/// looked at for a field that some reason changes: with no reason, nothing is touched.
pub fn strip(rest: &mut Map<String, Value>, reasons: Reasons) {
    for field in FIELDS {
        let action = field.action(reasons.iter());
        if action != Action::Keep {
            apply(rest, field, action);
        }
    }
}

fn apply(rest: &mut Map<String, Value>, field: &Field, action: Action) {
    let Some((last, parents)) = field.path.split_last() else {
        return;
    };
    let mut map = rest;
    for key in parents {
        // Looked at before borrowing mutably, so a parent of the wrong shape can be removed.
        match map.get(*key) {
            Some(Value::Object(_)) => {}
            Some(_) => {
                map.remove(*key);
                return;
            }
            None => return,
        }
        let Some(Value::Object(child)) = map.get_mut(*key) else {
            return;
        };
        map = child;
    }
    let coarsened = match (action, field.coarse) {
        (Action::Coarsen, Some(kind)) => match map.get(*last) {
            None => return,
            Some(v) => coarsen(kind, v),
        },
        _ => None,
    };
    match coarsened {
        Some(v) => {
            map.insert((*last).to_owned(), v);
        }
        None => {
            map.remove(*last);
        }
    }
}

/// The coarse value, or `None` when `v` is not of the kind (then the field is removed).
fn coarsen(kind: Coarse, v: &Value) -> Option<Value> {
    match kind {
        Coarse::Coordinate => v.as_f64().and_then(round_coordinate).map(Value::Number),
        Coarse::Address => v.as_str().and_then(truncate_ip).map(Value::String),
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
