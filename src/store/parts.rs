//! A deal's parts that live in tables of their own rather than in its document: the work logged
//! on it (`time_entries`) and its tasks (`tasks`). The dashboard reads those tables directly;
//! a deal read whole gets them put back into its document here. Keeping them out of the
//! document keeps every step from rewriting them, and keeps each of them in one place.

use std::collections::HashMap;

use sqlx::Row;

use super::codec::StoredTask;
use super::deals::ReadDeal;
use super::statements::{MAX_ARGS, Style, list};
use super::{StoreError, StoredTime, Tx, read_stamp};

/// A task as its row holds it: `deal_id, task, title, assignee, stage, created_at, due,
/// estimate_h, started_at, done_at, hours, cancelled, timer_by, timer_since`.
type TaskRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    i64,
    Option<String>,
    Option<String>,
);

/// A time entry as its row holds it: `deal_id, task, member, hours, rate, at`.
type TimeRow = (String, Option<String>, String, String, String, String);

impl Tx {
    /// Puts each deal's logged work and tasks, from their tables, into its document. A document
    /// written by an earlier version lists its tasks itself; the table's rows (which that
    /// version wrote too) take their place when there are any.
    pub(super) async fn attach_parts<'a>(
        &mut self,
        deals: impl IntoIterator<Item = &'a mut ReadDeal>,
    ) -> Result<(), StoreError> {
        let mut by_id: HashMap<String, &'a mut ReadDeal> = deals
            .into_iter()
            .map(|l| {
                l.stored.time_entries.clear();
                (l.stored.id.clone(), l)
            })
            .collect();
        let ids: Vec<String> = by_id.keys().cloned().collect();
        let mut tasks: HashMap<String, Vec<StoredTask>> = HashMap::new();
        for chunk in ids.chunks(MAX_ARGS) {
            for (deal, entry) in self.time_rows(chunk).await? {
                if let Some(l) = by_id.get_mut(&deal) {
                    l.stored.time_entries.push(entry);
                }
            }
            for (deal, task) in self.task_rows(chunk).await? {
                tasks.entry(deal).or_default().push(task);
            }
        }
        for (deal, list) in tasks {
            if let Some(l) = by_id.get_mut(&deal) {
                l.stored.tasks = list;
            }
        }
        Ok(())
    }

    /// The time entries of these deals, each deal's in order.
    async fn time_rows(&mut self, ids: &[String]) -> Result<Vec<(String, StoredTime)>, StoreError> {
        let sql = rows_of(
            self,
            "deal_id, task, member, hours, rate, at",
            "time_entries",
            ids.len(),
        );
        let rows: Vec<TimeRow> = on!(self, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in ids {
                q = q.bind(id.as_str());
            }
            q.fetch_all(&mut **c).await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?)))
                .collect::<Result<_, sqlx::Error>>()?
        });
        rows.into_iter()
            .map(|(deal, task, user, hours, rate, at)| {
                let bad = |what: &str| corrupt(&deal, "time entry", what);
                let entry = StoredTime {
                    task,
                    user,
                    hours: hours.parse().map_err(|_| bad("hours"))?,
                    rate: rate.parse().map_err(|_| bad("rate"))?,
                    at: read_stamp(&at).ok_or_else(|| bad("time"))?,
                };
                Ok((deal, entry))
            })
            .collect()
    }

    /// The tasks of these deals, each deal's in order.
    async fn task_rows(&mut self, ids: &[String]) -> Result<Vec<(String, StoredTask)>, StoreError> {
        let sql = rows_of(
            self,
            "deal_id, task, title, assignee, stage, created_at, due, estimate_h, started_at, \
             done_at, hours, cancelled, timer_by, timer_since",
            "tasks",
            ids.len(),
        );
        let rows: Vec<TaskRow> = on!(self, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in ids {
                q = q.bind(id.as_str());
            }
            q.fetch_all(&mut **c).await?
                .iter()
                .map(|r| Ok((
                    r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?,
                    r.try_get(5)?, r.try_get(6)?, r.try_get(7)?, r.try_get(8)?, r.try_get(9)?,
                    r.try_get(10)?, r.try_get(11)?, r.try_get(12)?, r.try_get(13)?,
                )))
                .collect::<Result<_, sqlx::Error>>()?
        });
        rows.into_iter().map(task_of).collect()
    }
}

/// `SELECT columns FROM table WHERE deal_id IN (…) ORDER BY deal_id, n` for `n` ids.
fn rows_of(tx: &Tx, columns: &str, table: &str, n: usize) -> String {
    let mut sql = format!("SELECT {columns} FROM {table} WHERE deal_id IN (");
    list(&mut sql, n, 1, Style::of(tx));
    sql.push_str(") ORDER BY deal_id, n");
    sql
}

/// A part of a deal that does not read, named as the deal's corruption.
fn corrupt(deal: &str, part: &str, what: &str) -> StoreError {
    StoreError::Corrupt(deal.to_string(), format!("a {part}'s {what} does not read"))
}

/// A task row read back.
fn task_of(row: TaskRow) -> Result<(String, StoredTask), StoreError> {
    let (deal, id, title, assignee, stage, created_at, due, estimate_h, started_at, done_at) = (
        row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9,
    );
    let (hours, cancelled, timer_by, timer_since) = (row.10, row.11, row.12, row.13);
    let bad = |what: &str| corrupt(&deal, "task", what);
    let moment = |v: Option<String>, what: &str| {
        v.map(|s| read_stamp(&s).ok_or_else(|| bad(what)))
            .transpose()
    };
    let task = StoredTask {
        id,
        title,
        assignee,
        stage,
        created_at: read_stamp(&created_at).ok_or_else(|| bad("creation time"))?,
        due: moment(due, "deadline")?,
        estimate_h: estimate_h
            .map(|h| h.parse().map_err(|_| bad("estimate")))
            .transpose()?,
        started_at: moment(started_at, "start")?,
        done_at: moment(done_at, "end")?,
        cancelled: cancelled != 0,
        hours: hours.parse().map_err(|_| bad("hours"))?,
        timer_by,
        timer_since: moment(timer_since, "timer's start")?,
    };
    Ok((deal, task))
}
