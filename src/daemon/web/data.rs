//! What the pages show, worked out from the deals as they are stored: the board's columns, the
//! money, what is out of control, the team's load. Pure functions over decoded deals, so the
//! figures are tested without a browser.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::compile::Plan;
use crate::daemon::config::Dashboard;
use crate::engine::{Deal, TrackState};
use crate::team::Team;
use crate::value::Value;

/// A field's value by name.
pub(super) fn field<'d>(plan: &Plan, deal: &'d Deal, name: &str) -> Option<&'d Value> {
    let &i = plan.field_index.get(name)?;
    deal.values.get(i)?.as_ref()
}

/// A field's value as a number.
pub(super) fn number(plan: &Plan, deal: &Deal, name: &str) -> Option<Decimal> {
    field(plan, deal, name)?.as_decimal()
}

/// A field's value as a date (a moment counts by its local day).
pub(super) fn date(plan: &Plan, deal: &Deal, name: &str) -> Option<NaiveDate> {
    match field(plan, deal, name)? {
        Value::Date(d) => Some(*d),
        Value::DateTime(t) => Some(t.with_timezone(&plan.tz).date_naive()),
        _ => None,
    }
}

/// One column of the board: a stage and the deals with a track in it.
#[derive(Debug)]
pub(super) struct Column<'d> {
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
pub(super) struct Card<'d> {
    /// The deal.
    pub deal: &'d Deal,
    /// Since when the deal's track is in this column's stage.
    pub since: DateTime<Utc>,
    /// The deal's other stages (parallel tracks).
    pub elsewhere: Vec<usize>,
}

/// Final stages show this many cards, the latest first.
pub(super) const FINAL_CARDS: usize = 12;

/// Groups of columns: each phase with its stages, then the stages of no phase.
pub(super) fn board<'d>(
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
pub(super) fn days(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_days().max(0)
}

/// The money page's figures.
#[derive(Debug, Default)]
pub(super) struct Money<'d> {
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
pub(super) fn money<'d>(
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
pub(super) enum Trouble {
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
pub(super) fn troubles(
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
pub(super) struct Load {
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
pub(super) fn team_load(plan: &Plan, team: &Team, deals: &[Deal], now: DateTime<Utc>) -> Vec<Load> {
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

#[cfg(test)]
mod tests {
    // The dashboard's figures from Ivan's story, without a browser: the deals as the simulator
    // leaves them at the scenario's end, and a clock a few days into the story for what is due.

    use std::path::Path;

    use crate::daemon::config::Dashboard;
    use crate::daemon::web::data;
    use crate::engine::Deal;
    use crate::sim::Simulation;
    use crate::team::Team;
    use chrono::{DateTime, NaiveDate, Utc};
    use rust_decimal::Decimal;

    fn story(until: Option<&str>) -> (crate::compile::Plan, Vec<Deal>, Team) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let ready = crate::load::RuleFile::read(&root.join("rules/web-studio.flow"))
            .expect("readable")
            .ready()
            .expect("valid");
        let text =
            std::fs::read_to_string(root.join("examples/ivan.scenario.toml")).expect("scenario");
        let mut sc = crate::sim::scenario::load("ivan", &text).expect("scenario reads");
        if let Some(u) = until {
            sc.until = u.to_string();
            sc.inputs.retain(|e| e.at.as_str() <= u);
        }
        let team = Team::new(sc.team.clone());
        let t = Simulation::new(&ready.plan, ready.script.as_ref(), team.clone())
            .run(sc, None)
            .expect("runs");
        let deals = t.finals.into_iter().map(|f| f.deal).collect();
        (ready.plan, deals, team)
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn ids<'a>(deals: impl Iterator<Item = &'a Deal>) -> Vec<String> {
        deals.map(|d| d.id.to_string()).collect()
    }

    #[test]
    fn the_board_puts_each_deal_in_its_stage_with_the_money_of_the_column() {
        let (plan, deals, _) = story(None);
        let groups = data::board(&plan, &deals, "amount");
        let phases: Vec<Option<&str>> = groups
            .iter()
            .map(|(p, _)| p.map(|p| plan.phases[p].name.as_str()))
            .collect();
        assert_eq!(
            phases,
            [Some("presale"), Some("payment"), Some("delivery"), None]
        );
        let column = |stage: &str| {
            groups
                .iter()
                .flat_map(|(_, cols)| cols)
                .find(|c| plan.stages[c.stage].name == stage)
                .expect("a column per stage")
        };
        let closed = column("closed");
        assert_eq!(
            ids(closed.cards.iter().map(|c| c.deal)),
            ["ivan/1", "ivan/2"]
        );
        assert_eq!(closed.money, Decimal::from(360_000));
        assert_eq!(ids(column("lost").cards.iter().map(|c| c.deal)), ["oleg"]);
        assert_eq!(
            ids(column("contract").cards.iter().map(|c| c.deal)),
            ["maria"]
        );
        assert!(column("production").cards.is_empty());
    }

    #[test]
    fn parallel_tracks_show_on_one_card_in_each_of_their_columns() {
        // 2026-03-12: ivan/1 is paid and in production while its billing track waits at closed.
        let (plan, deals, _) = story(Some("2026-03-12T12:00"));
        let groups = data::board(&plan, &deals, "amount");
        let card = groups
            .iter()
            .flat_map(|(_, cols)| cols)
            .filter(|c| plan.stages[c.stage].name == "production")
            .flat_map(|c| &c.cards)
            .find(|c| &*c.deal.id == "ivan/1")
            .expect("ivan/1 in production");
        let elsewhere: Vec<&str> = card
            .elsewhere
            .iter()
            .map(|&s| plan.stages[s].name.as_str())
            .collect();
        assert_eq!(elsewhere, ["closed"]);
    }

    #[test]
    fn money_counts_what_was_paid_and_what_closes_in_the_window() {
        let (plan, deals, _) = story(Some("2026-03-12T12:00"));
        let cfg = Dashboard::default();
        let today = NaiveDate::from_ymd_opt(2026, 3, 12).unwrap();
        let m = data::money(&plan, &deals, &cfg, today, 30, 6);
        // ivan/1 was paid on 10 March; ivan/2's invoice went out and is due on 13 March.
        assert_eq!(m.paid, (Decimal::from(300_000), 1));
        assert_eq!(m.invoiced, (Decimal::from(60_000), 1));
        // Both in production: ivan/2 ends 23 March, ivan/1 on 8 April.
        let closing: Vec<(String, NaiveDate)> = m
            .closing
            .iter()
            .map(|(d, end, _)| (d.id.to_string(), *end))
            .collect();
        assert_eq!(
            closing,
            [
                (
                    "ivan/2".to_string(),
                    NaiveDate::from_ymd_opt(2026, 3, 23).unwrap()
                ),
                (
                    "ivan/1".to_string(),
                    NaiveDate::from_ymd_opt(2026, 4, 8).unwrap()
                ),
            ]
        );
        // Weeks from Monday 9 March: 23 March is the third, 8 April (a Wednesday) the fifth.
        let weeks: Vec<Decimal> = m.weeks.iter().map(|w| w.1).collect();
        assert_eq!(m.weeks[0].0, NaiveDate::from_ymd_opt(2026, 3, 9).unwrap());
        assert_eq!(
            weeks,
            [0, 0, 60_000, 0, 300_000, 0].map(Decimal::from).to_vec()
        );
        // A window of ten days holds only ivan/2.
        let short = data::money(&plan, &deals, &cfg, today, 11, 6);
        assert_eq!(ids(short.closing.iter().map(|c| c.0)), ["ivan/2"]);
    }

    #[test]
    fn out_of_control_lists_alerts_and_overdue_tasks_of_live_deals_most_urgent_first() {
        let (plan, deals, _) = story(None);
        let now = utc("2026-04-11T12:00:00+03:00");
        let dead = vec![crate::store::Queued {
            id: 7,
            deal: "maria".into(),
            channel: "sms".into(),
            to: "+79990000002".into(),
            template: "welcome".into(),
            subject: None,
            body: "…".into(),
            attachments: "[]".into(),
            send_after: now,
            status: "dead".into(),
            attempts: 5,
            last_error: Some("gateway said 500".into()),
        }];
        let all = data::troubles(
            &plan,
            &deals,
            dead,
            Some(("today".into(), "broken".into())),
            now,
        );
        // Refused rules first (nothing the analyst changed runs), then a client left without a
        // message, then the pipeline's alerts, then overdue tasks.
        assert!(
            matches!(&all[0], data::Trouble::ReloadRefused { message, .. } if message == "broken")
        );
        assert!(matches!(
            &all[1],
            data::Trouble::Undelivered { deal, attempts: 5, error, .. }
                if deal == "maria" && error == "gateway said 500"
        ));
        assert!(matches!(&all[2], data::Trouble::Alert { .. }));
        let alerts: Vec<(&str, &str)> = all
            .iter()
            .filter_map(|t| match t {
                data::Trouble::Alert { deal, alert, .. } => {
                    Some((deal.as_str(), plan.alerts[*alert].name.as_str()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(alerts, [("ivan/1", "hours_overrun")]);
        // Tasks left open on finished deals (Ivan's own lead tasks, Oleg's) are not overdue work;
        // those of live deals (Maria's contract, Nina's lead) are.
        let overdue: Vec<&str> = all
            .iter()
            .filter_map(|t| match t {
                data::Trouble::Overdue { deal, .. } => Some(deal.as_str()),
                _ => None,
            })
            .collect();
        assert!(!overdue.is_empty());
        assert!(
            overdue.iter().all(|d| *d == "maria" || *d == "nina"),
            "{overdue:?}"
        );
        // The longest overdue first.
        let lates: Vec<i64> = all
            .iter()
            .filter_map(|t| match t {
                data::Trouble::Overdue { late, .. } => Some(late.num_minutes()),
                _ => None,
            })
            .collect();
        assert!(lates.windows(2).all(|w| w[0] >= w[1]), "{lates:?}");
    }

    #[test]
    fn the_team_page_counts_open_tasks_and_this_weeks_hours() {
        // Friday 10 April 2026, evening: the week began on Monday 6 April.
        let (plan, deals, team) = story(None);
        let now = utc("2026-04-10T20:00:00+03:00");
        let loads = data::team_load(&plan, &team, &deals, now);
        let kate = loads.iter().find(|l| l.id == "kate").expect("kate");
        // Kate logged the last 10 hours on the shop's content on 10 April.
        assert_eq!(kate.hours_week, Decimal::from(10));
        let total: Decimal = loads.iter().map(|l| l.hours_week).sum();
        assert_eq!(
            total,
            Decimal::from(10),
            "nothing else was logged that week"
        );
        let anna = loads.iter().find(|l| l.id == "anna").expect("anna");
        assert!(anna.open > 0 && anna.overdue > 0, "{anna:?}");
    }
}
