//! A timeline for tools (JSON, one record per line) and for people (a readable day-by-day log).

use std::fmt::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value as Json, json};

use super::Timeline;
use crate::compile::Plan;
use crate::engine::{Deal, Kind, Record};
use crate::value::Value;

fn at(t: &DateTime<Utc>, tz: Tz) -> String {
    At(*t, tz).to_string()
}

/// A moment in the pipeline's zone, RFC 3339 to the second (`2026-03-02T09:15:00+03:00`),
/// written straight into the output: a timeline has several of these per event.
struct At(DateTime<Utc>, Tz);

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use chrono::{Datelike, Offset, Timelike};
        let local = self.0.with_timezone(&self.1);
        let offset = local.offset().fix().local_minus_utc();
        if offset % 60 != 0 || !(0..=9999).contains(&local.year()) {
            // Offsets with seconds (zones before standard time) and far years: chrono's way.
            return f.write_str(&local.to_rfc3339_opts(SecondsFormat::Secs, false));
        }
        let (sign, offset) = if offset < 0 {
            (b'-', -offset)
        } else {
            (b'+', offset)
        };
        let mut buf = *b"0000-00-00T00:00:00+00:00";
        let mut put = |at: usize, width: usize, mut n: u32| {
            for i in (at..at + width).rev() {
                buf[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(0, 4, local.year() as u32);
        put(5, 2, local.month());
        put(8, 2, local.day());
        put(11, 2, local.hour());
        put(14, 2, local.minute());
        put(17, 2, local.second());
        put(20, 2, (offset / 3600) as u32);
        put(23, 2, (offset / 60 % 60) as u32);
        buf[19] = sign;
        // Only ASCII digits and signs were written.
        f.write_str(std::str::from_utf8(&buf).map_err(|_| std::fmt::Error)?)
    }
}

impl serde::Serialize for At {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.collect_str(self)
    }
}

/// A value as JSON: numbers for numbers and money, text for dates and moments.
pub fn value_json(v: &Value, tz: Tz) -> Json {
    match v {
        Value::Text(s) | Value::User(s) => Json::String(s.clone()),
        Value::Int(n) => json!(n),
        Value::Decimal(d) => {
            let text = d.normalize().to_string();
            text.parse::<serde_json::Number>()
                .map(Json::Number)
                .unwrap_or(Json::String(text))
        }
        Value::Bool(b) => Json::Bool(*b),
        Value::Date(d) => Json::String(d.format("%Y-%m-%d").to_string()),
        Value::DateTime(t) => Json::String(at(t, tz)),
        Value::List(items) => Json::Array(items.iter().map(|i| value_json(i, tz)).collect()),
        Value::Record(m) => Json::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), value_json(v, tz)))
                .collect(),
        ),
        other => Json::String(other.to_string()),
    }
}

fn number(d: rust_decimal::Decimal) -> Json {
    value_json(&Value::Decimal(d), Tz::UTC)
}

/// One record as a line of the JSON timeline, appended to `out` with its newline; false (and
/// nothing written) for kinds that are for people only.
pub fn record_line(r: &Record, tz: Tz, out: &mut Vec<u8>) -> bool {
    if !r.kind.in_json() {
        return false;
    }
    // Writing into a Vec cannot fail, and every value here serializes.
    let _ = serde_json::to_writer(&mut *out, &RecordJson { r, tz });
    out.push(b'\n');
    true
}

/// Any record (also those for people only) as one JSON object, as the daemon keeps history.
pub fn record_object(r: &Record, tz: Tz) -> String {
    serde_json::to_string(&RecordJson { r, tz }).unwrap_or_default()
}

/// A record as the JSON object of the timeline, serialized straight to the output: keys in
/// the order the specification lists them.
struct RecordJson<'a> {
    r: &'a Record,
    tz: Tz,
}

impl serde::Serialize for RecordJson<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let (r, tz) = (self.r, self.tz);
        let mut m = ser.serialize_map(None)?;
        m.serialize_entry("at", &At(r.at, tz))?;
        m.serialize_entry("deal", &*r.deal)?;
        m.serialize_entry("kind", r.kind.name())?;
        match &r.kind {
            Kind::DealCreated { stages, parent } => {
                m.serialize_entry("stage", stages)?;
                if let Some(p) = parent {
                    m.serialize_entry("parent", p)?;
                }
            }
            Kind::DealRefused { stages, error } => {
                m.serialize_entry("stage", stages)?;
                m.serialize_entry("error", error)?;
            }
            Kind::StageEntered { stage }
            | Kind::StageSkipped { stage }
            | Kind::StageLeft { stage } => {
                m.serialize_entry("stage", stage)?;
            }
            Kind::FieldSet { field, value } => {
                m.serialize_entry("field", field)?;
                m.serialize_entry(
                    "value",
                    &value.as_ref().map_or(Json::Null, |v| value_json(v, tz)),
                )?;
            }
            Kind::Notification {
                to_kind,
                to,
                channel,
                template,
                subject,
                text,
                send_at,
                attachments,
            } => {
                m.serialize_entry("to_kind", to_kind)?;
                m.serialize_entry("to", to)?;
                m.serialize_entry("channel", channel)?;
                m.serialize_entry("template", template)?;
                if let Some(s) = subject {
                    m.serialize_entry("subject", s)?;
                }
                m.serialize_entry("text", text)?;
                m.serialize_entry("send_at", &At(*send_at, tz))?;
                if !attachments.is_empty() {
                    m.serialize_entry("attachments", attachments)?;
                }
            }
            Kind::NotificationSkipped {
                to_kind,
                to,
                channel,
                template,
                reason,
            } => {
                m.serialize_entry("to_kind", to_kind)?;
                m.serialize_entry("to", to)?;
                m.serialize_entry("channel", channel)?;
                m.serialize_entry("template", template)?;
                m.serialize_entry("reason", reason)?;
            }
            Kind::TaskCreated {
                task,
                title,
                assignee,
                due,
                estimate_h,
            } => {
                m.serialize_entry("task", task)?;
                m.serialize_entry("title", title)?;
                m.serialize_entry("assignee", assignee)?;
                if let Some(d) = due {
                    m.serialize_entry("due", &At(*d, tz))?;
                }
                if let Some(e) = estimate_h {
                    m.serialize_entry("estimate_h", &number(*e))?;
                }
            }
            Kind::TaskDone { task, hours } => {
                m.serialize_entry("task", task)?;
                m.serialize_entry("hours", &number(*hours))?;
            }
            Kind::TimerSet { timer, fires_at } => {
                m.serialize_entry("timer", timer)?;
                m.serialize_entry("fires_at", &At(*fires_at, tz))?;
            }
            Kind::TimerFired { timer } => m.serialize_entry("timer", timer)?,
            Kind::GroupCreated { title, members } => {
                m.serialize_entry("title", title)?;
                m.serialize_entry("members", members)?;
            }
            Kind::AlertRaised { alert } | Kind::AlertCleared { alert } => {
                m.serialize_entry("alert", alert)?;
            }
            Kind::EventRefused { event, error } => {
                m.serialize_entry("event", event)?;
                m.serialize_entry("error", error)?;
            }
            Kind::StepFailed { cause, error } => {
                m.serialize_entry("cause", cause)?;
                m.serialize_entry("error", error)?;
            }
            // Kinds for people only (not in the timeline; kept in the daemon's history).
            Kind::TrackWaiting { stage } => m.serialize_entry("stage", stage)?,
            Kind::TaskStarted { task, by } => {
                m.serialize_entry("task", task)?;
                m.serialize_entry("by", by)?;
            }
            Kind::TimeLogged { task, by, hours } => {
                m.serialize_entry("task", task)?;
                m.serialize_entry("by", by)?;
                m.serialize_entry("hours", &number(*hours))?;
            }
            Kind::EventApplied { event, by } => {
                m.serialize_entry("event", event)?;
                m.serialize_entry("by", by)?;
            }
        }
        m.end()
    }
}

/// The `final` record of a deal.
pub fn final_json(plan: &Plan, deal: &Deal, until: &DateTime<Utc>) -> Json {
    let tz = plan.tz;
    let stages: Vec<&str> = deal
        .stages()
        .iter()
        .map(|&s| plan.stages[s].name.as_str())
        .collect();
    let mut fields = Map::new();
    for (f, v) in plan.fields.iter().zip(deal.values.iter()) {
        if let Some(v) = v {
            fields.insert(f.name.clone(), value_json(v, tz));
        }
    }
    for (r, v) in plan.roles.iter().zip(deal.slots.iter()) {
        if let Some(v) = v {
            fields.insert(r.name.clone(), Json::String(v.clone()));
        }
    }
    let alerts: Vec<&str> = plan
        .alerts
        .iter()
        .zip(&deal.alerts)
        .filter(|(_, on)| **on)
        .map(|(a, _)| a.name.as_str())
        .collect();
    let mut m = Map::new();
    m.insert("at".into(), json!(at(until, tz)));
    m.insert("deal".into(), json!(&*deal.id));
    m.insert("kind".into(), json!("final"));
    m.insert("stages".into(), json!(stages));
    m.insert("fields".into(), Json::Object(fields));
    m.insert("hours_spent".into(), number(deal.hours_spent()));
    m.insert("open_tasks".into(), json!(deal.open_tasks(None)));
    m.insert("alerts".into(), json!(alerts));
    Json::Object(m)
}

/// The whole timeline as JSON lines.
pub fn json_lines(plan: &Plan, t: &Timeline) -> String {
    let mut out = Vec::new();
    for r in &t.records {
        record_line(r, plan.tz, &mut out);
    }
    let mut out = String::from_utf8(out).unwrap_or_default();
    for f in &t.finals {
        out.push_str(&final_json(plan, &f.deal, &t.until).to_string());
        out.push('\n');
    }
    out
}

fn short(s: &str, max: usize) -> String {
    let one_line = s.replace('\n', " ⏎ ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        format!("{}…", one_line.chars().take(max).collect::<String>())
    }
}

/// Writes the timeline for people as records arrive: a day header, then
/// `time  deal  what happened`.
pub struct TextWriter<'p> {
    plan: &'p Plan,
    width: usize,
    day: Option<chrono::NaiveDate>,
}

impl<'p> TextWriter<'p> {
    /// A writer whose deal column is `width` characters wide (it grows for longer ids).
    pub fn new(plan: &'p Plan, width: usize) -> Self {
        TextWriter {
            plan,
            width,
            day: None,
        }
    }

    /// The first line.
    pub fn header(&self) -> String {
        format!(
            "Simulation of «{}» ({}), times in {}\n",
            self.plan.title, self.plan.name, self.plan.tz
        )
    }

    fn stage_title(&self, name: &str) -> String {
        let plan = self.plan;
        plan.stage_index
            .get(name)
            .map(|&i| format!("{} ({name})", plan.stages[i].title))
            .unwrap_or_else(|| name.to_string())
    }

    /// The line (and day header, when the day changes) for one record.
    pub fn record(&mut self, r: &Record) -> String {
        let plan = self.plan;
        let tz = plan.tz;
        let local = |d: &DateTime<Utc>| d.with_timezone(&tz);
        let mut out = String::new();
        let l = local(&r.at);
        if self.day != Some(l.date_naive()) {
            self.day = Some(l.date_naive());
            let _ = writeln!(out, "\n{}", l.format("%Y-%m-%d, %A"));
        }
        self.width = self.width.max(r.deal.chars().count());
        let what = match &r.kind {
            Kind::DealCreated { stages, parent } => {
                let st: Vec<String> = stages.iter().map(|s| self.stage_title(s)).collect();
                match parent {
                    Some(p) => format!("● new deal, spawned by {p}, starts at {}", st.join(" & ")),
                    None => format!("● new deal, starts at {}", st.join(" & ")),
                }
            }
            Kind::DealRefused { error, .. } => format!("✗ deal refused: {error}"),
            Kind::StageEntered { stage } => format!("▶ enters {}", self.stage_title(stage)),
            Kind::StageSkipped { stage } => format!("↷ skips {}", self.stage_title(stage)),
            Kind::StageLeft { stage } => format!("◀ leaves {}", self.stage_title(stage)),
            Kind::TrackWaiting { stage } => format!(
                "⧖ waits at {} for the other tracks",
                self.stage_title(stage)
            ),
            Kind::FieldSet { field, value } => match value {
                Some(v) => format!("  {field} = {}", short(&json_text(v, tz), 60)),
                None => format!("  {field} cleared"),
            },
            Kind::Notification {
                to,
                channel,
                subject,
                text,
                send_at,
                attachments,
                ..
            } => {
                let held = if send_at > &r.at {
                    format!(" (held until {})", local(send_at).format("%d.%m %H:%M"))
                } else {
                    String::new()
                };
                let att = if attachments.is_empty() {
                    String::new()
                } else {
                    format!(
                        " + {}",
                        attachments
                            .iter()
                            .map(|a| a.filename.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                match subject {
                    Some(s) => format!("✉ {channel} to {to}{held}: «{}»{att}", short(s, 70)),
                    None => format!("✉ {channel} to {to}{held}: «{}»", short(text, 70)),
                }
            }
            Kind::NotificationSkipped {
                channel,
                template,
                reason,
                ..
            } => format!("✉ no {channel} «{template}»: {reason}"),
            Kind::TaskCreated {
                task,
                title,
                assignee,
                due,
                estimate_h,
            } => {
                let mut s = format!(
                    "☐ task «{title}» ({task}) → {}",
                    assignee.as_deref().unwrap_or("nobody")
                );
                if let Some(d) = due {
                    let _ = write!(s, ", due {}", local(d).format("%d.%m %H:%M"));
                }
                if let Some(e) = estimate_h {
                    let _ = write!(s, ", estimate {} h", e.normalize());
                }
                s
            }
            Kind::TaskStarted { task, by } => {
                format!("⏵ {} starts {task}", by.as_deref().unwrap_or("someone"))
            }
            Kind::TimeLogged { task, by, hours } => {
                format!("⏱ {by} logs {} h on {task}", hours.normalize())
            }
            Kind::TaskDone { task, hours } => {
                format!("☑ task {task} done ({} h)", hours.normalize())
            }
            Kind::TimerSet { timer, fires_at } => format!(
                "⏲ timer «{timer}» set for {}",
                local(fires_at).format("%d.%m %H:%M")
            ),
            Kind::TimerFired { timer } => format!("⏰ timer «{timer}» fires"),
            Kind::GroupCreated { title, members } => {
                format!("⚑ group «{title}»: {}", members.join(", "))
            }
            Kind::AlertRaised { alert } => format!("⚠ ALERT {}", alert_title(plan, alert)),
            Kind::AlertCleared { alert } => {
                format!("✓ alert cleared: {}", alert_title(plan, alert))
            }
            Kind::EventApplied { event, by } => match by {
                Some(b) => format!("⚡ {event} (by {b})"),
                None => format!("⚡ {event}"),
            },
            Kind::EventRefused { event, error } => format!("✗ event {event} refused: {error}"),
            Kind::StepFailed { cause, error } => {
                format!("✗ {cause} failed and was undone: {error}")
            }
        };
        let width = self.width;
        let _ = writeln!(out, "  {}  {:<width$}  {what}", l.format("%H:%M"), r.deal);
        out
    }

    /// Where every deal is when the clock stops.
    pub fn finals(&self, finals: &[super::Final], until: &DateTime<Utc>) -> String {
        let plan = self.plan;
        let width = self.width;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\nWhere every deal is at {}:",
            until.with_timezone(&plan.tz).format("%Y-%m-%d %H:%M")
        );
        for f in finals {
            let d = &f.deal;
            let stages: Vec<String> = d
                .stages()
                .iter()
                .map(|&s| self.stage_title(&plan.stages[s].name))
                .collect();
            let alerts: Vec<String> = plan
                .alerts
                .iter()
                .zip(&d.alerts)
                .filter(|(_, on)| **on)
                .map(|(a, _)| format!("⚠ {}", a.title))
                .collect();
            let mut line = format!("  {:<width$}  {}", d.id, stages.join(" & "));
            let open = d.open_tasks(None);
            let _ = write!(
                line,
                " · {} h spent · {open} open task{}",
                d.hours_spent().normalize(),
                if open == 1 { "" } else { "s" }
            );
            if !alerts.is_empty() {
                let _ = write!(line, " · {}", alerts.join(", "));
            }
            let _ = writeln!(out, "{line}");
        }
        out
    }
}

/// The whole timeline for people.
pub fn text(plan: &Plan, t: &Timeline) -> String {
    let width = t
        .records
        .iter()
        .map(|r| r.deal.chars().count())
        .chain(t.finals.iter().map(|f| f.deal.id.chars().count()))
        .max()
        .unwrap_or(4);
    let mut w = TextWriter::new(plan, width);
    let mut out = w.header();
    for r in &t.records {
        out.push_str(&w.record(r));
    }
    out.push_str(&w.finals(&t.finals, &t.until));
    out
}

fn alert_title(plan: &Plan, name: &str) -> String {
    plan.alerts
        .iter()
        .find(|a| a.name == name)
        .map_or_else(|| name.to_string(), |a| format!("«{}» ({name})", a.title))
}

fn json_text(v: &Value, tz: Tz) -> String {
    match value_json(v, tz) {
        Json::String(s) => s,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_are_written_as_chrono_writes_them() {
        let zones: [Tz; 5] = [
            chrono_tz::Europe::Moscow,
            chrono_tz::UTC,
            chrono_tz::America::New_York,
            chrono_tz::Asia::Kolkata,
            chrono_tz::Europe::Amsterdam,
        ];
        let moments = [
            "2026-03-02T06:15:00Z",
            "2026-03-29T00:59:59Z",
            "2026-03-29T01:00:00Z",
            "2026-11-01T05:30:00Z",
            "2026-12-31T23:59:59Z",
            "1900-01-01T12:00:00Z",
        ];
        for tz in zones {
            for m in moments {
                let t = DateTime::parse_from_rfc3339(m).unwrap().with_timezone(&Utc);
                let chrono = t
                    .with_timezone(&tz)
                    .to_rfc3339_opts(SecondsFormat::Secs, false);
                assert_eq!(At(t, tz).to_string(), chrono, "{m} in {tz}");
                assert_eq!(
                    serde_json::to_string(&At(t, tz)).unwrap(),
                    format!("\"{chrono}\"")
                );
            }
        }
    }
}
