//! Pages of a table for `dealflow export`: deals (their row and the fields of their state),
//! tasks, logged time and history, each in a stable order and read a page at a time from where
//! the last page ended (no OFFSET: a page costs the same at the millionth row as at the first).
//! Hours are JSON numbers; money (a rate, an amount) stays the exact decimal text it is stored as.

use serde_json::{Value as Json, json};
use sqlx::Row;

use super::messages::Kept;
use super::{StoreError, Tx};

/// What can be exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// One row per deal.
    Deals,
    /// One row per task.
    Tasks,
    /// One row per time entry.
    Time,
    /// One row per history record.
    History,
}

/// Where the next page starts: after this deal id and number (history: after this row id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct After {
    /// The last deal id read.
    pub deal: String,
    /// The last number read (a task's or time entry's `n`; a history row's id).
    pub n: i64,
}

/// One exported row: its columns in order.
pub type ExportRow = Vec<(&'static str, Json)>;

fn text(v: Option<String>) -> Json {
    v.map_or(Json::Null, Json::String)
}

/// Hours as stored (exact decimal text) as a JSON number; null for none.
fn hours(v: Option<String>) -> Json {
    v.map_or(Json::Null, |h| match h.parse::<rust_decimal::Decimal>() {
        Ok(d) => crate::json::number(d),
        Err(_) => Json::String(h),
    })
}

/// `|a|b|` as stored → `["a", "b"]`.
fn bars(v: &str) -> Json {
    Json::Array(
        v.split('|')
            .filter(|s| !s.is_empty())
            .map(|s| Json::String(s.to_string()))
            .collect(),
    )
}

impl Tx {
    /// Up to `limit` rows after `after`, and where the next page starts (`None`: the end).
    pub async fn export_page(
        &mut self,
        what: Export,
        after: &After,
        limit: i64,
    ) -> Result<(Vec<ExportRow>, Option<After>), StoreError> {
        let rows: Vec<(ExportRow, After)> = match what {
            Export::Deals => on!(self, c => {
                sqlx::query(
                    "SELECT id, title, parent, created_at, updated_at, live, stages, alerts, state \
                     FROM deals WHERE id > $1 ORDER BY id LIMIT $2",
                )
                .bind(&after.deal).bind(limit).fetch_all(&mut **c).await?
                .iter().map(|r| {
                    let id: String = r.try_get(0)?;
                    let state: String = r.try_get(8)?;
                    // A stored field is `{"type", "value"}`: the value is what is exported.
                    let mut state = serde_json::from_str::<Json>(&state).unwrap_or_default();
                    let mut part = |key: &str| {
                        state.get_mut(key).map(Json::take).unwrap_or_else(|| json!({}))
                    };
                    let mut fields = part("fields");
                    let roles = part("slots");
                    if let Some(m) = fields.as_object_mut() {
                        for v in m.values_mut() {
                            if let Some(inner) = v.get_mut("value") {
                                *v = inner.take();
                            }
                        }
                    }
                    let live: i64 = r.try_get(5)?;
                    let stages: String = r.try_get(6)?;
                    let alerts: String = r.try_get(7)?;
                    Ok((vec![
                        ("id", Json::String(id.clone())),
                        ("title", Json::String(r.try_get(1)?)),
                        ("parent", text(r.try_get(2)?)),
                        ("created_at", Json::String(r.try_get(3)?)),
                        ("updated_at", Json::String(r.try_get(4)?)),
                        ("live", Json::Bool(live != 0)),
                        ("stages", bars(&stages)),
                        ("alerts", bars(&alerts)),
                        ("fields", fields),
                        ("roles", roles),
                    ], After { deal: id, n: 0 }))
                }).collect::<Result<_, sqlx::Error>>()?
            }),
            Export::Tasks => on!(self, c => {
                sqlx::query(
                    "SELECT deal_id, n, task, title, assignee, stage, created_at, due, estimate_h, \
                     started_at, done_at, hours, cancelled FROM tasks \
                     WHERE deal_id > $1 OR (deal_id = $1 AND n > $2) ORDER BY deal_id, n LIMIT $3",
                )
                .bind(&after.deal).bind(after.n).bind(limit).fetch_all(&mut **c).await?
                .iter().map(|r| {
                    let deal: String = r.try_get(0)?;
                    let n: i64 = r.try_get(1)?;
                    let cancelled: i64 = r.try_get(12)?;
                    Ok((vec![
                        ("deal", Json::String(deal.clone())),
                        ("n", Json::from(n)),
                        ("task", Json::String(r.try_get(2)?)),
                        ("title", Json::String(r.try_get(3)?)),
                        ("assignee", text(r.try_get(4)?)),
                        ("stage", Json::String(r.try_get(5)?)),
                        ("created_at", Json::String(r.try_get(6)?)),
                        ("due", text(r.try_get(7)?)),
                        ("estimate_h", hours(r.try_get::<Option<String>, _>(8)?)),
                        ("started_at", text(r.try_get(9)?)),
                        ("done_at", text(r.try_get(10)?)),
                        ("hours", hours(Some(r.try_get(11)?))),
                        ("cancelled", Json::Bool(cancelled != 0)),
                    ], After { deal, n }))
                }).collect::<Result<_, sqlx::Error>>()?
            }),
            Export::Time => on!(self, c => {
                sqlx::query(
                    "SELECT deal_id, n, task, member, hours, rate, at FROM time_entries \
                     WHERE deal_id > $1 OR (deal_id = $1 AND n > $2) ORDER BY deal_id, n LIMIT $3",
                )
                .bind(&after.deal).bind(after.n).bind(limit).fetch_all(&mut **c).await?
                .iter().map(|r| {
                    let deal: String = r.try_get(0)?;
                    let n: i64 = r.try_get(1)?;
                    Ok((vec![
                        ("deal", Json::String(deal.clone())),
                        ("n", Json::from(n)),
                        ("task", text(r.try_get(2)?)),
                        ("member", Json::String(r.try_get(3)?)),
                        ("hours", hours(Some(r.try_get(4)?))),
                        ("rate", Json::String(r.try_get(5)?)),
                        ("at", Json::String(r.try_get(6)?)),
                    ], After { deal, n }))
                }).collect::<Result<_, sqlx::Error>>()?
            }),
            Export::History => self.history_page(after, limit).await?,
        };
        let next = (rows.len() as i64 == limit)
            .then(|| rows.last().map(|(_, a)| a.clone()))
            .flatten();
        Ok((rows.into_iter().map(|(r, _)| r).collect(), next))
    }

    /// A page of the whole history, in the order it was written, each message with its
    /// content while its outbox row is kept.
    async fn history_page(
        &mut self,
        after: &After,
        limit: i64,
    ) -> Result<Vec<(ExportRow, After)>, StoreError> {
        type Row8 = (
            i64,
            String,
            String,
            String,
            String,
            Option<String>,
            i64,
            String,
            i64,
        );
        let rows: Vec<Row8> = on!(self, c => {
            sqlx::query(
                "SELECT id, deal_id, at, kind, cause, rule, rules_version, record, revision \
                 FROM history WHERE id > $1 ORDER BY id LIMIT $2",
            )
            .bind(after.n).bind(limit).fetch_all(&mut **c).await?
            .iter().map(|r| Ok((
                r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?,
                r.try_get(5)?, r.try_get(6)?, r.try_get(7)?, r.try_get(8)?,
            )))
            .collect::<Result<_, sqlx::Error>>()?
        });
        let (heads, mut kept): (Vec<_>, Vec<Kept>) = rows
            .into_iter()
            .map(
                |(id, deal, at, kind, cause, rule, version, body, revision)| {
                    let k = Kept {
                        deal: deal.clone(),
                        revision,
                        rule: rule.clone(),
                        kind: kind.clone(),
                        body,
                    };
                    ((id, deal, at, kind, cause, rule, version), k)
                },
            )
            .unzip();
        self.put_messages_back(&mut kept).await?;
        Ok(heads
            .into_iter()
            .zip(kept)
            .map(|((id, deal, at, kind, cause, rule, version), k)| {
                let record = crate::json::with_head(&k.body, &at, &deal, &kind);
                let record: Json = serde_json::from_str(&record).unwrap_or(Json::String(k.body));
                (
                    vec![
                        ("id", Json::from(id)),
                        ("deal", Json::String(deal)),
                        ("at", Json::String(at)),
                        ("kind", Json::String(kind)),
                        ("cause", Json::String(cause)),
                        ("rule", text(rule)),
                        ("rules_version", Json::from(version)),
                        ("record", record),
                    ],
                    After {
                        deal: String::new(),
                        n: id,
                    },
                )
            })
            .collect())
    }
}
