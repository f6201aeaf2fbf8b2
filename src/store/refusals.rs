//! Refused inputs: an event, a deal's creation or work on a task that the rules turned away,
//! kept (for a configurable while) so that one can ask why a deal did not move.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::statements::Arg;
use super::{StoreError, Tx};
use crate::json::stamp;

/// A refused input.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
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
    /// `refused`, `not_now`, `step_failed`, `exists`, `misfit`.
    pub code: String,
    /// Why, in the pipeline's words.
    pub reason: String,
    /// The rule that decided it (`file:line`), when one did.
    pub rule: Option<String>,
    /// The rules version that refused it.
    pub version: i64,
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
pub(super) const REFUSALS_INSERT: &str = "INSERT INTO refusals (deal_id, at, input, name, payload, sent_by, code, reason, rule, rules_version)";

impl Tx {
    /// Refusals, newest first: of one deal, or of all; at most `limit`.
    pub async fn refusals(
        &mut self,
        deal: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Refusal>, StoreError> {
        let sql = match deal {
            Some(_) => {
                "SELECT deal_id, at, input, name, payload, sent_by, code, reason, rule, rules_version \
                 FROM refusals WHERE deal_id = $1 ORDER BY id DESC LIMIT $2"
            }
            None => {
                "SELECT deal_id, at, input, name, payload, sent_by, code, reason, rule, rules_version \
                 FROM refusals WHERE $1 = $1 ORDER BY id DESC LIMIT $2"
            }
        };
        let rows: Vec<Refusal> = on!(self, c => {
            sqlx::query(sql)
                .bind(deal.unwrap_or(""))
                .bind(limit)
                .fetch_all(&mut **c).await?
                .iter()
                .map(|r| {
                    let at: String = r.try_get(1)?;
                    Ok(Refusal {
                        deal: r.try_get(0)?,
                        at: super::read_stamp(&at).unwrap_or_default(),
                        input: r.try_get(2)?,
                        name: r.try_get(3)?,
                        payload: r.try_get(4)?,
                        by: r.try_get(5)?,
                        code: r.try_get(6)?,
                        reason: r.try_get(7)?,
                        rule: r.try_get(8)?,
                        version: r.try_get(9)?,
                    })
                })
                .collect::<Result<_, sqlx::Error>>()?
        });
        Ok(rows)
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
