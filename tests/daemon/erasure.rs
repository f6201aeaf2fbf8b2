//! An erasure leaves nothing of the client: after a website lead refused and then made, its
//! messages sent, its phone and email edited, webhooks delivered and an idempotent answer kept,
//! `DELETE …/personal-data` leaves no byte of the client's name, phones or email in the SQLite
//! file and its log (read raw), or in any text column of any PostgreSQL table; every webhook
//! subscription whose filter takes `personal_data_erased` is told.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value as Json, json};

use super::pages::FormBody;
use crate::common::daemon::*;

const NAME: &str = "Ирина Смирнова";
const PHONE_TYPED: &str = "+7 916 555-44-33";
const PHONE: &str = "+79165554433";
const PHONE_2: &str = "+79165554499";
const EMAIL: &str = "irina.smirnova@shop.test";
const EMAIL_2: &str = "smirnova.i@mail.test";

/// Every trace of the client a byte scan looks for: the name, its first word, the phones as
/// stored, as digits and as typed, the emails.
fn traces() -> Vec<String> {
    let digits = |p: &str| p.trim_start_matches('+').to_string();
    vec![
        NAME.into(),
        "Смирнова".into(),
        PHONE.into(),
        digits(PHONE),
        PHONE_TYPED.into(),
        PHONE_2.into(),
        digits(PHONE_2),
        EMAIL.into(),
        EMAIL_2.into(),
        // The phone as a person typed it into a comment.
        "8 916 555 44 33".into(),
    ]
}

type Log = Arc<Mutex<Vec<(String, Json)>>>;

/// A webhook receiver on loopback: every delivery's subscription and body.
async fn receiver() -> (u16, Log) {
    async fn take(
        axum::extract::State(log): axum::extract::State<Log>,
        headers: axum::http::HeaderMap,
        body: String,
    ) -> StatusCode {
        let hook = headers
            .get("dealflow-webhook")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = serde_json::from_str(&body).unwrap_or(Json::Null);
        log.lock().expect("lock").push((hook, body));
        StatusCode::OK
    }
    let log: Log = Arc::default();
    let app = axum::Router::new()
        .route("/hooks", axum::routing::post(take))
        .with_state(log.clone());
    (gateway(app).await, log)
}

fn extra(port: u16) -> String {
    format!(
        r#"[[forms]]
key = "contact-main"
title = "name"
[forms.fields]
name = "client_name"
phone = "client_phone"
email = "client_email"
[[webhooks]]
name = "everything"
url = "http://127.0.0.1:{port}/hooks"
secret = "whsec-0123456789abcdef"
[[webhooks]]
name = "crm"
url = "http://127.0.0.1:{port}/hooks"
secret = "whsec-0123456789abcdef"
kinds = ["deal_created", "personal_data_erased"]
[[webhooks]]
name = "stages"
url = "http://127.0.0.1:{port}/hooks"
secret = "whsec-0123456789abcdef"
kinds = ["stage_entered"]
"#
    )
}

/// The client's whole life before the erasure; the deal's id.
async fn a_client_lives(d: &Daemon, log: &Log) -> String {
    let http = super::pages::page_client();
    let form = |fields: Vec<(&'static str, &'static str)>| {
        http.post(format!("{}/f/contact-main", d.base))
            .header("accept", "application/json")
            .form_body(&fields)
            .send()
    };
    // First without a name: refused, kept with her phone and email.
    let r = form(vec![("name", ""), ("phone", PHONE_TYPED), ("email", EMAIL)])
        .await
        .expect("answer");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Then with it, through the API's intake with an idempotency key (its answer is kept).
    let body = json!({"name": NAME, "phone": PHONE_TYPED, "email": EMAIL});
    let (status, made) = d
        .send(
            reqwest::Method::POST,
            "/api/v1/leads",
            Some(INTAKE),
            Some(("application/json", body.to_string().into_bytes())),
            Some("irina-lead-1"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let id = made["id"].as_str().expect("an id").to_string();
    // Her phone and email change by an edit (the history keeps the old ones beside).
    let (status, body) = d
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/deals/{id}"),
            Some(STAFF),
            Some((
                "application/json",
                json!({"fields": {"client_phone": PHONE_2, "client_email": EMAIL_2}})
                    .to_string()
                    .into_bytes(),
            )),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A comment quotes her name and her phone as someone typed it.
    let comment = format!("{NAME} просит перезвонить на 8 916 555 44 33");
    let (status, body) = d
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/deals/{id}"),
            Some(STAFF),
            Some((
                "application/json",
                json!({"fields": {"comment": comment}})
                    .to_string()
                    .into_bytes(),
            )),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The meeting is booked: its SMS and email go out too.
    let (status, body) = d
        .post(
            &format!("/api/v1/deals/{id}/events"),
            STAFF,
            call_done(true),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // She signs a contract: a deal of its own, with her fields copied and her name in its
    // comment.
    let (status, body) = d
        .post(
            &format!("/api/v1/deals/{id}/events"),
            STAFF,
            json!({"name": "meeting_held"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let contract = json!({"title": "Сайт", "amount": 100000, "project_manager": "petr",
        "comment": format!("клиент {NAME}"), "work_days": 5, "sold_hours": 20, "prepayment": true});
    let (status, body) = d
        .post(
            &format!("/api/v1/deals/{id}/events"),
            STAFF,
            json!({"name": "contracts_signed", "fields": {"contracts": [contract]}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eventually("the messages go out", Duration::from_secs(20), || async {
        let out = d.outbox().await;
        let to_her = |m: &&dealflow::store::Queued| m.to == PHONE_2 || m.to == EMAIL_2;
        out.iter().filter(to_her).count() >= 2 && out.iter().all(|m| m.status != "pending")
    })
    .await;
    eventually(
        "webhooks are delivered",
        Duration::from_secs(20),
        || async {
            log.lock()
                .expect("lock")
                .iter()
                .any(|(_, b)| b.to_string().contains(PHONE))
        },
    )
    .await;
    id
}

/// Erases, then waits for the subscriptions to be told.
async fn erase(d: &Daemon, log: &Log, id: &str) {
    let (status, body) = d
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/deals/{id}/personal-data"),
            Some(STAFF),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eventually(
        "the subscriptions that take it hear of the erasure",
        Duration::from_secs(20),
        || async {
            let told: Vec<String> = log
                .lock()
                .expect("lock")
                .iter()
                .filter(|(_, b)| b["kind"] == "personal_data_erased")
                .map(|(h, _)| h.clone())
                .collect();
            told.contains(&"everything".to_string()) && told.contains(&"crm".to_string())
        },
    )
    .await;
    let told = log.lock().expect("lock").clone();
    assert!(
        !told
            .iter()
            .any(|(h, b)| h == "stages" && b["kind"] == "personal_data_erased"),
        "a subscription that does not take it is not told"
    );
    let erased = told
        .iter()
        .find(|(_, b)| b["kind"] == "personal_data_erased")
        .map(|(_, b)| b.clone())
        .expect("told");
    assert_eq!(erased["deal"], id);
    // Her refused request is settled with the erasure: nobody is to call her back.
    let (_, refused) = d.get("/api/v1/refusals").await;
    assert!(
        refused
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["origin"].is_string()),
        "{refused}"
    );
    let mut tx = d.running().core().store().read().await.unwrap();
    assert_eq!(tx.unsettled_leads_count().await.unwrap(), 0);
    drop(tx);
    // Erasing again changes nothing and records nothing more.
    let (status, _) = d
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/deals/{id}/personal-data"),
            Some(STAFF),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, deal) = d.get(&format!("/api/v1/deals/{id}")).await;
    let records = deal["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "personal_data_erased")
        .count();
    assert_eq!(records, 1, "{deal}");
    for t in traces() {
        assert!(!erased.to_string().contains(&t), "{t} in {erased}");
    }
}

/// Every trace found in `bytes`.
fn found_in(bytes: &[u8]) -> Vec<String> {
    traces()
        .into_iter()
        .filter(|t| bytes.windows(t.len()).any(|w| w == t.as_bytes()))
        .collect()
}

#[tokio::test]
async fn an_erased_client_leaves_no_byte_in_the_sqlite_file() {
    let (port, log) = receiver().await;
    let dir = day_and_night(workdir("erasure-sqlite"));
    let d = Daemon::start(config(&dir, &extra(port))).await;
    let id = a_client_lives(&d, &log).await;
    let file = dir.join("dealflow.db");
    let raw = || {
        let mut bytes = std::fs::read(&file).expect("the database file");
        if let Ok(wal) = std::fs::read(dir.join("dealflow.db-wal")) {
            bytes.extend(wal);
        }
        bytes
    };
    assert!(
        found_in(&raw()).contains(&PHONE.to_string()),
        "the scan sees what is there before"
    );
    erase(&d, &log, &id).await;
    d.stop().await;
    let left = found_in(&raw());
    assert!(left.is_empty(), "left in the SQLite file: {left:?}");
}

#[tokio::test]
async fn an_erased_client_leaves_nothing_in_any_postgresql_table() {
    let Some(url) = crate::common::postgres() else {
        crate::common::skipped("erasure on PostgreSQL: SKIPPED (set DEALFLOW_TEST_POSTGRES)");
        return;
    };
    let (port, log) = receiver().await;
    let dir = day_and_night(workdir("erasure-postgres"));
    let schema = format!("t_erasure_{}", std::process::id());
    let database = format!("url = \"{url}\"\nschema = \"{schema}\"");
    let d = Daemon::start(config_on(&dir, &database, &extra(port))).await;
    let id = a_client_lives(&d, &log).await;
    let pool = sqlx::PgPool::connect(&url).await.expect("postgres");
    let before = left_in(&pool, &schema).await;
    assert!(
        before.iter().any(|l| l.starts_with("deals.")) && before.len() > 10,
        "the scan sees what is there before: {before:?}"
    );
    erase(&d, &log, &id).await;
    d.stop().await;
    let left = left_in(&pool, &schema).await;
    pool.close().await;
    crate::common::drop_schema(&url, &schema).await;
    assert!(left.is_empty(), "left in PostgreSQL: {left:?}");
}

/// Every text column of every table in the schema that holds a trace: `table.column: trace`.
async fn left_in(pool: &sqlx::PgPool, schema: &str) -> Vec<String> {
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = $1 AND data_type IN ('text', 'character varying')",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .expect("columns");
    assert!(columns.len() > 30, "{columns:?}");
    let mut left = Vec::new();
    for (table, column) in &columns {
        for t in traces() {
            let q = format!(
                "SELECT COUNT(*) FROM \"{schema}\".\"{table}\" WHERE strpos(\"{column}\", $1) > 0"
            );
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(q))
                .bind(&t)
                .fetch_one(pool)
                .await
                .expect("count");
            if n > 0 {
                left.push(format!("{table}.{column}: {t}"));
            }
        }
    }
    left
}
