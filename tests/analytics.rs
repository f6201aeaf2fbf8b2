//! The analytics against a story whose answers are computed by hand
//! (`tests/fixtures/analytics/scenario.toml`, played through the reference pipeline):
//!
//! - Four leads enter on 2 March at 10:00. Alla is lost from the lead at 12:00 ("дорого", 2 h
//!   there); Gleb is called at 11:00 (1 h), Boris at 14:00 (4 h), Vera on 3 March at 10:00
//!   (24 h). Lead: 4 entered, 3 moved on, 1 lost, conversion 3/4. Time in lead, sorted:
//!   1, 2, 4, 24 h: the median (the second) 2 h, the 90th percentile (the fourth) 24 h.
//! - At the meeting: Gleb 2 March 11:00 → 3 March 13:00 (26 h), Vera 3 March 10:00 → 4 March
//!   12:00 (26 h), Boris 2 March 14:00 → lost 5 March 10:00 (68 h, "дорого"): 3 entered,
//!   2 moved on, 1 lost; median 26 h, 90th percentile 68 h.
//! - Two contracts, two projects, both Petr's. Vera's (100 000, 10 h sold, no prepayment):
//!   invoiced 5 March due 10 March, paid 10 March — on time; 12 h logged (Petr 3, Olga 4, Dima
//!   4, Kate 1), delivered 17 March against a planned end of 16 March — a day late; labour
//!   20 800, margin 79 200; 2 h over what was sold. Gleb's (50 000, 8 h sold, prepayment):
//!   invoiced 4 March due 6 March, burnt at midnight, issued again 10 March due 12 March, paid
//!   11 March — by the due date of the invoice paid; 6 h logged (Petr 1.5, Olga 2, Dima 2, Kate 0.5), delivered 12 March against a
//!   planned end of 17 March — on time; labour 10 400, margin 39 600.
//! - Invoices: 2 issued, both paid by their due date, 1 burnt, 1 issued again: burn rate 1/3.
//! - Hours: Petr 4.5, Olga 6, Dima 6, Kate 1.5 (by role the same, each has one).
//! - Margin by manager: Petr, 2 projects, revenue 150 000, margin 118 800; all in March 2026.
//! - Lost: "дорого" twice. Refused: `meeting_held` on Alla's lost deal, once.
//!
//! The same figures come from the simulation (`dealflow report FLOW SCENARIO`), from the daemon's
//! store after the story is played into it (counted step by step by the writer, on both
//! backends, and `dealflow report --db`), and after the summaries are made again from history.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use common::cmd::{Scratch, dealflow, text};
use common::store::{backends, cleanup, core};
use dealflow::store::Mapping;

const FLOW: &str = "rules/web-studio.flow";
const STORY: &str = "tests/fixtures/analytics/scenario.toml";

fn story() -> dealflow::sim::scenario::Scenario {
    let text = std::fs::read_to_string(common::root().join(STORY)).expect("the story");
    dealflow::sim::scenario::load("scenario.toml", &text).expect("reads")
}

/// The report as JSON, from `dealflow report ARGS… --format json`.
fn report(args: &[&str]) -> Json {
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let out = dealflow(&all);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// What the story's analytics must say, section by section (computed by hand, above).
fn the_hand_computed_figures(r: &Json) {
    let row = |stage: &str| -> Json {
        r["funnel"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["stage"] == stage)
            .cloned()
            .unwrap_or_else(|| panic!("no funnel row for {stage}: {}", r["funnel"]))
    };
    let lead = row("lead");
    assert_eq!(
        (&lead["entered"], &lead["moved_on"], &lead["lost"]),
        (&json!(4), &json!(3), &json!(1))
    );
    assert_eq!(lead["conversion"], json!(0.75));
    let meeting = row("meeting");
    assert_eq!(
        (&meeting["entered"], &meeting["moved_on"], &meeting["lost"]),
        (&json!(3), &json!(2), &json!(1))
    );
    for stage in ["contract", "billing", "production", "delivered", "paid"] {
        let x = row(stage);
        assert_eq!(
            (&x["entered"], &x["moved_on"], &x["lost"]),
            (&json!(2), &json!(2), &json!(0)),
            "{stage}"
        );
    }
    let prepayment = row("prepayment");
    assert_eq!(
        (&prepayment["entered"], &prepayment["moved_on"]),
        (&json!(1), &json!(1)),
        "Vera's project skipped it"
    );
    assert_eq!(row("lost")["entered"], json!(2));

    // Time in stage: each percentile is one figure, within 9 % of the hand-computed value,
    // inside the bucket it names.
    let dwell = |stage: &str| -> Json {
        r["time_in_stage"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["stage"] == stage)
            .cloned()
            .unwrap_or_else(|| panic!("no time in {stage}"))
    };
    let holds = |row: &Json, p: &str, hours: f64| {
        let figure = row[format!("{p}_h")].as_f64().unwrap();
        let range = &row[format!("{p}_range_h")];
        let (lo, hi) = (range[0].as_f64().unwrap(), range[1].as_f64().unwrap());
        assert!(lo <= hours && hours < hi, "{hours} h is not in {range}");
        assert!(hi / lo < 1.1, "a range within 9 %: {range}");
        assert!(lo <= figure && figure < hi, "{figure} is not in {range}");
        assert!(
            (figure - hours).abs() / hours < 0.09,
            "{figure} is not {hours}"
        );
    };
    let lead = dwell("lead");
    assert_eq!(lead["deals"], json!(4));
    holds(&lead, "median", 2.0);
    holds(&lead, "p90", 24.0);
    let meeting = dwell("meeting");
    holds(&meeting, "median", 26.0);
    holds(&meeting, "p90", 68.0);

    assert_eq!(
        r["invoices"],
        json!({"issued": 2, "paid_on_time": 2, "paid_late": 0, "burnt": 1, "reissued": 1, "burn_rate": 1.0 / 3.0})
    );
    assert_eq!(
        r["delivery"],
        json!([{"manager": "petr", "on_time": 1, "late": 1, "days_late": 1}])
    );
    let hours: BTreeMap<String, String> = r["hours_by_person"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["who"].as_str().unwrap().to_string(),
                h["hours"].to_string(),
            )
        })
        .collect();
    let want: BTreeMap<String, String> = [
        ("dima", "6"),
        ("kate", "1.5"),
        ("olga", "6"),
        ("petr", "4.5"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(hours, want);
    assert_eq!(r["hours_by_role"].as_array().unwrap().len(), 4);
    assert_eq!(
        r["overruns"],
        json!([{"deal": "c/1", "title": "Вера: сайт", "sold": 10, "spent": 12}])
    );
    assert_eq!(
        r["money"]["by_manager"],
        json!([{"key": "petr", "deals": 2, "revenue": 150000, "margin": 118800}])
    );
    assert_eq!(
        r["money"]["by_month"],
        json!([{"key": "2026-03", "deals": 2, "revenue": 150000, "margin": 118800}])
    );
    assert_eq!(r["money"]["paid"], json!({"deals": 2, "amount": 150000}));
    assert_eq!(
        r["lost_reasons"],
        json!([{"reason": "дорого", "deals": 2, "amount": 0}])
    );
    let refused: i64 = r["refusals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["input"] == "event meeting_held")
        .map(|x| x["count"].as_i64().unwrap())
        .sum();
    assert_eq!(refused, 1, "{}", r["refusals"]);
    assert_eq!(r["notes"], json!([]));
}

#[test]
fn a_simulation_s_report_says_what_was_computed_by_hand() {
    let r = report(&[FLOW, STORY]);
    the_hand_computed_figures(&r);
    // A period of months: March holds it all, April nothing.
    let march = report(&[FLOW, STORY, "--from", "2026-03", "--to", "2026-03-31"]);
    assert_eq!(march["funnel"], r["funnel"]);
    let april = report(&[FLOW, STORY, "--from", "2026-04"]);
    assert_eq!(april["funnel"], json!([]));
    assert_eq!(
        april["period"],
        json!({"from": "2026-04", "to": "+262142-12"})
    );
}

#[test]
fn the_report_opens_in_a_spreadsheet_and_reads_for_people() {
    let dir = Scratch::new("report-csv");
    let out = dealflow(&[
        "report",
        FLOW,
        STORY,
        "--format",
        "csv",
        "-o",
        dir.0.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let funnel = std::fs::read_to_string(dir.0.join("funnel.csv")).unwrap();
    let mut lines = funnel.lines();
    assert_eq!(
        lines.next(),
        Some("stage,title,at_start,entered,moved_on,lost,at_end,conversion_pct")
    );
    assert_eq!(lines.next(), Some("lead,Лид,0,4,3,1,0,75.0"));
    let lost = std::fs::read_to_string(dir.0.join("lost_reasons.csv")).unwrap();
    assert_eq!(lost, "reason,deals,amount\r\nдорого,2,0\r\n");
    // One table to standard output.
    let out = dealflow(&[
        "report",
        FLOW,
        STORY,
        "--format",
        "csv",
        "--section",
        "delivery",
    ]);
    assert_eq!(
        text(&out.stdout),
        "manager,on_time,late,days_late\r\npetr,1,1,1\r\n"
    );
    // CSV without a section or a folder is refused with what to do.
    let out = dealflow(&["report", FLOW, STORY, "--format", "csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--section"),
        "{}",
        text(&out.stderr)
    );
    // Text for people: the funnel, and where deals sit longest.
    let out = dealflow(&["report", FLOW, STORY]);
    let t = text(&out.stdout);
    assert!(t.contains("funnel") && t.contains("lead       Лид"), "{t}");
    assert!(t.contains("Deals sit longest in"), "{t}");
    // A month that is not one.
    let out = dealflow(&["report", FLOW, STORY, "--from", "March"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is not a month"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_s_store_counts_the_same_step_by_step_and_after_a_rebuild() {
    let sim = report(&[FLOW, STORY]);
    for (name, url, opts) in backends("analytics") {
        let core = core(&url, &opts).await;
        dealflow::daemon::replay(&core, story())
            .await
            .expect("replays");
        let rules = core.rules();
        let plan = &rules.ready.plan;
        let today = chrono::NaiveDate::from_ymd_opt(2026, 4, 1).unwrap();
        let read = |tx: dealflow::store::Tx| async move {
            let mut tx = tx;
            let team = tx.team().await.unwrap();
            let r = tx
                .analytics(plan, &Mapping::default(), &team, None, today)
                .await
                .unwrap();
            serde_json::to_value(&r).unwrap()
        };
        let stored = read(core.store().read().await.unwrap()).await;
        the_hand_computed_figures(&stored);
        for section in [
            "funnel",
            "time_in_stage",
            "invoices",
            "delivery",
            "hours_by_person",
            "overruns",
            "lost_reasons",
        ] {
            assert_eq!(stored[section], sim[section], "{name}: {section}");
        }
        assert_eq!(
            stored["money"]["by_manager"], sim["money"]["by_manager"],
            "{name}"
        );
        // Made again from the history: the same.
        let mut tx = core.store().begin().await.unwrap();
        tx.rebuild_summaries(plan, &Mapping::default(), true, |_| {})
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let rebuilt = read(core.store().read().await.unwrap()).await;
        assert_eq!(rebuilt, stored, "{name}");
        // The command line over the database says the same.
        if opts.schema.is_none() {
            core.store().close().await;
            let r = report(&["--db", &url]);
            the_hand_computed_figures(&r);
        } else {
            core.store().close().await;
        }
        cleanup(&url, &opts).await;
    }
}

/// A month's funnel adds up: what was in a stage when it began, plus what entered, less what
/// moved on or was lost, is what is in it when it ends — and that is what the next month
/// begins with (deals entered in one month and left in the next are counted once each).
#[test]
fn a_months_funnel_adds_up_and_the_next_one_begins_where_it_ended() {
    let dir = std::env::temp_dir().join(format!("dealflow-funnel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let story = dir.join("generated.toml");
    let out = dealflow(&[
        "generate-scenario",
        "--deals",
        "120",
        "--seed",
        "7",
        "-o",
        story.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let story = story.to_str().unwrap();
    let months = ["2026-03", "2026-04", "2026-05"];
    let funnels: Vec<Json> = months
        .iter()
        .map(|m| report(&[FLOW, story, "--from", m, "--to", m])["funnel"].clone())
        .collect();
    let row = |f: &Json, stage: &str| -> Option<Json> {
        f.as_array()
            .unwrap()
            .iter()
            .find(|r| r["stage"] == stage)
            .cloned()
    };
    let n = |r: &Json, k: &str| r[k].as_i64().unwrap();
    let mut carried = 0;
    for (i, f) in funnels.iter().enumerate() {
        for r in f.as_array().unwrap() {
            assert_eq!(
                n(r, "at_start") + n(r, "entered") - n(r, "moved_on") - n(r, "lost"),
                n(r, "at_end"),
                "{}: {r}",
                months[i]
            );
            assert!(n(r, "at_end") >= 0, "{r}");
            if let Some(next) = funnels
                .get(i + 1)
                .and_then(|g| row(g, r["stage"].as_str().unwrap()))
            {
                assert_eq!(
                    n(&next, "at_start"),
                    n(r, "at_end"),
                    "{}: {r} → {next}",
                    months[i]
                );
                carried += n(r, "at_end");
            }
        }
    }
    assert!(carried > 0, "some deals cross from one month to the next");
    let _ = std::fs::remove_dir_all(&dir);
}
