//! Contacts to check: a website lead's phone or email that could not be read. The deal is made
//! without it and the text as typed waits here, on the out-of-control page, until someone sets
//! the field (any step that gives it a value) or dismisses it. What a client typed is personal:
//! an erasure deletes it with the rest.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::statements::Arg;
use super::{StoreError, Tx};
use crate::json::stamp;

/// A contact a lead gave that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactCheck {
    /// The field it was meant for (`client_phone`).
    pub field: String,
    /// The text as typed.
    pub typed: String,
    /// Why it could not be read, in the pipeline's words.
    pub reason: String,
}

/// A contact check as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenCheck {
    /// Its number.
    pub id: i64,
    /// The deal.
    pub deal: String,
    /// The deal's title now.
    pub title: String,
    /// What could not be read.
    pub check: ContactCheck,
    /// When the lead came.
    pub at: DateTime<Utc>,
    /// When it was settled, if it was.
    pub settled_at: Option<DateTime<Utc>>,
}

/// The statement that adds checks (rows as [`check_row`] gives them).
pub(super) const CHECKS_INSERT: &str =
    "INSERT INTO contact_checks (deal_id, field, typed, reason, at)";

/// The row of a check of `deal` made at `now`.
pub(super) fn check_row(deal: &str, c: &ContactCheck, now: &str) -> Vec<Arg> {
    vec![
        Arg::from(deal),
        Arg::from(c.field.as_str()),
        Arg::from(c.typed.as_str()),
        Arg::from(c.reason.as_str()),
        Arg::from(now),
    ]
}

const COLUMNS: &str = "SELECT c.id, c.deal_id, COALESCE(d.title, c.deal_id), c.field, c.typed, \
                       c.reason, c.at, c.settled_at FROM contact_checks c \
                       LEFT JOIN deals d ON d.id = c.deal_id";

macro_rules! check_of {
    ($r:expr) => {
        (|| -> Result<OpenCheck, sqlx::Error> {
            let r = $r;
            let at: String = r.try_get(6)?;
            let settled: Option<String> = r.try_get(7)?;
            Ok(OpenCheck {
                id: r.try_get(0)?,
                deal: r.try_get(1)?,
                title: r.try_get(2)?,
                check: ContactCheck {
                    field: r.try_get(3)?,
                    typed: r.try_get(4)?,
                    reason: r.try_get(5)?,
                },
                at: super::read_stamp(&at).unwrap_or_default(),
                settled_at: settled.as_deref().and_then(super::read_stamp),
            })
        })()
    };
}

impl Tx {
    /// How many contacts wait to be checked.
    pub async fn open_checks_count(&mut self) -> Result<i64, StoreError> {
        Ok(on!(self, c => {
            sqlx::query_scalar("SELECT COUNT(*) FROM contact_checks WHERE settled_at IS NULL")
                .fetch_one(&mut **c).await?
        }))
    }

    /// Contacts that wait to be checked, the oldest first: `limit` from `offset`.
    pub async fn open_checks(
        &mut self,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<OpenCheck>, StoreError> {
        let sql = format!("{COLUMNS} WHERE c.settled_at IS NULL ORDER BY c.id LIMIT $1 OFFSET $2");
        Ok(on!(self, c => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(limit)
                .bind(offset)
                .fetch_all(&mut **c).await?
                .iter()
                .map(|r| check_of!(r))
                .collect::<Result<_, sqlx::Error>>()?
        }))
    }

    /// A deal's contact checks, open or settled, in order.
    pub async fn checks_of(&mut self, deal: &str) -> Result<Vec<OpenCheck>, StoreError> {
        let sql = format!("{COLUMNS} WHERE c.deal_id = $1 ORDER BY c.id");
        Ok(on!(self, c => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(deal)
                .fetch_all(&mut **c).await?
                .iter()
                .map(|r| check_of!(r))
                .collect::<Result<_, sqlx::Error>>()?
        }))
    }

    /// Settles open checks: those of a deal's field (a step gave it a value), or the one
    /// numbered so (dismissed; `deal` `None`: whichever deal it is of). How many it settled.
    pub async fn settle_checks(
        &mut self,
        deal: Option<&str>,
        which: CheckRef<'_>,
        by: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let (field, id) = match which {
            CheckRef::Field(f) => (Some(f), None),
            CheckRef::Id(i) => (None, Some(i)),
        };
        Ok(on!(self, c => {
            sqlx::query(
                "UPDATE contact_checks SET settled_at = $4, settled_by = $5 \
                 WHERE (CAST($1 AS TEXT) IS NULL OR deal_id = $1) AND settled_at IS NULL \
                 AND (CAST($2 AS TEXT) IS NULL OR field = $2) \
                 AND (CAST($3 AS BIGINT) IS NULL OR id = $3)",
            )
            .bind(deal).bind(field).bind(id).bind(stamp(at)).bind(by)
            .execute(&mut **c).await?.rows_affected()
        }))
    }
}

/// Which of a deal's checks.
#[derive(Debug, Clone, Copy)]
pub enum CheckRef<'a> {
    /// Those of a field.
    Field(&'a str),
    /// One by its number.
    Id(i64),
}
