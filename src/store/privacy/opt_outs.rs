//! A client's opt-out from a channel, which the outbox honours by skipping the message (said in
//! the deal's history).

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::Row;

use super::super::statements::{MAX_ARGS, Style, list};
use super::super::{StoreError, Tx};
use crate::json::stamp;

impl Tx {
    /// The client opts out of a channel (`true`) or back in (`false`); `None` when there is no
    /// such deal.
    pub async fn set_opt_out(
        &mut self,
        deal: &str,
        channel: &str,
        out: bool,
        by: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let exists: Option<i64> = on!(self, c => {
            sqlx::query("SELECT revision FROM deals WHERE id = $1").bind(deal)
                .fetch_optional(&mut **c).await?
                .map(|r| r.try_get(0)).transpose()?
        });
        if exists.is_none() {
            return Ok(None);
        }
        if out {
            on!(self, c => {
                sqlx::query(
                    "INSERT INTO opt_outs (deal_id, channel, at, sent_by) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (deal_id, channel) DO NOTHING",
                )
                .bind(deal).bind(channel).bind(stamp(at)).bind(by)
                .execute(&mut **c).await?.rows_affected()
            });
        } else {
            on!(self, c => {
                sqlx::query("DELETE FROM opt_outs WHERE deal_id = $1 AND channel = $2")
                    .bind(deal).bind(channel).execute(&mut **c).await?.rows_affected()
            });
        }
        Ok(Some(self.opt_outs(deal).await?))
    }

    /// The channels a deal's client opted out of.
    pub async fn opt_outs(&mut self, deal: &str) -> Result<Vec<String>, StoreError> {
        Ok(on!(self, c => {
            sqlx::query("SELECT channel FROM opt_outs WHERE deal_id = $1 ORDER BY channel")
                .bind(deal).fetch_all(&mut **c).await?
                .iter().map(|r| r.try_get::<String, _>(0)).collect::<Result<_, _>>()?
        }))
    }

    /// Of these messages (claimed to go out), those to clients who opted out of their
    /// channel: skipped, each said in its deal's history. Their ids.
    pub(in crate::store) async fn skip_opted_out(
        &mut self,
        ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError> {
        type Skipped = (i64, String, String, String, i64, i64);
        let mut due: Vec<Skipped> = Vec::new();
        let style = Style::of(self);
        for chunk in ids.chunks(MAX_ARGS) {
            let mut sql = String::from(
                "SELECT o.id, o.deal_id, o.channel, o.template, d.rules_version, d.revision \
                 FROM outbox o JOIN opt_outs x ON x.deal_id = o.deal_id AND x.channel = o.channel \
                 JOIN deals d ON d.id = o.deal_id \
                 WHERE o.to_kind = 'client' AND o.id IN (",
            );
            list(&mut sql, chunk.len(), 1, style);
            sql.push(')');
            due.extend(on!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(&mut **c).await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?)))
                .collect::<Result<Vec<Skipped>, sqlx::Error>>()?
            }));
        }
        for (id, deal, channel, template, version, revision) in &due {
            let reason = format!("the client opted out of {channel}");
            on!(self, c => {
                sqlx::query("UPDATE outbox SET status = 'skipped', last_error = $2 WHERE id = $1")
                    .bind(id).bind(&reason).execute(&mut **c).await?.rows_affected()
            });
            let record = json!({
                "at": stamp(now),
                "deal": deal,
                "kind": "notification_skipped",
                "to_kind": "client",
                "to": "client",
                "channel": channel,
                "template": template,
                "reason": reason,
            });
            self.add_history(
                deal,
                now,
                "notification_skipped",
                "opt-out",
                *version,
                *revision,
                &record,
            )
            .await?;
        }
        Ok(due.into_iter().map(|d| d.0).collect())
    }
}
