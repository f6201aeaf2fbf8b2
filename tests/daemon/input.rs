//! Input the stores cannot keep alike — NUL and other control characters — is refused before
//! any write, with the same answer on SQLite and PostgreSQL: 422 naming the field.

use reqwest::StatusCode;
use serde_json::{Value as Json, json};

use crate::common::daemon::*;

/// Each request with a control character where it does not belong, and what the answer names.
async fn the_nul_matrix(d: &Daemon) {
    let lead = |name: &str| json!({"id": "n1", "title": "Shop", "fields": {"client_name": name, "client_phone": "+79990001122"}});
    let cases: Vec<(&str, Json, &str)> = vec![
        (
            "/api/v1/deals",
            lead("Iv\u{0}an"),
            "`client_name` must not contain control characters (U+0000 at character 3)",
        ),
        (
            "/api/v1/deals",
            lead("Ivan\u{1b}[31m"),
            "`client_name` must not contain control characters (U+001B",
        ),
        (
            "/api/v1/deals",
            json!({"id": "n2", "title": "Sh\u{0}op", "fields": {"client_name": "Ivan"}}),
            "`title` must not contain control characters",
        ),
        (
            "/api/v1/deals",
            json!({"id": "n\u{0}3", "title": "Shop", "fields": {"client_name": "Ivan"}}),
            "a deal id is 1 to 100 Latin letters",
        ),
        (
            "/api/v1/deals",
            json!({"id": "n4", "title": "Shop", "fields": {"client_name": "Ivan", "client_phone": "+7999\t0001122"}}),
            "`client_phone` must not contain control characters (U+0009",
        ),
        (
            "/api/v1/leads",
            json!({"client_name": "Iv\u{0}an", "client_phone": "+79990001122"}),
            "`client_name` must not contain control characters",
        ),
    ];
    for (path, body, said) in cases {
        let token = if path.ends_with("leads") {
            INTAKE
        } else {
            STAFF
        };
        let (status, answer) = d.post(path, token, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(said), "{body}: {answer}");
    }
    // Nothing was stored but the refusals (the id refused by the API's own check is not one).
    let (status, list) = d.get("/api/v1/deals").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["deals"].as_array().map(Vec::len), Some(0), "{list}");
    let (status, refused) = d.get("/api/v1/refusals").await;
    assert_eq!(status, StatusCode::OK, "{refused}");
    let refused = refused.as_array().cloned().unwrap_or_default();
    assert_eq!(refused.len(), 5, "{refused:?}");
    assert!(
        refused.iter().all(|r| r["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("control characters")),
        "{refused:?}"
    );

    // A deal that exists: an event carrying a NUL is refused, the deal stays as it was.
    d.lead("d1").await;
    let before = d.snapshot("d1").await;
    for (event, said) in [
        (
            json!({"name": "call_done", "fields": {"meeting_at": "2027-12-01T12:00", "meeting_place": "Office\u{0}"}}),
            "`meeting_place` must not contain control characters",
        ),
        (
            json!({"name": "call_done", "by": "an\u{0}na", "fields": {"meeting_at": "2027-12-01T12:00", "meeting_place": "Office"}}),
            "`by` must not contain control characters",
        ),
    ] {
        let (status, answer) = d.post("/api/v1/deals/d1/events", STAFF, event).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(said), "{answer}");
        assert_eq!(d.snapshot("d1").await, before);
    }
    // A text that may span lines keeps its tabs and line breaks.
    let (status, answer) = d
        .post(
            "/api/v1/deals",
            STAFF,
            json!({"id": "d2", "title": "Shop", "fields": {"client_name": "Ivan\tPetrov\r\nJr."}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

#[tokio::test]
async fn control_characters_are_refused_alike_on_sqlite() {
    let dir = workdir("nul-sqlite");
    let d = Daemon::start(config(&dir, "")).await;
    the_nul_matrix(&d).await;
    d.stop().await;
}

#[tokio::test]
async fn control_characters_are_refused_alike_on_postgres() {
    let Some(url) = crate::common::postgres() else {
        crate::common::skipped(
            "control characters on PostgreSQL: SKIPPED (set DEALFLOW_TEST_POSTGRES)",
        );
        return;
    };
    let dir = workdir("nul-postgres");
    let schema = format!("t_nul_{}", std::process::id());
    let database = format!("url = \"{url}\"\nschema = \"{schema}\"");
    let d = Daemon::start(config_on(&dir, &database, "")).await;
    the_nul_matrix(&d).await;
    d.stop().await;
    crate::common::drop_schema(&url, &schema).await;
}
