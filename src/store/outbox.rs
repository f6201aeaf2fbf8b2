//! The outbox: messages queued by steps (once per deal, step, rule, channel and recipient),
//! claimed in turns, marked sent, retried or given up on.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::statements::{Arg, MAX_ARGS, Style, list};
use super::{StoreError, Tx, from_ms, ms};
use crate::json::stamp;

/// A message waiting in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    /// Row id.
    pub id: i64,
    /// The deal that sent it.
    pub deal: String,
    /// `email` or `sms`.
    pub channel: String,
    /// Address or phone number.
    pub to: String,
    /// Template name.
    pub template: String,
    /// Email subject.
    pub subject: Option<String>,
    /// The text.
    pub body: String,
    /// Attached files, as JSON (`[{filename, content_type, content}]`).
    pub attachments: String,
    /// Not before this moment.
    pub send_after: DateTime<Utc>,
    /// `pending`, `sent` or `dead`.
    pub status: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// Which messages to read.
#[derive(Debug, Clone, Copy)]
enum Messages<'a> {
    One(i64),
    Ids(&'a [i64]),
    All,
    Dead,
}

/// The outbox's dedupe key: the same rule of the same step to the same recipient is queued
/// once, however often the step is retried (a message that repeats one before it in its step,
/// the same rule to the same recipient with the same template, is numbered: `repeat`). It is a
/// digest of all of that (24 hex digits of
/// its SHA-256, 96 bits: no two messages of a database share one by chance), so that it holds
/// no address (an erasure leaves nothing to find) and costs the row and its index little.
/// Keys written by earlier versions spelled it out (`deal#revision:line:channel:to:template`);
/// they stay as they are.
pub(super) fn dedupe_key(
    deal: &str,
    revision: i64,
    line: Option<usize>,
    channel: &str,
    to: &str,
    template: &str,
    repeat: u32,
) -> String {
    let line = line.map(|l| l.to_string()).unwrap_or_default();
    let mut parts = format!("{deal}#{revision}:{line}:{channel}:{to}:{template}");
    if repeat > 0 {
        parts.push_str(&format!("#{repeat}"));
    }
    hex_digest(&parts, 12)
}

/// The first `bytes` bytes of a text's SHA-256, as hex digits.
fn hex_digest(text: &str, bytes: usize) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(text.as_bytes());
    d.iter().take(bytes).map(|b| format!("{b:02x}")).collect()
}

/// A recipient as a dedupe key of an earlier version holds it: the first 16 hex digits of its
/// SHA-256.
fn recipient_digest(to: &str) -> String {
    hex_digest(to, 8)
}

/// A dedupe key with its recipient as a digest: a key an earlier version wrote with the
/// address itself is rewritten; `None` when it already holds none.
pub(super) fn dedupe_without_address(key: &str) -> Option<String> {
    let parts: Vec<&str> = key.splitn(5, ':').collect();
    let [head, line, channel, to, template] = parts[..] else {
        return None;
    };
    let digest = to.len() == 16 && to.bytes().all(|b| b.is_ascii_hexdigit());
    (!digest).then(|| {
        format!(
            "{head}:{line}:{channel}:{}:{template}",
            recipient_digest(to)
        )
    })
}

/// The queues that go out in turns: the outbox's messages and the webhooks' deliveries.
#[derive(Debug, Clone, Copy)]
pub(super) enum Queue {
    Outbox,
    Webhooks,
}

impl Queue {
    fn table(self) -> &'static str {
        match self {
            Queue::Outbox => "outbox",
            Queue::Webhooks => "webhook_deliveries",
        }
    }
}

/// Which rows of a queue a claim may take, by the `webhook` column of the webhooks' queue.
#[derive(Debug, Clone, Copy)]
pub(super) enum Among<'a> {
    /// Every row.
    All,
    /// The rows of this subscription.
    Named(&'a str),
    /// The rows of none of these (subscriptions no longer configured): looked for by name
    /// (see [`Tx::pending_webhooks`]), never by a walk of the others'.
    NoneOf(&'a [String]),
}

impl Tx {
    /// The ids of up to `limit` rows of a queue that may go out now, the longest waiting
    /// first; on PostgreSQL locked, skipping those another daemon holds.
    pub(super) async fn due_ids(
        &mut self,
        queue: Queue,
        now: DateTime<Utc>,
        limit: i64,
        among: Among<'_>,
    ) -> Result<Vec<i64>, StoreError> {
        let (sql, names) = self.due_statement(queue, among, "");
        Ok(on!(self, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ms(now)).bind(limit);
            for n in &names {
                q = q.bind(*n);
            }
            q.fetch_all(&mut **c).await?
                .iter().map(|r| r.try_get::<i64, _>(0)).collect::<Result<_, _>>()?
        }))
    }

    /// How the database runs a claim's look for due rows (SQLite's `EXPLAIN QUERY PLAN`,
    /// PostgreSQL's `EXPLAIN`), one line per step of the plan: what the tests check, so that a
    /// claim never walks the whole queue.
    pub(super) async fn due_plan(
        &mut self,
        queue: Queue,
        among: Among<'_>,
    ) -> Result<Vec<String>, StoreError> {
        let (explain, column) = self.explain();
        // After the moment and the limit: the subscription's name, or the claim's lease.
        let (sql, more) = match (&*self, queue, among) {
            // What runs on PostgreSQL: the claim's one statement, its look for due rows within.
            (Tx::Postgres(_), Queue::Outbox, Among::All) => (
                format!("{explain}{}", claim_at_once_sql()),
                vec![Arg::Int(Some(ms(Utc::now())))],
            ),
            _ => {
                let (sql, names) = self.due_statement(queue, among, explain);
                (sql, names.into_iter().map(Arg::from).collect())
            }
        };
        let mut args = vec![Arg::Int(Some(ms(Utc::now()))), Arg::Int(Some(10))];
        args.extend(more);
        Ok(on!(self, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for a in args {
                q = a.bind(q);
            }
            q.fetch_all(&mut **c).await?
                .iter().map(|r| r.try_get::<String, _>(column)).collect::<Result<_, _>>()?
        }))
    }

    /// How the database runs `sql` (a statement that binds nothing), as [`Tx::due_plan`].
    pub(super) async fn plan_of(&mut self, sql: &str) -> Result<Vec<String>, StoreError> {
        let (explain, column) = self.explain();
        let sql = format!("{explain}{sql}");
        Ok(on!(self, c => {
            sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut **c).await?
                .iter().map(|r| r.try_get::<String, _>(column)).collect::<Result<_, _>>()?
        }))
    }

    /// The backend's way to show a plan, and the column of its answer that tells each step.
    fn explain(&self) -> (&'static str, usize) {
        match self {
            Tx::Postgres(_) => ("EXPLAIN ", 0),
            Tx::Sqlite(..) => ("EXPLAIN QUERY PLAN ", 3),
        }
    }

    /// The look for due rows of a queue (after `prefix`), with the names it binds after the
    /// moment and the limit.
    fn due_statement<'a>(
        &self,
        queue: Queue,
        among: Among<'a>,
        prefix: &str,
    ) -> (String, Vec<&'a str>) {
        let lock = match self {
            Tx::Postgres(_) => " FOR UPDATE SKIP LOCKED",
            Tx::Sqlite(..) => "",
        };
        let names: Vec<&str> = match among {
            Among::All | Among::NoneOf(_) => Vec::new(),
            Among::Named(n) => vec![n],
        };
        let whose = match among {
            Among::All | Among::NoneOf(_) => "",
            Among::Named(_) => " AND webhook = $3",
        };
        let sql = format!("{prefix}{}", due_select(queue, whose, lock));
        (sql, names)
    }

    /// Messages in the outbox, oldest first (all statuses).
    pub async fn outbox(&mut self) -> Result<Vec<Queued>, StoreError> {
        self.messages(Messages::All).await
    }

    /// The dedupe keys of a deal's messages (what a retried step is known by).
    pub async fn dedupe_keys(&mut self, deal: &str) -> Result<Vec<String>, StoreError> {
        Ok(on!(self, c => {
            sqlx::query_scalar("SELECT dedupe FROM outbox WHERE deal_id = $1 ORDER BY id")
                .bind(deal).fetch_all(&mut **c).await?
        }))
    }

    /// Marks the messages due before `t` as sent when they were queued (a story played into a
    /// fresh database, whose messages belong to its past); how many.
    pub async fn settle_before(
        &mut self,
        t: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        Ok(on!(self, c => {
            sqlx::query(
                "UPDATE outbox SET status = 'sent', sent_at = created_at WHERE status = 'pending' AND send_after_ms <= $1",
            )
            .bind(super::ms(t))
            .execute(&mut **c).await?.rows_affected()
        }))
    }

    /// Messages that could not be delivered (`dead`), the latest first, at most 500.
    pub async fn dead_messages(&mut self) -> Result<Vec<Queued>, StoreError> {
        self.messages(Messages::Dead).await
    }

    /// One message, all of them, or the dead ones.
    async fn messages(&mut self, which: Messages<'_>) -> Result<Vec<Queued>, StoreError> {
        type Row = (
            i64,
            String,
            String,
            String,
            String,
            Option<String>,
            String,
            String,
            i64,
            String,
            i64,
            Option<String>,
        );
        const COLUMNS: &str = "SELECT id, deal_id, channel, recipient, template, subject, body, \
             attachments, send_after_ms, status, attempts, last_error FROM outbox";
        let (sql, ids) = match which {
            Messages::One(id) => (format!("{COLUMNS} WHERE id = $1"), vec![id]),
            Messages::Ids(ids) => {
                let mut sql = format!("{COLUMNS} WHERE id IN (");
                list(&mut sql, ids.len(), 1, Style::of(self));
                sql.push(')');
                (sql, ids.to_vec())
            }
            Messages::All => (format!("{COLUMNS} ORDER BY id"), Vec::new()),
            Messages::Dead => (
                format!("{COLUMNS} WHERE status = 'dead' ORDER BY id DESC LIMIT 500"),
                Vec::new(),
            ),
        };
        let rows: Vec<Row> = on!(self, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in &ids {
                q = q.bind(*id);
            }
            q.fetch_all(&mut **c).await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?,
                         r.try_get(4)?, r.try_get(5)?, r.try_get(6)?, r.try_get(7)?,
                         r.try_get(8)?, r.try_get(9)?, r.try_get(10)?, r.try_get(11)?)))
            .collect::<Result<_, sqlx::Error>>()?
        });
        Ok(rows
            .into_iter()
            .map(|r| Queued {
                id: r.0,
                deal: r.1,
                channel: r.2,
                to: r.3,
                template: r.4,
                subject: r.5,
                body: r.6,
                attachments: r.7,
                send_after: from_ms(r.8),
                status: r.9,
                attempts: r.10,
                last_error: r.11,
            })
            .collect())
    }

    /// Claims up to `limit` messages that may go out now: each is held (its next attempt moved
    /// to `lease_until`) so that another worker skips it meanwhile. A message to a client who
    /// opted out of its channel is skipped instead (said in the deal's history). With how many
    /// were due (claimed and skipped): as many as `limit` means more may wait.
    pub(super) async fn claim_messages(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<(Vec<Queued>, usize), StoreError> {
        if let Tx::Postgres(c) = self {
            let claimed = claim_at_once(c, now, lease_until, limit).await?;
            let due = claimed.len();
            let opted: Vec<i64> = claimed.iter().filter(|m| m.1).map(|m| m.0.id).collect();
            let skipped = if opted.is_empty() {
                Vec::new()
            } else {
                self.skip_opted_out(&opted, now).await?
            };
            let out = claimed
                .into_iter()
                .filter(|m| !skipped.contains(&m.0.id))
                .map(|m| m.0)
                .collect();
            return Ok((out, due));
        }
        let due = self.due_ids(Queue::Outbox, now, limit, Among::All).await?;
        // Only the claimed are looked at: a claim's cost does not grow with the backlog.
        let skipped = self.skip_opted_out(&due, now).await?;
        let ids: Vec<i64> = due
            .iter()
            .copied()
            .filter(|id| !skipped.contains(id))
            .collect();
        self.queue_update(
            Queue::Outbox,
            "next_ms = ",
            Arg::Int(Some(ms(lease_until))),
            &ids,
        )
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_ARGS) {
            out.extend(self.messages(Messages::Ids(chunk)).await?);
        }
        // In the order claimed: the longest waiting first.
        let order: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        out.sort_by_key(|m| order.get(&m.id).copied());
        Ok((out, due.len()))
    }

    /// One message.
    pub async fn message(&mut self, id: i64) -> Result<Option<Queued>, StoreError> {
        Ok(self.messages(Messages::One(id)).await?.into_iter().next())
    }

    /// These rows of a queue went out.
    pub(super) async fn queue_sent(
        &mut self,
        queue: Queue,
        ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.queue_update(
            queue,
            "status = 'sent', attempts = attempts + 1, last_error = NULL, sent_at = ",
            Arg::Text(Some(stamp(now))),
            ids,
        )
        .await
    }

    /// `UPDATE {queue} SET {set}<value> WHERE id IN (…)`, one statement per few hundred ids.
    pub(super) async fn queue_update(
        &mut self,
        queue: Queue,
        set: &str,
        value: Arg,
        ids: &[i64],
    ) -> Result<(), StoreError> {
        let style = Style::of(self);
        for chunk in ids.chunks(MAX_ARGS) {
            let mut sql = format!("UPDATE {} SET {set}", queue.table());
            list(&mut sql, 1, 1, style);
            sql.push_str(" WHERE id IN (");
            list(&mut sql, chunk.len(), 2, style);
            sql.push(')');
            let mut args = Vec::with_capacity(chunk.len() + 1);
            args.push(value.clone());
            args.extend(chunk.iter().map(|id| Arg::Int(Some(*id))));
            self.run_args(sql, args).await?;
        }
        Ok(())
    }

    /// An attempt at a row of a queue failed: try again at `retry` or, when `dead`, never.
    pub(super) async fn attempt_failed(
        &mut self,
        queue: Queue,
        id: i64,
        error: &str,
        retry: DateTime<Utc>,
        dead: bool,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "UPDATE {} SET status = $1, attempts = attempts + 1, next_ms = $2, last_error = $3 \
             WHERE id = $4",
            queue.table()
        );
        on!(self, c => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(if dead { "dead" } else { "pending" }).bind(ms(retry)).bind(error).bind(id)
            .execute(&mut **c).await?.rows_affected()
        });
        Ok(())
    }
}

/// The look for a queue's due rows, the longest waiting first (`whose`: a condition on the
/// subscription's name; `lock`: PostgreSQL's row locks).
fn due_select(queue: Queue, whose: &str, lock: &str) -> String {
    // The literal `status = 'pending'` is the pending index's own condition: the database
    // takes the index only for a query that says it so.
    format!(
        "SELECT id, next_ms FROM {} WHERE status = 'pending' AND next_ms <= $1{whose} \
         ORDER BY next_ms, id LIMIT $2{lock}",
        queue.table()
    )
}

/// The claim on PostgreSQL (binds: now, limit, lease until), see [`claim_at_once`].
fn claim_at_once_sql() -> String {
    format!(
        "WITH due AS ({}) UPDATE outbox o SET next_ms = $3 FROM due WHERE o.id = due.id \
         RETURNING o.id, o.deal_id, o.channel, o.recipient, o.template, o.subject, o.body, \
         o.attachments, o.send_after_ms, o.status, o.attempts, o.last_error, due.next_ms, \
         (o.to_kind = 'client' AND EXISTS (SELECT 1 FROM opt_outs x \
         WHERE x.deal_id = o.deal_id AND x.channel = o.channel))",
        due_select(Queue::Outbox, "", " FOR UPDATE SKIP LOCKED")
    )
}

/// A claim on PostgreSQL, one statement: the due messages locked (skipping those another daemon
/// holds), held until `lease_until` and read back, each with whether its client opted out of
/// its channel, the longest waiting first. (In steps, as SQLite claims, it would be four round
/// trips inside the writer's transaction, which every batch of requests waits behind.)
async fn claim_at_once(
    c: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(Queued, bool)>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(claim_at_once_sql()))
        .bind(ms(now))
        .bind(limit)
        .bind(ms(lease_until))
        .fetch_all(&mut **c)
        .await?;
    let mut out = rows
        .iter()
        .map(|r| {
            let m = Queued {
                id: r.try_get(0)?,
                deal: r.try_get(1)?,
                channel: r.try_get(2)?,
                to: r.try_get(3)?,
                template: r.try_get(4)?,
                subject: r.try_get(5)?,
                body: r.try_get(6)?,
                attachments: r.try_get(7)?,
                send_after: from_ms(r.try_get(8)?),
                status: r.try_get(9)?,
                attempts: r.try_get(10)?,
                last_error: r.try_get(11)?,
            };
            Ok(((r.try_get::<i64, _>(12)?, m.id), (m, r.try_get(13)?)))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    out.sort_by_key(|(order, _)| *order);
    Ok(out.into_iter().map(|(_, m)| m).collect())
}
