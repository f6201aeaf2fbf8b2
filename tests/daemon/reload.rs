//! Hot reload of the rules, and a script that runs away.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::common::daemon::*;

/// Replaces a file the way editors save: write a new file, rename it over the old one.
fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("swp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
                        && e["cause"] == "rules version 2"
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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

/// The script the running rules name (as the parser reads the `script` line, comment and all)
/// is watched: a save of the script alone is a new version of the rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_of_the_script_alone_is_a_new_version() {
    let dir = workdir("script-save");
    let d = Daemon::start(config(&dir, "")).await;
    let script = dir.join("web-studio.rhai");
    let text = std::fs::read_to_string(&script).expect("script");
    save(&script, &format!("{text}\n// saved again with a note\n"));
    eventually(
        "the watcher applies the script's save",
        Duration::from_secs(10),
        || async {
            let (_, rules) = d.get("/api/v1/rules").await;
            rules["version"] == 2
        },
    )
    .await;
    let (_, rules) = d.get("/api/v1/rules").await;
    assert_eq!(rules["last_reload"]["applied"], true, "{rules}");
    d.stop().await;
}

/// A rule file over the size cap is refused at once and the old rules keep running; the next
/// good save is applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_rule_file_is_refused_and_the_next_good_save_applies() {
    let dir = workdir("oversized");
    let mut c = config(&dir, "");
    c.rules.max_size = 64 * 1024;
    let d = Daemon::start(c).await;
    let flow = dir.join("web-studio.flow");
    let original = std::fs::read_to_string(&flow).expect("rules");
    let notes: String = (0..10_000).map(|i| format!("# note {i}\n")).collect();
    save(&flow, &format!("{original}{notes}"));
    let started = Instant::now();
    eventually(
        "the oversized file is refused",
        Duration::from_secs(10),
        || async {
            let (_, rules) = d.get("/api/v1/rules").await;
            rules["last_reload"]["applied"] == false
        },
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let (_, rules) = d.get("/api/v1/rules").await;
    let message = rules["last_reload"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("max_size"), "{rules}");
    assert_eq!(rules["version"], 1);
    d.lead("d1").await;
    save(
        &flow,
        &original.replace("Менеджер позвонит вам", "Менеджер скоро позвонит вам"),
    );
    eventually(
        "the next good save is applied",
        Duration::from_secs(10),
        || async {
            let (_, rules) = d.get("/api/v1/rules").await;
            rules["version"] == 2
        },
    )
    .await;
    d.stop().await;
}

/// The notify hook of the reference script, made to throw on every message.
fn throwing_hook(script: &str) -> String {
    script.replace(
        "fn prepare_message(msg) {",
        "fn prepare_message(msg) {\n    throw \"the gateway changed its format\";",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_that_fails_on_every_message_is_refused_before_it_reaches_a_client() {
    let dir = workdir("hook-tried");
    let d = Daemon::start(config(&dir, "")).await;
    d.lead("d1").await;
    let script = dir.join("web-studio.rhai");
    let original = std::fs::read_to_string(&script).expect("script");
    let broken = throwing_hook(&original);

    // `plan` of the rules with the broken script says so, and exits 1.
    let next = dir.join("next");
    std::fs::create_dir_all(&next).unwrap();
    std::fs::copy(dir.join("web-studio.flow"), next.join("web-studio.flow")).unwrap();
    std::fs::write(next.join("web-studio.rhai"), &broken).unwrap();
    let db = format!("sqlite://{}", dir.join("dealflow.db").display());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dealflow"))
        .args(["plan", "--format", "json", "--db", &db])
        .arg(next.join("web-studio.flow"))
        .output()
        .expect("dealflow runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a plan");
    let failing = plan["hooks"]["failing"].as_array().unwrap();
    assert!(
        failing.iter().any(|f| f["deal"] == "d1"
            && f["hook"]
                .as_str()
                .unwrap()
                .starts_with("template `welcome`")
            && f["error"]
                .as_str()
                .unwrap()
                .contains("the gateway changed its format")),
        "{plan}"
    );
    assert!(
        failing
            .iter()
            .any(|f| f["deal"] == "(a new deal with the defaults)"),
        "a fresh install is not tried: {plan}"
    );

    // Saved for real: the reload is refused, naming the hook, the deal and the error.
    save(&script, &broken);
    let (status, report) = d.post("/api/v1/rules/reload", STAFF, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{report}");
    let message = report["message"].as_str().unwrap();
    assert!(message.contains("template `welcome`"), "{message}");
    assert!(message.contains("deal `d1`"), "{message}");
    assert!(
        message.contains("the gateway changed its format"),
        "{message}"
    );
    let (_, rules) = d.get("/api/v1/rules").await;
    assert_eq!(rules["version"], 1);
    assert_eq!(rules["last_reload"]["applied"], false);
    // A website lead with a phone still gets in: the old rules run.
    let (status, body) = d
        .post("/api/v1/deals", STAFF, json!({"id": "d2", "title": "x", "fields": {"client_name": "Ivan", "client_phone": "+79990001122"}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // The out-of-control page shows the refusal.
    let page = reqwest::Client::new()
        .get(format!("{}/attention", d.base))
        .bearer_auth(STAFF)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("the gateway changed its format"), "{page}");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_install_is_tried_too() {
    let dir = workdir("hook-fresh");
    let d = Daemon::start(config(&dir, "")).await;
    let script = dir.join("web-studio.rhai");
    let original = std::fs::read_to_string(&script).expect("script");
    save(&script, &throwing_hook(&original));
    let (status, report) = d.post("/api/v1/rules/reload", STAFF, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{report}");
    assert!(
        report["message"]
            .as_str()
            .unwrap()
            .contains("(a new deal with the defaults)"),
        "{report}"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_that_already_fails_does_not_hold_up_other_changes() {
    let dir = workdir("hook-already");
    let script = dir.join("web-studio.rhai");
    let original = std::fs::read_to_string(&script).expect("script");
    std::fs::write(&script, throwing_hook(&original)).unwrap();
    let d = Daemon::start(config(&dir, "")).await;
    // A change elsewhere: the hook fails under the running rules as under the new ones.
    let flow = dir.join("web-studio.flow");
    let rules = std::fs::read_to_string(&flow).unwrap();
    save(
        &flow,
        &rules.replace("Менеджер позвонит вам", "Менеджер скоро позвонит вам"),
    );
    let (status, report) = d
        .post("/api/v1/rules/reload?dry_run=true", STAFF, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["applicable"], true, "{report}");
    assert!(
        report["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("under the running rules too")),
        "{report}"
    );
    d.stop().await;
}
