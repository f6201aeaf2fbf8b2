//! The API as a tester nobody on this project wrote sees it: Schemathesis (from PyPI, in a venv
//! the test makes) reads `/api/v1/openapi.json` and sends thousands of requests made from it,
//! valid and not, with every check on: no 5xx, answers as documented, what the document calls
//! valid accepted, what it does not refused. Then its stateful phase, on a database of its own,
//! follows the document's links: it creates deals and moves them with events. Without Python
//! the test says it was skipped, unless `DEALFLOW_REQUIRE_PYTHON` is set (CI sets it).

use std::path::Path;

use crate::common::daemon::*;
use crate::common::{daemon_errors, daemon_log, root, skipped, venv};

/// A daemon as the test configuration makes it, with room for the bodies a fuzzer writes
/// (its body limit is that of a default configuration, not the small one other tests check),
/// and for the wrong tokens it sends to see that every operation asks for one (the wait they
/// earn, tested in `limits`, would leave the rest of its run answered 429).
async fn daemon(test: &str) -> (Daemon, std::path::PathBuf) {
    daemon_log();
    let dir = workdir(test);
    config(&dir, "");
    let file = dir.join("dealflow.toml");
    let text = std::fs::read_to_string(&file).expect("config");
    std::fs::write(
        &file,
        text.replace("body_limit = 4096", "login_attempts = 1000000"),
    )
    .expect("config");
    let config = dealflow::daemon::Config::load(Some(&file), Vec::new()).expect("valid config");
    (Daemon::start(config).await, dir)
}

/// Runs Schemathesis against `base` with every check, in `phases`, with the project's format
/// hooks or as a tester that knows only JSON Schema's standard formats; what it printed, and
/// whether it found nothing.
async fn schemathesis(
    venv: &Path,
    base: &str,
    phases: &str,
    examples: &str,
    dir: &Path,
    hooks: bool,
) -> (bool, String) {
    let mut command = tokio::process::Command::new(venv.join("bin/schemathesis"));
    if hooks {
        command.env("SCHEMATHESIS_HOOKS", root().join("tests/api/hooks.py"));
    }
    let out = command
        .args(["run", &format!("{base}/api/v1/openapi.json")])
        .args([
            "--checks",
            "all",
            "--phases",
            phases,
            "--max-examples",
            examples,
        ])
        .args(["-H", &format!("Authorization: Bearer {STAFF}")])
        .args(["--generation-database", "none", "--no-color"])
        .current_dir(dir)
        .output()
        .await
        .expect("schemathesis runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_with_every_check_finds_nothing_and_its_stateful_phase_moves_deals() {
    let Some(venv) = venv("api-venv", "tests/api/requirements.txt") else {
        skipped("skipped: no Python 3 with venv for Schemathesis");
        return;
    };

    let (d, dir) = daemon("schemathesis").await;
    let (clean, said) = schemathesis(
        &venv,
        &d.base,
        "examples,coverage,fuzzing",
        "100",
        &dir,
        true,
    )
    .await;
    assert!(
        clean,
        "Schemathesis found something:\n{said}\nthe daemon logged:\n{}",
        daemon_errors()
    );
    assert!(said.contains("API Operations:"), "{said}");
    d.stop().await;

    // Once more as a client that knows only JSON Schema's standard formats: the document's
    // patterns alone must tell it which phones and local moments the server takes.
    let (d, dir) = daemon("schemathesis-standard").await;
    let (clean, said) = schemathesis(
        &venv,
        &d.base,
        "examples,coverage,fuzzing",
        "100",
        &dir,
        false,
    )
    .await;
    assert!(
        clean,
        "Schemathesis without the format hooks found something:\n{said}\nthe daemon logged:\n{}",
        daemon_errors()
    );
    assert!(said.contains("API Operations:"), "{said}");
    d.stop().await;

    // The stateful phase on a database of its own, run again (each time with new random
    // choices, at most eight times) until a deal it made has been moved by an event: how often
    // a generated event fits the stage its deal is in is luck, that it moves it when it does is
    // what is checked.
    let (d, dir) = daemon("schemathesis-stateful").await;
    let mut runs = 0;
    let (made, moved) = loop {
        runs += 1;
        let (clean, said) = schemathesis(&venv, &d.base, "stateful", "300", &dir, true).await;
        assert!(
            clean,
            "Schemathesis' stateful phase found something:\n{said}\nthe daemon logged:\n{}",
            daemon_errors()
        );
        let (made, moved) = moved_by_events(&d).await;
        if !moved.is_empty() || runs == 8 {
            break (made, moved);
        }
    };
    skipped(&format!(
        "in {runs} stateful runs Schemathesis made {made} deals and moved {} with events",
        moved.len()
    ));
    assert!(
        !moved.is_empty(),
        "of {made} deals {runs} stateful runs made, none was moved by an event"
    );
    d.stop().await;
}

/// How many deals there are, and those an event moved to another stage.
async fn moved_by_events(d: &Daemon) -> (usize, Vec<String>) {
    let (status, page) = d.get("/api/v1/deals?limit=1000").await;
    assert_eq!(status, 200, "{page}");
    let rows = page["deals"].as_array().expect("deals");
    let mut moved = Vec::new();
    for row in rows {
        let id = row["id"].as_str().expect("an id");
        let path = format!("/api/v1/deals/{}", id.replace('/', "%2F"));
        let (status, deal) = d.get(&path).await;
        assert_eq!(status, 200, "{path}: {deal}");
        let by_event = deal["history"]
            .as_array()
            .expect("history")
            .iter()
            .filter(|h| h["kind"] == "stage_entered")
            .filter_map(|h| h["cause"].as_str())
            .any(|c| c.starts_with("event "));
        if by_event {
            moved.push(id.to_string());
        }
    }
    (rows.len(), moved)
}
