//! What-if on live data: the live deals run forward, nothing written.

use reqwest::StatusCode;
use serde_json::{Value as Json, json};

use crate::common::daemon::*;

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
