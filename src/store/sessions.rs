//! Dashboard sessions: what a login opened, kept by the hash of its id (the id itself lives
//! only in the browser's cookie), found again while it has neither expired nor idled out, and
//! ended by a logout or by time.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{StoreError, Tx};
use crate::json::stamp;

/// A login.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// The digest of the token it was opened with.
    pub token: String,
    /// Whose it is.
    pub person: Option<String>,
    /// The form token its pages carry.
    pub csrf: String,
    /// When it was opened.
    pub created: DateTime<Utc>,
    /// When it was last used (to the minute).
    pub seen: DateTime<Utc>,
    /// When it ends, used or not.
    pub expires: DateTime<Utc>,
}

fn moment(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Corrupt("a session".into(), format!("time `{text}`")))
}

impl Tx {
    /// Keeps a new session under the hash of its id.
    pub async fn open_session(&mut self, id: &str, s: &Session) -> Result<(), StoreError> {
        on!(self, c => {
            sqlx::query(
                "INSERT INTO sessions (id, token, person, csrf, created_at, seen_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id).bind(&s.token).bind(s.person.as_deref()).bind(&s.csrf)
            .bind(stamp(s.created)).bind(stamp(s.seen)).bind(stamp(s.expires))
            .execute(&mut **c).await?.rows_affected()
        });
        Ok(())
    }

    /// The session kept under this hash, if there is one (ended or not: the caller decides).
    pub async fn session(&mut self, id: &str) -> Result<Option<Session>, StoreError> {
        let row: Option<(String, Option<String>, String, String, String, String)> = on!(self, c => {
            sqlx::query(
                "SELECT token, person, csrf, created_at, seen_at, expires_at FROM sessions WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(&mut **c).await?
            .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?,
                                           r.try_get(3)?, r.try_get(4)?, r.try_get(5)?)))
            .transpose()?
        });
        row.map(|(token, person, csrf, created, seen, expires)| {
            Ok(Session {
                token,
                person,
                csrf,
                created: moment(&created)?,
                seen: moment(&seen)?,
                expires: moment(&expires)?,
            })
        })
        .transpose()
    }

    /// Notes that the session was used now.
    pub async fn touch_session(&mut self, id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        on!(self, c => {
            sqlx::query("UPDATE sessions SET seen_at = $2 WHERE id = $1")
                .bind(id).bind(stamp(now))
                .execute(&mut **c).await?.rows_affected()
        });
        Ok(())
    }

    /// Ends a session (a logout); whether there was one.
    pub async fn end_session(&mut self, id: &str) -> Result<bool, StoreError> {
        let n = on!(self, c => {
            sqlx::query("DELETE FROM sessions WHERE id = $1")
                .bind(id).execute(&mut **c).await?.rows_affected()
        });
        Ok(n > 0)
    }

    /// Forgets the sessions that have ended by `now`: expired, or unused since `idle_since`.
    pub async fn prune_sessions(
        &mut self,
        now: DateTime<Utc>,
        idle_since: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        Ok(on!(self, c => {
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR seen_at <= $2")
                .bind(stamp(now)).bind(stamp(idle_since))
                .execute(&mut **c).await?.rows_affected()
        }))
    }
}
