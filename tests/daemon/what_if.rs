//! What-if on live data: the live deals run forward, nothing written.

use reqwest::StatusCode;
use serde_json::{Value as Json, json};

use crate::common::daemon::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
            "2027-12-02T00:00",
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
    let timeline = String::from_utf8_lossy(&out.stdout);
    crate::common::schema::conforms("what-if", &timeline);
    let lines: Vec<Json> = timeline
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let fired = lines
        .iter()
        .find(|r| r["kind"] == "timer_fired" && r["deal"] == "d1")
        .expect("the meeting reminder would ring");
    assert_eq!(fired["at"], "2027-12-01T10:00:00+03:00");
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

/// Two deals at `meeting`: `m0`'s reminder fired, `m1`'s waits three days.
async fn two_meetings(d: &Daemon) -> chrono::DateTime<chrono::Utc> {
    let soon = chrono::Utc::now() + chrono::Duration::hours(2) + chrono::Duration::seconds(1);
    let later = chrono::Utc::now() + chrono::Duration::days(3);
    for (id, meeting) in [("m0", soon), ("m1", later)] {
        d.lead(id).await;
        let (status, body) = d
            .post(
                &format!("/api/v1/deals/{id}/events"),
                STAFF,
                json!({"name": "call_done", "fields": {"meeting_at": meeting.to_rfc3339(), "meeting_place": "Office"}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    eventually(
        "m0's reminder fires",
        std::time::Duration::from_secs(15),
        || async {
            let (_, deal) = d.get("/api/v1/deals/m0").await;
            deal["history"]
                .as_array()
                .is_some_and(|h| h.iter().any(|e| e["kind"] == "timer_fired"))
        },
    )
    .await;
    later
}

fn dealflow(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_dealflow"))
        .args(args)
        .output()
        .expect("dealflow runs")
}

/// The reference rules with the reminder three hours ahead, and a note to the salesperson an
/// hour into every meeting stage.
fn edited(dir: &std::path::Path) -> String {
    let original = std::fs::read_to_string(dir.join("web-studio.flow")).expect("rules");
    original
        .replace("at meeting_at - 2h {", "at meeting_at - 3h {")
        .replace(
            "  -> contract on meeting_held\n",
            "  after 1h as nudge {\n    notify sales via email with meeting_details\n  }\n  -> contract on meeting_held\n",
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_shows_what_a_reload_would_do_and_exits_by_its_verdict() {
    let dir = day_and_night(workdir("plan"));
    let d = Daemon::start(config(&dir, "")).await;
    let later = two_meetings(&d).await;
    let before = d.snapshot("m1").await;
    let db = format!("sqlite://{}", dir.join("dealflow.db").display());
    let new = dir.join("new.flow");
    std::fs::write(&new, edited(&dir)).expect("write");
    let new = new.display().to_string();

    // Two hours from now the new `after 1h` is overdue for both: it fires right after the
    // switch, with its email.
    let at = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let out = dealflow(&["plan", &new, "--db", &db, "--at", &at, "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Json = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(plan["applicable"], true, "{plan}");
    assert_eq!(plan["live_deals"], 2);
    let deal = |id: &str| {
        plan["deals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} is not in the plan: {plan}"))
    };
    let kinds = |d: &Json| -> Vec<String> {
        d["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                format!(
                    "{} {}",
                    c["kind"].as_str().unwrap(),
                    c["timer"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        kinds(&deal("m0")),
        [
            "timer_not_rearmed meeting: at meeting_at - 3h",
            "timer_added meeting: after 1h as nudge"
        ]
    );
    assert_eq!(
        kinds(&deal("m1")),
        [
            "timer_moved meeting: at meeting_at - 3h",
            "timer_added meeting: after 1h as nudge"
        ]
    );
    let moved = &deal("m1")["changes"][0];
    let to = chrono::DateTime::parse_from_rfc3339(moved["fires_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        to.timestamp(),
        (later - chrono::Duration::hours(3)).timestamp()
    );
    let mail = &deal("m0")["messages"][0];
    assert_eq!(
        (mail["channel"].as_str(), mail["template"].as_str()),
        (Some("email"), Some("meeting_details"))
    );
    assert_eq!(plan["summary"]["timers_not_rearmed"], 1);
    assert_eq!(plan["summary"]["timers_moved"], 1);
    assert_eq!(plan["summary"]["fire_at_switch"], 2);
    assert_eq!(plan["summary"]["messages"], 2);

    let out = dealflow(&["plan", &new, "--db", &db]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("= timer «meeting: at meeting_at - 3h» already fired"),
        "{text}"
    );
    assert!(text.contains("a reload would apply these rules."), "{text}");

    // Without the `meeting` stage both deals would be stranded: exit 1, the stage and the ids.
    let rules = std::fs::read_to_string(dir.join("web-studio.flow")).unwrap();
    let cut = rules
        .replace("-> meeting on call_done", "-> contract on call_done")
        .replace("lead, meeting, contract", "lead, contract");
    let start = cut.find("stage meeting").unwrap();
    let end = start + cut[start..].find("\n}\n").unwrap() + 3;
    std::fs::write(
        dir.join("cut.flow"),
        format!("{}{}", &cut[..start], &cut[end..]),
    )
    .unwrap();
    let cut = dir.join("cut.flow").display().to_string();
    let out = dealflow(&["plan", &cut, "--db", &db, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let plan: Json = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(plan["applicable"], false);
    assert_eq!(
        plan["stranded"],
        json!([{"stage": "meeting", "deals": 2, "first": ["m0", "m1"]}])
    );
    let out = dealflow(&["plan", &cut, "--db", &db]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("stranded: stage `meeting` is gone and 2 live deal(s) stand in it: m0, m1"),
        "{text}"
    );
    assert!(
        text.contains("a reload would refuse these rules:"),
        "{text}"
    );

    // A file with errors: 1, shown as `check` shows them. No database: 2.
    std::fs::write(
        dir.join("typo.flow"),
        rules.replace("-> meeting on call_done", "-> meting on call_done"),
    )
    .unwrap();
    let out = dealflow(&[
        "plan",
        &dir.join("typo.flow").display().to_string(),
        "--db",
        &db,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("E0101"));
    let nowhere = format!("sqlite://{}", dir.join("nowhere.db").display());
    let out = dealflow(&["plan", &new, "--db", &nowhere]);
    assert_eq!(out.status.code(), Some(2));
    let out = dealflow(&[
        "plan",
        &dir.join("missing.flow").display().to_string(),
        "--db",
        &db,
    ]);
    assert_eq!(out.status.code(), Some(2));

    assert_eq!(d.snapshot("m1").await, before, "plan changed the database");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_what_if_starts_from_the_switch_a_reload_would_make() {
    let dir = day_and_night(workdir("whatif-switch"));
    let d = Daemon::start(config(&dir, "")).await;
    let later = two_meetings(&d).await;
    let db = format!("sqlite://{}", dir.join("dealflow.db").display());
    let new = dir.join("new.flow");
    std::fs::write(&new, edited(&dir)).expect("write");
    let until = (later + chrono::Duration::days(1)).to_rfc3339();
    let out = dealflow(&[
        "simulate",
        "--format",
        "json",
        "--until",
        &until,
        "--db",
        &db,
        &new.display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let timeline = String::from_utf8_lossy(&out.stdout);
    // The switch's records (timer_moved, timer_dropped …) conform to the published schema.
    crate::common::schema::conforms("what-if after a switch", &timeline);
    let lines: Vec<Json> = timeline
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let of = |deal: &str, kind: &str| -> Vec<&Json> {
        lines
            .iter()
            .filter(|r| r["deal"] == deal && r["kind"] == kind)
            .collect()
    };
    // m0's reminder already rang: it does not ring again; the new line is armed for both.
    assert!(
        of("m0", "timer_fired")
            .iter()
            .all(|r| r["timer"] == "meeting: after 1h as nudge"),
        "{lines:?}"
    );
    assert_eq!(of("m0", "timer_set").len(), 1);
    // m1's reminder moved at the switch and rings three hours before the meeting.
    let moved = of("m1", "timer_moved");
    assert_eq!(moved.len(), 1);
    let rang: Vec<&Json> = of("m1", "timer_fired")
        .into_iter()
        .filter(|r| r["timer"] == "meeting: at meeting_at - 3h")
        .collect();
    assert_eq!(rang.len(), 1, "{lines:?}");
    let at = chrono::DateTime::parse_from_rfc3339(rang[0]["at"].as_str().unwrap()).unwrap();
    assert_eq!(
        at.timestamp(),
        (later - chrono::Duration::hours(3)).timestamp()
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reload_dry_run_answers_the_plan_and_applies_nothing() {
    let dir = day_and_night(workdir("dry-run"));
    let d = Daemon::start(config(&dir, "")).await;
    two_meetings(&d).await;
    let flow = dir.join("web-studio.flow");
    let rules = std::fs::read_to_string(&flow).unwrap();
    // The file on disk as it runs: nothing would change.
    let (status, plan) = d
        .post("/api/v1/rules/reload?dry_run=true", STAFF, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["applicable"], true);
    assert_eq!(plan["deals"], json!([]));
    // A saved file with a typo: the watcher refuses it; the dry run says why, as a plan.
    let tmp = flow.with_extension("swp");
    std::fs::write(
        &tmp,
        rules.replace("-> meeting on call_done", "-> meting on call_done"),
    )
    .unwrap();
    std::fs::rename(&tmp, &flow).unwrap();
    let (status, plan) = d
        .post("/api/v1/rules/reload?dry_run=true", STAFF, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["applicable"], false);
    assert!(
        plan["reasons"][0].as_str().unwrap().contains("meting"),
        "{plan}"
    );
    let (status, _) = d
        .post("/api/v1/rules/reload?dry_run=maybe", STAFF, json!({}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = d
        .post("/api/v1/rules/reload?dry_run=true", READ, json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, running) = d.get("/api/v1/rules").await;
    assert_eq!(running["version"], 1, "a dry run applied the rules");
    d.stop().await;
}
