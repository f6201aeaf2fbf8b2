//! Validation a user expects: phones kept in E.164 (read with the pipeline's `country`), text
//! that is no phone or email refused naming the field, deal ids from a safe alphabet, and the
//! dashboard's form values read by their declared type.

use reqwest::StatusCode;
use serde_json::json;

use super::pages::log_in;
use crate::common::daemon::*;

#[tokio::test]
async fn phones_emails_and_ids_are_checked_and_kept_one_way() {
    let dir = workdir("valid");
    // Phones written without a country code are Russian here (the reference says `country RU`).
    let d = Daemon::start(config(&dir, "")).await;
    let deal = |id: &str, phone: &str, email: &str| json!({"id": id, "title": "Shop", "fields": {"client_name": "Ivan", "client_phone": phone, "client_email": email}});
    // Written with its country code or without (the pipeline says `country RU`): E.164.
    for (id, typed) in [
        ("p1", "+7 (916) 123-45-67"),
        ("p2", "8 916 123 45 67"),
        ("p3", "+70000000001"),
    ] {
        let (status, body) = d
            .post("/api/v1/deals", STAFF, deal(id, typed, "ivan@shop.test"))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{typed}: {body}");
        let want = if id == "p3" {
            "+70000000001"
        } else {
            "+79161234567"
        };
        assert_eq!(body["deal"]["fields"]["client_phone"], want, "{typed}");
    }
    // The website form too.
    let (status, body) = d
        .lead_form(
            INTAKE,
            b"name=Oleg&phone=8+(916)+123-45-67&client_email=oleg%40shop.test",
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["deal"]["fields"]["client_phone"], "+79161234567",
        "{body}"
    );
    // Not a phone, not an email: refused, naming the field, nothing stored.
    for (id, phone, email, said) in [
        (
            "b1",
            "nope",
            "ivan@shop.test",
            "`client_phone` must be a phone number, not `nope`",
        ),
        (
            "b2",
            "+7 916",
            "ivan@shop.test",
            "`client_phone` must be a phone number",
        ),
        (
            "b3",
            "+79161234567",
            "nope",
            "`client_email` must be an email address",
        ),
        (
            "b4",
            "+79161234567",
            "ivan@",
            "`client_email` must be an email address",
        ),
    ] {
        let (status, body) = d.post("/api/v1/deals", STAFF, deal(id, phone, email)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(said),
            "{body}"
        );
        let (status, _) = d.get(&format!("/api/v1/deals/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    // Ids are paths on the pages: no part may be empty, `.` or `..`.
    for id in [".", "..", "a/../b", "a//b", "/a", "a/", "a b"] {
        let (status, body) = d
            .post(
                "/api/v1/deals",
                STAFF,
                json!({"id": id, "title": "x", "fields": {"client_name": "x"}}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{id:?}: {body}");
        assert_eq!(body["error"]["code"], "bad_id", "{id:?}");
    }
    let (status, _) = d
        .post(
            "/api/v1/deals",
            STAFF,
            json!({"id": "ivan/1.2", "title": "x", "fields": {"client_name": "x"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // A comment that starts with `[` is a comment, not JSON.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let b = log_in(&http, &d.base, STAFF).await;
    let form = [
        ("_csrf", b.csrf.as_str()),
        ("_key", "lost-1"),
        ("_event", "lost"),
        ("comment", "[draft] client will call back"),
    ];
    let r = http
        .post(format!("{}/deals/p1/events", d.base))
        .header("cookie", &b.cookie)
        .header("origin", &b.origin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/deals/p1?done=1");
    let (_, p1) = d.get("/api/v1/deals/p1").await;
    assert_eq!(
        p1["fields"]["comment"], "[draft] client will call back",
        "{p1}"
    );
    d.stop().await;
}
