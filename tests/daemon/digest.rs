//! The daily digest of open tasks (`[tasks] digest_at`): once a day, each person with open tasks
//! gets one message listing them, however often the scheduler looks; a task done is not in it.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::common::daemon::*;

#[tokio::test]
async fn each_person_with_open_tasks_gets_one_digest_a_day() {
    let dir = workdir("digest");
    // Its hour has passed whenever the test runs, on any day of the week.
    let extra = "[tasks]\ndigest_at = \"00:00\"\ndigest_days = \"daily\"\n";
    let d = Daemon::start(config(&dir, extra)).await;
    let mark = || async {
        let mut tx = d.running().core().store().read().await.expect("tx");
        tx.mark("digest").await.expect("mark").unwrap_or_default()
    };
    // At start, today's digest went out at once (its hour has passed), to nobody: no tasks yet.
    eventually(
        "today's digest is claimed",
        Duration::from_secs(10),
        || async { !mark().await.is_empty() },
    )
    .await;
    d.lead("d1").await;
    d.lead("d2").await;
    let (status, body) = d
        .post("/api/v1/deals/d2/tasks/call_client/done", STAFF, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // As if the day turned: the next look of the scheduler queues the digest.
    {
        let mut tx = d.running().core().store().begin().await.expect("tx");
        tx.set_mark("digest", "").await.expect("mark");
        tx.commit().await.expect("commit");
    }
    let digests = || async {
        d.outbox()
            .await
            .into_iter()
            .filter(|m| m.template == "task_digest")
            .collect::<Vec<_>>()
    };
    eventually("the digest is queued", Duration::from_secs(10), || async {
        !digests().await.is_empty()
    })
    .await;
    // What each person has open, as the API says it.
    let mut open: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for id in ["d1", "d2"] {
        let (_, deal) = d.get(&format!("/api/v1/deals/{id}")).await;
        for t in deal["tasks"].as_array().expect("tasks") {
            if t["done_at"].is_null() {
                open.entry(t["assignee"].as_str().expect("assignee").to_string())
                    .or_default()
                    .push(format!(
                        "{} · Shop {id}",
                        t["title"].as_str().expect("title")
                    ));
            }
        }
    }
    let got = digests().await;
    assert_eq!(got.len(), open.len(), "one digest a person: {got:?}");
    let team = d.get("/api/v1/team").await.1;
    for (person, tasks) in &open {
        let email = team
            .as_array()
            .expect("team")
            .iter()
            .find(|m| m["id"] == person.as_str())
            .and_then(|m| m["email"].as_str())
            .expect("an email");
        let mine = got.iter().find(|m| m.to == email).expect("their digest");
        let first = mine.body.lines().next().unwrap_or_default();
        assert!(
            first.starts_with(&format!("☐ {} · ", tasks.len())),
            "{}",
            mine.body
        );
        assert_eq!(mine.subject.as_deref(), Some(first));
        for t in tasks {
            assert!(
                mine.body.contains(t.as_str()),
                "{t} is not in:\n{}",
                mine.body
            );
        }
        assert_eq!(mine.deal, "", "a digest is no deal's");
    }
    // The scheduler looks again and again: still one a person today.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(digests().await.len(), open.len());
    // A client's data erased: the digests that named their deal by its title no longer do.
    let (status, body) = d
        .send(
            reqwest::Method::DELETE,
            "/api/v1/deals/d1/personal-data",
            Some(STAFF),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for m in digests().await {
        assert!(!m.body.contains("Shop d1"), "{}", m.body);
    }
    d.stop().await;
}

/// A digest time or days that cannot be read are refused at start, saying which.
#[test]
fn a_digest_time_that_is_no_time_is_refused() {
    let dir = workdir("digest-settings");
    for (tasks, says) in [
        ("digest_at = \"9am\"", "tasks.digest_at"),
        ("digest_at = \"25:00\"", "tasks.digest_at"),
        (
            "digest_at = \"09:00\"\ndigest_days = \"weekends\"",
            "tasks.digest_days",
        ),
    ] {
        let file = dir.join("digest.toml");
        std::fs::write(
            &file,
            format!("[rules]\nfile = \"x.flow\"\n[tasks]\n{tasks}\n"),
        )
        .unwrap();
        let err = dealflow::daemon::Config::load(Some(&file), []).expect_err(tasks);
        assert!(err.to_string().contains(says), "{tasks}: {err}");
    }
}
