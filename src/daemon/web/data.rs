//! What the pages show, worked out from the deals as they are stored: the board's columns, the
//! money, what is out of control, the team's load. Pure functions over decoded deals, so the
//! figures are tested without a browser.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::compile::Plan;
use crate::daemon::config::Dashboard;
use crate::engine::{Deal, Team, TrackState};
use crate::value::Value;

/// A field's value by name.
pub fn field<'d>(plan: &Plan, deal: &'d Deal, name: &str) -> Option<&'d Value> {
    let &i = plan.field_index.get(name)?;
    deal.values.get(i)?.as_ref()
}

/// A field's value as a number.
pub fn number(plan: &Plan, deal: &Deal, name: &str) -> Option<Decimal> {
    field(plan, deal, name)?.as_decimal()
}

/// A field's value as a date (a moment counts by its local day).
pub fn date(plan: &Plan, deal: &Deal, name: &str) -> Option<NaiveDate> {
    match field(plan, deal, name)? {
        Value::Date(d) => Some(*d),
        Value::DateTime(t) => Some(t.with_timezone(&plan.tz).date_naive()),
        _ => None,
    }
}

/// One column of the board: a stage and the deals with a track in it.
#[derive(Debug)]
pub struct Column<'d> {
    /// The stage.
    pub stage: usize,
    /// Cards, the longest waiting first (final stages: the latest first).
    pub cards: Vec<Card<'d>>,
    /// How many deals are in the stage (finals show only the latest cards).
    pub count: usize,
    /// Sum of their amounts.
    pub money: Decimal,
}

/// A deal on the board.
#[derive(Debug)]
pub struct Card<'d> {
    /// The deal.
    pub deal: &'d Deal,
    /// Since when the deal's track is in this column's stage.
    pub since: DateTime<Utc>,
    /// The deal's other stages (parallel tracks).
    pub elsewhere: Vec<usize>,
}

/// Final stages show this many cards, the latest first.
pub const FINAL_CARDS: usize = 12;

/// Groups of columns: each phase with its stages, then the stages of no phase.
pub fn board<'d>(
    plan: &Plan,
    deals: &'d [Deal],
    amount: &str,
) -> Vec<(Option<usize>, Vec<Column<'d>>)> {
    let mut columns: Vec<Column<'d>> = (0..plan.stages.len())
        .map(|stage| Column {
            stage,
            cards: Vec::new(),
            count: 0,
            money: Decimal::ZERO,
        })
        .collect();
    for deal in deals {
        let stages: Vec<usize> = deal.tracks.iter().map(|t| t.stage).collect();
        for t in &deal.tracks {
            let Some(col) = columns.get_mut(t.stage) else {
                continue;
            };
            // A deal with two tracks in one stage (rare) shows once.
            if col.cards.iter().any(|c| std::ptr::eq(c.deal, deal)) {
                continue;
            }
            col.count += 1;
            col.money += number(plan, deal, amount).unwrap_or_default();
            col.cards.push(Card {
                deal,
                since: t.entered_at,
                elsewhere: stages.iter().copied().filter(|&s| s != t.stage).collect(),
            });
        }
    }
    for col in &mut columns {
        if plan.stages[col.stage].is_final {
            col.cards.sort_by_key(|c| std::cmp::Reverse(c.since));
            col.cards.truncate(FINAL_CARDS);
        } else {
            col.cards.sort_by_key(|c| c.since);
        }
    }
    let mut groups = Vec::new();
    let mut placed = vec![false; plan.stages.len()];
    let mut columns: Vec<Option<Column<'d>>> = columns.into_iter().map(Some).collect();
    for (p, phase) in plan.phases.iter().enumerate() {
        let mut cols = Vec::new();
        for &s in &phase.stages {
            if let Some(c) = columns.get_mut(s).and_then(Option::take) {
                placed[s] = true;
                cols.push(c);
            }
        }
        groups.push((Some(p), cols));
    }
    let rest: Vec<Column<'d>> = columns
        .into_iter()
        .enumerate()
        .filter(|(s, _)| !placed[*s])
        .filter_map(|(_, c)| c)
        .collect();
    if !rest.is_empty() {
        groups.push((None, rest));
    }
    groups
}

/// Whole days between two moments (for "days in stage").
pub fn days(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_days().max(0)
}

/// The money page's figures.
#[derive(Debug, Default)]
pub struct Money<'d> {
    /// Live deals whose planned end falls in the window, soonest first.
    pub closing: Vec<(&'d Deal, NaiveDate, Decimal)>,
    /// Expected revenue per week (Monday) of planned end, from this week on.
    pub weeks: Vec<(NaiveDate, Decimal)>,
    /// Paid: amount and number of deals.
    pub paid: (Decimal, usize),
    /// Invoiced and not (yet) paid.
    pub invoiced: (Decimal, usize),
}

/// The money of live deals (and what was paid of every deal) as of `today`.
pub fn money<'d>(
    plan: &Plan,
    deals: &'d [Deal],
    cfg: &Dashboard,
    today: NaiveDate,
    window_days: i64,
    weeks: usize,
) -> Money<'d> {
    let mut m = Money::default();
    let week0 = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    m.weeks = (0..weeks)
        .map(|w| (week0 + Duration::weeks(w as i64), Decimal::ZERO))
        .collect();
    let last = today + Duration::days(window_days);
    let unset = plan
        .field_index
        .get(&cfg.invoice_status)
        .and_then(|&i| plan.fields[i].default.clone());
    for deal in deals {
        let amount = number(plan, deal, &cfg.amount).unwrap_or_default();
        if let Some(status) = field(plan, deal, &cfg.invoice_status)
            && Some(status) != unset.as_ref()
        {
            if status.as_text() == Some(cfg.paid.as_str()) {
                m.paid.0 += amount;
                m.paid.1 += 1;
            } else {
                m.invoiced.0 += amount;
                m.invoiced.1 += 1;
            }
        }
        if !deal.is_live() {
            continue;
        }
        let Some(end) = date(plan, deal, &cfg.planned_end) else {
            continue;
        };
        if end >= today && end <= last {
            m.closing.push((deal, end, amount));
        }
        if end >= week0 {
            let w = ((end - week0).num_days() / 7) as usize;
            if let Some(slot) = m.weeks.get_mut(w) {
                slot.1 += amount;
            }
        }
    }
    m.closing
        .sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.id.cmp(&b.0.id)));
    m
}

/// Something the head of the company should look at.
#[derive(Debug, Clone, PartialEq)]
pub enum Trouble {
    /// The analyst's new rules were refused; the old ones run.
    ReloadRefused {
        /// When.
        at: String,
        /// Why.
        message: String,
    },
    /// A message could not be delivered.
    Undelivered {
        /// The deal.
        deal: String,
        /// `email` / `sms`.
        channel: String,
        /// To whom.
        to: String,
        /// Template.
        template: String,
        /// Attempts made.
        attempts: i64,
        /// The last error.
        error: String,
    },
    /// An alert holds on a deal.
    Alert {
        /// The deal.
        deal: String,
        /// The alert.
        alert: usize,
        /// Where the deal is.
        stages: Vec<usize>,
        /// How long a live deal's oldest track has been where it is (none for a finished deal).
        stuck_days: Option<i64>,
    },
    /// A task is past its due time.
    Overdue {
        /// The deal.
        deal: String,
        /// Task title.
        task: String,
        /// Who should do it.
        assignee: Option<String>,
        /// How long past due.
        late: Duration,
    },
}

impl Trouble {
    /// Higher is more urgent: refused rules stop every change the analyst made, a message that
    /// did not go out is a client left without an answer, alerts are the pipeline's own
    /// warnings, then overdue tasks, the longest overdue first.
    fn urgency(&self) -> (u8, i64) {
        match self {
            Trouble::ReloadRefused { .. } => (4, 0),
            Trouble::Undelivered { attempts, .. } => (3, *attempts),
            Trouble::Alert { stuck_days, .. } => (2, stuck_days.unwrap_or(0)),
            Trouble::Overdue { late, .. } => (1, late.num_minutes()),
        }
    }
}

/// Everything out of control, the most urgent first.
pub fn troubles(
    plan: &Plan,
    deals: &[Deal],
    dead: Vec<crate::store::Queued>,
    refused_reload: Option<(String, String)>,
    now: DateTime<Utc>,
) -> Vec<Trouble> {
    let mut out = Vec::new();
    if let Some((at, message)) = refused_reload {
        out.push(Trouble::ReloadRefused { at, message });
    }
    for m in dead {
        out.push(Trouble::Undelivered {
            deal: m.deal,
            channel: m.channel,
            to: m.to,
            template: m.template,
            attempts: m.attempts,
            error: m.last_error.unwrap_or_default(),
        });
    }
    for deal in deals {
        let oldest = deal
            .tracks
            .iter()
            .filter(|t| t.state != TrackState::Ended)
            .map(|t| t.entered_at)
            .min();
        for (a, raised) in deal.alerts.iter().enumerate() {
            if *raised && a < plan.alerts.len() {
                out.push(Trouble::Alert {
                    deal: deal.id.to_string(),
                    alert: a,
                    stages: deal.tracks.iter().map(|t| t.stage).collect(),
                    stuck_days: oldest.map(|o| days(o, now)),
                });
            }
        }
        // A finished deal's leftover tasks are nobody's business any more.
        if !deal.is_live() {
            continue;
        }
        for t in deal.tasks.iter() {
            if t.done_at.is_none()
                && let Some(due) = t.due
                && due < now
            {
                out.push(Trouble::Overdue {
                    deal: deal.id.to_string(),
                    task: t.title.clone(),
                    assignee: t.assignee.clone(),
                    late: now - due,
                });
            }
        }
    }
    out.sort_by_key(|t| std::cmp::Reverse(t.urgency()));
    out
}

/// A team member's load.
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    /// Member id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Roles.
    pub roles: Vec<String>,
    /// Open tasks (not done) of live deals.
    pub open: usize,
    /// Of them, past due.
    pub overdue: usize,
    /// Hours logged since this week's Monday (local time).
    pub hours_week: Decimal,
}

/// Open and overdue tasks per person and the hours each logged this week.
pub fn team_load(plan: &Plan, team: &Team, deals: &[Deal], now: DateTime<Utc>) -> Vec<Load> {
    let local = now.with_timezone(&plan.tz);
    let monday =
        local.date_naive() - Duration::days(i64::from(local.weekday().num_days_from_monday()));
    let week_start = monday
        .and_hms_opt(0, 0, 0)
        .and_then(|m| m.and_local_timezone(plan.tz).earliest())
        .map_or(now, |t| t.with_timezone(&Utc));
    let mut by: BTreeMap<&str, Load> = team
        .members
        .iter()
        .map(|m| {
            (
                m.id.as_str(),
                Load {
                    id: m.id.clone(),
                    name: m.name.clone(),
                    roles: m.roles.clone(),
                    open: 0,
                    overdue: 0,
                    hours_week: Decimal::ZERO,
                },
            )
        })
        .collect();
    for deal in deals {
        let live = deal.is_live();
        for t in deal.tasks.iter().filter(|t| live && t.done_at.is_none()) {
            if let Some(l) = t.assignee.as_deref().and_then(|a| by.get_mut(a)) {
                l.open += 1;
                if t.due.is_some_and(|d| d < now) {
                    l.overdue += 1;
                }
            }
        }
        for e in deal.time_entries.iter() {
            if e.at >= week_start
                && e.at <= now
                && let Some(l) = by.get_mut(e.user.as_str())
            {
                l.hours_week += e.hours;
            }
        }
    }
    by.into_values().collect()
}
