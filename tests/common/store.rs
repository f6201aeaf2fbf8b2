//! What the store tests share: a database for a test on each backend, the reference rules, a
//! core over a fresh database with Ivan's team, a lead, the rows counted.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use dealflow::daemon::{Core, Opening, Step};
use dealflow::engine::Creation;
use dealflow::sim::scenario;
use dealflow::store::{Options, Table};
use dealflow::value::Value;

use super::root;

/// A database for one test on each backend that is available: (name, url, options).
pub fn backends(test: &str) -> Vec<(&'static str, String, Options)> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("store-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a test directory");
    let mut out = vec![(
        "sqlite",
        format!("sqlite://{}", dir.join("dealflow.db").display()),
        Options::default(),
    )];
    match super::postgres() {
        Some(url) => out.push((
            "postgres",
            url,
            Options {
                schema: Some(format!("t_{test}_{}", std::process::id())),
                ..Options::default()
            },
        )),
        None => super::skipped(&format!(
            "store test `{test}`: PostgreSQL part SKIPPED (set DEALFLOW_TEST_POSTGRES=postgres://… to run it)"
        )),
    }
    out
}

/// Drops a test's PostgreSQL schema.
pub async fn cleanup(url: &str, opts: &Options) {
    if let Some(schema) = &opts.schema {
        super::drop_schema(url, schema).await;
    }
}

/// The reference pipeline, ready to run.
pub fn ready() -> dealflow::load::Ready {
    dealflow::load::RuleFile::read(&root().join("rules/web-studio.flow"))
        .expect("readable rules")
        .ready()
        .expect("valid rules")
}

/// A core over a fresh database on this backend, with Ivan's team: without staff notices,
/// so that the timers these tests count are the pipeline's own lines (a task's reminder is
/// tested with the notices).
pub async fn core(url: &str, opts: &Options) -> Core {
    core_with(url, opts, false).await
}

/// A core as [`core`] opens it, the team hearing staff notices or not.
pub async fn core_with(url: &str, opts: &Options, notices: bool) -> Core {
    let mut team = ivan_scenario().team;
    for m in &mut team {
        m.notices = notices;
    }
    Core::open(Opening {
        rules: &root().join("rules/web-studio.flow"),
        database: url,
        options: opts.clone(),
        team: Some(&team),
        max_rules_size: None,
        mapping: Default::default(),
    })
    .await
    .expect("the core opens")
}

pub fn ivan_scenario() -> scenario::Scenario {
    let path = root().join("examples/ivan.scenario.toml");
    let text = std::fs::read_to_string(&path).expect("Ivan's scenario");
    scenario::load("ivan.scenario.toml", &text).expect("readable")
}

pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T09:00:00+03:00")
        .expect("moment")
        .with_timezone(&Utc)
}

pub fn lead(id: &str) -> Creation {
    let mut fields = std::collections::BTreeMap::new();
    fields.insert("client_name".to_string(), Value::Text("Ivan".into()));
    fields.insert(
        "client_phone".to_string(),
        Value::Text("+79990001122".into()),
    );
    Creation {
        id: id.to_string(),
        title: format!("Shop for {id}"),
        stages: Vec::new(),
        fields,
        quiet: false,
        done: Vec::new(),
    }
}

/// A lead made and committed (on the backend `name`).
pub async fn created(core: &Core, id: &str, name: &str) {
    let mut tx = core.store().begin().await.expect("tx");
    let step = core.create(&mut tx, &lead(id), t0()).await.expect("create");
    assert!(matches!(step, Step::Applied { .. }), "{name}: {step:?}");
    tx.commit().await.expect("commit");
}

/// The rows of the tables a step writes.
pub async fn counts(core: &Core) -> Vec<i64> {
    table_counts(
        core,
        &[
            Table::Deals,
            Table::History,
            Table::Timers,
            Table::Tasks,
            Table::Outbox,
            Table::Requests,
        ],
    )
    .await
}

/// The rows of these tables, as committed.
pub async fn table_counts(core: &Core, tables: &[Table]) -> Vec<i64> {
    let mut tx = core.store().read().await.expect("tx");
    let mut out = Vec::new();
    for &t in tables {
        out.push(tx.count(t).await.expect("count"));
    }
    out
}

/// Deals `{prefix}000…` whose meeting (and its reminder two hours before) fell due at `then`,
/// made at `then` with their welcome and meeting messages queued, in one transaction: what a
/// daemon finds after a while down. With `phone`, each has a client phone (so SMS too).
pub async fn seed_due_meetings(
    core: &Core,
    prefix: &str,
    n: usize,
    then: DateTime<Utc>,
    phone: bool,
) {
    use dealflow::engine::Input;
    use std::collections::BTreeMap;
    let mut tx = core.store().begin().await.expect("tx");
    for i in 0..n {
        let mut fields = BTreeMap::new();
        fields.insert(
            "client_name".to_string(),
            Value::Text(format!("Client {i}")),
        );
        if phone {
            fields.insert(
                "client_phone".to_string(),
                Value::Text(format!("+7999{i:07}")),
            );
        }
        let req = Creation {
            id: format!("{prefix}{i:03}"),
            title: format!("Deal {i}"),
            stages: vec![],
            fields,
            quiet: false,
            done: Vec::new(),
        };
        let step = core.create(&mut tx, &req, then).await.expect("create");
        assert!(matches!(step, Step::Applied { .. }), "{step:?}");
        let mut payload = BTreeMap::new();
        payload.insert(
            "meeting_at".to_string(),
            Value::DateTime(then + chrono::Duration::hours(2)),
        );
        payload.insert("meeting_place".to_string(), Value::Text("Office".into()));
        let call = Input::Event {
            name: "call_done".into(),
            payload,
            by: None,
        };
        let step = core
            .apply(&mut tx, &req.id, &call, then)
            .await
            .expect("event");
        assert!(matches!(step, Step::Applied { .. }), "{step:?}");
    }
    tx.commit().await.expect("commit");
}
