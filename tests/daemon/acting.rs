//! Who did it, as the history says it and nobody can forge: a person's token acts as that
//! person, names another only where `act_for` lets it (then the history records both), an
//! integration's token is named beside what it did, the pages offer "who" only to those who may
//! act for others, and every edit keeps the value it replaced.

use reqwest::StatusCode;
use serde_json::{Value as Json, json};

use super::pages::{log_in, page_client, send_form};
use crate::common::daemon::*;

const PEOPLE: &str = r#"
[[tokens]]
token = "anna-token-1"
scope = "staff"
person = "anna"
[[tokens]]
token = "petr-lead-token-1"
scope = "staff"
person = "petr"
act_for = ["olga"]
[[tokens]]
token = "old-crm-token-1"
scope = "staff"
name = "old crm"
[[tokens]]
token = "olga-token-1"
scope = "staff"
person = "olga"
"#;

/// The history records of a deal whose kind is `kind`, as the API shows them.
fn records<'a>(deal: &'a Json, kind: &str) -> Vec<&'a Json> {
    deal["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter(|r| r["kind"] == kind)
        .collect()
}

#[tokio::test]
async fn a_persons_token_acts_as_that_person_and_the_history_says_who_acted_for_whom() {
    let dir = workdir("acting-api");
    let d = Daemon::start(config(&dir, PEOPLE)).await;
    d.lead("shop").await;
    let before = d.snapshot("shop").await;

    // Anna's token naming Petr is refused, and nothing is written.
    let mut forged = call_done(true);
    forged["by"] = json!("petr");
    let (status, body) = d
        .post("/api/v1/deals/shop/events", "anna-token-1", forged.clone())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "acts_as", "{body}");
    assert_eq!(
        body["error"]["message"], "this token acts as anna",
        "{body}"
    );
    assert_eq!(d.snapshot("shop").await, before, "nothing changed");
    // The same for work on a task and an edit.
    let (status, _) = d
        .post(
            "/api/v1/deals/shop/tasks/call_client/log",
            "anna-token-1",
            json!({"hours": 1, "by": "petr"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let patch = |token: &'static str, body: Json| {
        d.send(
            reqwest::Method::PATCH,
            "/api/v1/deals/shop",
            Some(token),
            Some(("application/json", body.to_string().into_bytes())),
            None,
        )
    };
    let (status, _) = patch(
        "anna-token-1",
        json!({"fields": {"source": "fair"}, "by": "petr"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(d.snapshot("shop").await, before, "nothing changed");

    // Naming herself, or no one, is Anna.
    let mut own = call_done(true);
    own["by"] = json!("anna");
    let (status, body) = d
        .post("/api/v1/deals/shop/events", "anna-token-1", own)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Petr may act for Olga: the event is hers, and the history says it came through Petr.
    let (status, body) = d
        .post(
            "/api/v1/deals/shop/tasks/book_meeting/log",
            "petr-lead-token-1",
            json!({"hours": 0.5, "by": "olga"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = d
        .post(
            "/api/v1/deals/shop/tasks/book_meeting/log",
            "petr-lead-token-1",
            json!({"hours": 0.5, "by": "anna"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "olga only");

    // An integration's token names anyone; its name is kept beside.
    let (status, body) = d
        .post(
            "/api/v1/deals/shop/events",
            "old-crm-token-1",
            json!({"name": "meeting_held", "by": "petr"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (_, deal) = d.get("/api/v1/deals/shop").await;
    let events = deal["events"].as_array().expect("events");
    assert_eq!(
        events
            .iter()
            .map(|e| (e["name"].clone(), e["by"].clone(), e["via"].clone()))
            .collect::<Vec<_>>(),
        vec![
            (json!("call_done"), json!("anna"), Json::Null),
            (json!("meeting_held"), json!("petr"), json!("old crm")),
        ],
        "{deal}"
    );
    let logged = records(&deal, "time_logged");
    assert_eq!(logged.len(), 1, "{deal}");
    assert_eq!(
        (&logged[0]["by"], &logged[0]["via"]),
        (&json!("olga"), &json!("petr"))
    );
    let applied = records(&deal, "event_applied");
    assert_eq!(applied[0].get("via"), None, "{deal}");
    assert_eq!(applied[1]["via"], "old crm", "{deal}");
    // Every record of a step names who it was done by, also those that name no one of their
    // own (what a webhook receiver gets, without the history's cause).
    assert!(
        records(&deal, "stage_entered")
            .iter()
            .any(|r| r["stage"] == "meeting" && r["by"] == "anna" && r.get("via").is_none()),
        "{deal}"
    );
    // Every record of a step says it, not only the event's own.
    assert!(
        records(&deal, "stage_entered")
            .iter()
            .any(|r| r["stage"] == "contract" && r["via"] == "old crm"),
        "{deal}"
    );
    // The story tells it too.
    let (_, story) = d.get("/api/v1/deals/shop/explain").await;
    let steps = story["steps"].as_array().expect("steps");
    assert!(
        steps
            .iter()
            .any(|s| s["by"] == "olga" && s["via"] == "petr"),
        "{story}"
    );

    // A refused request by a token of no one keeps its name too.
    let (status, _) = d
        .post(
            "/api/v1/deals/shop/events",
            "old-crm-token-1",
            json!({"name": "invoice_sent", "fields": {"invoice_due": "2030-01-01"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, refused) = d.get("/api/v1/refusals?deal=shop").await;
    assert_eq!(refused[0]["via"], "old crm", "{refused}");
    d.stop().await;
}

#[tokio::test]
async fn every_edit_keeps_the_value_it_replaced() {
    let dir = workdir("acting-edits");
    let d = Daemon::start(config(&dir, PEOPLE)).await;
    d.lead("shop").await;
    let patch = |body: Json| {
        d.send(
            reqwest::Method::PATCH,
            "/api/v1/deals/shop",
            Some("anna-token-1"),
            Some(("application/json", body.to_string().into_bytes())),
            None,
        )
    };
    let (status, body) = patch(json!({"fields": {"client_phone": "+79990001133"}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = patch(json!({"fields": {"source": "fair"}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = patch(json!({"fields": {"source": null}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, deal) = d.get("/api/v1/deals/shop").await;
    let edits: Vec<(Json, Json, Json)> = records(&deal, "field_set")
        .into_iter()
        .filter(|r| r.get("from").is_some())
        .map(|r| {
            assert_eq!(r["by"], "anna", "an edit says who made it: {r}");
            (r["field"].clone(), r["from"].clone(), r["value"].clone())
        })
        .collect();
    assert_eq!(
        edits,
        vec![
            (
                json!("client_phone"),
                json!("+79990001122"),
                json!("+79990001133")
            ),
            (json!("source"), Json::Null, json!("fair")),
            (json!("source"), json!("fair"), Json::Null),
        ],
        "{deal}"
    );
    // The fields the deal was created with are not edits: no `from`.
    assert!(
        records(&deal, "field_set")
            .iter()
            .any(|r| r["field"] == "client_name" && r.get("from").is_none()),
        "{deal}"
    );
    d.stop().await;
}

#[tokio::test]
async fn the_pages_offer_who_only_to_those_who_may_act_for_others() {
    let dir = workdir("acting-pages");
    let d = Daemon::start(config(&dir, PEOPLE)).await;
    d.lead("shop").await;
    let http = page_client();
    let url = format!("{}/deals/shop", d.base);
    let page = |cookie: String| {
        let http = http.clone();
        let url = url.clone();
        async move {
            http.get(url)
                .header("cookie", cookie)
                .send()
                .await
                .expect("the daemon answers")
                .text()
                .await
                .expect("a page")
        }
    };
    // Anna acts only as herself: no choice of who.
    let anna = log_in(&http, &d.base, "anna-token-1").await;
    let html = page(anna.cookie.clone()).await;
    assert!(!html.contains(r#"name="_by""#), "no `who` for Anna");
    // A forged `_by` from her session is refused and changes nothing.
    let before = d.snapshot("shop").await;
    let r = send_form(
        &http,
        &format!("{}/deals/shop/tasks/call_client/log", d.base),
        &anna,
        &[("hours", "1"), ("_by", "petr")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let text = r.text().await.unwrap_or_default();
    assert!(text.contains("anna"), "{text}");
    assert_eq!(d.snapshot("shop").await, before);
    // Petr may act for Olga: the choice holds exactly the two of them, himself first chosen.
    let petr = log_in(&http, &d.base, "petr-lead-token-1").await;
    let html = page(petr.cookie.clone()).await;
    let select = html
        .split(r#"name="_by""#)
        .nth(1)
        .and_then(|s| s.split("</select>").next())
        .expect("a choice of who");
    let offered: Vec<&str> = select
        .split(r#"value=""#)
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert_eq!(offered, ["petr", "olga"], "{select}");
    let r = send_form(
        &http,
        &format!("{}/deals/shop/tasks/call_client/log", d.base),
        &petr,
        &[("hours", "1"), ("_by", "olga")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, deal) = d.get("/api/v1/deals/shop").await;
    let logged = records(&deal, "time_logged");
    assert_eq!(
        (&logged[0]["by"], &logged[0]["via"]),
        (&json!("olga"), &json!("petr")),
        "{deal}"
    );
    // The deal page says it too, in the page's language.
    let html = page(petr.cookie.clone()).await;
    assert!(html.contains("(через petr)"), "the deal page names Petr");
    d.stop().await;
}

#[tokio::test]
async fn a_timer_of_one_person_stopped_by_another_says_who_stopped_it() {
    let dir = workdir("acting-timers");
    let d = Daemon::start(config(&dir, PEOPLE)).await;
    d.lead("shop").await;
    let (status, body) = d
        .post(
            "/api/v1/deals/shop/tasks/call_client/start",
            "anna-token-1",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Olga finishes the task while Anna's timer runs on it: Anna's time is logged, and the
    // history says it was Olga who stopped it and finished the task.
    let (status, body) = d
        .post(
            "/api/v1/deals/shop/tasks/call_client/done",
            "olga-token-1",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, deal) = d.get("/api/v1/deals/shop").await;
    let stopped = records(&deal, "timer_stopped");
    assert_eq!(
        (&stopped[0]["by"], &stopped[0]["via"]),
        (&json!("anna"), &json!("olga")),
        "{deal}"
    );
    let done = records(&deal, "task_done");
    assert_eq!(done[0]["by"], "olga", "{deal}");
    d.stop().await;
}
