//! Signed webhooks: records POSTed to a receiver on loopback, numbered per deal, retried after
//! a failure with the same body, given up on after the last attempt; each signature checked by
//! the README's own Python verification code (Python's hmac, not ours); the deal page and the
//! metrics show them. On SQLite, and on PostgreSQL when `DEALFLOW_TEST_POSTGRES` is set.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use reqwest::StatusCode;
use serde_json::{Value as Json, json};

use crate::common::daemon::*;

const SECRET: &str = "whsec-0123456789abcdef";

/// A delivery as the receiver saw it: its id, signature, subscription and body.
#[derive(Debug, Clone)]
struct Seen {
    delivery: String,
    signature: String,
    webhook: String,
    body: String,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// A receiver that answers 503 to the very first request (a receiver restarting), and 200
/// to every other.
async fn receiver() -> (u16, Log) {
    receiving(true).await
}

/// A receiver that answers 200 (after one 503 when `refuse_first`).
async fn receiving(refuse_first: bool) -> (u16, Log) {
    async fn take(
        axum::extract::State((log, refuse_first)): axum::extract::State<(Log, bool)>,
        headers: HeaderMap,
        body: String,
    ) -> StatusCode {
        let h = |n: &str| {
            headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let seen = Seen {
            delivery: h("dealflow-delivery"),
            signature: h("dealflow-signature"),
            webhook: h("dealflow-webhook"),
            body,
        };
        let mut log = log.lock().expect("lock");
        let first = log.is_empty();
        log.push(seen);
        if first && refuse_first {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        }
    }
    let log: Log = Arc::default();
    let app = axum::Router::new()
        .route("/hooks", axum::routing::post(take))
        .with_state((log.clone(), refuse_first));
    (gateway(app).await, log)
}

/// A receiver that takes every connection and never answers; how many it holds.
async fn hanging() -> (u16, Arc<Mutex<usize>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let held = Arc::new(Mutex::new(0));
    let count = held.clone();
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            *count.lock().expect("lock") += 1;
            open.push(s);
        }
    });
    (port, held)
}

/// The README's verification function, run by Python on one delivery: whether it holds.
fn python_verifies(header: &str, body: &str) -> Option<bool> {
    let readme = std::fs::read_to_string(crate::common::root().join("README.md")).expect("README");
    let after = readme
        .split("<!-- webhook-verify")
        .nth(1)
        .expect("the README's verification example");
    let code: String = after
        .split("```python")
        .nth(1)
        .and_then(|c| c.split("```").next())
        .expect("a python block")
        .lines()
        .map(|l| l.strip_prefix("  ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    let program = format!(
        "{code}\nimport sys\nsys.exit(0 if verify(sys.argv[1], sys.argv[2], sys.stdin.buffer.read()) else 1)\n"
    );
    let out = crate::common::pipe(
        "python3",
        &["-c", &program, SECRET, header],
        body.as_bytes(),
        "DEALFLOW_REQUIRE_PYTHON",
    )?;
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.trim().is_empty(), "python: {said}");
    Some(out.status.success())
}

fn extra(port: u16, dead_port: u16) -> String {
    format!(
        r#"[outbox]
max_attempts = 3
retry_base_s = 1
retry_max_s = 1
[[webhooks]]
name = "accounting"
url = "http://127.0.0.1:{port}/hooks"
secret = "{SECRET}"
kinds = ["deal_created", "stage_entered"]
[[webhooks]]
name = "gone"
url = "http://127.0.0.1:{dead_port}/hooks"
secret = "{SECRET}"
kinds = ["deal_created"]
"#
    )
}

/// A port nothing listens on.
async fn nobody() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    l.local_addr().expect("addr").port()
}

async fn webhooks(d: &Daemon, log: &Log) {
    d.lead("d1").await;
    let (status, body) = d
        .post(
            "/api/v1/deals/d1/events",
            STAFF,
            json!({"name": "call_done", "fields": {"meeting_at": "2027-03-05T12:00", "meeting_place": "Office"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    d.lead("d2").await;
    // d1: created, entered the first stage, entered the meeting stage; d2: created, entered.
    eventually("five deliveries taken", Duration::from_secs(30), || async {
        let log = log.lock().expect("lock");
        let mut ids: Vec<&str> = log.iter().map(|s| s.delivery.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len() == 5 && log.len() == 6
    })
    .await;
    let seen = log.lock().expect("lock").clone();
    // The first delivery was refused once and sent again: the same id, the same body.
    let first = &seen[0];
    let again: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.delivery == first.delivery)
        .collect();
    assert_eq!(again.len(), 2, "{seen:#?}");
    assert_eq!(again[0].body, again[1].body);
    let mut per_deal: std::collections::BTreeMap<String, Vec<(i64, String)>> = Default::default();
    let mut taken: Vec<&Seen> = Vec::new();
    for s in &seen {
        if !taken.iter().any(|t| t.delivery == s.delivery) {
            taken.push(s);
        }
    }
    for s in &taken {
        assert_eq!(s.webhook, "accounting");
        let body: Json = serde_json::from_str(&s.body).expect("a JSON body");
        assert!(
            body["rules_version"].as_i64().is_some_and(|v| v >= 1),
            "{body}"
        );
        // Moments as the API writes them: UTC, to the microsecond.
        let at = body["at"].as_str().expect("at");
        assert!(at.ends_with('Z') && at.len() == 27, "{body}");
        per_deal
            .entry(body["deal"].as_str().expect("deal").to_string())
            .or_default()
            .push((
                body["seq"].as_i64().expect("seq"),
                body["kind"].as_str().expect("kind").to_string(),
            ));
        // Signed: the README's check holds, and fails for a body changed by one byte.
        if let Some(ok) = python_verifies(&s.signature, &s.body) {
            assert!(ok, "the signature holds: {s:?}");
            let forged = s.body.replacen("d", "D", 1);
            assert_eq!(python_verifies(&s.signature, &forged), Some(false));
        }
    }
    for list in per_deal.values_mut() {
        list.sort();
    }
    assert_eq!(
        per_deal["d1"],
        vec![
            (1, "deal_created".to_string()),
            (2, "stage_entered".to_string()),
            (3, "stage_entered".to_string()),
        ],
        "only the kinds asked for, numbered per deal"
    );
    assert_eq!(
        per_deal["d2"],
        vec![
            (1, "deal_created".to_string()),
            (2, "stage_entered".to_string()),
        ]
    );
    // The receiver that is not there: each of its deliveries dead after three attempts.
    eventually(
        "the deliveries nobody takes given up",
        Duration::from_secs(30),
        || async {
            let (_, m) = d
                .send(reqwest::Method::GET, "/metrics", None, None, None)
                .await;
            m.as_str()
                .unwrap_or_default()
                .contains("dealflow_webhook_deliveries_dead_total 2\n")
        },
    )
    .await;
    let (_, m) = d
        .send(reqwest::Method::GET, "/metrics", None, None, None)
        .await;
    let m = m.as_str().expect("text");
    assert!(
        m.contains("dealflow_webhook_deliveries_sent_total 5\n"),
        "{m}"
    );
    // One refusal by the receiver, two failed attempts each for the two that died.
    assert!(
        m.contains("dealflow_webhook_deliveries_failed_total 5\n"),
        "{m}"
    );
    // The deal page lists d1's deliveries: sent ones and the dead one with its error.
    let http = crate::pages::page_client();
    let browser = crate::pages::log_in(&http, &d.base, READ).await;
    let page = http
        .get(format!("{}/deals/d1", d.base))
        .header("cookie", &browser.cookie)
        .send()
        .await
        .expect("the page")
        .text()
        .await
        .expect("html");
    assert!(page.contains("<h2>Вебхуки</h2>"), "{page}");
    assert_eq!(
        page.matches(r#"data-status="sent" data-webhook="accounting""#)
            .count(),
        3,
        "{page}"
    );
    assert!(
        page.contains(r#"data-status="dead" data-webhook="gone" data-seq="1""#),
        "{page}"
    );
}

#[tokio::test]
async fn records_go_to_webhooks_signed_numbered_and_retried() {
    let (port, log) = receiver().await;
    let dir = workdir("webhooks");
    let d = Daemon::start(config(&dir, &extra(port, nobody().await))).await;
    webhooks(&d, &log).await;
    d.stop().await;
}

#[tokio::test]
async fn records_go_to_webhooks_on_postgres() {
    let Some(url) = crate::common::postgres() else {
        crate::common::skipped("webhooks on PostgreSQL: SKIPPED (set DEALFLOW_TEST_POSTGRES)");
        return;
    };
    let (port, log) = receiver().await;
    let dir = workdir("webhooks-postgres");
    let schema = format!("t_webhooks_{}", std::process::id());
    let database = format!("url = \"{url}\"\nschema = \"{schema}\"");
    let d = Daemon::start(config_on(&dir, &database, &extra(port, nobody().await))).await;
    webhooks(&d, &log).await;
    d.stop().await;
    crate::common::drop_schema(&url, &schema).await;
}

#[test]
fn a_webhook_without_a_long_secret_or_with_an_unknown_kind_is_refused_at_start() {
    let dir = workdir("webhooks-config");
    for (hook, says) in [
        (
            "url = \"http://127.0.0.1:9/h\"\nsecret = \"short\"",
            "`secret` must be at least 16 characters long",
        ),
        (
            "url = \"ftp://127.0.0.1/h\"\nsecret = \"0123456789abcdef\"",
            "`url` must be an http or https address",
        ),
        (
            "url = \"http://127.0.0.1:9/h\"\nsecret = \"0123456789abcdef\"\nkinds = [\"stage_enterd\"]",
            "`stage_enterd` is not a history record kind; did you mean `stage_entered`?",
        ),
    ] {
        let file = dir.join("dealflow.toml");
        std::fs::write(
            &file,
            format!("[rules]\nfile = \"web-studio.flow\"\n[[webhooks]]\n{hook}\n"),
        )
        .expect("write");
        let err = dealflow::daemon::Config::load(Some(&file), Vec::new())
            .expect_err("refused")
            .to_string();
        assert!(err.contains(says), "{err}");
    }
}

/// Twelve deals made while one subscription's receiver hangs: the other subscription gets all
/// twelve of its deliveries at once.
async fn a_hanging_receiver_delays_only_its_own(d: &Daemon, log: &Log, held: &Arc<Mutex<usize>>) {
    for i in 0..12 {
        d.lead(&format!("h{i}")).await;
    }
    let made = std::time::Instant::now();
    eventually(
        "the healthy receiver has its twelve deliveries",
        Duration::from_secs(30),
        || async {
            let log = log.lock().expect("lock");
            log.iter().filter(|s| s.webhook == "healthy").count() >= 12
        },
    )
    .await;
    let took = made.elapsed();
    crate::common::skipped(&format!(
        "the healthy receiver had its twelve deliveries {took:?} after the last deal was made"
    ));
    assert!(
        took < Duration::from_secs(5),
        "the healthy receiver waited {took:?} for its deliveries"
    );
    assert!(
        *held.lock().expect("lock") >= 1,
        "the hanging receiver was tried meanwhile"
    );
    let log = log.lock().expect("lock");
    let mut ids: Vec<&str> = log.iter().map(|s| s.delivery.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 12, "each once");
}

fn with_a_hanging_receiver(healthy: u16, hanging: u16) -> String {
    format!(
        r#"[[webhooks]]
name = "slow"
url = "http://127.0.0.1:{hanging}/hooks"
secret = "{SECRET}"
kinds = ["deal_created"]
timeout_s = 60
[[webhooks]]
name = "healthy"
url = "http://127.0.0.1:{healthy}/hooks"
secret = "{SECRET}"
kinds = ["deal_created"]
"#
    )
}

#[tokio::test]
async fn a_hanging_receiver_delays_only_its_own_deliveries() {
    let (port, log) = receiving(false).await;
    let (slow, held) = hanging().await;
    let dir = workdir("webhooks-hanging");
    let d = Daemon::start(config(&dir, &with_a_hanging_receiver(port, slow))).await;
    a_hanging_receiver_delays_only_its_own(&d, &log, &held).await;
    d.stop().await;
}

#[tokio::test]
async fn a_hanging_receiver_delays_only_its_own_deliveries_on_postgres() {
    let Some(url) = crate::common::postgres() else {
        crate::common::skipped(
            "a hanging webhook receiver on PostgreSQL: SKIPPED (set DEALFLOW_TEST_POSTGRES)",
        );
        return;
    };
    let (port, log) = receiving(false).await;
    let (slow, held) = hanging().await;
    let dir = workdir("webhooks-hanging-postgres");
    let schema = format!("t_webhooks_hanging_{}", std::process::id());
    let database = format!("url = \"{url}\"\nschema = \"{schema}\"");
    let d = Daemon::start(config_on(
        &dir,
        &database,
        &with_a_hanging_receiver(port, slow),
    ))
    .await;
    a_hanging_receiver_delays_only_its_own(&d, &log, &held).await;
    d.stop().await;
    crate::common::drop_schema(&url, &schema).await;
}
