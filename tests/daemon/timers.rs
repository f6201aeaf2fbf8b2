//! Timers on the wall clock, on one daemon and shared by two on PostgreSQL.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value as Json, json};

use crate::common::daemon::*;
use dealflow::store::Table;

#[tokio::test]
async fn a_timer_fires_on_the_wall_clock_and_messages_go_out() {
    let dir = workdir("timer");
    let d = Daemon::start(config(&dir, "")).await;
    d.lead("d1").await;
    // The reminder is two hours before the meeting: a meeting 2 h 2 s from now rings in 2 s.
    let meeting = chrono::Utc::now() + chrono::Duration::hours(2) + chrono::Duration::seconds(2);
    let (status, body) = d
        .post(
            "/api/v1/deals/d1/events",
            STAFF,
            json!({"name": "call_done", "fields": {"meeting_at": meeting.to_rfc3339(), "meeting_place": "Office"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eventually("the reminder fires", Duration::from_secs(15), || async {
        let (_, deal) = d.get("/api/v1/deals/d1").await;
        deal["history"]
            .as_array()
            .is_some_and(|h| h.iter().any(|e| e["kind"] == "timer_fired"))
    })
    .await;
    let (_, deal) = d.get("/api/v1/deals/d1").await;
    let fired: Vec<&Json> = deal["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "timer_fired")
        .collect();
    assert_eq!(fired.len(), 1, "fired more than once");
    assert!(fired[0]["cause"].as_str().unwrap().starts_with("timer"));
    // With no mail or SMS configured, messages go to the log and count as sent.
    let core = d.running().core().clone();
    // Everything that may go out now goes out; SMS to the client at night wait for 09:00
    // (the pipeline's hook), so they may still be pending, with that time set.
    eventually(
        "the outbox sends what is due",
        Duration::from_secs(10),
        || {
            let core = core.clone();
            async move {
                let mut tx = core.store().read().await.expect("tx");
                let all = tx.outbox().await.expect("outbox");
                let now = chrono::Utc::now();
                all.iter().any(|m| m.status == "sent")
                    && all.iter().all(|m| {
                        m.status == "sent" || (m.status == "pending" && m.send_after > now)
                    })
            }
        },
    )
    .await;
    let (_, metrics) = d
        .send(reqwest::Method::GET, "/metrics", None, None, None)
        .await;
    let text = metrics.as_str().expect("text");
    assert!(text.contains("dealflow_timers_fired_total 1"), "{text}");
    assert!(!text.contains("dealflow_messages_sent_total 0"), "{text}");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_on_one_postgres_fire_each_of_500_due_timers_exactly_once() {
    use dealflow::daemon::{Core, Opening};
    use dealflow::store::Options;
    let Some(url) = crate::common::postgres() else {
        crate::common::skipped("two daemons on PostgreSQL: SKIPPED (set DEALFLOW_TEST_POSTGRES)");
        return;
    };
    const N: usize = 500;
    let dir = workdir("two-daemons");
    let schema = format!("t_two_daemons_{}", std::process::id());
    let opts = Options {
        schema: Some(schema.clone()),
        ..Options::default()
    };
    // 500 deals whose meeting reminders fell due an hour ago (while no daemon ran); the team
    // hears no staff notices, so the meetings' are the only timers.
    {
        config(&dir, "");
        let members = without_notices(&dir).members().expect("team");
        let core = Core::open(Opening {
            rules: &dir.join("web-studio.flow"),
            database: &url,
            options: opts.clone(),
            team: Some(&members),
            max_rules_size: None,
            mapping: Default::default(),
        })
        .await
        .expect("the core opens");
        let then = chrono::Utc::now() - chrono::Duration::hours(3);
        crate::common::store::seed_due_meetings(&core, "p", N, then, false).await;
        core.store().close().await;
    }
    let database = format!("url = \"{url}\"\nschema = \"{schema}\"");
    config_on(&dir, &database, "");
    let a = Daemon::start(without_notices(&dir)).await;
    let b = Daemon::start(without_notices(&dir)).await;
    let core = a.running().core().clone();
    eventually("every timer fired", Duration::from_secs(60), || {
        let core = core.clone();
        async move {
            let mut tx = core.store().read().await.expect("tx");
            tx.count(Table::Timers).await.expect("count") == 0
        }
    })
    .await;
    let mut tx = core.store().read().await.expect("tx");
    for i in 0..N {
        let h = tx.history(&format!("p{i:03}")).await.expect("history");
        let fired = h.iter().filter(|e| e.kind == "timer_fired").count();
        assert_eq!(fired, 1, "deal p{i:03}: fired {fired} times");
    }
    assert!(tx.integrity().await.expect("check").is_empty());
    drop(tx);
    let fired_by = |m: Json| -> u64 {
        m.as_str()
            .unwrap_or("")
            .lines()
            .find_map(|l| l.strip_prefix("dealflow_timers_fired_total "))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let (_, ma) = a
        .send(reqwest::Method::GET, "/metrics", None, None, None)
        .await;
    let (_, mb) = b
        .send(reqwest::Method::GET, "/metrics", None, None, None)
        .await;
    let (fa, fb) = (fired_by(ma), fired_by(mb));
    eprintln!("two daemons: {fa} + {fb} timers fired");
    assert_eq!(
        fa + fb,
        N as u64,
        "each timer fires once across both daemons"
    );
    a.stop().await;
    b.stop().await;
    crate::common::drop_schema(&url, &schema).await;
}
