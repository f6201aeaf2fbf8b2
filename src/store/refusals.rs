//! Refused inputs: an event, a deal's creation or work on a task that the rules turned away,
//! kept (for a configurable while) so that one can ask why a deal did not move. A refused lead
//! from the website (its `origin` says which door) is a client the studio must not lose: it
//! stays open until someone settles it — dismisses it, or makes a deal from it.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::statements::Arg;
use super::{StoreError, Tx};
use crate::json::stamp;

/// A refused input.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Refusal {
    /// Its number (0 for one not written yet).
    pub id: i64,
    /// The deal it was for (for a creation, the id asked for).
    pub deal: String,
    /// When.
    pub at: DateTime<Utc>,
    /// `create`, `event` or `task`.
    pub input: String,
    /// The event's name, the stages asked for, or the task and what was done to it.
    pub name: String,
    /// The fields it carried, as JSON.
    pub payload: String,
    /// Who sent it.
    pub by: Option<String>,
    /// Who it came through, when not the person who sent it (a token acting for them, an
    /// integration's token by name).
    pub via: Option<String>,
    /// A website lead's door: `lead` (`POST /api/v1/leads`) or `form:KEY`.
    pub origin: Option<String>,
    /// How it was settled, once it was (a website lead's).
    pub settled: Option<Settled>,
    /// `refused`, `not_now`, `step_failed`, `exists`, `misfit`.
    pub code: String,
    /// Why, in the pipeline's words.
    pub reason: String,
    /// The rule that decided it (`file:line`), when one did.
    pub rule: Option<String>,
    /// The rules version that refused it.
    pub version: i64,
}

/// How a refused website lead was settled.
#[derive(Debug, Clone, PartialEq)]
pub struct Settled {
    /// When.
    pub at: DateTime<Utc>,
    /// By whom.
    pub by: Option<String>,
    /// The deal made from it (`None`: dismissed).
    pub deal: Option<String>,
}

impl Refusal {
    /// Its row in `refusals`.
    /// Text as sent is kept with its control characters as U+FFFD: an input refused for holding
    /// a NUL is kept alike by both stores (PostgreSQL cannot hold a NUL in text at all).
    pub(super) fn row(&self) -> Vec<Arg> {
        vec![
            Arg::from(kept(&self.deal)),
            Arg::from(stamp(self.at)),
            Arg::from(self.input.as_str()),
            Arg::from(kept(&self.name)),
            Arg::from(self.payload.as_str()),
            Arg::from(self.by.as_deref().map(kept)),
            Arg::from(self.code.as_str()),
            Arg::from(kept(&self.reason)),
            Arg::from(self.rule.clone()),
            Arg::from(self.version),
            Arg::from(self.via.as_deref().map(kept)),
            Arg::from(self.origin.clone()),
        ]
    }
}

/// A text with its control characters (but tabs and line breaks) as U+FFFD.
fn kept(text: &str) -> String {
    text.chars()
        .map(|c| {
            if crate::value::unkept(c, true) {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// The statement that adds refusals (rows as [`Refusal::row`] gives them).
pub(super) const REFUSALS_INSERT: &str = "INSERT INTO refusals (deal_id, at, input, name, payload, sent_by, code, reason, rule, rules_version, sent_via, origin)";

/// The columns a refusal is read from (see `refusal_of`).
const COLUMNS: &str = "SELECT id, deal_id, at, input, name, payload, sent_by, code, reason, rule, \
                       rules_version, sent_via, origin, settled_at, settled_by, settled_deal \
                       FROM refusals";

/// A row of [`COLUMNS`] as a refusal (a macro: each backend has its own row type).
macro_rules! refusal_of {
    ($r:expr) => {
        (|| -> Result<Refusal, sqlx::Error> {
            let r = $r;
            let at: String = r.try_get(2)?;
            let settled_at: Option<String> = r.try_get(13)?;
            Ok(Refusal {
                id: r.try_get(0)?,
                deal: r.try_get(1)?,
                at: super::read_stamp(&at).unwrap_or_default(),
                input: r.try_get(3)?,
                name: r.try_get(4)?,
                payload: r.try_get(5)?,
                by: r.try_get(6)?,
                code: r.try_get(7)?,
                reason: r.try_get(8)?,
                rule: r.try_get(9)?,
                version: r.try_get(10)?,
                via: r.try_get(11)?,
                origin: r.try_get(12)?,
                settled: match settled_at.as_deref().and_then(super::read_stamp) {
                    Some(at) => Some(Settled {
                        at,
                        by: r.try_get(14)?,
                        deal: r.try_get(15)?,
                    }),
                    None => None,
                },
            })
        })()
    };
}

impl Tx {
    /// Refusals, newest first: of one deal, or of all; at most `limit`.
    pub async fn refusals(
        &mut self,
        deal: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Refusal>, StoreError> {
        let sql = match deal {
            Some(_) => format!("{COLUMNS} WHERE deal_id = $1 ORDER BY id DESC LIMIT $2"),
            None => format!("{COLUMNS} WHERE $1 = $1 ORDER BY id DESC LIMIT $2"),
        };
        let rows: Vec<Refusal> = on!(self, c => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(deal.unwrap_or(""))
                .bind(limit)
                .fetch_all(&mut **c).await?
                .iter()
                .map(|r| refusal_of!(r))
                .collect::<Result<_, sqlx::Error>>()?
        });
        Ok(rows)
    }

    /// One refusal by its number.
    pub async fn refusal(&mut self, id: i64) -> Result<Option<Refusal>, StoreError> {
        let sql = format!("{COLUMNS} WHERE id = $1");
        Ok(on!(self, c => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(&mut **c).await?
                .map(|r| refusal_of!(&r))
                .transpose()?
        }))
    }

    /// How many refused website leads no one has settled yet.
    pub async fn unsettled_leads_count(&mut self) -> Result<i64, StoreError> {
        Ok(on!(self, c => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM refusals WHERE origin IS NOT NULL AND settled_at IS NULL",
            )
            .fetch_one(&mut **c).await?
        }))
    }

    /// Refused website leads no one has settled yet, the oldest first: `limit` from `offset`.
    pub async fn unsettled_leads(
        &mut self,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<Refusal>, StoreError> {
        let sql = format!(
            "{COLUMNS} WHERE origin IS NOT NULL AND settled_at IS NULL ORDER BY id \
             LIMIT $1 OFFSET $2"
        );
        Ok(on!(self, c => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(limit)
                .bind(offset)
                .fetch_all(&mut **c).await?
                .iter()
                .map(|r| refusal_of!(r))
                .collect::<Result<_, sqlx::Error>>()?
        }))
    }

    /// Settles a refused website lead: dismissed (`deal` `None`) or made into that deal.
    /// Whether it was open (a second click changes nothing).
    pub async fn settle_refusal(
        &mut self,
        id: i64,
        by: Option<&str>,
        deal: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let n = on!(self, c => {
            sqlx::query(
                "UPDATE refusals SET settled_at = $2, settled_by = $3, settled_deal = $4 \
                 WHERE id = $1 AND origin IS NOT NULL AND settled_at IS NULL",
            )
            .bind(id).bind(stamp(at)).bind(by).bind(deal)
            .execute(&mut **c).await?.rows_affected()
        });
        Ok(n > 0)
    }

    /// Forgets refusals older than `before`; how many.
    pub async fn prune_refusals(&mut self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(on!(self, c => {
            sqlx::query("DELETE FROM refusals WHERE at < $1")
                .bind(stamp(before))
                .execute(&mut **c).await?.rows_affected()
        }))
    }
}
