//! What a step adds to the analytics: read from its records (a stage entered or left, the
//! invoice's status set, time logged) and from the deal as it was and as it is. Counted by the
//! local month the step happened in, under names the `totals` table keeps (`a/2026-03/…`), so a
//! period is read as a few rows per month; a simulation counts the same way in memory.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::Map;
use crate::compile::Plan;
use crate::engine::{Deal, Kind, Record};
use crate::value::Value;

/// What the analytics read of a step's records.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    pub what: What,
}

/// The records the analytics read.
#[derive(Debug, Clone, PartialEq)]
pub enum What {
    /// A stage was entered.
    Entered(String),
    /// A stage was left.
    Left(String),
    /// A field was set (its value as text; `None`: cleared).
    Set(String, Option<String>),
}

impl Fact {
    /// What a record says, if the analytics read it.
    pub fn of(r: &Record) -> Option<Fact> {
        let what = match &r.kind {
            Kind::StageEntered { stage } => What::Entered(stage.clone()),
            Kind::StageLeft { stage } => What::Left(stage.clone()),
            Kind::FieldSet { field, value, .. } => What::Set(
                field.clone(),
                value.as_ref().map(|v| match v {
                    Value::Text(s) | Value::User(s) => s.clone(),
                    other => other.to_string(),
                }),
            ),
            _ => return None,
        };
        Some(Fact { at: r.at, what })
    }

    /// What a stored history entry says (its kind and its record as JSON), if the analytics
    /// read it.
    pub fn stored(kind: &str, at: DateTime<Utc>, record: &serde_json::Value) -> Option<Fact> {
        let s = |k: &str| {
            record
                .get(k)
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        };
        let what = match kind {
            "stage_entered" => What::Entered(s("stage")?),
            "stage_left" => What::Left(s("stage")?),
            "field_set" => What::Set(
                s("field")?,
                match record.get("value") {
                    None | Some(serde_json::Value::Null) => None,
                    Some(serde_json::Value::String(v)) => Some(v.clone()),
                    Some(other) => Some(other.to_string()),
                },
            ),
            _ => return None,
        };
        Some(Fact { at, what })
    }
}

/// Counts and sums by name.
pub type Sums = BTreeMap<String, (i64, Decimal)>;

/// Adds `(n, amount)` to `name`.
pub(crate) fn add(out: &mut Sums, name: String, n: i64, amount: Decimal) {
    let e = out.entry(name).or_default();
    e.0 += n;
    e.1 += amount;
}

/// The bucket of a time spent in a stage: eight per doubling of minutes, so a percentile read
/// from the buckets is known within 9 %. Bucket 0 is under a minute.
pub fn bucket(minutes: i64) -> u32 {
    if minutes < 1 {
        return 0;
    }
    let b = ((minutes as f64).log2() * 8.0).floor() as i64 + 1;
    b.clamp(1, 999) as u32
}

/// The minutes a bucket spans: [from, to).
pub fn bucket_span(b: u32) -> (f64, f64) {
    if b == 0 {
        return (0.0, 1.0);
    }
    let from = 2f64.powf(f64::from(b - 1) / 8.0);
    let to = 2f64.powf(f64::from(b) / 8.0);
    (from, to)
}

/// Where a deal's stages and invoice stood before the records of a step, to read the step.
#[derive(Debug, Default, Clone)]
pub struct Before {
    /// When each stage it is in was entered.
    pub entered: HashMap<String, DateTime<Utc>>,
    /// The invoice's status.
    pub invoice: Option<String>,
    /// The invoice was burnt and not yet issued again.
    pub burnt: bool,
}

impl Before {
    /// A deal as it stands (`None`: a deal the step creates).
    pub fn of(plan: &Plan, map: &Map, deal: Option<&Deal>) -> Before {
        let Some(deal) = deal else {
            return Before::default();
        };
        let invoice = text(plan, deal, &map.invoice_status);
        Before {
            entered: deal
                .tracks
                .iter()
                .filter_map(|t| Some((plan.stages.get(t.stage)?.name.clone(), t.entered_at)))
                .collect(),
            burnt: invoice.as_deref() == Some(map.burnt.as_str()),
            invoice,
        }
    }
}

fn text(plan: &Plan, deal: &Deal, field: &str) -> Option<String> {
    let &i = plan.field_index.get(field)?;
    match deal.values.get(i)?.as_ref()? {
        Value::Text(s) | Value::User(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn number(plan: &Plan, deal: &Deal, field: &str) -> Option<Decimal> {
    let &i = plan.field_index.get(field)?;
    deal.values.get(i)?.as_ref()?.as_decimal()
}

fn date(plan: &Plan, deal: &Deal, field: &str) -> Option<chrono::NaiveDate> {
    let &i = plan.field_index.get(field)?;
    match deal.values.get(i)?.as_ref()? {
        Value::Date(d) => Some(*d),
        Value::DateTime(t) => Some(t.with_timezone(&plan.tz).date_naive()),
        _ => None,
    }
}

/// The person in a role of the deal.
fn holder(plan: &Plan, deal: &Deal, role: &str) -> Option<String> {
    let &r = plan.role_index.get(role)?;
    deal.slots.get(r)?.clone()
}

/// A reason as counted: trimmed, one line, at most 80 characters.
pub fn reason(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default().trim();
    line.chars().take(80).collect()
}

/// Adds what one deal's records of a step (in order) say: `before` is the deal as it stood,
/// `after` as it is now.
pub fn step(
    plan: &Plan,
    map: &Map,
    before: &mut Before,
    after: &Deal,
    facts: &[Fact],
    out: &mut Sums,
) {
    let tz = plan.tz;
    let month = |t: &DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m").to_string();
    let amount = number(plan, after, &map.amount).unwrap_or_default();
    // A stage left waits for the stage entered next to say whether the deal moved on or was lost.
    let mut left: Option<String> = None;
    for r in facts {
        let m = month(&r.at);
        match &r.what {
            What::Entered(stage) => {
                if let Some(from) = left.take() {
                    let how = if *stage == map.lost_stage {
                        "lost"
                    } else {
                        "move"
                    };
                    add(out, format!("a/{m}/{how}/{from}"), 1, Decimal::ZERO);
                }
                add(out, format!("a/{m}/enter/{stage}"), 1, Decimal::ZERO);
                before.entered.insert(stage.clone(), r.at);
                if *stage == map.lost_stage {
                    let why = text(plan, after, &map.lost_reason)
                        .map(|s| reason(&s))
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| "-".into());
                    add(out, format!("a/{m}/reason/{why}"), 1, amount);
                }
                if *stage == map.delivered_stage {
                    delivered(plan, map, after, r, &m, amount, out);
                }
            }
            What::Left(stage) => {
                if let Some(from) = left.replace(stage.clone()) {
                    // Two stages left in a row (a join): the first moved on.
                    add(out, format!("a/{m}/move/{from}"), 1, Decimal::ZERO);
                }
                if let Some(since) = before.entered.remove(stage) {
                    let minutes = (r.at - since).num_minutes();
                    add(
                        out,
                        format!("a/{m}/dwell/{stage}/{:03}", bucket(minutes)),
                        1,
                        Decimal::ZERO,
                    );
                }
            }
            What::Set(field, now) if *field == map.invoice_status => {
                let now = now.clone();
                let was = std::mem::replace(&mut before.invoice, now.clone());
                invoice(
                    map,
                    before,
                    was,
                    now.as_deref(),
                    after,
                    plan,
                    r,
                    &m,
                    amount,
                    out,
                );
            }
            _ => {}
        }
    }
    if let (Some(from), Some(last)) = (left, facts.last()) {
        // Left for no stage entered in this step: it moved on.
        add(
            out,
            format!("a/{}/move/{from}", month(&last.at)),
            1,
            Decimal::ZERO,
        );
    }
}

/// A project delivered: on time or late against its planned end, by its project manager; its
/// revenue and margin by month and manager.
fn delivered(
    plan: &Plan,
    map: &Map,
    deal: &Deal,
    r: &Fact,
    m: &str,
    amount: Decimal,
    out: &mut Sums,
) {
    let pm = holder(plan, deal, &map.pm_role).unwrap_or_else(|| "-".into());
    if let Some(planned) = date(plan, deal, &map.planned_end) {
        let actual = r.at.with_timezone(&plan.tz).date_naive();
        let late = (actual - planned).num_days();
        if late > 0 {
            add(out, format!("a/{m}/late/{pm}"), 1, Decimal::from(late));
        } else {
            add(out, format!("a/{m}/on_time/{pm}"), 1, Decimal::ZERO);
        }
    }
    add(out, format!("a/{m}/revenue/{pm}"), 1, amount);
    if let Some(margin) = number(plan, deal, &map.margin) {
        add(out, format!("a/{m}/margin/{pm}"), 1, margin);
    }
}

/// The invoice's status changed from `was` to `now`: issued, paid (on time or late), burnt,
/// issued again.
#[allow(clippy::too_many_arguments)]
fn invoice(
    map: &Map,
    before: &mut Before,
    was: Option<String>,
    now: Option<&str>,
    deal: &Deal,
    plan: &Plan,
    r: &Fact,
    m: &str,
    amount: Decimal,
    out: &mut Sums,
) {
    let unset = plan
        .field_index
        .get(&map.invoice_status)
        .and_then(|&i| plan.fields[i].default.as_ref())
        .map(ToString::to_string);
    let open = |s: Option<&str>| {
        s.is_some_and(|s| {
            !s.is_empty() && Some(s) != unset.as_deref() && s != map.paid && s != map.burnt
        })
    };
    match now {
        Some(s) if s == map.paid => {
            let due = date(plan, deal, &map.invoice_due);
            let paid_on = r.at.with_timezone(&plan.tz).date_naive();
            let late = due.is_some_and(|d| paid_on > d);
            let key = if late { "paid_late" } else { "paid" };
            add(out, format!("a/{m}/inv/{key}"), 1, amount);
            before.burnt = false;
        }
        Some(s) if s == map.burnt => {
            add(out, format!("a/{m}/inv/burnt"), 1, amount);
            before.burnt = true;
        }
        s if open(s) && !open(was.as_deref()) => {
            let key = if before.burnt { "reissued" } else { "issued" };
            add(out, format!("a/{m}/inv/{key}"), 1, amount);
        }
        _ => {}
    }
}
