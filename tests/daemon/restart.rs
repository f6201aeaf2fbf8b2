//! PostgreSQL restarted under load: a server of the test's own (initdb and pg_ctl on a free
//! port, run as the `postgres` user: both refuse root) stopped with `-m immediate` while leads
//! keep coming, then started again. Meanwhile requests get 503 with `Retry-After` and
//! `/readyz` says so; afterwards the daemon writes again by itself, its timers fire and its
//! outbox sends, and every lead it acknowledged is there. Needs root (CI runs as root) to run
//! the server as `postgres`; skipped otherwise.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::common::daemon::*;

/// A PostgreSQL server of the test's own, stopped at once when dropped.
pub(crate) struct OwnPostgres {
    dir: PathBuf,
    port: u16,
}

fn as_postgres(args: &[&str]) -> bool {
    Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl OwnPostgres {
    /// initdb and start on a free port; `None` when this machine cannot (not root, no
    /// PostgreSQL binaries).
    pub(crate) fn start(name: &str) -> Option<OwnPostgres> {
        let dir = std::env::temp_dir().join(format!("dealflow-pg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).ok()?;
        let owned = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        let data = dir.join("data");
        let data = data.to_str()?;
        if !owned
            || !as_postgres(&[
                "initdb",
                "-D",
                data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ])
        {
            let _ = std::fs::remove_dir_all(&dir);
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .ok()?
            .port();
        let pg = OwnPostgres { dir, port };
        pg.up().then_some(pg)
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    /// `pg_ctl start`, waiting until it accepts connections.
    pub(crate) fn up(&self) -> bool {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").display().to_string();
        as_postgres(&[
            "pg_ctl",
            "-D",
            &self.data(),
            "-o",
            &options,
            "-l",
            &log,
            "-w",
            "-t",
            "30",
            "start",
        ])
    }

    /// `pg_ctl stop -m immediate`: the server dies as in a crash.
    pub(crate) fn crash(&self) -> bool {
        as_postgres(&[
            "pg_ctl",
            "-D",
            &self.data(),
            "-m",
            "immediate",
            "-w",
            "stop",
        ])
    }

    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.crash();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The server of the test's own, or why the test is skipped (a failure where CI asks for it).
pub(crate) fn own_postgres(name: &str) -> Option<OwnPostgres> {
    let pg = OwnPostgres::start(name);
    if pg.is_none() {
        assert!(
            std::env::var_os("DEALFLOW_REQUIRE_PG_CTL").is_none(),
            "DEALFLOW_REQUIRE_PG_CTL is set, but no PostgreSQL of the test's own could be started (root, runuser, initdb, pg_ctl)"
        );
        crate::common::skipped(&format!(
            "{name}: SKIPPED (needs root to run initdb and pg_ctl as postgres)"
        ));
    }
    pg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_rides_a_postgres_restart_under_load() {
    let Some(pg) = own_postgres("restart") else {
        return;
    };
    let dir = day_and_night(workdir("pg-restart"));
    let database = format!("url = \"{}\"", pg.url());
    let d = Arc::new(Daemon::start(config_on(&dir, &database, "")).await);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    // Leads keep coming, one after another, each answer kept.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (d, http, stop) = (d.clone(), http.clone(), stop.clone());
        tokio::spawn(async move {
            let mut answers = Vec::new();
            for i in 0..3000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let id = format!("r{i:04}");
                let sent = Instant::now();
                let r = http
                    .post(format!("{}/api/v1/deals", d.base))
                    .bearer_auth(STAFF)
                    .header("content-type", "application/json")
                    .body(json!({"id": id, "title": "Shop", "fields": {"client_name": "Ivan", "client_phone": "+79990001122"}}).to_string())
                    .send()
                    .await;
                let answer = r.map(|r| (r.status(), r.headers().contains_key("retry-after")));
                answers.push((id, answer.map_err(|e| e.to_string()), sent.elapsed()));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            answers
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(pg.crash(), "pg_ctl stop -m immediate");
    let down = Instant::now();
    eventually(
        "/readyz says the database is down",
        Duration::from_secs(15),
        || async {
            reqwest::get(format!("{}/readyz", d.base))
                .await
                .is_ok_and(|r| {
                    r.status() == StatusCode::SERVICE_UNAVAILABLE
                        && r.headers().contains_key("retry-after")
                })
        },
    )
    .await;
    let health = reqwest::get(format!("{}/healthz", d.base)).await.unwrap();
    assert_eq!(health.status(), StatusCode::OK, "liveness stays");
    // Down for longer than a request waits for a connection (10 s): some are answered 503.
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert!(pg.up(), "pg_ctl start");
    let back = Instant::now();
    eventually(
        "/readyz says it can write again",
        Duration::from_secs(30),
        || async {
            reqwest::get(format!("{}/readyz", d.base))
                .await
                .is_ok_and(|r| r.status() == StatusCode::OK)
        },
    )
    .await;
    let ready_after = back.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let answers = load.await.unwrap();

    // Every answer was a 201 or a 503 that says when to try again; every 201 lead is there.
    let mut created = 0;
    let mut refused = 0;
    for (id, answer, _) in &answers {
        match answer {
            Ok((StatusCode::CREATED, _)) => {
                created += 1;
                let (status, _) = d.get(&format!("/api/v1/deals/{id}")).await;
                assert_eq!(status, StatusCode::OK, "{id} was acknowledged and is lost");
            }
            Ok((StatusCode::SERVICE_UNAVAILABLE, true)) => refused += 1,
            other => panic!("{id}: {other:?}"),
        }
    }
    // A request that came while the server was down waited for a connection (up to 10 s)
    // and was answered once it was back, or with 503.
    let waited = answers
        .iter()
        .map(|(_, _, took)| *took)
        .max()
        .unwrap_or_default();
    assert!(
        refused > 0 || waited > Duration::from_secs(5),
        "the restart was not felt: {answers:?}"
    );
    assert!(
        answers
            .last()
            .is_some_and(|(_, a, _)| matches!(a, Ok((StatusCode::CREATED, _)))),
        "writes resumed by themselves"
    );
    eprintln!(
        "PostgreSQL restart: {created} leads acknowledged, {refused} answered 503 while it was down \
         ({:.1} s down; the longest wait for an answer {:.1} s); ready again {:.1} s after the server was",
        (back - down).as_secs_f64(),
        waited.as_secs_f64(),
        ready_after.as_secs_f64()
    );

    // Timers and the outbox run again: a reminder set after the restart fires, the welcome
    // SMS of a lead made after it goes out.
    d.lead("after").await;
    let soon = (chrono::Utc::now() + chrono::Duration::hours(2) + chrono::Duration::seconds(3))
        .to_rfc3339();
    let (status, body) = d
        .post(
            "/api/v1/deals/after/events",
            STAFF,
            json!({"name": "call_done", "fields": {"meeting_at": soon, "meeting_place": "Office"}, "by": "anna"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eventually("the reminder fires", Duration::from_secs(30), || async {
        let (_, deal) = d.get("/api/v1/deals/after").await;
        deal["history"]
            .as_array()
            .is_some_and(|h| h.iter().any(|e| e["kind"] == "timer_fired"))
    })
    .await;
    eventually("the outbox sends", Duration::from_secs(30), || async {
        d.sms()
            .await
            .iter()
            .any(|m| m.deal == "after" && m.status == "sent")
    })
    .await;
    match Arc::try_unwrap(d) {
        Ok(d) => d.stop().await,
        Err(_) => panic!("the daemon is still shared"),
    }
}
