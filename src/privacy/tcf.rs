//! IAB TCF v2 (2.0–2.2) consent strings: the core segment, as far as per-vendor consent needs.
//!
//! Decoded: the purposes' consent and legitimate-interest bits, the vendor consent and vendor
//! legitimate-interest sections (bitfield or range encoding), and the publisher restrictions
//! as far as they concern purpose 1 (a publisher can forbid a vendor purpose 1 even where the
//! user consented). Not decoded: the segments after the first `.` (disclosed vendors, allowed
//! vendors, publisher purposes), which do not change what a vendor may do under our rule, and
//! the creation dates, CMP version, screen, language and special features (skipped).
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
    purpose_one_treatment: bool,
    publisher_cc: [u8; 2],
    vendor_consents: VendorSet,
    vendor_li: VendorSet,
    /// Vendors a publisher restriction keeps from purpose 1 (any type but "require consent").
    purpose_one_restricted: Vec<(u16, u16)>,
}

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
/// PurposeId(6), RestrictionType(2) and a range list. Only purpose 1 is kept; type 1 ("require
/// consent") changes nothing for a consent-only purpose, every other type (0 "not allowed",
/// 2 "require legitimate interest", which purpose 1 cannot have, 3 undefined) forbids it.
fn purpose_one_restrictions(r: &mut Bits) -> Result<Vec<(u16, u16)>, TcfError> {
    let count = r.int(12)?;
    let mut restricted = Vec::new();
    for _ in 0..count {
        let purpose = r.int(6)?;
        let kind = r.int(2)?;
        let ranges = read_ranges(r, u16::MAX)?;
        if purpose == 1 && kind != 1 {
            restricted.extend(ranges);
        }
    }
    Ok(restricted)
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
        r.skip(1 + 1 + 12)?; // IsServiceSpecific, UseNonStandardTexts, SpecialFeatureOptIns
        let purposes_consent = r.int(24)? as u32;
        let purposes_li = r.int(24)? as u32;
        let purpose_one_treatment = r.bit()?;
        let publisher_cc = [letter(r.int(6)?), letter(r.int(6)?)];
        let vendor_consents = VendorSet::read(&mut r)?;
        let vendor_li = VendorSet::read(&mut r)?;
        let purpose_one_restricted = purpose_one_restrictions(&mut r)?;
        Ok(Tcf {
            cmp_id,
            vendor_list_version,
            policy_version,
            purposes_consent,
            purposes_li,
            purpose_one_treatment,
            publisher_cc,
            vendor_consents,
            vendor_li,
            purpose_one_restricted,
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

    /// Whether a publisher restriction keeps `vendor` from purpose 1.
    pub fn purpose_one_restricted(&self, vendor: u16) -> bool {
        self.purpose_one_restricted
            .iter()
            .any(|(a, b)| (*a..=*b).contains(&vendor))
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
