//! What happened to a deal, as kept: its history entries (with cause, rule and rules version)
//! and the events applied to it with the fields they carried.

use sqlx::Row;

use super::messages::Kept;
use super::{StoreError, Tx};

/// One entry of a deal's history, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// What happened (`stage_entered`, `timer_fired`…).
    pub kind: String,
    /// Why: the event, timer or work that caused the step.
    pub cause: String,
    /// The rule that did it, as `file:line`.
    pub rule: Option<String>,
    /// The rules version that ran.
    pub version: i64,
    /// The deal's revision after the step.
    pub revision: i64,
    /// When (RFC 3339 in UTC, to the microsecond).
    pub at: String,
    /// The whole record, as JSON (its moment, deal and kind first; the moment in UTC for
    /// records stored without them, in the pipeline's zone for those an earlier version
    /// stored whole).
    pub record: String,
}

/// An event applied to a deal, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct EventEntry {
    /// The event's name.
    pub name: String,
    /// The fields it carried, as JSON.
    pub payload: String,
    /// Who sent it.
    pub by: Option<String>,
    /// Whose token or session it came through, when not theirs.
    pub via: Option<String>,
    /// When (RFC 3339).
    pub at: String,
    /// The deal's revision after it.
    pub revision: i64,
}

impl Tx {
    /// A deal's history as stored, in order, each message with its content while its outbox
    /// row is kept.
    pub async fn history(&mut self, deal: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        type Row7 = (String, String, Option<String>, i64, String, i64, String);
        let rows: Vec<Row7> = on!(self, c => {
            sqlx::query(
                "SELECT kind, cause, rule, rules_version, record, revision, at FROM history WHERE deal_id = $1 ORDER BY id",
            )
            .bind(deal)
            .fetch_all(&mut **c).await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?, r.try_get(6)?)))
            .collect::<Result<_, sqlx::Error>>()?
        });
        let (heads, mut kept): (Vec<_>, Vec<Kept>) = rows
            .into_iter()
            .map(|(kind, cause, rule, version, body, revision, at)| {
                let k = Kept {
                    deal: deal.to_string(),
                    revision,
                    rule: rule.clone(),
                    kind: kind.clone(),
                    body,
                };
                ((kind, cause, rule, version, revision, at), k)
            })
            .unzip();
        self.put_messages_back(&mut kept).await?;
        Ok(heads
            .into_iter()
            .zip(kept)
            .map(
                |((kind, cause, rule, version, revision, at), k)| HistoryEntry {
                    record: crate::json::with_head(&k.body, &at, deal, &kind),
                    kind,
                    cause,
                    rule,
                    version,
                    revision,
                    at,
                },
            )
            .collect())
    }

    /// The events applied to a deal, oldest first.
    pub async fn events(&mut self, deal: &str) -> Result<Vec<EventEntry>, StoreError> {
        Ok(on!(self, c => {
            sqlx::query(
                "SELECT name, payload, sent_by, at, revision, sent_via FROM events WHERE deal_id = $1 ORDER BY id",
            )
            .bind(deal)
            .fetch_all(&mut **c).await?
            .iter()
            .map(|r| Ok(EventEntry {
                name: r.try_get(0)?,
                payload: r.try_get(1)?,
                by: r.try_get(2)?,
                at: r.try_get(3)?,
                revision: r.try_get(4)?,
                via: r.try_get(5)?,
            }))
            .collect::<Result<_, sqlx::Error>>()?
        }))
    }
}
