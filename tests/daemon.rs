//! The daemon over real HTTP on loopback: the API's answers and errors, idempotency, the
//! website form, history, timers on the wall clock, the outbox, hot reload and a runaway hook.
//! Each test starts its own daemon on 127.0.0.1 (a free port) with an SQLite file of its own.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dealflow::daemon::config::Config;
use dealflow::daemon::server::{self, Running};
use dealflow::store::Table;
use reqwest::StatusCode;
use serde_json::{Value as Json, json};

const STAFF: &str = "staff-token-1";
const READ: &str = "read-token-1";
const INTAKE: &str = "intake-token-1";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh folder with a copy of the reference rules (so a test may edit them).
fn workdir(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("daemon-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a test folder");
    for f in ["web-studio.flow", "web-studio.rhai"] {
        std::fs::copy(root().join("rules").join(f), dir.join(f)).expect("copy rules");
    }
    dir
}

/// The daemon's configuration for `dir` (an SQLite file in it), plus `extra` TOML.
fn config(dir: &Path, extra: &str) -> Config {
    let db = format!("url = \"sqlite://{}\"", dir.join("dealflow.db").display());
    config_on(dir, &db, extra)
}

/// The daemon's configuration for `dir` with this `[database]` section body.
fn config_on(dir: &Path, database: &str, extra: &str) -> Config {
    let team =
        std::fs::read_to_string(root().join("examples/dealflow.toml")).expect("example config");
    let team = &team[team.find("[[team]]").expect("a team")..];
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
body_limit = 4096
[database]
{database}
[rules]
file = "web-studio.flow"
[[tokens]]
token = "{STAFF}"
scope = "staff"
[[tokens]]
token = "{READ}"
scope = "read"
[[tokens]]
token = "{INTAKE}"
scope = "intake"
[intake]
title = "name"
[intake.fields]
name = "client_name"
phone = "client_phone"
{extra}
{team}
"#,
    );
    let path = dir.join("dealflow.toml");
    std::fs::write(&path, text).expect("write config");
    Config::load(Some(&path), Vec::new()).expect("valid config")
}

struct Daemon {
    running: Option<Running>,
    base: String,
    http: reqwest::Client,
}

impl Daemon {
    async fn start(config: Config) -> Daemon {
        let running = server::start(config).await.expect("the daemon starts");
        let base = format!("http://{}", running.addr);
        Daemon {
            running: Some(running),
            base,
            http: reqwest::Client::new(),
        }
    }

    fn running(&self) -> &Running {
        self.running.as_ref().expect("running")
    }

    async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
        key: Option<&str>,
    ) -> (StatusCode, Json) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        if let Some((ct, b)) = body {
            req = req.header("Content-Type", ct).body(b);
        }
        let resp = req.send().await.expect("the daemon answers");
        let status = resp.status();
        let text = resp.text().await.expect("a body");
        let json = serde_json::from_str(&text).unwrap_or(Json::String(text));
        (status, json)
    }

    async fn post(&self, path: &str, token: &str, body: Json) -> (StatusCode, Json) {
        let bytes = body.to_string().into_bytes();
        self.send(
            reqwest::Method::POST,
            path,
            Some(token),
            Some(("application/json", bytes)),
            None,
        )
        .await
    }

    async fn get(&self, path: &str) -> (StatusCode, Json) {
        self.send(reqwest::Method::GET, path, Some(READ), None, None)
            .await
    }

    async fn lead(&self, id: &str) -> Json {
        let (status, body) = self
            .post(
                "/api/v1/deals",
                STAFF,
                json!({"id": id, "title": format!("Shop {id}"), "fields": {"client_name": "Ivan", "client_phone": "+79990001122", "client_email": "ivan@shop.test"}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// The SMS in the outbox, oldest first.
    async fn sms(&self) -> Vec<dealflow::store::Queued> {
        let mut tx = self.running().state.core.store.read().await.expect("tx");
        tx.outbox()
            .await
            .expect("outbox")
            .into_iter()
            .filter(|m| m.channel == "sms")
            .collect()
    }

    /// Counts of every table and the revision of a deal: what "the database is unchanged" means.
    async fn snapshot(&self, deal: &str) -> (Vec<i64>, Json) {
        let core = &self.running().state.core;
        let mut tx = core.store.read().await.expect("tx");
        let mut counts = Vec::new();
        for t in [
            Table::Deals,
            Table::History,
            Table::Timers,
            Table::Tasks,
            Table::Outbox,
            Table::Requests,
            Table::Events,
        ] {
            counts.push(tx.count(t).await.expect("count"));
        }
        drop(tx);
        let (_, d) = self.get(&format!("/api/v1/deals/{deal}")).await;
        (counts, d["revision"].clone())
    }
}

/// Serves `app` on a loopback port (an SMS gateway, say); the port.
async fn gateway(app: axum::Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// The pipeline's notify hook sends at any hour: a test does not wait for 09:00.
fn day_and_night(dir: PathBuf) -> PathBuf {
    let script = dir.join("web-studio.rhai");
    let text = std::fs::read_to_string(&script).expect("script");
    std::fs::write(
        &script,
        text.replace("if hour >= 21 || hour < 9 {", "if false {"),
    )
    .expect("write");
    dir
}

/// Waits (bounded) until `f` holds.
async fn eventually<F, Fut>(what: &str, limit: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within {limit:?}");
}

fn call_done(place: bool) -> Json {
    let mut fields = json!({"meeting_at": "2026-12-01T12:00"});
    if place {
        fields["meeting_place"] = json!("Office");
    }
    json!({"name": "call_done", "fields": fields, "by": "anna"})
}

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
        ("missing required fields", StatusCode::UNPROCESSABLE_ENTITY,
            d.post(ev, STAFF, call_done(false)).await),
        ("unknown task action", StatusCode::NOT_FOUND,
            d.post("/api/v1/deals/d1/tasks/call_client/finish", STAFF, json!({})).await),
        ("negative hours", StatusCode::UNPROCESSABLE_ENTITY,
            d.post("/api/v1/deals/d1/tasks/call_client/log", STAFF, json!({"hours": -2, "by": "anna"})).await),
        ("a deal id taken", StatusCode::CONFLICT,
            d.post("/api/v1/deals", STAFF, json!({"id": "d1", "title": "again", "fields": {"client_name": "X"}})).await),
        ("a deal without its required field", StatusCode::UNPROCESSABLE_ENTITY,
            d.post("/api/v1/deals", STAFF, json!({"title": "no name"})).await),
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
    assert_eq!(other.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", other.1);
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
    let (status, created) = d
        .send(
            reqwest::Method::POST,
            "/api/v1/leads",
            Some(INTAKE),
            Some((
                "application/x-www-form-urlencoded",
                b"name=%D0%98%D0%B2%D0%B0%D0%BD&phone=%2B79990001122&client_email=ivan%40shop.test&submit=Send".to_vec(),
            )),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
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
    assert_eq!(events[0]["fields"]["meeting_at"], "2026-12-01T12:00");
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
    assert_eq!(timer["fires_at"], "2026-12-01T10:00:00+03:00");
    let sms = history
        .iter()
        .find(|h| h["kind"] == "notification" && h["channel"] == "sms")
        .expect("the client is told by SMS");
    assert!(
        sms["rule"]
            .as_str()
            .unwrap()
            .ends_with("web-studio.flow:97"),
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
    let core = d.running().state.core.clone();
    // Everything that may go out now goes out; SMS to the client at night wait for 09:00
    // (the pipeline's hook), so they may still be pending, with that time set.
    eventually(
        "the outbox sends what is due",
        Duration::from_secs(10),
        || {
            let core = core.clone();
            async move {
                let mut tx = core.store.read().await.expect("tx");
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
        "/api/v1/team",
        "/api/v1/rules",
        "/api/v1/rules/reload",
        "/healthz",
        "/metrics",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not described");
    }
    // The pipeline's own vocabulary: its events, stages and fields.
    let body = &doc["paths"]["/api/v1/deals/{id}/events"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    let events: Vec<&str> = body["properties"]["name"]["enum"]
        .as_array()
        .expect("event names")
        .iter()
        .filter_map(Json::as_str)
        .collect();
    assert!(
        events.contains(&"call_done") && events.contains(&"payment_received"),
        "{events:?}"
    );
    let client = &body["properties"]["fields"]["properties"]["client_name"]["description"];
    assert!(
        client.as_str().unwrap_or("").contains("required"),
        "{client}"
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

/// Replaces a file the way editors save: write a new file, rename it over the old one.
fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("swp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

#[tokio::test]
async fn a_broken_or_unfitting_rule_file_is_refused_and_the_old_rules_keep_running() {
    let dir = workdir("reload");
    let d = Daemon::start(config(&dir, "")).await;
    d.lead("d1").await;
    let flow = dir.join("web-studio.flow");
    let original = std::fs::read_to_string(&flow).expect("rules");

    // A typo: refused, reported, version 1 keeps running.
    save(
        &flow,
        &original.replace("-> meeting on call_done", "-> meting on call_done"),
    );
    let (status, report) = d.post("/api/v1/rules/reload", STAFF, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{report}");
    assert_eq!(report["applied"], false);
    assert!(
        report["message"].as_str().unwrap().contains("meting"),
        "{report}"
    );
    let (_, rules) = d.get("/api/v1/rules").await;
    assert_eq!(rules["version"], 1);
    assert_eq!(rules["last_reload"]["applied"], false);
    let (status, _) = d
        .post("/api/v1/deals/d1/events", STAFF, call_done(true))
        .await;
    assert_eq!(status, StatusCode::OK, "the old rules stopped working");

    // A file without the stage a live deal sits in: refused, the deal named.
    let without_meeting = original
        .replace("-> meeting on call_done", "-> contract on call_done")
        .replace("lead, meeting, contract", "lead, contract");
    let start = without_meeting
        .find("stage meeting")
        .expect("the meeting stage");
    let end = start + without_meeting[start..].find("\n}\n").expect("its end") + 3;
    let without_meeting = format!("{}{}", &without_meeting[..start], &without_meeting[end..]);
    save(&flow, &without_meeting);
    let (status, report) = d.post("/api/v1/rules/reload", STAFF, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{report}");
    assert_eq!(report["misfits"], json!(["d1"]), "{report}");

    // A valid change, saved by rename: the watcher applies it, version 2. It adds a reminder an
    // hour after a meeting is booked: the deal already in `meeting` gets it too.
    let with_reminder = original
        .replace("Менеджер позвонит вам", "Менеджер скоро позвонит вам")
        .replace(
            "  require meeting_at, meeting_place         # the salesperson must say when and where\n",
            "  require meeting_at, meeting_place         # the salesperson must say when and where\n  after 1h {\n    notify sales via email with meeting_details\n  }\n",
        );
    assert!(with_reminder.contains("after 1h"));
    save(&flow, &with_reminder);
    eventually(
        "the watcher applies the new rules",
        Duration::from_secs(10),
        || async {
            let (_, rules) = d.get("/api/v1/rules").await;
            rules["version"] == 2
        },
    )
    .await;
    eventually(
        "the live deal gets the new timer",
        Duration::from_secs(10),
        || async {
            let (_, deal) = d.get("/api/v1/deals/d1").await;
            deal["history"].as_array().is_some_and(|h| {
                h.iter().any(|e| {
                    e["kind"] == "timer_set"
                        && e["cause"] == "rules reloaded"
                        && e["timer"].as_str().is_some_and(|t| t.contains("after 1h"))
                        && e["version"] == 2
                })
            })
        },
    )
    .await;
    let (status, _) = d
        .post(
            "/api/v1/deals/d1/events",
            STAFF,
            json!({"name": "meeting_held"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, deal) = d.get("/api/v1/deals/d1").await;
    let versions: Vec<i64> = deal["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions.first(), Some(&1));
    assert_eq!(
        versions.last(),
        Some(&2),
        "history records which version ran"
    );
    d.stop().await;
}

#[tokio::test]
async fn a_hook_that_loops_forever_fails_its_step_and_the_daemon_keeps_serving() {
    let dir = workdir("hook");
    let script = dir.join("web-studio.rhai");
    let text = std::fs::read_to_string(&script).expect("script");
    std::fs::write(
        &script,
        text.replace(
            "fn prepare_message(msg) {",
            "fn prepare_message(msg) {\n    loop { }",
        ),
    )
    .expect("write");
    let d = Daemon::start(config(&dir, "")).await;
    let started = Instant::now();
    let (status, body) = d
        .post("/api/v1/deals", STAFF, json!({"id": "d1", "title": "x", "fields": {"client_name": "Ivan", "client_phone": "+79990001122"}}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("prepare_message"), "{msg}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the loop ran too long"
    );
    let (status, _) = d
        .send(reqwest::Method::GET, "/healthz", None, None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = d.get("/api/v1/deals/d1").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the failed creation left a deal"
    );
    let (_, list) = d.get("/api/v1/deals").await;
    assert_eq!(list["deals"], json!([]));
    d.stop().await;
}

/// A mail server on loopback that speaks enough SMTP for a client to hand it messages; it
/// keeps each message's DATA.
async fn smtp_server() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = got.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let keep = keep.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"220 test SMTP\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let cmd = line.to_ascii_uppercase();
                    let reply: &[u8] = if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                        b"250-test\r\n250 8BITMIME\r\n"
                    } else if cmd.starts_with("DATA") {
                        let _ = w.write_all(b"354 go on\r\n").await;
                        let mut data = String::new();
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            data.push_str(&l);
                            data.push('\n');
                        }
                        keep.lock().expect("lock").push(data);
                        b"250 queued\r\n"
                    } else if cmd.starts_with("QUIT") {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        break;
                    } else {
                        b"250 ok\r\n"
                    };
                    let _ = w.write_all(reply).await;
                }
            });
        }
    });
    (port, got)
}

#[tokio::test]
async fn email_goes_to_a_real_smtp_server_with_the_meeting_attached() {
    let (port, got) = smtp_server().await;
    let dir = workdir("smtp");
    let extra = format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"Studio <robot@studio.test>\"\n"
    );
    let d = Daemon::start(config(&dir, &extra)).await;
    d.lead("d1").await;
    let (status, _) = d
        .post("/api/v1/deals/d1/events", STAFF, call_done(true))
        .await;
    assert_eq!(status, StatusCode::OK);
    // The welcome and the meeting details to the client (sales hear of it two hours before).
    let core = d.running().state.core.clone();
    let outbox = || {
        let core = core.clone();
        async move {
            core.store
                .read()
                .await
                .expect("tx")
                .outbox()
                .await
                .expect("outbox")
        }
    };
    let start = Instant::now();
    while got.lock().expect("lock").len() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "two emails did not arrive: {:?}",
            outbox().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mails = got.lock().expect("lock").clone();
    assert!(
        mails.iter().any(|m| m.contains("To: ivan@shop.test")),
        "{mails:?}"
    );
    assert!(
        mails
            .iter()
            .all(|m| m.contains("From: Studio <robot@studio.test>"))
    );
    let meeting = mails
        .iter()
        .find(|m| m.contains("To: ivan@shop.test") && m.contains("text/calendar"))
        .expect("the client's meeting email carries the calendar file");
    assert!(meeting.contains("invite.ics"), "{meeting}");
    // The server's "250 queued" is what marks them sent (just after it).
    eventually(
        "both emails marked sent",
        Duration::from_secs(5),
        || async {
            let emails: Vec<_> = outbox()
                .await
                .into_iter()
                .filter(|m| m.channel == "email")
                .collect();
            emails.len() == 2 && emails.iter().all(|m| m.status == "sent" && m.attempts == 1)
        },
    )
    .await;
    d.stop().await;
}

#[tokio::test]
async fn sms_go_through_the_gateway_are_retried_and_given_up_on_after_the_last_attempt() {
    use axum::extract::State;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    type Seen = Arc<(AtomicUsize, Mutex<Vec<String>>)>;
    // The gateway: the first request fails, then it takes them; one number never works.
    async fn send(
        State(seen): State<Seen>,
        body: String,
    ) -> (axum::http::StatusCode, &'static str) {
        let n = seen.0.fetch_add(1, Ordering::SeqCst);
        seen.1.lock().expect("lock").push(body.clone());
        if n == 0 || body.contains("to=%2B70000000000") {
            (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "busy")
        } else {
            (axum::http::StatusCode::OK, "accepted")
        }
    }
    let seen: Seen = Arc::new((AtomicUsize::new(0), Mutex::new(Vec::new())));
    let app = axum::Router::new()
        .route("/send", axum::routing::post(send))
        .with_state(seen.clone());
    let port = gateway(app).await;

    let dir = day_and_night(workdir("sms"));
    let extra = format!(
        "[sms]\nurl = \"http://127.0.0.1:{port}/send\"\nbody = \"to={{{{to}}}}&text={{{{text}}}}\"\n\
         [outbox]\nmax_attempts = 3\nretry_base_s = 1\nretry_max_s = 1\n"
    );
    let d = Daemon::start(config(&dir, &extra)).await;
    d.lead("d1").await;
    let (status, body) = d
        .post("/api/v1/deals", STAFF, json!({"id": "d2", "title": "no phone", "fields": {"client_name": "Oleg", "client_phone": "+70000000000"}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    eventually(
        "one SMS sent, one given up",
        Duration::from_secs(30),
        || async {
            let all = d.sms().await;
            all.iter().any(|m| m.status == "sent") && all.iter().any(|m| m.status == "dead")
        },
    )
    .await;
    let all = d.sms().await;
    let sent = all.iter().find(|m| m.deal == "d1").expect("d1's SMS");
    assert_eq!(
        (sent.status.as_str(), sent.attempts),
        ("sent", 2),
        "retried once: {sent:?}"
    );
    let dead = all.iter().find(|m| m.deal == "d2").expect("d2's SMS");
    assert_eq!(
        (dead.status.as_str(), dead.attempts),
        ("dead", 3),
        "{dead:?}"
    );
    assert!(
        dead.last_error.as_deref().unwrap_or("").contains("500"),
        "{dead:?}"
    );
    // The gateway got the text form-encoded, Cyrillic and all.
    let bodies = seen.1.lock().expect("lock").clone();
    let first = bodies
        .iter()
        .find(|b| b.contains("to=%2B79990001122"))
        .expect("d1's request");
    let decoded: Vec<(String, String)> = serde_urlencoded::from_str(first).expect("a form");
    assert!(
        decoded
            .iter()
            .any(|(k, v)| k == "text" && v.starts_with("Ivan, спасибо за обращение")),
        "{decoded:?}"
    );
    let (_, metrics) = d
        .send(reqwest::Method::GET, "/metrics", None, None, None)
        .await;
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("dealflow_messages_dead_total 1")
    );
    d.stop().await;
}

#[tokio::test]
async fn a_backlog_of_messages_goes_out_oldest_first_each_exactly_once() {
    use axum::extract::State;
    use std::sync::{Arc, Mutex};
    type Gate = (tokio::sync::watch::Receiver<bool>, Arc<Mutex<Vec<String>>>);
    // The gateway holds every request until the test opens it, so that the messages of 121
    // new leads pile up behind the first; one number never works.
    async fn send(
        State((mut open, seen)): State<Gate>,
        body: String,
    ) -> (axum::http::StatusCode, &'static str) {
        let _ = open.wait_for(|o| *o).await;
        let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap_or_default();
        let to = form
            .iter()
            .find(|(k, _)| k == "to")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        seen.lock().expect("lock").push(to.clone());
        if to == "+70000000000" {
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "no such number",
            )
        } else {
            (axum::http::StatusCode::OK, "accepted")
        }
    }
    let (opener, open) = tokio::sync::watch::channel(false);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new()
        .route("/send", axum::routing::post(send))
        .with_state((open, seen.clone()));
    let port = gateway(app).await;

    let dir = day_and_night(workdir("backlog"));
    let extra = format!(
        "[sms]\nurl = \"http://127.0.0.1:{port}/send\"\nbody = \"to={{{{to}}}}&text={{{{text}}}}\"\n\
         timeout_s = 60\n[outbox]\nmax_attempts = 3\nretry_base_s = 1\nretry_max_s = 1\n"
    );
    let d = Daemon::start(config(&dir, &extra)).await;
    let phone = |i: usize| {
        if i == 60 {
            "+70000000000".to_string()
        } else {
            format!("+7999100{i:04}")
        }
    };
    for i in 0..121 {
        let (status, body) = d
            .post(
                "/api/v1/deals",
                STAFF,
                json!({"id": format!("lead{i:03}"), "title": format!("Lead {i}"), "fields": {"client_name": "Ivan", "client_phone": phone(i)}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    opener.send(true).expect("open");
    eventually(
        "120 SMS sent and one given up",
        Duration::from_secs(30),
        || async {
            let all = d.sms().await;
            all.iter().filter(|m| m.status == "sent").count() == 120
                && all.iter().any(|m| m.status == "dead")
        },
    )
    .await;
    let all = d.sms().await;
    assert_eq!(all.len(), 121, "one SMS per lead");
    for m in &all {
        let expected = if m.deal == "lead060" {
            ("dead", 3)
        } else {
            ("sent", 1)
        };
        assert_eq!((m.status.as_str(), m.attempts), expected, "{m:?}");
    }
    // The gateway got each number once (the bad one three times), the oldest first.
    let got = seen.lock().expect("lock").clone();
    let firsts: Vec<String> = got
        .iter()
        .enumerate()
        .filter(|(i, to)| !got[..*i].contains(to))
        .map(|(_, to)| to.clone())
        .collect();
    assert_eq!(firsts, (0..121).map(phone).collect::<Vec<_>>());
    assert_eq!(got.len(), 123, "{got:?}");
    assert_eq!(
        got.iter().filter(|to| *to == "+70000000000").count(),
        3,
        "{got:?}"
    );
    let (_, metrics) = d
        .send(reqwest::Method::GET, "/metrics", None, None, None)
        .await;
    let metrics = metrics.as_str().unwrap_or_default().to_string();
    assert!(
        metrics.contains("dealflow_messages_dead_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("dealflow_messages_failed_total 2"),
        "{metrics}"
    );
    // The writer's time by phase: the 121 leads took some of each.
    for phase in ["begin", "read", "run", "write", "commit"] {
        let spent: u64 = metrics
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!(
                    "dealflow_writer_phase_microseconds_total{{phase=\"{phase}\"}} "
                ))
            })
            .and_then(|v| v.parse().ok())
            .unwrap_or_default();
        assert!(spent > 0, "{phase}: {metrics}");
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_on_one_postgres_fire_each_of_500_due_timers_exactly_once() {
    use dealflow::daemon::{Core, Rules, Step};
    use dealflow::engine::{Creation, Input};
    use dealflow::store::{Options, Store};
    use dealflow::value::Value;
    let Some(url) = std::env::var("DEALFLOW_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "two daemons on PostgreSQL: SKIPPED (set DEALFLOW_TEST_POSTGRES)"
        );
        return;
    };
    const N: usize = 500;
    let dir = workdir("two-daemons");
    let schema = format!("t_two_daemons_{}", std::process::id());
    let opts = Options {
        schema: Some(schema.clone()),
        ..Options::default()
    };
    // 500 deals whose meeting reminders fell due an hour ago (while no daemon ran).
    {
        let store = Store::open(&url, &opts).await.expect("postgres");
        let (ready, source, script) = Rules::read(&dir.join("web-studio.flow")).expect("rules");
        let members = config(&dir, "").members().expect("team");
        let mut tx = store.begin().await.expect("tx");
        let version = tx
            .add_rules_version(
                "web-studio.flow",
                &source,
                script.as_deref(),
                chrono::Utc::now(),
            )
            .await
            .expect("v");
        tx.put_team(&members).await.expect("team");
        tx.commit().await.expect("commit");
        let core = Core::new(
            store,
            Rules {
                ready,
                version,
                file: dir.join("web-studio.flow"),
            },
        );
        let then = chrono::Utc::now() - chrono::Duration::hours(3);
        let mut tx = core.store.begin().await.expect("tx");
        for i in 0..N {
            let mut fields = std::collections::BTreeMap::new();
            fields.insert(
                "client_name".to_string(),
                Value::Text(format!("Client {i}")),
            );
            let req = Creation {
                id: format!("p{i:03}"),
                title: format!("Deal {i}"),
                stages: vec![],
                fields,
            };
            assert!(matches!(
                core.create(&mut tx, &req, then).await.expect("create"),
                Step::Applied { .. }
            ));
            let mut payload = std::collections::BTreeMap::new();
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
            assert!(matches!(
                core.apply(&mut tx, &req.id, &call, then)
                    .await
                    .expect("event"),
                Step::Applied { .. }
            ));
        }
        tx.commit().await.expect("commit");
        core.store.close().await;
    }
    let database = format!("url = \"{url}\"\nschema = \"{schema}\"");
    let a = Daemon::start(config_on(&dir, &database, "")).await;
    let b = Daemon::start(config_on(&dir, &database, "")).await;
    let core = a.running().state.core.clone();
    eventually("every timer fired", Duration::from_secs(60), || {
        let core = core.clone();
        async move {
            let mut tx = core.store.read().await.expect("tx");
            tx.count(Table::Timers).await.expect("count") == 0
        }
    })
    .await;
    let mut tx = core.store.read().await.expect("tx");
    for i in 0..N {
        let h = tx.history(&format!("p{i:03}")).await.expect("history");
        let fired = h.iter().filter(|e| e.0 == "timer_fired").count();
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
    let pool = sqlx::PgPool::connect(&url).await.expect("postgres");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
    )))
    .execute(&pool)
    .await
    .expect("drop");
}

#[tokio::test]
async fn what_if_runs_the_live_deals_forward_and_writes_nothing() {
    let dir = workdir("whatif");
    let d = Daemon::start(config(&dir, "")).await;
    d.lead("d1").await;
    let (status, _) = d
        .post("/api/v1/deals/d1/events", STAFF, call_done(true))
        .await;
    assert_eq!(status, StatusCode::OK);
    let before = d.snapshot("d1").await;
    // While the daemon runs: the database is only read.
    let db = format!("sqlite://{}", dir.join("dealflow.db").display());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dealflow"))
        .args([
            "simulate",
            "--format",
            "json",
            "--until",
            "2026-12-02T00:00",
            "--db",
            &db,
        ])
        .arg(dir.join("web-studio.flow"))
        .output()
        .expect("dealflow runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Json> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let fired = lines
        .iter()
        .find(|r| r["kind"] == "timer_fired" && r["deal"] == "d1")
        .expect("the meeting reminder would ring");
    assert_eq!(fired["at"], "2026-12-01T10:00:00+03:00");
    let last = lines.last().expect("a final record");
    assert_eq!(
        (last["kind"].as_str(), last["deal"].as_str()),
        (Some("final"), Some("d1"))
    );
    assert_eq!(last["stages"], json!(["meeting"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing is written"));
    assert_eq!(
        d.snapshot("d1").await,
        before,
        "a what-if run changed the database"
    );
    d.stop().await;
}

/// A form body, as a browser sends it.
trait FormBody {
    fn form_body<T: serde::Serialize + ?Sized>(self, form: &T) -> Self;
}

impl FormBody for reqwest::RequestBuilder {
    fn form_body<T: serde::Serialize + ?Sized>(self, form: &T) -> Self {
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).expect("a form"))
    }
}

/// A page fetched with this cookie.
async fn get_page(http: &reqwest::Client, url: &str, cookie: &str) -> reqwest::Response {
    http.get(url)
        .header("cookie", cookie)
        .send()
        .await
        .expect("the daemon answers")
}

/// A form sent with this cookie.
async fn send_form<T: serde::Serialize + ?Sized>(
    http: &reqwest::Client,
    url: &str,
    cookie: &str,
    form: &T,
) -> reqwest::Response {
    http.post(url)
        .header("cookie", cookie)
        .form_body(form)
        .send()
        .await
        .expect("the daemon answers")
}

/// A browser-like client: no redirects followed, cookies as given.
fn page_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

#[tokio::test]
async fn dashboard_pages_keep_their_doors_and_forms_change_only_what_they_should() {
    let dir = workdir("dashboard-doors");
    let d = Daemon::start(config(&dir, "")).await;
    d.lead("shop").await;
    let http = page_client();
    let url = |p: &str| format!("{}{p}", d.base);
    let location = |r: &reqwest::Response| {
        r.headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };

    // No token: to the login page, which comes back to where the reader was going.
    let r = http.get(url("/deals/shop")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login?next=%2Fdeals%2Fshop");
    // The login page does not send anyone off the site.
    let page = http
        .get(url("/login?next=//evil.example/x"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"name="next" value="/""#), "{page}");
    // An intake token may not read the dashboard; a wrong one neither.
    for token in [INTAKE, "nonsense"] {
        let r = http
            .post(url("/login"))
            .form_body(&[("token", token), ("next", "/")])
            .send()
            .await
            .unwrap();
        assert!(location(&r).starts_with("/login?wrong=1"), "{token}");
    }
    // A read token logs in: an HttpOnly, SameSite=Strict cookie.
    let r = http
        .post(url("/login"))
        .form_body(&[("token", READ), ("next", "/team")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/team");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap().to_string();
    let board = get_page(&http, &url("/"), &cookie).await;
    assert_eq!(board.status(), StatusCode::OK);
    let html = board.text().await.unwrap();
    assert!(html.contains(r#"<html lang="ru">"#) && html.contains("Продажи веб-студии"));
    assert!(
        html.contains(r#"data-deal="shop""#),
        "the lead is on the board"
    );
    // The browser's language, when it prefers English.
    let html = http
        .get(url("/"))
        .header("cookie", &cookie)
        .header("accept-language", "en-US,en;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"<html lang="en">"#) && html.contains(">Out of control<"));
    // The language links keep the page's own query, and drop the language asked before.
    let html = get_page(&http, &url("/money?days=90&lang=en"), &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"<html lang="en">"#)
            && html.contains(r#"href="?days=90&amp;lang=ru""#)
            && html.contains(r#"href="?days=90&amp;lang=en""#),
        "{html}"
    );
    // So does the way back after a login.
    let r = http.get(url("/money?days=90")).send().await.unwrap();
    assert_eq!(location(&r), "/login?next=%2Fmoney%3Fdays%3D90");
    let page = http
        .get(url("/login?next=%2Fmoney%3Fdays%3D90&lang=en"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"href="?next=%2Fmoney%3Fdays%3D90&amp;lang=ru""#),
        "{page}"
    );

    // A read token's page has no forms; posting one anyway is refused and changes nothing.
    let page = get_page(&http, &url("/deals/shop"), &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<form method=\"post\" action=\"/deals/shop/events\""));
    let before = d.snapshot("shop").await;
    let form = [
        ("_key", "k1"),
        ("_event", "call_done"),
        ("meeting_at", "2026-12-01T15:00"),
        ("meeting_place", "Office"),
    ];
    let r = send_form(&http, &url("/deals/shop/events"), &cookie, &form).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(d.snapshot("shop").await, before);

    // Staff: an event the stage does not expect comes back refused, in the pipeline's words.
    let staff = format!("dealflow_token={STAFF}");
    let r = send_form(
        &http,
        &url("/deals/shop/events"),
        &staff,
        &[("_key", "k0"), ("_event", "payment_received")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&r).starts_with("/deals/shop?refused="),
        "{}",
        location(&r)
    );
    assert_eq!(
        d.snapshot("shop").await.1,
        before.1,
        "the deal did not move"
    );
    let refused = get_page(&http, &url(&location(&r)), &staff)
        .await
        .text()
        .await
        .unwrap();
    assert!(refused.contains("payment_received"), "{refused}");

    // The call report, sent twice with the same key (a double click): applied once.
    for _ in 0..2 {
        let r = send_form(&http, &url("/deals/shop/events"), &staff, &form).await;
        assert_eq!(location(&r), "/deals/shop?done=1");
    }
    let (_, deal) = d.get("/api/v1/deals/shop").await;
    assert_eq!(deal["stages"], json!(["meeting"]), "{deal}");
    let applied = deal["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["kind"] == "event_applied")
        .count();
    assert_eq!(applied, 1, "one call report");

    // Time on a task from its form; a bad number is refused.
    let r = send_form(
        &http,
        &url("/deals/shop/tasks/call_client/log"),
        &staff,
        &[("_key", "t1"), ("hours", "1,5"), ("_by", "anna")],
    )
    .await;
    assert_eq!(location(&r), "/deals/shop?done=1");
    let r = send_form(
        &http,
        &url("/deals/shop/tasks/call_client/log"),
        &staff,
        &[("_key", "t2"), ("hours", "-3")],
    )
    .await;
    assert!(location(&r).contains("refused="), "{}", location(&r));
    let (_, deal) = d.get("/api/v1/deals/shop").await;
    assert_eq!(deal["hours_spent"], json!(1.5), "{deal}");

    // Unknown deals and oversized forms.
    let r = get_page(&http, &url("/deals/nobody"), &staff).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let big = "x".repeat(10_000);
    let r = send_form(
        &http,
        &url("/deals/shop/events"),
        &staff,
        &[("_event", "lost"), ("comment", big.as_str())],
    )
    .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // The pipeline as a picture.
    let r = get_page(&http, &url("/pipeline.svg"), &staff).await;
    assert_eq!(r.headers()["content-type"], "image/svg+xml; charset=utf-8");
    assert!(r.text().await.unwrap().contains(">Лид<"));
    d.stop().await;
}
