//! Marks kept in the `meta` table: the last local midnight checked, and the one-time passes
//! an upgrade ran.

use sqlx::Row;

use super::{StoreError, Tx};

impl Tx {
    /// Claims the local-midnight check of `day` (`YYYY-MM-DD`): true for the one caller that
    /// moves the mark forward, so each midnight is checked once however many daemons run.
    pub async fn claim_midnight(&mut self, day: &str) -> Result<bool, StoreError> {
        self.claim_day("midnight", day).await
    }

    /// Claims the once-a-day work `key` of `day` (`YYYY-MM-DD`): true for the one caller that
    /// moves the mark forward, however many daemons ask.
    pub async fn claim_day(&mut self, key: &str, day: &str) -> Result<bool, StoreError> {
        on!(self, c => {
            sqlx::query("INSERT INTO meta (key, value) VALUES ($1, '') ON CONFLICT (key) DO NOTHING")
                .bind(key).execute(&mut **c).await?.rows_affected()
        });
        let n = on!(self, c => {
            sqlx::query("UPDATE meta SET value = $1 WHERE key = $2 AND value < $1")
                .bind(day).bind(key).execute(&mut **c).await?.rows_affected()
        });
        Ok(n == 1)
    }

    /// The last local midnight checked (`YYYY-MM-DD`), if any.
    pub async fn last_midnight(&mut self) -> Result<Option<String>, StoreError> {
        Ok(on!(self, c => {
            sqlx::query("SELECT value FROM meta WHERE key = 'midnight'")
                .fetch_optional(&mut **c).await?
                .map(|r| r.try_get::<String, _>(0)).transpose()?
        })
        .filter(|v| !v.is_empty()))
    }

    /// A mark, if it was set.
    pub async fn mark(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(on!(self, c => {
            sqlx::query("SELECT value FROM meta WHERE key = $1")
                .bind(key)
                .fetch_optional(&mut **c).await?
                .map(|r| r.try_get::<String, _>(0)).transpose()?
        }))
    }

    /// Sets a mark (or moves it).
    pub async fn set_mark(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        on!(self, c => {
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(key).bind(value)
            .execute(&mut **c).await?.rows_affected()
        });
        Ok(())
    }
}
