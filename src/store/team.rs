//! The team: put in place from the configuration, read with every member's open tasks.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{StoreError, Tx};
use crate::team::{Member, Team};

/// A task timer that runs now.
#[derive(Debug, Clone, PartialEq)]
pub struct RunningTimer {
    /// Whose.
    pub by: String,
    /// On which deal.
    pub deal: String,
    /// The deal's title.
    pub deal_title: String,
    /// The task's identifier.
    pub task: String,
    /// The task's title.
    pub task_title: String,
    /// Since when.
    pub since: DateTime<Utc>,
}

impl Tx {
    /// Puts the team from the configuration in place: members are added or updated (their
    /// open-task counts kept), members no longer listed are removed.
    pub async fn put_team(&mut self, members: &[Member]) -> Result<(), StoreError> {
        let ids: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
        let known: Vec<String> = on!(self, c => {
            sqlx::query("SELECT id FROM team").fetch_all(&mut **c).await?
                .iter().map(|r| r.try_get::<String, _>(0)).collect::<Result<_, _>>()?
        });
        for gone in known.iter().filter(|k| !ids.contains(k)) {
            on!(self, c => {
                sqlx::query("DELETE FROM team WHERE id = $1").bind(gone).execute(&mut **c).await?.rows_affected()
            });
        }
        for m in members {
            let roles = serde_json::to_string(&m.roles).unwrap_or_default();
            on!(self, c => {
                sqlx::query(
                    "INSERT INTO team (id, name, roles, email, phone, rate, telegram, notices, open_tasks) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
                       (SELECT COUNT(*) FROM tasks WHERE assignee = $1 AND done_at IS NULL)) \
                     ON CONFLICT (id) DO UPDATE SET name = $2, roles = $3, email = $4, phone = $5, \
                     rate = $6, telegram = $7, notices = $8",
                )
                .bind(&m.id).bind(&m.name).bind(roles).bind(m.email.as_deref())
                .bind(m.phone.as_deref()).bind(m.rate.to_string()).bind(m.telegram.as_deref())
                .bind(i64::from(m.notices))
                .execute(&mut **c).await?.rows_affected()
            });
        }
        Ok(())
    }

    /// The team with every member's open tasks.
    pub async fn team(&mut self) -> Result<Team, StoreError> {
        // id, name, roles, email, phone, rate, open tasks, telegram, notices
        type MemberRow = (
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            String,
            i64,
            Option<String>,
            i64,
        );
        let rows: Vec<MemberRow> = on!(self, c => {
            sqlx::query("SELECT id, name, roles, email, phone, rate, open_tasks, telegram, notices FROM team ORDER BY id")
                .fetch_all(&mut **c).await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?,
                             r.try_get(4)?, r.try_get(5)?, r.try_get(6)?, r.try_get(7)?,
                             r.try_get(8)?)))
                .collect::<Result<_, sqlx::Error>>()?
        });
        let mut members = Vec::new();
        let mut team = Team::default();
        for (id, name, roles, email, phone, rate, open, telegram, notices) in rows {
            let corrupt =
                |what: &str| StoreError::Corrupt(format!("team member {id}"), what.to_string());
            members.push(Member {
                roles: serde_json::from_str(&roles).map_err(|_| corrupt("roles"))?,
                rate: rate.parse().map_err(|_| corrupt("rate"))?,
                id: id.clone(),
                name,
                email,
                phone,
                telegram,
                notices: notices != 0,
            });
            team.load.insert(id, open);
        }
        team.members = members;
        Ok(team)
    }

    /// Task timers running now, found by the index on who runs them, oldest first.
    pub async fn running_timers(&mut self) -> Result<Vec<RunningTimer>, StoreError> {
        let rows: Vec<(String, String, String, String, String, String)> = on!(self, c => {
            sqlx::query(
                "SELECT t.timer_by, t.deal_id, d.title, t.task, t.title, t.timer_since \
                 FROM tasks t JOIN deals d ON d.id = t.deal_id \
                 WHERE t.timer_by IS NOT NULL ORDER BY t.timer_since, t.deal_id",
            )
            .fetch_all(&mut **c).await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?,
                         r.try_get(4)?, r.try_get(5)?)))
            .collect::<Result<_, sqlx::Error>>()?
        });
        rows.into_iter()
            .map(|(by, deal, deal_title, task, task_title, since)| {
                let since = DateTime::parse_from_rfc3339(&since)
                    .map_err(|_| {
                        StoreError::Corrupt(format!("task {task} of {deal}"), "timer_since".into())
                    })?
                    .with_timezone(&Utc);
                Ok(RunningTimer {
                    by,
                    deal,
                    deal_title,
                    task,
                    task_title,
                    since,
                })
            })
            .collect()
    }
}
