//! Signed webhooks' delivery queue: a row for each history record a subscription takes, written
//! in the step's transaction (so a record and its delivery are kept or lost together), numbered
//! per subscription and deal, claimed, retried and given up on as the outbox's messages are.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::outbox::{Among, Queue};
use super::statements::{Arg, MAX_ARGS, Style, list};
use super::{StoreError, Tx, ms};
use crate::engine::Record;

/// A subscription as the writer needs it: its name and the record kinds it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Its name (`[[webhooks]] name`, or its URL).
    pub name: String,
    /// The history record kinds it takes (`None`: every kind).
    pub kinds: Option<Vec<String>>,
}

impl Subscription {
    /// Whether it takes records of this kind.
    pub fn takes(&self, kind: &str) -> bool {
        self.kinds
            .as_ref()
            .is_none_or(|k| k.iter().any(|x| x == kind))
    }
}

/// A delivery in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Row id.
    pub id: i64,
    /// The subscription's name.
    pub webhook: String,
    /// The deal the record is about.
    pub deal: String,
    /// Its number among this subscription's deliveries about this deal, from 1.
    pub seq: i64,
    /// The record's kind.
    pub kind: String,
    /// The JSON body, as signed and sent.
    pub body: String,
    /// `pending`, `sent` or `dead`.
    pub status: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was queued (RFC 3339).
    pub created_at: String,
    /// When the receiver took it (RFC 3339).
    pub sent_at: Option<String>,
}

const COLUMNS: &str = "SELECT id, webhook, deal_id, seq, kind, body, status, attempts, \
                       last_error, created_at, sent_at FROM webhook_deliveries";

/// The rows of the deliveries a batch queues: the records each subscription takes, each with
/// the next number of its subscription and deal (`last`: the numbers given so far, updated).
/// A body is the record as the API shows it (moments in UTC), with the rules version that
/// wrote it and its number.
pub(super) fn rows(
    subscriptions: &[Subscription],
    history: &[(&Record, i64, Option<&crate::json::Actor>)],
    version: i64,
    plan: &crate::compile::Plan,
    last: &mut HashMap<(String, String), i64>,
    now: &str,
) -> Vec<Vec<Arg>> {
    let mut out = Vec::new();
    for (r, _, actor) in history {
        let kind = r.kind.name();
        for s in subscriptions.iter().filter(|s| s.takes(kind)) {
            let n = last
                .entry((s.name.clone(), r.deal.to_string()))
                .or_insert(0);
            *n += 1;
            let mut object: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&crate::json::record_object(r, plan.tz, *actor))
                    .unwrap_or_default();
            crate::json::record_in_utc(&mut object, plan);
            // The moment to the microsecond, as the API shows it (the record's own is local
            // time to the second).
            object.insert("at".into(), crate::json::stamp(r.at).into());
            object.insert("rules_version".into(), version.into());
            object.insert("seq".into(), (*n).into());
            let body = serde_json::Value::Object(object).to_string();
            out.push(vec![
                Arg::from(s.name.as_str()),
                Arg::from(&*r.deal),
                Arg::from(*n),
                Arg::from(kind),
                Arg::from(body),
                Arg::from("pending"),
                Arg::from(0i64),
                Arg::from(ms(r.at)),
                Arg::from(now),
            ]);
        }
    }
    out
}

/// How the batch writes them.
pub(super) const INSERT: &str = "INSERT INTO webhook_deliveries \
     (webhook, deal_id, seq, kind, body, status, attempts, next_ms, created_at)";

/// A row of `COLUMNS` as a delivery (a macro: each backend has its own row type).
macro_rules! delivery_of {
    ($r:expr) => {
        (|| -> Result<Delivery, sqlx::Error> {
            let r = $r;
            Ok(Delivery {
                id: r.try_get(0)?,
                webhook: r.try_get(1)?,
                deal: r.try_get(2)?,
                seq: r.try_get(3)?,
                kind: r.try_get(4)?,
                body: r.try_get(5)?,
                status: r.try_get(6)?,
                attempts: r.try_get(7)?,
                last_error: r.try_get(8)?,
                created_at: r.try_get(9)?,
                sent_at: r.try_get(10)?,
            })
        })()
    };
}

impl Tx {
    /// The last number each subscription gave each of these deals.
    pub(super) async fn webhook_numbers(
        &mut self,
        deals: &[&str],
    ) -> Result<HashMap<(String, String), i64>, StoreError> {
        let style = Style::of(self);
        let mut out = HashMap::new();
        for chunk in deals.chunks(MAX_ARGS) {
            let mut sql = String::from(
                "SELECT webhook, deal_id, MAX(seq) FROM webhook_deliveries WHERE deal_id IN (",
            );
            list(&mut sql, chunk.len(), 1, style);
            sql.push_str(") GROUP BY webhook, deal_id");
            let rows: Vec<(String, String, i64)> = on!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for d in chunk {
                    q = q.bind(*d);
                }
                q.fetch_all(&mut **c).await?
                    .iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                    .collect::<Result<_, sqlx::Error>>()?
            });
            out.extend(rows.into_iter().map(|(w, d, n)| ((w, d), n)));
        }
        Ok(out)
    }

    /// Queues a record the store wrote itself (an erasure) for every subscription that takes
    /// its kind, numbered after the deal's deliveries so far; the body as [`rows`] makes it.
    pub(super) async fn queue_own(
        &mut self,
        subscriptions: &[Subscription],
        record: &serde_json::Map<String, serde_json::Value>,
        version: i64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (Some(deal), Some(kind)) = (
            record.get("deal").and_then(|v| v.as_str()),
            record.get("kind").and_then(|v| v.as_str()),
        ) else {
            return Ok(());
        };
        let numbers = self.webhook_numbers(&[deal]).await?;
        let now = crate::json::stamp(at);
        for s in subscriptions.iter().filter(|s| s.takes(kind)) {
            let seq = numbers
                .get(&(s.name.clone(), deal.to_string()))
                .copied()
                .unwrap_or(0)
                + 1;
            let mut body = record.clone();
            body.insert("rules_version".into(), version.into());
            body.insert("seq".into(), seq.into());
            let body = serde_json::Value::Object(body).to_string();
            on!(self, c => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{INSERT} VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $7)"
                )))
                .bind(&s.name).bind(deal).bind(seq).bind(kind).bind(&body).bind(ms(at)).bind(&now)
                .execute(&mut **c).await?.rows_affected()
            });
        }
        Ok(())
    }

    /// A deal's deliveries, the latest first, at most `limit`.
    pub async fn deliveries_of(
        &mut self,
        deal: &str,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let sql = format!("{COLUMNS} WHERE deal_id = $1 ORDER BY id DESC LIMIT $2");
        Ok(on!(self, c => {
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(deal).bind(limit).fetch_all(&mut **c).await?
                .iter().map(|r| delivery_of!(r)).collect::<Result<_, sqlx::Error>>()?
        }))
    }

    /// Claims up to `limit` of the deliveries `among` these subscriptions' that may go out
    /// now, each held until `lease_until` (as the outbox claims its messages); the longest
    /// waiting first.
    pub(super) async fn claim_deliveries(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
        among: Among<'_>,
    ) -> Result<Vec<Delivery>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let ids = match among {
            // The subscriptions with deliveries pending, an index look each, however many are
            // pending; those no longer configured claimed by name.
            Among::NoneOf(configured) => {
                let mut ids = Vec::new();
                for name in self.pending_webhooks().await? {
                    let left = limit - ids.len() as i64;
                    if left <= 0 {
                        break;
                    }
                    if !configured.contains(&name) {
                        ids.extend(
                            self.due_ids(Queue::Webhooks, now, left, Among::Named(&name))
                                .await?,
                        );
                    }
                }
                ids
            }
            _ => self.due_ids(Queue::Webhooks, now, limit, among).await?,
        };
        self.queue_update(
            Queue::Webhooks,
            "next_ms = ",
            Arg::Int(Some(ms(lease_until))),
            &ids,
        )
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let sql = format!("{COLUMNS} WHERE id = $1");
            out.push(on!(self, c => {
                sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_one(&mut **c).await
                    .and_then(|r| delivery_of!(&r))?
            }));
        }
        Ok(out)
    }

    /// The names of the subscriptions with deliveries pending, in name order: one look at
    /// the pending deliveries' index for each name (a loose index scan), not a walk of them.
    pub(super) async fn pending_webhooks(&mut self) -> Result<Vec<String>, StoreError> {
        Ok(on!(self, c => {
            sqlx::query(PENDING_NAMES).fetch_all(&mut **c).await?
                .iter().map(|r| r.try_get::<String, _>(0)).collect::<Result<_, _>>()?
        }))
    }
}

/// The names of the subscriptions with deliveries pending (see [`Tx::pending_webhooks`]).
pub(super) const PENDING_NAMES: &str = "WITH RECURSIVE w(name) AS (\
     SELECT MIN(webhook) FROM webhook_deliveries WHERE status = 'pending' \
     UNION ALL SELECT (SELECT MIN(webhook) FROM webhook_deliveries \
     WHERE status = 'pending' AND webhook > w.name) FROM w WHERE w.name IS NOT NULL) \
     SELECT name FROM w WHERE name IS NOT NULL";
