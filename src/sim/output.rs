//! The timeline for people: a readable log, a day header then one line per record.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::Value as Json;

use super::Timeline;
use crate::compile::Plan;
use crate::engine::{Kind, Record};
use crate::json::value_json;
use crate::value::Value;

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
            Kind::DealCreated {
                stages,
                parent,
                quiet,
            } => {
                let st: Vec<String> = stages.iter().map(|s| self.stage_title(s)).collect();
                let how = if *quiet {
                    " (imported: without its on-enter actions)"
                } else {
                    ""
                };
                match parent {
                    Some(p) => format!(
                        "● new deal, spawned by {p}, starts at {}{how}",
                        st.join(" & ")
                    ),
                    None => format!("● new deal, starts at {}{how}", st.join(" & ")),
                }
            }
            Kind::DealRefused { error, .. } => format!("✗ deal refused: {error}"),
            Kind::StageEntered { stage } => format!("▶ enters {}", self.stage_title(stage)),
            Kind::StageSkipped { stage } => format!("↷ skips {}", self.stage_title(stage)),
            Kind::StageLeft { stage } => format!("◀ leaves {}", self.stage_title(stage)),
            Kind::StageMigrated { from, stage } => {
                format!("⇢ migrated from {from} to {}", self.stage_title(stage))
            }
            Kind::TrackWaiting { stage } => format!(
                "⧖ waits at {} for the other tracks",
                self.stage_title(stage)
            ),
            Kind::FieldSet {
                field,
                value,
                derived,
                was,
            } => {
                let mut how = if *derived { " (derived)" } else { "" }.to_string();
                if let Some(before) = was {
                    how.push_str(&match before {
                        Some(v) => format!(" (was {})", short(&json_text(v, tz), 40)),
                        None => " (was unset)".to_string(),
                    });
                }
                match value {
                    Some(v) => format!("  {field} = {}{how}", short(&json_text(v, tz), 60)),
                    None => format!("  {field} cleared{how}"),
                }
            }
            Kind::Notification {
                to,
                channel,
                subject,
                text,
                send_at,
                attachments,
                ..
            } => {
                // What an SMS costs, and until when the notify hook held the message.
                let mut notes = Vec::new();
                if *channel == "sms" {
                    let size = crate::sms::size(text);
                    notes.push(format!("{} × {}", size.segments, size.encoding.name()));
                }
                if send_at > &r.at {
                    notes.push(format!(
                        "held until {}",
                        local(send_at).format("%d.%m %H:%M")
                    ));
                }
                let held = if notes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", notes.join(", "))
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
            Kind::TimerStopped {
                task,
                by,
                hours,
                capped,
                replaced,
                ..
            } => {
                if *replaced {
                    format!("⏸ {by}'s timer on {task} stops: the hours typed in replace it")
                } else {
                    let cap = if *capped { ", capped" } else { "" };
                    format!(
                        "⏸ {by}'s timer on {task} stops: {} h{cap}",
                        hours.normalize()
                    )
                }
            }
            Kind::TimeAmended {
                entry,
                user,
                from,
                to,
                by,
            } => format!(
                "✎ time entry {entry} of {user}: {} h → {} h{}",
                from.normalize(),
                to.normalize(),
                by.as_ref().map(|b| format!(", by {b}")).unwrap_or_default()
            ),
            Kind::TaskCancelled { task } => {
                format!("☒ task {task} cancelled: the deal ended")
            }
            Kind::TaskReassigned { task, from, to } => format!(
                "⇄ task {task} goes from {} to {}",
                from.as_deref().unwrap_or("nobody"),
                to.as_deref().unwrap_or("nobody")
            ),
            Kind::TaskDone { task, hours } => {
                format!("☑ task {task} done ({} h)", hours.normalize())
            }
            Kind::TimerSet { timer, fires_at } => format!(
                "⏲ timer «{timer}» set for {}",
                local(fires_at).format("%d.%m %H:%M")
            ),
            Kind::TimerMoved {
                timer,
                from,
                fires_at,
            } => format!(
                "⏲ timer «{timer}» moved from {} to {}",
                local(from).format("%d.%m %H:%M"),
                local(fires_at).format("%d.%m %H:%M")
            ),
            Kind::TimerDropped { timer } => {
                format!("⏲ timer «{timer}» dropped: the rules no longer have it")
            }
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
