//! The privacy rules as one table: for each field a rule touches, what each signal does to it.
//!
//! [`strip`](super::strip) is driven by this table and nothing else, `docs/privacy.md` shows
//! [`markdown`] of it (a test compares them), and a test walks it field by field through the
//! whole privacy step. So the documented rules, the code and the tests cannot drift apart: a
//! rule changes here, in one row.
//!
//! A field not listed is kept under every signal: the signals themselves (`regs`,
//! `user.consent`, `device.lmt`) must reach the partner for it to apply its own rules, and
//! coarse location (`geo.country`, `region`) and the device's make, model and user agent are
//! not identifiers.

use super::Reason;
use Action::{Coarsen as C, Keep as K, Remove as R};

/// What a signal does to a field. Ordered by strength: where several signals apply to one
/// partner, each field gets the strongest action any of them asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Keep,
    /// Rounded (coordinates) or truncated (addresses): see [`Coarse`].
    Coarsen,
    Remove,
}

/// How a field is coarsened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coarse {
    /// A coordinate, rounded to 2 decimals (within about 1.1 km).
    Coordinate,
    /// An IP address, cut to its network: IPv4 to /24, IPv6 to /48.
    Address,
}

/// One row: a field (by its path from the request's top level) and, per signal in
/// [`Reason::ALL`] order, its action.
#[derive(Debug)]
pub struct Field {
    pub path: &'static [&'static str],
    /// `Some` exactly when some signal coarsens the field.
    pub coarse: Option<Coarse>,
    pub actions: [Action; Reason::ALL.len()],
}

impl Field {
    /// The strongest action any of `reasons` asks for.
    pub fn action(&self, reasons: impl IntoIterator<Item = Reason>) -> Action {
        reasons
            .into_iter()
            .map(|r| self.actions[r as usize])
            .max()
            .unwrap_or(Action::Keep)
    }

    /// The path as written in OpenRTB documents (`user.geo.lat`).
    pub fn name(&self) -> String {
        self.path.join(".")
    }
}

// Columns: COPPA, GDPR without vendor consent, US Privacy opt-out, GPP opt-out, no TCF
// precise-geolocation opt-in.

/// Identifies the person, the browser or the device, or describes the person: never for a
/// child, a partner without consent or after an opt-out of sale; location consent is no
/// consent to these.
const PERSONAL: [Action; 5] = [R, R, R, R, K];
/// The exact point: gone for a child (as Prebid Server does), about 1 km otherwise.
const POINT: [Action; 5] = [R, C, C, C, C];
/// The household's address: the network part only, under any signal.
const ADDRESS: [Action; 5] = [C, C, C, C, C];
/// Interests and a fine location, which are the publisher's own first-party data and not
/// identifiers: kept for adults (partners price on them), never sent about a child.
const CHILD: [Action; 5] = [R, K, K, K, K];

const fn field(path: &'static [&'static str], actions: [Action; 5]) -> Field {
    Field {
        path,
        coarse: None,
        actions,
    }
}

const fn coarse(path: &'static [&'static str], coarse: Coarse, actions: [Action; 5]) -> Field {
    Field {
        path,
        coarse: Some(coarse),
        actions,
    }
}

/// The rules. Rows of one object are together, parents before children.
pub const FIELDS: &[Field] = &[
    field(&["user", "id"], PERSONAL),
    field(&["user", "buyeruid"], PERSONAL),
    field(&["user", "yob"], PERSONAL),
    field(&["user", "gender"], PERSONAL),
    field(&["user", "eids"], PERSONAL),
    field(&["user", "data"], PERSONAL),
    field(&["user", "customdata"], PERSONAL),
    field(&["user", "keywords"], CHILD),
    field(&["user", "kwarray"], CHILD),
    field(&["user", "ext", "eids"], PERSONAL),
    field(&["user", "ext", "data"], CHILD),
    coarse(&["user", "geo", "lat"], Coarse::Coordinate, POINT),
    coarse(&["user", "geo", "lon"], Coarse::Coordinate, POINT),
    field(&["user", "geo", "zip"], CHILD),
    field(&["user", "geo", "city"], CHILD),
    field(&["user", "geo", "metro"], CHILD),
    field(&["device", "ifa"], PERSONAL),
    field(&["device", "didsha1"], PERSONAL),
    field(&["device", "didmd5"], PERSONAL),
    field(&["device", "dpidsha1"], PERSONAL),
    field(&["device", "dpidmd5"], PERSONAL),
    field(&["device", "macsha1"], PERSONAL),
    field(&["device", "macmd5"], PERSONAL),
    field(&["device", "ext", "ifv"], PERSONAL),
    coarse(&["device", "ip"], Coarse::Address, ADDRESS),
    coarse(&["device", "ipv6"], Coarse::Address, ADDRESS),
    coarse(&["device", "geo", "lat"], Coarse::Coordinate, POINT),
    coarse(&["device", "geo", "lon"], Coarse::Coordinate, POINT),
    field(&["device", "geo", "zip"], CHILD),
    field(&["device", "geo", "city"], CHILD),
    field(&["device", "geo", "metro"], CHILD),
];

/// The table as Markdown, for `docs/privacy.md`: a column per signal, a row per field.
pub fn markdown() -> String {
    let mut out = String::from("| field |");
    for r in Reason::ALL {
        out.push_str(&format!(" {} |", r.title()));
    }
    out.push_str("\n| --- |");
    out.push_str(&" --- |".repeat(Reason::ALL.len()));
    out.push('\n');
    for f in FIELDS {
        out.push_str(&format!("| `{}` |", f.name()));
        for a in f.actions {
            let cell = match (a, f.coarse) {
                (Action::Keep, _) => "kept",
                (Action::Remove, _) => "**removed**",
                (Action::Coarsen, Some(Coarse::Address)) => "truncated",
                (Action::Coarsen, _) => "rounded",
            };
            out.push_str(&format!(" {cell} |"));
        }
        out.push('\n');
    }
    out
}
