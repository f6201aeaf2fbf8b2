//! History records in plain words, Russian or English: the dashboard's deal page and
//! `dealflow explain` say the same thing the same way.

use chrono::DateTime;

use crate::compile::Plan;

/// A field's label, or its name.
pub fn field_label(plan: &Plan, name: &str) -> String {
    plan.field_index
        .get(name)
        .and_then(|&i| plan.fields[i].label.clone())
        .unwrap_or_else(|| name.to_string())
}

/// When a history record happened, as people read it.
pub fn when(r: &serde_json::Value, ru: bool) -> String {
    r["at"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| {
            if ru {
                t.format("%d.%m.%Y %H:%M").to_string()
            } else {
                t.format("%Y-%m-%d %H:%M").to_string()
            }
        })
        .unwrap_or_default()
}

/// One history record in plain words (Russian when `ru`, else English).
pub fn describe(plan: &Plan, kind: &str, r: &serde_json::Value, ru: bool) -> String {
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
        ("deal_created", true) if r["quiet"] == true => format!(
            "Сделка перенесена: {} (без действий при входе)",
            stage(&r["stage"])
        ),
        ("deal_created", false) if r["quiet"] == true => format!(
            "Deal imported: {} (without its on-enter actions)",
            stage(&r["stage"])
        ),
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
        ("field_set", ru) if r["derived"] == serde_json::Value::Bool(true) => format!(
            "{} = {value} ({})",
            field_label(plan, &s("field")),
            if ru { "вычислено" } else { "computed" }
        ),
        ("field_set", _) => format!("{} = {value}", field_label(plan, &s("field"))),
        ("notification", ru) if s("channel") == "sms" => {
            // Records written before segments were counted are counted from their text.
            let size = crate::sms::size(&s("text"));
            format!(
                "✉ sms → {}: «{}» ({} {} {})",
                s("to"),
                s("text"),
                size.segments,
                match (ru, size.segments % 10, size.segments % 100) {
                    (true, 1, n) if n != 11 => "сегмент",
                    (true, 2..=4, n) if !(12..=14).contains(&n) => "сегмента",
                    (true, ..) => "сегментов",
                    (false, ..) if size.segments == 1 => "segment",
                    (false, ..) => "segments",
                },
                size.encoding.name()
            )
        }
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
        ("task_reassigned", true) => {
            format!("⇄ Задача {}: {} → {}", s("task"), s("from"), s("to"))
        }
        ("task_reassigned", false) => {
            format!("⇄ Task {}: {} → {}", s("task"), s("from"), s("to"))
        }
        ("task_done", true) => format!("☑ Задача {} готова", s("task")),
        ("task_done", false) => format!("☑ Task {} done", s("task")),
        ("time_logged", true) => format!("⏱ {} ч ({})", r["hours"], s("by")),
        ("time_logged", false) => format!("⏱ {} h ({})", r["hours"], s("by")),
        ("timer_stopped", true) if r["replaced"] == true => {
            format!(
                "⏸ Таймер {} на {} остановлен: часы введены вручную",
                s("by"),
                s("task")
            )
        }
        ("timer_stopped", false) if r["replaced"] == true => {
            format!(
                "⏸ {}'s timer on {} stopped: hours typed in instead",
                s("by"),
                s("task")
            )
        }
        ("timer_stopped", true) => format!(
            "⏸ Таймер {} на {} остановлен: {} ч{}",
            s("by"),
            s("task"),
            r["hours"],
            if r["capped"] == true {
                " (предел)"
            } else {
                ""
            }
        ),
        ("timer_stopped", false) => format!(
            "⏸ {}'s timer on {} stopped: {} h{}",
            s("by"),
            s("task"),
            r["hours"],
            if r["capped"] == true { " (capped)" } else { "" }
        ),
        ("time_amended", true) => format!(
            "✎ Запись времени {} ({}): {} ч → {} ч, исправил(а) {}",
            r["entry"],
            s("user"),
            r["from"],
            r["to"],
            s("by")
        ),
        ("time_amended", false) => format!(
            "✎ Time entry {} ({}): {} h → {} h, corrected by {}",
            r["entry"],
            s("user"),
            r["from"],
            r["to"],
            s("by")
        ),
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
