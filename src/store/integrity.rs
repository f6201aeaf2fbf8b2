//! Whether the database and its parts agree, and how many rows each table holds.

use sqlx::Row;

use super::{StoreError, StoredDeal, Tx};

impl Tx {
    /// Checks the database and that its parts agree: the engine's own check (SQLite's
    /// `integrity_check`), every deal's state reads, every timer row belongs to a deal, and each
    /// member's open-task count is the number of open tasks assigned to them. The problems found.
    pub async fn integrity(&mut self) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        if let Tx::Sqlite(c, _) = self {
            let rows: Vec<String> = sqlx::query("PRAGMA integrity_check")
                .fetch_all(&mut **c)
                .await?
                .iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<_, _>>()?;
            if rows != ["ok"] {
                problems.extend(rows.into_iter().map(|r| format!("sqlite: {r}")));
            }
        }
        let states: Vec<(String, String)> = on!(self, c => {
            sqlx::query("SELECT id, state FROM deals").fetch_all(&mut **c).await?
                .iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect::<Result<_, sqlx::Error>>()?
        });
        for (id, state) in states {
            if let Err(e) = serde_json::from_str::<StoredDeal>(&state) {
                problems.push(format!("deal {id}: state does not read: {e}"));
            }
        }
        let orphans: i64 = on!(self, c => {
            sqlx::query("SELECT COUNT(*) FROM timers t WHERE NOT EXISTS (SELECT 1 FROM deals d WHERE d.id = t.deal_id)")
                .fetch_one(&mut **c).await?.try_get(0)?
        });
        if orphans > 0 {
            problems.push(format!("{orphans} timer(s) of deals that do not exist"));
        }
        let loads: Vec<(String, i64, i64)> = on!(self, c => {
            sqlx::query(
                "SELECT id, open_tasks, (SELECT COUNT(*) FROM tasks t WHERE t.assignee = team.id AND t.done_at IS NULL) FROM team",
            )
            .fetch_all(&mut **c).await?
            .iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect::<Result<_, sqlx::Error>>()?
        });
        for (id, kept, counted) in loads {
            if kept != counted {
                problems.push(format!(
                    "member {id}: {kept} open tasks kept, {counted} counted"
                ));
            }
        }
        Ok(problems)
    }

    /// Counts rows of a table (for integrity checks and metrics).
    pub async fn count(&mut self, table: Table) -> Result<i64, StoreError> {
        let sql = match table {
            Table::Deals => "SELECT COUNT(*) FROM deals",
            Table::History => "SELECT COUNT(*) FROM history",
            Table::Timers => "SELECT COUNT(*) FROM timers",
            Table::Tasks => "SELECT COUNT(*) FROM tasks",
            Table::Outbox => "SELECT COUNT(*) FROM outbox",
            Table::Requests => "SELECT COUNT(*) FROM requests",
            Table::Events => "SELECT COUNT(*) FROM events",
        };
        Ok(on!(self, c => sqlx::query(sql).fetch_one(&mut **c).await?.try_get(0)?))
    }
}

/// Tables that can be counted.
#[derive(Debug, Clone, Copy)]
pub enum Table {
    /// Deals.
    Deals,
    /// History entries.
    History,
    /// Timers waiting.
    Timers,
    /// Tasks.
    Tasks,
    /// Messages.
    Outbox,
    /// Kept answers.
    Requests,
    /// Events applied.
    Events,
}
