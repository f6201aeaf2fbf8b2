//! A database made by an earlier landed main opens under this code and is upgraded in place, on
//! SQLite and on PostgreSQL. The databases in `tests/fixtures/main-f370aae/` were made by
//! `dealflow serve` built from commit f370aae (schema versions 1 and 2): six deals made and moved
//! through its API by `requests.py` (one lost with its tasks left open, as that version did),
//! then dumped with `sqlite3 .dump` and `pg_dump --inserts`. Those in
//! `tests/fixtures/main-b003bb1/` were made the same way by commit b003bb1 (schema steps 1–5,
//! the last main before the dashboard's summaries), with an SMS opt-out added; those in
//! `tests/fixtures/main-d69f297/` by commit d69f297 (schema steps 1–6, the last main before task
//! timers), with a task started (a stamp then, no timer), an edit and an opt-out added; those in
//! `tests/fixtures/main-706f382/` by commit 706f382 (schema steps 1–7, the last main before
//! webhook deliveries), with a task timer left running and a time entry corrected as well; those
//! in `tests/fixtures/main-9a0f9ae/` by commit 9a0f9ae (schema steps 1–8, the last main before
//! who-acted and kept leads), with a webhook subscription queueing deliveries, a website lead
//! and a refused one (no name), an event refused and a phone edited as well.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use chrono::Utc;
use common::fixtures::{applied, databases_of, open};
use common::root;
use dealflow::daemon::{Core, Step};
use dealflow::engine::Input;
use dealflow::store::{Options, SCHEMA_VERSION};

/// The first fixture databases were made with schema version 2.
const FIXTURE_SCHEMA: i64 = 2;

/// The fixture made by the main before the summaries, and its schema version.
const BEFORE_SUMMARIES: (&str, i64) = ("main-b003bb1", 5);

/// The fixture made by the main before task timers, and its schema version.
const BEFORE_TIMERS: (&str, i64) = ("main-d69f297", 6);

/// The fixture made by the main before webhook deliveries, and its schema version.
const BEFORE_WEBHOOKS: (&str, i64) = ("main-706f382", 7);

/// The fixture made by the last landed main, and its schema version.
const LAST_MAIN: (&str, i64) = ("main-9a0f9ae", 8);

/// The first fixture's database, made again on each backend: (name, url, options).
async fn old_databases(tag: &str) -> Vec<(&'static str, String, Options)> {
    databases_of("main-f370aae", tag).await
}

#[tokio::test]
async fn a_database_made_by_the_last_landed_main_is_upgraded_in_place() {
    for (name, url, opts) in old_databases("inplace").await {
        assert_eq!(
            applied(&url, &opts).await,
            (1..=FIXTURE_SCHEMA).collect::<Vec<_>>(),
            "{name}: the fixture is the old schema"
        );
        let core = open(&url, &opts).await;
        assert_eq!(
            applied(&url, &opts).await,
            (1..=SCHEMA_VERSION).collect::<Vec<_>>(),
            "{name}: every new schema step applied, once"
        );
        let plan = &core.rules().ready.plan;
        let mut tx = core.store().read().await.expect("tx");
        assert_eq!(
            tx.integrity().await.expect("check"),
            Vec::<String>::new(),
            "{name}"
        );
        // Every deal the old version stored reads under this one.
        for i in 1..=6 {
            let id = format!("old{i}");
            let d = tx.peek_deal(&id).await.expect("read").expect("stored");
            assert!(d.stored.decode(plan).is_ok(), "{name}: {id} decodes");
        }
        // The deal that was lost under the old version kept its tasks open; the upgrade closed
        // them as cancelled, freed the people's load and said so in its history.
        let lost = tx.peek_deal("old2").await.expect("read").expect("stored");
        assert!(!lost.stored.tasks.is_empty(), "{name}");
        assert!(
            lost.stored
                .tasks
                .iter()
                .all(|t| t.cancelled && t.done_at.is_some()),
            "{name}: {:?}",
            lost.stored.tasks
        );
        let history = tx.history("old2").await.expect("history");
        let cancelled = history
            .iter()
            .filter(|h| h.kind == "task_cancelled")
            .count();
        assert_eq!(cancelled, lost.stored.tasks.len(), "{name}");
        let team = tx.team().await.expect("team");
        let open_tasks: i64 = team.load.values().sum();
        let mut counted = 0;
        for i in [1, 3, 4, 5, 6] {
            let d = tx
                .peek_deal(&format!("old{i}"))
                .await
                .expect("read")
                .expect("stored");
            counted += d
                .stored
                .tasks
                .iter()
                .filter(|t| t.done_at.is_none())
                .count() as i64;
        }
        assert_eq!(open_tasks, counted, "{name}: {:?}", team.load);
        drop(tx);
        // The old deals run on: the meeting booked under the old version is held.
        let mut tx = core.store().begin().await.expect("tx");
        let held = Input::Event {
            name: "meeting_held".into(),
            payload: Default::default(),
            by: Some("anna".into()),
        };
        let step = core
            .apply(&mut tx, "old1", &held, Utc::now())
            .await
            .expect("applied");
        assert!(matches!(step, Step::Applied { .. }), "{name}: {step:?}");
        // A refused event is kept in the table the upgrade added.
        let again = core
            .apply(&mut tx, "old1", &held, Utc::now())
            .await
            .expect("answered");
        assert!(step_refused(&again), "{name}: {again:?}");
        tx.commit().await.expect("commit");
        let mut tx = core.store().read().await.expect("tx");
        let refused = tx.refusals(Some("old1"), 10).await.expect("refusals");
        assert_eq!(refused.len(), 1, "{name}: {refused:?}");
        assert_eq!(
            (
                refused[0].input.as_str(),
                refused[0].name.as_str(),
                refused[0].code.as_str()
            ),
            ("event", "meeting_held", "not_now"),
            "{name}"
        );
        drop(tx);
        core.store().close().await;
        drop(core);
        // Opened again, nothing is done twice.
        let core = open(&url, &opts).await;
        let mut tx = core.store().read().await.expect("tx");
        assert_eq!(
            tx.history("old2").await.expect("history"),
            history,
            "{name}"
        );
        assert_eq!(
            tx.integrity().await.expect("check"),
            Vec::<String>::new(),
            "{name}"
        );
        drop(tx);
        core.store().close().await;
        if let Some(schema) = &opts.schema {
            common::drop_schema(&url, schema).await;
        }
    }
}

fn step_refused(s: &Step) -> bool {
    matches!(s, Step::NotNow(_) | Step::Refused(_))
}

/// `dealflow ARGS… --db URL [--schema S]`, as a user types it.
fn reading_command(args: &[&str], url: &str, opts: &Options) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dealflow"));
    cmd.args(args).args(["--db", url]);
    if let Some(schema) = &opts.schema {
        cmd.args(["--schema", schema]);
    }
    cmd.output().expect("dealflow runs")
}

/// Marks the database as upgraded by a later dealflow (a schema step this one does not know).
async fn mark_newer(url: &str, opts: &Options) {
    let sql = |table: &str| {
        format!(
            "INSERT INTO {table} (version, description, installed_on, success, checksum, execution_time) \
             VALUES (99, 'a later step', CURRENT_TIMESTAMP, TRUE, X'00', 0)"
        )
    };
    match &opts.schema {
        None => {
            let pool = sqlx::SqlitePool::connect(url).await.expect("sqlite");
            sqlx::query(sqlx::AssertSqlSafe(sql("_sqlx_migrations")))
                .execute(&pool)
                .await
                .expect("the mark");
            pool.close().await;
        }
        Some(schema) => {
            let pool = sqlx::PgPool::connect(url).await.expect("postgres");
            let q = sql(&format!("\"{schema}\"._sqlx_migrations")).replace("X'00'", "'\\x00'");
            sqlx::query(sqlx::AssertSqlSafe(q))
                .execute(&pool)
                .await
                .expect("the mark");
            pool.close().await;
        }
    }
}

/// The reading commands (`plan`, `explain`, the what-if) never change the schema: a database
/// an upgrade has not reached yet, or one a later dealflow upgraded, is refused with exit 2 and
/// a sentence that says what to do, on both backends.
#[tokio::test]
async fn reading_commands_refuse_a_schema_they_do_not_know_with_exit_2() {
    let rules = root().join("rules/web-studio.flow").display().to_string();
    let commands: [Vec<&str>; 3] = [
        vec!["plan", &rules],
        vec!["explain", "old1"],
        vec!["simulate", &rules],
    ];
    for (name, url, opts) in old_databases("reading").await {
        for args in &commands {
            let out = reading_command(args, &url, &opts);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{name} {args:?}: {err}");
            assert!(
                err.contains("older than this dealflow's") && err.contains("start the daemon"),
                "{name} {args:?}: {err}"
            );
        }
        assert_eq!(
            applied(&url, &opts).await,
            (1..=FIXTURE_SCHEMA).collect::<Vec<_>>(),
            "{name}: a reading command upgraded the database"
        );
        drop(open(&url, &opts).await);
        // Upgraded: the same commands read it.
        let out = reading_command(&["plan", &rules], &url, &opts);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        mark_newer(&url, &opts).await;
        for args in &commands {
            let out = reading_command(args, &url, &opts);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{name} {args:?}: {err}");
            assert!(
                err.contains("upgraded by a newer dealflow") && err.contains("schema step 99"),
                "{name} {args:?}: {err}"
            );
        }
    }
}

/// The last landed main's database is upgraded in place, and its first start makes the
/// dashboard's summaries from the deals it holds: the board counts every deal in its column, the
/// money of the lost one is where it was lost, search finds a client by name and by phone.
#[tokio::test]
async fn the_last_main_s_database_gets_its_summaries_at_its_first_start() {
    for (name, url, opts) in databases_of(BEFORE_SUMMARIES.0, "summaries").await {
        assert_eq!(
            applied(&url, &opts).await,
            (1..=BEFORE_SUMMARIES.1).collect::<Vec<_>>(),
            "{name}: the fixture is the old schema"
        );
        let core = open(&url, &opts).await;
        assert_eq!(
            applied(&url, &opts).await,
            (1..=SCHEMA_VERSION).collect::<Vec<_>>(),
            "{name}"
        );
        let mut tx = core.store().read().await.expect("tx");
        let stages = tx.totals_under("stage/").await.expect("totals");
        let count = |s: &str| stages.get(s).map_or(0, |t| t.0);
        assert_eq!(
            stages.values().map(|t| t.0).sum::<i64>(),
            6,
            "{name}: six deals, each in one column: {stages:?}"
        );
        assert_eq!(count("lost"), 1, "{name}: {stages:?}");
        assert_eq!(count("contract"), 1, "{name}: {stages:?}");
        let found = tx.search_deals("client 3", None, 10).await.expect("search");
        assert_eq!(
            found.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["old3"],
            "{name}"
        );
        let by_phone = tx
            .search_deals("+7 999 000-22-33", None, 10)
            .await
            .expect("search");
        assert_eq!(
            by_phone.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["old6"],
            "{name}"
        );
        drop(tx);
        // Opened again, the summaries are not made again (their mark holds).
        core.store().close().await;
        drop(core);
        let core = open(&url, &opts).await;
        assert!(
            !core.keep_summaries_current().await.expect("checked"),
            "{name}: made again without a reason"
        );
        core.store().close().await;
        if let Some(schema) = &opts.schema {
            common::drop_schema(&url, schema).await;
        }
    }
}

/// Anna's work on old5's `book_meeting`, as one committed step.
async fn work(
    core: &Core,
    action: dealflow::engine::TaskAction,
    at: chrono::DateTime<Utc>,
) -> Step {
    let mut tx = core.store().begin().await.expect("tx");
    let input = Input::Task {
        task: "book_meeting".into(),
        action,
        by: Some("anna".into()),
    };
    let step = core
        .apply(&mut tx, "old5", &input, at)
        .await
        .expect("answered");
    tx.commit().await.expect("commit");
    step
}

/// The database of the main before task timers (schema 6, summaries kept) takes the task timers'
/// step in place: the task started under it has no timer, a start now runs one, a pause logs its
/// time as an entry that the summaries count, and a correction of the entry is kept in the
/// history.
#[tokio::test]
async fn the_database_before_task_timers_runs_them() {
    for (name, url, opts) in databases_of(BEFORE_TIMERS.0, "timers").await {
        assert_eq!(
            applied(&url, &opts).await,
            (1..=BEFORE_TIMERS.1).collect::<Vec<_>>(),
            "{name}: the fixture is the old schema"
        );
        let core = open(&url, &opts).await;
        assert_eq!(
            applied(&url, &opts).await,
            (1..=SCHEMA_VERSION).collect::<Vec<_>>(),
            "{name}"
        );
        assert!(
            !core.keep_summaries_current().await.expect("checked"),
            "{name}: the summaries the last main kept are current"
        );
        let mut tx = core.store().read().await.expect("tx");
        let d = tx.peek_deal("old5").await.expect("read").expect("stored");
        let book = d
            .stored
            .tasks
            .iter()
            .find(|t| t.id == "book_meeting")
            .expect("the task");
        assert!(
            book.started_at.is_some() && book.timer_by.is_none(),
            "{name}: {book:?}"
        );
        assert!(
            tx.running_timers().await.expect("timers").is_empty(),
            "{name}"
        );
        let hours_before = tx.totals_under("hours/").await.expect("totals");
        drop(tx);
        let t0 = Utc::now();
        let step = work(&core, dealflow::engine::TaskAction::Start, t0).await;
        assert!(matches!(step, Step::Applied { .. }), "{name}: {step:?}");
        let mut tx = core.store().read().await.expect("tx");
        let running = tx.running_timers().await.expect("timers");
        assert_eq!(running.len(), 1, "{name}: {running:?}");
        assert_eq!(
            (
                running[0].by.as_str(),
                running[0].deal.as_str(),
                running[0].task.as_str()
            ),
            ("anna", "old5", "book_meeting"),
            "{name}"
        );
        drop(tx);
        let later = t0 + chrono::Duration::minutes(90);
        let step = work(&core, dealflow::engine::TaskAction::Pause, later).await;
        let Step::Applied { deal, .. } = step else {
            panic!("{name}: {step:?}")
        };
        let entry = deal.time_entries.last().expect("an entry");
        assert_eq!(entry.hours.to_string(), "1.50", "{name}");
        let mut tx = core.store().read().await.expect("tx");
        assert!(
            tx.running_timers().await.expect("timers").is_empty(),
            "{name}"
        );
        let hours_after = tx.totals_under("hours/").await.expect("totals");
        let sum = |m: &std::collections::BTreeMap<String, (i64, rust_decimal::Decimal)>| {
            m.values().map(|t| t.1).sum::<rust_decimal::Decimal>()
        };
        assert_eq!(
            sum(&hours_after) - sum(&hours_before),
            rust_decimal::Decimal::new(150, 2),
            "{name}: {hours_after:?}"
        );
        drop(tx);
        // Corrected: the entry and the week's hours follow, and the history says who did it.
        let n = deal.time_entries.len() - 1;
        let mut tx = core.store().begin().await.expect("tx");
        let amend = Input::Amend {
            entry: n,
            hours: rust_decimal::Decimal::ONE,
            by: Some("anna".into()),
        };
        let step = core
            .apply(&mut tx, "old5", &amend, later)
            .await
            .expect("answered");
        assert!(matches!(step, Step::Applied { .. }), "{name}: {step:?}");
        tx.commit().await.expect("commit");
        let mut tx = core.store().read().await.expect("tx");
        let hours_fixed = tx.totals_under("hours/").await.expect("totals");
        assert_eq!(
            sum(&hours_fixed) - sum(&hours_before),
            rust_decimal::Decimal::ONE,
            "{name}: {hours_fixed:?}"
        );
        let history = tx.history("old5").await.expect("history");
        assert!(
            history.iter().any(|h| h.kind == "time_amended"),
            "{name}: {:?}",
            history.iter().map(|h| &h.kind).collect::<Vec<_>>()
        );
        assert_eq!(
            tx.integrity().await.expect("check"),
            Vec::<String>::new(),
            "{name}"
        );
        drop(tx);
        core.store().close().await;
        if let Some(schema) = &opts.schema {
            common::drop_schema(&url, schema).await;
        }
    }
}

/// The last main's database (schema 7: anna's timer running on old5, a corrected time entry)
/// takes the webhook deliveries' step in place: the timer started under it runs on, and the
/// records of the first step after the upgrade are queued for a subscription, numbered from 1.
#[tokio::test]
async fn the_last_main_s_database_queues_webhook_deliveries() {
    for (name, url, opts) in databases_of(BEFORE_WEBHOOKS.0, "webhooks").await {
        assert_eq!(
            applied(&url, &opts).await,
            (1..=BEFORE_WEBHOOKS.1).collect::<Vec<_>>(),
            "{name}: the fixture is the old schema"
        );
        let core = open(&url, &opts).await;
        core.set_webhooks(vec![dealflow::store::Subscription {
            name: "books".into(),
            kinds: None,
        }]);
        assert_eq!(
            applied(&url, &opts).await,
            (1..=SCHEMA_VERSION).collect::<Vec<_>>(),
            "{name}"
        );
        assert!(
            !core.keep_summaries_current().await.expect("checked"),
            "{name}: the summaries the last main kept are current"
        );
        let mut tx = core.store().read().await.expect("tx");
        let running = tx.running_timers().await.expect("timers");
        assert_eq!(running.len(), 1, "{name}: {running:?}");
        assert_eq!(
            (running[0].by.as_str(), running[0].deal.as_str()),
            ("anna", "old5"),
            "{name}"
        );
        assert!(
            tx.deliveries_of("old5", 50)
                .await
                .expect("deliveries")
                .is_empty(),
            "{name}: no backfill of older history"
        );
        drop(tx);
        let step = work(&core, dealflow::engine::TaskAction::Pause, Utc::now()).await;
        assert!(matches!(step, Step::Applied { .. }), "{name}: {step:?}");
        let mut tx = core.store().read().await.expect("tx");
        assert!(
            tx.running_timers().await.expect("timers").is_empty(),
            "{name}"
        );
        let mut queued = tx.deliveries_of("old5", 50).await.expect("deliveries");
        queued.reverse();
        assert!(!queued.is_empty(), "{name}");
        let seqs: Vec<i64> = queued.iter().map(|d| d.seq).collect();
        assert_eq!(
            seqs,
            (1..=queued.len() as i64).collect::<Vec<_>>(),
            "{name}"
        );
        assert!(
            queued.iter().any(|d| d.kind == "timer_stopped"),
            "{name}: {queued:?}"
        );
        for d in &queued {
            let body: serde_json::Value = serde_json::from_str(&d.body).expect("JSON");
            assert_eq!(
                (&body["deal"], &body["kind"], &body["seq"]),
                (&"old5".into(), &d.kind.as_str().into(), &d.seq.into()),
                "{name}"
            );
            assert_eq!(d.status, "pending", "{name}");
        }
        assert_eq!(
            tx.integrity().await.expect("check"),
            Vec::<String>::new(),
            "{name}"
        );
        drop(tx);
        core.store().close().await;
        if let Some(schema) = &opts.schema {
            common::drop_schema(&url, schema).await;
        }
    }
}

/// The database of the last landed main (schema 8) takes the step of who acted and kept leads in
/// place: what it refused reads with no `via` and no door (nothing old turns up as a lead to
/// settle), and a step after it keeps who it came through.
#[tokio::test]
async fn the_last_mains_database_keeps_who_acted_from_now_on() {
    use dealflow::daemon::{Op, Sender};
    for (name, url, opts) in databases_of(LAST_MAIN.0, "acting").await {
        assert_eq!(
            applied(&url, &opts).await,
            (1..=LAST_MAIN.1).collect::<Vec<_>>(),
            "{name}: the fixture is the old schema"
        );
        let core = open(&url, &opts).await;
        assert_eq!(
            applied(&url, &opts).await,
            (1..=SCHEMA_VERSION).collect::<Vec<_>>(),
            "{name}"
        );
        let mut tx = core.store().read().await.expect("tx");
        let refused = tx.refusals(None, 50).await.expect("refusals");
        assert!(
            refused.len() >= 3,
            "{name}: the old refusals are there: {refused:?}"
        );
        assert!(
            refused
                .iter()
                .all(|r| r.via.is_none() && r.origin.is_none() && r.settled.is_none()),
            "{name}: {refused:?}"
        );
        assert_eq!(
            tx.unsettled_leads_count().await.expect("count"),
            0,
            "{name}"
        );
        assert_eq!(tx.open_checks_count().await.expect("count"), 0, "{name}");
        let events = tx.events("old1").await.expect("events");
        assert!(
            !events.is_empty() && events.iter().all(|e| e.via.is_none()),
            "{name}"
        );
        drop(tx);
        let mut tx = core.store().begin().await.expect("tx");
        let op = Op::Apply {
            deal: "old6".into(),
            input: Input::Event {
                name: "lost".into(),
                payload: [(
                    "comment".to_string(),
                    dealflow::value::Value::Text("gone".into()),
                )]
                .into_iter()
                .collect(),
                by: Some("petr".into()),
            },
        }
        .sent(Sender {
            via: Some("anna".into()),
            ..Sender::default()
        });
        let step = core.one(&mut tx, &op, Utc::now()).await.expect("answered");
        tx.commit().await.expect("commit");
        assert!(matches!(step, Step::Applied { .. }), "{name}: {step:?}");
        let mut tx = core.store().read().await.expect("tx");
        let events = tx.events("old6").await.expect("events");
        let last = events.last().expect("the event");
        assert_eq!(
            (last.by.as_deref(), last.via.as_deref()),
            (Some("petr"), Some("anna")),
            "{name}"
        );
        let history = tx.history("old6").await.expect("history");
        assert!(
            history
                .iter()
                .filter(|h| h.kind == "stage_entered")
                .any(|h| h.record.contains(r#""via":"anna""#)),
            "{name}: {history:?}"
        );
        drop(tx);
        // The last main wrote addresses into the outbox's dedupe keys: an erasure leaves none.
        let mut tx = core.store().read().await.expect("tx");
        let before = tx.dedupe_keys("old3").await.expect("keys");
        assert!(
            before.iter().any(|k| k.contains("c3@shop.test")),
            "{name}: {before:?}"
        );
        drop(tx);
        let mut tx = core.store().begin().await.expect("tx");
        let e = dealflow::store::Erasure {
            fields: vec![
                "client_name".into(),
                "client_phone".into(),
                "client_email".into(),
            ],
            title: "—".into(),
            known: Vec::new(),
            by: None,
            via: None,
            at: Utc::now(),
            country: None,
            webhooks: Vec::new(),
            names: Vec::new(),
        };
        tx.erase_personal("old3", &e)
            .await
            .expect("erased")
            .expect("a deal");
        tx.commit().await.expect("commit");
        let mut tx = core.store().read().await.expect("tx");
        let dedupe = tx.dedupe_keys("old3").await.expect("keys");
        assert!(!dedupe.is_empty(), "{name}");
        assert!(
            dedupe
                .iter()
                .all(|k| !k.contains("c3@shop.test") && !k.contains("+7999")),
            "{name}: {dedupe:?}"
        );
        assert_eq!(
            tx.integrity().await.expect("check"),
            Vec::<String>::new(),
            "{name}"
        );
        drop(tx);
        core.store().close().await;
        if let Some(schema) = &opts.schema {
            common::drop_schema(&url, schema).await;
        }
    }
}
