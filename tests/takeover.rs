//! Two daemons on one PostgreSQL, one killed with SIGKILL while it holds claimed timers and
//! messages: the other takes them over once the claims' leases run out. Every timer fires
//! exactly once; every message goes out, and a gateway that deduplicates by the message's
//! `{{id}}` delivers each once (the killed daemon can have sent at most one batch it did not
//! get to record). Bounded: the test stops itself after two minutes.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use common::free_port;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dealflow::daemon::{Core, Opening};
use dealflow::store::Options;

const N: usize = 600;
const TOKEN: &str = "takeover-staff";

fn serve(config: &Path) -> common::Reaped {
    common::Reaped(
        Command::new(env!("CARGO_BIN_EXE_dealflow"))
            .args(["serve", "--config"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the daemon starts"),
    )
}

/// The SMS a gateway took, by the message's id: how many times each came.
type Taken = Arc<Mutex<BTreeMap<String, usize>>>;

async fn gateway(taken: Taken) -> u16 {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/send",
        post(move |body: String| {
            let taken = taken.clone();
            async move {
                let form: BTreeMap<String, String> =
                    serde_urlencoded::from_str(&body).unwrap_or_default();
                let id = form.get("id").cloned().unwrap_or_default();
                *taken.lock().unwrap().entry(id).or_default() += 1;
                // A gateway that takes its time: a daemon is always in the middle of a batch.
                tokio::time::sleep(Duration::from_millis(3)).await;
                "OK"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

async fn scalar(pool: &sqlx::PgPool, schema: &str, sql: &str) -> i64 {
    let sql = sql.replace("{s}", &format!("\"{schema}\""));
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
        .fetch_one(pool)
        .await
        .expect("a count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_daemons_timers_and_messages_are_taken_over_each_once() {
    let Some(url) = common::postgres() else {
        common::skipped("takeover: SKIPPED (set DEALFLOW_TEST_POSTGRES)");
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("takeover");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["web-studio.flow", "web-studio.rhai"] {
        std::fs::copy(common::root().join("rules").join(f), dir.join(f)).unwrap();
    }
    // Messages go out day and night.
    let script = dir.join("web-studio.rhai");
    let text = std::fs::read_to_string(&script).unwrap();
    std::fs::write(
        &script,
        text.replace("if hour >= 21 || hour < 9 {", "if false {"),
    )
    .unwrap();
    let schema = format!("t_takeover_{}", std::process::id());
    let taken: Taken = Arc::default();
    let sms_port = gateway(taken.clone()).await;
    let example = std::fs::read_to_string(common::root().join("examples/dealflow.toml")).unwrap();
    // The team hears no staff notices: the meetings' reminders are the only timers.
    let team = example[example.find("[[team]]").unwrap()..]
        .replace("[[team]]\n", "[[team]]\nnotices = false\n");
    let config = |port: u16| {
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[database]\nurl = \"{url}\"\nschema = \"{schema}\"\n\
             [rules]\nfile = \"web-studio.flow\"\n[[tokens]]\ntoken = \"{TOKEN}\"\nscope = \"staff\"\n\
             [sms]\nurl = \"http://127.0.0.1:{sms_port}/send\"\nbody = \"id={{{{id}}}}&to={{{{to}}}}&text={{{{text}}}}\"\n\
             [outbox]\nlease_s = 3\n[timers]\nlease_s = 3\n{team}"
        )
    };
    let (port_a, port_b) = (free_port(), free_port());
    std::fs::write(dir.join("a.toml"), config(port_a)).unwrap();
    std::fs::write(dir.join("b.toml"), config(port_b)).unwrap();

    // N deals whose meeting reminders and messages fell due while no daemon ran.
    {
        let members = dealflow::daemon::config::Config::load(Some(&dir.join("a.toml")), Vec::new())
            .unwrap()
            .members()
            .unwrap();
        let core = Core::open(Opening {
            rules: &dir.join("web-studio.flow"),
            database: &url,
            options: Options {
                schema: Some(schema.clone()),
                ..Options::default()
            },
            team: Some(&members),
            max_rules_size: None,
            mapping: Default::default(),
        })
        .await
        .expect("the core opens");
        let then = chrono::Utc::now() - chrono::Duration::hours(3);
        common::store::seed_due_meetings(&core, "k", N, then, true).await;
        core.store().close().await;
    }
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let sms_total = scalar(
        &pool,
        &schema,
        "SELECT COUNT(*) FROM {s}.outbox WHERE channel = 'sms'",
    )
    .await;
    assert_eq!(
        sms_total,
        2 * N as i64,
        "a welcome and a meeting SMS per deal"
    );

    // A starts; it is killed as soon as it has fired a timer and sent an SMS.
    let mut a = serve(&dir.join("a.toml"));
    loop {
        let fired = scalar(
            &pool,
            &schema,
            "SELECT COUNT(*) FROM {s}.history WHERE kind = 'timer_fired'",
        )
        .await;
        if fired > 0 && !taken.lock().unwrap().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "daemon A did not start working");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    a.kill().expect("SIGKILL");
    a.wait().unwrap();
    let killed = Instant::now();
    let now_ms = chrono::Utc::now().timestamp_millis();
    let timers_held = scalar(
        &pool,
        &schema,
        &format!(
            "SELECT COUNT(*) FROM {{s}}.timers WHERE owner IS NOT NULL AND lease_ms > {now_ms}"
        ),
    )
    .await;
    let messages_held = scalar(
        &pool,
        &schema,
        &format!(
            "SELECT COUNT(*) FROM {{s}}.outbox WHERE status = 'pending' AND next_ms > {now_ms}"
        ),
    )
    .await;
    assert!(
        timers_held + messages_held > 0,
        "daemon A held no claims when it was killed: the test proves nothing"
    );

    // B takes over.
    let mut b = serve(&dir.join("b.toml"));
    loop {
        let timers = scalar(&pool, &schema, "SELECT COUNT(*) FROM {s}.timers").await;
        let pending = scalar(
            &pool,
            &schema,
            "SELECT COUNT(*) FROM {s}.outbox WHERE status = 'pending'",
        )
        .await;
        if timers == 0 && pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "daemon B did not take over: {timers} timers and {pending} messages left"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = killed.elapsed();
    b.kill().unwrap();
    b.wait().unwrap();

    // Each timer fired exactly once.
    let per_deal: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT deal_id, COUNT(*) FROM \"{schema}\".history WHERE kind = 'timer_fired' GROUP BY deal_id"
    )))
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(per_deal.len(), N, "every deal's reminder fired");
    assert!(
        per_deal.iter().all(|(_, n)| *n == 1),
        "a timer fired twice: {per_deal:?}"
    );
    // Every message went out; the gateway got each id, and each once but for at most the one
    // claim the killed daemon sent without recording it (eight times `[outbox] concurrency`:
    // 64 by default).
    let sent = scalar(
        &pool,
        &schema,
        "SELECT COUNT(*) FROM {s}.outbox WHERE channel = 'sms' AND status = 'sent'",
    )
    .await;
    assert_eq!(sent, sms_total);
    let taken = taken.lock().unwrap().clone();
    assert_eq!(
        taken.len() as i64,
        sms_total,
        "every SMS reached the gateway"
    );
    let again = taken.values().filter(|n| **n > 1).count();
    assert!(
        again <= 64,
        "{again} SMS reached the gateway twice: more than one claim"
    );
    eprintln!(
        "takeover: {N} timers and {sms_total} SMS; daemon A killed holding {timers_held} timers and {messages_held} messages; \
         daemon B finished {:.1} s later (leases 3 s); {again} SMS came to the gateway twice (same id: a deduplicating gateway delivers them once)",
        took.as_secs_f64()
    );
    pool.close().await;
    common::drop_schema(&url, &schema).await;
}
