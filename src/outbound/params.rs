//! Each partner's own `imp.ext` params. Publishers (and Prebid) put bidder params under
//! `imp.ext.<partner id>` or `imp.ext.prebid.bidder.<partner id>`; a partner must see only
//! its own, as `imp.ext.bidder` (the convention bidders read), and never another partner's
//! key: those hold other bidders' placement ids and deal terms.

use crate::openrtb::Imp;
use serde_json::Value;

/// Keys of `imp.ext` that are conventions, never a partner's params, whatever partners are
/// called.
const RESERVED: [&str; 2] = ["prebid", "bidder"];

/// Whose `imp.ext` params a partner's body carries.
#[derive(Clone, Copy)]
pub enum Params<'a> {
    /// No imp carries partner params: `imp.ext` goes out as sent (the usual case, one body
    /// for everyone).
    AsSent,
    /// Every partner key removed (`is_partner`); `own`'s params, if any, as `imp.ext.bidder`.
    Scoped {
        own: Option<&'a str>,
        is_partner: &'a dyn Fn(&str) -> bool,
    },
}

impl Params<'_> {
    pub fn is_as_sent(&self) -> bool {
        matches!(self, Params::AsSent)
    }

    /// The imp as this partner sees it.
    pub fn apply(&self, imp: &Imp) -> Imp {
        let mut imp = imp.clone();
        let Params::Scoped { own, is_partner } = *self else {
            return imp;
        };
        let Some(Value::Object(ext)) = imp.rest.get_mut("ext") else {
            return imp;
        };
        let mine = own.and_then(|id| {
            ext.get(id)
                .or_else(|| ext.get("prebid")?.get("bidder")?.get(id))
                .cloned()
        });
        ext.retain(|k, _| RESERVED.contains(&k.as_str()) || !is_partner(k));
        if let Some(Value::Object(prebid)) = ext.get_mut("prebid") {
            if let Some(Value::Object(bidder)) = prebid.get_mut("bidder") {
                bidder.retain(|k, _| !is_partner(k));
                if bidder.is_empty() {
                    prebid.remove("bidder");
                }
            }
            if prebid.is_empty() {
                ext.remove("prebid");
            }
        }
        if let Some(mine) = mine {
            ext.insert("bidder".into(), mine);
        }
        imp
    }
}

/// Which of `partners` partners have params in some imp (`index` maps a key to an enabled
/// partner; `is_partner` also knows disabled ones, whose params must not leak either);
/// `None` when no imp carries any partner's params, so that bodies need no scoping at all.
/// Read once per request: one lookup per `imp.ext` key.
pub fn scan_params(
    imps: &[Imp],
    partners: usize,
    index: impl Fn(&str) -> Option<usize>,
    is_partner: impl Fn(&str) -> bool,
) -> Option<Vec<bool>> {
    let mut has: Option<Vec<bool>> = None;
    let mut mark = |key: &str| {
        if RESERVED.contains(&key) {
            return;
        }
        if let Some(i) = index(key) {
            has.get_or_insert_with(|| vec![false; partners])[i] = true;
        } else if is_partner(key) {
            has.get_or_insert_with(|| vec![false; partners]);
        }
    };
    for imp in imps {
        let Some(Value::Object(ext)) = imp.rest.get("ext") else {
            continue;
        };
        for key in ext.keys() {
            mark(key);
        }
        if let Some(Value::Object(bidder)) = ext.get("prebid").and_then(|p| p.get("bidder")) {
            for key in bidder.keys() {
                mark(key);
            }
        }
    }
    has
}
