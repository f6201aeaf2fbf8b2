//! Deals: read one to show it, a page of them for the dashboard, a batch of them (locked on
//! PostgreSQL) for the writer, with their logged work; listed by stage, phase, alert or person.

use std::collections::HashMap;

use sqlx::Row;

use super::statements::{MAX_ARGS, Style, list};
use super::{StoreError, StoredDeal, Tx};
use crate::compile::Plan;
use crate::engine::{Deal, TrackState};

/// A deal as read from the store: its document and where it stands.
#[derive(Debug, Clone)]
pub struct ReadDeal {
    /// The stored document.
    pub stored: StoredDeal,
    /// Bumped by every step; a write checks it did not move meanwhile.
    pub revision: i64,
    /// The rules version that last ran it.
    pub rules_version: i64,
}

/// A stored deal document read back (without its time entries and tasks, which `parts` puts back); a
/// document that does not read is named as corrupt.
fn read_deal(
    id: &str,
    state: &str,
    revision: i64,
    rules_version: i64,
) -> Result<ReadDeal, StoreError> {
    let stored: StoredDeal = serde_json::from_str(state)
        .map_err(|e| StoreError::Corrupt(id.to_string(), e.to_string()))?;
    Ok(ReadDeal {
        stored,
        revision,
        rules_version,
    })
}

impl Tx {
    /// The deals spawned from a deal, and from those, and so on (oldest first).
    pub async fn descendants(&mut self, id: &str) -> Result<Vec<String>, StoreError> {
        let mut out: Vec<String> = Vec::new();
        let mut parents = vec![id.to_string()];
        while let Some(p) = parents.pop() {
            let children: Vec<String> = on!(self, c => {
                sqlx::query_scalar("SELECT id FROM deals WHERE parent = $1 ORDER BY created_at, id")
                    .bind(&p).fetch_all(&mut **c).await?
            });
            for c in children {
                if c != id && !out.contains(&c) {
                    parents.push(c.clone());
                    out.push(c);
                }
            }
        }
        Ok(out)
    }

    /// Reads one deal to show it (no lock; steps read theirs in batches, see `load_deals`).
    pub async fn peek_deal(&mut self, id: &str) -> Result<Option<ReadDeal>, StoreError> {
        let sql = "SELECT state, revision, rules_version FROM deals WHERE id = $1";
        let row: Option<(String, i64, i64)> = on!(self, c => {
            sqlx::query(sql).bind(id).fetch_optional(&mut **c).await?
                .map(|r| -> Result<_, sqlx::Error> { Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)) })
                .transpose()?
        });
        let Some((state, revision, rules_version)) = row else {
            return Ok(None);
        };
        let mut l = read_deal(id, &state, revision, rules_version)?;
        self.attach_parts(std::iter::once(&mut l)).await?;
        Ok(Some(l))
    }

    /// Whole deals in id order after `after`, at most `limit`: a page of what the dashboard
    /// draws.
    pub async fn deal_states(
        &mut self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, ReadDeal)>, StoreError> {
        let sql = "SELECT id, state, revision, rules_version FROM deals WHERE id > $1 ORDER BY id LIMIT $2";
        let rows: Vec<(String, String, i64, i64)> = on!(self, c => {
            sqlx::query(sql).bind(after).bind(limit).fetch_all(&mut **c).await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
                .collect::<Result<_, sqlx::Error>>()?
        });
        let mut out = rows
            .into_iter()
            .map(|(id, state, revision, rules_version)| {
                let l = read_deal(&id, &state, revision, rules_version)?;
                Ok((id, l))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.attach_parts(out.iter_mut().map(|(_, l)| l)).await?;
        Ok(out)
    }

    /// Deals that match a filter, in id order, a page at a time.
    pub async fn list_deals(&mut self, f: &DealFilter) -> Result<Vec<DealRow>, StoreError> {
        let like = |v: &Option<String>| {
            v.as_deref().map_or(String::new(), |v| {
                let escaped = v
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                format!("%|{escaped}|%")
            })
        };
        let rows: Vec<ListRow> = on!(self, c => {
            sqlx::query(
                "SELECT id, title, parent, created_at, updated_at, revision, live, stages, phases, alerts, people \
                 FROM deals WHERE id > $1 \
                 AND ($2 = '' OR stages LIKE $2 ESCAPE '\\') AND ($3 = '' OR phases LIKE $3 ESCAPE '\\') \
                 AND ($4 = '' OR alerts LIKE $4 ESCAPE '\\') AND ($5 = '' OR people LIKE $5 ESCAPE '\\') \
                 AND ($6 < 0 OR live = $6) ORDER BY id LIMIT $7",
            )
            .bind(f.after.as_deref().unwrap_or("")).bind(like(&f.stage)).bind(like(&f.phase))
            .bind(like(&f.alert)).bind(like(&f.person)).bind(f.live.map_or(-1, i64::from))
            .bind(f.limit)
            .fetch_all(&mut **c).await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?,
                         r.try_get(5)?, r.try_get(6)?, r.try_get(7)?, r.try_get(8)?, r.try_get(9)?,
                         r.try_get(10)?)))
            .collect::<Result<_, sqlx::Error>>()?
        });
        Ok(rows.into_iter().map(deal_row).collect())
    }

    /// The list rows of these deals, in the order given (ids with no deal are left out).
    pub async fn deal_rows(&mut self, ids: &[String]) -> Result<Vec<DealRow>, StoreError> {
        let mut out: HashMap<String, DealRow> = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_ARGS) {
            let mut sql = String::from(
                "SELECT id, title, parent, created_at, updated_at, revision, live, stages, phases, alerts, people \
                 FROM deals WHERE id IN (",
            );
            list(&mut sql, chunk.len(), 1, Style::of(self));
            sql.push(')');
            let rows: Vec<ListRow> = on!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(id.as_str());
                }
                q.fetch_all(&mut **c).await?
                    .iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?,
                                 r.try_get(5)?, r.try_get(6)?, r.try_get(7)?, r.try_get(8)?, r.try_get(9)?,
                                 r.try_get(10)?)))
                    .collect::<Result<_, sqlx::Error>>()?
            });
            out.extend(rows.into_iter().map(|r| (r.0.clone(), deal_row(r))));
        }
        Ok(ids.iter().filter_map(|id| out.remove(id)).collect())
    }

    /// How many deals are stored.
    pub async fn count_deals(&mut self) -> Result<u64, StoreError> {
        let n: i64 = on!(self, c => {
            sqlx::query_scalar("SELECT COUNT(*) FROM deals").fetch_one(&mut **c).await?
        });
        Ok(n.max(0) as u64)
    }

    /// Ids of deals that can still move, after `after` in id order, at most `limit` (a page of
    /// the local-midnight alert check).
    pub async fn live_deals(&mut self, after: &str, limit: i64) -> Result<Vec<String>, StoreError> {
        Ok(on!(self, c => {
            sqlx::query("SELECT id FROM deals WHERE live = 1 AND id > $1 ORDER BY id LIMIT $2")
                .bind(after).bind(limit)
                .fetch_all(&mut **c).await?
                .iter().map(|r| r.try_get::<String, _>(0)).collect::<Result<_, _>>()?
        }))
    }

    /// Ids of deals that have ended but still have open tasks (stored by a version that did
    /// not close them), after `after` in id order, at most `limit`.
    pub async fn ended_with_open_tasks(
        &mut self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        Ok(on!(self, c => {
            sqlx::query(
                "SELECT d.id FROM deals d WHERE d.live = 0 AND d.id > $1 \
                 AND EXISTS (SELECT 1 FROM tasks t WHERE t.deal_id = d.id AND t.done_at IS NULL) \
                 ORDER BY d.id LIMIT $2",
            )
            .bind(after).bind(limit)
            .fetch_all(&mut **c).await?
            .iter().map(|r| r.try_get::<String, _>(0)).collect::<Result<_, _>>()?
        }))
    }
}

impl Tx {
    /// `SELECT columns FROM deals WHERE id IN (…) ORDER BY id` for `n` ids, locking the rows on
    /// PostgreSQL (in id order, so that two daemons lock in the same order) until the
    /// transaction ends.
    fn deals_by_id(&self, columns: &str, n: usize) -> String {
        let mut sql = format!("SELECT {columns} FROM deals WHERE id IN (");
        list(&mut sql, n, 1, Style::of(self));
        sql.push_str(") ORDER BY id");
        if matches!(self, Tx::Postgres(_)) {
            sql.push_str(" FOR UPDATE");
        }
        sql
    }

    /// Reads deals by id, one statement per few hundred ids; on PostgreSQL they stay locked
    /// until the transaction ends.
    pub async fn load_deals(
        &mut self,
        ids: &[String],
    ) -> Result<HashMap<String, ReadDeal>, StoreError> {
        let mut ids: Vec<&String> = ids.iter().collect();
        ids.sort();
        ids.dedup();
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_ARGS) {
            let sql = self.deals_by_id("id, state, revision, rules_version", chunk.len());
            let rows: Vec<(String, String, i64, i64)> = on!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(id.as_str());
                }
                q.fetch_all(&mut **c).await?
                    .iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
                    .collect::<Result<_, sqlx::Error>>()?
            });
            for (id, state, revision, rules_version) in rows {
                let l = read_deal(&id, &state, revision, rules_version)?;
                out.insert(id, l);
            }
        }
        self.attach_parts(out.values_mut()).await?;
        Ok(out)
    }

    /// The revisions of these deals (those that exist), locked on PostgreSQL until the
    /// transaction ends, like [`Tx::load_deals`].
    pub async fn deal_revisions(
        &mut self,
        ids: &[String],
    ) -> Result<HashMap<String, i64>, StoreError> {
        let mut ids: Vec<&String> = ids.iter().collect();
        ids.sort();
        ids.dedup();
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_ARGS) {
            let sql = self.deals_by_id("id, revision", chunk.len());
            let rows: Vec<(String, i64)> = on!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(id.as_str());
                }
                q.fetch_all(&mut **c).await?
                    .iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                    .collect::<Result<_, sqlx::Error>>()?
            });
            out.extend(rows);
        }
        Ok(out)
    }
}

/// A list row as read.
type ListRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    i64,
    i64,
    String,
    String,
    String,
    String,
);

fn deal_row(r: ListRow) -> DealRow {
    let split = |s: &str| -> Vec<String> {
        s.split('|')
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect()
    };
    DealRow {
        id: r.0,
        title: r.1,
        parent: r.2,
        created_at: r.3,
        updated_at: r.4,
        revision: r.5,
        live: r.6 != 0,
        stages: split(&r.7),
        phases: split(&r.8),
        alerts: split(&r.9),
        people: split(&r.10),
    }
}

/// Which deals to list.
#[derive(Debug, Clone, Default)]
pub struct DealFilter {
    /// In this stage.
    pub stage: Option<String>,
    /// In this phase.
    pub phase: Option<String>,
    /// With this alert raised.
    pub alert: Option<String>,
    /// With this person in a role slot or on a task.
    pub person: Option<String>,
    /// Live (true) or finished (false) only.
    pub live: Option<bool>,
    /// After this id (the last of the previous page).
    pub after: Option<String>,
    /// At most this many.
    pub limit: i64,
}

/// A deal in a list.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DealRow {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// The deal that spawned it.
    pub parent: Option<String>,
    /// When it was created.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// Its revision.
    pub revision: i64,
    /// Whether it can still move.
    pub live: bool,
    /// Where it is.
    pub stages: Vec<String>,
    /// Its phases.
    pub phases: Vec<String>,
    /// Raised alerts.
    pub alerts: Vec<String>,
    /// People on it.
    pub people: Vec<String>,
}

/// The columns a deal is found by (lists and filters), besides its document.
pub(super) struct Facets {
    pub live: i64,
    pub stages: String,
    pub phases: String,
    pub alerts: String,
    pub people: String,
}

/// `|a|b|`: a list a filter finds a name in with `LIKE '%|name|%'`.
fn bars<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::from("|");
    for i in items {
        out.push_str(i);
        out.push('|');
    }
    out
}

pub(super) fn facets(plan: &Plan, deal: &Deal) -> Facets {
    let stages: Vec<usize> = deal
        .tracks
        .iter()
        .filter(|t| t.state != TrackState::Ended || !deal.is_live())
        .map(|t| t.stage)
        .collect();
    let mut phases: Vec<&str> = plan
        .phases
        .iter()
        .filter(|p| p.stages.iter().any(|s| stages.contains(s)))
        .map(|p| p.name.as_str())
        .collect();
    phases.dedup();
    let mut stage_names: Vec<&str> = stages
        .iter()
        .map(|s| plan.stages[*s].name.as_str())
        .collect();
    stage_names.dedup();
    let mut people: Vec<&str> = deal.slots.iter().flatten().map(String::as_str).collect();
    people.extend(deal.tasks.iter().filter_map(|t| t.assignee.as_deref()));
    people.sort_unstable();
    people.dedup();
    Facets {
        live: i64::from(deal.is_live()),
        stages: bars(stage_names),
        phases: bars(phases),
        alerts: bars(
            plan.alerts
                .iter()
                .zip(&deal.alerts)
                .filter(|(_, on)| **on)
                .map(|(a, _)| a.name.as_str()),
        ),
        people: bars(people),
    }
}
