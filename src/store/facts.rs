//! What the dashboard's summaries hold of a deal: its narrow row (`deal_facts`), where it counts on the
//! board (`deal_places`), what it is found by (`deal_search`), and counts and sums by name
//! (`totals`). The writer keeps them in the transaction of every batch, as the difference
//! between what each deal's stored row says and what it says now; `rebuild` makes them again
//! from the deals.
//!
//! Which fields are the amount, the planned end, the invoice's status and the client's name
//! comes from the `[dashboard]` mapping ([`Mapping`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::compile::Plan;
use crate::engine::{Deal, TrackState};
use crate::json::stamp;
use crate::types::Ty;
use crate::value::Value;

/// The fields the dashboard reads, by name (`[dashboard]` in the configuration).
pub use crate::analytics::Map as Mapping;

/// The mapping resolved against a pipeline: field indexes, and the fields a deal is found by.
pub(crate) struct Lens<'a> {
    plan: &'a Plan,
    amount: Option<usize>,
    planned_end: Option<usize>,
    invoice: Option<(usize, Option<Value>, &'a str)>,
    client: Option<usize>,
    sold_hours: Option<usize>,
    found_by: Vec<usize>,
}

impl<'a> Lens<'a> {
    pub(crate) fn new(plan: &'a Plan, m: &'a Mapping) -> Self {
        let at = |name: &str| plan.field_index.get(name).copied();
        let found_by = plan
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| matches!(f.ty, Ty::Phone | Ty::Email | Ty::Telegram) || f.personal)
            .map(|(i, _)| i)
            .collect();
        Lens {
            plan,
            amount: at(&m.amount),
            planned_end: at(&m.planned_end),
            invoice: at(&m.invoice_status)
                .map(|i| (i, plan.fields[i].default.clone(), m.paid.as_str())),
            client: at(&m.client),
            sold_hours: at(&m.sold_hours),
            found_by,
        }
    }

    fn value<'d>(&self, deal: &'d Deal, field: Option<usize>) -> Option<&'d Value> {
        deal.values.get(field?)?.as_ref()
    }

    /// The monday (local) of the week a moment falls in.
    pub(crate) fn monday(&self, t: DateTime<Utc>) -> NaiveDate {
        let d = t.with_timezone(&self.plan.tz).date_naive();
        d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
    }
}

/// What the summaries are computed from, as a digest: when it changes (another mapping,
/// renames in the rules, other fields found by), the summaries are made again.
pub(crate) fn fingerprint(plan: &Plan, m: &Mapping) -> String {
    let mut h = Sha256::new();
    let mut put = |s: &str| {
        h.update(s.as_bytes());
        h.update([0]);
    };
    put("summaries 1");
    for name in [
        &m.amount,
        &m.planned_end,
        &m.invoice_status,
        &m.client,
        &m.sold_hours,
    ] {
        put(name);
        match plan.field_index.get(name.as_str()) {
            Some(&i) => {
                put(&plan.fields[i].ty.to_string());
                put(&format!("{:?}", plan.fields[i].default));
            }
            None => put("-"),
        }
    }
    put(&m.paid);
    for f in plan
        .fields
        .iter()
        .filter(|f| matches!(f.ty, Ty::Phone | Ty::Email | Ty::Telegram) || f.personal)
    {
        put(&f.name);
    }
    let mut finals: Vec<&str> = plan
        .stages
        .iter()
        .filter(|s| s.is_final)
        .map(|s| s.name.as_str())
        .collect();
    finals.sort_unstable();
    finals.into_iter().for_each(&mut put);
    let mut renames: Vec<String> = plan
        .migrations
        .stages
        .iter()
        .map(|(from, to)| format!("stage {from} {}", plan.stages[to.to].name))
        .chain(
            plan.migrations
                .fields
                .iter()
                .map(|(from, to)| format!("field {from} {}", plan.fields[to.to].name)),
        )
        .collect();
    renames.sort_unstable();
    renames.iter().for_each(|r| put(r));
    h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
}

/// The invoice as the money page counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invoice {
    /// Paid.
    Paid,
    /// Issued, not (yet) paid.
    Invoiced,
}

impl Invoice {
    fn name(self) -> &'static str {
        match self {
            Invoice::Paid => "paid",
            Invoice::Invoiced => "invoiced",
        }
    }
}

/// A deal as the pages list and count it: the columns of its `deal_facts` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Facts {
    pub id: String,
    pub title: String,
    pub live: bool,
    pub client: Option<String>,
    pub amount: Option<String>,
    pub planned_end: Option<String>,
    pub invoice: Option<String>,
    pub places: String,
    pub waiting: String,
    pub alerts: String,
    pub person: Option<String>,
    pub since: Option<String>,
    pub ended_at: Option<String>,
    /// `since` of a live deal with an alert raised.
    pub trouble_since: Option<String>,
    /// Hours sold.
    pub sold_hours: Option<String>,
    /// Hours spent.
    pub spent_hours: String,
    /// Hundredths of an hour spent past those sold, when more were spent.
    pub overrun: Option<i64>,
}

/// `|a|b|`.
pub(crate) fn bars<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::from("|");
    for i in items {
        out.push_str(i);
        out.push('|');
    }
    out
}

/// The names in `|a|b|`.
pub(crate) fn unbar(s: &str) -> impl Iterator<Item = &str> {
    s.split('|').filter(|x| !x.is_empty())
}

/// Where a deal counts on the board: a live deal in the stages of its active tracks (a track
/// waiting at a join is not there yet), a finished deal in its final stages; each stage once,
/// since its earliest track there.
pub(crate) fn places(plan: &Plan, deal: &Deal) -> Vec<(usize, DateTime<Utc>)> {
    let live = deal.is_live();
    let mut out: Vec<(usize, DateTime<Utc>)> = Vec::new();
    for t in &deal.tracks {
        let counts = if live {
            t.state == TrackState::Active
        } else {
            plan.stages.get(t.stage).is_some_and(|s| s.is_final)
        };
        if !counts {
            continue;
        }
        match out.iter_mut().find(|(s, _)| *s == t.stage) {
            Some(p) => p.1 = p.1.min(t.entered_at),
            None => out.push((t.stage, t.entered_at)),
        }
    }
    out
}

impl Facts {
    /// A deal's facts under `lens`.
    pub(crate) fn of(lens: &Lens<'_>, deal: &Deal) -> Facts {
        let plan = lens.plan;
        let live = deal.is_live();
        let places = places(plan, deal)
            .into_iter()
            .map(|(s, at)| format!("{}@{}", plan.stages[s].name, stamp(at)))
            .collect::<Vec<_>>()
            .join("|");
        let waiting = bars(
            deal.tracks
                .iter()
                .filter(|t| live && t.state == TrackState::Waiting)
                .filter_map(|t| plan.stages.get(t.stage))
                .map(|s| s.name.as_str()),
        );
        let alerts = bars(
            plan.alerts
                .iter()
                .zip(&deal.alerts)
                .filter(|(_, on)| **on)
                .map(|(a, _)| a.name.as_str()),
        );
        let planned_end = match lens.value(deal, lens.planned_end) {
            Some(Value::Date(d)) => Some(d.to_string()),
            Some(Value::DateTime(t)) => Some(t.with_timezone(&plan.tz).date_naive().to_string()),
            _ => None,
        };
        let invoice = lens.invoice.as_ref().and_then(|(i, unset, paid)| {
            let v = deal.values.get(*i)?.as_ref()?;
            if Some(v) == unset.as_ref() {
                return None;
            }
            Some(if v.as_text() == Some(*paid) {
                Invoice::Paid
            } else {
                Invoice::Invoiced
            })
        });
        let open = deal.tracks.iter().filter(|t| t.state != TrackState::Ended);
        let since = open.map(|t| t.entered_at).min().map(stamp);
        let trouble_since = since.clone().filter(|_| live && alerts != "|");
        let sold = lens
            .value(deal, lens.sold_hours)
            .and_then(Value::as_decimal);
        let spent = deal.hours_spent();
        let overrun = sold.filter(|s| spent > *s).and_then(|s| {
            use rust_decimal::prelude::ToPrimitive;
            ((spent - s) * Decimal::from(100)).trunc().to_i64()
        });
        Facts {
            id: deal.id.to_string(),
            title: deal.title.to_string(),
            live,
            client: lens.value(deal, lens.client).map(ToString::to_string),
            amount: lens
                .value(deal, lens.amount)
                .and_then(Value::as_decimal)
                .map(|d| d.normalize().to_string()),
            planned_end,
            invoice: invoice.map(|i| i.name().to_string()),
            places,
            waiting,
            alerts,
            person: deal.slots.iter().flatten().next().cloned(),
            trouble_since,
            sold_hours: sold.map(|s| s.normalize().to_string()),
            spent_hours: spent.normalize().to_string(),
            overrun,
            since,
            ended_at: (!live)
                .then(|| deal.tracks.iter().map(|t| t.entered_at).max())
                .flatten()
                .map(stamp),
        }
    }

    /// The (stage name, since) pairs of `places`.
    pub(crate) fn place_list(&self) -> Vec<(&str, &str)> {
        self.places
            .split('|')
            .filter_map(|p| p.split_once('@'))
            .collect()
    }

    fn amount_dec(&self) -> Decimal {
        self.amount
            .as_deref()
            .and_then(|a| a.parse().ok())
            .unwrap_or_default()
    }

    /// What this deal adds to the totals.
    pub(crate) fn shares(&self, out: &mut BTreeMap<String, (i64, Decimal)>, sign: i64) {
        let amount = self.amount_dec() * Decimal::from(sign);
        let mut add = |name: String, money: Decimal| {
            let e = out.entry(name).or_default();
            e.0 += sign;
            e.1 += money;
        };
        for (stage, _) in self.place_list() {
            add(format!("stage/{stage}"), amount);
        }
        if self.live {
            for a in unbar(&self.alerts) {
                add(format!("alert/{a}"), Decimal::ZERO);
            }
        }
        if let Some(i) = &self.invoice {
            add(format!("invoice/{i}"), amount);
        }
    }
}

/// The words a deal is found by, in lower case: id, title, client, and the values of phone,
/// email and personal fields (a phone also as its digits alone).
pub(crate) fn search_words(lens: &Lens<'_>, deal: &Deal) -> String {
    let mut words = vec![deal.id.to_string(), deal.title.to_string()];
    let mut fields: Vec<usize> = lens.client.into_iter().collect();
    fields.extend(
        lens.found_by
            .iter()
            .copied()
            .filter(|i| Some(*i) != lens.client),
    );
    for i in fields {
        let Some(v) = deal.values.get(i).and_then(Option::as_ref) else {
            continue;
        };
        let text = v.to_string();
        if lens.plan.fields[i].ty == Ty::Phone {
            words.push(text.chars().filter(char::is_ascii_digit).collect());
        }
        words.push(text);
    }
    words
        .join(" ")
        .chars()
        .filter(|c| !crate::value::zero_width(*c))
        .collect::<String>()
        .to_lowercase()
}

/// Hours logged per week and person, as totals (`hours/MONDAY/MEMBER`), added (`sign` 1) or
/// taken away (-1, an entry as it was before a correction).
pub(crate) fn hour_shares(
    lens: &Lens<'_>,
    entries: &[crate::engine::TimeEntry],
    sign: i64,
    out: &mut BTreeMap<String, (i64, Decimal)>,
) {
    for e in entries {
        let t = out
            .entry(format!("hours/{}/{}", lens.monday(e.at), e.user))
            .or_default();
        t.0 += sign;
        t.1 += Decimal::from(sign) * e.hours;
    }
}
