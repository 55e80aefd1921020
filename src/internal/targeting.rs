//! Targeting compiled for matching: enum lists become bit masks and text is lowercased
//! once, so checking a request allocates nothing. Countries and placements are not here:
//! the index buckets line items by them (see `index`).
//!
//! The rule for missing data: a dimension the line item targets needs the request to carry
//! that fact. A listener of unknown age matches only line items without an age range.

use super::Request;
use super::catalog::{DayParting, Targeting, Weekday};
use super::time::{local_hour_and_weekday, unix_day, year_of_day};
use crate::vocab::{ContentKind, DeviceType, Gender};

#[derive(Debug, Clone, Default)]
pub(super) struct Compiled {
    os: Option<Vec<String>>,
    device_types: Option<u8>,
    /// Inclusive, in years.
    age: Option<(u32, u32)>,
    genders: Option<u8>,
    content: Option<u8>,
    genres: Option<Vec<String>>,
    languages: Option<Vec<String>>,
    day_parting: Option<DayMask>,
}

#[derive(Debug, Clone, Copy)]
struct DayMask {
    /// Bit h = hour h (local).
    hours: u32,
    /// Bit d = weekday d (0 = Monday).
    weekdays: u8,
    default_offset_min: Option<i32>,
}

fn mask<T: Copy>(list: &Option<Vec<T>>, bit: fn(T) -> u32) -> Option<u8> {
    list.as_ref()
        .map(|l| l.iter().fold(0u8, |m, v| m | (1 << bit(*v))))
}

fn lowercase(list: &Option<Vec<String>>) -> Option<Vec<String>> {
    list.as_ref()
        .map(|l| l.iter().map(|s| s.trim().to_ascii_lowercase()).collect())
}

fn device_bit(d: DeviceType) -> u32 {
    match d {
        DeviceType::Phone => 0,
        DeviceType::Tablet => 1,
        DeviceType::Desktop => 2,
        DeviceType::Tv => 3,
        DeviceType::Speaker => 4,
        DeviceType::Car => 5,
    }
}

fn gender_bit(g: Gender) -> u32 {
    match g {
        Gender::Female => 0,
        Gender::Male => 1,
        Gender::Other => 2,
    }
}

fn content_bit(c: ContentKind) -> u32 {
    match c {
        ContentKind::Music => 0,
        ContentKind::Podcast => 1,
        ContentKind::Radio => 2,
        ContentKind::Video => 3,
    }
}

fn weekday_bit(w: Weekday) -> u32 {
    w as u32
}

/// Whether an optional request value is in an optional mask: no mask = anyone; a mask
/// needs a value.
fn in_mask<T>(m: Option<u8>, v: Option<T>, bit: fn(T) -> u32) -> bool {
    match (m, v) {
        (None, _) => true,
        (Some(m), Some(v)) => m & (1 << bit(v)) != 0,
        (Some(_), None) => false,
    }
}

fn in_list(list: &Option<Vec<String>>, v: Option<&str>) -> bool {
    match (list, v) {
        (None, _) => true,
        (Some(l), Some(v)) => l.iter().any(|x| x.eq_ignore_ascii_case(v.trim())),
        (Some(_), None) => false,
    }
}

impl Compiled {
    pub fn new(t: &Targeting) -> Self {
        Compiled {
            os: lowercase(&t.os),
            device_types: mask(&t.device_types, device_bit),
            age: t
                .age
                .map(|a| (a.min.unwrap_or(0), a.max.unwrap_or(u32::MAX))),
            genders: mask(&t.genders, gender_bit),
            content: mask(&t.content, content_bit),
            genres: lowercase(&t.genres),
            languages: lowercase(&t.languages),
            day_parting: t.day_parting.as_ref().map(day_mask),
        }
    }

    /// Whether the request's listener and context fit, at `now_unix` (for age and hours).
    pub fn matches(&self, req: &Request<'_>, now_unix: u64) -> bool {
        in_mask(self.device_types, req.device_type, device_bit)
            && in_mask(self.genders, req.gender, gender_bit)
            && in_mask(self.content, req.content, content_bit)
            && in_list(&self.os, req.os)
            && in_list(&self.genres, req.genre)
            && in_list(&self.languages, req.language)
            && self.age_fits(req.yob, now_unix)
            && self.hour_fits(req.utc_offset_min, now_unix)
    }

    fn age_fits(&self, yob: Option<u16>, now_unix: u64) -> bool {
        let Some((min, max)) = self.age else {
            return true;
        };
        let Some(yob) = yob else {
            return false;
        };
        let year = year_of_day(unix_day(now_unix) as i64);
        u32::try_from(year - i64::from(yob)).is_ok_and(|age| (min..=max).contains(&age))
    }

    fn hour_fits(&self, offset: Option<i32>, now_unix: u64) -> bool {
        let Some(dp) = self.day_parting else {
            return true;
        };
        let Some(offset) = offset.or(dp.default_offset_min) else {
            return false;
        };
        let (hour, weekday) = local_hour_and_weekday(now_unix, offset);
        dp.hours & (1 << hour) != 0 && dp.weekdays & (1 << weekday) != 0
    }
}

fn day_mask(dp: &DayParting) -> DayMask {
    DayMask {
        hours: dp.hours.as_ref().map_or((1 << 24) - 1, |h| {
            h.iter().filter(|&&h| h < 24).fold(0, |m, &h| m | (1 << h))
        }),
        weekdays: mask(&dp.weekdays, weekday_bit).unwrap_or(0x7f),
        default_offset_min: dp.default_utc_offset_min,
    }
}
