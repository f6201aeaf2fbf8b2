//! The database of the last landed main (`tests/fixtures/main-b4d7526/`, made by `dealflow
//! serve` built from commit b4d7526 with `requests.py`: schema steps 1–11) takes step 12 in
//! place, on SQLite and on PostgreSQL. That main kept each deal's tasks in its document as well
//! as in the `tasks` table, and each message's text in its history record as well as in its
//! outbox row. Under this code the old deals read with the same tasks, the old records with their
//! texts; a step on an old deal leaves its document without tasks and its new messages' records
//! without their texts, and both read back whole.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use chrono::Utc;
use common::fixtures::{applied, count, databases_of, execute, open};
use dealflow::daemon::Step;
use dealflow::engine::{Input, TaskAction};
use dealflow::store::SCHEMA_VERSION;
use dealflow::value::Value;

/// The fixture made by the last landed main, and its schema version.
const LAST_MAIN: (&str, i64) = ("main-b4d7526", 11);

#[tokio::test]
async fn the_last_mains_database_keeps_its_tasks_and_texts_once_from_now_on() {
    for (name, url, opts) in databases_of(LAST_MAIN.0, "kept").await {
        assert_eq!(
            applied(&url, &opts).await,
            (1..=LAST_MAIN.1).collect::<Vec<_>>(),
            "{name}: the fixture is the old schema"
        );
        // A task row an earlier switch left with a stage name its document no longer has
        // (that main rewrote the document, not the unchanged row): the step mends it.
        execute(
            &url,
            &opts,
            "UPDATE tasks SET stage = 'renamed_since' WHERE deal_id = 'old5' AND n = 2",
        )
        .await;
        let core = open(&url, &opts).await;
        assert_eq!(
            count(
                &url,
                &opts,
                "SELECT COUNT(*) FROM tasks WHERE stage = 'renamed_since'"
            )
            .await,
            0,
            "{name}: the row takes its document's stage"
        );
        assert_eq!(
            applied(&url, &opts).await,
            (1..=SCHEMA_VERSION).collect::<Vec<_>>(),
            "{name}"
        );
        // The old documents list their tasks; what the store reads is the same.
        assert!(
            count(
                &url,
                &opts,
                "SELECT COUNT(*) FROM deals WHERE state LIKE '%\"tasks\"%'"
            )
            .await
                >= 6,
            "{name}: the old documents list their tasks"
        );
        let mut tx = core.store().read().await.expect("tx");
        let old5 = tx.peek_deal("old5").await.expect("read").expect("stored");
        let tasks: Vec<(&str, Option<String>, String, bool)> = old5
            .stored
            .tasks
            .iter()
            .map(|t| {
                (
                    t.id.as_str(),
                    t.assignee.clone(),
                    t.hours.to_string(),
                    t.done_at.is_some(),
                )
            })
            .collect();
        assert_eq!(
            tasks,
            [
                ("call_client", Some("anna".into()), "0".into(), true),
                ("book_meeting", Some("anna".into()), "0".into(), false),
                ("prepare_docs", Some("petr".into()), "1.25".into(), false),
            ],
            "{name}"
        );
        let book = &old5.stored.tasks[1];
        assert_eq!(book.timer_by.as_deref(), Some("anna"), "{name}: {book:?}");
        // The old history has its messages' texts.
        let history = tx.history("old4").await.expect("history");
        let welcome = history
            .iter()
            .find(|h| h.kind == "notification" && h.record.contains("\"sms\""))
            .unwrap_or_else(|| panic!("{name}: no SMS in {history:?}"));
        assert!(
            welcome.record.contains("\"text\":\"Client 4, "),
            "{name}: {}",
            welcome.record
        );
        drop(tx);

        // A step on old4 (the meeting booked: the client hears of it) and one on old5 (hours).
        let mut tx = core.store().begin().await.expect("tx");
        let meeting = Input::Event {
            name: "call_done".into(),
            payload: [
                (
                    "meeting_at".to_string(),
                    Value::Text("2027-04-01T12:00:00+03:00".into()),
                ),
                (
                    "meeting_place".to_string(),
                    Value::Text("Tverskaya 7".into()),
                ),
            ]
            .into_iter()
            .collect(),
            by: Some("anna".into()),
        };
        let step = core
            .apply(&mut tx, "old4", &meeting, Utc::now())
            .await
            .expect("answered");
        assert!(matches!(step, Step::Applied { .. }), "{name}: {step:?}");
        let log = Input::Task {
            task: "prepare_docs".into(),
            action: TaskAction::Log(rust_decimal::Decimal::new(50, 2)),
            by: Some("petr".into()),
        };
        let step = core
            .apply(&mut tx, "old5", &log, Utc::now())
            .await
            .expect("answered");
        assert!(matches!(step, Step::Applied { .. }), "{name}: {step:?}");
        tx.commit().await.expect("commit");

        // Written again, the documents leave their tasks to the table...
        for deal in ["old4", "old5"] {
            assert_eq!(
                count(
                    &url,
                    &opts,
                    &format!(
                        "SELECT COUNT(*) FROM deals WHERE id = '{deal}' AND state LIKE '%\"tasks\"%'"
                    )
                )
                .await,
                0,
                "{name}: {deal}"
            );
        }
        // ... and the new records their messages' texts to the outbox.
        assert_eq!(
            count(
                &url,
                &opts,
                "SELECT COUNT(*) FROM history WHERE deal_id = 'old4' AND kind = 'notification' \
                 AND record LIKE '%Tverskaya 7%'"
            )
            .await,
            0,
            "{name}"
        );
        let mut tx = core.store().read().await.expect("tx");
        let old5 = tx.peek_deal("old5").await.expect("read").expect("stored");
        assert_eq!(old5.stored.tasks.len(), 3, "{name}");
        assert_eq!(old5.stored.tasks[2].hours.to_string(), "1.75", "{name}");
        assert_eq!(
            old5.stored.tasks[1].timer_by.as_deref(),
            Some("anna"),
            "{name}"
        );
        // Both read back whole: the meeting's messages with their texts, in the order a
        // record written whole has its keys.
        let history = tx.history("old4").await.expect("history");
        let told: Vec<&str> = history
            .iter()
            .filter(|h| h.kind == "notification" && h.record.contains("Tverskaya 7"))
            .map(|h| h.record.as_str())
            .collect();
        assert_eq!(told.len(), 2, "{name}: {history:?}");
        for r in &told {
            let keys: Vec<String> =
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(r)
                    .expect("a record")
                    .keys()
                    .cloned()
                    .collect();
            let at = |k: &str| keys.iter().position(|x| x == k);
            assert!(
                at("template") < at("text") && at("text") < at("send_at"),
                "{name}: {keys:?}"
            );
        }
        assert!(
            told.iter().any(|r| r.contains("\"segments\"")),
            "{name}: the SMS has its size: {told:?}"
        );
        let email = told
            .iter()
            .find(|r| r.contains("\"email\""))
            .unwrap_or_else(|| panic!("{name}: no email in {told:?}"));
        let invite = email.find("\"attachments\"").expect("the invitation");
        assert!(
            email.find("\"send_at\"").is_some_and(|s| s < invite)
                && email.contains("BEGIN:VCALENDAR"),
            "{name}: {email}"
        );
        drop(tx);
        core.store().close().await;
    }
}

/// A step that sends the same rule's message to the same person twice (the sales role handed
/// from Anna to Petr with two of her tasks open: two notices of the same template, of no line)
/// queues both, and each history record reads back with its own text.
#[tokio::test]
async fn two_notices_of_one_step_to_one_person_are_both_sent_and_each_keeps_its_text() {
    use common::store::{backends, cleanup, core_with, lead, t0};
    for (name, url, opts) in backends("repeat") {
        let core = core_with(&url, &opts, true).await;
        let mut tx = core.store().begin().await.expect("tx");
        core.create(&mut tx, &lead("d1"), t0())
            .await
            .expect("created");
        let edit = Input::Edit {
            fields: [("sales".to_string(), Value::Text("petr".into()))]
                .into_iter()
                .collect(),
            clear: Vec::new(),
            by: Some("anna".into()),
        };
        let step = core
            .apply(&mut tx, "d1", &edit, t0() + chrono::Duration::minutes(5))
            .await
            .expect("answered");
        assert!(matches!(step, Step::Applied { .. }), "{name}: {step:?}");
        tx.commit().await.expect("commit");
        let mut tx = core.store().read().await.expect("tx");
        let to_petr: Vec<String> = tx
            .outbox()
            .await
            .expect("outbox")
            .into_iter()
            .filter(|m| m.template == "task_assigned" && m.to.starts_with("petr"))
            .map(|m| m.body)
            .collect();
        assert!(
            to_petr.iter().any(|b| b.contains("Позвонить клиенту"))
                && to_petr.iter().any(|b| b.contains("Назначить встречу")),
            "{name}: both are queued: {to_petr:?}"
        );
        let told: Vec<String> = tx
            .history("d1")
            .await
            .expect("history")
            .into_iter()
            .filter(|h| h.kind == "notification" && h.record.contains("\"to\":\"petr"))
            .map(|h| h.record)
            .collect();
        assert_eq!(told.len(), to_petr.len(), "{name}: {told:?}");
        for title in ["Позвонить клиенту", "Назначить встречу"] {
            assert!(
                told.iter()
                    .any(|r| r.contains(&format!("\"text\":\"☐ {title}"))),
                "{name}: {title} in {told:?}"
            );
        }
        assert!(told.iter().all(|r| !r.contains("\"repeat\"")), "{name}");
        drop(tx);
        core.store().close().await;
        cleanup(&url, &opts).await;
    }
}
