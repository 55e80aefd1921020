//! IAB TCF v2 (2.0–2.2) consent strings: the core segment, as far as per-vendor consent needs.
//!
//! Decoded: the special feature opt-ins (special feature 1, precise geolocation, decides whether
//! coordinates and full IP addresses may leave), the purposes' consent and legitimate-interest
//! bits, the vendor consent and vendor legitimate-interest sections (bitfield or range
//! encoding), and the publisher restrictions as far as they concern purposes 1 and 2 (a
//! publisher can forbid a vendor a purpose, or a legal basis for it, even where the user
//! agreed). Not decoded: the segments after the first `.` (disclosed vendors, allowed vendors,
//! publisher purposes), which do not change what a vendor may do under our rules, and the
//! creation dates, CMP version, screen and language (skipped).
//!
//! Everything is bounds-checked: a short or hostile string is a [`TcfError`], never a panic,
//! and nothing is allocated beyond what the input's own length pays for.

use super::bits::{Bits, Short};

/// Longer than any real core segment: two full 65 535-vendor bitfields are ~21 900 characters.
pub const MAX_LEN: usize = 32 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TcfError {
    #[error("the TCF string is longer than {MAX_LEN} characters")]
    TooLong,
    #[error("the TCF string is not base64url")]
    NotBase64,
    #[error("the TCF string ends early")]
    Truncated,
    #[error("TCF version {0} is not supported (only 2)")]
    Version(u8),
    #[error("the TCF string has a bad vendor range")]
    BadRange,
}

impl From<Short> for TcfError {
    fn from(_: Short) -> Self {
        TcfError::Truncated
    }
}

/// A decoded TCF v2 core segment (the fields the rules read, and a few for diagnostics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tcf {
    cmp_id: u16,
    vendor_list_version: u16,
    policy_version: u8,
    /// Bit 23 is purpose 1, bit 0 purpose 24 (the string's own order).
    purposes_consent: u32,
    purposes_li: u32,
    /// Bit 11 is special feature 1, bit 0 special feature 12 (the string's own order).
    special_features: u16,
    purpose_one_treatment: bool,
    publisher_cc: [u8; 2],
    vendor_consents: VendorSet,
    vendor_li: VendorSet,
    /// Publisher restrictions of purposes 1 and 2: (purpose, type, first vendor, last vendor).
    restrictions: Vec<Restriction>,
}

/// One vendor range of a publisher restriction: purpose, restriction type, first and last id.
type Restriction = (u8, u8, u16, u16);

/// One vendor section, kept as encoded: a bitfield costs at most 8 KiB, ranges are tested in
/// place rather than expanded (a range 1–65535 stays one entry).
#[derive(Debug, Clone, PartialEq, Eq)]
enum VendorSet {
    Bits { max: u16, bytes: Vec<u8> },
    Ranges { ranges: Vec<(u16, u16)> },
}

impl VendorSet {
    fn contains(&self, vendor: u16) -> bool {
        match self {
            _ if vendor == 0 => false,
            VendorSet::Bits { max, bytes } => {
                let i = usize::from(vendor - 1);
                vendor <= *max && bytes[i / 8] & (0x80 >> (i % 8)) != 0
            }
            VendorSet::Ranges { ranges } => ranges.iter().any(|(a, b)| (*a..=*b).contains(&vendor)),
        }
    }

    fn read(r: &mut Bits) -> Result<VendorSet, TcfError> {
        let max = r.int(16)? as u16;
        if !r.bit()? {
            let bytes = r.bitfield(usize::from(max))?;
            return Ok(VendorSet::Bits { max, bytes });
        }
        let ranges = read_ranges(r, max)?;
        Ok(VendorSet::Ranges { ranges })
    }
}

/// NumEntries(12) then entries {IsARange(1), StartVendorId(16), [EndVendorId(16)]}, each
/// checked (`1 ≤ start ≤ end ≤ max`). Each entry costs at least 17 bits of input, so the
/// vector is paid for by the input.
fn read_ranges(r: &mut Bits, max: u16) -> Result<Vec<(u16, u16)>, TcfError> {
    let entries = r.int(12)?;
    let mut ranges = Vec::new();
    for _ in 0..entries {
        let is_range = r.bit()?;
        let start = r.int(16)? as u16;
        let end = if is_range { r.int(16)? as u16 } else { start };
        if start == 0 || start > end || end > max {
            return Err(TcfError::BadRange);
        }
        ranges.push((start, end));
    }
    Ok(ranges)
}

/// The publisher restrictions section: NumPubRestrictions(12), then per restriction
/// PurposeId(6), RestrictionType(2) and a range list. Only purposes 1 and 2 are kept: the
/// rules read no other purpose. Types: 0 not allowed, 1 require consent, 2 require legitimate
/// interest, 3 undefined (read as not allowed).
fn restrictions(r: &mut Bits) -> Result<Vec<Restriction>, TcfError> {
    let count = r.int(12)?;
    let mut kept = Vec::new();
    for _ in 0..count {
        let purpose = r.int(6)? as u8;
        let kind = r.int(2)? as u8;
        let ranges = read_ranges(r, u16::MAX)?;
        if matches!(purpose, 1 | 2) {
            kept.extend(ranges.into_iter().map(|(a, b)| (purpose, kind, a, b)));
        }
    }
    Ok(kept)
}

impl Tcf {
    /// Decodes the core segment of a TC string (the text before the first `.`).
    pub fn decode(s: &str) -> Result<Tcf, TcfError> {
        let core = s.split('.').next().unwrap_or_default();
        if core.len() > MAX_LEN {
            return Err(TcfError::TooLong);
        }
        let mut r = Bits::decode(core).map_err(|_| TcfError::NotBase64)?;
        let version = r.int(6)? as u8;
        if version != 2 {
            return Err(TcfError::Version(version));
        }
        r.skip(36 + 36)?; // Created, LastUpdated
        let cmp_id = r.int(12)? as u16;
        r.skip(12 + 6 + 12)?; // CmpVersion, ConsentScreen, ConsentLanguage
        let vendor_list_version = r.int(12)? as u16;
        let policy_version = r.int(6)? as u8;
        r.skip(1 + 1)?; // IsServiceSpecific, UseNonStandardTexts
        let special_features = r.int(12)? as u16;
        let purposes_consent = r.int(24)? as u32;
        let purposes_li = r.int(24)? as u32;
        let purpose_one_treatment = r.bit()?;
        let publisher_cc = [letter(r.int(6)?), letter(r.int(6)?)];
        let vendor_consents = VendorSet::read(&mut r)?;
        let vendor_li = VendorSet::read(&mut r)?;
        let restrictions = restrictions(&mut r)?;
        Ok(Tcf {
            cmp_id,
            vendor_list_version,
            policy_version,
            purposes_consent,
            purposes_li,
            special_features,
            purpose_one_treatment,
            publisher_cc,
            vendor_consents,
            vendor_li,
            restrictions,
        })
    }

    /// Whether the user consented to purpose `p` (1–24).
    pub fn purpose_consent(&self, p: u8) -> bool {
        purpose_bit(self.purposes_consent, p)
    }

    /// Whether legitimate interest for purpose `p` (1–24) was disclosed and not objected to.
    pub fn purpose_li(&self, p: u8) -> bool {
        purpose_bit(self.purposes_li, p)
    }

    /// Whether the user consented to vendor `vendor` (IAB Global Vendor List id).
    pub fn vendor_consent(&self, vendor: u16) -> bool {
        self.vendor_consents.contains(vendor)
    }

    /// Whether the vendor's legitimate interest was disclosed and not objected to.
    pub fn vendor_li(&self, vendor: u16) -> bool {
        self.vendor_li.contains(vendor)
    }

    /// Whether the user opted in to special feature `n` (1–12); 1 is precise geolocation.
    pub fn special_feature(&self, n: u8) -> bool {
        (1..=12).contains(&n) && self.special_features >> (12 - u16::from(n)) & 1 == 1
    }

    /// Whether a publisher restriction keeps `vendor` from purpose 1. Type 1 ("require
    /// consent") changes nothing for a purpose that only consent can open; every other type
    /// forbids it (legitimate interest is no basis for purpose 1).
    pub fn purpose_one_restricted(&self, vendor: u16) -> bool {
        self.restricted(1, vendor).any(|kind| kind != 1)
    }

    /// Whether `vendor` has a legal basis for purpose 2 (select basic ads), which TCF lets rest
    /// on consent or on legitimate interest: the purpose and the vendor both under the same
    /// basis, unless a publisher restriction closes it (type 1 leaves only consent, type 2
    /// only legitimate interest, types 0 and 3 neither). Whether the vendor declared the
    /// basis in the Global Vendor List is not checked: bidgate carries no copy of the list.
    pub fn purpose_two_basis(&self, vendor: u16) -> bool {
        let (mut by_consent, mut by_li) = (true, true);
        for kind in self.restricted(2, vendor) {
            by_consent &= kind == 1;
            by_li &= kind == 2;
        }
        by_consent && self.purpose_consent(2) && self.vendor_consent(vendor)
            || by_li && self.purpose_li(2) && self.vendor_li(vendor)
    }

    /// The types of the restrictions of `purpose` that cover `vendor`.
    fn restricted(&self, purpose: u8, vendor: u16) -> impl Iterator<Item = u8> + '_ {
        self.restrictions
            .iter()
            .filter(move |(p, _, a, b)| *p == purpose && (*a..=*b).contains(&vendor))
            .map(|(_, kind, _, _)| *kind)
    }

    /// PurposeOneTreatment: purpose 1 was not disclosed (publisher jurisdictions without the
    /// requirement). Decoded for diagnostics; the rules still require purpose 1 consent.
    pub fn purpose_one_treatment(&self) -> bool {
        self.purpose_one_treatment
    }

    pub fn cmp_id(&self) -> u16 {
        self.cmp_id
    }

    pub fn vendor_list_version(&self) -> u16 {
        self.vendor_list_version
    }

    pub fn policy_version(&self) -> u8 {
        self.policy_version
    }

    /// The publisher's country code, e.g. `*b"FR"` (letters beyond `Z` show as `?`).
    pub fn publisher_cc(&self) -> [u8; 2] {
        self.publisher_cc
    }
}

fn purpose_bit(field: u32, p: u8) -> bool {
    (1..=24).contains(&p) && field >> (24 - u32::from(p)) & 1 == 1
}

fn letter(v: u64) -> u8 {
    if v < 26 { b'A' + v as u8 } else { b'?' }
}
