//! The API's document as a client reads it: every link it gives resolves against a real answer
//! of the operation it is on, and what the document's patterns allow for phones and local
//! moments the server takes, what they do not it refuses (Schemathesis runs the same without
//! the project's format hooks, see `schemathesis`).

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::{Value as Json, json};

use crate::common::daemon::*;

async fn send(
    d: &Daemon,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Json,
) -> (StatusCode, Json) {
    d.send(
        method,
        path,
        Some(token),
        Some(("application/json", body.to_string().into_bytes())),
        None,
    )
    .await
}

#[tokio::test]
async fn every_link_in_the_document_resolves_against_a_real_answer() {
    let dir = workdir("document-links");
    let d = Daemon::start(config(&dir, "")).await;
    let (_, doc) = d.get("/api/v1/openapi.json").await;
    use reqwest::Method;
    // A real answer of each operation whose answers link on, keyed by operation and status.
    let mut answers: BTreeMap<(String, String), Json> = BTreeMap::new();
    let mut keep = |op: &str, (status, body): (StatusCode, Json)| {
        assert!(status.is_success(), "{op}: {status} {body}");
        answers.insert((op.to_string(), status.as_u16().to_string()), body);
    };
    keep(
        "createLead",
        send(
            &d,
            Method::POST,
            "/api/v1/leads",
            INTAKE,
            json!({"name": "Ivan", "phone": "+79990001122"}),
        )
        .await,
    );
    let created = send(
        &d,
        Method::POST,
        "/api/v1/deals",
        STAFF,
        json!({"id": "links", "title": "Shop", "fields": {"client_name": "Ivan", "client_phone": "+79990001123"}}),
    )
    .await;
    let task = created.1["deal"]["tasks"][0]["task"]
        .as_str()
        .expect("the deal has a task")
        .to_string();
    keep("createDeal", created);
    keep("getDeal", d.get("/api/v1/deals/links").await);
    keep(
        "editDeal",
        send(
            &d,
            Method::PATCH,
            "/api/v1/deals/links",
            STAFF,
            json!({"fields": {"comment": "a note"}, "by": "anna"}),
        )
        .await,
    );
    keep(
        "sendEvent",
        send(
            &d,
            Method::POST,
            "/api/v1/deals/links/events",
            STAFF,
            call_done(true),
        )
        .await,
    );
    let tasks = format!("/api/v1/deals/links/tasks/{task}");
    keep(
        "workOnTask",
        send(
            &d,
            Method::POST,
            &format!("{tasks}/start"),
            STAFF,
            json!({"by": "anna"}),
        )
        .await,
    );
    keep(
        "logTime",
        send(
            &d,
            Method::POST,
            &format!("{tasks}/log"),
            STAFF,
            json!({"hours": 1.5, "by": "anna"}),
        )
        .await,
    );
    keep(
        "amendTime",
        send(
            &d,
            Method::PATCH,
            "/api/v1/deals/links/time/0",
            STAFF,
            json!({"hours": 1, "by": "anna"}),
        )
        .await,
    );

    // The operations by id, with their parameters.
    let mut operations: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (_, ops) in doc["paths"].as_object().expect("paths") {
        for (_, op) in ops.as_object().expect("operations") {
            if let Some(id) = op["operationId"].as_str() {
                let params = op["parameters"]
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .filter_map(|p| p["name"].as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                operations.insert(id.to_string(), params);
            }
        }
    }
    let mut walked = 0;
    let mut answered = std::collections::BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            let id = op["operationId"].as_str().unwrap_or_default();
            for (status, response) in op["responses"].as_object().into_iter().flatten() {
                let Some(links) = response["links"].as_object() else {
                    continue;
                };
                let answer = answers
                    .get(&(id.to_string(), status.clone()))
                    .unwrap_or_else(|| {
                        panic!(
                            "{method} {path} {status} links on, and no answer of it was made here"
                        )
                    });
                answered.insert((id.to_string(), status.clone()));
                for (name, link) in links {
                    let target = link["operationId"].as_str().expect("an operationId");
                    let params = operations.get(target).unwrap_or_else(|| {
                        panic!("{id} {status} link {name}: no operation `{target}`")
                    });
                    for (param, expr) in link["parameters"].as_object().expect("parameters") {
                        assert!(
                            params.contains(param),
                            "{id} {status} link {name}: `{target}` has no parameter `{param}`"
                        );
                        let pointer = expr
                            .as_str()
                            .and_then(|e| e.strip_prefix("$response.body#"))
                            .unwrap_or_else(|| {
                                panic!("{id} {status} link {name}: {expr} is not a body expression")
                            });
                        let value = answer.pointer(pointer).filter(|v| !v.is_null());
                        assert!(
                            value.is_some(),
                            "{id} {status} link {name}: {expr} does not resolve in the answer {answer}"
                        );
                        walked += 1;
                    }
                    // Following a link to a read gives the deal the answer was about.
                    if matches!(target, "getDeal" | "explainDeal") {
                        let deal = answer
                            .pointer(
                                link["parameters"]["id"]
                                    .as_str()
                                    .unwrap()
                                    .trim_start_matches("$response.body#"),
                            )
                            .unwrap();
                        let id = deal.as_str().unwrap().replace('/', "%2F");
                        let path = if target == "getDeal" {
                            format!("/api/v1/deals/{id}")
                        } else {
                            format!("/api/v1/deals/{id}/explain")
                        };
                        let (status, _) = d.get(&path).await;
                        assert_eq!(status, StatusCode::OK, "{target} {path}");
                    }
                }
            }
        }
    }
    assert_eq!(
        answered.len(),
        answers.len(),
        "every answer made here carries links: {answered:?}"
    );
    assert!(walked > 50, "only {walked} link parameters walked");
    // The first time entry is linked from the answers that surely hold one, and only there.
    let amend = |op: &str, status: &str| {
        doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|o| o.as_object().unwrap().values())
            .find(|o| o["operationId"] == op)
            .unwrap()["responses"][status]["links"]["AmendTime"]
            .clone()
    };
    assert!(amend("logTime", "200").is_object());
    assert!(amend("createDeal", "201").is_null());
    assert!(amend("getDeal", "200").is_null());
    d.stop().await;
}

#[tokio::test]
async fn what_the_patterns_allow_the_server_takes_and_what_they_do_not_it_refuses() {
    let dir = workdir("document-patterns");
    let d = Daemon::start(config(&dir, "")).await;
    let (_, doc) = d.get("/api/v1/openapi.json").await;
    let fields = &doc["paths"]["/api/v1/deals"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"]["properties"]["fields"]["properties"];
    // A validator that knows JSON Schema's standard formats (`date-time`) and none of the
    // document's own (`phone`, `local-date-time`): for those only the patterns speak.
    let standard = |schema: &Json| {
        jsonschema::options()
            .should_validate_formats(true)
            .build(schema)
            .expect("the schema compiles")
    };
    assert!(
        standard(&json!({"format": "phone"})).is_valid(&json!("not a phone")),
        "unknown formats say nothing"
    );
    let phone = standard(&fields["client_phone"]);
    let moment = standard(&fields["meeting_at"]);
    // A required text must show something: not spaces, nor characters that take no room.
    let name = standard(&fields["client_name"]);
    let mut n = 0;
    for (field, value, validator) in [
        ("client_phone", "+7 (916) 123-45-67", &phone),
        ("client_phone", "8 916 123-45-67", &phone),
        ("client_phone", "(916) 123 45 67", &phone),
        ("client_phone", "+375 29 123-45-67", &phone),
        ("client_phone", "+7 916", &phone),
        ("client_phone", "", &phone),
        ("client_phone", "+7\u{1f}9161234567", &phone),
        ("client_phone", "8-800-FLOWERS", &phone),
        ("client_phone", "+999 123 4567", &phone),
        ("meeting_at", "2027-12-01T12:00", &moment),
        ("meeting_at", "2027-12-01 12:00", &moment),
        ("meeting_at", "2027-12-01T12:00:30", &moment),
        ("meeting_at", "2027-12-01T12:00:00+03:00", &moment),
        ("meeting_at", "1990-03-25T02:30", &moment),
        // With an offset, as JSON Schema's `date-time` writes it: `T`, never a space, and a
        // leap second only at the last minute of a UTC day.
        ("meeting_at", "2027-12-01 12:00:00+03:00", &moment),
        ("meeting_at", "2027-12-01 12:00:00Z", &moment),
        ("meeting_at", "2027-12-01T12:00:60Z", &moment),
        ("meeting_at", "2016-12-31T23:59:60Z", &moment),
        ("meeting_at", "2017-01-01T02:59:60+03:00", &moment),
        ("meeting_at", "2027-12-01t12:00:00z", &moment),
        ("meeting_at", "", &moment),
        ("meeting_at", "2027-02-29T12:00", &moment),
        ("meeting_at", "2027-12-01T25:00", &moment),
        ("meeting_at", "next week", &moment),
        ("client_name", "Ivan", &name),
        ("client_name", " ", &name),
        ("client_name", "\u{AD}", &name),
        ("client_name", "\u{200B}\u{FEFF}", &name),
        ("client_name", "\u{85}", &name),
        ("client_name", "\u{AD}Ivan", &name),
    ] {
        n += 1;
        let allowed = validator.is_valid(&json!(value));
        let mut f = json!({"client_name": "Ivan"});
        f[field] = json!(value);
        if field == "meeting_at" {
            f["meeting_place"] = json!("Office");
        }
        let (status, body) = d
            .post(
                "/api/v1/deals",
                STAFF,
                json!({"id": format!("p{n}"), "title": "Shop", "fields": f}),
            )
            .await;
        let taken = status == StatusCode::CREATED;
        assert_eq!(
            taken, allowed,
            "{field} = {value:?}: the document says {allowed}, the server answered {status} {body}"
        );
    }
    d.stop().await;
}
