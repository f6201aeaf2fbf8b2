//! What the daily digest reads and writes: every open task with its assignee, and a message
//! to a team member that belongs to no deal (the digest spans them all).

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{StoreError, Tx, read_stamp};
use crate::json::stamp;

/// An open task someone is to do.
#[derive(Debug, Clone)]
pub struct OpenTask {
    /// The deal.
    pub deal: String,
    /// The deal's title.
    pub deal_title: String,
    /// The task's title.
    pub title: String,
    /// Who is to do it.
    pub assignee: String,
    /// Its deadline.
    pub due: Option<DateTime<Utc>>,
}

/// A message to a team member about no one deal.
#[derive(Debug, Clone)]
pub struct StaffMessage<'a> {
    /// What makes it one of a kind (`digest:2026-12-07:anna`): queued twice, kept once.
    pub dedupe: String,
    /// `email` or `telegram`.
    pub channel: &'a str,
    /// The address or chat.
    pub to: &'a str,
    /// Its template's name.
    pub template: &'a str,
    /// An email's subject.
    pub subject: Option<String>,
    /// The text.
    pub body: String,
}

impl Tx {
    /// Every open task that has an assignee, by assignee, then deal and place in it.
    pub async fn open_tasks(&mut self) -> Result<Vec<OpenTask>, StoreError> {
        type Row5 = (String, String, String, Option<String>, Option<String>);
        let rows: Vec<Row5> = on!(self, c => {
            sqlx::query(
                "SELECT t.deal_id, t.title, t.assignee, t.due, f.title FROM tasks t \
                 LEFT JOIN deal_facts f ON f.deal_id = t.deal_id \
                 WHERE t.done_at IS NULL AND t.assignee IS NOT NULL \
                 ORDER BY t.assignee, t.deal_id, t.n",
            )
            .fetch_all(&mut **c).await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?)))
            .collect::<Result<_, sqlx::Error>>()?
        });
        Ok(rows
            .into_iter()
            .map(|(deal, title, assignee, due, deal_title)| OpenTask {
                deal_title: deal_title.unwrap_or_else(|| deal.clone()),
                deal,
                title,
                assignee,
                due: due.as_deref().and_then(read_stamp),
            })
            .collect())
    }

    /// Queues a message to a team member, sent by the outbox like any other (its deal is
    /// empty: it is no deal's).
    pub async fn queue_staff_message(
        &mut self,
        m: &StaffMessage<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let ms = now.timestamp_millis();
        on!(self, c => {
            sqlx::query(
                "INSERT INTO outbox (dedupe, deal_id, channel, to_kind, recipient, template, subject, \
                 body, attachments, send_after_ms, status, attempts, next_ms, created_at) \
                 VALUES ($1, '', $2, 'user', $3, $4, $5, $6, '[]', $7, 'pending', 0, $7, $8) \
                 ON CONFLICT (dedupe) DO NOTHING",
            )
            .bind(&m.dedupe).bind(m.channel).bind(m.to).bind(m.template).bind(&m.subject)
            .bind(&m.body).bind(ms).bind(stamp(now))
            .execute(&mut **c).await?.rows_affected()
        });
        Ok(())
    }
}
