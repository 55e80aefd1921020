//! Counts, sizes and ids the spec requires (OpenRTB 2.6 §3.2): a negative size, duration,
//! bitrate or position means nothing a bidder can act on, so it is refused with a 400
//! naming the field rather than passed on for each partner to trip over.

use serde_json::Value;

/// Integer fields the spec defines as a count, size, duration, bitrate, sequence, accuracy,
/// ppi or position, which a negative value makes meaningless, by object path. (Fields
/// where the spec gives negatives a meaning, such as `startdelay`, `podseq`, `slotinpod`
/// and `maxextended`, are not here.)
const IMP_COUNTS: &[(&str, &[&[&str]])] = &[
    ("", &[&["exp", "instl"]]),
    ("banner", &[&["w", "h", "pos"]]),
    (
        "video",
        &[
            TIMED,
            &["w", "h", "pos", "skipmin", "skipafter", "linearity"],
        ],
    ),
    ("audio", &[TIMED, &["feed", "nvol"]]),
];

/// What video and audio share: durations, bitrates, sequence.
const TIMED: &[&str] = &[
    "minduration",
    "maxduration",
    "minbitrate",
    "maxbitrate",
    "sequence",
    "maxseq",
    "poddur",
];

/// The same for objects of the request itself (`geo.accuracy` is checked in each).
const REQUEST_COUNTS: &[(&str, &[&str])] =
    &[("device", &["w", "h", "ppi", "devicetype"]), ("user", &[])];

/// The request's own objects: `REQUEST_COUNTS` (each with `geo.accuracy`) and the
/// content's length in seconds (`len`, a duration) for each kind of distribution.
pub(super) fn check_request(r: &crate::openrtb::Members) -> Result<(), String> {
    for (object, keys) in REQUEST_COUNTS {
        noted(r, object, |p| p == "geo.accuracy" || keys.contains(&p))
            .unwrap_or_else(|| non_negative(r.get(object), keys, || format!("request.{object}")))?;
    }
    for object in ["site", "app", "dooh"] {
        noted(r, object, |p| p == "content.len").unwrap_or_else(|| {
            let content = r.get(object).and_then(|o| o.get("content"));
            non_negative(content, &["len"], || format!("request.{object}.content"))
        })?;
    }
    Ok(())
}

/// `object` as sent: refused at the first negative number noted when it was read
/// (`Members::negatives_as_sent`) at a path `listed` names. `None` once it was parsed or
/// changed: its tree is then checked instead.
fn noted(
    r: &crate::openrtb::Members,
    object: &str,
    listed: impl Fn(&str) -> bool,
) -> Option<Result<(), String>> {
    let paths = r.negatives_as_sent(object)?;
    Some(match paths.iter().find(|p| listed(p)) {
        Some(p) => Err(format!("request.{object}.{p} must be >= 0")),
        None => Ok(()),
    })
}

/// Each of `keys` in `object` (at `path()`) is absent or a number >= 0. The path is only
/// formatted for an error: formatting it for every object checked was most of the cost of
/// validating an imp (callgrind: ~10,000 instructions each).
pub(super) fn non_negative(
    object: Option<&Value>,
    keys: &[&str],
    path: impl Fn() -> String,
) -> Result<(), String> {
    non_negative_in(object, &[keys], path)
}

/// [`non_negative`] with the keys in several lists (an object's own and those it shares).
fn non_negative_in(
    object: Option<&Value>,
    lists: &[&[&str]],
    path: impl Fn() -> String,
) -> Result<(), String> {
    let Some(o) = object else { return Ok(()) };
    if let Some(k) = o.as_object().and_then(|m| negative(m, lists)) {
        return Err(format!("{}.{k} must be >= 0", path()));
    }
    if let Some(accuracy) = o
        .get("geo")
        .and_then(|g| g.get("accuracy"))
        .and_then(Value::as_f64)
        && accuracy < 0.0
    {
        return Err(format!("{}.geo.accuracy must be >= 0", path()));
    }
    Ok(())
}

/// The first member of `object` that is in one of `lists` and a negative number. One pass
/// over the members, a key compared only for a negative number (valid requests have none):
/// looking each key up instead was ~40 B-tree searches an imp (callgrind).
fn negative<'a>(object: &'a crate::openrtb::Rest, lists: &[&[&str]]) -> Option<&'a str> {
    object.iter().find_map(|(k, v)| {
        let listed = || lists.iter().any(|l| l.contains(&k.as_str()));
        (v.as_f64().is_some_and(|v| v < 0.0) && listed()).then_some(k.as_str())
    })
}

/// An imp's counts and sizes are not negative (see `IMP_COUNTS`), its banner formats' and
/// its durations' included, and each of its deals has an `id` (a deal bid names it).
pub(super) fn check_counts(i: usize, imp: &crate::openrtb::Rest) -> Result<(), String> {
    // The path is written only for an error: most requests have none.
    let at = || format!("request.imp[{i}]");
    for (object, lists) in IMP_COUNTS {
        match *object {
            "" => {
                if let Some(k) = negative(imp, lists) {
                    return Err(format!("{}.{k} must be >= 0", at()));
                }
            }
            o => non_negative_in(imp.get(o), lists, || format!("{}.{o}", at()))?,
        }
    }
    let items = |o: &str, k: &str| {
        imp.get(o)
            .and_then(|v| v.get(k))
            .and_then(Value::as_array)
            .map(|a| a.iter().enumerate())
            .into_iter()
            .flatten()
    };
    for (j, f) in items("banner", "format") {
        non_negative(Some(f), &["w", "h", "wratio", "hratio", "wmin"], || {
            format!("{}.banner.format[{j}]", at())
        })?;
    }
    for kind in ["video", "audio"] {
        for (j, d) in items(kind, "rqddurs") {
            if d.as_f64().is_some_and(|v| v < 0.0) {
                return Err(format!("{}.{kind}.rqddurs[{j}] must be >= 0", at()));
            }
        }
        // Companion banners are sizes and positions too; duration floors' bounds, durations.
        for (j, c) in items(kind, "companionad") {
            non_negative(Some(c), &["w", "h", "pos"], || {
                format!("{}.{kind}.companionad[{j}]", at())
            })?;
        }
        for (j, f) in items(kind, "durfloors") {
            non_negative(Some(f), &["mindur", "maxdur"], || {
                format!("{}.{kind}.durfloors[{j}]", at())
            })?;
        }
    }
    // Auto-refresh: how many refreshes, and the least seconds between them.
    non_negative(imp.get("refresh"), &["count"], || {
        format!("{}.refresh", at())
    })?;
    for (j, r) in items("refresh", "refsettings") {
        non_negative(Some(r), &["minint"], || {
            format!("{}.refresh.refsettings[{j}]", at())
        })?;
    }
    for (j, deal) in items("pmp", "deals") {
        if deal
            .get("id")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(format!(
                "{}.pmp.deals[{j}].id must be present and non-empty",
                at()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn imp(v: Value) -> crate::openrtb::Rest {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn a_listed_member_that_is_negative_is_named_and_others_pass() {
        let video = |v: Value| check_counts(0, &imp(json!({"video": v})));
        assert_eq!(
            video(json!({"startdelay": -1, "w": 640, "poddur": 0})),
            Ok(()),
            "startdelay may be negative (mid- and post-roll)"
        );
        assert_eq!(
            video(json!({"startdelay": -1, "linearity": -1})),
            Err("request.imp[0].video.linearity must be >= 0".into())
        );
        assert_eq!(
            check_counts(3, &imp(json!({"exp": -300, "tagid": "x"}))),
            Err("request.imp[3].exp must be >= 0".into())
        );
        assert_eq!(
            check_counts(0, &imp(json!({"audio": [1, -2], "instl": 0, "exp": 0.5}))),
            Ok(()),
            "not an object: nothing to check in it"
        );
        assert_eq!(
            non_negative(
                Some(&json!({"w": 1, "geo": {"accuracy": -1}})),
                &["w", "h"],
                || "request.device".into()
            ),
            Err("request.device.geo.accuracy must be >= 0".into())
        );
    }
}
