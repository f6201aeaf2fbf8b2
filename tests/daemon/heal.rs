//! Faults that heal by themselves: the SQLite file on a disk that fills up. While nothing can be
//! written, requests get 503 with `Retry-After` and `/readyz` says so (`/healthz`, liveness,
//! stays 200); once space is back, writes resume without a restart, and nothing acknowledged is
//! lost or half-written. Needs a small tmpfs, so root (CI runs as root); skipped otherwise.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::common::daemon::*;

/// A tmpfs of `megabytes` at `dir`, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, megabytes: u32) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Fills the disk of `dir` with a file, to the last byte it takes.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).expect("a filler file");
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let small = vec![0u8; 512];
    while f.write_all(&small).is_ok() {}
    let _ = f.sync_all();
    path
}

/// An answer's status and its `Retry-After`, if it has one.
fn status_and_retry(resp: &reqwest::Response) -> (StatusCode, Option<String>) {
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (resp.status(), retry)
}

async fn status_of(d: &Daemon, path: &str) -> (StatusCode, Option<String>) {
    let resp = reqwest::get(format!("{}{path}", d.base))
        .await
        .expect("an answer");
    status_and_retry(&resp)
}

async fn post_lead(d: &Daemon, id: &str) -> (StatusCode, Option<String>) {
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/deals", d.base))
        .bearer_auth(STAFF)
        .header("Content-Type", "application/json")
        .body(json!({"id": id, "title": format!("Shop {id}"), "fields": {"client_name": "Ivan", "client_phone": "+79990001122"}}).to_string())
        .send()
        .await
        .expect("an answer");
    status_and_retry(&resp)
}

#[tokio::test]
async fn a_full_disk_answers_503_and_writes_resume_when_space_is_back() {
    let dir = workdir("heal-full-disk");
    let disk = dir.join("disk");
    let Some(_tmpfs) = Tmpfs::mount(&disk, 16) else {
        assert!(
            std::env::var_os("DEALFLOW_REQUIRE_TMPFS").is_none(),
            "a tmpfs is required here"
        );
        crate::common::skipped("the full-disk test was skipped: no tmpfs (not root?)");
        return;
    };
    let db = format!("url = \"sqlite://{}\"", disk.join("dealflow.db").display());
    let d = Daemon::start(config_on(&dir, &db, "")).await;
    assert_eq!(post_lead(&d, "a0").await.0, StatusCode::CREATED);
    assert_eq!(status_of(&d, "/readyz").await.0, StatusCode::OK);

    let filler = fill(&disk);
    let mut acknowledged = vec!["a0".to_string()];
    let mut refused = Vec::new();
    for i in 1..=20 {
        let id = format!("a{i}");
        match post_lead(&d, &id).await {
            (StatusCode::CREATED, _) => acknowledged.push(id),
            (StatusCode::SERVICE_UNAVAILABLE, retry) => {
                assert!(retry.is_some(), "503 without Retry-After");
                refused.push(id);
            }
            (other, _) => panic!("{id}: {other}"),
        }
    }
    assert!(!refused.is_empty(), "the full disk refused nothing");
    // The metrics say why.
    let metrics = reqwest::get(format!("{}/metrics", d.base))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let full: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("dealflow_store_errors_total{kind=\"full\"} "))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(full >= refused.len() as u64, "{metrics}");
    // Past the probe's second of memory: not ready, and still alive.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        status_of(&d, "/readyz").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(status_of(&d, "/healthz").await.0, StatusCode::OK);

    // Space is back: writes resume by themselves.
    std::fs::remove_file(&filler).expect("remove the filler");
    let mut resumed = false;
    for attempt in 0..50 {
        let id = format!("b{attempt}");
        if post_lead(&d, &id).await.0 == StatusCode::CREATED {
            acknowledged.push(id);
            resumed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(resumed, "writes did not resume after space came back");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(status_of(&d, "/readyz").await.0, StatusCode::OK);
    // Nothing acknowledged lost, nothing refused half-written.
    for id in &acknowledged {
        let (status, _) = d.get(&format!("/api/v1/deals/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{id} was acknowledged and is gone");
    }
    for id in &refused {
        let (status, _) = d.get(&format!("/api/v1/deals/{id}")).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{id} was refused and is there"
        );
    }
    d.stop().await;
}

/// A stopped daemon lets go of its SQLite file at once, even while something of it is still on
/// its way out (here the test keeps its core, as a task not yet dropped would): the next daemon
/// on the file starts, instead of hearing that another one is using it.
#[tokio::test]
async fn a_stopped_daemon_frees_its_file_for_the_next_at_once() {
    let dir = workdir("heal-file-freed");
    let d = Daemon::start(config(&dir, "")).await;
    assert_eq!(post_lead(&d, "f1").await.0, StatusCode::CREATED);
    let lingering = d.running().core().clone();
    d.stop().await;
    match dealflow::daemon::start(config(&dir, "")).await {
        Ok(next) => next.stop().await,
        Err(e) => panic!("the next daemon could not start: {e}"),
    }
    drop(lingering);
}
