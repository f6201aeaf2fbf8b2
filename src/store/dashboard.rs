//! What the dashboard's pages read: a column's first cards, the deals whose planned end falls in
//! a window, live deals with alerts, overdue tasks, deals found by words. Each reads a few rows
//! through an index of the summary tables (`summaries`), never every deal.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::Row;

use super::facts::unbar;
use super::statements::Cells;
use super::{StoreError, Tx, read_stamp};

/// A deal as a list shows it (a card on the board, a line of a list).
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    /// The deal.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The client's name.
    pub client: Option<String>,
    /// The amount.
    pub amount: Option<Decimal>,
    /// The first filled role slot (a member id).
    pub person: Option<String>,
    /// Since when it is where the list found it (a column: its stage; else its oldest live
    /// track's stage).
    pub since: Option<DateTime<Utc>>,
    /// The stages it counts in (a live deal's active tracks, a finished deal's final stage).
    pub stages: Vec<String>,
    /// Joins where its tracks wait for the others.
    pub waiting: Vec<String>,
    /// Raised alerts.
    pub alerts: Vec<String>,
    /// Whether it can still move.
    pub live: bool,
    /// The planned end (`YYYY-MM-DD`).
    pub planned_end: Option<NaiveDate>,
}

/// The columns a card is read from (`f` is `deal_facts`).
const CARD: &str = "f.deal_id, f.title, f.client, f.amount, f.person, f.since, f.places, f.waiting, \
                    f.alerts, f.live, f.planned_end";

fn card(r: &impl Cells) -> Result<Card, StoreError> {
    let id: String = r.text(0)?;
    let bad = |what: &str| StoreError::Corrupt(id.clone(), format!("its {what} does not read"));
    let amount = match r.opt(3)? {
        Some(a) => Some(a.parse().map_err(|_| bad("amount"))?),
        None => None,
    };
    let places: String = r.text(6)?;
    Ok(Card {
        title: r.text(1)?,
        client: r.opt(2)?,
        amount,
        person: r.opt(4)?,
        since: r.opt(5)?.as_deref().and_then(read_stamp),
        stages: places
            .split('|')
            .filter_map(|p| p.split_once('@'))
            .map(|(s, _)| s.to_string())
            .collect(),
        waiting: unbar(&r.text(7)?).map(str::to_string).collect(),
        alerts: unbar(&r.text(8)?).map(str::to_string).collect(),
        live: r.int(9)? != 0,
        planned_end: r.opt(10)?.and_then(|d| d.parse().ok()),
        id,
    })
}

/// An open task past its due moment.
#[derive(Debug, Clone, PartialEq)]
pub struct OverdueTask {
    /// The deal.
    pub deal: String,
    /// The deal's title.
    pub deal_title: String,
    /// The task's title.
    pub task: String,
    /// Who should do it.
    pub assignee: Option<String>,
    /// When it was due.
    pub due: DateTime<Utc>,
}

/// `%word%` for LIKE. A `%` or `_` the user typed stays a wildcard (it still matches itself):
/// SQLite's full-text index takes a LIKE only without an ESCAPE clause.
fn like(word: &str) -> String {
    format!("%{word}%")
}

/// Runs a card query with text binds and an optional pair of whole-number binds last.
macro_rules! cards {
    ($tx:expr, $sql:expr, $texts:expr, $ints:expr) => {{
        let sql: String = $sql;
        on!($tx, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for t in $texts {
                q = q.bind(t);
            }
            for i in $ints {
                q = q.bind(i);
            }
            q.fetch_all(&mut **c).await?.iter().map(card).collect::<Result<Vec<Card>, StoreError>>()?
        })
    }};
}

impl Tx {
    /// A board column's cards: the deals counting in `stage`, the longest there first (or the
    /// latest first), `limit` of them after the first `offset`.
    pub async fn column_cards(
        &mut self,
        stage: &str,
        latest_first: bool,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<Card>, StoreError> {
        let order = if latest_first {
            "p.entered_at DESC, p.deal_id DESC"
        } else {
            "p.entered_at, p.deal_id"
        };
        // A card in a column is there since it entered that column's stage.
        let columns = CARD.replace("f.since", "p.entered_at");
        Ok(cards!(
            self,
            format!(
                "SELECT {columns} FROM deal_places p JOIN deal_facts f ON f.deal_id = p.deal_id \
                 WHERE p.stage = $1 ORDER BY {order} LIMIT $2 OFFSET $3"
            ),
            [stage],
            [limit, offset]
        ))
    }

    /// Live deals whose planned end falls between two days (both included), the soonest
    /// first, at most `limit`.
    pub async fn closing_between(
        &mut self,
        from: NaiveDate,
        to: NaiveDate,
        limit: i64,
    ) -> Result<Vec<Card>, StoreError> {
        Ok(cards!(
            self,
            format!(
                "SELECT {CARD} FROM deal_facts f WHERE f.live = 1 AND f.planned_end >= $1 \
                 AND f.planned_end <= $2 ORDER BY f.planned_end, f.deal_id LIMIT $3"
            ),
            [from.to_string(), to.to_string()],
            [limit]
        ))
    }

    /// The planned end and amount of every live deal whose planned end falls between two days
    /// (both included), read from the index alone: what the week sums add up.
    pub async fn planned_ends(
        &mut self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(NaiveDate, Decimal)>, StoreError> {
        let rows: Vec<(String, Option<String>)> = on!(self, c => {
            sqlx::query(
                "SELECT planned_end, amount FROM deal_facts WHERE live = 1 AND planned_end >= $1 \
                 AND planned_end <= $2",
            )
            .bind(from.to_string()).bind(to.to_string())
            .fetch_all(&mut **c).await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()?
        });
        Ok(rows
            .into_iter()
            .filter_map(|(end, amount)| {
                let amount = amount.and_then(|a| a.parse().ok()).unwrap_or_default();
                Some((end.parse().ok()?, amount))
            })
            .collect())
    }

    /// How many live deals have an alert raised.
    pub async fn alerted_count(&mut self) -> Result<i64, StoreError> {
        Ok(on!(self, c => {
            sqlx::query_scalar("SELECT COUNT(*) FROM deal_facts WHERE trouble_since IS NOT NULL")
                .fetch_one(&mut **c).await?
        }))
    }

    /// Live deals with an alert raised, the longest where they are first.
    pub async fn alerted(&mut self, offset: i64, limit: i64) -> Result<Vec<Card>, StoreError> {
        Ok(cards!(
            self,
            format!(
                "SELECT {CARD} FROM deal_facts f WHERE f.trouble_since IS NOT NULL \
                 ORDER BY f.trouble_since, f.deal_id LIMIT $1 OFFSET $2"
            ),
            [""; 0],
            [limit, offset]
        ))
    }

    /// How many open tasks are past due at `now`.
    pub async fn overdue_count(&mut self, now: DateTime<Utc>) -> Result<i64, StoreError> {
        let now = crate::json::stamp(now);
        Ok(on!(self, c => {
            sqlx::query_scalar("SELECT COUNT(*) FROM tasks WHERE done_at IS NULL AND due < $1")
                .bind(&now).fetch_one(&mut **c).await?
        }))
    }

    /// Open tasks past due at `now`, the longest overdue first.
    pub async fn overdue(
        &mut self,
        now: DateTime<Utc>,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<OverdueTask>, StoreError> {
        let now = crate::json::stamp(now);
        type Row5 = (String, String, Option<String>, String, Option<String>);
        let rows: Vec<Row5> = on!(self, c => {
            sqlx::query(
                "SELECT t.deal_id, t.title, t.assignee, t.due, f.title FROM tasks t \
                 LEFT JOIN deal_facts f ON f.deal_id = t.deal_id \
                 WHERE t.done_at IS NULL AND t.due < $1 ORDER BY t.due, t.deal_id, t.n LIMIT $2 OFFSET $3",
            )
            .bind(&now).bind(limit).bind(offset)
            .fetch_all(&mut **c).await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?)))
            .collect::<Result<_, sqlx::Error>>()?
        });
        Ok(rows
            .into_iter()
            .filter_map(|(deal, task, assignee, due, title)| {
                Some(OverdueTask {
                    due: read_stamp(&due)?,
                    deal_title: title.unwrap_or_else(|| deal.clone()),
                    deal,
                    task,
                    assignee,
                })
            })
            .collect())
    }

    /// Open tasks of `person` past due at `now` (counted in the index of open tasks by person).
    pub async fn overdue_of(
        &mut self,
        person: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let now = crate::json::stamp(now);
        Ok(on!(self, c => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM tasks WHERE done_at IS NULL AND assignee = $1 AND due < $2",
            )
            .bind(person).bind(&now)
            .fetch_one(&mut **c).await?
        }))
    }

    /// Deals found by every word of `query` (in their id, title, client's name, phones,
    /// emails; case does not matter; a phone however it is typed, read with `country`, see
    /// [`crate::contact::search_terms`]), live ones first, at most `limit`.
    pub async fn search_deals(
        &mut self,
        query: &str,
        country: Option<phonenumber::country::Id>,
        limit: i64,
    ) -> Result<Vec<Card>, StoreError> {
        let words: Vec<String> = crate::contact::search_terms(query, country)
            .iter()
            .take(6)
            .map(|w| like(w))
            .collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = format!(
            "SELECT {CARD} FROM deal_search s JOIN deal_facts f ON {} WHERE ",
            super::summaries::search_join(self)
        );
        for i in 0..words.len() {
            if i > 0 {
                sql.push_str(" AND ");
            }
            sql.push_str(&format!("s.words LIKE ${}", i + 1));
        }
        sql.push_str(&format!(
            " ORDER BY f.live DESC, f.deal_id LIMIT ${}",
            words.len() + 1
        ));
        Ok(cards!(self, sql, words, [limit]))
    }
}
