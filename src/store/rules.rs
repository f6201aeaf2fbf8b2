//! Versions of the rules: each text and script recorded once, numbered, with its digest.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{StoreError, Tx, read_stamp};
use crate::json::stamp;

/// A rules version as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct RulesVersion {
    /// 1, 2, 3…
    pub version: i64,
    /// When it was loaded.
    pub loaded_at: DateTime<Utc>,
    /// The rule file's path.
    pub file: String,
    /// A digest of the rule file and its script.
    pub digest: String,
}

impl Tx {
    /// The text a rules version was read from: (rule file, its text, the script's text).
    pub async fn rules_text(
        &mut self,
        version: i64,
    ) -> Result<Option<(String, String, Option<String>)>, StoreError> {
        Ok(on!(self, c => {
            sqlx::query("SELECT file, source, script FROM rule_versions WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut **c).await?
                .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .transpose()?
        }))
    }

    /// Records a rules version; returns its number (the same number again for the same digest
    /// as the latest).
    pub async fn add_rules_version(
        &mut self,
        file: &str,
        source: &str,
        script: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let digest = digest(source, script);
        let latest: Option<(i64, String)> = on!(self, c => {
            sqlx::query("SELECT version, digest FROM rule_versions ORDER BY version DESC LIMIT 1")
                .fetch_optional(&mut **c).await?
                .map(|r| -> Result<_, sqlx::Error> { Ok((r.try_get(0)?, r.try_get(1)?)) })
                .transpose()?
        });
        if let Some((v, d)) = &latest
            && *d == digest
        {
            return Ok(*v);
        }
        let version = latest.map_or(1, |(v, _)| v + 1);
        on!(self, c => {
            sqlx::query(
                "INSERT INTO rule_versions (version, loaded_at, file, digest, source, script) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(version).bind(stamp(now)).bind(file).bind(&digest).bind(source).bind(script)
            .execute(&mut **c).await?.rows_affected()
        });
        Ok(version)
    }

    /// Every rules version, oldest first.
    pub async fn rules_versions(&mut self) -> Result<Vec<RulesVersion>, StoreError> {
        let rows: Vec<(i64, String, String, String)> = on!(self, c => {
            sqlx::query("SELECT version, loaded_at, file, digest FROM rule_versions ORDER BY version")
                .fetch_all(&mut **c).await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
                .collect::<Result<_, sqlx::Error>>()?
        });
        Ok(rows
            .into_iter()
            .map(|(version, at, file, digest)| RulesVersion {
                version,
                loaded_at: read_stamp(&at).unwrap_or_default(),
                file,
                digest,
            })
            .collect())
    }
}

/// The SHA-256 of the rules text and its script, in hex: tells versions apart.
pub fn digest(source: &str, script: Option<&str>) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(source.as_bytes());
    h.update([0u8]);
    h.update(script.unwrap_or("").as_bytes());
    format!("{:x}", h.finalize())
}
