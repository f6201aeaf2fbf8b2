//! The queues' claims on both backends: however many rows the outbox and the webhooks' queue
//! hold sent, given up on or pending, a claim reads the index of pending rows from its front
//! (the look for due rows never walks the table, and one subscription's claim never walks
//! another's backlog); and a turn settles, skips and claims as the daemon's senders expect.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use chrono::{Duration, Utc};
use dealflow::store::{Claimed, Forgotten, Line, Options, Store, Turn};

use common::store::{backends, cleanup, core, created};

/// Rows enough that a database would rather walk them than sort them, were there no index to
/// take: 220,000 messages sent, 10,000 given up on and 5,000 pending; 20,000 deliveries
/// pending for one subscription, 50 for another, and 40,000 delivered; 100,000 clients who
/// opted out of email (a claim looks up only its own messages' clients).
async fn fill(url: &str, opts: &Options) {
    let store = Store::open(url, opts).await.expect("the store opens");
    store.close().await;
    let now = Utc::now().timestamp_millis();
    let outbox = format!(
        "INSERT INTO outbox (dedupe, deal_id, channel, to_kind, recipient, template, body, \
         attachments, send_after_ms, status, next_ms, created_at, sent_at) \
         SELECT 'k' || n, 'd' || (n % 5000), 'sms', 'client', '+79990000000', 'welcome', 'text', \
         '[]', {now}, CASE WHEN n % 47 = 0 THEN 'pending' WHEN n % 23 = 0 THEN 'dead' \
         ELSE 'sent' END, {now} - n, '2026-01-01T00:00:00Z', \
         CASE WHEN n % 2 = 0 THEN '2026-03-01T00:00:00Z' ELSE '2026-06-01T00:00:00Z' END \
         FROM numbers"
    );
    let deliveries = format!(
        "INSERT INTO webhook_deliveries (webhook, deal_id, seq, kind, body, status, next_ms, \
         created_at) SELECT CASE WHEN n % 400 = 0 THEN 'small' ELSE 'big' END, 'd' || n, 1, \
         'deal_created', '{{}}', 'pending', {now} - n, '2026-01-01T00:00:00Z' FROM numbers \
         WHERE n <= 20000"
    );
    let delivered = format!(
        "INSERT INTO webhook_deliveries (webhook, deal_id, seq, kind, body, status, next_ms, \
         created_at, sent_at) SELECT 'big', 'e' || (n / 2), 1 + n % 2, 'deal_created', '{{}}', 'sent', \
         {now} - n, '2026-01-01T00:00:00Z', '2026-03-01T00:00:00Z' FROM numbers \
         WHERE n > 20000 AND n <= 60000"
    );
    let numbers = if url.starts_with("postgres") {
        "CREATE TEMP TABLE numbers AS SELECT generate_series(1, 236000) AS n"
    } else {
        "CREATE TEMP TABLE numbers AS WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL \
         SELECT n + 1 FROM s WHERE n < 236000) SELECT n FROM s"
    };
    let analyze = if url.starts_with("postgres") {
        "ANALYZE outbox; ANALYZE webhook_deliveries; ANALYZE opt_outs"
    } else {
        "ANALYZE"
    };
    let opted_out = "INSERT INTO opt_outs (deal_id, channel, at) SELECT 'o' || n, 'email', \
         '2026-01-01T00:00:00Z' FROM numbers WHERE n <= 100000"
        .to_string();
    let mut sqls = vec![
        numbers.to_string(),
        outbox,
        deliveries,
        delivered,
        opted_out,
    ];
    sqls.extend(analyze.split("; ").map(str::to_string));
    raw(url, opts, &sqls).await;
}

/// Runs statements on the test's database as they are, on one connection.
async fn raw(url: &str, opts: &Options, sqls: &[String]) {
    if url.starts_with("postgres") {
        let schema = opts.schema.clone().expect("a schema");
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .after_connect(move |c, _| {
                let schema = schema.clone();
                Box::pin(async move {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SET search_path = \"{schema}\""
                    )))
                    .execute(c)
                    .await
                    .map(|_| ())
                })
            })
            .connect(url)
            .await
            .expect("postgres");
        for sql in sqls {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&pool)
                .await
                .expect("run");
        }
        pool.close().await;
    } else {
        let file = url.trim_start_matches("sqlite://");
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(file))
            .await
            .expect("sqlite");
        for sql in sqls {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&pool)
                .await
                .expect("run");
        }
        pool.close().await;
    }
}

#[tokio::test]
async fn a_claim_reads_the_pending_rows_index_from_its_front_however_full_the_queue() {
    for (name, url, opts) in backends("queue_plans") {
        fill(&url, &opts).await;
        let store = Store::open(&url, &opts).await.expect("the store opens");
        let mut tx = store.read().await.expect("tx");
        for (line, index) in [
            (Line::Outbox, "outbox_pending"),
            (Line::Webhook("small".into()), "webhook_deliveries_pending"),
        ] {
            let plan = tx.claim_plan(&line).await.expect("a plan").join("\n");
            let uses = if name == "sqlite" {
                plan.contains(&format!("INDEX {index} ("))
                    && !plan.contains("TEMP B-TREE")
                    && !plan.contains("SCAN")
            } else {
                // On PostgreSQL the outbox's plan is its claim's one statement: the due rows
                // from the index's front, each row held by its key, each client's opt-out
                // looked up by its own (never a walk of the 100,000 who opted out).
                plan.contains(&format!("Index Scan using {index}"))
                    && !plan.contains("Seq Scan")
                    && !plan.contains("Sort")
                    && (index != "outbox_pending"
                        || plan.contains("outbox_pkey") && plan.contains("opt_outs_pkey"))
            };
            assert!(
                uses,
                "{name}, {line:?}: the claim should read {index} from its front, not walk or sort the queue:\n{plan}"
            );
            // The subscription's own name is part of the index's look, not a filter after it.
            if let Line::Webhook(_) = line {
                let by_name = if name == "sqlite" {
                    plan.contains("webhook=?")
                } else {
                    plan.lines()
                        .any(|l| l.contains("Index Cond") && l.contains("(webhook ="))
                };
                assert!(by_name, "{name}: {plan}");
            }
        }
        // The deliveries of subscriptions taken out are found by name, one look at the index
        // per name with deliveries pending, never by walking the others' 20,000.
        let plan = tx
            .claim_plan(&Line::WebhooksGone(vec!["big".into()]))
            .await
            .expect("a plan")
            .join("\n");
        let walks = if name == "sqlite" {
            plan.contains("SCAN webhook_deliveries") || !plan.contains("webhook_deliveries_pending")
        } else {
            plan.contains("Seq Scan on webhook_deliveries")
                || !plan.contains("webhook_deliveries_pending")
        };
        assert!(!walks, "{name}: {plan}");
        // What went out long ago is forgotten from the front of the indexes of what went out:
        // never a walk of the 220,000 rows kept nor a sort of them.
        let plan = tx
            .claim_plan(&Line::WentOut(Utc::now()))
            .await
            .expect("a plan")
            .join("\n");
        for index in ["outbox_sent", "webhook_deliveries_sent"] {
            assert!(plan.contains(index), "{name}: {index} is not read:\n{plan}");
        }
        let walks = if name == "sqlite" {
            plan.contains("SCAN") || plan.contains("TEMP B-TREE")
        } else {
            plan.contains("Seq Scan") || plan.contains("Sort")
        };
        assert!(!walks, "{name}: forgetting walks or sorts:\n{plan}");
        drop(tx);
        store.close().await;
        cleanup(&url, &opts).await;
    }
}

#[tokio::test]
async fn a_turn_settles_what_was_tried_skips_an_opted_out_client_and_claims_the_oldest_first() {
    for (name, url, opts) in backends("queue_turns") {
        let core = core(&url, &opts).await;
        for id in ["q1", "q2", "q3"] {
            created(&core, id, name).await;
        }
        let now = Utc::now() + Duration::days(400);
        // q2's client opted out of SMS: their welcome is skipped, said in q2's history.
        let mut tx = core.store().begin().await.expect("tx");
        tx.set_opt_out("q2", "sms", true, Some("anna"), Utc::now())
            .await
            .expect("opt out");
        tx.commit().await.expect("commit");
        let turn = |claim, sent: Vec<i64>| Turn {
            line: Line::Outbox,
            sent,
            failed: Vec::new(),
            claim,
            lease: Duration::seconds(300),
        };
        let mut tx = core.store().begin().await.expect("tx");
        let all = tx.outbox().await.expect("outbox");
        let taken = tx
            .take_turn(&turn(1000, Vec::new()), now)
            .await
            .expect("turn");
        tx.commit().await.expect("commit");
        let Claimed::Messages(claimed) = taken.claimed else {
            panic!("{name}: messages claimed")
        };
        assert!(!taken.more, "{name}: everything was claimed at once");
        let to_q2_client: Vec<_> = all
            .iter()
            .filter(|m| m.deal == "q2" && m.channel == "sms" && m.to.starts_with('+'))
            .map(|m| m.id)
            .collect();
        assert!(!to_q2_client.is_empty(), "{name}: q2's client is texted");
        assert!(
            claimed.iter().all(|m| !to_q2_client.contains(&m.id)),
            "{name}: a message to a client who opted out is not claimed"
        );
        assert_eq!(
            claimed.len(),
            all.len() - to_q2_client.len(),
            "{name}: every other message is claimed"
        );
        let ids: Vec<i64> = claimed.iter().map(|m| m.id).collect();
        let mut oldest_first = ids.clone();
        oldest_first.sort();
        assert_eq!(ids, oldest_first, "{name}: the longest waiting first");
        // Claimed, they are held: another claim takes none of them.
        let mut tx = core.store().begin().await.expect("tx");
        let again = tx
            .take_turn(&turn(1000, Vec::new()), now)
            .await
            .expect("turn");
        assert_eq!(
            again.claimed,
            Claimed::Messages(Vec::new()),
            "{name}: held while claimed"
        );
        // The first two went out: settled as sent in the turn that claims no more.
        let settled = tx
            .take_turn(&turn(0, ids[..2].to_vec()), now)
            .await
            .expect("turn");
        tx.commit().await.expect("commit");
        assert_eq!(settled.claimed, Claimed::Messages(Vec::new()), "{name}");
        let mut tx = core.store().read().await.expect("tx");
        let status: Vec<(i64, String)> = tx
            .outbox()
            .await
            .expect("outbox")
            .into_iter()
            .map(|m| (m.id, m.status))
            .collect();
        for (id, s) in &status {
            let want = if ids[..2].contains(id) {
                "sent"
            } else if to_q2_client.contains(id) {
                "skipped"
            } else {
                "pending"
            };
            assert_eq!(s, want, "{name}: message {id}");
        }
        let history = tx.history("q2").await.expect("history");
        assert!(
            history.iter().any(|h| h.kind == "notification_skipped"),
            "{name}: the skip is in q2's history"
        );
        drop(tx);
        core.store().close().await;
        cleanup(&url, &opts).await;
    }
}

#[tokio::test]
async fn what_went_out_before_its_keep_is_forgotten_a_turn_at_a_time_and_the_history_keeps_it() {
    for (name, url, opts) in backends("queue_forget") {
        let core = core(&url, &opts).await;
        for id in ["f1", "f2"] {
            created(&core, id, name).await;
        }
        // Every message claimed and sent on a day far ahead.
        let sent_on = Utc::now() + Duration::days(400);
        let turn = |line, claim, sent: Vec<i64>| Turn {
            line,
            sent,
            failed: Vec::new(),
            claim,
            lease: Duration::seconds(300),
        };
        let mut tx = core.store().begin().await.expect("tx");
        let taken = tx
            .take_turn(&turn(Line::Outbox, 1000, Vec::new()), sent_on)
            .await
            .expect("claim");
        let Claimed::Messages(claimed) = taken.claimed else {
            panic!("{name}: messages claimed")
        };
        let ids: Vec<i64> = claimed.iter().map(|m| m.id).collect();
        assert!(ids.len() >= 2, "{name}: the deals queued messages");
        // The last one is still pending: it is never forgotten.
        let (sent, pending) = ids.split_at(ids.len() - 1);
        tx.take_turn(&turn(Line::Outbox, 0, sent.to_vec()), sent_on)
            .await
            .expect("settled");
        tx.commit().await.expect("commit");
        let history_before = {
            let mut tx = core.store().read().await.expect("tx");
            tx.history("f1").await.expect("history").len()
        };
        // Three deliveries of f1 to a subscription went out that day too.
        let day = sent_on.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
        raw(
            &url,
            &opts,
            &[format!(
                "INSERT INTO webhook_deliveries (webhook, deal_id, seq, kind, body, status, \
                 next_ms, created_at, sent_at) VALUES ('books', 'f1', 1, 'deal_created', '{{}}', \
                 'sent', 0, '{day}', '{day}'), ('books', 'f1', 2, 'stage_entered', '{{}}', \
                 'sent', 0, '{day}', '{day}'), ('books', 'f1', 3, 'task_created', '{{}}', \
                 'sent', 0, '{day}', '{day}')"
            )],
        )
        .await;

        // Kept while younger than the keep.
        let mut tx = core.store().begin().await.expect("tx");
        let young = tx
            .take_turn(&turn(Line::WentOut(sent_on), 500, Vec::new()), sent_on)
            .await
            .expect("turn");
        assert_eq!(
            young.claimed,
            Claimed::Forgotten(Forgotten::default()),
            "{name}: nothing sent before the cut"
        );
        // One at a time: a turn says there is more.
        let cut = sent_on + Duration::seconds(1);
        let one = tx
            .take_turn(&turn(Line::WentOut(cut), 1, Vec::new()), cut)
            .await
            .expect("turn");
        assert_eq!(
            one.claimed,
            Claimed::Forgotten(Forgotten {
                messages: 1,
                deliveries: 1
            }),
            "{name}"
        );
        assert!(one.more, "{name}: more went out before the cut");
        let rest = tx
            .take_turn(&turn(Line::WentOut(cut), 500, Vec::new()), cut)
            .await
            .expect("turn");
        tx.commit().await.expect("commit");
        assert_eq!(
            rest.claimed,
            Claimed::Forgotten(Forgotten {
                messages: sent.len() as u64 - 1,
                deliveries: 1
            }),
            "{name}"
        );
        assert!(!rest.more, "{name}: all of it forgotten");

        let mut tx = core.store().read().await.expect("tx");
        let left: Vec<i64> = tx
            .outbox()
            .await
            .expect("outbox")
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(left, pending, "{name}: only the message not sent is kept");
        // The last delivery of f1 to the subscription stays, so that the next is numbered 4,
        // not 1 again.
        let kept: Vec<i64> = tx
            .deliveries_of("f1", 100)
            .await
            .expect("deliveries")
            .iter()
            .filter(|d| d.webhook == "books")
            .map(|d| d.seq)
            .collect();
        assert_eq!(kept, [3], "{name}: the last delivery numbers the next");
        // Each deal's history says its messages went out, when, by which channel and
        // template, never what they said or to which address.
        let history = tx.history("f1").await.expect("history");
        let went: Vec<_> = history
            .iter()
            .filter(|h| h.kind == dealflow::store::SENT_KIND)
            .collect();
        let f1_sent = claimed
            .iter()
            .filter(|m| m.deal == "f1" && sent.contains(&m.id))
            .count();
        assert_eq!(went.len(), f1_sent, "{name}: one line a message of f1");
        assert_eq!(history.len(), history_before + f1_sent, "{name}");
        for h in &went {
            let r: serde_json::Value = serde_json::from_str(&h.record).expect("a record");
            assert_eq!(r["kind"], "notification_sent", "{name}");
            assert!(
                r["channel"].is_string() && r["template"].is_string(),
                "{name}: {r}"
            );
            assert!(
                r["at"]
                    .as_str()
                    .is_some_and(|t| t.starts_with(&sent_on.format("%Y-%m-%d").to_string())),
                "{name}: when it went out: {r}"
            );
            let text = r.to_string();
            assert!(
                !text.contains("+7") && !text.contains('@') && r.get("text").is_none(),
                "{name}: no address or text: {r}"
            );
        }
        drop(tx);
        core.store().close().await;
        cleanup(&url, &opts).await;
    }
}
