//! Answers kept for idempotency keys: a retry gets the first answer, byte for byte.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::statements::{MAX_ARGS, Style, list};
use super::{StoreError, Tx};
use crate::json::stamp;

/// The answer given to a request with an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// What the request was (method, path, body digest): a key reused for another request is
    /// an error, not a replay.
    pub fingerprint: String,
    /// HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: String,
}

impl Tx {
    /// The answer first given to a request with this idempotency key.
    pub async fn answer(&mut self, key: &str) -> Result<Option<Answer>, StoreError> {
        Ok(on!(self, c => {
            sqlx::query("SELECT fingerprint, status, body FROM requests WHERE key = $1")
                .bind(key)
                .fetch_optional(&mut **c).await?
                .map(|r| -> Result<_, sqlx::Error> {
                    Ok(Answer {
                        fingerprint: r.try_get(0)?,
                        status: r.try_get::<i64, _>(1)? as u16,
                        body: r.try_get(2)?,
                    })
                })
                .transpose()?
        }))
    }

    /// Keeps the answer to a request, in the same transaction as what the request changed.
    pub async fn keep_answer(
        &mut self,
        key: &str,
        a: &Answer,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on!(self, c => {
            sqlx::query(
                "INSERT INTO requests (key, fingerprint, status, body, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(key).bind(&a.fingerprint).bind(i64::from(a.status)).bind(&a.body).bind(stamp(now))
            .execute(&mut **c).await?.rows_affected()
        });
        Ok(())
    }

    /// The kept answers of these idempotency keys.
    pub async fn answers(
        &mut self,
        keys: &[String],
    ) -> Result<HashMap<String, Answer>, StoreError> {
        let mut out = HashMap::new();
        for chunk in keys.chunks(MAX_ARGS) {
            if chunk.is_empty() {
                continue;
            }
            let mut sql =
                String::from("SELECT key, fingerprint, status, body FROM requests WHERE key IN (");
            list(&mut sql, chunk.len(), 1, Style::of(self));
            sql.push(')');
            let rows: Vec<(String, String, i64, String)> = on!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for k in chunk {
                    q = q.bind(k.as_str());
                }
                q.fetch_all(&mut **c).await?
                    .iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
                    .collect::<Result<_, sqlx::Error>>()?
            });
            for (key, fingerprint, status, body) in rows {
                out.insert(
                    key,
                    Answer {
                        fingerprint,
                        status: status as u16,
                        body,
                    },
                );
            }
        }
        Ok(out)
    }
}
