//! Backups as the operations guide tells them, with the tools users have, taken while the
//! daemon runs and restored: SQLite's online backup (`sqlite3 FILE ".backup COPY"`) and
//! `pg_dump` of the daemon's schema restored with `psql`. The copy holds every deal made
//! before it and none after, passes the integrity check, and a daemon writes on it again.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use std::process::Command;

use common::daemon::*;
use reqwest::StatusCode;

fn tool(name: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        common::skipped(&format!(
            "backup test: SKIPPED ({name} is not installed; .ci/install-test-tools installs it)"
        ));
    }
    found
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("the tool runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// 30 leads, then the backup (by `take`) while the daemon runs, then one more lead.
async fn before_and_after(d: &Daemon, take: impl FnOnce()) {
    for i in 0..30 {
        d.lead(&format!("b{i:02}")).await;
    }
    take();
    d.lead("after").await;
}

/// The restored database: the 30 leads, not the one made after; intact; writable.
async fn restored(d: &Daemon) {
    for i in 0..30 {
        let (status, _) = d.get(&format!("/api/v1/deals/b{i:02}")).await;
        assert_eq!(status, StatusCode::OK, "b{i:02} is in the backup");
    }
    let (status, _) = d.get("/api/v1/deals/after").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a lead made after the backup is not in it"
    );
    let mut tx = d.running().core().store().read().await.unwrap();
    assert!(tx.integrity().await.unwrap().is_empty());
    drop(tx);
    d.lead("again").await;
}

#[tokio::test]
async fn an_online_sqlite_backup_restores() {
    if !tool("sqlite3") {
        return;
    }
    let dir = workdir("backup-sqlite");
    let d = Daemon::start(config(&dir, "")).await;
    let copy = dir.join("backup.db");
    before_and_after(&d, || {
        run(Command::new("sqlite3")
            .arg(dir.join("dealflow.db"))
            .arg(format!(".backup '{}'", copy.display())));
    })
    .await;
    d.stop().await;
    let restore = workdir("backup-sqlite-restored");
    std::fs::copy(&copy, restore.join("dealflow.db")).unwrap();
    let d = Daemon::start(config(&restore, "")).await;
    restored(&d).await;
    d.stop().await;
}

#[tokio::test]
async fn a_pg_dump_of_the_schema_restores() {
    let Some(url) = common::postgres() else {
        common::skipped("backup test on PostgreSQL: SKIPPED (set DEALFLOW_TEST_POSTGRES)");
        return;
    };
    if !tool("pg_dump") || !tool("psql") {
        return;
    }
    let dir = workdir("backup-postgres");
    let schema = format!("t_backup_{}", std::process::id());
    let database = format!("url = \"{url}\"\nschema = \"{schema}\"");
    let d = Daemon::start(config_on(&dir, &database, "")).await;
    let dump = dir.join("dump.sql");
    before_and_after(&d, || {
        run(Command::new("pg_dump")
            .args(["--no-owner", "--schema", &schema, "--file"])
            .arg(&dump)
            .arg(&url));
    })
    .await;
    d.stop().await;
    common::drop_schema(&url, &schema).await;
    run(Command::new("psql")
        .args(["--quiet", "-v", "ON_ERROR_STOP=1", "--file"])
        .arg(&dump)
        .arg(&url));
    let d = Daemon::start(config_on(&dir, &database, "")).await;
    restored(&d).await;
    d.stop().await;
    common::drop_schema(&url, &schema).await;
}
