//! A deal's story as one JSON document (`dealflow explain --format json`, the API).

use chrono_tz::Tz;
use serde_json::{Value as Json, json};

use super::Explanation;
use crate::json::at;

/// The story as JSON; times in the pipeline's zone `tz`.
pub fn explanation_json(e: &Explanation, tz: Tz) -> Json {
    json!({
        "deal": e.deal,
        "stages": e.stages,
        "live": e.live,
        "waiting": e.waiting.iter().map(|(timer, when)| json!({
            "timer": timer, "fires_at": at(when, tz),
        })).collect::<Vec<_>>(),
        "steps": e.steps.iter().map(|s| json!({
            "at": at(&s.at, tz),
            "input": s.input,
            "by": s.by,
            "fields": s.fields,
            "version": s.version,
            "effects": s.effects.iter().map(|f| json!({
                "kind": f.kind, "text": f.text, "rule": f.rule,
            })).collect::<Vec<_>>(),
            "refused": s.refused.as_ref().map(|r| json!({
                "code": r.code, "reason": r.reason, "rule": r.rule,
            })),
            "notes": s.notes,
        })).collect::<Vec<_>>(),
    })
}
