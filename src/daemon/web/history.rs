//! A deal's history in plain words, with the reason for each step (cause, rule, version).

use chrono::DateTime;
use maud::{Markup, html};

use super::format::field_label;
use super::i18n::Lang;
use crate::compile::Plan;
use crate::store::HistoryEntry;

pub(super) fn history_time(r: &serde_json::Value, lang: Lang) -> String {
    r["at"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| match lang {
            Lang::Ru => t.format("%d.%m.%Y %H:%M").to_string(),
            Lang::En => t.format("%Y-%m-%d %H:%M").to_string(),
        })
        .unwrap_or_default()
}

/// One history entry in plain words.
pub(super) fn describe(plan: &Plan, kind: &str, r: &serde_json::Value, lang: Lang) -> String {
    let ru = lang == Lang::Ru;
    let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
    let stage = |v: &serde_json::Value| -> String {
        let one = |n: &str| {
            plan.stage_index
                .get(n)
                .map_or(n.to_string(), |&i| plan.stages[i].title.clone())
        };
        match v {
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str())
                .map(one)
                .collect::<Vec<_>>()
                .join(" & "),
            serde_json::Value::String(x) => one(x),
            _ => String::new(),
        }
    };
    let alert = || {
        let n = s("alert");
        plan.alerts
            .iter()
            .find(|a| a.name == n)
            .map_or(n, |a| a.title.clone())
    };
    let value = match &r["value"] {
        serde_json::Value::String(x) => x.clone(),
        serde_json::Value::Null => "—".into(),
        other => other.to_string(),
    };
    match (kind, ru) {
        ("deal_created", true) => format!("Сделка создана: {}", stage(&r["stage"])),
        ("deal_created", false) => format!("Deal created: {}", stage(&r["stage"])),
        ("stage_entered", true) => format!("▶ Этап «{}»", stage(&r["stage"])),
        ("stage_entered", false) => format!("▶ Enters «{}»", stage(&r["stage"])),
        ("stage_left", true) => format!("◀ Уходит с этапа «{}»", stage(&r["stage"])),
        ("stage_left", false) => format!("◀ Leaves «{}»", stage(&r["stage"])),
        ("stage_skipped", true) => format!("↷ Пропускает «{}»", stage(&r["stage"])),
        ("stage_skipped", false) => format!("↷ Skips «{}»", stage(&r["stage"])),
        ("track_waiting", true) => format!("⧖ Ждёт остальные ветки в «{}»", stage(&r["stage"])),
        ("track_waiting", false) => {
            format!("⧖ Waits for the other tracks at «{}»", stage(&r["stage"]))
        }
        ("field_set", _) => format!("{} = {value}", field_label(plan, &s("field"))),
        ("notification", _) => format!(
            "✉ {} → {}: «{}»",
            s("channel"),
            s("to"),
            r["subject"].as_str().unwrap_or(&s("text"))
        ),
        ("notification_skipped", true) => {
            format!("✉ не отправлено ({}): {}", s("channel"), s("reason"))
        }
        ("notification_skipped", false) => {
            format!("✉ not sent ({}): {}", s("channel"), s("reason"))
        }
        ("task_created", true) => format!("☐ Задача «{}» → {}", s("title"), s("assignee")),
        ("task_created", false) => format!("☐ Task «{}» → {}", s("title"), s("assignee")),
        ("task_started", true) => format!("Задача {} начата", s("task")),
        ("task_started", false) => format!("Task {} started", s("task")),
        ("task_cancelled", true) => format!("☒ Задача {} отменена: сделка завершена", s("task")),
        ("task_cancelled", false) => format!("☒ Task {} cancelled: the deal ended", s("task")),
        ("task_done", true) => format!("☑ Задача {} готова", s("task")),
        ("task_done", false) => format!("☑ Task {} done", s("task")),
        ("time_logged", true) => format!("⏱ {} ч ({})", r["hours"], s("by")),
        ("time_logged", false) => format!("⏱ {} h ({})", r["hours"], s("by")),
        ("timer_set", true) => format!("⏰ Таймер на {}", s("fires_at")),
        ("timer_set", false) => format!("⏰ Timer for {}", s("fires_at")),
        ("stage_migrated", true) => {
            format!("⇢ Перенесена правилами из {} в {}", s("from"), s("stage"))
        }
        ("stage_migrated", false) => format!(
            "⇢ Migrated by the rules from {} to {}",
            s("from"),
            s("stage")
        ),
        ("timer_moved", true) => format!("⏰ Таймер перенесён на {}", s("fires_at")),
        ("timer_moved", false) => format!("⏰ Timer moved to {}", s("fires_at")),
        ("timer_dropped", true) => "⏰ Таймер снят: в новых правилах его нет".into(),
        ("timer_dropped", false) => "⏰ Timer dropped: the new rules do not have it".into(),
        ("timer_fired", true) => "⏰ Сработал таймер".into(),
        ("timer_fired", false) => "⏰ Timer fired".into(),
        ("alert_raised", true) => format!("⚠ Тревога: {}", alert()),
        ("alert_raised", false) => format!("⚠ Alert: {}", alert()),
        ("alert_cleared", true) => format!("✓ Тревога снята: {}", alert()),
        ("alert_cleared", false) => format!("✓ Alert cleared: {}", alert()),
        ("event_applied", true) => format!("Событие {}", s("event")),
        ("event_applied", false) => format!("Event {}", s("event")),
        ("event_refused", true) => format!("✗ Событие {} не принято: {}", s("event"), s("error")),
        ("event_refused", false) => format!("✗ Event {} refused: {}", s("event"), s("error")),
        ("step_failed", true) => format!("✗ Шаг не удался: {}", s("error")),
        ("step_failed", false) => format!("✗ Step failed: {}", s("error")),
        (other, _) => other.replace('_', " "),
    }
}

/// The history section of a deal's page: each step in plain words, with its cause, the rule
/// and the rules version that made it.
pub(super) fn history(plan: &Plan, entries: &[HistoryEntry], lang: Lang) -> Markup {
    let w = lang.words();
    html! {
        section.history {
            h2 { (w.history) }
            ol.timeline {
                @for h in entries {
                    @let r: serde_json::Value = serde_json::from_str(&h.record).unwrap_or_default();
                    li data-kind=(h.kind) {
                        span.at { (history_time(&r, lang)) }
                        span.what { (describe(plan, &h.kind, &r, lang)) }
                        span.why {
                            @if !h.cause.is_empty() { (w.cause) ": " (h.cause) }
                            @if let Some(rule) = &h.rule { " · " (w.rule) " " code { (rule) } }
                            " · " (w.version) " " (h.version)
                        }
                    }
                }
            }
        }
    }
}
