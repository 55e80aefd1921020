//! IAB Global Privacy Platform strings: the header and the US opt-out sections.
//!
//! A GPP string is `header~section~section…`. The header (base64url) is Type(6) = 3,
//! Version(6) = 1 and the section ids as a Fibonacci-coded range list: NumEntries(12), then
//! per entry IsARange(1) and one or two Fibonacci integers, each a delta from the previous id
//! (a range's end from its start). The sections follow in the order of their ids.
//!
//! Decoded sections: US National (7, versions 1 and 2) and the US states California (8),
//! Virginia (9), Colorado (10), Utah (11) and Connecticut (12), version 1; of each only the
//! opt-out fields (SaleOptOut, SharingOptOut, TargetedAdvertisingOptOut, whichever the section
//! has; 2 bits, 1 = opted out, 2 = did not, 0 = not applicable), located by the fields before
//! them. Also US Privacy (6), which is the plain `1YNN` string, and TCF EU v2 (2), which is a
//! TC string: it is kept whole ([`Gpp::tcf_eu`]) for the GDPR rules, since a publisher that
//! signals GDPR only through GPP must be treated as one that sets `regs.gdpr` and sends the
//! string in `user.consent`. Everything else is ignored: TCF Canada, the later US states, the
//! remaining fields of the sections read (notices, sensitive data, MSPA modes) and their
//! optional GPC subsection (CMPs fold GPC into the opt-out fields themselves).

use super::bits::Bits;

/// Real strings with a few sections are a few hundred characters.
pub const MAX_LEN: usize = 16 * 1024;

/// The section id of TCF EU v2.
const TCF_EU: u16 = 2;

/// Section ids beyond this are not assigned (the last is in the twenties).
const MAX_SECTION_ID: u64 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GppError {
    #[error("the GPP string is longer than {MAX_LEN} characters")]
    TooLong,
    #[error("the GPP header is not base64url")]
    NotBase64,
    #[error("the GPP header ends early")]
    Truncated,
    #[error("GPP header type {0} (expected 3)")]
    Type(u8),
    #[error("GPP version {0} is not supported (only 1)")]
    Version(u8),
    #[error("the GPP header's section ids do not decode")]
    BadIds,
    #[error("the GPP header lists {ids} sections, the string has {sections}")]
    SectionCount { ids: usize, sections: usize },
    #[error("GPP section {0} does not decode")]
    Section(u16),
    #[error("GPP section {0} has version {1}, which we do not read")]
    SectionVersion(u16, u8),
}

/// What a GPP string says, as far as decoded. Sections that decode count even when another
/// does not: an opt-out is never discarded because of a neighbour.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Gpp {
    /// The section ids in the header (empty when the header does not decode).
    pub ids: Vec<u16>,
    /// The decoded sections whose user opted out of sale, sharing or targeted advertising.
    pub opted_out: Vec<u16>,
    /// The TCF EU v2 section (id 2), as sent: a TC string, decoded by the GDPR rules.
    pub tcf_eu: Option<String>,
    /// The first problem met, if any.
    pub error: Option<GppError>,
}

/// Where a section's opt-out fields are: the versions we read and each field's bit offset.
struct Layout {
    versions: &'static [u8],
    opt_outs: &'static [usize],
}

/// Offsets count Version(6) and the 2-bit fields before each opt-out (see the module doc).
fn layout(id: u16) -> Option<Layout> {
    let (versions, opt_outs): (&'static [u8], &'static [usize]) = match id {
        // Six notices, then SaleOptOut, SharingOptOut, TargetedAdvertisingOptOut.
        7 => (&[1, 2], &[18, 20, 22]),
        // Three notices, then SaleOptOut, SharingOptOut.
        8 => (&[1], &[12, 14]),
        // Three notices, then SaleOptOut, TargetedAdvertisingOptOut.
        9 | 10 | 12 => (&[1], &[12, 14]),
        // Four notices, then SaleOptOut, TargetedAdvertisingOptOut.
        11 => (&[1], &[14, 16]),
        _ => return None,
    };
    Some(Layout { versions, opt_outs })
}

/// Decodes `s`; never fails as a whole (see [`Gpp::error`]).
pub fn decode(s: &str) -> Gpp {
    let mut gpp = Gpp::default();
    if s.len() > MAX_LEN {
        gpp.error = Some(GppError::TooLong);
        return gpp;
    }
    let mut parts = s.split('~');
    let header = parts.next().unwrap_or_default();
    let sections: Vec<&str> = parts.collect();
    match header_ids(header, sections.len()) {
        Ok(ids) => gpp.ids = ids,
        Err(e) => {
            gpp.error = Some(e);
            return gpp;
        }
    }
    for (&id, section) in gpp.ids.iter().zip(&sections) {
        if id == TCF_EU {
            gpp.tcf_eu = Some((*section).to_owned());
            continue;
        }
        let (out, error) = opted_out(id, section);
        if out {
            gpp.opted_out.push(id);
        }
        if let Some(e) = error {
            gpp.error.get_or_insert(e);
        }
    }
    gpp
}

/// The header's section ids, which must be as many as the `sections` that follow it.
fn header_ids(header: &str, sections: usize) -> Result<Vec<u16>, GppError> {
    let mut r = Bits::decode(header).map_err(|_| GppError::NotBase64)?;
    let kind = r.int(6).map_err(|_| GppError::Truncated)? as u8;
    if kind != 3 {
        return Err(GppError::Type(kind));
    }
    let version = r.int(6).map_err(|_| GppError::Truncated)? as u8;
    if version != 1 {
        return Err(GppError::Version(version));
    }
    let entries = r.int(12).map_err(|_| GppError::Truncated)?;
    let count = |ids: usize| GppError::SectionCount { ids, sections };
    let mut ids = Vec::new();
    let mut last = 0u64;
    for _ in 0..entries {
        let is_range = r.bit().map_err(|_| GppError::Truncated)?;
        let start = last + r.fibonacci(16).ok_or(GppError::BadIds)?;
        let end = match is_range {
            true => start + r.fibonacci(16).ok_or(GppError::BadIds)?,
            false => start,
        };
        if end > MAX_SECTION_ID {
            return Err(GppError::BadIds);
        }
        // Checked before expanding, so a hostile range never outgrows the input.
        if ids.len() as u64 + (end - start + 1) > sections as u64 {
            return Err(count(ids.len() + (end - start + 1) as usize));
        }
        ids.extend((start..=end).map(|id| id as u16));
        last = end;
    }
    if ids.len() != sections {
        return Err(count(ids.len()));
    }
    Ok(ids)
}

/// Whether section `id` says the user opted out (`false` for sections we do not read), and
/// the problem met reading it. An opt-out read before a problem still counts.
fn opted_out(id: u16, section: &str) -> (bool, Option<GppError>) {
    if id == 6 {
        return match super::us_privacy_opt_out(section) {
            Some(out) => (out, None),
            None => (false, Some(GppError::Section(id))),
        };
    }
    let Some(layout) = layout(id) else {
        return (false, None);
    };
    let core = section.split('.').next().unwrap_or_default();
    let Ok(mut r) = Bits::decode(core) else {
        return (false, Some(GppError::Section(id)));
    };
    match r.int(6) {
        Ok(v) if layout.versions.contains(&(v as u8)) => {}
        Ok(v) => return (false, Some(GppError::SectionVersion(id, v as u8))),
        Err(_) => return (false, Some(GppError::Section(id))),
    }
    let (mut at, mut out) = (6, false);
    for &offset in layout.opt_outs {
        let field = r.skip(offset - at).and_then(|()| r.int(2));
        match field {
            Ok(1) => out = true,
            Ok(0 | 2) => {}
            // 3 is not a defined value; a short section has no more fields.
            _ => return (out, Some(GppError::Section(id))),
        }
        at = offset + 2;
    }
    (out, None)
}
