//! Simulation scenarios (`*.scenario.toml`): the team, the deals, the events and the work on
//! tasks, each at a moment, kept in file order for inputs that share a moment.

use std::collections::BTreeMap;
use std::ops::Range;

use rust_decimal::Decimal;
use serde::Deserialize;
use toml::Spanned;

use crate::engine::{Member, TaskAction};
use crate::value::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    start: String,
    until: String,
    #[serde(default)]
    team: Vec<TeamEntry>,
    #[serde(default)]
    deal: Vec<Spanned<DealEntry>>,
    #[serde(default)]
    event: Vec<Spanned<EventEntry>>,
    #[serde(default)]
    task: Vec<Spanned<TaskEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamEntry {
    id: String,
    name: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    email: Option<String>,
    phone: Option<String>,
    rate: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Stages {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DealEntry {
    id: String,
    at: String,
    title: String,
    stage: Option<Stages>,
    #[serde(default)]
    fields: toml::Table,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventEntry {
    deal: String,
    at: String,
    name: String,
    by: Option<String>,
    #[serde(default)]
    fields: toml::Table,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskEntry {
    deal: String,
    task: String,
    at: String,
    action: String,
    hours: Option<toml::Value>,
    by: Option<String>,
}

/// A loaded scenario; moments are still local text, read in the pipeline's zone by the driver.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Virtual clock start.
    pub start: String,
    /// Run the clock to here.
    pub until: String,
    /// The team.
    pub team: Vec<Member>,
    /// Inputs in file order.
    pub inputs: Vec<Entry>,
}

/// One timed input of a scenario.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Local moment as written.
    pub at: String,
    /// Place in the file (orders inputs that share a moment).
    pub offset: usize,
    /// What it is.
    pub what: What,
}

/// The kinds of scenario input.
#[derive(Debug, Clone)]
pub enum What {
    /// A new deal.
    Deal {
        /// Its id.
        id: String,
        /// Its title.
        title: String,
        /// Start stages (empty: the first).
        stages: Vec<String>,
        /// Field values.
        fields: BTreeMap<String, Value>,
    },
    /// An event.
    Event {
        /// Deal id.
        deal: String,
        /// Event name.
        name: String,
        /// Payload.
        payload: BTreeMap<String, Value>,
        /// Who.
        by: Option<String>,
    },
    /// Work on a task.
    Task {
        /// Deal id.
        deal: String,
        /// Task id.
        task: String,
        /// What.
        action: TaskAction,
        /// Who.
        by: Option<String>,
    },
}

/// A scenario that cannot be read: the message says where.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ScenarioError(pub String);

fn line_of(text: &str, span: &Range<usize>) -> usize {
    text[..span.start.min(text.len())].matches('\n').count() + 1
}

/// Reads a scenario.
pub fn load(name: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let file: File = toml::from_str(text).map_err(|e| ScenarioError(format!("{name}: {e}")))?;
    let mut team = Vec::new();
    for t in file.team {
        let rate = match &t.rate {
            None => Decimal::ZERO,
            Some(v) => number(v).ok_or_else(|| {
                ScenarioError(format!(
                    "{name}: team member `{}`: `rate` must be a number",
                    t.id
                ))
            })?,
        };
        team.push(Member {
            name: t.name.unwrap_or_else(|| t.id.clone()),
            id: t.id,
            roles: t.roles,
            email: t.email,
            phone: t.phone,
            rate,
        });
    }
    let mut inputs = Vec::new();
    for d in file.deal {
        let span = d.span();
        let d = d.into_inner();
        let stages = match d.stage {
            None => Vec::new(),
            Some(Stages::One(s)) => vec![s],
            Some(Stages::Many(v)) => v,
        };
        inputs.push(Entry {
            at: d.at,
            offset: span.start,
            what: What::Deal {
                id: d.id,
                title: d.title,
                stages,
                fields: table(&d.fields),
            },
        });
    }
    for e in file.event {
        let span = e.span();
        let e = e.into_inner();
        inputs.push(Entry {
            at: e.at,
            offset: span.start,
            what: What::Event {
                deal: e.deal,
                name: e.name,
                payload: table(&e.fields),
                by: e.by,
            },
        });
    }
    for t in file.task {
        let span = t.span();
        let line = || line_of(text, &span);
        let t = t.into_inner();
        let action = match t.action.as_str() {
            "start" => TaskAction::Start,
            "done" => TaskAction::Done,
            "log" => {
                let h = t.hours.as_ref().and_then(number).ok_or_else(|| {
                    ScenarioError(format!("{name}:{}: `log` needs `hours`, a number", line()))
                })?;
                TaskAction::Log(h)
            }
            other => {
                return Err(ScenarioError(format!(
                    "{name}:{}: task action `{other}` is not one of start, done, log",
                    line()
                )));
            }
        };
        inputs.push(Entry {
            at: t.at,
            offset: span.start,
            what: What::Task {
                deal: t.deal,
                task: t.task,
                action,
                by: t.by,
            },
        });
    }
    inputs.sort_by_key(|e| e.offset);
    Ok(Scenario {
        start: file.start,
        until: file.until,
        team,
        inputs,
    })
}

fn number(v: &toml::Value) -> Option<Decimal> {
    match v {
        toml::Value::Integer(n) => Some(Decimal::from(*n)),
        toml::Value::Float(f) => f.to_string().parse().ok(),
        toml::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn table(t: &toml::Table) -> BTreeMap<String, Value> {
    t.iter().map(|(k, v)| (k.clone(), value(v))).collect()
}

/// A TOML value, loosely typed: the engine converts it by the pipeline's declarations.
fn value(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::Text(s.clone()),
        toml::Value::Integer(n) => Value::Int(*n),
        toml::Value::Float(f) => f
            .to_string()
            .parse()
            .map(Value::Decimal)
            .unwrap_or(Value::Text(f.to_string())),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::Text(d.to_string()),
        toml::Value::Array(a) => Value::List(a.iter().map(value).collect()),
        toml::Value::Table(t) => Value::Record(table(t).into_iter().collect()),
    }
}
