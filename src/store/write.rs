//! Writing many steps at once: the writer's group commit. Every table gets its rows for the
//! whole batch in a few multi-row statements, so a batch of fifty steps costs about as many round
//! trips to the database as one step would.
//!
//! (The deals a batch works on are read in one statement too: see `deals`.)

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::deals::facets;
use super::outbox::dedupe_key;
use super::statements::{Arg, Style, Writes};
use super::summaries::Change;
use super::{Answer, StoreError, StoredDeal, Tx, ms};
use crate::compile::Plan;
use crate::engine::{Deal, Kind, Record};
use crate::json::stamp;

/// How a batch writes deals: inserted, or updated when they exist.
const DEALS_UPSERT: (&str, &str) = (
    "INSERT INTO deals (id, title, parent, created_at, updated_at, rules_version, revision, \
     live, stages, phases, alerts, people, state)",
    "ON CONFLICT (id) DO UPDATE SET title = excluded.title, updated_at = excluded.updated_at, \
     rules_version = excluded.rules_version, revision = excluded.revision, live = excluded.live, \
     stages = excluded.stages, phases = excluded.phases, alerts = excluded.alerts, \
     people = excluded.people, state = excluded.state",
);

/// How a batch writes tasks: a new task is inserted, a changed one updated in place (a row
/// deleted and inserted again would move in the table and in every index, several pages more
/// written per step).
const TASKS_UPSERT: (&str, &str) = (
    "INSERT INTO tasks (deal_id, n, task, title, assignee, stage, created_at, due, \
     estimate_h, started_at, done_at, hours, cancelled, timer_by, timer_since)",
    "ON CONFLICT (deal_id, n) DO UPDATE SET task = excluded.task, title = excluded.title, \
     assignee = excluded.assignee, stage = excluded.stage, created_at = excluded.created_at, \
     due = excluded.due, estimate_h = excluded.estimate_h, started_at = excluded.started_at, \
     done_at = excluded.done_at, hours = excluded.hours, cancelled = excluded.cancelled, \
     timer_by = excluded.timer_by, timer_since = excluded.timer_since",
);

/// How a batch writes time entries: new ones inserted, corrected ones get their hours.
const TIME_INSERT: (&str, &str) = (
    "INSERT INTO time_entries (deal_id, n, task, member, hours, rate, at)",
    "ON CONFLICT (deal_id, n) DO UPDATE SET hours = excluded.hours",
);

/// How a batch writes history.
const HISTORY_INSERT: (&str, &str) = (
    "INSERT INTO history (deal_id, at, kind, cause, rule, rules_version, revision, record)",
    "",
);

/// The time entries a step added or corrected, and the corrected ones as they were.
fn entry_changes(
    before: Option<&Deal>,
    after: &Deal,
) -> (Vec<crate::engine::TimeEntry>, Vec<crate::engine::TimeEntry>) {
    let old: &[crate::engine::TimeEntry] = before.map_or(&[], |x| &x.time_entries[..]);
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    for (n, e) in after.time_entries.iter().enumerate() {
        match old.get(n) {
            Some(o) if o == e => {}
            Some(o) => {
                removed.push(o.clone());
                added.push(e.clone());
            }
            None => added.push(e.clone()),
        }
    }
    (added, removed)
}

/// A deal a batch changed: as it was read (`None`: new) and as it is now, at this revision.
pub struct DealWrite<'a> {
    /// As read at the start of the batch.
    pub before: Option<&'a Deal>,
    /// As it is after the batch's steps.
    pub after: &'a Deal,
    /// Its revision now.
    pub revision: i64,
    /// It was read as an earlier version of the rules wrote it: every task's row is written
    /// again, since the name of a task's stage may have changed.
    pub older: bool,
}

/// Everything a batch writes.
pub struct BatchWrite<'a> {
    /// The rules that ran it.
    pub plan: &'a Plan,
    /// Which fields the dashboard's summaries read.
    pub mapping: &'a super::Mapping,
    /// Their version.
    pub version: i64,
    /// When.
    pub now: DateTime<Utc>,
    /// Changed deals.
    pub deals: Vec<DealWrite<'a>>,
    /// What happened, each with the revision of its deal after that step and who the step was
    /// done by (see [`crate::json::Actor`]).
    pub history: Vec<(&'a Record, i64, Option<&'a crate::json::Actor>)>,
    /// Open-task changes per member.
    pub load: Vec<(String, i64)>,
    /// Answers to keep for idempotency keys.
    pub answers: Vec<(String, Answer)>,
    /// Timers to forget (their step failed, or their deal is gone).
    pub drop_timers: Vec<(String, u64)>,
    /// Events applied.
    pub events: Vec<AppliedEvent>,
    /// Inputs refused.
    pub refusals: Vec<super::Refusal>,
    /// Contacts new deals were given that could not be read, by deal.
    pub checks: Vec<(String, super::ContactCheck)>,
    /// Fields of deals a step gave a value: their open contact checks are settled.
    pub checked: Vec<(String, String)>,
    /// The webhooks' subscriptions: each record they take is queued for them.
    pub webhooks: &'a [super::Subscription],
}

/// An event a batch applied, to be kept with the fields it carried.
#[derive(Debug, Clone)]
pub struct AppliedEvent {
    /// The deal.
    pub deal: String,
    /// The event.
    pub name: String,
    /// The fields it carried, as JSON.
    pub payload: String,
    /// Who sent it.
    pub by: Option<String>,
    /// Who it came through, when not the person who sent it.
    pub via: Option<String>,
    /// The deal's revision after it.
    pub revision: i64,
}

impl Tx {
    /// Writes a batch: deals (inserted or updated), their timers, tasks and time entries (only
    /// what changed), history, queued messages, team load, kept answers.
    pub async fn write_batch(&mut self, b: &BatchWrite<'_>) -> Result<(), StoreError> {
        let now = stamp(b.now);
        let mut rows = Rows {
            timer_gone: b
                .drop_timers
                .iter()
                .map(|(d, t)| (d.clone(), *t as i64))
                .collect(),
            ..Rows::default()
        };
        for w in &b.deals {
            rows.deal(b, w, &now)?;
        }
        for (r, rev, actor) in &b.history {
            rows.record(b, r, *rev, *actor, &now);
        }
        let style = Style::of(self);
        let mut w = Writes::default();
        w.rows(style, DEALS_UPSERT.0, DEALS_UPSERT.1, rows.deals);
        w.delete_timers(style, &rows.timer_gone);
        w.rows(
            style,
            "INSERT INTO timers (deal_id, timer_id, label, due_ms)",
            "ON CONFLICT (deal_id, timer_id) DO UPDATE SET label = excluded.label, due_ms = excluded.due_ms",
            rows.timers,
        );
        w.rows(style, TASKS_UPSERT.0, TASKS_UPSERT.1, rows.tasks);
        w.rows(style, TIME_INSERT.0, TIME_INSERT.1, rows.time);
        w.rows(style, HISTORY_INSERT.0, HISTORY_INSERT.1, rows.history);
        w.rows(
            style,
            "INSERT INTO outbox (dedupe, deal_id, channel, to_kind, recipient, template, subject, \
             body, attachments, send_after_ms, status, attempts, next_ms, created_at)",
            "ON CONFLICT (dedupe) DO NOTHING",
            rows.outbox,
        );
        if !b.webhooks.is_empty() {
            let mut deals: Vec<&str> = b.history.iter().map(|(r, ..)| &*r.deal).collect();
            deals.sort_unstable();
            deals.dedup();
            let mut numbers = self.webhook_numbers(&deals).await?;
            let queued = super::webhooks::rows(
                b.webhooks,
                &b.history,
                b.version,
                b.plan,
                &mut numbers,
                &now,
            );
            w.rows(style, super::webhooks::INSERT, "", queued);
        }
        load(&mut w, style, &b.load);
        let event_rows: Vec<Vec<Arg>> = b
            .events
            .iter()
            .map(|e| {
                vec![
                    Arg::from(e.deal.as_str()),
                    Arg::from(e.name.as_str()),
                    Arg::from(e.payload.as_str()),
                    Arg::from(e.by.clone()),
                    Arg::from(e.via.clone()),
                    Arg::from(now.as_str()),
                    Arg::from(e.revision),
                ]
            })
            .collect();
        w.rows(
            style,
            "INSERT INTO events (deal_id, name, payload, sent_by, sent_via, at, revision)",
            "",
            event_rows,
        );
        w.rows(
            style,
            super::refusals::REFUSALS_INSERT,
            "",
            b.refusals.iter().map(super::Refusal::row).collect(),
        );
        w.rows(
            style,
            super::checks::CHECKS_INSERT,
            "",
            b.checks
                .iter()
                .map(|(d, c)| super::checks::check_row(d, c, &now))
                .collect(),
        );
        let answer_rows: Vec<Vec<Arg>> = b
            .answers
            .iter()
            .map(|(k, a)| {
                vec![
                    Arg::from(k.as_str()),
                    Arg::from(a.fingerprint.as_str()),
                    Arg::from(i64::from(a.status)),
                    Arg::from(a.body.as_str()),
                    Arg::from(now.as_str()),
                ]
            })
            .collect();
        w.rows(
            style,
            "INSERT INTO requests (key, fingerprint, status, body, created_at)",
            "",
            answer_rows,
        );
        let mut facts: std::collections::HashMap<&str, Vec<crate::analytics::tally::Fact>> =
            std::collections::HashMap::new();
        // An imported deal's own start is the old CRM's past (stages passed at once, a
        // delivery on import day): the analytics count what happens to it from then on.
        let imported: Vec<&str> = b
            .history
            .iter()
            .filter(|(r, ..)| matches!(r.kind, Kind::DealCreated { quiet: true, .. }))
            .map(|(r, ..)| &*r.deal)
            .collect();
        for (r, ..) in &b.history {
            if imported.contains(&&*r.deal) && &*r.cause == "created" {
                continue;
            }
            if let Some(f) = crate::analytics::tally::Fact::of(r) {
                facts.entry(&*r.deal).or_default().push(f);
            }
        }
        let changes: Vec<Change<'_>> = b
            .deals
            .iter()
            .map(|d| Change {
                before: d.before,
                facts: facts.remove(&*d.after.id).unwrap_or_default(),
                deal: d.after,
                entries: entry_changes(d.before, d.after),
            })
            .collect();
        self.summary_writes(b.plan, b.mapping, &changes, &mut w)
            .await?;
        self.send(w).await?;
        // Rare (a lead's unreadable contact given later): a statement each.
        for (deal, field) in &b.checked {
            self.settle_checks(Some(deal), super::CheckRef::Field(field), None, b.now)
                .await?;
        }
        Ok(())
    }
}

/// The rows a batch writes, table by table.
#[derive(Default)]
struct Rows {
    deals: Vec<Vec<Arg>>,
    timers: Vec<Vec<Arg>>,
    timer_gone: Vec<(String, i64)>,
    tasks: Vec<Vec<Arg>>,
    time: Vec<Vec<Arg>>,
    history: Vec<Vec<Arg>>,
    outbox: Vec<Vec<Arg>>,
    /// The messages of each step so far, by their first key: how many.
    told: std::collections::HashMap<String, u32>,
}

impl Rows {
    /// A changed deal: its row, and what changed of its timers, tasks and logged work.
    fn deal(&mut self, b: &BatchWrite<'_>, w: &DealWrite<'_>, now: &str) -> Result<(), StoreError> {
        let plan = b.plan;
        let d = w.after;
        let id = d.id.to_string();
        let stored = StoredDeal::encode(plan, d);
        let state = serde_json::to_string(&stored)
            .map_err(|e| StoreError::Corrupt(id.clone(), e.to_string()))?;
        let f = facets(plan, d);
        self.deals.push(vec![
            Arg::from(id.as_str()),
            Arg::from(stored.title.as_str()),
            Arg::from(stored.parent.clone()),
            Arg::from(stamp(d.created_at)),
            Arg::from(now),
            Arg::from(b.version),
            Arg::from(w.revision),
            Arg::from(f.live),
            Arg::from(f.stages),
            Arg::from(f.phases),
            Arg::from(f.alerts),
            Arg::from(f.people),
            Arg::from(state),
        ]);
        self.timers_of(plan, w, &id);
        self.tasks_of(plan, w, &id);
        // Time entries are added, and corrected in place.
        let old: &[crate::engine::TimeEntry] = w.before.map_or(&[], |x| &x.time_entries[..]);
        for (n, e) in d.time_entries.iter().enumerate() {
            if old.get(n) == Some(e) {
                continue;
            }
            self.time.push(vec![
                Arg::from(id.as_str()),
                Arg::from(n as i64),
                Arg::from(e.task.clone()),
                Arg::from(e.user.as_str()),
                Arg::from(e.hours.to_string()),
                Arg::from(e.rate.to_string()),
                Arg::from(stamp(e.at)),
            ]);
        }
        Ok(())
    }

    /// Timers: the unfired ones are rows; gone or fired ones go.
    fn timers_of(&mut self, plan: &Plan, w: &DealWrite<'_>, id: &str) {
        let waiting = |deal: Option<&Deal>| -> Vec<(u64, DateTime<Utc>)> {
            deal.map(|x| {
                x.timers
                    .iter()
                    .filter(|a| !a.fired)
                    .map(|a| (a.id, a.fires_at))
                    .collect()
            })
            .unwrap_or_default()
        };
        let was = waiting(w.before);
        let now_waiting = waiting(Some(w.after));
        for (t, _) in &was {
            if !now_waiting.iter().any(|(n, _)| n == t) {
                self.timer_gone.push((id.to_string(), *t as i64));
            }
        }
        for a in w
            .after
            .timers
            .iter()
            .filter(|a| !a.fired && !was.contains(&(a.id, a.fires_at)))
        {
            self.timers.push(vec![
                Arg::from(id),
                Arg::from(a.id as i64),
                Arg::from(crate::engine::timer_label(plan, w.after, a)),
                Arg::from(ms(a.fires_at)),
            ]);
        }
    }

    /// Tasks: a task that is the very same as before (shared, unchanged) is not written, unless
    /// the deal was read under other rules.
    fn tasks_of(&mut self, plan: &Plan, w: &DealWrite<'_>, id: &str) {
        let old_tasks: &[Arc<crate::engine::Task>] = match w.before {
            Some(x) if !w.older => &x.tasks[..],
            _ => &[],
        };
        for (n, t) in w.after.tasks.iter().enumerate() {
            if old_tasks
                .get(n)
                .is_some_and(|o| Arc::ptr_eq(o, t) || **o == **t)
            {
                continue;
            }
            self.tasks.push(vec![
                Arg::from(id),
                Arg::from(n as i64),
                Arg::from(t.id.as_str()),
                Arg::from(t.title.as_str()),
                Arg::from(t.assignee.clone()),
                Arg::from(plan.stages[t.stage].name.as_str()),
                Arg::from(stamp(t.created_at)),
                Arg::from(t.due.map(stamp)),
                Arg::from(t.estimate_h.map(|h| h.to_string())),
                Arg::from(t.started_at.map(stamp)),
                Arg::from(t.done_at.map(stamp)),
                Arg::from(t.hours.to_string()),
                Arg::from(i64::from(t.cancelled)),
                Arg::from(t.timer.as_ref().map(|r| r.by.clone())),
                Arg::from(t.timer.as_ref().map(|r| stamp(r.since))),
            ]);
        }
    }

    /// A history record, and the message it queued if it is one.
    fn record(
        &mut self,
        b: &BatchWrite<'_>,
        r: &Record,
        rev: i64,
        actor: Option<&crate::json::Actor>,
        now: &str,
    ) {
        let plan = b.plan;
        // A message: its outbox row, numbered when it repeats one before it in its step.
        let mut repeat = 0;
        if let Kind::Notification {
            to_kind,
            to,
            channel,
            template,
            subject,
            text,
            send_at,
            attachments,
        } = &r.kind
        {
            let first = dedupe_key(&r.deal, rev, r.line, channel, to, template, 0);
            let seen = self.told.entry(first.clone()).or_insert(0);
            repeat = *seen;
            *seen += 1;
            let key = if repeat == 0 {
                first
            } else {
                dedupe_key(&r.deal, rev, r.line, channel, to, template, repeat)
            };
            self.outbox.push(vec![
                Arg::from(key),
                Arg::from(&*r.deal),
                Arg::from(*channel),
                Arg::from(*to_kind),
                Arg::from(to.as_str()),
                Arg::from(template.as_str()),
                Arg::from(subject.clone()),
                Arg::from(text.as_str()),
                Arg::from(serde_json::to_string(attachments).unwrap_or_default()),
                Arg::from(ms(*send_at)),
                Arg::from("pending"),
                Arg::from(0i64),
                Arg::from(ms(*send_at)),
                Arg::from(now),
            ]);
        }
        self.history.push(vec![
            Arg::from(&*r.deal),
            Arg::from(stamp(r.at)),
            Arg::from(r.kind.name()),
            Arg::from(&*r.cause),
            Arg::from(r.line.map(|l| format!("{}:{l}", plan.file))),
            Arg::from(b.version),
            Arg::from(rev),
            Arg::from(crate::json::record_body(r, plan.tz, actor, repeat)),
        ]);
    }
}

/// The team's open-task counts moved by the batch: one statement per member whose count
/// changed.
fn load(w: &mut Writes, style: Style, changes: &[(String, i64)]) {
    let mut load: Vec<(String, i64)> = Vec::new();
    for (m, d) in changes {
        match load.iter_mut().find(|(x, _)| x == m) {
            Some((_, v)) => *v += d,
            None => load.push((m.clone(), *d)),
        }
    }
    for (member, delta) in load.iter().filter(|(_, d)| *d != 0) {
        let mut sql = String::from("UPDATE team SET open_tasks = open_tasks + ");
        style.push(&mut sql, 1);
        sql.push_str(" WHERE id = ");
        style.push(&mut sql, 2);
        w.statements
            .push((sql, vec![Arg::from(*delta), Arg::from(member.as_str())]));
    }
}

impl Tx {
    /// The rows `deals.len()` logged-work events write, in the same statements a batch uses,
    /// without the engine: each event's deal state (`state`), `history` history entries, its
    /// task's row again and one new time entry (numbered from `seq`). The benchmark's storage
    /// floor.
    #[doc(hidden)]
    pub async fn raw_batch(
        &mut self,
        deals: &[String],
        state: &str,
        history: usize,
        seq: i64,
    ) -> Result<(), StoreError> {
        let now = stamp(Utc::now());
        let mut deal_rows = Vec::new();
        let mut task_rows = Vec::new();
        let mut time_rows = Vec::new();
        let mut history_rows = Vec::new();
        for (i, d) in deals.iter().enumerate() {
            deal_rows.push(vec![
                Arg::from(d.as_str()),
                Arg::from("Deal"),
                Arg::from(None::<String>),
                Arg::from(now.as_str()),
                Arg::from(now.as_str()),
                Arg::from(1i64),
                Arg::from(seq + i as i64),
                Arg::from(1i64),
                Arg::from("|lead|"),
                Arg::from("|presale|"),
                Arg::from("|"),
                Arg::from("|anna|petr|"),
                Arg::from(state),
            ]);
            task_rows.push(vec![
                Arg::from(d.as_str()),
                Arg::from(0i64),
                Arg::from("call_client"),
                Arg::from("Позвонить клиенту"),
                Arg::from("anna"),
                Arg::from("lead"),
                Arg::from(now.as_str()),
                Arg::from(Some(now.clone())),
                Arg::from(None::<String>),
                Arg::from(None::<String>),
                Arg::from(None::<String>),
                Arg::from("1.25"),
                Arg::from(0i64),
                Arg::from(None::<String>),
                Arg::from(None::<String>),
            ]);
            time_rows.push(vec![
                Arg::from(d.as_str()),
                Arg::from(seq + i as i64),
                Arg::from("call_client"),
                Arg::from("anna"),
                Arg::from("0.25"),
                Arg::from("1500"),
                Arg::from(now.as_str()),
            ]);
            for _ in 0..history {
                history_rows.push(vec![
                    Arg::from(d.as_str()),
                    Arg::from(now.as_str()),
                    Arg::from("time_logged"),
                    Arg::from("task call_client: 0.25 h logged"),
                    Arg::from(None::<String>),
                    Arg::from(1i64),
                    Arg::from(1i64),
                    Arg::from(
                        r#"{"kind":"time_logged","task":"call_client","by":"anna","hours":0.25}"#,
                    ),
                ]);
            }
        }
        // Deals exist: the upsert takes its update path, as in a batch.
        let style = Style::of(self);
        let mut w = Writes::default();
        w.rows(style, DEALS_UPSERT.0, DEALS_UPSERT.1, deal_rows);
        w.rows(style, TASKS_UPSERT.0, TASKS_UPSERT.1, task_rows);
        w.rows(style, TIME_INSERT.0, TIME_INSERT.1, time_rows);
        w.rows(style, HISTORY_INSERT.0, HISTORY_INSERT.1, history_rows);
        self.send(w).await
    }
}
