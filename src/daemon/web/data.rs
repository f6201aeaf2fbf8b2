//! What the pages show, read from the summaries the writer keeps (`store::dashboard`): the
//! board's columns, the money, what is out of control, the team's load. Each reads a few rows
//! through an index, so a page costs the same with a hundred deals or a million.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::compile::Plan;
use crate::engine::Deal;
use crate::store::{Card, OverdueTask, StoreError, Tx};
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

/// One column of the board: a stage, its first cards, how many deals count in it and their
/// money.
#[derive(Debug)]
pub(super) struct Column {
    /// The stage.
    pub stage: usize,
    /// The first cards: the longest waiting first (final stages: the latest first).
    pub cards: Vec<Card>,
    /// How many deals count in the stage.
    pub count: i64,
    /// Sum of their amounts.
    pub money: Decimal,
}

/// Cards a column shows on the board; the rest are on its own pages.
pub(super) const CARDS: i64 = 12;

/// Cards on a page of one column.
pub(super) const COLUMN_PAGE: i64 = 50;

/// Groups of columns: each phase with its stages (grouped now: a reload can regroup them), then
/// the stages of no phase.
pub(super) async fn board(
    tx: &mut Tx,
    plan: &Plan,
) -> Result<Vec<(Option<usize>, Vec<Column>)>, StoreError> {
    let totals = tx.totals_under("stage/").await?;
    let mut columns: Vec<Option<Column>> = Vec::with_capacity(plan.stages.len());
    for (stage, st) in plan.stages.iter().enumerate() {
        let (count, money) = totals.get(&st.name).copied().unwrap_or_default();
        let cards = if count > 0 {
            tx.column_cards(&st.name, st.is_final, 0, CARDS).await?
        } else {
            Vec::new()
        };
        columns.push(Some(Column {
            stage,
            cards,
            count,
            money,
        }));
    }
    let mut groups = Vec::new();
    for (p, phase) in plan.phases.iter().enumerate() {
        let cols = phase
            .stages
            .iter()
            .filter_map(|&s| columns.get_mut(s).and_then(Option::take))
            .collect();
        groups.push((Some(p), cols));
    }
    let rest: Vec<Column> = columns.into_iter().flatten().collect();
    if !rest.is_empty() {
        groups.push((None, rest));
    }
    Ok(groups)
}

/// Whole days between two moments (for "days in stage").
pub(super) fn days(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_days().max(0)
}

/// Deals the money page lists of those closing in the window (the rest are counted).
pub(super) const CLOSING_SHOWN: i64 = 100;

/// The money page's figures.
#[derive(Debug, Default)]
pub(super) struct Money {
    /// Live deals whose planned end falls in the window, soonest first (the first
    /// [`CLOSING_SHOWN`]).
    pub closing: Vec<Card>,
    /// How many live deals close in the window, and their amounts.
    pub closing_all: (i64, Decimal),
    /// Expected revenue per week (Monday) of planned end, from this week on.
    pub weeks: Vec<(NaiveDate, Decimal)>,
    /// Paid: amount and number of deals.
    pub paid: (Decimal, i64),
    /// Invoiced and not (yet) paid.
    pub invoiced: (Decimal, i64),
}

/// The money of live deals (and what was paid of every deal) as of `today`.
pub(super) async fn money(
    tx: &mut Tx,
    today: NaiveDate,
    window_days: i64,
    weeks: usize,
) -> Result<Money, StoreError> {
    let week0 = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let mut m = Money {
        weeks: (0..weeks)
            .map(|w| (week0 + Duration::weeks(w as i64), Decimal::ZERO))
            .collect(),
        ..Money::default()
    };
    let last = today + Duration::days(window_days);
    let weeks_end = week0 + Duration::weeks(weeks as i64) - Duration::days(1);
    for (end, amount) in tx.planned_ends(week0, last.max(weeks_end)).await? {
        let w = ((end - week0).num_days() / 7) as usize;
        if let Some(slot) = m.weeks.get_mut(w) {
            slot.1 += amount;
        }
        if end >= today && end <= last {
            m.closing_all.0 += 1;
            m.closing_all.1 += amount;
        }
    }
    m.closing = tx.closing_between(today, last, CLOSING_SHOWN).await?;
    let invoices = tx.totals_under("invoice/").await?;
    let of = |k: &str| {
        invoices
            .get(k)
            .map_or((Decimal::ZERO, 0), |(n, a)| (*a, *n))
    };
    m.paid = of("paid");
    m.invoiced = of("invoiced");
    Ok(m)
}

/// Something the head of the company should look at.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Trouble {
    /// The analyst's new rules were refused; the old ones run.
    ReloadRefused {
        /// When.
        at: DateTime<Utc>,
        /// Why.
        message: String,
    },
    /// A message could not be delivered.
    Undelivered(crate::store::Queued),
    /// A website lead the rules refused: nobody has made a deal of it or dismissed it yet.
    Lead(crate::store::Refusal),
    /// A website lead's phone or email that did not read: its deal waits for the right one.
    Contact(crate::store::OpenCheck),
    /// A live deal with alerts raised, and how long its oldest track has been where it is.
    Alert(Card),
    /// A task is past its due time.
    Overdue(OverdueTask),
}

/// Troubles on a page of the out-of-control list.
pub(super) const TROUBLES_PAGE: i64 = 50;

/// The kinds of trouble read a page at a time, in the order the page lists them.
#[derive(Clone, Copy)]
enum Paged {
    Leads,
    Contacts,
    Alerts,
    Overdue,
}

/// One page of everything out of control, the most urgent first: refused rules stop every
/// change the analyst made, a message that did not go out is a client left without an answer,
/// a website lead refused or with a contact that did not read is a client who may be lost,
/// alerts are the pipeline's own warnings (the longest stuck first), then overdue tasks (the
/// longest overdue first). Finished deals are not here: their alerts stay on the deal. The
/// page and how many troubles there are in all.
pub(super) async fn troubles(
    tx: &mut Tx,
    refused_reload: Option<(DateTime<Utc>, String)>,
    now: DateTime<Utc>,
    page: i64,
) -> Result<(Vec<Trouble>, i64), StoreError> {
    let dead = tx.dead_messages().await?;
    let head: Vec<Trouble> = refused_reload
        .map(|(at, message)| Trouble::ReloadRefused { at, message })
        .into_iter()
        .chain(dead.into_iter().map(Trouble::Undelivered))
        .collect();
    let sections = [
        (Paged::Leads, tx.unsettled_leads_count().await?),
        (Paged::Contacts, tx.open_checks_count().await?),
        (Paged::Alerts, tx.alerted_count().await?),
        (Paged::Overdue, tx.overdue_count(now).await?),
    ];
    let total = head.len() as i64 + sections.iter().map(|(_, n)| n).sum::<i64>();
    let (from, to) = (page * TROUBLES_PAGE, (page + 1) * TROUBLES_PAGE);
    let mut first = head.len() as i64;
    let mut out: Vec<Trouble> = head
        .into_iter()
        .skip(from as usize)
        .take(TROUBLES_PAGE as usize)
        .collect();
    for (kind, count) in sections {
        // The part of this section that falls on the page.
        let (lo, hi) = (from.max(first), to.min(first + count));
        if lo < hi {
            let (offset, n) = (lo - first, hi - lo);
            match kind {
                Paged::Leads => out.extend(
                    tx.unsettled_leads(offset, n)
                        .await?
                        .into_iter()
                        .map(Trouble::Lead),
                ),
                Paged::Contacts => out.extend(
                    tx.open_checks(offset, n)
                        .await?
                        .into_iter()
                        .map(Trouble::Contact),
                ),
                Paged::Alerts => {
                    out.extend(tx.alerted(offset, n).await?.into_iter().map(Trouble::Alert));
                }
                Paged::Overdue => out.extend(
                    tx.overdue(now, offset, n)
                        .await?
                        .into_iter()
                        .map(Trouble::Overdue),
                ),
            }
        }
        first += count;
    }
    Ok((out, total))
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
    pub open: i64,
    /// Of them, past due.
    pub overdue: i64,
    /// Hours logged since this week's Monday (local time).
    pub hours_week: Decimal,
}

/// The Monday (local) of the week `now` falls in.
pub(super) fn monday(plan: &Plan, now: DateTime<Utc>) -> NaiveDate {
    let local = now.with_timezone(&plan.tz).date_naive();
    local - Duration::days(i64::from(local.weekday().num_days_from_monday()))
}

/// Open and overdue tasks per person and the hours each logged this week.
pub(super) async fn team_load(
    tx: &mut Tx,
    plan: &Plan,
    team: &Team,
    now: DateTime<Utc>,
) -> Result<Vec<Load>, StoreError> {
    let mut overdue: HashMap<&str, i64> = HashMap::new();
    for m in &team.members {
        overdue.insert(&m.id, tx.overdue_of(&m.id, now).await?);
    }
    let hours = tx
        .totals_under(&format!("hours/{}/", monday(plan, now)))
        .await?;
    let mut out: Vec<Load> = team
        .members
        .iter()
        .map(|m| Load {
            id: m.id.clone(),
            name: m.name.clone(),
            roles: m.roles.clone(),
            open: team.load.get(&m.id).copied().unwrap_or(0),
            overdue: overdue.get(m.id.as_str()).copied().unwrap_or(0),
            hours_week: hours.get(&m.id).map_or(Decimal::ZERO, |h| h.1),
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

#[cfg(test)]
mod tests {
    // The dashboard's figures from Ivan's story, without a browser: the story played against a
    // real SQLite file as the daemon plays it (the summaries kept by the writer at every step),
    // then read as the pages read them.

    use std::path::{Path, PathBuf};

    use chrono::{DateTime, NaiveDate, Utc};
    use rust_decimal::Decimal;

    use crate::daemon::web::data;
    use crate::daemon::{Core, Opening};

    struct Story {
        core: Core,
        dir: PathBuf,
    }

    impl Drop for Story {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    async fn story(tag: &str, until: Option<&str>) -> Story {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = std::env::temp_dir().join(format!("dealflow-data-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a folder");
        let text =
            std::fs::read_to_string(root.join("examples/ivan.scenario.toml")).expect("scenario");
        let mut sc = crate::sim::scenario::load("ivan", &text).expect("scenario reads");
        if let Some(u) = until {
            sc.until = u.to_string();
            sc.inputs.retain(|e| e.at.as_str() <= u);
        }
        let core = Core::open(Opening {
            rules: &root.join("rules/web-studio.flow"),
            database: &format!("sqlite://{}", dir.join("story.db").display()),
            options: Default::default(),
            team: Some(&sc.team),
            max_rules_size: None,
            mapping: Default::default(),
        })
        .await
        .expect("opens");
        crate::daemon::replay::replay(&core, sc)
            .await
            .expect("plays");
        Story { core, dir }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn ids(cards: &[crate::store::Card]) -> Vec<&str> {
        cards.iter().map(|c| c.id.as_str()).collect()
    }

    #[tokio::test]
    async fn the_board_puts_each_deal_in_its_stage_with_the_money_of_the_column() {
        let s = story("board", None).await;
        let rules = s.core.rules();
        let plan = &rules.ready.plan;
        let mut tx = s.core.store().read().await.unwrap();
        let groups = data::board(&mut tx, plan).await.unwrap();
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
        assert_eq!(ids(&closed.cards), ["ivan/1", "ivan/2"]);
        assert_eq!((closed.count, closed.money), (2, Decimal::from(360_000)));
        assert_eq!(ids(&column("lost").cards), ["oleg"]);
        assert_eq!(ids(&column("contract").cards), ["maria"]);
        assert_eq!(column("production").count, 0);
        // Every deal counts once in all: nobody is in two columns at the end of the story.
        let all: i64 = groups.iter().flat_map(|(_, c)| c).map(|c| c.count).sum();
        let mut stored = 0;
        let mut after = String::new();
        loop {
            let page = tx.deal_states(&after, 100).await.unwrap();
            let Some(last) = page.last() else { break };
            after = last.0.clone();
            stored += page.len() as i64;
        }
        assert_eq!(all, stored);
    }

    #[tokio::test]
    async fn a_track_waiting_at_a_join_is_shown_waiting_not_in_the_join_s_column() {
        // 2026-03-12: ivan/1 is paid and in production while its billing track waits at closed.
        let s = story("join", Some("2026-03-12T12:00")).await;
        let rules = s.core.rules();
        let plan = &rules.ready.plan;
        let mut tx = s.core.store().read().await.unwrap();
        let groups = data::board(&mut tx, plan).await.unwrap();
        let column = |stage: &str| {
            groups
                .iter()
                .flat_map(|(_, cols)| cols)
                .find(|c| plan.stages[c.stage].name == stage)
                .expect("a column")
        };
        let card = column("production")
            .cards
            .iter()
            .find(|c| c.id == "ivan/1")
            .expect("ivan/1 in production");
        assert_eq!(card.waiting, ["closed"]);
        assert_eq!(card.stages, ["production"]);
        assert!(
            !ids(&column("closed").cards).contains(&"ivan/1"),
            "a live deal does not count in the join it waits at"
        );
        assert_eq!(column("closed").money, Decimal::ZERO);
    }

    #[tokio::test]
    async fn money_counts_what_was_paid_and_what_closes_in_the_window() {
        let s = story("money", Some("2026-03-12T12:00")).await;
        let mut tx = s.core.store().read().await.unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 3, 12).unwrap();
        let m = data::money(&mut tx, today, 30, 6).await.unwrap();
        // ivan/1 was paid on 10 March; ivan/2's invoice went out and is due on 13 March.
        assert_eq!(m.paid, (Decimal::from(300_000), 1));
        assert_eq!(m.invoiced, (Decimal::from(60_000), 1));
        // Both in production: ivan/2 ends 23 March, ivan/1 on 8 April.
        let closing: Vec<(&str, NaiveDate)> = m
            .closing
            .iter()
            .map(|c| (c.id.as_str(), c.planned_end.unwrap()))
            .collect();
        assert_eq!(
            closing,
            [
                ("ivan/2", NaiveDate::from_ymd_opt(2026, 3, 23).unwrap()),
                ("ivan/1", NaiveDate::from_ymd_opt(2026, 4, 8).unwrap()),
            ]
        );
        // Weeks from Monday 9 March: 23 March is the third, 8 April (a Wednesday) the fifth.
        let weeks: Vec<Decimal> = m.weeks.iter().map(|w| w.1).collect();
        assert_eq!(m.weeks[0].0, NaiveDate::from_ymd_opt(2026, 3, 9).unwrap());
        assert_eq!(
            weeks,
            [0, 0, 60_000, 0, 300_000, 0].map(Decimal::from).to_vec()
        );
        // A window of eleven days holds only ivan/2.
        let short = data::money(&mut tx, today, 11, 6).await.unwrap();
        assert_eq!(ids(&short.closing), ["ivan/2"]);
    }

    #[tokio::test]
    async fn out_of_control_lists_live_deals_only_most_urgent_first_a_page_at_a_time() {
        let s = story("trouble", None).await;
        let now = utc("2026-04-11T12:00:00+03:00");
        let mut tx = s.core.store().read().await.unwrap();
        let (all, total) = data::troubles(&mut tx, Some((now, "broken".into())), now, 0)
            .await
            .unwrap();
        assert_eq!(total, all.len() as i64, "one page holds them all");
        assert!(
            matches!(&all[0], data::Trouble::ReloadRefused { message, .. } if message == "broken")
        );
        // ivan/1 overran its hours, but it is closed: its alert stays on the deal, not here.
        assert!(
            all.iter()
                .all(|t| !matches!(t, data::Trouble::Alert(c) if !c.live)),
            "{all:?}"
        );
        let alerted: Vec<&str> = all
            .iter()
            .filter_map(|t| match t {
                data::Trouble::Alert(c) => Some(c.id.as_str()),
                _ => None,
            })
            .collect();
        assert!(!alerted.contains(&"ivan/1"), "{alerted:?}");
        // Tasks left open on finished deals were closed with them; those of live deals (Maria's
        // contract, Nina's lead) are overdue work, the longest overdue first.
        let overdue: Vec<&crate::store::OverdueTask> = all
            .iter()
            .filter_map(|t| match t {
                data::Trouble::Overdue(o) => Some(o),
                _ => None,
            })
            .collect();
        assert!(!overdue.is_empty());
        assert!(
            overdue
                .iter()
                .all(|o| o.deal == "maria" || o.deal == "nina"),
            "{overdue:?}"
        );
        assert!(overdue.windows(2).all(|w| w[0].due <= w[1].due));
        // The second page starts where the first ended.
        let (second, _) = data::troubles(&mut tx, None, now, 1).await.unwrap();
        assert!(second.is_empty());
    }

    #[tokio::test]
    async fn the_team_page_counts_open_tasks_and_this_weeks_hours() {
        // Friday 10 April 2026, evening: the week began on Monday 6 April.
        let s = story("team", None).await;
        let rules = s.core.rules();
        let now = utc("2026-04-10T20:00:00+03:00");
        let mut tx = s.core.store().read().await.unwrap();
        let team = tx.team().await.unwrap();
        let loads = data::team_load(&mut tx, &rules.ready.plan, &team, now)
            .await
            .unwrap();
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
