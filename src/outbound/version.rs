//! A partner's OpenRTB version: 2.6 partners get the request as bidgate reads it; 2.5
//! partners get the fields that 2.6 promoted out of `ext` back where 2.5 put them, the way
//! Prebid Server downgrades (`regs.gdpr`, `regs.us_privacy`, `user.consent`, `user.eids`,
//! `source.schain`).

use crate::config::OpenRtbVersion;
use crate::openrtb::Rest;
use serde_json::Value;

/// The 2.6 fields a 2.5 partner reads from `ext`: (object, member), each moved to
/// `<object>.ext.<member>`.
pub const MOVED: [(&str, &str); 5] = [
    ("regs", "gdpr"),
    ("regs", "us_privacy"),
    ("user", "consent"),
    ("user", "eids"),
    ("source", "schain"),
];

/// The version a partner's body is shaped for, as its body's key: 2.6 when the request has
/// none of the fields that move, so that a 2.5 partner then shares the 2.6 partners' body.
pub fn body_version(request: &crate::openrtb::Members, version: OpenRtbVersion) -> OpenRtbVersion {
    if version == OpenRtbVersion::V2_5 && MOVED.iter().any(|(o, m)| has(request, o, m)) {
        OpenRtbVersion::V2_5
    } else {
        OpenRtbVersion::V2_6
    }
}

fn has(request: &crate::openrtb::Members, object: &str, member: &str) -> bool {
    request
        .get(object)
        .and_then(|o| o.get(member))
        .is_some_and(|v| !v.is_null())
}

/// Moves each of `MOVED` present in `rest` into its object's `ext`. A member `ext` already
/// has (not null) wins (the sender put it where 2.5 reads it); the 2.6 field goes either way, since a
/// 2.5 partner does not know it. An `ext` that is present but not an object is left alone,
/// and so is the field: nothing the client sent is lost.
pub fn downgrade(rest: &mut Rest) {
    for (object, member) in MOVED {
        let Some(Value::Object(o)) = rest.get_mut(object) else {
            continue;
        };
        if o.get(member).is_none_or(Value::is_null) {
            continue;
        }
        let ext = o
            .entry("ext")
            .and_modify(|e| {
                if e.is_null() {
                    *e = Value::Object(Default::default());
                }
            })
            .or_insert_with(|| Value::Object(Default::default()));
        if !ext.is_object() {
            continue;
        }
        let Some(value) = o.remove(member) else {
            continue;
        };
        if let Some(Value::Object(ext)) = o.get_mut("ext")
            && ext.get(member).is_none_or(Value::is_null)
        {
            ext.insert(member.into(), value);
        }
    }
}
