//! What went out long ago is forgotten: a daemon started on a database whose messages went out
//! before `[outbox] keep_days` forgets their rows at once, and the deal's history says each
//! went out (when, by which channel), its timeline in words; what has not gone out stays, and an
//! erasure afterwards still finds nothing of the client left.

use std::time::Duration;

use reqwest::StatusCode;

use crate::common::daemon::*;

#[tokio::test]
async fn messages_that_went_out_before_their_keep_are_forgotten_and_the_history_says_they_went_out()
{
    // Messages go out at any hour here (the pipeline's script holds the client's at night).
    let dir = day_and_night(workdir("forget"));
    let d = Daemon::start(config(&dir, "[outbox]\nkeep_days = 30\n")).await;
    d.lead("old").await;
    eventually(
        "the welcome SMS goes out",
        Duration::from_secs(20),
        || async { d.sms().await.iter().any(|m| m.status == "sent") },
    )
    .await;
    let before = d.outbox().await;
    // While its row is kept, the history shows the message whole.
    let sms = |deal: &serde_json::Value| -> serde_json::Value {
        deal["history"]
            .as_array()
            .and_then(|h| {
                h.iter()
                    .find(|r| r["kind"] == "notification" && r["channel"] == "sms")
            })
            .cloned()
            .unwrap_or_else(|| panic!("no SMS in {deal}"))
    };
    let (_, deal) = d.get("/api/v1/deals/old").await;
    let welcome = sms(&deal);
    assert!(
        welcome["text"]
            .as_str()
            .is_some_and(|t| t.contains("спасибо за обращение")),
        "{welcome}"
    );
    assert_eq!(welcome["segments"], 1, "{welcome}");
    let sent: Vec<i64> = before
        .iter()
        .filter(|m| m.status == "sent")
        .map(|m| m.id)
        .collect();
    d.stop().await;

    // A month and a day later, as far as those messages know.
    let file = dir.join("dealflow.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", file.display()))
        .await
        .expect("the file opens");
    let aged = sqlx::query(
        "UPDATE outbox SET sent_at = '2020-01-01T10:00:00.000000Z' WHERE status = 'sent'",
    )
    .execute(&pool)
    .await
    .expect("aged")
    .rows_affected();
    assert_eq!(aged as usize, sent.len());
    // The text is kept once: in its outbox row, not again in the history.
    let copies: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM history WHERE record LIKE '%спасибо за обращение%'",
    )
    .fetch_one(&pool)
    .await
    .expect("history");
    assert_eq!(copies, 0);
    pool.close().await;

    let d = Daemon::start(config(&dir, "[outbox]\nkeep_days = 30\n")).await;
    // A new lead's welcome goes out today: it is kept.
    d.lead("new").await;
    eventually(
        "what went out a month ago is forgotten, and today's SMS goes out",
        Duration::from_secs(20),
        || async {
            let now = d.outbox().await;
            now.iter().all(|m| !sent.contains(&m.id))
                && now
                    .iter()
                    .any(|m| m.deal == "new" && m.channel == "sms" && m.status == "sent")
        },
    )
    .await;
    let kept: Vec<i64> = d.outbox().await.iter().map(|m| m.id).collect();
    let not_forgotten: Vec<i64> = before
        .iter()
        .map(|m| m.id)
        .filter(|id| !sent.contains(id))
        .collect();
    assert!(
        not_forgotten.iter().all(|id| kept.contains(id)),
        "what has not gone out is kept: {not_forgotten:?} of {kept:?}"
    );
    let new_sent = d
        .outbox()
        .await
        .into_iter()
        .filter(|m| m.deal == "new" && m.status == "sent")
        .count();
    assert!(new_sent >= 1, "what went out today is kept");
    let (status, deal) = d.get("/api/v1/deals/old").await;
    assert_eq!(status, StatusCode::OK, "{deal}");
    let history = deal["history"].as_array().cloned().unwrap_or_default();
    let went: Vec<_> = history
        .iter()
        .filter(|r| r["kind"] == "notification_sent")
        .collect();
    let of_old = before
        .iter()
        .filter(|m| m.deal == "old" && sent.contains(&m.id))
        .count();
    assert_eq!(went.len(), of_old, "one line a message: {history:?}");
    assert!(
        went.iter().any(|r| r["channel"] == "sms"
            && r["at"]
                .as_str()
                .is_some_and(|t| t.starts_with("2020-01-01"))),
        "{went:?}"
    );
    // The message is still named (to whom, which template), its text gone with its row.
    let welcome = sms(&deal);
    assert_eq!(welcome["template"], "welcome", "{welcome}");
    assert!(welcome.get("text").is_none(), "{welcome}");
    // The timeline says it in the deal's words.
    let (_, explained) = d
        .send(
            reqwest::Method::GET,
            "/api/v1/deals/old/explain",
            Some(READ),
            None,
            None,
        )
        .await;
    // A step of its own, at the moment they went out, not a part of the deal's last step.
    let steps = explained["steps"].as_array().cloned().unwrap_or_default();
    let went_step = steps
        .iter()
        .find(|s| s["input"] == "Messages went out")
        .unwrap_or_else(|| panic!("no step for what went out: {explained}"));
    assert!(went_step.to_string().contains("Sent: SMS"), "{went_step}");
    assert!(
        explained.to_string().contains("its text is no longer kept"),
        "{explained}"
    );
    assert!(
        went_step["at"]
            .as_str()
            .is_some_and(|t| t.starts_with("2020-01-01")),
        "{went_step}"
    );
    assert!(
        steps
            .iter()
            .filter(|s| s["input"] != "Messages went out")
            .all(|s| !s.to_string().contains("Sent: SMS")),
        "{explained}"
    );
    // Nothing of the client is in those lines: an erasure afterwards has nothing more to find.
    let (status, _) = d.delete("/api/v1/deals/old/personal-data").await;
    assert_eq!(status, StatusCode::OK);
    let (_, deal) = d.get("/api/v1/deals/old").await;
    let text = deal["history"].to_string();
    assert!(
        !text.contains("79990001122") && !text.contains("ivan@shop.test"),
        "{text}"
    );
    assert_eq!(
        deal["history"].as_array().map(|h| h
            .iter()
            .filter(|r| r["kind"] == "notification_sent")
            .count()),
        Some(of_old),
        "the lines that they went out stay"
    );
    d.stop().await;
}
