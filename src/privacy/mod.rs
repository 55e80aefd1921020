//! A bid request's privacy signals, applied per demand partner before anything leaves bidgate.
//!
//! [`Signals::of`] reads the request once; [`Signals::decide`] then says, per partner (by its
//! IAB vendor id), whether it is called at all and which signals apply to its copy, and
//! [`strip`] applies them field by field as [`table`] says (`docs/privacy.md` shows the same
//! table). The signals:
//!
//! - `regs.coppa = 1` ([`Reason::Coppa`]), for every partner.
//! - GDPR applies: `regs.gdpr = 1`, the 2.5 `regs.ext.gdpr = 1`, or a GPP string (`regs.gpp`)
//!   with a TCF EU section, whose TC string then counts as the consent string. The TC string
//!   is `user.consent`, else the 2.5 `user.ext.consent`, else the GPP section. Then:
//!   - A partner is **not called** ([`Decision::Skip`]) when the string decodes and gives its
//!     vendor no legal basis for purpose 2 (select basic ads; consent or legitimate interest,
//!     see [`Tcf::purpose_two_basis`]), as Prebid Server does: without that basis it may not
//!     even take part in the auction. A partner without a vendor id is skipped when the
//!     string opens purpose 2 to nobody; otherwise its basis cannot be checked and it gets the
//!     stripped request. A missing or undecodable string skips nobody (it proves nothing) and
//!     strips everyone.
//!   - [`Reason::GdprNoConsent`] unless the string decodes and gives the partner's vendor id
//!     consent, and purpose 1 (store and access information on a device) consent, and no
//!     publisher restriction forbids that vendor purpose 1. A partner without a vendor id and
//!     a TCF v1 string get it too. Purposes 3–10 are the partner's own check: the string
//!     reaches it intact.
//!   - [`Reason::NoPreciseGeo`] unless the string decodes and opts in to special feature 1
//!     (precise geolocation), whatever the vendor.
//! - A US Privacy string (`regs.us_privacy`, or the 2.5 `regs.ext.us_privacy`) `1?Y?`, opted
//!   out of sale ([`Reason::UsPrivacyOptOut`]). Anything that is not a valid 4-character
//!   version-1 string is ignored.
//! - GPP (`regs.gpp`): any decoded US section (see [`gpp`]) with SaleOptOut, SharingOptOut
//!   or TargetedAdvertisingOptOut = 1 ([`Reason::GppOptOut`]). A string that does not
//!   decode strips nothing on GPP grounds (it may hold sections we do not know); the problem
//!   is kept for the log ([`Signals::gpp_error`]). `regs.gpp_sid` is not consulted: an
//!   opt-out present in the string is honoured whichever sections the publisher says apply.
//!
//! Several signals may apply to one partner; each field then gets the strongest action any of
//! them asks for. Where the 2.6 and 2.5 locations disagree, the signal that strips wins (a
//! flag set in either applies; an opt-out in either counts), except for the consent string,
//! where the 2.6 `user.consent` is used whenever present. Flags are `1` (also `1.0`, `true`,
//! `"1"`).

mod bits;
pub mod gpp;
mod strip;
pub mod table;
pub mod tcf;

#[cfg(test)]
mod gdpr_tests;
#[cfg(test)]
mod gpp_tests;
#[cfg(test)]
mod strip_tests;
#[cfg(test)]
mod table_tests;
#[cfg(test)]
mod tcf_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod us_tests;

pub use gpp::{Gpp, GppError};
pub use strip::strip;
pub use table::Action;
pub use tcf::{Tcf, TcfError};

use serde_json::Value;

/// What one partner may receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The request as sent.
    Allow,
    /// The request after [`strip`] for these signals (never empty).
    Strip(Reasons),
    /// Nothing: the partner is not called (GDPR, no purpose 2 legal basis for its vendor).
    Skip,
}

/// A signal that changes what a partner receives: a column of [`table`]. The order is the
/// columns' and [`Reasons::first`]'s (the more specific signals first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Coppa = 0,
    GdprNoConsent = 1,
    UsPrivacyOptOut = 2,
    GppOptOut = 3,
    NoPreciseGeo = 4,
}

impl Reason {
    /// Every reason, in column order (`ALL[r as usize] == r`).
    pub const ALL: [Reason; 5] = [
        Reason::Coppa,
        Reason::GdprNoConsent,
        Reason::UsPrivacyOptOut,
        Reason::GppOptOut,
        Reason::NoPreciseGeo,
    ];

    /// A stable name for metrics labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Coppa => "coppa",
            Reason::GdprNoConsent => "gdpr_no_consent",
            Reason::UsPrivacyOptOut => "us_privacy_opt_out",
            Reason::GppOptOut => "gpp_opt_out",
            Reason::NoPreciseGeo => "tcf_no_precise_geo",
        }
    }

    /// The column heading in `docs/privacy.md`.
    pub fn title(self) -> &'static str {
        match self {
            Reason::Coppa => "COPPA",
            Reason::GdprNoConsent => "GDPR, vendor without consent",
            Reason::UsPrivacyOptOut => "US Privacy opt-out",
            Reason::GppOptOut => "GPP opt-out",
            Reason::NoPreciseGeo => "GDPR, no precise geolocation (TCF SF1)",
        }
    }
}

/// A set of [`Reason`]s: what applies to one partner's copy, and the key its serialised copy
/// is shared under (partners with the same set get the same bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reasons(u8);

impl Reasons {
    pub const NONE: Reasons = Reasons(0);

    pub const fn with(self, r: Reason) -> Reasons {
        Reasons(self.0 | 1 << r as u8)
    }

    pub const fn contains(self, r: Reason) -> bool {
        self.0 & 1 << r as u8 != 0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Reason> {
        Reason::ALL.into_iter().filter(move |r| self.contains(*r))
    }

    /// The first reason in column order: the one a metric names.
    pub fn first(self) -> Option<Reason> {
        self.iter().next()
    }
}

impl From<Reason> for Reasons {
    fn from(r: Reason) -> Reasons {
        Reasons::NONE.with(r)
    }
}

/// The privacy signals of one request, parsed once (not per partner).
#[derive(Debug, Clone)]
pub struct Signals {
    coppa: bool,
    gdpr: bool,
    /// Decoded only where GDPR applies (elsewhere no rule reads it); `None`: no string.
    tcf: Option<Result<Tcf, TcfError>>,
    us_privacy_opt_out: bool,
    /// `None`: no GPP string.
    gpp: Option<Gpp>,
}

impl Signals {
    /// Reads the signals from a request's `rest` (where `regs` and `user` live). Never fails:
    /// what does not parse is treated as the rules above say.
    pub fn of(rest: &impl crate::openrtb::Lookup) -> Signals {
        let coppa = is_one(at(rest, &["regs", "coppa"]));
        let gpp = text(at(rest, &["regs", "gpp"])).map(gpp::decode);
        let gpp_tcf = gpp.as_ref().and_then(|g| g.tcf_eu.as_deref());
        let gdpr = is_one(at(rest, &["regs", "gdpr"]))
            || is_one(at(rest, &["regs", "ext", "gdpr"]))
            || gpp_tcf.is_some();
        let tcf = gdpr
            .then(|| {
                text(at(rest, &["user", "consent"]))
                    .or_else(|| text(at(rest, &["user", "ext", "consent"])))
                    .or_else(|| gpp_tcf.map(str::trim).filter(|s| !s.is_empty()))
            })
            .flatten()
            .map(Tcf::decode);
        let us_privacy_opt_out = [&["regs", "us_privacy"][..], &["regs", "ext", "us_privacy"]]
            .iter()
            .any(|path| text(at(rest, path)).and_then(us_privacy_opt_out) == Some(true));
        Signals {
            coppa,
            gdpr,
            tcf,
            us_privacy_opt_out,
            gpp,
        }
    }

    /// What partner with IAB vendor id `vendor` may receive (`None`: no known vendor id).
    pub fn decide(&self, vendor: Option<u16>) -> Decision {
        if self.gdpr && self.purpose_two_refused(vendor) {
            return Decision::Skip;
        }
        let applies = [
            (Reason::Coppa, self.coppa),
            (
                Reason::GdprNoConsent,
                self.gdpr && !self.gdpr_consents(vendor),
            ),
            (Reason::UsPrivacyOptOut, self.us_privacy_opt_out),
            (Reason::GppOptOut, self.gpp_opt_out()),
            (Reason::NoPreciseGeo, self.gdpr && !self.precise_geo()),
        ];
        let reasons = applies
            .into_iter()
            .filter(|(_, on)| *on)
            .fold(Reasons::NONE, |set, (r, _)| set.with(r));
        match reasons.is_empty() {
            true => Decision::Allow,
            false => Decision::Strip(reasons),
        }
    }

    /// Whether every partner gets the unstripped request (fast path: no signal at all). Where
    /// GDPR applies this is false even with consent, since consent is per vendor.
    pub fn nothing_to_do(&self) -> bool {
        !(self.coppa || self.gdpr || self.us_privacy_opt_out || self.gpp_opt_out())
    }

    /// Why the TCF string did not decode, where GDPR applies (the same for every partner: log
    /// it once per request).
    pub fn tcf_error(&self) -> Option<TcfError> {
        self.tcf.as_ref()?.as_ref().err().copied()
    }

    /// The first problem met decoding the GPP string, if any.
    pub fn gpp_error(&self) -> Option<GppError> {
        self.gpp.as_ref()?.error
    }

    fn gdpr_consents(&self, vendor: Option<u16>) -> bool {
        match (&self.tcf, vendor) {
            (Some(Ok(tcf)), Some(v)) => {
                tcf.vendor_consent(v) && tcf.purpose_consent(1) && !tcf.purpose_one_restricted(v)
            }
            _ => false,
        }
    }

    /// Whether the TC string proves that `vendor` may not take part (see the module doc).
    fn purpose_two_refused(&self, vendor: Option<u16>) -> bool {
        match (&self.tcf, vendor) {
            (Some(Ok(tcf)), Some(v)) => !tcf.purpose_two_basis(v),
            (Some(Ok(tcf)), None) => !(tcf.purpose_consent(2) || tcf.purpose_li(2)),
            _ => false,
        }
    }

    /// Special feature 1: the user let precise location and full addresses go.
    fn precise_geo(&self) -> bool {
        matches!(&self.tcf, Some(Ok(tcf)) if tcf.special_feature(1))
    }

    fn gpp_opt_out(&self) -> bool {
        self.gpp.as_ref().is_some_and(|g| !g.opted_out.is_empty())
    }
}

/// A US Privacy string (`1YNN`: version 1, notice, opt-out of sale, LSPA; each `Y`, `N` or
/// `-`, either case): `Some(opted out of sale)`, or `None` when it is not one.
pub(crate) fn us_privacy_opt_out(s: &str) -> Option<bool> {
    let b = s.trim().as_bytes();
    let valid = b.len() == 4
        && b[0] == b'1'
        && b[1..]
            .iter()
            .all(|c| matches!(c.to_ascii_uppercase(), b'Y' | b'N' | b'-'));
    valid.then(|| b[2].eq_ignore_ascii_case(&b'Y'))
}

/// The value at `path` (object keys), if every step is an object that has it.
fn at<'a>(rest: &'a impl crate::openrtb::Lookup, path: &[&str]) -> Option<&'a Value> {
    let (first, more) = path.split_first()?;
    more.iter()
        .try_fold(rest.member(first)?, |v, key| v.get(*key))
}

fn is_one(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Number(n)) => n.as_f64() == Some(1.0),
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim() == "1",
        _ => false,
    }
}

/// A non-blank string.
fn text(v: Option<&Value>) -> Option<&str> {
    v?.as_str().map(str::trim).filter(|s| !s.is_empty())
}
