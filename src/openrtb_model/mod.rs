//! The complete OpenRTB 2.6 object model (bid request and bid response), its JSON Schemas, and
//! a strict type check.
//!
//! `crate::openrtb` stays the lean hot-path model: it types only what the gateway acts on. This
//! module types *every* field of the specification, 2.6 with the amendments released since
//! (`Refresh`/`RefSettings`, `DurFloors`, `Deal.guar`, `Video.poddedupe`, `Content.gtax`/`genres`,
//! `Data.cids`), for the places that want the whole document checked or described:
//! [`check_types`] (used by the OpenRTB endpoint when `auction.strict_types` is on) and the
//! published schemas `schemas/openrtb-bid-{request,response}.schema.json`.
//!
//! The rules every type here follows, and why:
//! - A field the spec marks *required* is a plain field; every other field is an `Option` that
//!   is skipped when `None`. No spec default is filled in, so parse → serialise neither invents
//!   nor drops a key, and a missing required field is an error naming it.
//! - An explicit `null` is not a value of an optional field's type (the spec says to omit what
//!   is unknown): it is a type error, not silently read as absent and then dropped on the way
//!   out. `ext` keeps `null` as it came.
//! - Enumerations are open integers (`i64`, `Vec<i64>`): AdCOM lists grow without an OpenRTB
//!   version bump, so a value unknown today must still parse.
//! - Prices and floors are `f64`; counts and sizes are `i64`, so odd values (0, negative) parse
//!   and validation judges them. Flags stay the integers (`0`/`1`) the spec defines.
//! - `ext` is an arbitrary JSON value, and every object keeps unknown fields in `rest`, written
//!   back unchanged: partners and newer spec revisions add fields we must pass through.

mod check;
mod context;
mod imp;
mod media;
mod request;
mod response;
mod user;

pub use check::{check_response_types, check_types};
pub use context::{App, Channel, Content, Dooh, Network, Producer, Publisher, Site};
pub use imp::{Deal, Imp, Metric, Pmp, Qty, RefSettings, Refresh};
pub use media::{Audio, Banner, DurFloors, Format, Native, Video};
pub use request::{BidRequest, Regs, Source, SupplyChain, SupplyChainNode};
pub use response::{Bid, BidResponse, SeatBid};
pub use user::{BrandVersion, Data, Device, Eid, Geo, Segment, Uid, User, UserAgent};

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Declares one OpenRTB object: `Name [required fields] { optional fields }`.
///
/// Every object gets the same derives, its optional fields wrapped in `Option` (skipped when
/// `None`, `null` refused by [`present`]), plus `ext` (which every OpenRTB object has) and
/// `rest` (the unknown fields, flattened). One declaration per object keeps the rules of the
/// module doc in one place instead of repeating them on hundreds of fields.
macro_rules! object {
    (
        $(#[$meta:meta])*
        $name:ident $([ $( $(#[$rmeta:meta])* $req:ident : $rty:ty ),* $(,)? ])? {
            $( $(#[$ometa:meta])* $opt:ident : $oty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, PartialEq, Default,
            serde::Serialize, serde::Deserialize, schemars::JsonSchema,
        )]
        pub struct $name {
            $($( $(#[$rmeta])* pub $req: $rty, )*)?
            $(
                $(#[$ometa])*
                #[serde(
                    default,
                    skip_serializing_if = "Option::is_none",
                    deserialize_with = "crate::openrtb_model::present"
                )]
                pub $opt: Option<$oty>,
            )*
            /// Placeholder for exchange- or bidder-specific extensions, kept as it came.
            #[serde(
                default,
                skip_serializing_if = "Option::is_none",
                deserialize_with = "crate::openrtb_model::present"
            )]
            pub ext: Option<serde_json::Value>,
            /// Fields this version of the model does not name, written back unchanged.
            #[serde(flatten)]
            pub rest: serde_json::Map<String, serde_json::Value>,
        }
    };
}
pub(crate) use object;

/// Reads a present optional field: its value must be of the field's type, `null` included
/// (so `null` is an error for typed fields and kept as `Value::Null` in `ext`). Absence is
/// handled by `#[serde(default)]`, which never calls this.
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// The JSON Schema of a bid request, generated from [`BidRequest`].
pub fn request_schema() -> Value {
    schema_of::<BidRequest>()
}

/// The JSON Schema of a bid response, generated from [`BidResponse`].
pub fn response_schema() -> Value {
    schema_of::<BidResponse>()
}

/// schemars describes an `Option` field as "the type or null"; here `Option` only means "may
/// be absent" (see [`present`]), so the schema drops the `null` alternative to say what the
/// parser accepts.
fn schema_of<T: schemars::JsonSchema>() -> Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .with_transform(no_null)
        .into_generator();
    serde_json::to_value(generator.into_root_schema_for::<T>()).expect("a schema is JSON")
}

fn no_null(schema: &mut schemars::Schema) {
    schemars::transform::transform_subschemas(&mut no_null, schema);
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            object.insert("type".into(), only);
        }
    }
    let is_null = |s: &Value| s.get("type").is_some_and(|t| t == "null");
    if let Some(Value::Array(any)) = object.get("anyOf")
        && any.len() == 2
        && let Some(other) = any.iter().find(|s| !is_null(s))
        && any.iter().any(is_null)
        && let Value::Object(other) = other.clone()
    {
        object.remove("anyOf");
        object.extend(other);
    }
}
