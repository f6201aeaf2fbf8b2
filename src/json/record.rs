//! History records as JSON objects: one line each in the simulator's JSON timeline (keys in
//! the order the specification lists them), one object each in the daemon's history.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::Value as Json;

use super::deal::final_json;
use super::value::{At, number, value_json};
use crate::compile::Plan;
use crate::engine::{Deal, Kind, Record};

/// One record as a line of the JSON timeline, appended to `out` with its newline; false (and
/// nothing written) for kinds that are for people only. A record a rule caused names it:
/// `"rule": "FILE:LINE"` (FILE as the plan names its file).
pub fn record_line(r: &Record, tz: Tz, file: &str, out: &mut Vec<u8>) -> bool {
    if !r.kind.in_json() {
        return false;
    }
    // Writing into a Vec cannot fail, and every value here serializes.
    let _ = serde_json::to_writer(
        &mut *out,
        &RecordJson {
            r,
            tz,
            file: Some(file),
            head: true,
            actor: None,
            repeat: 0,
        },
    );
    out.push(b'\n');
    true
}

/// Any record (also those for people only) as one JSON object, as the daemon keeps history.
/// The rule is not in it: history keeps it in a column of its own. `actor`: who the step was
/// done by (see [`record_body`]).
pub fn record_object(r: &Record, tz: Tz, actor: Option<&Actor>) -> String {
    serde_json::to_string(&RecordJson {
        r,
        tz,
        file: None,
        head: true,
        actor,
        repeat: 0,
    })
    .unwrap_or_default()
}

/// A record as the store's history keeps it: without its moment, deal and kind, which the
/// history has in columns of their own ([`with_head`] puts them back when it is read), and a
/// message without its subject, text and attachments, which its outbox row keeps. `actor`
/// says who the step was done by (see [`Actor`]): the last keys.
///
/// `repeat` numbers a message that repeats one before it in its step (the same rule, channel,
/// recipient and template: a loop, a hand-over of several tasks) from 1, as its outbox row's key
/// does; 0 for any other record.
pub fn record_body(r: &Record, tz: Tz, actor: Option<&Actor>, repeat: u32) -> String {
    serde_json::to_string(&RecordJson {
        r,
        tz,
        file: None,
        head: false,
        actor,
        repeat,
    })
    .unwrap_or_default()
}

/// Who a step of the daemon was done by, written on each of its records: `by`, the person the
/// input named (on a record that names no one of its own), and `via`, whose token or session
/// sent it when that was not that person (a token acting for someone, an integration's token by
/// its name) — or, on a record that names someone else (a timer of Anna's stopped when Olga
/// finished the task), the person the step was done by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    /// The person the input named.
    pub by: Option<String>,
    /// Whose token or session sent it, when not theirs.
    pub via: Option<String>,
}

impl Actor {
    /// Nobody named: `None`.
    pub fn of(by: Option<String>, via: Option<String>) -> Option<Actor> {
        (by.is_some() || via.is_some()).then_some(Actor { by, via })
    }
}

/// The person a record of this kind names as who did it, if it names one.
fn own_by(k: &Kind) -> Option<&str> {
    match k {
        Kind::TimeLogged { by, .. } | Kind::TimerStopped { by, .. } => Some(by.as_str()),
        Kind::TaskStarted { by, .. }
        | Kind::TimeAmended { by, .. }
        | Kind::EventApplied { by, .. } => by.as_deref(),
        _ => None,
    }
}

/// A stored history record with its moment (RFC 3339, UTC), deal and kind first, as
/// [`record_object`] writes them; a record stored whole (by an earlier version) as it is.
pub fn with_head(body: &str, at: &str, deal: &str, kind: &str) -> String {
    if body.starts_with("{\"at\"") {
        return body.to_string();
    }
    let text = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let rest = body.trim().strip_prefix('{').unwrap_or("}");
    let comma = if rest.trim_start().starts_with('}') {
        ""
    } else {
        ","
    };
    format!(
        "{{\"at\":{},\"deal\":{},\"kind\":{}{comma}{rest}",
        text(at),
        text(deal),
        text(kind)
    )
}

/// A history record as stored (moments local, with their offset) rewritten as the HTTP API
/// serves it: its moments in UTC. A `field_set` value is a moment only when the field is one.
pub fn record_in_utc(record: &mut serde_json::Map<String, Json>, plan: &Plan) {
    let kind = record
        .get("kind")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let moment_value = kind == "field_set"
        && record
            .get("field")
            .and_then(Json::as_str)
            .and_then(|f| plan.field_index.get(f))
            .is_some_and(|&f| plan.fields[f].ty == crate::types::Ty::DateTime);
    let from_is_moment = kind == "timer_moved";
    for (key, v) in record.iter_mut() {
        let moment = match key.as_str() {
            "at" | "fires_at" | "send_at" | "due" | "since" => true,
            "from" => from_is_moment || moment_value,
            "value" => moment_value,
            _ => false,
        };
        if moment {
            super::value::utc_text(v);
        }
    }
}

/// A record as the JSON object of the timeline, serialized straight to the output: keys in
/// the order the specification lists them.
struct RecordJson<'a> {
    r: &'a Record,
    tz: Tz,
    /// The rule file, when the object names the rule (the timeline).
    file: Option<&'a str>,
    /// The moment, deal and kind are written, and a message's own content (not in the store's
    /// history body).
    head: bool,
    /// Who the step was done by (the daemon's history only).
    actor: Option<&'a Actor>,
    /// A repeated message's number in its step (the store's history body only; see
    /// [`record_body`]).
    repeat: u32,
}

/// `FILE:LINE`, written straight into the output.
struct Rule<'a>(&'a str, usize);

impl serde::Serialize for Rule<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.collect_str(&format_args!("{}:{}", self.0, self.1))
    }
}

impl serde::Serialize for RecordJson<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let (r, tz) = (self.r, self.tz);
        let mut m = ser.serialize_map(None)?;
        if self.head {
            m.serialize_entry("at", &At(r.at, tz))?;
            m.serialize_entry("deal", &*r.deal)?;
            m.serialize_entry("kind", r.kind.name())?;
        }
        match &r.kind {
            Kind::DealCreated {
                stages,
                parent,
                quiet,
            } => {
                m.serialize_entry("stage", stages)?;
                if let Some(p) = parent {
                    m.serialize_entry("parent", p)?;
                }
                if *quiet {
                    m.serialize_entry("quiet", &true)?;
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
            Kind::StageMigrated { from, stage } => {
                m.serialize_entry("from", from)?;
                m.serialize_entry("stage", stage)?;
            }
            Kind::FieldSet {
                field,
                value,
                derived,
                was,
            } => {
                let json = |v: &Option<crate::value::Value>| {
                    v.as_ref().map_or(Json::Null, |v| value_json(v, tz))
                };
                m.serialize_entry("field", field)?;
                if let Some(before) = was {
                    m.serialize_entry("from", &json(before))?;
                }
                m.serialize_entry("value", &json(value))?;
                if *derived {
                    m.serialize_entry("derived", &true)?;
                }
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
                // The store's history leaves the message itself to its outbox row, which
                // keeps it once (`store::messages` puts it back when history is read).
                if self.head {
                    if let Some(s) = subject {
                        m.serialize_entry("subject", s)?;
                    }
                    m.serialize_entry("text", text)?;
                    if *channel == "sms" {
                        let size = crate::sms::size(text);
                        m.serialize_entry("segments", &size.segments)?;
                        m.serialize_entry("encoding", size.encoding.name())?;
                    }
                }
                m.serialize_entry("send_at", &At(*send_at, tz))?;
                if self.head && !attachments.is_empty() {
                    m.serialize_entry("attachments", attachments)?;
                }
                if self.repeat > 0 {
                    m.serialize_entry("repeat", &self.repeat)?;
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
            Kind::TaskCancelled { task } => m.serialize_entry("task", task)?,
            Kind::TaskReassigned { task, from, to } => {
                m.serialize_entry("task", task)?;
                m.serialize_entry("from", from)?;
                m.serialize_entry("to", to)?;
            }
            Kind::TaskDone { task, hours } => {
                m.serialize_entry("task", task)?;
                m.serialize_entry("hours", &number(*hours))?;
            }
            Kind::TimerSet { timer, fires_at } => {
                m.serialize_entry("timer", timer)?;
                m.serialize_entry("fires_at", &At(*fires_at, tz))?;
            }
            Kind::TimerMoved {
                timer,
                from,
                fires_at,
            } => {
                m.serialize_entry("timer", timer)?;
                m.serialize_entry("from", &At(*from, tz))?;
                m.serialize_entry("fires_at", &At(*fires_at, tz))?;
            }
            Kind::TimerFired { timer } | Kind::TimerDropped { timer } => {
                m.serialize_entry("timer", timer)?
            }
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
            Kind::TimerStopped {
                task,
                by,
                since,
                hours,
                capped,
                replaced,
            } => {
                m.serialize_entry("task", task)?;
                m.serialize_entry("by", by)?;
                m.serialize_entry("since", &At(*since, tz))?;
                m.serialize_entry("hours", &number(*hours))?;
                if *capped {
                    m.serialize_entry("capped", &true)?;
                }
                if *replaced {
                    m.serialize_entry("replaced", &true)?;
                }
            }
            Kind::TimeAmended {
                entry,
                user,
                from,
                to,
                by,
            } => {
                m.serialize_entry("entry", entry)?;
                m.serialize_entry("user", user)?;
                m.serialize_entry("from", &number(*from))?;
                m.serialize_entry("to", &number(*to))?;
                m.serialize_entry("by", by)?;
            }
            Kind::EventApplied { event, by } => {
                m.serialize_entry("event", event)?;
                m.serialize_entry("by", by)?;
            }
        }
        if let Some(a) = self.actor {
            let via = match (own_by(&r.kind), &a.by) {
                (None, Some(by)) => {
                    m.serialize_entry("by", by)?;
                    a.via.as_deref()
                }
                // The record names someone else than the step's person: say who acted.
                (Some(own), Some(by)) if own != by => a.via.as_deref().or(Some(by.as_str())),
                _ => a.via.as_deref(),
            };
            if let Some(via) = via {
                m.serialize_entry("via", via)?;
            }
        }
        if let (Some(file), Some(line)) = (self.file, r.line) {
            m.serialize_entry("rule", &Rule(file, line))?;
        }
        m.end()
    }
}

/// A whole timeline as JSON lines: its records, then a `final` record for each deal.
pub fn json_lines<'d>(
    plan: &Plan,
    records: &[Record],
    finals: impl IntoIterator<Item = &'d Deal>,
    until: &DateTime<Utc>,
) -> String {
    let mut out = Vec::new();
    for r in records {
        record_line(r, plan.tz, &plan.file, &mut out);
    }
    let mut out = String::from_utf8(out).unwrap_or_default();
    for deal in finals {
        out.push_str(&final_json(plan, deal, until).to_string());
        out.push('\n');
    }
    out
}
