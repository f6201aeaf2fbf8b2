//! Generated statements: one text for a batch of rows or ids, with placeholders numbered the
//! way each backend wants them, the values bound in order, and several statements sent to
//! SQLite in one call.

use std::fmt::Write;

use super::{StoreError, Tx};

/// Most bound values in one statement (both backends take far more; this keeps statements
/// short enough to stay in the prepared-statement cache in a few shapes).
pub(super) const MAX_ARGS: usize = 900;

/// A value bound into a generated statement.
#[derive(Debug, Clone)]
pub enum Arg {
    /// Text (or NULL).
    Text(Option<String>),
    /// A whole number (or NULL).
    Int(Option<i64>),
}

impl Arg {
    /// The value bound to a statement's next placeholder.
    pub(super) fn bind<'q, DB: sqlx::Database>(
        self,
        q: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    ) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
    where
        Option<String>: 'q + sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        Option<i64>: 'q + sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        match self {
            Arg::Text(t) => q.bind(t),
            Arg::Int(i) => q.bind(i),
        }
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Text(Some(s))
    }
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Text(Some(s.to_string()))
    }
}

impl From<Option<String>> for Arg {
    fn from(s: Option<String>) -> Self {
        Arg::Text(s)
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}

impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}

/// `($1, $2), ($3, $4)…` for `rows` rows of `cols` values, numbered from `first`.
fn placeholders(out: &mut String, rows: usize, cols: usize, first: usize, style: Style) {
    let mut n = first;
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            style.push(out, n);
            n += 1;
        }
        out.push(')');
    }
}

/// How a generated statement numbers its values. SQLite takes plain `?` in order: it looks a
/// numbered parameter up by a linear search, which makes binding a long statement quadratic.
#[derive(Clone, Copy)]
pub(super) enum Style {
    Question,
    Dollar,
}

impl Style {
    pub(super) fn of(tx: &Tx) -> Style {
        match tx {
            Tx::Sqlite(..) => Style::Question,
            Tx::Postgres(_) => Style::Dollar,
        }
    }

    pub(super) fn push(self, out: &mut String, n: usize) {
        match self {
            Style::Question => out.push('?'),
            Style::Dollar => {
                let _ = write!(out, "${n}");
            }
        }
    }
}

/// `$1, $2, …` (or `?, ?, …`) for `n` values from `first`.
pub(super) fn list(out: &mut String, n: usize, first: usize, style: Style) {
    for i in 0..n {
        if i > 0 {
            out.push_str(", ");
        }
        style.push(out, first + i);
    }
}

/// The statements that write one batch, sent together: SQLite runs a text of several
/// statements in one call, each binding its `?` values in turn, which saves a round trip to its
/// worker thread per table written; PostgreSQL takes them one by one.
#[derive(Default)]
pub(super) struct Writes {
    pub(super) statements: Vec<(String, Vec<Arg>)>,
}

impl Writes {
    /// Adds `head VALUES (…), (…) tail` for the rows, as many statements as the size limit
    /// needs. `head` and `tail` are constant SQL; only placeholders are generated.
    pub(super) fn rows(&mut self, style: Style, head: &str, tail: &str, rows: Vec<Vec<Arg>>) {
        let Some(cols) = rows.first().map(Vec::len) else {
            return;
        };
        let per = (MAX_ARGS / cols).max(1);
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<Vec<Arg>> = rows.by_ref().take(per).collect();
            let mut sql = String::from(head);
            sql.push_str(" VALUES ");
            placeholders(&mut sql, chunk.len(), cols, 1, style);
            sql.push(' ');
            sql.push_str(tail);
            self.statements
                .push((sql, chunk.into_iter().flatten().collect()));
        }
    }

    /// Deletes timers by (deal, timer id) pairs.
    pub(super) fn delete_timers(&mut self, style: Style, pairs: &[(String, i64)]) {
        for chunk in pairs.chunks(MAX_ARGS / 2) {
            if chunk.is_empty() {
                continue;
            }
            let mut sql = String::from("DELETE FROM timers WHERE ");
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push_str(" OR ");
                }
                sql.push_str("(deal_id = ");
                style.push(&mut sql, 2 * i + 1);
                sql.push_str(" AND timer_id = ");
                style.push(&mut sql, 2 * i + 2);
                sql.push(')');
            }
            let args: Vec<Arg> = chunk
                .iter()
                .flat_map(|(d, k)| [Arg::from(d.as_str()), Arg::from(*k)])
                .collect();
            self.statements.push((sql, args));
        }
    }
}

impl Tx {
    /// Runs the statements: on SQLite as one text in one call, on PostgreSQL one by one.
    pub(super) async fn send(&mut self, w: Writes) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(..) if w.statements.len() > 1 => {
                let mut sql = String::new();
                let mut args = Vec::new();
                for (s, a) in w.statements {
                    sql.push_str(&s);
                    sql.push_str(";\n");
                    args.extend(a);
                }
                self.run_args(sql, args).await?;
            }
            _ => {
                for (sql, args) in w.statements {
                    self.run_args(sql, args).await?;
                }
            }
        }
        Ok(())
    }

    /// Runs a generated statement with its values.
    pub(super) async fn run_args(
        &mut self,
        sql: String,
        args: Vec<Arg>,
    ) -> Result<u64, StoreError> {
        Ok(on!(self, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for a in args {
                q = a.bind(q);
            }
            q.execute(&mut **c).await?.rows_affected()
        }))
    }
}

/// A row of either backend, its columns read by number.
pub(super) trait Cells {
    fn text(&self, i: usize) -> Result<String, sqlx::Error>;
    fn opt(&self, i: usize) -> Result<Option<String>, sqlx::Error>;
    fn int(&self, i: usize) -> Result<i64, sqlx::Error>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, sqlx::Error>;
}

macro_rules! cells {
    ($t:ty) => {
        impl Cells for $t {
            fn text(&self, i: usize) -> Result<String, sqlx::Error> {
                sqlx::Row::try_get(self, i)
            }
            fn opt(&self, i: usize) -> Result<Option<String>, sqlx::Error> {
                sqlx::Row::try_get(self, i)
            }
            fn int(&self, i: usize) -> Result<i64, sqlx::Error> {
                sqlx::Row::try_get(self, i)
            }
            fn opt_int(&self, i: usize) -> Result<Option<i64>, sqlx::Error> {
                sqlx::Row::try_get(self, i)
            }
        }
    };
}
cells!(sqlx::sqlite::SqliteRow);
cells!(sqlx::postgres::PgRow);
