//! Where the daemon keeps deals: an SQLite file (the embedded default) or PostgreSQL (several
//! daemons). The same statements run on both; the schema is embedded and applied at start.
//!
//! A step of the engine is written whole in one transaction ([`Tx::write_step`]): the deal's
//! new state, its history, its timers, tasks and time entries, the team's load and the
//! messages it queued. Either all of it is there after a commit or none of it.

pub mod codec;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Postgres, Row, SqlStr, Sqlite};
use tokio::sync::Notify;

use crate::compile::Plan;
use crate::engine::{Deal, Member, Record, Team, TrackState};
pub use codec::{Misfit, StoredDeal, StoredTime};

/// What went wrong with the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one dealflow understands.
    #[error("`{0}` is not a database URL dealflow understands (sqlite://FILE or postgres://…)")]
    Url(String),
    /// Another daemon holds the SQLite file.
    #[error(
        "another dealflow daemon is already using {0} (one daemon per SQLite file; use PostgreSQL to run several)"
    )]
    Locked(PathBuf),
    /// The database refused or broke.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// The embedded schema could not be applied.
    #[error("applying the database schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A file next to the database could not be used.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// A stored row does not read back (written by a newer dealflow, or edited by hand).
    #[error("stored data of `{0}` does not read: {1}")]
    Corrupt(String, String),
}

/// Which database.
#[derive(Clone, Debug)]
enum Pool {
    /// Readers share a few connections; every write goes through the one connection of
    /// `write`. SQLite drops a connection's whole page cache when another connection wrote
    /// since it last looked, so a writer that kept changing connections would read its pages
    /// from the file again on every batch.
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
    },
    Postgres(PgPool),
}

/// This process's turn to write to an SQLite file, held until the transaction ends; when it
/// ends, the checkpointer is told that the log has grown.
pub struct WriteTurn {
    _turn: tokio::sync::OwnedMutexGuard<()>,
    wrote: Arc<Notify>,
}

impl Drop for WriteTurn {
    fn drop(&mut self) {
        self.wrote.notify_one();
    }
}

/// An open database.
#[derive(Debug)]
pub struct Store {
    pool: Pool,
    /// Whose turn it is to write (SQLite has one writer at a time).
    writing: Arc<tokio::sync::Mutex<()>>,
    /// SQLite: told after each write, wakes the checkpointer.
    wrote: Arc<Notify>,
    /// SQLite: the task that copies the write-ahead log into the database file.
    checkpointer: Option<tokio::task::JoinHandle<()>>,
    /// Held while the daemon runs: one daemon per SQLite file.
    _lock: Option<File>,
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some(c) = &self.checkpointer {
            c.abort();
        }
    }
}

/// How many pages the write-ahead log may hold before the writer itself copies them into the
/// database. The checkpointer keeps the log far below that; this only bounds the file if the
/// checkpointer falls behind.
const WAL_BACKSTOP_PAGES: &str = "40000";

/// From this many pages in the log on, the checkpointer lets the log start over: it finishes
/// copying while it holds the write turn, and the next write begins the log again from the
/// start. The writer waits only for the pages of the last few milliseconds.
const WAL_RESTART_PAGES: i64 = 8000;

/// Before it takes the write turn to let the log start over, the checkpointer copies again
/// until a copy finds at most this many new pages (or it has tried [`CATCH_UP_ROUNDS`] times):
/// the writer then waits for about this many pages to be copied.
const WAL_TAIL_PAGES: i64 = 256;
const CATCH_UP_ROUNDS: usize = 8;

/// How long the checkpointer lets writes gather before it copies them.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);

/// Copies committed pages from the write-ahead log into the database file, on a reader
/// connection, after writes and never more often than [`CHECKPOINT_EVERY`]. In the writer's
/// own commit (SQLite's default) this copying took a tenth of the write path's time, and a
/// long copy now and then stalled every request waiting behind it. A passive checkpoint does
/// not wait for, or block, anyone; see [`WAL_RESTART_PAGES`] for how the log stays short.
async fn checkpoints(read: SqlitePool, wrote: Arc<Notify>, writing: Arc<tokio::sync::Mutex<()>>) {
    // How many pages the log held when the copy began.
    let passive = async |c: &mut sqlx::SqliteConnection| -> Result<i64, sqlx::Error> {
        let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(c)
            .await?;
        row.try_get::<i64, _>(1)
    };
    loop {
        wrote.notified().await;
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        let copied = async {
            let mut c = read.acquire().await?;
            let mut log = passive(&mut c).await?;
            if log >= WAL_RESTART_PAGES {
                // Again without the turn, while each copy finds many pages written during the
                // one before, so that the writer waits only for the pages of the last moment.
                // The connection is in hand before the turn is taken: writers never wait for
                // readers to give one back.
                for _ in 0..CATCH_UP_ROUNDS {
                    let now = passive(&mut c).await?;
                    let fresh = now - log;
                    log = now;
                    if fresh <= WAL_TAIL_PAGES {
                        break;
                    }
                }
                let _turn = writing.lock().await;
                passive(&mut c).await?;
            }
            Ok::<(), sqlx::Error>(())
        };
        if let Err(e) = copied.await {
            if read.is_closed() {
                return;
            }
            tracing::warn!(error = %e, "copying the write-ahead log into the database failed");
        }
    }
}

/// One transaction.
pub enum Tx {
    /// On SQLite, with this process's write turn when it writes.
    Sqlite(sqlx::Transaction<'static, Sqlite>, Option<WriteTurn>),
    /// On PostgreSQL.
    Postgres(sqlx::Transaction<'static, Postgres>),
}

/// Runs the same code on whichever connection a transaction holds: the statements are the
/// same text; sqlx checks the binds against each backend.
macro_rules! on {
    ($tx:expr, $c:ident => $body:expr) => {
        match $tx {
            Tx::Sqlite($c, _) => $body,
            Tx::Postgres($c) => $body,
        }
    };
}

mod batch;
pub use batch::{Arg, BatchWrite, DealWrite};

/// How a store is opened.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// PostgreSQL: the schema to use (created if missing); `None`: the server's default.
    pub schema: Option<String>,
    /// SQLite: do not take the one-daemon lock (a second reader while a daemon runs).
    pub shared: bool,
    /// Only read: SQLite opens the file read-only (it must exist), no lock is taken and the
    /// schema is not applied (what-if runs on live data).
    pub read_only: bool,
}

impl Store {
    /// Opens (and on first use creates) the database at `url` and applies the schema.
    /// `sqlite://FILE` (or a plain path) or `postgres://…`.
    pub async fn open(url: &str, opts: &Options) -> Result<Store, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut co =
                PgConnectOptions::from_str(url).map_err(|_| StoreError::Url(url.to_string()))?;
            if let Some(schema) = &opts.schema {
                co = co.options([("search_path", schema.as_str())]);
                // The schema must exist before a connection uses it as its path.
                let bare = PgConnectOptions::from_str(url)
                    .map_err(|_| StoreError::Url(url.to_string()))?;
                let pool = PgPoolOptions::new()
                    .max_connections(1)
                    .connect_with(bare)
                    .await?;
                let q = format!(
                    "CREATE SCHEMA IF NOT EXISTS \"{}\"",
                    schema.replace('"', "")
                );
                sqlx::query(sqlx::AssertSqlSafe(q)).execute(&pool).await?;
                pool.close().await;
            }
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(co)
                .await?;
            if !opts.read_only {
                migrator(POSTGRES_SCHEMA).run(&pool).await?;
            }
            return Ok(Store {
                pool: Pool::Postgres(pool),
                writing: Default::default(),
                wrote: Default::default(),
                checkpointer: None,
                _lock: None,
            });
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.is_empty() || url.contains("://") && !url.starts_with("sqlite://") {
            return Err(StoreError::Url(url.to_string()));
        }
        let path = Path::new(path);
        let lock = if opts.shared || opts.read_only {
            None
        } else {
            Some(lock_beside(path)?)
        };
        if opts.read_only && !path.exists() {
            return Err(StoreError::Io(
                path.to_path_buf(),
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such database file"),
            ));
        }
        let co = SqliteConnectOptions::new()
            .filename(path)
            .read_only(opts.read_only)
            .create_if_missing(!opts.read_only)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // Reads of recent pages come from memory, not from read() calls on every batch.
            .pragma("cache_size", "-32768")
            .pragma("mmap_size", "268435456")
            .pragma("temp_store", "memory");
        let write = if opts.read_only {
            None
        } else {
            // A file on this machine: no liveness ping before each transaction (a broken
            // connection fails its `BEGIN`, and the batch is tried again). Batches come in many
            // sizes, so each table's statement has many shapes: room for all of them.
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .test_before_acquire(false)
                .connect_with(
                    co.clone()
                        .pragma("wal_autocheckpoint", WAL_BACKSTOP_PAGES)
                        // A log that grew past the backstop is cut back when it starts over.
                        .pragma("journal_size_limit", "67108864")
                        .statement_cache_capacity(1024),
                )
                .await?;
            migrator(SQLITE_SCHEMA).run(&write).await?;
            Some(write)
        };
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(co)
            .await?;
        let wrote = Arc::new(Notify::new());
        let writing = Arc::new(tokio::sync::Mutex::new(()));
        let checkpointer = write
            .is_some()
            .then(|| tokio::spawn(checkpoints(read.clone(), wrote.clone(), writing.clone())));
        Ok(Store {
            pool: Pool::Sqlite {
                write: write.unwrap_or_else(|| read.clone()),
                read,
            },
            writing,
            wrote,
            checkpointer,
            _lock: lock,
        })
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite { .. } => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// Starts a transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`): a
    /// transaction that reads and then writes cannot be turned away half-way by another writer.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite { write: p, .. } => {
                // Writers of this process queue here, in order, instead of in SQLite's busy
                // handler (which sleeps in growing steps and stalls requests behind it).
                let turn = WriteTurn {
                    _turn: self.writing.clone().lock_owned().await,
                    wrote: self.wrote.clone(),
                };
                Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?, Some(turn))
            }
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// Starts a transaction that only reads (on SQLite it does not wait for the write lock).
    pub async fn read(&self) -> Result<Tx, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite { read: p, .. } => Tx::Sqlite(p.begin().await?, None),
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// Closes every connection.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite { read, write } => {
                if let Some(c) = &self.checkpointer {
                    c.abort();
                }
                write.close().await;
                read.close().await;
            }
            Pool::Postgres(p) => p.close().await,
        }
    }
}

/// The schema, one migration per step, for each backend (applied in order, each once).
const SQLITE_SCHEMA: [(&str, &str); 2] = [
    ("dealflow store", include_str!("sql/sqlite.sql")),
    (
        "events with their payloads",
        include_str!("sql/sqlite-2.sql"),
    ),
];
const POSTGRES_SCHEMA: [(&str, &str); 2] = [
    ("dealflow store", include_str!("sql/postgres.sql")),
    (
        "events with their payloads",
        include_str!("sql/postgres-2.sql"),
    ),
];

fn migrator(steps: [(&'static str, &'static str); 2]) -> Migrator {
    Migrator::with_migrations(
        steps
            .into_iter()
            .enumerate()
            .map(|(i, (what, sql))| {
                Migration::new(
                    i as i64 + 1,
                    Cow::Borrowed(what),
                    MigrationType::Simple,
                    SqlStr::from_static(sql),
                    false,
                )
            })
            .collect(),
    )
}

/// Takes the one-daemon lock of an SQLite file: `FILE.lock`, held (flock) while the store is
/// open; the operating system lets go of it when the process ends, even on `kill -9`.
fn lock_beside(db: &Path) -> Result<File, StoreError> {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    let path = PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::Io(path.clone(), e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked(db.to_path_buf())),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Io(path, e)),
    }
}

/// A moment as stored for people: RFC 3339 in UTC, to the microsecond.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn read_stamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A deal as read for a step.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The stored document.
    pub stored: StoredDeal,
    /// Bumped by every step; a write checks it did not move meanwhile.
    pub revision: i64,
    /// The rules version that last ran it.
    pub rules_version: i64,
}

impl Tx {
    /// Puts each deal's logged work, from the `time_entries` table, into its document.
    async fn attach_time<'a>(
        &mut self,
        deals: impl IntoIterator<Item = &'a mut Loaded>,
    ) -> Result<(), StoreError> {
        let mut by_id: std::collections::HashMap<String, &'a mut Loaded> = deals
            .into_iter()
            .map(|l| {
                l.stored.time_entries.clear();
                (l.stored.id.clone(), l)
            })
            .collect();
        let ids: Vec<String> = by_id.keys().cloned().collect();
        for chunk in ids.chunks(batch::MAX_ARGS) {
            let mut sql = String::from(
                "SELECT deal_id, task, member, hours, rate, at FROM time_entries WHERE deal_id IN (",
            );
            batch::list(&mut sql, chunk.len(), 1, batch::Style::of(self));
            sql.push_str(") ORDER BY deal_id, n");
            type Row6 = (String, Option<String>, String, String, String, String);
            let rows: Vec<Row6> = on!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(id.as_str());
                }
                q.fetch_all(&mut **c).await?
                    .iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?)))
                    .collect::<Result<_, sqlx::Error>>()?
            });
            for (deal, task, user, hours, rate, at) in rows {
                let bad = |what: &str| {
                    StoreError::Corrupt(
                        deal.clone(),
                        format!("a time entry's {what} does not read"),
                    )
                };
                let entry = StoredTime {
                    task,
                    user,
                    hours: hours.parse().map_err(|_| bad("hours"))?,
                    rate: rate.parse().map_err(|_| bad("rate"))?,
                    at: read_stamp(&at).ok_or_else(|| bad("time"))?,
                };
                if let Some(l) = by_id.get_mut(&deal) {
                    l.stored.time_entries.push(entry);
                }
            }
        }
        Ok(())
    }
}

/// A stored deal document read back (without its time entries, see [`Tx::attach_time`]); a
/// document that does not read is named as corrupt.
fn loaded(id: &str, state: &str, revision: i64, rules_version: i64) -> Result<Loaded, StoreError> {
    let stored: StoredDeal = serde_json::from_str(state)
        .map_err(|e| StoreError::Corrupt(id.to_string(), e.to_string()))?;
    Ok(Loaded {
        stored,
        revision,
        rules_version,
    })
}

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

/// A timer due, as the scheduler sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct DueTimer {
    /// The deal.
    pub deal: String,
    /// The armed timer's id in the deal.
    pub timer: u64,
    /// When it falls due.
    pub due: DateTime<Utc>,
    /// The claim's attempt number (`None`: not claimed). A firing whose attempt is no longer
    /// the timer's (someone took it over after the lease ran out) changes nothing.
    pub attempt: Option<i64>,
}

/// A message waiting in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    /// Row id.
    pub id: i64,
    /// The deal that sent it.
    pub deal: String,
    /// `email` or `sms`.
    pub channel: String,
    /// Address or phone number.
    pub to: String,
    /// Template name.
    pub template: String,
    /// Email subject.
    pub subject: Option<String>,
    /// The text.
    pub body: String,
    /// Attached files, as JSON (`[{filename, content_type, content}]`).
    pub attachments: String,
    /// Not before this moment.
    pub send_after: DateTime<Utc>,
    /// `pending`, `sent` or `dead`.
    pub status: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// The answer given to a request with an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// What the request was (method, path, body digest): a key reused for another request is
    /// an error, not a replay.
    pub fingerprint: String,
    /// HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: String,
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

/// The columns a deal is found by (lists and filters), besides its document.
struct Facets {
    live: i64,
    stages: String,
    phases: String,
    alerts: String,
    people: String,
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

fn facets(plan: &Plan, deal: &Deal) -> Facets {
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

/// The outbox's dedupe key: the same rule of the same step to the same recipient is queued
/// once, however often the step is retried.
fn dedupe_key(
    deal: &str,
    revision: i64,
    r: &Record,
    channel: &str,
    to: &str,
    template: &str,
) -> String {
    format!(
        "{deal}#{revision}:{}:{channel}:{to}:{template}",
        r.line.map(|l| l.to_string()).unwrap_or_default()
    )
}

impl Tx {
    /// Commits.
    pub async fn commit(self) -> Result<(), StoreError> {
        on!(self, t => t.commit().await?);
        Ok(())
    }

    /// Rolls back (dropping a transaction does too).
    pub async fn rollback(self) -> Result<(), StoreError> {
        on!(self, t => t.rollback().await?);
        Ok(())
    }

    /// Reads one deal to show it (no lock; steps read theirs in batches, see `load_deals`).
    pub async fn peek_deal(&mut self, id: &str) -> Result<Option<Loaded>, StoreError> {
        let sql = "SELECT state, revision, rules_version FROM deals WHERE id = $1";
        let row: Option<(String, i64, i64)> = on!(self, c => {
            sqlx::query(sql).bind(id).fetch_optional(&mut **c).await?
                .map(|r| -> Result<_, sqlx::Error> { Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)) })
                .transpose()?
        });
        let Some((state, revision, rules_version)) = row else {
            return Ok(None);
        };
        let mut l = loaded(id, &state, revision, rules_version)?;
        self.attach_time(std::iter::once(&mut l)).await?;
        Ok(Some(l))
    }

    /// Whole deals in id order after `after`, at most `limit`: a page of what the dashboard
    /// draws.
    pub async fn deal_states(
        &mut self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, Loaded)>, StoreError> {
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
                let l = loaded(&id, &state, revision, rules_version)?;
                Ok((id, l))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.attach_time(out.iter_mut().map(|(_, l)| l)).await?;
        Ok(out)
    }

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
                    "INSERT INTO team (id, name, roles, email, phone, rate, open_tasks) \
                     VALUES ($1, $2, $3, $4, $5, $6, \
                       (SELECT COUNT(*) FROM tasks WHERE assignee = $1 AND done_at IS NULL)) \
                     ON CONFLICT (id) DO UPDATE SET name = $2, roles = $3, email = $4, phone = $5, rate = $6",
                )
                .bind(&m.id).bind(&m.name).bind(roles).bind(m.email.as_deref())
                .bind(m.phone.as_deref()).bind(m.rate.to_string())
                .execute(&mut **c).await?.rows_affected()
            });
        }
        Ok(())
    }

    /// The team with every member's open tasks.
    pub async fn team(&mut self) -> Result<Team, StoreError> {
        // id, name, roles, email, phone, rate, open tasks
        type MemberRow = (
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            String,
            i64,
        );
        let rows: Vec<MemberRow> = on!(self, c => {
            sqlx::query("SELECT id, name, roles, email, phone, rate, open_tasks FROM team ORDER BY id")
                .fetch_all(&mut **c).await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?,
                             r.try_get(4)?, r.try_get(5)?, r.try_get(6)?)))
                .collect::<Result<_, sqlx::Error>>()?
        });
        let mut members = Vec::new();
        let mut team = Team::default();
        for (id, name, roles, email, phone, rate, open) in rows {
            let corrupt =
                |what: &str| StoreError::Corrupt(format!("team member {id}"), what.to_string());
            members.push(Member {
                roles: serde_json::from_str(&roles).map_err(|_| corrupt("roles"))?,
                rate: rate.parse().map_err(|_| corrupt("rate"))?,
                id: id.clone(),
                name,
                email,
                phone,
            });
            team.load.insert(id, open);
        }
        team.members = members;
        Ok(team)
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

    /// Timers due at or before `now`, earliest first, at most `limit`. Uses the due-time index:
    /// the cost grows with the timers due, not with the deals stored.
    pub async fn due_timers(
        &mut self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DueTimer>, StoreError> {
        let rows: Vec<(String, i64, i64)> = on!(self, c => {
            sqlx::query(
                "SELECT deal_id, timer_id, due_ms FROM timers WHERE due_ms <= $1 \
                 ORDER BY due_ms, deal_id, timer_id LIMIT $2",
            )
            .bind(ms(now)).bind(limit)
            .fetch_all(&mut **c).await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<Result<_, sqlx::Error>>()?
        });
        Ok(rows
            .into_iter()
            .map(|(deal, timer, due)| DueTimer {
                deal,
                timer: timer as u64,
                due: from_ms(due),
                attempt: None,
            })
            .collect())
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
        type Row = (
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
        let rows: Vec<Row> = on!(self, c => {
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
        let split = |s: &str| -> Vec<String> {
            s.split('|')
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect()
        };
        Ok(rows
            .into_iter()
            .map(|r| DealRow {
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
            })
            .collect())
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

    /// Claims up to `limit` due timers for `owner` until `lease_until`: each claim counts up the
    /// timer's attempt. On PostgreSQL, rows another daemon is claiming are skipped, not waited
    /// for (`FOR UPDATE SKIP LOCKED`); a claim whose lease ran out may be taken over.
    pub async fn claim_timers(
        &mut self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DueTimer>, StoreError> {
        let sql = match self {
            Tx::Postgres(_) => {
                "UPDATE timers SET owner = $1, lease_ms = $2, attempt = attempt + 1 \
                 WHERE (deal_id, timer_id) IN (SELECT deal_id, timer_id FROM timers \
                   WHERE due_ms <= $3 AND (lease_ms IS NULL OR lease_ms < $3) \
                   ORDER BY due_ms LIMIT $4 FOR UPDATE SKIP LOCKED) \
                 RETURNING deal_id, timer_id, due_ms, attempt"
            }
            Tx::Sqlite(..) => {
                "UPDATE timers SET owner = $1, lease_ms = $2, attempt = attempt + 1 \
                 WHERE (deal_id, timer_id) IN (SELECT deal_id, timer_id FROM timers \
                   WHERE due_ms <= $3 AND (lease_ms IS NULL OR lease_ms < $3) \
                   ORDER BY due_ms LIMIT $4) \
                 RETURNING deal_id, timer_id, due_ms, attempt"
            }
        };
        let rows: Vec<(String, i64, i64, i64)> = on!(self, c => {
            sqlx::query(sql)
                .bind(owner).bind(ms(lease_until)).bind(ms(now)).bind(limit)
                .fetch_all(&mut **c).await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
                .collect::<Result<_, sqlx::Error>>()?
        });
        let mut out: Vec<DueTimer> = rows
            .into_iter()
            .map(|(deal, timer, due, attempt)| DueTimer {
                deal,
                timer: timer as u64,
                due: from_ms(due),
                attempt: Some(attempt),
            })
            .collect();
        out.sort_by(|a, b| (a.due, &a.deal, a.timer).cmp(&(b.due, &b.deal, b.timer)));
        Ok(out)
    }

    /// Claims the local-midnight check of `day` (`YYYY-MM-DD`): true for the one caller that
    /// moves the mark forward, so each midnight is checked once however many daemons run.
    pub async fn claim_midnight(&mut self, day: &str) -> Result<bool, StoreError> {
        on!(self, c => {
            sqlx::query("INSERT INTO meta (key, value) VALUES ('midnight', '') ON CONFLICT (key) DO NOTHING")
                .execute(&mut **c).await?.rows_affected()
        });
        let n = on!(self, c => {
            sqlx::query("UPDATE meta SET value = $1 WHERE key = 'midnight' AND value < $1")
                .bind(day).execute(&mut **c).await?.rows_affected()
        });
        Ok(n == 1)
    }

    /// The last local midnight checked (`YYYY-MM-DD`), if any.
    pub async fn last_midnight(&mut self) -> Result<Option<String>, StoreError> {
        Ok(on!(self, c => {
            sqlx::query("SELECT value FROM meta WHERE key = 'midnight'")
                .fetch_optional(&mut **c).await?
                .map(|r| r.try_get::<String, _>(0)).transpose()?
        })
        .filter(|v| !v.is_empty()))
    }

    /// The earliest timer still to come, if any.
    pub async fn next_timer(&mut self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let v: Option<i64> = on!(self, c => {
            sqlx::query("SELECT MIN(due_ms) FROM timers").fetch_one(&mut **c).await?.try_get(0)?
        });
        Ok(v.map(from_ms))
    }

    /// Messages in the outbox, oldest first (all statuses).
    pub async fn outbox(&mut self) -> Result<Vec<Queued>, StoreError> {
        self.messages(Messages::All).await
    }

    /// Messages that could not be delivered (`dead`), the latest first, at most 500.
    pub async fn dead_messages(&mut self) -> Result<Vec<Queued>, StoreError> {
        self.messages(Messages::Dead).await
    }

    /// One message, all of them, or the dead ones.
    async fn messages(&mut self, which: Messages<'_>) -> Result<Vec<Queued>, StoreError> {
        type Row = (
            i64,
            String,
            String,
            String,
            String,
            Option<String>,
            String,
            String,
            i64,
            String,
            i64,
            Option<String>,
        );
        const COLUMNS: &str = "SELECT id, deal_id, channel, recipient, template, subject, body, \
             attachments, send_after_ms, status, attempts, last_error FROM outbox";
        let (sql, ids) = match which {
            Messages::One(id) => (format!("{COLUMNS} WHERE id = $1"), vec![id]),
            Messages::Ids(ids) => {
                let mut sql = format!("{COLUMNS} WHERE id IN (");
                batch::list(&mut sql, ids.len(), 1, batch::Style::of(self));
                sql.push(')');
                (sql, ids.to_vec())
            }
            Messages::All => (format!("{COLUMNS} ORDER BY id"), Vec::new()),
            Messages::Dead => (
                format!("{COLUMNS} WHERE status = 'dead' ORDER BY id DESC LIMIT 500"),
                Vec::new(),
            ),
        };
        let rows: Vec<Row> = on!(self, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in &ids {
                q = q.bind(*id);
            }
            q.fetch_all(&mut **c).await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?,
                         r.try_get(4)?, r.try_get(5)?, r.try_get(6)?, r.try_get(7)?,
                         r.try_get(8)?, r.try_get(9)?, r.try_get(10)?, r.try_get(11)?)))
            .collect::<Result<_, sqlx::Error>>()?
        });
        Ok(rows
            .into_iter()
            .map(|r| Queued {
                id: r.0,
                deal: r.1,
                channel: r.2,
                to: r.3,
                template: r.4,
                subject: r.5,
                body: r.6,
                attachments: r.7,
                send_after: from_ms(r.8),
                status: r.9,
                attempts: r.10,
                last_error: r.11,
            })
            .collect())
    }

    /// Claims up to `limit` messages that may go out now: each is held (its next attempt moved
    /// to `lease_until`) so that another worker skips it meanwhile.
    pub async fn claim_messages(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Queued>, StoreError> {
        let pick = match self {
            Tx::Postgres(_) => {
                "SELECT id FROM outbox WHERE status = 'pending' AND next_ms <= $1 \
                 ORDER BY next_ms, id LIMIT $2 FOR UPDATE SKIP LOCKED"
            }
            Tx::Sqlite(..) => {
                "SELECT id FROM outbox WHERE status = 'pending' AND next_ms <= $1 \
                 ORDER BY next_ms, id LIMIT $2"
            }
        };
        let ids: Vec<i64> = on!(self, c => {
            sqlx::query(pick).bind(ms(now)).bind(limit).fetch_all(&mut **c).await?
                .iter().map(|r| r.try_get::<i64, _>(0)).collect::<Result<_, _>>()?
        });
        self.outbox_update("next_ms = ", Arg::Int(Some(ms(lease_until))), &ids)
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(batch::MAX_ARGS) {
            out.extend(self.messages(Messages::Ids(chunk)).await?);
        }
        // In the order claimed: the longest waiting first.
        let order: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        out.sort_by_key(|m| order.get(&m.id).copied());
        Ok(out)
    }

    /// One message.
    pub async fn message(&mut self, id: i64) -> Result<Option<Queued>, StoreError> {
        Ok(self.messages(Messages::One(id)).await?.into_iter().next())
    }

    /// These messages went out (one statement for a whole pass, not one per message).
    pub async fn messages_sent(
        &mut self,
        ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.outbox_update(
            "status = 'sent', attempts = attempts + 1, last_error = NULL, sent_at = ",
            Arg::Text(Some(stamp(now))),
            ids,
        )
        .await
    }

    /// `UPDATE outbox SET {set}<value> WHERE id IN (…)`, one statement per few hundred ids.
    async fn outbox_update(
        &mut self,
        set: &str,
        value: Arg,
        ids: &[i64],
    ) -> Result<(), StoreError> {
        let style = batch::Style::of(self);
        for chunk in ids.chunks(batch::MAX_ARGS) {
            let mut sql = format!("UPDATE outbox SET {set}");
            batch::list(&mut sql, 1, 1, style);
            sql.push_str(" WHERE id IN (");
            batch::list(&mut sql, chunk.len(), 2, style);
            sql.push(')');
            let mut args = Vec::with_capacity(chunk.len() + 1);
            args.push(value.clone());
            args.extend(chunk.iter().map(|id| Arg::Int(Some(*id))));
            self.run_args(sql, args).await?;
        }
        Ok(())
    }

    /// A delivery attempt failed: try again at `retry` or, when `dead`, never.
    pub async fn message_failed(
        &mut self,
        id: i64,
        error: &str,
        retry: DateTime<Utc>,
        dead: bool,
    ) -> Result<(), StoreError> {
        on!(self, c => {
            sqlx::query(
                "UPDATE outbox SET status = $1, attempts = attempts + 1, next_ms = $2, last_error = $3 WHERE id = $4",
            )
            .bind(if dead { "dead" } else { "pending" }).bind(ms(retry)).bind(error).bind(id)
            .execute(&mut **c).await?.rows_affected()
        });
        Ok(())
    }

    /// A deal's history as stored: (kind, cause, rule, rules version, record JSON), in order.
    pub async fn history(
        &mut self,
        deal: &str,
    ) -> Result<Vec<(String, String, Option<String>, i64, String)>, StoreError> {
        Ok(on!(self, c => {
            sqlx::query(
                "SELECT kind, cause, rule, rules_version, record FROM history WHERE deal_id = $1 ORDER BY id",
            )
            .bind(deal)
            .fetch_all(&mut **c).await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?)))
            .collect::<Result<_, sqlx::Error>>()?
        }))
    }

    /// The events applied to a deal, oldest first: (name, payload JSON, sent by, at, revision).
    pub async fn events(
        &mut self,
        deal: &str,
    ) -> Result<Vec<(String, String, Option<String>, String, i64)>, StoreError> {
        Ok(on!(self, c => {
            sqlx::query(
                "SELECT name, payload, sent_by, at, revision FROM events WHERE deal_id = $1 ORDER BY id",
            )
            .bind(deal)
            .fetch_all(&mut **c).await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?)))
            .collect::<Result<_, sqlx::Error>>()?
        }))
    }

    /// The answer first given to a request with this idempotency key.
    pub async fn answer(&mut self, key: &str) -> Result<Option<Answer>, StoreError> {
        Ok(on!(self, c => {
            sqlx::query("SELECT fingerprint, status, body FROM requests WHERE key = $1")
                .bind(key)
                .fetch_optional(&mut **c).await?
                .map(|r| -> Result<_, sqlx::Error> {
                    Ok(Answer {
                        fingerprint: r.try_get(0)?,
                        status: r.try_get::<i64, _>(1)? as u16,
                        body: r.try_get(2)?,
                    })
                })
                .transpose()?
        }))
    }

    /// Keeps the answer to a request, in the same transaction as what the request changed.
    pub async fn keep_answer(
        &mut self,
        key: &str,
        a: &Answer,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on!(self, c => {
            sqlx::query(
                "INSERT INTO requests (key, fingerprint, status, body, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(key).bind(&a.fingerprint).bind(i64::from(a.status)).bind(&a.body).bind(stamp(now))
            .execute(&mut **c).await?.rows_affected()
        });
        Ok(())
    }

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

/// Which messages to read.
#[derive(Debug, Clone, Copy)]
enum Messages<'a> {
    One(i64),
    Ids(&'a [i64]),
    All,
    Dead,
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

/// The SHA-256 of the rules text and its script, in hex: tells versions apart.
pub fn digest(source: &str, script: Option<&str>) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(source.as_bytes());
    h.update([0u8]);
    h.update(script.unwrap_or("").as_bytes());
    format!("{:x}", h.finalize())
}
