//! The JSON forms of what dealflow holds: values and moments, history records, deal documents,
//! a deal's `final` record and the team. One form for each, shared by the simulator's JSON
//! timeline, the store's history and the daemon's API; no I/O here.

mod deal;
mod record;
mod value;

pub use deal::{deal_json, final_json, team_json};
pub use record::{
    Actor, json_lines, record_body, record_in_utc, record_line, record_object, with_head,
};
pub(crate) use value::number;
pub use value::{
    at, json_fields, json_value, number_decimal, stamp, utc_text, value_json, value_json_utc,
};

/// The JSON Schema of a line of the JSON timeline (`dealflow simulate --print-schema`): every
/// record kind, its keys and their types, as `schema/timeline.schema.json` in the repository.
pub const TIMELINE_SCHEMA: &str = include_str!("../../schema/timeline.schema.json");
