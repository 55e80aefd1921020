//! Internal (direct-sold) demand: campaigns and line items that ops book themselves, served
//! beside programmatic bids as the pseudo-partner `internal`.
//!
//! The pure core, no I/O on the decision path:
//! - `catalog`: the file format (`schemas/catalog.schema.json`), `load`/`validate`: reading
//!   a JSON or TOML catalog and reporting every problem with its path;
//! - `Index`: a checked catalog indexed for decisions — `decide` gives the line items that
//!   may fill one slot now, best first; `record_impression` counts what played;
//! - `Store`: the delivery state decisions read (goals, frequency caps), `MemoryStore` the
//!   in-process one.
//!
//! Time is passed in (`now_unix`), randomness too (`fastrand::Rng`, for pacing and creative
//! rotation): the same inputs and store give the same answer, which is what makes pacing
//! testable by simulation.
//!
//! Enums are the client API's own (`crate::vocab::{DeviceType, Gender, ContentKind}`,
//! `crate::config::AdFormat`), so a `/v1/ads` request maps onto `Request` field by field.

pub mod catalog;
mod index;
mod item;
mod load;
mod pacing;
mod rules;
mod store;
mod targeting;
mod time;
mod validate;

pub use catalog::{
    Advertiser, AgeRange, AudioCreative, Campaign, CatalogFile, Companion, Creative, DayParting,
    DisplayCreative, Flight, FrequencyCap, Goal, Goals, LineItem, Pacing, Targeting, Tier,
    VideoCreative, Weekday,
};
pub use index::Index;
pub use load::{Catalog, CatalogProblem, Syntax};
pub use store::{Delivered, LeaseTerms, MemoryStore, Store};
pub use time::parse_rfc3339;

use crate::config::AdFormat;
use crate::money::Micros;
use crate::vocab::{ContentKind, DeviceType, Gender};

/// What the decision sees about one slot of one request (filled from `/v1/ads`: the
/// placement's config, the device, the listener as consent allows, the context).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub placement: &'a str,
    pub format: AdFormat,
    /// ISO 3166-1 alpha-3.
    pub country: Option<&'a str>,
    pub os: Option<&'a str>,
    pub device_type: Option<DeviceType>,
    pub yob: Option<u16>,
    pub gender: Option<Gender>,
    pub content: Option<ContentKind>,
    pub genre: Option<&'a str>,
    /// ISO 639-1.
    pub language: Option<&'a str>,
    /// The listener's offset from UTC, for day-parting.
    pub utc_offset_min: Option<i32>,
    /// User or device key for frequency capping. `None`: caps cannot be checked, so line
    /// items with caps do not serve.
    pub user_key: Option<&'a str>,
    /// Audio and video: the lengths one ad may have.
    pub min_duration_s: u32,
    pub max_duration_s: u32,
    /// Audio and video: accepted media types; empty = any.
    pub mimes: &'a [String],
    /// Display: the sizes offered.
    pub sizes: &'a [[u32; 2]],
    /// Standard line items below it do not serve (see `Index::decide`).
    pub floor: Micros,
}

impl<'a> Request<'a> {
    /// A slot with nothing known about the listener: any duration, no sizes, no floor.
    pub fn new(placement: &'a str, format: AdFormat) -> Self {
        Request {
            placement,
            format,
            country: None,
            os: None,
            device_type: None,
            yob: None,
            gender: None,
            content: None,
            genre: None,
            language: None,
            utc_offset_min: None,
            user_key: None,
            min_duration_s: 0,
            max_duration_s: u32::MAX,
            mimes: &[],
            sizes: &[],
            floor: Micros::ZERO,
        }
    }
}

/// A line item that may fill the slot, with the creative that fits it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub line_item: &'a LineItem,
    pub creative: &'a Creative,
    pub tier: Tier,
    /// Its CPM (zero for a house line item without one).
    pub price: Micros,
}

#[cfg(test)]
mod tests;
