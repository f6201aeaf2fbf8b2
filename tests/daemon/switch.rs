//! New rules under live deals: a timer keeps its identity when its line is edited, one that
//! already fired is never armed again, a moved one replaces its row, a removed one leaves no
//! row behind — on SQLite and on PostgreSQL.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value as Json, json};

use crate::common::daemon::*;

/// Replaces a file the way editors save: write a new file, rename it over the old one.
fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("swp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

fn history(deal: &Json) -> Vec<Json> {
    deal["history"].as_array().cloned().unwrap_or_default()
}

fn count(deal: &Json, kind: &str) -> usize {
    history(deal).iter().filter(|e| e["kind"] == kind).count()
}

/// The waiting timers' rows of a deal: (timer id, due).
async fn rows(d: &Daemon, deal: &str) -> Vec<(u64, DateTime<Utc>)> {
    let core = d.running().core();
    let mut tx = core.store().read().await.expect("tx");
    let far = Utc::now() + chrono::Duration::days(3650);
    tx.due_timers(far, 100_000)
        .await
        .expect("timers")
        .into_iter()
        .filter(|t| t.deal == deal)
        .map(|t| (t.timer, t.due))
        .collect()
}

/// Applies the rule file on disk and waits until every live deal has passed to it. The daemon
/// also watches the file: when its own reload of the save is already running, the request is
/// queued (202) and the file read again after it, which comes to the same version.
async fn reload(d: &Daemon, version: i64) {
    let (status, report) = d.post("/api/v1/rules/reload", STAFF, json!({})).await;
    if status == StatusCode::ACCEPTED {
        assert_eq!(report["queued"], true, "{report}");
    } else {
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(report["version"], version, "{report}");
    }
    eventually(
        "every live deal passes to the new rules",
        Duration::from_secs(20),
        || async {
            let (_, rules) = d.get("/api/v1/rules").await;
            rules["switching"]["version"] == version && rules["switching"]["running"] == false
        },
    )
    .await;
}

/// Six deals at `meeting`: three had their `at meeting_at - 2h` reminder fire, three wait for
/// theirs. The line becomes `- 3h`, then goes.
/// `db` names the database for `dealflow plan` (`--db URL [--schema S]`).
async fn the_reminder_story(d: &Daemon, dir: &Path, db: &[&str]) {
    let soon = Utc::now() + chrono::Duration::hours(2) + chrono::Duration::seconds(1);
    let later = Utc::now() + chrono::Duration::days(3);
    for i in 0..6 {
        let id = format!("m{i}");
        d.lead(&id).await;
        let meeting = if i < 3 { soon } else { later };
        let (status, body) = d
            .post(
                &format!("/api/v1/deals/{id}/events"),
                STAFF,
                json!({"name": "call_done", "fields": {"meeting_at": meeting.to_rfc3339(), "meeting_place": "Office"}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    for i in 0..3 {
        let id = format!("m{i}");
        eventually("the reminder fires", Duration::from_secs(15), || async {
            let (_, deal) = d.get(&format!("/api/v1/deals/{id}")).await;
            count(&deal, "timer_fired") == 1
        })
        .await;
        assert!(rows(d, &id).await.is_empty(), "a fired timer keeps a row");
    }
    for i in 3..6 {
        assert_eq!(rows(d, &format!("m{i}")).await.len(), 1);
    }

    // `- 2h` becomes `- 3h`.
    let flow = dir.join("web-studio.flow");
    let original = std::fs::read_to_string(&flow).expect("rules");
    let three = original.replace("at meeting_at - 2h {", "at meeting_at - 3h {");
    assert_ne!(three, original);
    // `plan` says it beforehand, from the database the daemon runs on.
    let new = dir.join("three.flow");
    std::fs::write(&new, &three).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dealflow"))
        .arg("plan")
        .arg(&new)
        .args(db)
        .args(["--format", "json"])
        .output()
        .expect("dealflow runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Json = serde_json::from_slice(&out.stdout).expect("a plan");
    assert_eq!(plan["summary"]["timers_not_rearmed"], 3, "{plan}");
    assert_eq!(plan["summary"]["timers_moved"], 3, "{plan}");
    assert_eq!(plan["summary"]["timers_added"], 0, "{plan}");
    save(&flow, &three);
    reload(d, 2).await;
    // The scheduler looks every second: give a second firing every chance to happen.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for i in 0..3 {
        let id = format!("m{i}");
        let (_, deal) = d.get(&format!("/api/v1/deals/{id}")).await;
        assert_eq!(count(&deal, "timer_fired"), 1, "reminded twice: {deal}");
        assert!(
            !history(&deal)
                .iter()
                .any(|e| e["version"] == 2 && e["kind"].as_str().unwrap().starts_with("timer")),
            "a fired reminder was armed again: {deal}"
        );
        assert!(
            rows(d, &id).await.is_empty(),
            "a fired timer got a row back"
        );
    }
    let moved_to = |meeting: DateTime<Utc>| meeting - chrono::Duration::hours(3);
    for i in 3..6 {
        let id = format!("m{i}");
        let (_, deal) = d.get(&format!("/api/v1/deals/{id}")).await;
        let moved: Vec<Json> = history(&deal)
            .into_iter()
            .filter(|e| e["kind"] == "timer_moved")
            .collect();
        assert_eq!(moved.len(), 1, "{deal}");
        assert_eq!(moved[0]["cause"], "rules version 2");
        assert_eq!(moved[0]["timer"], "meeting: at meeting_at - 3h");
        let to = DateTime::parse_from_rfc3339(moved[0]["fires_at"].as_str().unwrap()).unwrap();
        assert_eq!(to.timestamp(), moved_to(later).timestamp());
        let r = rows(d, &id).await;
        assert_eq!(r.len(), 1, "the moved timer replaces its row: {r:?}");
        assert_eq!(r[0].1.timestamp(), moved_to(later).timestamp());
    }

    // The reminder goes: the waiting ones are dropped, with no row left behind.
    let start = three.find("  at meeting_at - 3h {").expect("the line");
    let end = start + three[start..].find("  }\n").expect("its end") + 4;
    let without = format!("{}{}", &three[..start], &three[end..]);
    save(&flow, &without);
    reload(d, 3).await;
    for i in 0..6 {
        let id = format!("m{i}");
        assert!(rows(d, &id).await.is_empty(), "a stale timer row for {id}");
        let (_, deal) = d.get(&format!("/api/v1/deals/{id}")).await;
        assert_eq!(count(&deal, "timer_dropped"), usize::from(i >= 3), "{deal}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_reminder_never_rings_twice_and_leaves_no_stale_rows_on_sqlite() {
    let dir = day_and_night(workdir("switch-sqlite"));
    config(&dir, "");
    let d = Daemon::start(without_notices(&dir)).await;
    let db = format!("sqlite://{}", dir.join("dealflow.db").display());
    the_reminder_story(&d, &dir, &["--db", &db]).await;
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_reminder_never_rings_twice_and_leaves_no_stale_rows_on_postgres() {
    let Some(url) = crate::common::postgres() else {
        crate::common::skipped(
            "the reminder story on PostgreSQL: SKIPPED (set DEALFLOW_TEST_POSTGRES)",
        );
        return;
    };
    let dir = day_and_night(workdir("switch-postgres"));
    let schema = format!("t_switch_{}", std::process::id());
    let database = format!("url = \"{url}\"\nschema = \"{schema}\"");
    config_on(&dir, &database, "");
    let d = Daemon::start(without_notices(&dir)).await;
    the_reminder_story(&d, &dir, &["--db", &url, "--schema", &schema]).await;
    d.stop().await;
    crate::common::drop_schema(&url, &schema).await;
}

/// Two deals at `meeting`; the stage is renamed `appointment`: without a migration the reload
/// is refused with the stage and the deals; with one the deals move, and their history says
/// which rules version and line moved them.
async fn the_rename_story(d: &Daemon, dir: &Path, db: &[&str]) {
    for id in ["r1", "r2"] {
        d.lead(id).await;
        let (status, body) = d
            .post(
                &format!("/api/v1/deals/{id}/events"),
                STAFF,
                call_done(true),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let flow = dir.join("web-studio.flow");
    let original = std::fs::read_to_string(&flow).expect("rules");
    let renamed = original
        .replace("-> meeting on call_done", "-> appointment on call_done")
        .replace("stage meeting \"", "stage appointment \"")
        .replace("lead, meeting, contract", "lead, appointment, contract");
    let plan = |text: &str| {
        let file = dir.join("next.flow");
        std::fs::write(&file, text).expect("write");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_dealflow"))
            .arg("plan")
            .arg(&file)
            .args(db)
            .args(["--format", "json"])
            .output()
            .expect("dealflow runs");
        let doc: Json = serde_json::from_slice(&out.stdout).expect("a plan");
        (out.status.code(), doc)
    };

    // Without a migration: stranded.
    let (code, doc) = plan(&renamed);
    assert_eq!(code, Some(1), "{doc}");
    assert_eq!(
        doc["stranded"],
        json!([{"stage": "meeting", "deals": 2, "first": ["r1", "r2"]}])
    );
    save(&flow, &renamed);
    let (status, report) = d.post("/api/v1/rules/reload", STAFF, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{report}");
    assert_eq!(report["misfits"], json!(["r1", "r2"]));
    assert!(
        report["message"]
            .as_str()
            .unwrap()
            .contains("stand in stage `meeting`"),
        "{report}"
    );

    // With one: the deals move.
    let migrated = format!("{renamed}\nmigrate stage meeting -> appointment\n");
    let line = migrated.lines().count();
    let (code, doc) = plan(&migrated);
    assert_eq!(code, Some(0), "{doc}");
    assert_eq!(doc["summary"]["stages_migrated"], 2, "{doc}");
    assert_eq!(
        doc["deals"][0]["changes"][0],
        json!({"kind": "stage_migrated", "from": "meeting", "to": "appointment", "on_enter": false, "line": line})
    );
    let (_, rules) = d.get("/api/v1/rules").await;
    let version = rules["version"].as_i64().unwrap() + 1;
    save(&flow, &migrated);
    reload(d, version).await;
    for id in ["r1", "r2"] {
        let (_, deal) = d.get(&format!("/api/v1/deals/{id}")).await;
        assert_eq!(deal["stages"], json!(["appointment"]), "{deal}");
        let moved: Vec<Json> = history(&deal)
            .into_iter()
            .filter(|e| e["kind"] == "stage_migrated")
            .collect();
        assert_eq!(moved.len(), 1, "{deal}");
        assert_eq!(moved[0]["from"], "meeting");
        assert_eq!(moved[0]["version"], version);
        assert_eq!(moved[0]["cause"], format!("rules version {version}"));
        assert!(
            moved[0]["rule"]
                .as_str()
                .unwrap()
                .ends_with(&format!("web-studio.flow:{line}")),
            "{}",
            moved[0]
        );
        // The meeting's reminder goes on in the renamed stage: one timer, not two.
        assert_eq!(rows(d, id).await.len(), 1);
    }
    // Once every deal moved, the line has no more work: plan says it can go.
    let (code, doc) = plan(&migrated);
    assert_eq!(code, Some(0));
    assert!(
        doc["warnings"][0]
            .as_str()
            .unwrap()
            .contains("`migrate stage meeting -> appointment` matches no live deal"),
        "{doc}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_stage_strands_its_deals_until_a_migration_moves_them_on_sqlite() {
    let dir = workdir("rename-sqlite");
    config(&dir, "");
    let d = Daemon::start(without_notices(&dir)).await;
    let db = format!("sqlite://{}", dir.join("dealflow.db").display());
    the_rename_story(&d, &dir, &["--db", &db]).await;
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_stage_strands_its_deals_until_a_migration_moves_them_on_postgres() {
    let Some(url) = crate::common::postgres() else {
        crate::common::skipped(
            "the rename story on PostgreSQL: SKIPPED (set DEALFLOW_TEST_POSTGRES)",
        );
        return;
    };
    let dir = workdir("rename-postgres");
    let schema = format!("t_rename_{}", std::process::id());
    let database = format!("url = \"{url}\"\nschema = \"{schema}\"");
    config_on(&dir, &database, "");
    let d = Daemon::start(without_notices(&dir)).await;
    the_rename_story(&d, &dir, &["--db", &url, "--schema", &schema]).await;
    d.stop().await;
    crate::common::drop_schema(&url, &schema).await;
}

/// A deal's tasks keep the name their stage has now. `lead` is renamed `inquiry` (with a
/// migration) while t1 stands there with three open tasks and t2 has moved on to `meeting`
/// (the switch has nothing to say to it); t1 moves on too, t2 gets an hour logged on one task,
/// and the migration line then goes. Each task of both still says it was made in `inquiry`:
/// every task's row was written again under the new name, though most of them did not change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_stage_is_the_stage_of_its_tasks_after_its_migration_line_goes() {
    let dir = workdir("rename-tasks");
    config(&dir, "");
    let d = Daemon::start(without_notices(&dir)).await;
    d.lead("t1").await;
    d.lead("t2").await;
    let (status, body) = d
        .post("/api/v1/deals/t2/events", STAFF, call_done(true))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let flow = dir.join("web-studio.flow");
    let renamed = std::fs::read_to_string(&flow)
        .expect("rules")
        .replace("stage lead \"", "stage inquiry \"")
        .replace("= lead, meeting, contract", "= inquiry, meeting, contract");
    let (_, rules) = d.get("/api/v1/rules").await;
    let version = rules["version"].as_i64().unwrap();
    save(
        &flow,
        &format!("{renamed}\nmigrate stage lead -> inquiry\n"),
    );
    reload(&d, version + 1).await;
    let (status, body) = d
        .post("/api/v1/deals/t1/events", STAFF, call_done(true))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = d
        .post(
            "/api/v1/deals/t2/tasks/prepare_docs/log",
            STAFF,
            json!({"hours": 1, "by": "petr"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    save(&flow, &renamed);
    reload(&d, version + 2).await;
    d.stop().await;
    // Read by a daemon of its own, from the database alone.
    let d = Daemon::start(without_notices(&dir)).await;
    for id in ["t1", "t2"] {
        let (_, deal) = d.get(&format!("/api/v1/deals/{id}")).await;
        assert_eq!(deal["stages"], json!(["meeting"]), "{deal}");
        let tasks = deal["tasks"].as_array().cloned().unwrap_or_default();
        assert_eq!(tasks.len(), 3, "{deal}");
        for t in &tasks {
            assert_eq!(t["stage"], "inquiry", "{id}: {t}");
        }
    }
    d.stop().await;
}
