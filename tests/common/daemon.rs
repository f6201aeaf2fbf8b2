//! A daemon on loopback for tests: a copy of the reference rules in a folder of the test's
//! own, a configuration (an SQLite file there, or the database given), started on a free port
//! and driven over HTTP like any client.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dealflow::daemon::{self, Config, Running};
use dealflow::store::Table;
use reqwest::StatusCode;
use serde_json::{Value as Json, json};

use super::root;

pub const STAFF: &str = "staff-token-1";

pub const READ: &str = "read-token-1";

pub const INTAKE: &str = "intake-token-1";

/// A fresh folder with a copy of the reference rules (so a test may edit them).
pub fn workdir(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("daemon-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a test folder");
    for f in ["web-studio.flow", "web-studio.rhai"] {
        std::fs::copy(root().join("rules").join(f), dir.join(f)).expect("copy rules");
    }
    dir
}

/// Changes the test's copy of the reference pipeline (each `from` must be in it).
pub fn edit_rules(dir: &Path, changes: &[(&str, &str)]) {
    let flow = dir.join("web-studio.flow");
    let mut text = std::fs::read_to_string(&flow).expect("rules");
    for (from, to) in changes {
        assert!(text.contains(from), "`{from}` is not in the pipeline");
        text = text.replace(from, to);
    }
    std::fs::write(&flow, text).expect("write rules");
}

/// The daemon's configuration for `dir` (an SQLite file in it), plus `extra` TOML.
pub fn config(dir: &Path, extra: &str) -> Config {
    let db = format!("url = \"sqlite://{}\"", dir.join("dealflow.db").display());
    config_on(dir, &db, extra)
}

/// The daemon's configuration for `dir` with this `[database]` section body.
pub fn config_on(dir: &Path, database: &str, extra: &str) -> Config {
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

/// The configuration as it is, its team hearing no staff notices: a test that counts the
/// pipeline's own timers (a task's reminder is one more) or messages.
pub fn without_notices(dir: &Path) -> Config {
    let path = dir.join("dealflow.toml");
    let text = std::fs::read_to_string(&path).expect("config");
    let quiet = "[[team]]\nnotices = false\n";
    if !text.contains(quiet) {
        std::fs::write(&path, text.replace("[[team]]\n", quiet)).expect("write config");
    }
    Config::load(Some(&path), Vec::new()).expect("valid config")
}

pub struct Daemon {
    running: Option<Running>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    http: reqwest::Client,
}

impl Daemon {
    pub async fn start(config: Config) -> Daemon {
        let running = daemon::start(config).await.expect("the daemon starts");
        let base = format!("http://{}", running.addr);
        Daemon {
            running: Some(running),
            base,
            http: reqwest::Client::new(),
        }
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("running")
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }

    pub async fn send(
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

    /// A website form's body (`application/x-www-form-urlencoded`) posted to the leads door.
    pub async fn lead_form(&self, token: &str, body: &[u8]) -> (StatusCode, Json) {
        self.send(
            reqwest::Method::POST,
            "/api/v1/leads",
            Some(token),
            Some(("application/x-www-form-urlencoded", body.to_vec())),
            None,
        )
        .await
    }

    pub async fn post(&self, path: &str, token: &str, body: Json) -> (StatusCode, Json) {
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

    /// `DELETE path` with the staff token.
    pub async fn delete(&self, path: &str) -> (StatusCode, Json) {
        self.send(reqwest::Method::DELETE, path, Some(STAFF), None, None)
            .await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Json) {
        self.send(reqwest::Method::GET, path, Some(READ), None, None)
            .await
    }

    pub async fn lead(&self, id: &str) -> Json {
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

    /// Every message in the outbox, oldest first.
    pub async fn outbox(&self) -> Vec<dealflow::store::Queued> {
        let mut tx = self.running().core().store().read().await.expect("tx");
        tx.outbox().await.expect("outbox")
    }

    /// The SMS in the outbox, oldest first.
    pub async fn sms(&self) -> Vec<dealflow::store::Queued> {
        self.outbox()
            .await
            .into_iter()
            .filter(|m| m.channel == "sms")
            .collect()
    }

    /// Counts of every table and the revision of a deal: what "the database is unchanged" means.
    pub async fn snapshot(&self, deal: &str) -> (Vec<i64>, Json) {
        let counts = super::store::table_counts(
            self.running().core(),
            &[
                Table::Deals,
                Table::History,
                Table::Timers,
                Table::Tasks,
                Table::Outbox,
                Table::Requests,
                Table::Events,
            ],
        )
        .await;
        let (_, d) = self.get(&format!("/api/v1/deals/{deal}")).await;
        (counts, d["revision"].clone())
    }
}

/// Serves `app` on a loopback port (an SMS gateway, say); the port.
pub async fn gateway(app: axum::Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// The pipeline's notify hook sends at any hour: a test does not wait for 09:00.
pub fn day_and_night(dir: PathBuf) -> PathBuf {
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
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut f: F)
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

pub fn call_done(place: bool) -> Json {
    let mut fields = json!({"meeting_at": "2027-12-01T12:00"});
    if place {
        fields["meeting_place"] = json!("Office");
    }
    json!({"name": "call_done", "fields": fields, "by": "anna"})
}
