//! Timers waiting, by due time: the next one, those due, claims with a lease and an attempt
//! number (skipping what another daemon claims on PostgreSQL).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::statements::{MAX_ARGS, Style, list};
use super::{StoreError, Tx, from_ms, ms};

/// A timer due, as the scheduler sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct DueTimer {
    /// The deal.
    pub deal: String,
    /// The armed timer's id in the deal.
    pub timer: u64,
    /// When it falls due.
    pub due: DateTime<Utc>,
    /// The claim's attempt number (`None`: not claimed). A firing whose attempt is no longer
    /// the timer's (someone took it over after the lease ran out) changes nothing.
    pub attempt: Option<i64>,
}

impl Tx {
    /// Timers due at or before `now`, earliest first, at most `limit`. Uses the due-time index:
    /// the cost grows with the timers due, not with the deals stored.
    pub async fn due_timers(
        &mut self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DueTimer>, StoreError> {
        let rows: Vec<(String, i64, i64)> = on!(self, c => {
            sqlx::query(
                "SELECT deal_id, timer_id, due_ms FROM timers WHERE due_ms <= $1 \
                 ORDER BY due_ms, deal_id, timer_id LIMIT $2",
            )
            .bind(ms(now)).bind(limit)
            .fetch_all(&mut **c).await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<Result<_, sqlx::Error>>()?
        });
        Ok(rows
            .into_iter()
            .map(|(deal, timer, due)| DueTimer {
                deal,
                timer: timer as u64,
                due: from_ms(due),
                attempt: None,
            })
            .collect())
    }

    /// Claims up to `limit` due timers for `owner` until `lease_until`: each claim counts up the
    /// timer's attempt. On PostgreSQL, rows another daemon is claiming are skipped, not waited
    /// for (`FOR UPDATE SKIP LOCKED`); a claim whose lease ran out may be taken over.
    pub async fn claim_timers(
        &mut self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DueTimer>, StoreError> {
        let sql = match self {
            Tx::Postgres(_) => {
                "UPDATE timers SET owner = $1, lease_ms = $2, attempt = attempt + 1 \
                 WHERE (deal_id, timer_id) IN (SELECT deal_id, timer_id FROM timers \
                   WHERE due_ms <= $3 AND (lease_ms IS NULL OR lease_ms < $3) \
                   ORDER BY due_ms LIMIT $4 FOR UPDATE SKIP LOCKED) \
                 RETURNING deal_id, timer_id, due_ms, attempt"
            }
            Tx::Sqlite(..) => {
                "UPDATE timers SET owner = $1, lease_ms = $2, attempt = attempt + 1 \
                 WHERE (deal_id, timer_id) IN (SELECT deal_id, timer_id FROM timers \
                   WHERE due_ms <= $3 AND (lease_ms IS NULL OR lease_ms < $3) \
                   ORDER BY due_ms LIMIT $4) \
                 RETURNING deal_id, timer_id, due_ms, attempt"
            }
        };
        let rows: Vec<(String, i64, i64, i64)> = on!(self, c => {
            sqlx::query(sql)
                .bind(owner).bind(ms(lease_until)).bind(ms(now)).bind(limit)
                .fetch_all(&mut **c).await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
                .collect::<Result<_, sqlx::Error>>()?
        });
        let mut out: Vec<DueTimer> = rows
            .into_iter()
            .map(|(deal, timer, due, attempt)| DueTimer {
                deal,
                timer: timer as u64,
                due: from_ms(due),
                attempt: Some(attempt),
            })
            .collect();
        out.sort_by(|a, b| (a.due, &a.deal, a.timer).cmp(&(b.due, &b.deal, b.timer)));
        Ok(out)
    }

    /// The earliest timer still to come, if any.
    pub async fn next_timer(&mut self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let v: Option<i64> = on!(self, c => {
            sqlx::query("SELECT MIN(due_ms) FROM timers").fetch_one(&mut **c).await?.try_get(0)?
        });
        Ok(v.map(from_ms))
    }

    /// The attempt numbers of the waiting timers of these deals: (deal, timer) → attempt.
    pub async fn timer_attempts(
        &mut self,
        deals: &[String],
    ) -> Result<HashMap<(String, u64), i64>, StoreError> {
        let mut out = HashMap::new();
        for chunk in deals.chunks(MAX_ARGS) {
            if chunk.is_empty() {
                continue;
            }
            let mut sql =
                String::from("SELECT deal_id, timer_id, attempt FROM timers WHERE deal_id IN (");
            list(&mut sql, chunk.len(), 1, Style::of(self));
            sql.push(')');
            let rows: Vec<(String, i64, i64)> = on!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for d in chunk {
                    q = q.bind(d.as_str());
                }
                q.fetch_all(&mut **c).await?
                    .iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                    .collect::<Result<_, sqlx::Error>>()?
            });
            for (deal, timer, attempt) in rows {
                out.insert((deal, timer as u64), attempt);
            }
        }
        Ok(out)
    }
}
