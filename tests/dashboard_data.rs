//! The dashboard's figures from Ivan's story, without a browser: the deals as the simulator
//! leaves them at the scenario's end, and a clock a few days into the story for what is due.

use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use dealflow::daemon::config::Dashboard;
use dealflow::daemon::web::data;
use dealflow::engine::{Deal, Team};
use dealflow::sim::Simulation;
use rust_decimal::Decimal;

fn story(until: Option<&str>) -> (dealflow::compile::Plan, Vec<Deal>, Team) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ready = dealflow::load::Loaded::read(&root.join("rules/web-studio.flow"))
        .expect("readable")
        .ready()
        .expect("valid");
    let text = std::fs::read_to_string(root.join("examples/ivan.scenario.toml")).expect("scenario");
    let mut sc = dealflow::sim::scenario::load("ivan", &text).expect("scenario reads");
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
    let dead = vec![dealflow::store::Queued {
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
    assert!(matches!(&all[0], data::Trouble::ReloadRefused { message, .. } if message == "broken"));
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
