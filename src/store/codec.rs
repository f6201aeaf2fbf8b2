//! A deal as the database keeps it: a JSON document that names stages, fields, roles and
//! alerts instead of numbering them, so that it reads the same under a new version of the rules.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::compile::{Plan, StageId};
use crate::engine::{
    Armed, CarriedField, Deal, Left, LeftTimer, MigratedTrack, Running, Sought, Task, TimeEntry,
    TimerKey, TimerRef, Track, TrackState,
};
use crate::value::Value;

/// The stored form of a [`Deal`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredDeal {
    /// The deal's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The deal that spawned it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Fields that have a value, by name.
    pub fields: BTreeMap<String, Value>,
    /// Filled role slots, by role name.
    pub slots: BTreeMap<String, String>,
    /// Where it is: one track per parallel branch.
    pub tracks: Vec<StoredTrack>,
    /// Its timers, armed or fired (absent: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timers: Vec<StoredTimer>,
    /// Its tasks. Kept in the `tasks` table, not in the document: the dashboard reads them
    /// there, and one place holds each. The store fills this in when it reads a deal
    /// (documents written by earlier versions, which listed the tasks, still read).
    #[serde(default, skip_serializing)]
    pub tasks: Vec<StoredTask>,
    /// Work logged on the deal. Kept in the `time_entries` table, not in the document: it only
    /// grows, and a long project would otherwise rewrite all of it on every step. The store
    /// fills this in when it reads a deal (documents written by earlier versions, which listed
    /// the entries, still read).
    #[serde(default, skip_serializing)]
    pub time_entries: Vec<StoredTime>,
    /// Raised alerts, by name (absent: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<String>,
    /// How many deals it spawned (numbers the next one; absent: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub spawned: u32,
    /// The next track's id.
    pub next_track: u32,
    /// The next timer's id.
    pub next_timer: u64,
}

/// Whether a count is nothing (such a count is left out of a document).
fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A track as stored: its stage by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredTrack {
    /// Its id within the deal.
    pub id: u32,
    /// The stage it is in.
    pub stage: String,
    /// Since when.
    pub entered_at: DateTime<Utc>,
    /// `active`, `waiting` or `ended`.
    pub state: String,
}

/// A timer as stored: found again under new rules by its stage and its name, or without one
/// its place among the stage's timers of its kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredTimer {
    /// Its id within the deal.
    pub id: u64,
    /// The track it belongs to.
    pub track: u32,
    /// The stage that armed it.
    pub stage: String,
    /// The timer's label in the pipeline (how documents of earlier versions, which have no
    /// `ordinal`, find it again).
    pub label: String,
    /// `line` (an `after`/`at` line) or `transition`, and its position in the stage.
    pub kind: String,
    /// Its position among the stage's lines or transitions.
    pub index: usize,
    /// Its name (`as NAME`), if the line gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `at` or `after`, and its place among the stage's timers of that sort and kind (absent
    /// in documents written before timers had an identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    /// See `sort`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordinal: Option<usize>,
    /// When it fires (working hours applied).
    pub fires_at: DateTime<Utc>,
    /// The moment its expression gave, when working hours moved it (absent: `fires_at`; a
    /// document keeps what is not the usual, as the database keeps every deal's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<DateTime<Utc>>,
    /// Whether it fired (absent: not yet).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fired: bool,
}

/// A task as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredTask {
    /// Its identifier in the pipeline.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Who does it (absent: nobody yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// The stage that made it.
    pub stage: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it is due (absent: no deadline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<DateTime<Utc>>,
    /// Hours estimated (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_h: Option<Decimal>,
    /// When work started (absent: not yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// When it was done or cancelled (absent: open).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at: Option<DateTime<Utc>>,
    /// It was closed because its deal ended (absent in documents written before this existed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cancelled: bool,
    /// Hours logged on it (absent: none).
    #[serde(default, skip_serializing_if = "Decimal::is_zero")]
    pub hours: Decimal,
    /// Whose timer runs on it (absent when none does, and in documents written before timers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer_by: Option<String>,
    /// Since when that timer runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer_since: Option<DateTime<Utc>>,
}

/// Work logged, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredTime {
    /// The task it was logged on, if any.
    pub task: Option<String>,
    /// Who worked.
    pub user: String,
    /// How long.
    pub hours: Decimal,
    /// Their hourly rate then.
    pub rate: Decimal,
    /// When it was logged.
    pub at: DateTime<Utc>,
}

/// Why a stored deal does not fit a plan.
#[derive(Debug, Clone, PartialEq)]
pub enum Misfit {
    /// Its tracks sit in stages the plan does not have (names).
    MissingStages(Vec<String>),
}

impl StoredDeal {
    /// The stored form of `deal`, which runs under `plan`.
    pub fn encode(plan: &Plan, deal: &Deal) -> Self {
        let stage = |s: StageId| plan.stages[s].name.clone();
        StoredDeal {
            id: deal.id.to_string(),
            title: deal.title.to_string(),
            parent: deal.parent.as_ref().map(|p| p.to_string()),
            created_at: deal.created_at,
            fields: plan
                .fields
                .iter()
                .zip(deal.values.iter())
                .filter_map(|(f, v)| Some((f.name.clone(), v.clone()?)))
                .collect(),
            slots: plan
                .roles
                .iter()
                .zip(deal.slots.iter())
                .filter_map(|(r, v)| Some((r.name.clone(), v.clone()?)))
                .collect(),
            tracks: deal
                .tracks
                .iter()
                .map(|t| StoredTrack {
                    id: t.id,
                    stage: stage(t.stage),
                    entered_at: t.entered_at,
                    state: match t.state {
                        TrackState::Active => "active",
                        TrackState::Waiting => "waiting",
                        TrackState::Ended => "ended",
                    }
                    .to_string(),
                })
                .collect(),
            timers: deal
                .timers
                .iter()
                .map(|a| {
                    let (kind, index) = match a.which {
                        TimerRef::Line(i) => ("line", i),
                        TimerRef::Transition(i) => ("transition", i),
                        TimerRef::Reminder(i) => ("reminder", i),
                    };
                    let key = crate::engine::timer_key(&plan.stages[a.stage], a.which);
                    StoredTimer {
                        id: a.id,
                        track: a.track,
                        stage: stage(a.stage),
                        label: crate::engine::timer_label(plan, deal, a),
                        kind: kind.to_string(),
                        index,
                        name: key.as_ref().and_then(|k| k.name.clone()),
                        sort: key
                            .as_ref()
                            .map(|k| if k.at { "at" } else { "after" }.to_string()),
                        ordinal: key.map(|k| k.ordinal),
                        fires_at: a.fires_at,
                        target: (a.target != a.fires_at).then_some(a.target),
                        fired: a.fired,
                    }
                })
                .collect(),
            tasks: deal
                .tasks
                .iter()
                .map(|t| StoredTask {
                    id: t.id.clone(),
                    title: t.title.clone(),
                    assignee: t.assignee.clone(),
                    stage: stage(t.stage),
                    created_at: t.created_at,
                    due: t.due,
                    estimate_h: t.estimate_h,
                    started_at: t.started_at,
                    done_at: t.done_at,
                    cancelled: t.cancelled,
                    hours: t.hours,
                    timer_by: t.timer.as_ref().map(|r| r.by.clone()),
                    timer_since: t.timer.as_ref().map(|r| r.since),
                })
                .collect(),
            time_entries: deal
                .time_entries
                .iter()
                .map(|e| StoredTime {
                    task: e.task.clone(),
                    user: e.user.clone(),
                    hours: e.hours,
                    rate: e.rate,
                    at: e.at,
                })
                .collect(),
            alerts: plan
                .alerts
                .iter()
                .zip(&deal.alerts)
                .filter(|(_, on)| **on)
                .map(|(a, _)| a.name.clone())
                .collect(),
            spawned: deal.spawned,
            next_track: deal.next_track,
            next_timer: deal.next_timer,
        }
    }

    /// The deal under `plan`. Fields, roles and alerts the plan no longer has are dropped, new
    /// ones start empty (fields at their default); a timer is kept when its stage still has it
    /// (see [`StoredDeal::read`]). Refused when a track sits in a stage the plan does not have.
    pub fn decode(&self, plan: &Plan) -> Result<Deal, Misfit> {
        self.read(plan).map(|(deal, _)| deal)
    }

    /// The deal under `plan`, as [`StoredDeal::decode`] gives it, and what of it the plan could
    /// not carry over: the timers it no longer has. A timer is found again in its stage by its
    /// name; without one, by its place among the stage's timers of its kind (a line there
    /// that was given a name meanwhile is still the same timer). Documents written before
    /// timers had an identity find theirs by label, else by position.
    pub fn read(&self, plan: &Plan) -> Result<(Deal, Left), Misfit> {
        // A stage the plan has, or the one a `migrate` line sends its deals to.
        let place = |name: &str| {
            plan.stage_index
                .get(name)
                .copied()
                .or_else(|| plan.migrations.stages.get(name).map(|m| m.to))
        };
        // Only where deals stand counts: a task of a stage that is gone (the deal left it
        // long ago) belongs to the deal's first track's stage from now on.
        let missing: Vec<String> = self
            .tracks
            .iter()
            .map(|t| &t.stage)
            .filter(|s| place(s).is_none())
            .cloned()
            .collect();
        if !missing.is_empty() {
            let mut missing = missing;
            missing.sort();
            missing.dedup();
            return Err(Misfit::MissingStages(missing));
        }
        let here = self
            .tracks
            .first()
            .and_then(|t| place(&t.stage))
            .unwrap_or_default();
        let stage = |name: &str| place(name).unwrap_or(here);
        let mut left = Left::default();
        let values = plan
            .fields
            .iter()
            .enumerate()
            .map(|(id, f)| match self.fields.get(&f.name) {
                Some(v) => Some(v.clone()),
                None => match self.carried_to(plan, id) {
                    Some((from, line, v)) => {
                        left.fields.push(CarriedField {
                            field: id,
                            from: from.to_string(),
                            line,
                        });
                        Some(v.clone())
                    }
                    None => f.default.clone(),
                },
            })
            .collect();
        let slots = plan
            .roles
            .iter()
            .map(|r| self.slots.get(&r.name).cloned())
            .collect();
        let tracks = self
            .tracks
            .iter()
            .map(|t| {
                let to = stage(&t.stage);
                if !plan.stage_index.contains_key(&t.stage)
                    && let Some(m) = plan.migrations.stages.get(&t.stage)
                {
                    left.stages.push(MigratedTrack {
                        track: t.id,
                        from: t.stage.clone(),
                        to,
                        enter: m.enter,
                        line: m.line,
                    });
                }
                Track {
                    id: t.id,
                    stage: to,
                    entered_at: t.entered_at,
                    state: match t.state.as_str() {
                        "waiting" => TrackState::Waiting,
                        "ended" => TrackState::Ended,
                        _ => TrackState::Active,
                    },
                }
            })
            .collect();
        let mut timers = Vec::with_capacity(self.timers.len());
        let places = self.find_timers(plan);
        for (t, place) in self.timers.iter().zip(places) {
            match place {
                Some((s, which)) => timers.push(Armed {
                    id: t.id,
                    track: t.track,
                    stage: s,
                    which,
                    fires_at: t.fires_at,
                    target: t.target.unwrap_or(t.fires_at),
                    fired: t.fired,
                }),
                None => left.timers.push(LeftTimer {
                    id: t.id,
                    label: t.label.clone(),
                    fires_at: t.fires_at,
                    fired: t.fired,
                }),
            }
        }
        let tasks = self
            .tasks
            .iter()
            .map(|t| {
                Arc::new(Task {
                    id: t.id.clone(),
                    title: t.title.clone(),
                    assignee: t.assignee.clone(),
                    stage: stage(&t.stage),
                    created_at: t.created_at,
                    due: t.due,
                    estimate_h: t.estimate_h,
                    started_at: t.started_at,
                    done_at: t.done_at,
                    cancelled: t.cancelled,
                    hours: t.hours,
                    timer: match (&t.timer_by, t.timer_since) {
                        (Some(by), Some(since)) => Some(Running {
                            by: by.clone(),
                            since,
                        }),
                        _ => None,
                    },
                })
            })
            .collect();
        let time_entries = self
            .time_entries
            .iter()
            .map(|e| TimeEntry {
                task: e.task.clone(),
                user: e.user.clone(),
                hours: e.hours,
                rate: e.rate,
                at: e.at,
            })
            .collect();
        let deal = Deal {
            id: self.id.as_str().into(),
            title: self.title.as_str().into(),
            parent: self.parent.as_deref().map(Into::into),
            created_at: self.created_at,
            values: Arc::new(values),
            slots: Arc::new(slots),
            tracks,
            timers,
            tasks: Arc::new(tasks),
            time_entries: Arc::new(time_entries),
            alerts: plan
                .alerts
                .iter()
                .map(|a| self.alerts.contains(&a.name))
                .collect(),
            spawned: self.spawned,
            next_track: self.next_track,
            next_timer: self.next_timer,
        };
        Ok((deal, left))
    }

    /// The value a `migrate field OLD -> NEW` line carries into field `id`, if the deal has one:
    /// (OLD, the line, the value). Of two such lines, the first old name in order.
    fn carried_to<'p>(&self, plan: &'p Plan, id: usize) -> Option<(&'p str, usize, &Value)> {
        plan.migrations
            .fields
            .iter()
            .filter(|(_, m)| m.to == id)
            .filter_map(|(old, m)| Some((old.as_str(), m.line, self.fields.get(old)?)))
            .min_by_key(|(old, ..)| *old)
    }

    /// Where each stored timer is under `plan` (`None`: the plan no longer has it), the timers
    /// of each track and stage matched together (see [`crate::engine::match_timers`]).
    fn find_timers(&self, plan: &Plan) -> Vec<Option<(StageId, TimerRef)>> {
        let keys: Vec<Option<TimerKey>> = self
            .timers
            .iter()
            .map(|t| {
                Some(TimerKey {
                    transition: t.kind == "transition",
                    at: t.sort.as_deref()? == "at",
                    name: t.name.clone(),
                    ordinal: t.ordinal?,
                })
            })
            .collect();
        let mut out = vec![None; self.timers.len()];
        let mut groups: BTreeMap<(u32, &str), Vec<usize>> = BTreeMap::new();
        for (n, t) in self.timers.iter().enumerate() {
            // A task's reminder is the task's, not a line's: it goes where its task goes
            // (a stage renamed by `migrate`; a stage gone, the first track's).
            if t.kind == "reminder" {
                let here = self
                    .tracks
                    .first()
                    .and_then(|k| plan.stage_index.get(&k.stage).copied())
                    .unwrap_or(0);
                out[n] = self.tasks.get(t.index).map(|k| {
                    let s = plan
                        .stage_index
                        .get(&k.stage)
                        .copied()
                        .or_else(|| plan.migrations.stages.get(&k.stage).map(|m| m.to))
                        .unwrap_or(here);
                    (s, TimerRef::Reminder(t.index))
                });
                continue;
            }
            groups
                .entry((t.track, t.stage.as_str()))
                .or_default()
                .push(n);
        }
        for ((track, stage), members) in groups {
            // A stage renamed by a `migrate` line keeps its deals' visit, timers included; one
            // they enter anew (`with on enter`) arms its own.
            let at = plan.stage_index.get(stage).copied().or_else(|| {
                let m = plan.migrations.stages.get(stage)?;
                let here = self
                    .tracks
                    .iter()
                    .any(|t| t.id == track && t.stage == stage);
                (here && !m.enter).then_some(m.to)
            });
            let Some(s) = at else {
                continue;
            };
            let sought: Vec<Sought<'_>> = members
                .iter()
                .map(|&n| Sought {
                    key: keys[n].as_ref(),
                    transition: self.timers[n].kind == "transition",
                    label: &self.timers[n].label,
                    index: self.timers[n].index,
                })
                .collect();
            let found = crate::engine::match_timers(&plan.stages[s], &sought);
            for (&n, which) in members.iter().zip(found) {
                out[n] = which.map(|w| (s, w));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        let flow = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/web-studio.flow");
        crate::load::RuleFile::read(&flow)
            .expect("readable")
            .ready()
            .expect("valid")
            .plan
    }

    fn stored() -> StoredDeal {
        serde_json::from_value(serde_json::json!({
            "id": "d1", "title": "Shop", "created_at": "2026-03-02T06:15:00Z",
            "fields": {"client_name": {"type": "text", "value": "Ivan"},
                       "gone_field": {"type": "int", "value": 5}},
            "slots": {"sales": "anna", "gone_role": "x"},
            "tracks": [{"id": 0, "stage": "meeting", "entered_at": "2026-03-02T06:15:00Z", "state": "active"}],
            "timers": [
                {"id": 0, "track": 0, "stage": "meeting", "label": "meeting: at meeting_at - 2h",
                 "kind": "line", "index": 7, "fires_at": "2026-03-05T07:00:00Z",
                 "target": "2026-03-05T07:00:00Z", "fired": false},
                {"id": 1, "track": 0, "stage": "nowhere", "label": "nowhere: after 1h",
                 "kind": "line", "index": 0, "fires_at": "2026-03-05T07:00:00Z",
                 "target": "2026-03-05T07:00:00Z", "fired": true}
            ],
            "tasks": [], "time_entries": [], "alerts": ["gone_alert"],
            "spawned": 0, "next_track": 1, "next_timer": 2
        }))
        .expect("a stored deal")
    }

    #[test]
    fn a_stored_deal_reads_under_rules_that_changed_around_it() {
        let plan = plan();
        let deal = stored().decode(&plan).expect("it fits");
        // Fields, roles and alerts the rules no longer have are dropped; defaults fill new ones.
        let name = plan.field_index["client_name"];
        assert_eq!(deal.values[name], Some(Value::Text("Ivan".into())));
        assert_eq!(
            deal.values[plan.field_index["prepayment"]],
            Some(Value::Bool(true))
        );
        assert!(deal.alerts.iter().all(|a| !a));
        // The timer is found by its label though its place moved; the one of a stage that
        // is gone goes.
        assert_eq!(deal.timers.len(), 1);
        assert_eq!(deal.timers[0].which, TimerRef::Line(0));
        // And it writes back the same way it reads.
        let again = StoredDeal::encode(&plan, &deal)
            .decode(&plan)
            .expect("fits");
        assert_eq!(again, deal);
    }

    #[test]
    fn a_tasks_reminder_is_found_again_with_its_task_not_by_a_line() {
        let mut s = stored();
        s.timers.truncate(1);
        s.tasks = serde_json::from_value(serde_json::json!([
            {"id": "call_client", "title": "Call", "assignee": "anna", "stage": "lead",
             "created_at": "2026-03-02T06:15:00Z", "due": "2026-03-02T06:30:00Z",
             "cancelled": false, "hours": "0"}
        ]))
        .expect("tasks");
        s.timers.push(
            serde_json::from_value(serde_json::json!(
                {"id": 2, "track": 0, "stage": "lead", "label": "⏰ call_client",
                 "kind": "reminder", "index": 0, "fires_at": "2026-03-02T06:30:00Z",
                 "target": "2026-03-02T06:30:00Z", "fired": false}))
            .expect("a timer"),
        );
        let plan = plan();
        let (deal, left) = s.read(&plan).expect("it fits");
        assert!(left.timers.is_empty(), "{:?}", left.timers);
        let reminder = deal
            .timers
            .iter()
            .find(|a| a.which == TimerRef::Reminder(0))
            .expect("the reminder");
        assert_eq!(reminder.stage, plan.stage_index["lead"]);
        let again = StoredDeal::encode(&plan, &deal);
        let stored = again
            .timers
            .iter()
            .find(|t| t.kind == "reminder")
            .expect("kept");
        assert_eq!(stored.label, "⏰ call_client");
        // The task itself is not in the document: the store keeps it in its table.
        assert_eq!(again.tasks.len(), 1);
        let text = serde_json::to_string(&again).expect("json");
        assert!(!text.contains("\"tasks\""), "{text}");
        assert!(!text.contains("Call"), "{text}");
    }

    #[test]
    fn a_document_keeps_only_what_is_there_and_reads_back_whole() {
        let plan = plan();
        // Written by an earlier version, every key spelled out.
        let mut deal = stored().decode(&plan).expect("it fits");
        let text = serde_json::to_string(&StoredDeal::encode(&plan, &deal)).expect("json");
        for gone in [
            "null",
            "\"fired\":false",
            "\"target\"",
            "\"spawned\"",
            "\"alerts\"",
        ] {
            assert!(!text.contains(gone), "{gone} in {text}");
        }
        let back: StoredDeal = serde_json::from_str(&text).expect("reads");
        assert_eq!(back.decode(&plan).expect("fits"), deal);
        // A timer that working hours moved keeps the moment its expression gave.
        deal.timers[0].target = deal.timers[0].fires_at - chrono::Duration::hours(14);
        let text = serde_json::to_string(&StoredDeal::encode(&plan, &deal)).expect("json");
        assert!(
            text.contains("\"target\":\"2026-03-04T17:00:00Z\""),
            "{text}"
        );
        let back: StoredDeal = serde_json::from_str(&text).expect("reads");
        assert_eq!(back.decode(&plan).expect("fits"), deal);
    }

    #[test]
    fn a_deal_in_a_stage_the_rules_lost_does_not_fit() {
        let mut s = stored();
        s.tracks[0].stage = "nowhere".into();
        assert_eq!(
            s.decode(&plan()),
            Err(Misfit::MissingStages(vec!["nowhere".into()]))
        );
    }
}
