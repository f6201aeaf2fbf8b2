//! History records in plain words, Russian or English: the dashboard's deal page and
//! `dealflow explain` say the same thing the same way — tasks by their titles, stages by theirs,
//! moments as people write them in the pipeline's zone, yes and no in the page's language.

use chrono::DateTime;
use serde_json::Value as Json;

use crate::compile::Plan;
use crate::types::Ty;

/// A field's label (a role's title), or its name.
pub fn field_label(plan: &Plan, name: &str) -> String {
    plan.field_index
        .get(name)
        .and_then(|&i| plan.fields[i].label.clone())
        .or_else(|| {
            plan.role_index
                .get(name)
                .map(|&r| plan.roles[r].title.clone())
        })
        .unwrap_or_else(|| name.to_string())
}

/// When a history record happened, as people read it.
pub fn when(r: &Json, ru: bool) -> String {
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

/// A moment as a record keeps it (RFC 3339), as people read it in the pipeline's zone: `01.12.2027
/// 10:00` (Russian), `2027-12-01 10:00` (English); the text as it is when it does not read.
pub(super) fn moment(plan: &Plan, text: &str, ru: bool) -> String {
    match DateTime::parse_from_rfc3339(text) {
        Ok(t) => {
            let local = t.with_timezone(&plan.tz);
            local
                .format(if ru {
                    "%d.%m.%Y %H:%M"
                } else {
                    "%Y-%m-%d %H:%M"
                })
                .to_string()
        }
        Err(_) => text.to_string(),
    }
}

/// A field's value as people read it: yes or no, dates and moments as they write them.
fn value_words(plan: &Plan, field: &str, v: &Json, ru: bool) -> String {
    let ty = plan.field_index.get(field).map(|&i| &plan.fields[i].ty);
    match (v, ty) {
        (Json::Null, _) => "—".into(),
        (Json::Bool(b), _) => match (b, ru) {
            (true, true) => "да".into(),
            (false, true) => "нет".into(),
            (true, false) => "yes".into(),
            (false, false) => "no".into(),
        },
        (Json::String(s), Some(Ty::DateTime)) => moment(plan, s, ru),
        (Json::String(s), Some(Ty::Date)) if ru => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_or_else(|_| s.clone(), |d| d.format("%d.%m.%Y").to_string()),
        (Json::String(s), _) => s.clone(),
        (other, _) => other.to_string(),
    }
}

/// A stage's title (or the titles of several, `&` between).
fn stage_words(plan: &Plan, v: &Json) -> String {
    let one = |n: &str| {
        plan.stage_index
            .get(n)
            .map_or(n.to_string(), |&i| plan.stages[i].title.clone())
    };
    match v {
        Json::Array(a) => a
            .iter()
            .filter_map(Json::as_str)
            .map(one)
            .collect::<Vec<_>>()
            .join(" & "),
        Json::String(x) => one(x),
        _ => String::new(),
    }
}

/// "1 segment", "2 сегмента": a count of SMS segments.
fn segments(n: usize, ru: bool) -> &'static str {
    match (ru, n % 10, n % 100) {
        (true, 1, m) if m != 11 => "сегмент",
        (true, 2..=4, m) if !(12..=14).contains(&m) => "сегмента",
        (true, ..) => "сегментов",
        (false, ..) if n == 1 => "segment",
        (false, ..) => "segments",
    }
}

/// A message's channel in words.
fn channel(c: &str, ru: bool) -> String {
    match (c, ru) {
        ("email", true) => "письмо".into(),
        ("sms", _) => "SMS".into(),
        ("telegram", _) => "Telegram".into(),
        (other, _) => other.to_string(),
    }
}

/// One history record in plain words (Russian when `ru`, else English).
pub fn describe(plan: &Plan, kind: &str, r: &Json, ru: bool) -> String {
    let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
    let task = || plan.task_title(&s("task"));
    let stage = |k: &str| stage_words(plan, &r[k]);
    let at = |k: &str| moment(plan, &s(k), ru);
    let alert = || {
        let n = s("alert");
        plan.alerts
            .iter()
            .find(|a| a.name == n)
            .map_or(n, |a| a.title.clone())
    };
    let hours = |k: &str| r[k].to_string().trim_matches('"').to_string();
    let pick = |ru_text: String, en_text: String| if ru { ru_text } else { en_text };
    match kind {
        "deal_created" if r["quiet"] == true => pick(
            format!(
                "Сделка перенесена: {} (без действий при входе)",
                stage("stage")
            ),
            format!(
                "Deal imported: {} (without its on-enter actions)",
                stage("stage")
            ),
        ),
        "deal_created" => pick(
            format!("Сделка создана: {}", stage("stage")),
            format!("Deal created: {}", stage("stage")),
        ),
        "deal_refused" => pick(
            format!("✗ Сделка не создана: {}", s("error")),
            format!("✗ Deal not created: {}", s("error")),
        ),
        "stage_entered" => pick(
            format!("▶ Этап «{}»", stage("stage")),
            format!("▶ Enters «{}»", stage("stage")),
        ),
        "stage_left" => pick(
            format!("◀ Уходит с этапа «{}»", stage("stage")),
            format!("◀ Leaves «{}»", stage("stage")),
        ),
        "stage_skipped" => pick(
            format!("↷ Пропускает «{}»", stage("stage")),
            format!("↷ Skips «{}»", stage("stage")),
        ),
        "stage_migrated" => pick(
            format!(
                "⇢ Перенесена правилами из «{}» в «{}»",
                s("from"),
                stage("stage")
            ),
            format!(
                "⇢ Moved by the rules from «{}» to «{}»",
                s("from"),
                stage("stage")
            ),
        ),
        "track_waiting" => pick(
            format!("⧖ Ждёт остальные ветки в «{}»", stage("stage")),
            format!("⧖ Waits for the other tracks at «{}»", stage("stage")),
        ),
        "field_set" => {
            let field = s("field");
            let label = field_label(plan, &field);
            let value = value_words(plan, &field, &r["value"], ru);
            match r.get("from") {
                Some(before) => {
                    let before = value_words(plan, &field, before, ru);
                    pick(
                        format!("{label}: {before} → {value}"),
                        format!("{label}: {before} → {value}"),
                    )
                }
                None if r["derived"] == true => pick(
                    format!("{label} = {value} (вычислено)"),
                    format!("{label} = {value} (computed)"),
                ),
                None => format!("{label} = {value}"),
            }
        }
        // Its outbox row is forgotten (`[outbox] keep_days`): which message, not its text.
        "notification" if r.get("text").is_none() => pick(
            format!(
                "✉ {} → {}: текст больше не хранится",
                channel(&s("channel"), true),
                s("to")
            ),
            format!(
                "✉ {} → {}: its text is no longer kept",
                channel(&s("channel"), false),
                s("to")
            ),
        ),
        "notification" if s("channel") == "sms" => {
            // Records written before segments were counted are counted from their text.
            let size = crate::sms::size(&s("text"));
            format!(
                "✉ SMS → {}: «{}» ({} {} {})",
                s("to"),
                s("text"),
                size.segments,
                segments(size.segments, ru),
                size.encoding.name()
            )
        }
        "notification" => format!(
            "✉ {} → {}: «{}»",
            channel(&s("channel"), ru),
            s("to"),
            r["subject"].as_str().unwrap_or(&s("text"))
        ),
        // Written when the message's row was forgotten (`[outbox] keep_days`).
        "notification_sent" => pick(
            format!("✓ Отправлено: {}", channel(&s("channel"), true)),
            format!("✓ Sent: {}", channel(&s("channel"), false)),
        ),
        "notification_skipped" => pick(
            format!(
                "✉ не отправлено ({}): {}",
                channel(&s("channel"), ru),
                skip_reason(&s("reason"))
            ),
            format!(
                "✉ not sent ({}): {}",
                channel(&s("channel"), ru),
                s("reason")
            ),
        ),
        "task_created" => pick(
            format!("☐ Задача «{}» → {}", s("title"), s("assignee")),
            format!("☐ Task «{}» → {}", s("title"), s("assignee")),
        ),
        "task_started" => pick(
            format!("▷ Задача «{}» начата ({})", task(), s("by")),
            format!("▷ Task «{}» started ({})", task(), s("by")),
        ),
        "task_cancelled" => pick(
            format!("☒ Задача «{}» отменена: сделка завершена", task()),
            format!("☒ Task «{}» cancelled: the deal ended", task()),
        ),
        "task_reassigned" => pick(
            format!("⇄ Задача «{}»: {} → {}", task(), s("from"), s("to")),
            format!("⇄ Task «{}»: {} → {}", task(), s("from"), s("to")),
        ),
        "task_done" => pick(
            format!("☑ Задача «{}» готова", task()),
            format!("☑ Task «{}» done", task()),
        ),
        "time_logged" => pick(
            format!("⏱ {} ч на «{}» ({})", hours("hours"), task(), s("by")),
            format!("⏱ {} h on «{}» ({})", hours("hours"), task(), s("by")),
        ),
        "timer_stopped" if r["replaced"] == true => pick(
            format!(
                "⏸ Таймер ({}) на «{}» остановлен: часы введены вручную",
                s("by"),
                task()
            ),
            format!(
                "⏸ Timer ({}) on «{}» stopped: hours typed in instead",
                s("by"),
                task()
            ),
        ),
        "timer_stopped" => pick(
            format!(
                "⏸ Таймер ({}) на «{}» остановлен: {} ч{}",
                s("by"),
                task(),
                hours("hours"),
                if r["capped"] == true {
                    " (предел)"
                } else {
                    ""
                }
            ),
            format!(
                "⏸ Timer ({}) on «{}» stopped: {} h{}",
                s("by"),
                task(),
                hours("hours"),
                if r["capped"] == true { " (capped)" } else { "" }
            ),
        ),
        "time_amended" => pick(
            format!(
                "✎ Запись времени {} ({}): {} ч → {} ч, исправил(а) {}",
                r["entry"],
                s("user"),
                hours("from"),
                hours("to"),
                s("by")
            ),
            format!(
                "✎ Time entry {} ({}): {} h → {} h, corrected by {}",
                r["entry"],
                s("user"),
                hours("from"),
                hours("to"),
                s("by")
            ),
        ),
        "timer_set" => pick(
            format!("⏰ Таймер на {}", at("fires_at")),
            format!("⏰ Timer for {}", at("fires_at")),
        ),
        "timer_moved" => pick(
            format!("⏰ Таймер перенесён с {} на {}", at("from"), at("fires_at")),
            format!("⏰ Timer moved from {} to {}", at("from"), at("fires_at")),
        ),
        "timer_dropped" => pick(
            "⏰ Таймер снят: в новых правилах его нет".into(),
            "⏰ Timer dropped: the new rules do not have it".into(),
        ),
        "timer_fired" => pick("⏰ Сработал таймер".into(), "⏰ Timer fired".into()),
        "group_created" => {
            let members = r["members"]
                .as_array()
                .map(|m| {
                    m.iter()
                        .filter_map(Json::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            pick(
                format!("👥 Группа «{}»: {members}", s("title")),
                format!("👥 Group «{}»: {members}", s("title")),
            )
        }
        "alert_raised" => pick(
            format!("⚠ Тревога: {}", alert()),
            format!("⚠ Alert: {}", alert()),
        ),
        "alert_cleared" => pick(
            format!("✓ Тревога снята: {}", alert()),
            format!("✓ Alert cleared: {}", alert()),
        ),
        "event_applied" => pick(
            format!("Событие {}", s("event")),
            format!("Event {}", s("event")),
        ),
        "event_refused" => pick(
            format!("✗ Событие {} не принято: {}", s("event"), s("error")),
            format!("✗ Event {} refused: {}", s("event"), s("error")),
        ),
        "step_failed" => pick(
            format!("✗ Шаг не удался: {}", s("error")),
            format!("✗ Step failed: {}", s("error")),
        ),
        "personal_data_erased" => pick(
            format!("⌫ Личные данные клиента удалены ({})", s("by")),
            format!("⌫ The client's personal data was erased ({})", s("by")),
        ),
        other => other.to_string(),
    }
}

/// What came in, in words, from a history entry's cause.
pub fn input_words(plan: &Plan, cause: &str, ru: bool) -> String {
    let pick = |ru_text: String, en_text: String| if ru { ru_text } else { en_text };
    let (what, rest) = cause.split_once(' ').unwrap_or((cause, ""));
    match what {
        "created" => pick("Сделка создана".into(), "The deal was created".into()),
        "event" => pick(format!("Событие {rest}"), format!("Event {rest}")),
        // A task's reminder (`⏰ ID`), or a timer line as the file writes it.
        "timer" => match rest
            .strip_prefix("⏰ ")
            .filter(|id| plan.task_line(id).is_some())
        {
            Some(id) => pick(
                format!("Напоминание: задача «{}» просрочена", plan.task_title(id)),
                format!("Reminder: task «{}» is overdue", plan.task_title(id)),
            ),
            None => pick(
                format!("Сработал таймер «{rest}»"),
                format!("Timer «{rest}» fell due"),
            ),
        },
        "task" => task_words(plan, rest, ru),
        "time" => {
            // `time entry N corrected [by P]`
            let entry = rest
                .trim_start_matches("entry ")
                .split(' ')
                .next()
                .unwrap_or("");
            let by = rest.split_once(" by ").map(|(_, p)| p).unwrap_or("");
            pick(
                format!("Запись времени {entry} исправлена {by}")
                    .trim()
                    .to_string(),
                format!("Time entry {entry} corrected {by}")
                    .trim()
                    .to_string(),
            )
        }
        "edited" => {
            let by = rest.trim_start_matches("by ");
            pick(
                format!("Правка полей {by}").trim().to_string(),
                format!("Fields edited {by}").trim().to_string(),
            )
        }
        "rules" => {
            let version = rest.trim_start_matches("version ");
            pick(
                format!("Новые правила (версия {version})"),
                format!("New rules (version {version})"),
            )
        }
        "spawned" => {
            let parent = rest.trim_start_matches("by ");
            pick(
                format!("Создана из сделки {parent}"),
                format!("Made by deal {parent}"),
            )
        }
        "midnight" => pick(
            "Полночь: проверка тревог".into(),
            "Local midnight: alerts checked".into(),
        ),
        "erasure" => pick(
            "Удаление личных данных".into(),
            "Personal data erased".into(),
        ),
        "opt-out" => pick(
            "Клиент отказался от рассылки".into(),
            "The client opted out".into(),
        ),
        // What went out, said when its message was forgotten (`[outbox] keep_days`).
        "outbox" => pick("Сообщения ушли".into(), "Messages went out".into()),
        _ => cause.to_string(),
    }
}

/// Work on a task, from a cause's `ID started|paused|done` or `ID: N h logged`.
fn task_words(plan: &Plan, rest: &str, ru: bool) -> String {
    if let Some((id, logged)) = rest.split_once(": ") {
        let h = logged.trim_end_matches(" h logged");
        let title = plan.task_title(id);
        return if ru {
            format!("Задача «{title}»: записано {h} ч")
        } else {
            format!("Task «{title}»: {h} h logged")
        };
    }
    let (id, what) = rest.rsplit_once(' ').unwrap_or((rest, ""));
    let title = plan.task_title(id);
    let done = match (what, ru) {
        ("started", true) => "начата",
        ("paused", true) => "на паузе",
        ("done", true) => "готова",
        ("started", false) => "started",
        ("paused", false) => "paused",
        ("done", false) => "done",
        _ => what,
    };
    if ru {
        format!("Задача «{title}» {done}")
    } else {
        format!("Task «{title}» {done}")
    }
}

/// Why a message was not sent, in Russian (the engine and the outbox write it in English).
fn skip_reason(reason: &str) -> String {
    fn what(w: &str) -> &str {
        match w {
            "phone number" => "телефона",
            "email address" => "email",
            "Telegram chat" => "чата в Telegram",
            other => other,
        }
    }
    if reason == "no team member has this role" {
        return "в команде нет никого с этой ролью".into();
    }
    if reason == "dropped by the notify hook" {
        return "отменено скриптом notify".into();
    }
    if let Some(ch) = reason.strip_prefix("the client opted out of ") {
        return format!("клиент отказался от {}", channel(ch, true));
    }
    if let Some(w) = reason.strip_prefix("the client has no ") {
        return format!("у клиента нет {}", what(w));
    }
    if let Some(rest) = reason.strip_prefix("template `")
        && let Some((tpl, missing)) = rest.split_once("` has no ")
    {
        let missing = match missing {
            "sms text" => "текста SMS",
            "email" => "письма",
            _ => "текста",
        };
        return format!("в шаблоне {tpl} нет {missing}");
    }
    if let Some(rest) = reason.strip_prefix('`')
        && let Some((who, w)) = rest.split_once("` has no ")
    {
        return format!("у {who} нет {}", what(w));
    }
    reason.to_string()
}
