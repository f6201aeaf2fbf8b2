//! The store, on both backends: an SQLite file in a fresh directory, and PostgreSQL when
//! `DEALFLOW_TEST_POSTGRES` names a server (`.ci/run` sets it; without it the PostgreSQL half
//! of every test says it was skipped). Each PostgreSQL test works in a schema of its own.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use dealflow::daemon::{Core, CoreError, Step, replay};
use dealflow::engine::Input;
use dealflow::sim::Simulation;
use dealflow::store::{Options, Store, StoreError, StoredDeal, Table};
use dealflow::value::Value;

use common::store::{
    backends, cleanup, core, core_with, counts, created, ivan_scenario, lead, ready, t0,
};

#[tokio::test]
async fn ivans_story_through_the_store_ends_where_the_simulator_ends() {
    for (name, url, opts) in backends("ivan") {
        let core = core(&url, &opts).await;
        let played = replay(&core, ivan_scenario()).await.expect("replay");
        assert!(played.applied > 10, "{name}: {played:?}");

        let ready = ready();
        let sc = ivan_scenario();
        let sim = Simulation::new(
            &ready.plan,
            ready.script.as_ref(),
            dealflow::team::Team::new(sc.team.clone()),
        );
        let timeline = sim.run(sc, None).expect("simulates");
        let mut tx = core.store().begin().await.expect("tx");
        for f in &timeline.finals {
            let stored = tx
                .peek_deal(&f.deal.id)
                .await
                .expect("reads")
                .unwrap_or_else(|| panic!("{name}: deal {} not stored", f.deal.id));
            let want = StoredDeal::encode(&ready.plan, &f.deal);
            assert_eq!(stored.stored, want, "{name}: deal {} differs", f.deal.id);
        }
        assert_eq!(
            tx.count(Table::Deals).await.expect("count") as usize,
            timeline.finals.len(),
            "{name}"
        );
        // History keeps what the timeline shows, each entry with its rule and version.
        let history = tx.history("ivan").await.expect("history");
        let sim_kinds: Vec<&str> = timeline
            .records
            .iter()
            .filter(|r| &*r.deal == "ivan" && !r.kind.is_refusal())
            .map(|r| r.kind.name())
            .collect();
        let kinds: Vec<&str> = history.iter().map(|h| h.kind.as_str()).collect();
        assert_eq!(kinds, sim_kinds, "{name}: Ivan's history");
        assert!(
            history.iter().any(|h| h
                .rule
                .as_deref()
                .is_some_and(|r| r.contains("web-studio.flow:"))),
            "{name}: history names rule lines"
        );
        assert!(history.iter().all(|h| h.version == core.rules().version));
        // Every message the story sends waits in the outbox, once.
        let outbox = tx.outbox().await.expect("outbox");
        let sent = timeline
            .records
            .iter()
            .filter(|r| r.kind.name() == "notification")
            .count();
        assert_eq!(outbox.len(), sent, "{name}: outbox");
        assert!(outbox.iter().all(|m| m.status == "pending"));
        drop(tx);
        core.store().close().await;
        cleanup(&url, &opts).await;
    }
}

#[tokio::test]
async fn a_refused_event_changes_no_deal_is_kept_as_a_refusal_and_a_dropped_transaction_leaves_nothing()
 {
    for (name, url, opts) in backends("refusal") {
        let core = core(&url, &opts).await;
        created(&core, "d1", name).await;
        let before = counts(&core).await;

        // An event no stage of the deal expects now.
        let mut tx = core.store().begin().await.expect("tx");
        let input = Input::Event {
            name: "payment_received".into(),
            payload: Default::default(),
            by: None,
        };
        let step = core.apply(&mut tx, "d1", &input, t0()).await.expect("runs");
        match step {
            Step::NotNow(m) => assert!(m.contains("not expected now"), "{name}: {m}"),
            other => panic!("{name}: {other:?}"),
        }
        tx.commit().await.expect("commit");
        assert_eq!(
            counts(&core).await,
            before,
            "{name}: a refusal changed a deal"
        );
        // It is kept, with why, until its time is up.
        let mut tx = core.store().begin().await.expect("tx");
        let kept = tx.refusals(Some("d1"), 10).await.expect("refusals");
        assert_eq!(kept.len(), 1, "{name}: {kept:?}");
        let r = &kept[0];
        assert_eq!(
            (r.input.as_str(), r.name.as_str(), r.code.as_str(), r.at),
            ("event", "payment_received", "not_now", t0()),
            "{name}"
        );
        assert!(r.reason.contains("not expected now"), "{name}: {r:?}");
        let day = chrono::Duration::days(1);
        assert_eq!(tx.prune_refusals(t0() - day).await.expect("prune"), 0);
        assert_eq!(tx.prune_refusals(t0() + day).await.expect("prune"), 1);
        assert!(tx.refusals(None, 10).await.expect("refusals").is_empty());
        tx.commit().await.expect("commit");

        // An unknown deal.
        let mut tx = core.store().begin().await.expect("tx");
        let e = core
            .apply(&mut tx, "nobody", &input, t0())
            .await
            .unwrap_err();
        assert!(matches!(e, CoreError::NoDeal(_)), "{name}: {e}");
        // A deal id that exists.
        let e = core.create(&mut tx, &lead("d1"), t0()).await.unwrap_err();
        assert!(matches!(e, CoreError::Exists(_)), "{name}: {e}");
        drop(tx);

        // A step applied in a transaction that is dropped: nothing of it stays.
        let mut tx = core.store().begin().await.expect("tx");
        let step = core
            .create(&mut tx, &lead("d2"), t0())
            .await
            .expect("create");
        assert!(matches!(step, Step::Applied { .. }));
        drop(tx);
        assert_eq!(counts(&core).await, before, "{name}: a dropped step stayed");
        core.store().close().await;
        cleanup(&url, &opts).await;
    }
}

#[tokio::test]
async fn steps_in_one_batch_see_each_other_and_a_refusal_among_them_leaves_the_rest() {
    use dealflow::daemon::Op;
    for (name, url, opts) in backends("batch") {
        let core = core(&url, &opts).await;
        let call = |place: bool| {
            let mut payload = std::collections::BTreeMap::new();
            payload.insert(
                "meeting_at".to_string(),
                Value::Text("2026-03-05T12:00".into()),
            );
            if place {
                payload.insert("meeting_place".to_string(), Value::Text("Office".into()));
            }
            Op::Apply {
                deal: "d1".into(),
                input: Input::Event {
                    name: "call_done".into(),
                    payload,
                    by: None,
                },
            }
        };
        let ops = [
            Op::Create(lead("d1")),
            call(false), // refused: no meeting place
            call(true),
            Op::Create(lead("d1")), // refused: exists (created earlier in this batch)
            Op::Apply {
                deal: "d2".into(),
                input: Input::Event {
                    name: "lost".into(),
                    payload: Default::default(),
                    by: None,
                },
            },
        ];
        let mut tx = core.store().begin().await.expect("tx");
        let steps = core.run_all(&mut tx, &ops, t0()).await.expect("written");
        tx.commit().await.expect("commit");
        assert!(
            matches!(steps[0], Ok(Step::Applied { revision: 1, .. })),
            "{name}: {:?}",
            steps[0]
        );
        assert!(
            matches!(steps[1], Ok(Step::Unmet(_))),
            "{name}: {:?}",
            steps[1]
        );
        assert!(
            matches!(steps[2], Ok(Step::Applied { revision: 2, .. })),
            "{name}: {:?}",
            steps[2]
        );
        assert!(
            matches!(steps[3], Err(CoreError::Exists(_))),
            "{name}: {:?}",
            steps[3]
        );
        assert!(
            matches!(steps[4], Err(CoreError::NoDeal(_))),
            "{name}: {:?}",
            steps[4]
        );
        let mut tx = core.store().read().await.expect("tx");
        let d = tx.peek_deal("d1").await.expect("read").expect("stored");
        assert_eq!(d.revision, 2, "{name}");
        assert_eq!(d.stored.tracks[0].stage, "meeting", "{name}");
        let history = tx.history("d1").await.expect("history");
        assert!(history.iter().any(|h| h.kind == "deal_created"));
        assert!(
            history
                .iter()
                .any(|h| h.kind == "stage_entered" && h.cause == "event call_done")
        );
        assert_eq!(
            tx.count(Table::Timers).await.expect("count"),
            1,
            "{name}: the reminder"
        );
        assert!(tx.integrity().await.expect("check").is_empty(), "{name}");
        drop(tx);
        core.store().close().await;
        cleanup(&url, &opts).await;
    }
}

/// A task still open at its deadline: its reminder is a stored timer like any other, and when
/// it fires the assignee's reminder is queued once and the timer is gone.
#[tokio::test]
async fn an_open_task_past_its_deadline_queues_its_reminder_once() {
    for (name, url, opts) in backends("reminder") {
        let core = core_with(&url, &opts, true).await;
        let mut tx = core.store().begin().await.expect("tx");
        core.create(&mut tx, &lead("d1"), t0())
            .await
            .expect("create");
        tx.commit().await.expect("commit");
        let mut tx = core.store().begin().await.expect("tx");
        // The first task of a lead, the call, is due a quarter of an hour after it comes in.
        let due = tx.next_timer().await.expect("next").expect("a reminder");
        assert_eq!(due, t0() + Duration::minutes(15), "{name}");
        let timers = tx.due_timers(due, 10).await.expect("due");
        assert_eq!(timers.len(), 1, "{name}: {timers:?}");
        let step = core.fire(&mut tx, &timers[0], due).await.expect("fires");
        assert!(
            matches!(step, Some(Step::Applied { .. })),
            "{name}: {step:?}"
        );
        tx.commit().await.expect("commit");
        let mut tx = core.store().begin().await.expect("tx");
        let reminders: Vec<_> = tx
            .outbox()
            .await
            .expect("outbox")
            .into_iter()
            .filter(|m| m.template == "task_overdue")
            .collect();
        assert_eq!(reminders.len(), 1, "{name}: {reminders:?}");
        assert!(
            reminders[0].body.starts_with("❗ Позвонить клиенту"),
            "{name}: {reminders:?}"
        );
        assert_eq!(reminders[0].to, "anna@studio.test", "{name}");
        assert!(
            tx.due_timers(due, 10).await.expect("due").is_empty(),
            "{name}"
        );
        drop(tx);
        core.store().close().await;
        cleanup(&url, &opts).await;
    }
}

#[tokio::test]
async fn a_due_timer_fires_once() {
    for (name, url, opts) in backends("timer") {
        let core = core(&url, &opts).await;
        let mut tx = core.store().begin().await.expect("tx");
        core.create(&mut tx, &lead("d1"), t0())
            .await
            .expect("create");
        assert_eq!(
            tx.next_timer().await.expect("next"),
            None,
            "{name}: a lead has no timer"
        );
        // The call report sets the meeting; its reminder is a timer two hours before.
        let mut payload = std::collections::BTreeMap::new();
        payload.insert(
            "meeting_at".to_string(),
            Value::Text("2026-03-05T12:00".into()),
        );
        payload.insert("meeting_place".to_string(), Value::Text("Office".into()));
        let call = Input::Event {
            name: "call_done".into(),
            payload,
            by: Some("anna".into()),
        };
        let step = core.apply(&mut tx, "d1", &call, t0()).await.expect("runs");
        assert!(matches!(step, Step::Applied { .. }), "{name}: {step:?}");
        tx.commit().await.expect("commit");

        let mut tx = core.store().begin().await.expect("tx");
        let next = tx
            .next_timer()
            .await
            .expect("next")
            .expect("the meeting arms a timer");
        let reminder = DateTime::parse_from_rfc3339("2026-03-05T10:00:00+03:00").expect("moment");
        assert_eq!(next, reminder, "{name}: two hours before the meeting");
        assert!(
            tx.due_timers(next - Duration::seconds(1), 10)
                .await
                .expect("due")
                .is_empty()
        );
        let due = tx.due_timers(next, 10).await.expect("due");
        assert_eq!(due.len(), 1, "{name}: {due:?}");
        let step = core.fire(&mut tx, &due[0], next).await.expect("fires");
        assert!(
            matches!(step, Some(Step::Applied { .. })),
            "{name}: {step:?}"
        );
        tx.commit().await.expect("commit");

        // The same timer again (a second daemon that saw it due, a retry): nothing happens.
        let before = counts(&core).await;
        let mut tx = core.store().begin().await.expect("tx");
        let again = core.fire(&mut tx, &due[0], next).await.expect("runs");
        assert!(again.is_none(), "{name}: fired twice: {again:?}");
        tx.commit().await.expect("commit");
        assert_eq!(counts(&core).await, before, "{name}");
        core.store().close().await;
        cleanup(&url, &opts).await;
    }
}

#[tokio::test]
async fn rules_versions_count_up_only_when_the_rules_change() {
    for (name, url, opts) in backends("versions") {
        let store = Store::open(&url, &opts).await.expect("opens");
        let mut tx = store.begin().await.expect("tx");
        let a = tx
            .add_rules_version("f.flow", "one", None, t0())
            .await
            .expect("v");
        let again = tx
            .add_rules_version("f.flow", "one", None, t0())
            .await
            .expect("v");
        let b = tx
            .add_rules_version("f.flow", "two", Some("fn x() {}"), t0())
            .await
            .expect("v");
        tx.commit().await.expect("commit");
        assert_eq!((a, again, b), (1, 1, 2), "{name}");
        let mut tx = store.begin().await.expect("tx");
        let all = tx.rules_versions().await.expect("list");
        assert_eq!(all.len(), 2, "{name}");
        assert_ne!(all[0].digest, all[1].digest);
        drop(tx);
        store.close().await;
        drop(store);
        // The schema is applied once: opening again finds everything where it was.
        let store = Store::open(&url, &opts).await.expect("opens again");
        let mut tx = store.begin().await.expect("tx");
        assert_eq!(tx.rules_versions().await.expect("list").len(), 2, "{name}");
        drop(tx);
        store.close().await;
        cleanup(&url, &opts).await;
    }
}

#[tokio::test]
async fn one_daemon_per_sqlite_file() {
    let (_, url, opts) = backends("lock").remove(0);
    let first = Store::open(&url, &opts).await.expect("opens");
    let second = Store::open(&url, &opts).await.unwrap_err();
    assert!(
        matches!(second, StoreError::Locked(_)),
        "a second daemon was let in: {second}"
    );
    assert!(second.to_string().contains("another dealflow daemon"));
    // A reader that does not take the lock (a what-if run) may open it.
    let reader = Store::open(
        &url,
        &Options {
            shared: true,
            ..Options::default()
        },
    )
    .await
    .expect("a shared reader opens");
    reader.close().await;
    first.close().await;
    drop(first);
    let again = Store::open(&url, &opts).await.expect("the lock is let go");
    again.close().await;
}

#[tokio::test]
async fn team_load_follows_the_tasks_the_steps_assign() {
    for (name, url, opts) in backends("load") {
        let core = Arc::new(core(&url, &opts).await);
        for i in 0..4 {
            let mut tx = core.store().begin().await.expect("tx");
            core.create(&mut tx, &lead(&format!("d{i}")), t0())
                .await
                .expect("create");
            tx.commit().await.expect("commit");
        }
        let mut tx = core.store().begin().await.expect("tx");
        let team = tx.team().await.expect("team");
        let total: i64 = team.load.values().sum();
        let open: usize = {
            let mut n = 0;
            for i in 0..4 {
                let d = tx
                    .peek_deal(&format!("d{i}"))
                    .await
                    .expect("read")
                    .expect("there");
                n += d
                    .stored
                    .tasks
                    .iter()
                    .filter(|t| t.done_at.is_none())
                    .count();
            }
            n
        };
        assert!(open > 0, "{name}: a lead makes a task");
        assert_eq!(total as usize, open, "{name}: {:?}", team.load);
        // Least-loaded assignment spreads the tasks over the sales people.
        let busy = team.load.values().filter(|n| **n > 0).count();
        assert!(busy > 1, "{name}: {:?}", team.load);
        drop(tx);
        core.store().close().await;
        cleanup(&url, &opts).await;
    }
}

/// The open tasks of the whole team.
async fn load(tx: &mut dealflow::store::Tx) -> i64 {
    tx.team().await.expect("team").load.values().sum()
}

/// A deal that ends (here: lost) closes its open tasks as cancelled: nobody keeps them, the
/// people's open-task counts go down, and the task rows say cancelled.
#[tokio::test]
async fn a_deal_that_ends_cancels_its_open_tasks_and_frees_the_people() {
    for (name, url, opts) in backends("ended") {
        let core = core(&url, &opts).await;
        created(&core, "d1", name).await;
        let mut tx = core.store().begin().await.expect("tx");
        assert!(
            load(&mut tx).await > 0,
            "{name}: the lead's tasks are someone's"
        );
        let lost = Input::Event {
            name: "lost".into(),
            payload: Default::default(),
            by: None,
        };
        let step = core
            .apply(&mut tx, "d1", &lost, t0() + Duration::hours(1))
            .await
            .expect("applied");
        let Step::Applied { records, deal, .. } = step else {
            panic!("{name}: {step:?}");
        };
        assert!(!deal.is_live(), "{name}");
        let cancelled: Vec<&str> = records
            .iter()
            .filter_map(|r| match &r.kind {
                dealflow::engine::Kind::TaskCancelled { task } => Some(task.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            cancelled,
            ["call_client", "book_meeting", "prepare_docs"],
            "{name}"
        );
        tx.commit().await.expect("commit");
        let mut tx = core.store().read().await.expect("tx");
        assert_eq!(
            load(&mut tx).await,
            0,
            "{name}: nobody keeps a task of a lost deal"
        );
        let d = tx.peek_deal("d1").await.expect("read").expect("stored");
        assert!(
            d.stored
                .tasks
                .iter()
                .all(|t| t.cancelled && t.done_at.is_some()),
            "{name}"
        );
        assert_eq!(
            tx.integrity().await.expect("check"),
            Vec::<String>::new(),
            "{name}"
        );
        drop(tx);
        core.store().close().await;
        cleanup(&url, &opts).await;
    }
}

#[tokio::test]
async fn a_bad_url_is_named() {
    let e = Store::open("mysql://x/y", &Options::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("mysql://x/y"), "{e}");
}

/// The writer keeps the deals it committed, to skip reading them again. What it keeps must be
/// what the database holds, and a change made elsewhere must not be overwritten by a stale copy.
#[tokio::test]
async fn the_writer_never_works_on_a_stale_copy_of_a_deal() {
    use dealflow::daemon::{Metrics, Op, Writer};
    use dealflow::engine::TaskAction;
    use rust_decimal::Decimal;
    let log = |hours: &str| Input::Task {
        task: "call_client".into(),
        action: TaskAction::Log(hours.parse().expect("hours")),
        by: Some("anna".into()),
    };
    for (name, url, opts) in backends("warm") {
        let core = Arc::new(core(&url, &opts).await);
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let (writer, task) = Writer::start(core.clone(), Arc::new(Metrics::default()), stop);
        let send = |op: Op| {
            let w = writer.clone();
            async move { w.run(op).await.expect("written").status }
        };
        let apply = |input: Input| Op::Apply {
            deal: "d1".into(),
            input,
        };
        assert_eq!(send(Op::Create(lead("d1"))).await, 200, "{name}");
        assert_eq!(send(apply(log("1"))).await, 200, "{name}");
        let stored = |core: Arc<Core>| async move {
            let mut tx = core.store().read().await.expect("tx");
            let l = tx.peek_deal("d1").await.expect("read").expect("stored");
            let deal = l.stored.decode(&core.rules().ready.plan).expect("fits");
            (deal, l.revision)
        };
        let (deal, revision) = stored(core.clone()).await;
        assert_eq!(
            core.kept("d1", revision),
            Some(deal),
            "{name}: the kept copy is the stored deal"
        );

        // Work logged by another way than the writer (as another daemon would).
        let mut tx = core.store().begin().await.expect("tx");
        let step = core
            .apply(&mut tx, "d1", &log("2"), t0())
            .await
            .expect("applied");
        assert!(matches!(step, Step::Applied { .. }), "{name}: {step:?}");
        tx.commit().await.expect("commit");

        assert_eq!(send(apply(log("0.5"))).await, 200, "{name}");
        let (deal, revision) = stored(core.clone()).await;
        assert_eq!(
            deal.hours_spent(),
            Decimal::new(35, 1),
            "{name}: 1 + 2 + 0.5 hours, none lost"
        );
        assert_eq!(deal.time_entries.len(), 3, "{name}");
        assert_eq!(revision, 4, "{name}");
        assert_eq!(core.kept("d1", revision), Some(deal), "{name}");

        let _ = stop_tx.send(true);
        drop(writer);
        task.await.expect("the writer stops");
        core.store().close().await;
        cleanup(&url, &opts).await;
    }
}

/// Logged work lives in its own table, not in the deal's document (which would grow with every
/// hour logged); a deal read back has all of it, in order.
#[tokio::test]
async fn logged_work_reads_back_whole_and_stays_out_of_the_document() {
    use dealflow::engine::TaskAction;
    for (name, url, opts) in backends("time") {
        let core = core(&url, &opts).await;
        let mut tx = core.store().begin().await.expect("tx");
        core.create(&mut tx, &lead("d1"), t0())
            .await
            .expect("created");
        for (i, hours) in ["0.25", "1.5", "2"].iter().enumerate() {
            let input = Input::Task {
                task: "call_client".into(),
                action: TaskAction::Log(hours.parse().expect("hours")),
                by: Some(if i == 1 { "petr" } else { "anna" }.into()),
            };
            let at = t0() + Duration::minutes(i as i64);
            core.apply(&mut tx, "d1", &input, at).await.expect("logged");
        }
        tx.commit().await.expect("commit");
        let mut tx = core.store().read().await.expect("tx");
        let l = tx.peek_deal("d1").await.expect("read").expect("stored");
        let logged: Vec<(String, String, DateTime<Utc>)> = l
            .stored
            .time_entries
            .iter()
            .map(|e| (e.user.clone(), e.hours.to_string(), e.at))
            .collect();
        assert_eq!(
            logged,
            vec![
                ("anna".to_string(), "0.25".to_string(), t0()),
                (
                    "petr".to_string(),
                    "1.5".to_string(),
                    t0() + Duration::minutes(1)
                ),
                (
                    "anna".to_string(),
                    "2".to_string(),
                    t0() + Duration::minutes(2)
                ),
            ],
            "{name}"
        );
        let document = serde_json::to_string(&l.stored).expect("json");
        assert!(!document.contains("time_entries"), "{name}: {document}");
        let pages = tx.deal_states("", 10).await.expect("pages");
        assert_eq!(pages[0].1.stored.time_entries.len(), 3, "{name}");
        drop(tx);
        core.store().close().await;
        cleanup(&url, &opts).await;
    }
}

/// On SQLite the write-ahead log is copied into the database file beside the writer, and
/// starts over once it is long: the file a busy daemon leaves does not keep growing.
#[tokio::test]
async fn the_sqlite_log_is_copied_into_the_database_and_starts_over() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("store-wal");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a test directory");
    let file = dir.join("dealflow.db");
    let store = Store::open(&format!("sqlite://{}", file.display()), &Options::default())
        .await
        .expect("the store opens");
    // Pages in the log, as SQLite counts them (a passive checkpoint changes nothing else).
    let pages = || async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", file.display()))
            .await
            .expect("a second connection");
        let row: (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await
            .expect("pages");
        pool.close().await;
        row.1
    };
    // Over 30,000 pages of deals (below the writer's own backstop), written by four tasks
    // that hand the write turn to each other, so that there is always a write going on: the
    // checkpointer never finds the log idle, and only its own turn at writing lets the log
    // start over.
    let store = Arc::new(store);
    let mut writers = Vec::new();
    for w in 0..4i64 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            let ids: Vec<String> = (0..2).map(|i| format!("d{w}-{i}")).collect();
            for round in 0..150i64 {
                // Other bytes every round (SQLite skips writing pages that would not change).
                let state = char::from(b'a' + (round % 26) as u8)
                    .to_string()
                    .repeat(100_000);
                let mut tx = store.begin().await.expect("tx");
                tx.raw_batch(&ids, &state, 1, round * 100)
                    .await
                    .expect("written");
                tx.commit().await.expect("commit");
            }
        }));
    }
    for w in writers {
        w.await.expect("a writer");
    }
    let after = pages().await;
    assert!(
        after < 15_000,
        "the log started over while the writes went on: {after} pages in it after over 30,000"
    );
    let mut tx = store.read().await.expect("tx");
    assert_eq!(tx.count(Table::Deals).await.expect("count"), 8);
    drop(tx);
    store.close().await;
}

/// The ids of deal `d1`'s timer rows.
async fn timer_rows(core: &Core) -> Vec<u64> {
    let mut tx = core.store().read().await.expect("tx");
    tx.timer_attempts(&["d1".to_string()])
        .await
        .expect("rows")
        .into_keys()
        .map(|(_, t)| t)
        .collect()
}

/// Adds a timer row the deal's document does not have, as versions before the switch left
/// behind on every reload.
async fn stale_row(url: &str, opts: &Options, deal: &str) {
    let sql = format!(
        "INSERT INTO timers (deal_id, timer_id, label, due_ms) VALUES ('{deal}', 999, 'meeting: old', 0)"
    );
    match &opts.schema {
        Some(schema) => {
            let pool = sqlx::PgPool::connect(url).await.expect("postgres");
            let mut c = pool.acquire().await.expect("connection");
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SET search_path TO \"{schema}\""
            )))
            .execute(&mut *c)
            .await
            .expect("schema");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *c)
                .await
                .expect("insert");
        }
        None => {
            let path = url.trim_start_matches("sqlite://");
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{path}"))
                .await
                .expect("sqlite");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .expect("insert");
            pool.close().await;
        }
    }
}

#[tokio::test]
async fn a_switch_removes_timer_rows_an_earlier_version_left_behind() {
    use dealflow::daemon::Op;
    for (name, url, opts) in backends("stale-rows") {
        let core = core(&url, &opts).await;
        created(&core, "d1", name).await;
        let before = timer_rows(&core).await;
        stale_row(&url, &opts, "d1").await;
        assert!(timer_rows(&core).await.contains(&999), "{name}");
        let mut tx = core.store().begin().await.expect("tx");
        core.run_all(&mut tx, &[Op::Switch(vec!["d1".into()])], t0())
            .await
            .expect("switch");
        tx.commit().await.expect("commit");
        let mut after = timer_rows(&core).await;
        after.sort();
        let mut before = before;
        before.sort();
        assert_eq!(after, before, "{name}: the stale row stayed");
        core.store().close().await;
        cleanup(&url, &opts).await;
    }
}
