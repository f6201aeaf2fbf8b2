//! What of a turned-away request is kept in `refusals`.

use chrono::{DateTime, Utc};

use super::ops::{CoreError, Op, Step};
use crate::engine::{Input, TaskAction};
use crate::store::Refusal;

// What of a turned-away request is kept in `refusals`: the deal, the input (a creation, an
// event, work on a task) with what it carried, who sent it, and why — the rule `file:line`
// when one decided it. Timers, midnights and switches are the daemon's own work: their
// failures go to the deal's history instead.

/// The refusal `op` met, if it met one worth keeping.
pub(super) fn refusal(
    op: &Op,
    result: &Result<Step, CoreError>,
    rule: Option<String>,
    version: i64,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Option<Refusal> {
    let (code, reason) = match result {
        Ok(Step::Applied { .. }) | Err(CoreError::NoDeal(_) | CoreError::Store(_)) => {
            return None;
        }
        Ok(Step::Refused(m) | Step::Unmet(m) | Step::Missing(m)) => ("refused", m.clone()),
        Ok(Step::NotNow(m)) => ("not_now", m.clone()),
        Ok(Step::Failed(m)) => ("step_failed", m.clone()),
        // An import run again finds its deals there: that is how it is meant to go.
        Err(CoreError::Exists(_)) if matches!(op, Op::Create(c) if c.quiet) => return None,
        Err(e @ CoreError::Exists(_)) => ("exists", e.to_string()),
        Err(e @ CoreError::Misfit(..)) => ("misfit", e.to_string()),
        Err(e @ CoreError::Switch(..)) => ("step_failed", e.to_string()),
    };
    let fields = |m: &std::collections::BTreeMap<String, crate::value::Value>| {
        let o: serde_json::Map<String, serde_json::Value> = m
            .iter()
            .map(|(k, v)| (k.clone(), crate::json::value_json(v, tz)))
            .collect();
        serde_json::Value::Object(o).to_string()
    };
    let (deal, input, name, payload, by) = match op {
        Op::Create(req) => (
            req.id.clone(),
            "create",
            req.stages.join(" & "),
            fields(&req.fields),
            None,
        ),
        Op::Apply {
            deal,
            input: Input::Event { name, payload, by },
        } => (
            deal.clone(),
            "event",
            name.clone(),
            fields(payload),
            by.clone(),
        ),
        Op::Apply {
            deal,
            input: Input::Task { task, action, by },
        } => {
            let (what, payload) = match action {
                TaskAction::Start => ("start", "{}".to_string()),
                TaskAction::Pause => ("pause", "{}".to_string()),
                TaskAction::Done => ("done", "{}".to_string()),
                TaskAction::Log(h) => (
                    "log",
                    serde_json::json!({ "hours": h.to_string() }).to_string(),
                ),
            };
            (
                deal.clone(),
                "task",
                format!("{task} {what}"),
                payload,
                by.clone(),
            )
        }
        Op::Apply {
            deal,
            input:
                Input::Edit {
                    fields: set,
                    clear,
                    by,
                },
        } => {
            let mut payload: serde_json::Map<String, serde_json::Value> = set
                .iter()
                .map(|(k, v)| (k.clone(), crate::json::value_json(v, tz)))
                .collect();
            for c in clear {
                payload.insert(c.clone(), serde_json::Value::Null);
            }
            (
                deal.clone(),
                "edit",
                "fields".to_string(),
                serde_json::Value::Object(payload).to_string(),
                by.clone(),
            )
        }
        Op::Apply {
            deal,
            input: Input::Amend { entry, hours, by },
        } => (
            deal.clone(),
            "time",
            format!("entry {entry}"),
            serde_json::json!({ "hours": hours.to_string() }).to_string(),
            by.clone(),
        ),
        _ => return None,
    };
    Some(Refusal {
        id: 0,
        deal,
        at: now,
        input: input.to_string(),
        name,
        payload,
        by,
        code: code.to_string(),
        reason,
        rule,
        version,
        via: None,
        origin: None,
        settled: None,
    })
}
