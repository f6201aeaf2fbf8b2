//! A deal's story as one JSON document (`dealflow explain --format json`, the API).

use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};

use super::Explanation;

/// The story as JSON; each moment as `moment` writes it (the command line: in the pipeline's
/// zone; the API: in UTC).
pub fn explanation_json(e: &Explanation, moment: impl Fn(&DateTime<Utc>) -> String) -> Json {
    json!({
        "deal": e.deal,
        "stages": e.stages,
        "live": e.live,
        "waiting": e.waiting.iter().map(|(timer, when)| json!({
            "timer": timer, "fires_at": moment(when),
        })).collect::<Vec<_>>(),
        "steps": e.steps.iter().map(|s| json!({
            "at": moment(&s.at),
            "input": s.input,
            "by": s.by,
            "via": s.via,
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
