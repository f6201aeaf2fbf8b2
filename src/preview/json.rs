//! A preview as one JSON document (`dealflow plan --format json`, the reload's dry run).
//! Moments are in the pipeline's zone, as in the timeline.

use chrono_tz::Tz;
use serde_json::{Value as Json, json};

use super::{DealPreview, Preview};
use crate::engine::Change;
use crate::json::at;

/// The preview as a JSON document; times in the pipeline's zone `tz`.
pub fn preview_json(p: &Preview, tz: Tz) -> Json {
    let s = &p.summary;
    json!({
        "applicable": p.applicable(),
        "reasons": p.reasons(),
        "at": at(&p.at, tz),
        "running_version": p.running,
        "live_deals": p.live,
        "summary": {
            "deals_changed": s.deals_changed,
            "timers_added": s.timers_added,
            "timers_moved": s.timers_moved,
            "timers_dropped": s.timers_dropped,
            "timers_not_rearmed": s.timers_not_rearmed,
            "fire_at_switch": s.fire_at_switch,
            "alerts_raised": s.alerts_raised,
            "alerts_cleared": s.alerts_cleared,
            "messages": s.messages,
            "stages_migrated": s.stages_migrated,
            "fields_carried": s.fields_carried,
            "stranded": s.stranded,
            "failed": s.failed,
            "hooks_failing": s.hooks_failing,
        },
        "hooks": {
            "deals_tried": p.hooks_tried,
            "failing": p.hooks.iter().map(|h| json!({
                "hook": h.tried, "deal": h.deal, "error": h.error, "fails_now_too": h.also_now,
            })).collect::<Vec<_>>(),
        },
        "deals": p.deals.iter().map(|d| deal(d, tz)).collect::<Vec<_>>(),
        "stranded": p.stranded.iter().map(|x| json!({
            "stage": x.stage,
            "deals": x.count,
            "first": x.first,
        })).collect::<Vec<_>>(),
        "warnings": p.warnings,
    })
}

fn deal(d: &DealPreview, tz: Tz) -> Json {
    json!({
        "id": d.id,
        "stages": d.stages,
        "changes": d.changes.iter().map(|c| change(c, tz)).collect::<Vec<_>>(),
        "alerts_raised": d.raised,
        "alerts_cleared": d.cleared,
        "messages": d.messages.iter().map(|m| json!({
            "timer": m.timer,
            "channel": m.channel,
            "to_kind": m.to_kind,
            "to": m.to,
            "template": m.template,
            "subject": m.subject,
            "text": m.text,
        })).collect::<Vec<_>>(),
        "failed": d.failed,
    })
}

fn change(c: &Change, tz: Tz) -> Json {
    match c {
        Change::StageMigrated {
            from,
            to,
            enter,
            line,
        } => json!({
            "kind": "stage_migrated", "from": from, "to": to, "on_enter": enter, "line": line,
        }),
        Change::FieldCarried { from, to, line } => json!({
            "kind": "field_carried", "from": from, "to": to, "line": line,
        }),
        Change::TimerAdded {
            timer,
            fires_at,
            overdue,
            ..
        } => json!({
            "kind": "timer_added", "timer": timer, "fires_at": at(fires_at, tz),
            "fires_at_switch": overdue,
        }),
        Change::TimerMoved {
            timer,
            from,
            to,
            overdue,
            ..
        } => json!({
            "kind": "timer_moved", "timer": timer, "from": at(from, tz), "fires_at": at(to, tz),
            "fires_at_switch": overdue,
        }),
        Change::TimerDropped { timer, fires_at } => json!({
            "kind": "timer_dropped", "timer": timer, "was_for": at(fires_at, tz),
        }),
        Change::TimerNotRearmed {
            timer,
            fired_for,
            now_for,
        } => json!({
            "kind": "timer_not_rearmed", "timer": timer, "fired_for": at(fired_for, tz),
            "now_for": at(now_for, tz),
        }),
    }
}
