//! A bid request's privacy signals, applied per demand partner before anything leaves bidgate.
//!
//! [`Signals::of`] reads the request once; [`Signals::decide`] then says, per partner (by its
//! IAB vendor id), whether it may receive the personal identifiers, and [`strip`] removes them
//! from the partner's copy when it may not. The rules, first match wins:
//!
//! 1. `regs.coppa = 1`: strip for every partner ([`Reason::Coppa`]).
//! 2. GDPR applies (`regs.gdpr = 1`, or the 2.5 `regs.ext.gdpr = 1`): strip unless the TCF v2
//!    string (`user.consent`, else the 2.5 `user.ext.consent`) decodes and gives the partner's
//!    vendor id consent, and purpose 1 (store and access information on a device) consent, and
//!    no publisher restriction forbids that vendor purpose 1 ([`Reason::GdprNoConsent`]). A
//!    partner without a vendor id, a missing or undecodable string, and a TCF v1 string all
//!    strip. This is deliberately simpler than the TCF policy (purposes 2–4 under consent or
//!    legitimate interest are the partner's own check: the string reaches it intact).
//! 3. A US Privacy string (`regs.us_privacy`, or the 2.5 `regs.ext.us_privacy`) `1?Y?`,
//!    opted out of sale: strip ([`Reason::UsPrivacyOptOut`]). Anything that is not a valid
//!    4-character version-1 string is ignored.
//! 4. GPP (`regs.gpp`): any decoded US section (see [`gpp`]) with SaleOptOut, SharingOptOut
//!    or TargetedAdvertisingOptOut = 1 strips ([`Reason::GppOptOut`]). A string that does not
//!    decode strips nothing on GPP grounds (it may hold sections we do not know); the problem
//!    is kept for the log ([`Signals::gpp_error`]). `regs.gpp_sid` is not consulted: an
//!    opt-out present in the string is honoured whichever sections the publisher says apply.
//!
//! Where the 2.6 and 2.5 locations disagree, the signal that strips wins (a flag set in either
//! applies; an opt-out in either counts), except for the consent string, where the 2.6
//! `user.consent` is used whenever present. Flags are `1` (also `1.0`, `true`, `"1"`).

mod bits;
pub mod gpp;
mod strip;
pub mod tcf;

#[cfg(test)]
mod gpp_tests;
#[cfg(test)]
mod strip_tests;
#[cfg(test)]
mod tcf_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod us_tests;

pub use gpp::{Gpp, GppError};
pub use strip::strip;
pub use tcf::{Tcf, TcfError};

use serde_json::{Map, Value};

/// What one partner may receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The request as sent.
    Allow,
    /// The request after [`strip`].
    Strip(Reason),
}

/// Why a partner gets the stripped request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Coppa,
    GdprNoConsent,
    UsPrivacyOptOut,
    GppOptOut,
}

impl Reason {
    /// A stable name for metrics labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Coppa => "coppa",
            Reason::GdprNoConsent => "gdpr_no_consent",
            Reason::UsPrivacyOptOut => "us_privacy_opt_out",
            Reason::GppOptOut => "gpp_opt_out",
        }
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
    pub fn of(rest: &Map<String, Value>) -> Signals {
        let coppa = is_one(at(rest, &["regs", "coppa"]));
        let gdpr =
            is_one(at(rest, &["regs", "gdpr"])) || is_one(at(rest, &["regs", "ext", "gdpr"]));
        let tcf = gdpr
            .then(|| {
                text(at(rest, &["user", "consent"]))
                    .or_else(|| text(at(rest, &["user", "ext", "consent"])))
            })
            .flatten()
            .map(Tcf::decode);
        let us_privacy_opt_out = [&["regs", "us_privacy"][..], &["regs", "ext", "us_privacy"]]
            .iter()
            .any(|path| text(at(rest, path)).and_then(us_privacy_opt_out) == Some(true));
        let gpp = text(at(rest, &["regs", "gpp"])).map(gpp::decode);
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
        let reason = if self.coppa {
            Reason::Coppa
        } else if self.gdpr && !self.gdpr_consents(vendor) {
            Reason::GdprNoConsent
        } else if self.us_privacy_opt_out {
            Reason::UsPrivacyOptOut
        } else if self.gpp_opt_out() {
            Reason::GppOptOut
        } else {
            return Decision::Allow;
        };
        Decision::Strip(reason)
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
fn at<'a>(rest: &'a Map<String, Value>, path: &[&str]) -> Option<&'a Value> {
    let (first, more) = path.split_first()?;
    more.iter()
        .try_fold(rest.get(*first)?, |v, key| v.get(*key))
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
