//! The API's answers and errors, idempotency, the website form and history, the description
//! of itself.

use reqwest::StatusCode;
use serde_json::{Value as Json, json};

use crate::common::daemon::*;

#[tokio::test]
async fn bad_requests_get_the_right_status_and_change_nothing() {
    let dir = workdir("matrix");
    let d = Daemon::start(config(&dir, "")).await;
    d.lead("d1").await;
    let before = d.snapshot("d1").await;
    let ev = "/api/v1/deals/d1/events";
    let good = call_done(true).to_string().into_bytes();
    let post = reqwest::Method::POST;
    let json_ct = "application/json";
    let cases: Vec<(&str, StatusCode, (StatusCode, Json))> = vec![
        ("no token", StatusCode::UNAUTHORIZED,
            d.send(post.clone(), ev, None, Some((json_ct, good.clone())), None).await),
        ("wrong token", StatusCode::UNAUTHORIZED,
            d.send(post.clone(), ev, Some("not-a-token-at-all"), Some((json_ct, good.clone())), None).await),
        ("read token posts", StatusCode::FORBIDDEN,
            d.send(post.clone(), ev, Some(READ), Some((json_ct, good.clone())), None).await),
        ("intake token sends an event", StatusCode::FORBIDDEN,
            d.send(post.clone(), ev, Some(INTAKE), Some((json_ct, good.clone())), None).await),
        ("oversized", StatusCode::PAYLOAD_TOO_LARGE,
            d.send(post.clone(), ev, Some(STAFF), Some((json_ct, vec![b' '; 10_000])), None).await),
        ("not JSON", StatusCode::UNSUPPORTED_MEDIA_TYPE,
            d.send(post.clone(), ev, Some(STAFF), Some(("text/plain", good.clone())), None).await),
        ("broken JSON", StatusCode::BAD_REQUEST,
            d.send(post.clone(), ev, Some(STAFF), Some((json_ct, b"{\"name\": ".to_vec())), None).await),
        ("wrong shape", StatusCode::UNPROCESSABLE_ENTITY,
            d.post(ev, STAFF, json!({"name": 5})).await),
        ("wrong type", StatusCode::UNPROCESSABLE_ENTITY,
            d.post(ev, STAFF, json!({"name": "call_done", "fields": {"meeting_at": "next week", "meeting_place": "Office"}})).await),
        ("unknown deal", StatusCode::NOT_FOUND,
            d.post("/api/v1/deals/nobody/events", STAFF, call_done(true)).await),
        ("unknown event", StatusCode::UNPROCESSABLE_ENTITY,
            d.post(ev, STAFF, json!({"name": "call_dnoe"})).await),
        ("event the stage does not expect", StatusCode::CONFLICT,
            d.post(ev, STAFF, json!({"name": "payment_received"})).await),
        // The deal is not ready for the stage: set its fields first.
        ("missing required fields", StatusCode::CONFLICT,
            d.post(ev, STAFF, call_done(false)).await),
        ("unknown task action", StatusCode::NOT_FOUND,
            d.post("/api/v1/deals/d1/tasks/call_client/finish", STAFF, json!({})).await),
        ("negative hours", StatusCode::UNPROCESSABLE_ENTITY,
            d.post("/api/v1/deals/d1/tasks/call_client/log", STAFF, json!({"hours": -2, "by": "anna"})).await),
        ("a deal id taken", StatusCode::CONFLICT,
            d.post("/api/v1/deals", STAFF, json!({"id": "d1", "title": "again", "fields": {"client_name": "X"}})).await),
        ("a deal without its required field", StatusCode::UNPROCESSABLE_ENTITY,
            d.post("/api/v1/deals", STAFF, json!({"title": "no name"})).await),
        ("a field the pipeline does not have", StatusCode::UNPROCESSABLE_ENTITY,
            d.post("/api/v1/deals", STAFF, json!({"title": "x", "fields": {"client_name": "X", "colour": "red"}})).await),
        ("an event carrying what it does not declare", StatusCode::UNPROCESSABLE_ENTITY,
            d.post(ev, STAFF, json!({"name": "lost", "fields": {"amount": 5}})).await),
        ("a deal at a stage that does not exist", StatusCode::UNPROCESSABLE_ENTITY,
            d.post("/api/v1/deals", STAFF, json!({"title": "x", "stage": "nowhere", "fields": {"client_name": "X"}})).await),
        ("a website form as plain text", StatusCode::UNSUPPORTED_MEDIA_TYPE,
            d.send(post.clone(), "/api/v1/leads", Some(INTAKE), Some(("text/plain", b"name=x".to_vec())), None).await),
        ("no such path", StatusCode::NOT_FOUND,
            d.send(reqwest::Method::GET, "/api/v1/nothing", Some(READ), None, None).await),
    ];
    for (what, want, (got, body)) in &cases {
        assert_eq!(got, want, "{what}: {body}");
        if *got != StatusCode::NOT_FOUND || body.is_object() {
            let msg = body["error"]["message"].as_str().unwrap_or("");
            assert!(!msg.is_empty(), "{what}: the error has no message: {body}");
        }
    }
    // The pipeline's own words.
    let by = |what: &str| &cases.iter().find(|c| c.0 == what).expect("case").2.1;
    assert!(
        by("unknown event")["error"]["message"]
            .as_str()
            .unwrap()
            .contains("call_dnoe")
    );
    assert!(
        by("missing required fields")["error"]["message"]
            .as_str()
            .unwrap()
            .contains("meeting_place")
    );
    assert!(
        by("event the stage does not expect")["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`lead`")
    );
    assert!(
        by("a field the pipeline does not have")["error"]["message"]
            .as_str()
            .unwrap()
            .contains("colour")
    );
    assert!(
        by("wrong type")["error"]["message"]
            .as_str()
            .unwrap()
            .contains("meeting_at")
    );
    assert_eq!(
        d.snapshot("d1").await,
        before,
        "a bad request changed the database"
    );
    d.stop().await;
}

#[tokio::test]
async fn a_retry_with_the_same_key_gets_the_first_answer_and_changes_nothing() {
    let dir = workdir("idem");
    let d = Daemon::start(config(&dir, "")).await;
    d.lead("d1").await;
    let body = call_done(true).to_string().into_bytes();
    let send = |key: &'static str, body: Vec<u8>| {
        d.send(
            reqwest::Method::POST,
            "/api/v1/deals/d1/events",
            Some(STAFF),
            Some(("application/json", body)),
            Some(key),
        )
    };
    let first = send("k-1", body.clone()).await;
    assert_eq!(first.0, StatusCode::OK, "{}", first.1);
    let after_first = d.snapshot("d1").await;
    let again = send("k-1", body.clone()).await;
    assert_eq!(again, first, "a retry got another answer");
    assert_eq!(
        d.snapshot("d1").await,
        after_first,
        "a retry changed something"
    );
    // The same key for another request is an error, not a replay.
    let other = send("k-1", call_done(false).to_string().into_bytes()).await;
    assert_eq!(other.0, StatusCode::CONFLICT, "{}", other.1);
    assert_eq!(other.1["error"]["code"], "idempotency_key_reused");
    // Without the key the same event is a new request: the deal is no longer in `lead`.
    let plain = d
        .post("/api/v1/deals/d1/events", STAFF, call_done(true))
        .await;
    assert_eq!(plain.0, StatusCode::CONFLICT, "{}", plain.1);
    d.stop().await;
}

#[tokio::test]
async fn a_website_form_becomes_a_lead_and_the_deal_shows_why_each_step_happened() {
    let dir = workdir("lead");
    let d = Daemon::start(config(&dir, "")).await;
    let (status, created) = d.lead_form(INTAKE, b"name=%D0%98%D0%B2%D0%B0%D0%BD&phone=%2B79990001122&client_email=ivan%40shop.test&submit=Send").await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    // An input name no page has (a control character in it, as Schemathesis sent one) is
    // refused as the API document says.
    let (refused, why) = d.lead_form(INTAKE, b"%C2%8B%3E=0&client_name=Petr").await;
    assert_eq!(refused, StatusCode::BAD_REQUEST, "{why}");
    assert_eq!(why["error"]["code"], "bad_form", "{why}");
    let id = created["id"].as_str().expect("an id").to_string();
    let deal = &created["deal"];
    assert_eq!(deal["title"], "Иван");
    assert_eq!(deal["fields"]["client_name"], "Иван");
    assert_eq!(deal["fields"]["client_phone"], "+79990001122");
    assert_eq!(deal["fields"]["client_email"], "ivan@shop.test");
    assert_eq!(deal["stages"], json!(["lead"]));
    assert_eq!(deal["phases"], json!(["presale"]));
    let tasks: Vec<&str> = deal["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task"].as_str().unwrap())
        .collect();
    assert_eq!(tasks, ["call_client", "book_meeting", "prepare_docs"]);

    // The meeting is booked; the deal's history says what did it.
    let (status, _) = d
        .post(
            &format!("/api/v1/deals/{id}/events"),
            STAFF,
            call_done(true),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, full) = d.get(&format!("/api/v1/deals/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    // The event is kept with what it carried.
    let events = full["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{full}");
    assert_eq!(events[0]["name"], "call_done");
    assert_eq!(events[0]["by"], "anna");
    assert_eq!(events[0]["fields"]["meeting_place"], "Office");
    // As sent (the history shows what the pipeline made of it).
    assert_eq!(events[0]["fields"]["meeting_at"], "2027-12-01T12:00");
    let history = full["history"].as_array().expect("history");
    let entered = history
        .iter()
        .find(|h| h["kind"] == "stage_entered" && h["stage"] == "meeting")
        .expect("entered meeting");
    assert_eq!(entered["cause"], "event call_done");
    assert_eq!(entered["version"], 1);
    let timer = history
        .iter()
        .find(|h| h["kind"] == "timer_set")
        .expect("a reminder is set");
    // Moments in the API are in UTC: the reminder two hours before 12:00 Moscow time.
    assert_eq!(timer["at"].as_str().map(|s| s.ends_with('Z')), Some(true));
    assert_eq!(timer["fires_at"], "2027-12-01T07:00:00.000000Z");
    assert_eq!(full["fields"]["meeting_at"], "2027-12-01T09:00:00.000000Z");
    let sms = history
        .iter()
        .find(|h| h["kind"] == "notification" && h["channel"] == "sms")
        .expect("the client is told by SMS");
    assert!(
        sms["rule"]
            .as_str()
            .unwrap()
            .ends_with("web-studio.flow:98"),
        "{sms}"
    );

    // Lists filter by stage and person; an unknown stage is named.
    let (_, list) = d.get("/api/v1/deals?stage=meeting&person=anna").await;
    assert_eq!(list["deals"].as_array().unwrap().len(), 1, "{list}");
    let (_, none) = d.get("/api/v1/deals?stage=lead").await;
    assert_eq!(none["deals"].as_array().unwrap().len(), 0, "{none}");
    // An empty filter, as a form sends it, filters nothing.
    let (status, all) = d.get("/api/v1/deals?stage=&phase=&person=").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["deals"].as_array().unwrap().len(), 1, "{all}");
    let (status, err) = d.get("/api/v1/deals?stage=meting").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(err["error"]["message"].as_str().unwrap().contains("meting"));
    // A limit out of range is refused, not quietly changed.
    for bad in ["-1", "0", "1001"] {
        let (status, err) = d.get(&format!("/api/v1/deals?limit={bad}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {err}");
        assert_eq!(err["error"]["code"], "bad_limit", "{bad}: {err}");
    }
    let (status, _) = d.get("/api/v1/deals?limit=1000").await;
    assert_eq!(status, StatusCode::OK);
    // An intake token may create leads and nothing else.
    let (status, _) = d
        .send(
            reqwest::Method::GET,
            "/api/v1/deals",
            Some(INTAKE),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    d.stop().await;
}

#[tokio::test]
async fn the_api_describes_itself() {
    let dir = workdir("openapi");
    let d = Daemon::start(config(&dir, "")).await;
    let (status, doc) = d
        .send(
            reqwest::Method::GET,
            "/api/v1/openapi.json",
            None,
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/v1/leads",
        "/api/v1/deals",
        "/api/v1/deals/{id}",
        "/api/v1/deals/{id}/events",
        "/api/v1/deals/{id}/tasks/{task}/{action}",
        "/api/v1/deals/{id}/tasks/{task}/log",
        "/api/v1/deals/{id}/time/{entry}",
        "/api/v1/team",
        "/api/v1/rules",
        "/api/v1/rules/reload",
        "/api/v1/deals/{id}/personal-data",
        "/api/v1/deals/{id}/opt-outs/{channel}",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not described");
    }
    // The pipeline's own vocabulary: one body per event, with what that event carries.
    let body = |path: &str, method: &str| {
        doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"].clone()
    };
    let events = body("/api/v1/deals/{id}/events", "post")["oneOf"].clone();
    let event = |name: &str| {
        events
            .as_array()
            .expect("one body per event")
            .iter()
            .find(|e| e["properties"]["name"]["const"] == name)
            .unwrap_or_else(|| panic!("no body for `{name}`: {events}"))
            .clone()
    };
    assert_eq!(events.as_array().map(Vec::len), Some(7), "{events}");
    let call_done = event("call_done")["properties"]["fields"].clone();
    assert_eq!(call_done["additionalProperties"], false, "{call_done}");
    let carried: Vec<&String> = call_done["properties"]
        .as_object()
        .expect("fields")
        .keys()
        .collect();
    assert_eq!(carried, ["meeting_at", "meeting_place"], "{call_done}");
    assert_eq!(
        event("payment_received")["properties"]["fields"]["properties"],
        json!({})
    );
    let contract = &event("contracts_signed")["properties"]["fields"]["properties"]["contracts"]["anyOf"]
        [0]["items"]["properties"];
    assert_eq!(
        contract["project_manager"]["enum"].as_array().map(Vec::len),
        Some(7),
        "{contract}"
    );
    // A new deal: what the pipeline requires is required, fields are typed, nothing else goes.
    let new = body("/api/v1/deals", "post");
    assert_eq!(
        new["properties"]["fields"]["required"],
        json!(["client_name"]),
        "{new}"
    );
    assert_eq!(new["properties"]["fields"]["additionalProperties"], false);
    let amount = new["properties"]["fields"]["properties"]["amount"].to_string();
    assert!(
        amount.contains("\"number\"") && amount.contains("maximum"),
        "{amount}"
    );
    let phone = new["properties"]["fields"]["properties"]["client_phone"].to_string();
    assert!(phone.contains("\"format\":\"phone\""), "{phone}");
    // Who did it is one of the team; a log's hours are bounded as the server bounds them.
    let by = &body("/api/v1/deals/{id}", "patch")["properties"]["by"]["enum"];
    assert!(
        by.as_array().is_some_and(|t| t.contains(&json!("anna"))),
        "{by}"
    );
    let hours = &body("/api/v1/deals/{id}/tasks/{task}/log", "post")["properties"]["hours"];
    assert_eq!(
        hours,
        &json!({"type": "number", "minimum": 0.01, "maximum": 1000})
    );
    // A created deal links to what can be done with it next.
    let links = &doc["paths"]["/api/v1/deals"]["post"]["responses"]["201"]["links"];
    assert_eq!(links["SendEvent"]["operationId"], "sendEvent", "{links}");
    assert_eq!(links["SendEvent"]["parameters"]["id"], "$response.body#/id");
    // Work on its first task is linked only from answers that surely hold a task (a deal
    // made at a stage that gives none has none).
    assert_eq!(links.get("WorkOnTask"), None, "{links}");
    let worked = &doc["paths"]["/api/v1/deals/{id}/tasks/{task}/{action}"]["post"]["responses"]["200"]
        ["links"];
    assert_eq!(
        worked["WorkOnTask"]["parameters"]["task"], "$response.body#/tasks/0/task",
        "{worked}"
    );
    let stage_filter = doc["paths"]["/api/v1/deals"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == "stage")
        .expect("a stage filter")["schema"]["enum"]
        .clone();
    assert!(
        stage_filter
            .as_array()
            .is_some_and(|a| a.contains(&json!("meeting"))),
        "{stage_filter}"
    );
    let (status, health) = d
        .send(reqwest::Method::GET, "/healthz", None, None, None)
        .await;
    assert_eq!(
        (status, health["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (_, team) = d.get("/api/v1/team").await;
    assert_eq!(team.as_array().map(Vec::len), Some(7), "{team}");
    d.stop().await;
}

/// `PATCH /api/v1/deals/{id}`: an edit is a step — its changes are recorded as "edited by" the
/// person, a role given to someone else hands them that role's open tasks (and the team's load
/// follows), what is required cannot be cleared, and search finds the deal by its new name.
#[tokio::test]
async fn an_edit_is_a_step_recorded_as_the_person_s_and_a_role_s_tasks_follow_it() {
    let dir = workdir("edit");
    let d = Daemon::start(config(&dir, "")).await;
    d.lead("d1").await;
    let patch = |body: Json| {
        let bytes = body.to_string().into_bytes();
        d.send(
            reqwest::Method::PATCH,
            "/api/v1/deals/d1",
            Some(STAFF),
            Some(("application/json", bytes)),
            None,
        )
    };
    let load = |team: &Json, who: &str| -> i64 {
        team.as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == who)
            .unwrap()["open_tasks"]
            .as_i64()
            .unwrap()
    };
    let (_, team) = d.get("/api/v1/team").await;
    let (anna, lena) = (load(&team, "anna"), load(&team, "lena"));

    let (status, body) =
        patch(json!({"fields": {"client_name": "Иван Петров", "sales": "lena"}, "by": "anna"}))
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["fields"]["client_name"], "Иван Петров");
    let (_, deal) = d.get("/api/v1/deals/d1").await;
    let history = deal["history"].as_array().unwrap();
    let edited: Vec<&Json> = history
        .iter()
        .filter(|h| h["cause"] == "edited by anna")
        .collect();
    assert!(
        edited
            .iter()
            .any(|h| h["kind"] == "field_set" && h["field"] == "client_name"),
        "{edited:?}"
    );
    let moved: Vec<&str> = edited
        .iter()
        .filter(|h| h["kind"] == "task_reassigned")
        .map(|h| {
            assert_eq!((&h["from"], &h["to"]), (&json!("anna"), &json!("lena")));
            h["task"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        moved,
        ["call_client", "book_meeting"],
        "the sales tasks, not petr's"
    );
    let (_, team) = d.get("/api/v1/team").await;
    assert_eq!(load(&team, "anna"), anna - 2);
    assert_eq!(load(&team, "lena"), lena + 2);

    // Found by the new name; what is required cannot be cleared; nothing to edit; no such deal.
    let (_, found) = d
        .get("/api/v1/deals?q=%D0%BF%D0%B5%D1%82%D1%80%D0%BE%D0%B2")
        .await;
    assert_eq!(found["deals"][0]["id"], "d1", "{found}");
    let (status, body) = patch(json!({"fields": {"client_name": null}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = patch(json!({"fields": {"sales": "nobody"}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = patch(json!({"fields": {"colour": "red"}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = patch(json!({"fields": {}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = d
        .send(
            reqwest::Method::PATCH,
            "/api/v1/deals/nobody",
            Some(STAFF),
            Some((
                "application/json",
                br#"{"fields": {"client_name": "x"}}"#.to_vec(),
            )),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // A read token may not edit.
    let (status, _) = d
        .send(
            reqwest::Method::PATCH,
            "/api/v1/deals/d1",
            Some(READ),
            Some((
                "application/json",
                br#"{"fields": {"client_name": "x"}}"#.to_vec(),
            )),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    d.stop().await;
}
