//! The dashboard's summaries always equal a recomputation from the deals: random steps of the
//! reference pipeline (leads, calls, contracts spawning projects, invoices sent, burnt and paid,
//! tasks worked and logged, leads lost, deals created at any stage, fields and roles edited,
//! timers fired as the clock moves), run in batches of random size as the writer runs them, on both backends; after every
//! batch the summary tables are compared with what every stored deal says now. A rebuild
//! changes nothing afterwards.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use chrono::{DateTime, Duration, Utc};
use dealflow::daemon::{Core, Op};
use dealflow::engine::{Creation, Input, TaskAction};
use dealflow::json::json_fields;
use dealflow::store::Mapping;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::json;

use common::store::{backends, cleanup, core, t0};

/// One random step: what, on which deal of the case's few.
#[derive(Debug, Clone)]
enum Move {
    Lead(usize),
    CreateAt(usize, &'static str, u32),
    Event(usize, &'static str),
    Contracts(usize, Vec<(u32, bool)>),
    Task(usize, usize, &'static str, u8),
    Edit(usize, &'static str, u32),
    /// A time entry of a deal corrected (which, from the last; hours in quarters).
    Amend(usize, usize, u8),
    Clock(u32),
}

/// The deals a case works on: three leads and the projects they spawn.
const DEALS: [&str; 7] = ["a", "b", "c", "a/1", "a/2", "b/1", "c/1"];

const TASKS: [(&str, &str); 6] = [
    ("call_client", "anna"),
    ("approval", "petr"),
    ("mockups", "olga"),
    ("concept", "petr"),
    ("markup", "dima"),
    ("content", "kate"),
];

fn a_move() -> impl Strategy<Value = Move> {
    let deal = 0..DEALS.len();
    prop_oneof![
        2 => (0..3usize).prop_map(Move::Lead),
        1 => (deal.clone(), prop::sample::select(vec!["production", "billing", "lead", "closed"]), 1u32..500)
            .prop_map(|(d, s, a)| Move::CreateAt(d, s, a)),
        6 => (deal.clone(), prop::sample::select(vec![
            "call_done", "meeting_held", "lost", "invoice_sent", "payment_received", "invoice_reissued",
        ])).prop_map(|(d, e)| Move::Event(d, e)),
        2 => (0..3usize, prop::collection::vec((1u32..900, any::<bool>()), 1..3))
            .prop_map(|(d, c)| Move::Contracts(d, c)),
        6 => (deal, 0..TASKS.len(), prop::sample::select(vec!["start", "pause", "done", "log"]), 1u8..9)
            .prop_map(|(d, t, a, h)| Move::Task(d, t, a, h)),
        2 => (1u32..4000).prop_map(Move::Clock),
        2 => (0..DEALS.len(), 0..3usize, 0u8..40).prop_map(|(d, n, h)| Move::Amend(d, n, h)),
        3 => (0..DEALS.len(), prop::sample::select(vec![
            "client_name", "amount", "invoice_status", "sales", "planned_end", "client_email",
        ]), 1u32..90).prop_map(|(d, f, n)| Move::Edit(d, f, n)),
    ]
}

/// The operation of a move in case `case` (ids prefixed so cases share a database), or the
/// minutes the clock moves on.
fn op(case: usize, m: &Move, now: DateTime<Utc>) -> Result<Op, u32> {
    let id = |d: usize| format!("k{case}{}", DEALS[d]);
    let fields = |v: serde_json::Value| json_fields(v.as_object().unwrap());
    Ok(match m {
        Move::Lead(d) => Op::Create(Creation {
            id: id(*d),
            title: format!("Lead {d}"),
            stages: Vec::new(),
            fields: fields(json!({
                "client_name": format!("Client {d}"),
                "client_phone": format!("+7999000{d:04}"),
                "client_email": format!("c{d}@shop.test"),
            })),
            quiet: false,
            done: Vec::new(),
        }),
        Move::CreateAt(d, stage, amount) => Op::Create(Creation {
            id: id(*d),
            title: format!("Made at {stage}"),
            stages: vec![stage.to_string()],
            fields: fields(json!({
                "client_name": "Walk-in",
                "amount": amount * 1000,
                "work_days": 3,
                "sold_hours": 10,
                "prepayment": amount % 2 == 0,
            })),
            quiet: false,
            done: Vec::new(),
        }),
        Move::Event(d, name) => {
            let due = (now + Duration::days(2)).date_naive().to_string();
            let meeting = (now + Duration::days(3))
                .format("%Y-%m-%dT%H:%M")
                .to_string();
            let payload = match *name {
                "call_done" => json!({"meeting_at": meeting, "meeting_place": "Office"}),
                "lost" => json!({"comment": "too expensive"}),
                "invoice_sent" | "invoice_reissued" => json!({"invoice_due": due}),
                _ => json!({}),
            };
            Op::Apply {
                deal: id(*d),
                input: Input::Event {
                    name: name.to_string(),
                    payload: fields(payload),
                    by: Some("anna".into()),
                },
            }
        }
        Move::Contracts(d, contracts) => {
            let list: Vec<serde_json::Value> = contracts
                .iter()
                .enumerate()
                .map(|(i, (amount, prepayment))| {
                    json!({"title": format!("Project {i}"), "amount": amount * 1000,
                           "project_manager": "petr", "comment": "", "work_days": 5,
                           "sold_hours": 40, "prepayment": prepayment})
                })
                .collect();
            Op::Apply {
                deal: id(*d),
                input: Input::Event {
                    name: "contracts_signed".into(),
                    payload: fields(json!({ "contracts": list })),
                    by: Some("anna".into()),
                },
            }
        }
        Move::Task(d, t, action, hours) => {
            let (task, by) = TASKS[*t];
            let action = match *action {
                "start" => TaskAction::Start,
                "pause" => TaskAction::Pause,
                "done" => TaskAction::Done,
                _ => TaskAction::Log(
                    rust_decimal::Decimal::from(*hours) / rust_decimal::Decimal::from(2),
                ),
            };
            Op::Apply {
                deal: id(*d),
                input: Input::Task {
                    task: task.into(),
                    action,
                    by: Some(by.into()),
                },
            }
        }
        Move::Edit(d, field, n) => {
            let value = match *field {
                "client_name" => json!(format!("Renamed {n}")),
                "amount" => json!(n * 1000),
                "invoice_status" => json!(if n % 2 == 0 { "paid" } else { "sent" }),
                "sales" => json!(if n % 2 == 0 { "lena" } else { "anna" }),
                "planned_end" => json!(
                    (now + Duration::days(i64::from(*n)))
                        .date_naive()
                        .to_string()
                ),
                _ => json!(format!("x{n}@shop.test")),
            };
            Op::Apply {
                deal: id(*d),
                input: Input::Edit {
                    fields: fields(json!({ *field: value })),
                    clear: Vec::new(),
                    by: Some("anna".into()),
                },
            }
        }
        Move::Amend(d, n, quarters) => Op::Apply {
            deal: id(*d),
            // Entries are counted from 0; a number past the last is refused, as it should be.
            input: Input::Amend {
                entry: *n,
                hours: rust_decimal::Decimal::from(*quarters) / rust_decimal::Decimal::from(4),
                by: Some("anna".into()),
            },
        },
        Move::Clock(minutes) => return Err(*minutes),
    })
}

/// Runs the moves in batches of the given sizes, firing due timers as the clock passes them;
/// after every batch the summaries must agree with the deals.
async fn play(
    core: &Core,
    case: usize,
    moves: &[Move],
    sizes: &[usize],
    now: &mut DateTime<Utc>,
) -> Result<(), String> {
    let plan = &core.rules().ready.plan;
    let mapping = Mapping::default();
    let mut sizes = sizes.iter().cycle();
    let mut rest = moves;
    while !rest.is_empty() {
        let n = (*sizes.next().unwrap()).min(rest.len());
        let (batch, later) = rest.split_at(n);
        rest = later;
        let mut ops = Vec::new();
        for m in batch {
            match op(case, m, *now) {
                Ok(o) => ops.push(o),
                Err(minutes) => *now += Duration::minutes(i64::from(minutes)),
            }
        }
        let mut tx = core.store().begin().await.map_err(|e| e.to_string())?;
        let due = tx.due_timers(*now, 50).await.map_err(|e| e.to_string())?;
        for d in &due {
            core.fire(&mut tx, d, *now)
                .await
                .map_err(|e| e.to_string())?;
        }
        core.run_all(&mut tx, &ops, *now)
            .await
            .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        *now += Duration::minutes(7);
        let mut tx = core.store().read().await.map_err(|e| e.to_string())?;
        let drift = tx
            .summary_drift(plan, &mapping, 10)
            .await
            .map_err(|e| e.to_string())?;
        if !drift.is_empty() {
            return Err(format!("after {batch:?}:\n{}", drift.join("\n")));
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summaries_always_equal_a_recomputation_from_the_deals() {
    for (name, url, opts) in backends("summaries") {
        let core = core(&url, &opts).await;
        let mut runner = TestRunner::new(Config {
            cases: 24,
            failure_persistence: None,
            ..Config::default()
        });
        // First a story that reaches every kind of summary: a lead called, met, contracted
        // into two projects, one invoiced, burnt, reissued and paid, its work logged, timed,
        // corrected and done;
        // the other lost nothing but waits; a third lead lost.
        let mut now = t0();
        let story = [
            Move::Lead(0),
            Move::Lead(2),
            Move::Event(0, "call_done"),
            Move::Event(0, "meeting_held"),
            Move::Contracts(0, vec![(300, true), (60, false)]),
            Move::Event(3, "invoice_sent"),
            Move::Clock(4 * 24 * 60),
            Move::Event(3, "invoice_reissued"),
            Move::Event(3, "payment_received"),
            Move::Task(3, 2, "log", 6),
            Move::Task(3, 4, "start", 1),
            Move::Clock(95),
            Move::Task(3, 4, "pause", 1),
            Move::Amend(3, 1, 7),
            Move::Task(3, 5, "done", 1),
            Move::Event(2, "lost"),
        ];
        play(&core, 0, &story, &[1, 3, 2], &mut now)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let case = std::sync::atomic::AtomicUsize::new(1);
        let clock = std::sync::Mutex::new(now);
        let handle = tokio::runtime::Handle::current();
        let strategy = (
            prop::collection::vec(a_move(), 10..60),
            prop::collection::vec(1usize..6, 1..4),
        );
        let result = tokio::task::block_in_place(|| {
            runner.run(&strategy, |(moves, sizes)| {
                let n = case.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut now = *clock.lock().unwrap();
                let played = handle.block_on(play(&core, n, &moves, &sizes, &mut now));
                *clock.lock().unwrap() = now;
                played.map_err(TestCaseError::fail)
            })
        });
        if let Err(e) = result {
            panic!("{name}: {e}");
        }
        // The random steps reached every kind of summary.
        let mut tx = core.store().read().await.unwrap();
        let stages = tx.totals_under("stage/").await.unwrap();
        let invoices = tx.totals_under("invoice/").await.unwrap();
        let hours = tx.totals_under("hours/").await.unwrap();
        assert!(
            stages.len() >= 5 && !invoices.is_empty() && !hours.is_empty(),
            "{name}: {stages:?} {invoices:?} {hours:?}"
        );
        drop(tx);
        // A rebuild makes the very same summaries.
        let plan = &core.rules().ready.plan;
        let mut tx = core.store().begin().await.unwrap();
        let before = tx.totals_under("").await.unwrap();
        tx.rebuild_summaries(plan, &Mapping::default(), false, |_| {})
            .await
            .unwrap();
        let after = tx.totals_under("").await.unwrap();
        let drift = tx
            .summary_drift(plan, &Mapping::default(), 10)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let nonzero = |s: &dealflow::store::Sums| -> Vec<(String, i64, String)> {
            s.iter()
                .filter(|(_, (n, a))| *n != 0 || !a.is_zero())
                .map(|(k, (n, a))| (k.clone(), *n, a.normalize().to_string()))
                .collect()
        };
        assert!(nonzero(&before).len() > 20, "{name}: {before:?}");
        assert_eq!(nonzero(&before), nonzero(&after), "{name}");
        assert!(drift.is_empty(), "{name}: {drift:?}");
        core.store().close().await;
        cleanup(&url, &opts).await;
    }
}
