//! Deal documents: a deal as the API shows it, a deal's `final` record at the end of a
//! simulation, and the team with its open tasks.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value as Json, json};

use super::value::{at, number, stamp, value_json, value_json_utc};
use crate::compile::Plan;
use crate::engine::{Deal, TrackState};
use crate::team::Team;
use crate::value::Value;

/// A deal as the HTTP API serves it: id, title, parent, stages, phases, fields (role slots
/// included), tasks, alerts, hours spent, revision. Moments are in UTC, as everywhere in the API.
pub fn deal_json(plan: &Plan, deal: &Deal, revision: i64) -> Json {
    let tz = plan.tz;
    let live = deal.is_live();
    let mut stages: Vec<&str> = Vec::new();
    for t in &deal.tracks {
        // A live deal shows where it can still move; a finished one, where it ended.
        if live && t.state == TrackState::Ended {
            continue;
        }
        let name = plan.stages[t.stage].name.as_str();
        if !stages.contains(&name) {
            stages.push(name);
        }
    }
    let phases: Vec<&str> = plan
        .phases
        .iter()
        .filter(|p| {
            p.stages
                .iter()
                .any(|s| stages.contains(&plan.stages[*s].name.as_str()))
        })
        .map(|p| p.name.as_str())
        .collect();
    let fields = fields(plan, deal, value_json_utc);
    let people: Map<String, Json> = people(plan, deal).collect();
    let tasks: Vec<Json> = deal
        .tasks
        .iter()
        .map(|t| {
            json!({
                "task": t.id,
                "title": t.title,
                "assignee": t.assignee,
                "stage": plan.stages[t.stage].name,
                "created_at": stamp(t.created_at),
                "due": t.due.map(stamp),
                "estimate_h": t.estimate_h.map(|h| value_json(&Value::Decimal(h), tz)),
                "started_at": t.started_at.map(stamp),
                "done_at": t.done_at.map(stamp),
                "cancelled": t.cancelled,
                "hours": value_json(&Value::Decimal(t.hours), tz),
                "timer": t.timer.as_ref().map(|r| json!({"by": r.by, "since": stamp(r.since)})),
            })
        })
        .collect();
    let alerts = raised(plan, deal);
    let mut m = Map::new();
    m.insert("id".into(), json!(&*deal.id));
    m.insert("title".into(), json!(&*deal.title));
    if let Some(p) = &deal.parent {
        m.insert("parent".into(), json!(&**p));
    }
    m.insert("created_at".into(), json!(stamp(deal.created_at)));
    m.insert("live".into(), json!(live));
    m.insert("stages".into(), json!(stages));
    m.insert("phases".into(), json!(phases));
    m.insert("fields".into(), Json::Object(fields));
    m.insert("people".into(), Json::Object(people));
    m.insert("tasks".into(), Json::Array(tasks));
    let entries: Vec<Json> = deal
        .time_entries
        .iter()
        .enumerate()
        .map(|(n, e)| {
            json!({
                "entry": n,
                "task": e.task,
                "user": e.user,
                "hours": value_json(&Value::Decimal(e.hours), tz),
                "rate": value_json(&Value::Decimal(e.rate), tz),
                "at": stamp(e.at),
            })
        })
        .collect();
    m.insert("time_entries".into(), Json::Array(entries));
    m.insert("alerts".into(), json!(alerts));
    m.insert(
        "hours_spent".into(),
        value_json(&Value::Decimal(deal.hours_spent()), tz),
    );
    m.insert("revision".into(), json!(revision));
    Json::Object(m)
}

/// The team with open tasks per person.
pub fn team_json(team: &Team) -> Json {
    Json::Array(
        team.members
            .iter()
            .map(|m| {
                json!({
                    "id": m.id,
                    "name": m.name,
                    "roles": m.roles,
                    "email": m.email,
                    "phone": m.phone,
                    "telegram": m.telegram,
                    "rate": value_json(&Value::Decimal(m.rate), chrono_tz::UTC),
                    "open_tasks": team.load.get(&m.id).copied().unwrap_or(0),
                })
            })
            .collect(),
    )
}

/// The `final` record of a deal.
pub fn final_json(plan: &Plan, deal: &Deal, until: &DateTime<Utc>) -> Json {
    let tz = plan.tz;
    let stages: Vec<&str> = deal
        .stages()
        .iter()
        .map(|&s| plan.stages[s].name.as_str())
        .collect();
    // Role slots are fields of the deal too, after the declared ones.
    let mut fields = fields(plan, deal, |v| value_json(v, plan.tz));
    fields.extend(people(plan, deal));
    let alerts = raised(plan, deal);
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

/// The deal's fields that have a value, by name, in the order declared.
fn fields(plan: &Plan, deal: &Deal, json: impl Fn(&Value) -> Json) -> Map<String, Json> {
    plan.fields
        .iter()
        .zip(deal.values.iter())
        .filter_map(|(f, v)| Some((f.name.clone(), json(v.as_ref()?))))
        .collect()
}

/// The deal's filled role slots, by role name: who holds each.
fn people<'a>(plan: &'a Plan, deal: &'a Deal) -> impl Iterator<Item = (String, Json)> + 'a {
    plan.roles
        .iter()
        .zip(deal.slots.iter())
        .filter_map(|(r, v)| Some((r.name.clone(), Json::String(v.clone()?))))
}

/// The alerts raised on the deal, by name.
fn raised<'a>(plan: &'a Plan, deal: &Deal) -> Vec<&'a str> {
    plan.alerts
        .iter()
        .zip(&deal.alerts)
        .filter(|(_, on)| **on)
        .map(|(a, _)| a.name.as_str())
        .collect()
}
