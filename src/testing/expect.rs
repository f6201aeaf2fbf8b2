//! The `[[expect]]` sections of a test file: read against the pipeline (a name it does not have
//! is an error of the test file, at its line), then held up against a deal as it stands.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::compile::Plan;
use crate::diag::suggest;
use crate::engine::{self, Ctx, Deal};
use crate::json::value_json;
use crate::sim::scenario::{self, Expect};
use crate::value::Value;

/// One expectation, ready to be checked.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// The line of its `[[expect]]` header.
    pub line: usize,
    /// The deal it is about.
    pub deal: String,
    /// Its moment as written; `None`: the end of the scenario.
    pub at_text: Option<String>,
    /// When it looks (the scenario's end when no moment is written).
    pub at: DateTime<Utc>,
    checks: Vec<Check>,
}

/// What a deal heard and was refused so far, from the timeline (not kept on the deal).
#[derive(Debug, Clone, Default)]
pub struct Heard {
    /// Messages queued for the deal's client, by channel (`sms`, `email`).
    pub to_client: BTreeMap<&'static str, usize>,
    /// Their templates, in order.
    pub templates: Vec<String>,
    /// Events refused, in order.
    pub refused: Vec<String>,
}

#[derive(Debug, Clone)]
enum Check {
    Stages(Vec<String>),
    /// A field or role slot: its name, the value it must hold (`None`: unset).
    Field(String, Option<Value>),
    Alerts(Vec<String>),
    OpenTaskCount(usize),
    OpenTasks(Vec<String>),
    Messages(&'static str, usize),
    Sent(Vec<String>),
    Refused(Vec<String>),
    HoursSpent(Decimal),
}

/// The keys an `[[expect]]` section may have.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    deal: String,
    at: Option<String>,
    stages: Option<Vec<String>>,
    #[serde(default)]
    fields: toml::Table,
    #[serde(default)]
    unset: Vec<String>,
    alerts: Option<Vec<String>>,
    open_tasks: Option<OpenTasks>,
    #[serde(default)]
    messages: BTreeMap<String, usize>,
    sent: Option<Vec<String>>,
    refused: Option<Vec<String>>,
    hours_spent: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OpenTasks {
    Count(usize),
    Ids(Vec<String>),
}

/// Reads an `[[expect]]` section; the error says what is wrong, without the file and line.
/// `end` is the scenario's end: a moment after it is never reached.
pub fn read(
    ctx: Ctx<'_>,
    raw: &Expect,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Expectation, String> {
    let plan = ctx.plan;
    let r: Raw = toml::Value::Table(raw.table.clone())
        .try_into()
        .map_err(|e: toml::de::Error| format!("[[expect]]: {}", e.message()))?;
    let at = match &r.at {
        None => end,
        Some(text) => {
            let t = crate::calendar::moment(plan.tz, text).map_err(|e| e.to_string())?;
            if t > end {
                return Err(format!(
                    "`at = \"{text}\"` is after the scenario's `until`: the clock never gets there"
                ));
            }
            t.max(start)
        }
    };
    let mut checks = Vec::new();
    if let Some(stages) = r.stages {
        for s in &stages {
            known("stage", s, plan.stages.iter().map(|d| d.name.as_str()))?;
        }
        checks.push(Check::Stages(stages));
    }
    for (name, v) in &r.fields {
        let expected = match engine::typed(ctx, name, &scenario::value(v)) {
            Some(Ok(v)) => v,
            Some(Err(why)) => return Err(why),
            None => return Err(no_slot(plan, name)),
        };
        checks.push(Check::Field(name.clone(), Some(expected)));
    }
    for name in &r.unset {
        if !plan.field_index.contains_key(name) && !plan.role_index.contains_key(name) {
            return Err(no_slot(plan, name));
        }
        if r.fields.contains_key(name) {
            return Err(format!("`{name}` is both in `fields` and in `unset`"));
        }
        checks.push(Check::Field(name.clone(), None));
    }
    if let Some(alerts) = r.alerts {
        for a in &alerts {
            known("alert", a, plan.alerts.iter().map(|d| d.name.as_str()))?;
        }
        checks.push(Check::Alerts(alerts));
    }
    match r.open_tasks {
        Some(OpenTasks::Count(n)) => checks.push(Check::OpenTaskCount(n)),
        Some(OpenTasks::Ids(ids)) => checks.push(Check::OpenTasks(ids)),
        None => {}
    }
    for (channel, n) in &r.messages {
        let channel = match channel.as_str() {
            "sms" => "sms",
            "email" => "email",
            other => {
                return Err(format!(
                    "`messages` counts `sms` and `email`, not `{other}`"
                ));
            }
        };
        checks.push(Check::Messages(channel, *n));
    }
    if let Some(sent) = r.sent {
        for t in &sent {
            known(
                "template",
                t,
                plan.templates.iter().map(|d| d.name.as_str()),
            )?;
        }
        checks.push(Check::Sent(sent));
    }
    if let Some(refused) = r.refused {
        for e in &refused {
            known("event", e, plan.events.iter().map(|d| d.name.as_str()))?;
        }
        checks.push(Check::Refused(refused));
    }
    if let Some(h) = &r.hours_spent {
        let hours = crate::team::decimal(h)
            .ok_or_else(|| format!("`hours_spent` must be a number, not {h}"))?;
        checks.push(Check::HoursSpent(hours));
    }
    if checks.is_empty() {
        return Err(format!(
            "[[expect]] for `{}` expects nothing: give stages, fields, unset, alerts, \
             open_tasks, messages, sent, refused or hours_spent",
            r.deal
        ));
    }
    Ok(Expectation {
        line: raw.line,
        deal: r.deal,
        at_text: r.at,
        at,
        checks,
    })
}

fn known<'a>(
    what: &str,
    name: &str,
    all: impl Iterator<Item = &'a str> + Clone,
) -> Result<(), String> {
    if all.clone().any(|n| n == name) {
        return Ok(());
    }
    Err(match suggest(name, all) {
        Some(s) => format!("the pipeline has no {what} `{name}` (did you mean `{s}`?)"),
        None => format!("the pipeline has no {what} `{name}`"),
    })
}

fn no_slot(plan: &Plan, name: &str) -> String {
    let names = plan
        .fields
        .iter()
        .map(|f| f.name.as_str())
        .chain(plan.roles.iter().map(|r| r.name.as_str()));
    match suggest(name, names) {
        Some(s) => format!("the pipeline has no field or role `{name}` (did you mean `{s}`?)"),
        None => format!("the pipeline has no field or role `{name}`"),
    }
}

impl Expectation {
    /// What does not hold for `deal` as it stands (nothing: the expectation is met), each said
    /// with the actual value.
    pub fn check(&self, plan: &Plan, deal: Option<&Deal>, heard: Option<&Heard>) -> Vec<String> {
        let Some(deal) = deal else {
            return vec![format!("there is no deal `{}` by then", self.deal)];
        };
        let none = Heard::default();
        let heard = heard.unwrap_or(&none);
        self.checks
            .iter()
            .filter_map(|c| mismatch(plan, deal, heard, c))
            .collect()
    }
}

fn mismatch(plan: &Plan, deal: &Deal, heard: &Heard, check: &Check) -> Option<String> {
    let list = |v: &[String]| format!("[{}]", v.join(", "));
    match check {
        Check::Stages(want) => {
            let have: Vec<String> = deal
                .stages()
                .iter()
                .map(|&s| plan.stages[s].name.clone())
                .collect();
            (!same_set(&have, want))
                .then(|| format!("stages are {}, expected {}", list(&have), list(want)))
        }
        Check::Field(name, want) => {
            let have = slot_value(plan, deal, name);
            (have != *want).then(|| {
                format!(
                    "`{name}` is {}, expected {}",
                    shown(plan, have.as_ref()),
                    shown(plan, want.as_ref())
                )
            })
        }
        Check::Alerts(want) => {
            let have: Vec<String> = plan
                .alerts
                .iter()
                .zip(&deal.alerts)
                .filter(|(_, on)| **on)
                .map(|(a, _)| a.name.clone())
                .collect();
            (!same_set(&have, want))
                .then(|| format!("alerts are {}, expected {}", list(&have), list(want)))
        }
        Check::OpenTaskCount(want) => {
            let have = open_tasks(deal);
            (have.len() != *want).then(|| {
                format!(
                    "{} open task(s) {}, expected {want}",
                    have.len(),
                    list(&have)
                )
            })
        }
        Check::OpenTasks(want) => {
            let have = open_tasks(deal);
            (!same_set(&have, want))
                .then(|| format!("open tasks are {}, expected {}", list(&have), list(want)))
        }
        Check::Messages(channel, want) => {
            let have = heard.to_client.get(channel).copied().unwrap_or(0);
            (have != *want).then(|| {
                format!("{have} {channel} message(s) to the client so far, expected {want}")
            })
        }
        Check::Sent(want) => (heard.templates != *want).then(|| {
            format!(
                "messages to the client were {}, expected {}",
                list(&heard.templates),
                list(want)
            )
        }),
        Check::Refused(want) => (heard.refused != *want).then(|| {
            format!(
                "refused events were {}, expected {}",
                list(&heard.refused),
                list(want)
            )
        }),
        Check::HoursSpent(want) => {
            let have = deal.hours_spent();
            (have != *want).then(|| {
                format!(
                    "hours spent are {}, expected {}",
                    have.normalize(),
                    want.normalize()
                )
            })
        }
    }
}

/// The value of a field or role slot (a role's holder as a team member).
fn slot_value(plan: &Plan, deal: &Deal, name: &str) -> Option<Value> {
    if let Some(&f) = plan.field_index.get(name) {
        return deal.values.get(f).cloned().flatten();
    }
    let &r = plan.role_index.get(name)?;
    deal.slots.get(r).cloned().flatten().map(Value::User)
}

/// A value as the timeline writes it (moments local, with their offset); `unset` for none.
fn shown(plan: &Plan, v: Option<&Value>) -> String {
    v.map_or_else(
        || "unset".to_string(),
        |v| value_json(v, plan.tz).to_string(),
    )
}

fn open_tasks(deal: &Deal) -> Vec<String> {
    deal.tasks
        .iter()
        .filter(|t| t.done_at.is_none())
        .map(|t| t.id.clone())
        .collect()
}

/// The same names, in any order (each as many times).
fn same_set(have: &[String], want: &[String]) -> bool {
    let mut a = have.to_vec();
    let mut b = want.to_vec();
    a.sort();
    b.sort();
    a == b
}
