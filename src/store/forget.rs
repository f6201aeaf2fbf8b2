//! What went out long ago, forgotten: a message sent and a webhook delivered are kept in full
//! for `[outbox] keep_days`, then their rows go. A deal's message leaves a line in the deal's
//! history that it went out (its channel, template and when; never its text or address, so an
//! erasure has nothing more to find there). A few hundred rows a turn, in the writer's
//! transaction: the door never waits for a long delete.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::statements::{Arg, MAX_ARGS, Style, Writes, list};
use super::{StoreError, Tx};
use crate::json::stamp;

/// The history kind of a message that went out, written when its row is forgotten.
pub const SENT_KIND: &str = "notification_sent";

/// The cause such a line is written with.
pub const SENT_CAUSE: &str = "outbox";

/// What one turn forgot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Forgotten {
    /// Messages that went out.
    pub messages: u64,
    /// Webhook deliveries made.
    pub deliveries: u64,
}

/// A message that went out, as its history line says it.
struct Sent {
    id: i64,
    deal: String,
    channel: String,
    template: String,
    to: String,
    sent_at: String,
    queued_at: String,
}

impl Tx {
    /// Forgets at most `limit` messages and at most `limit` deliveries that went out before
    /// `before`, the oldest first; each message of a deal leaves its history line. Reads the
    /// indexes of what went out from their front: its cost does not grow with what is kept.
    pub(super) async fn forget_sent(
        &mut self,
        before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Forgotten, StoreError> {
        let cut = stamp(before);
        let select = self.went_out(
            "outbox",
            "w.id, w.deal_id, w.channel, w.template, w.to_kind, w.sent_at, w.created_at",
            "$1",
            "$2",
        );
        let sent: Vec<Sent> = on!(self, c => {
            sqlx::query(sqlx::AssertSqlSafe(select)).bind(&cut).bind(limit).fetch_all(&mut **c).await?
                .iter()
                .map(|r| {
                    use sqlx::Row;
                    Ok(Sent {
                        id: r.try_get(0)?,
                        deal: r.try_get(1)?,
                        channel: r.try_get(2)?,
                        template: r.try_get(3)?,
                        to: r.try_get(4)?,
                        sent_at: r.try_get(5)?,
                        queued_at: r.try_get(6)?,
                    })
                })
                .collect::<Result<_, sqlx::Error>>()?
        });
        self.say_sent(&sent).await?;
        let ids: Vec<i64> = sent.iter().map(|s| s.id).collect();
        let style = Style::of(self);
        for chunk in ids.chunks(MAX_ARGS) {
            let mut sql = String::from("DELETE FROM outbox WHERE id IN (");
            list(&mut sql, chunk.len(), 1, style);
            sql.push(')');
            self.run_args(sql, chunk.iter().map(|&i| Arg::from(i)).collect())
                .await?;
        }
        let delivered = self.went_out("webhook_deliveries", "w.id", "$1", "$2");
        let deliveries = on!(self, c => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM webhook_deliveries WHERE id IN ({delivered})"
            )))
            .bind(&cut).bind(limit).execute(&mut **c).await?.rows_affected()
        });
        Ok(Forgotten {
            messages: ids.len() as u64,
            deliveries,
        })
    }

    /// The look for a queue's rows that went out before `cut`, the oldest first, at most
    /// `limit` (placeholders or literals).
    fn went_out(&self, table: &str, columns: &str, cut: &str, limit: &str) -> String {
        // Another daemon forgetting at the same moment skips the rows this one took.
        let lock = match self {
            Tx::Postgres(_) => " FOR UPDATE SKIP LOCKED",
            Tx::Sqlite(..) => "",
        };
        // A subscription numbers a deal's deliveries from the last one kept (`seq`): the last
        // stays, so that the next is numbered on and a receiver sees no gap or repeat.
        let last_kept = if table == "webhook_deliveries" {
            " AND EXISTS (SELECT 1 FROM webhook_deliveries n WHERE n.webhook = w.webhook \
             AND n.deal_id = w.deal_id AND n.seq > w.seq)"
        } else {
            ""
        };
        // The literal `status = 'sent'` is the condition of the index of what went out.
        format!(
            "SELECT {columns} FROM {table} w WHERE w.status = 'sent' AND w.sent_at < {cut}\
             {last_kept} ORDER BY w.sent_at LIMIT {limit}{lock}"
        )
    }

    /// How the database runs the looks for what went out (see [`Tx::claim_plan`]).
    pub(super) async fn went_out_plan(&mut self) -> Result<Vec<String>, StoreError> {
        let mut plan = Vec::new();
        for table in ["outbox", "webhook_deliveries"] {
            let sql = self.went_out(table, "w.id", "'2026-01-01T00:00:00Z'", "500");
            plan.extend(self.plan_of(&sql).await?);
        }
        Ok(plan)
    }

    /// The history lines of the deals' messages that went out (the daily digests, which
    /// belong to no deal, leave none).
    async fn say_sent(&mut self, sent: &[Sent]) -> Result<(), StoreError> {
        let mut deals: Vec<&str> = sent
            .iter()
            .map(|s| s.deal.as_str())
            .filter(|d| !d.is_empty())
            .collect();
        deals.sort_unstable();
        deals.dedup();
        if deals.is_empty() {
            return Ok(());
        }
        let style = Style::of(self);
        let mut versions: HashMap<String, (i64, i64)> = HashMap::new();
        for chunk in deals.chunks(MAX_ARGS) {
            let mut sql =
                String::from("SELECT id, rules_version, revision FROM deals WHERE id IN (");
            list(&mut sql, chunk.len(), 1, style);
            sql.push(')');
            let rows: Vec<(String, i64, i64)> = on!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for d in chunk {
                    q = q.bind(*d);
                }
                q.fetch_all(&mut **c).await?
                    .iter()
                    .map(|r| {
                        use sqlx::Row;
                        Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
                    })
                    .collect::<Result<_, sqlx::Error>>()?
            });
            versions.extend(rows.into_iter().map(|(d, v, r)| (d, (v, r))));
        }
        let rows: Vec<Vec<Arg>> = sent
            .iter()
            .filter_map(|s| {
                let &(version, revision) = versions.get(&s.deal)?;
                let record = json!({
                    "at": s.sent_at,
                    "deal": s.deal,
                    "kind": SENT_KIND,
                    "channel": s.channel,
                    "template": s.template,
                    "to": s.to,
                    "queued_at": s.queued_at,
                });
                Some(vec![
                    Arg::from(s.deal.as_str()),
                    Arg::from(s.sent_at.as_str()),
                    Arg::from(SENT_KIND),
                    Arg::from(SENT_CAUSE),
                    Arg::Text(None),
                    Arg::from(version),
                    Arg::from(revision),
                    Arg::from(record.to_string()),
                ])
            })
            .collect();
        let mut w = Writes::default();
        w.rows(
            style,
            "INSERT INTO history (deal_id, at, kind, cause, rule, rules_version, revision, record)",
            "",
            rows,
        );
        self.send(w).await
    }
}
