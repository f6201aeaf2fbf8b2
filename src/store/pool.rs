//! Opening the database: an SQLite file (one writer connection, a few readers, the one-daemon
//! lock beside the file, the checkpointer) or a PostgreSQL pool; the embedded schema applied;
//! transactions begun.

use std::borrow::Cow;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::SqlStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::Notify;

use super::checkpoint::{WAL_BACKSTOP_PAGES, checkpoints};
use super::{Options, StoreError, Tx};

/// Whether a connection given back to its pool is outside any transaction (else it is closed).
/// SQLite's writer needs it: after a failed COMMIT (a full disk) its one connection stays
/// inside the transaction, and every later write would fail until a restart.
fn settled<DB: sqlx::Database>(conn: &DB::Connection) -> bool {
    use sqlx_core::transaction::TransactionManager;
    let open = DB::TransactionManager::get_transaction_depth(conn);
    if open > 0 {
        tracing::warn!(
            open,
            "a connection left inside a failed transaction is closed"
        );
    }
    open == 0
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
    /// Held while the daemon runs: one daemon per SQLite file. Let go when the store is closed,
    /// whoever still holds the store then (a task on its way out): the next daemon may start.
    lock: std::sync::Mutex<Option<File>>,
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some(c) = &self.checkpointer {
            c.abort();
        }
    }
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
            if opts.read_only {
                let found: Option<i64> =
                    sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                        .fetch_one(&pool)
                        .await
                        .unwrap_or(None);
                same_schema(found.unwrap_or(0))?;
            } else {
                migrator(POSTGRES_SCHEMA).run(&pool).await?;
            }
            return Ok(Store {
                pool: Pool::Postgres(pool),
                writing: Default::default(),
                wrote: Default::default(),
                checkpointer: None,
                lock: std::sync::Mutex::new(None),
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
            .create_if_missing(!opts.read_only);
        // A reader leaves the journal as it finds it: switching it is a write, and a database
        // the daemon has not upgraded yet is still in the old mode.
        let co = if opts.read_only {
            co
        } else {
            co.journal_mode(SqliteJournalMode::Wal)
        };
        let co = co
            .synchronous(if opts.unsynced {
                SqliteSynchronous::Off
            } else {
                SqliteSynchronous::Full
            })
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
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
                // A transaction that failed (a full disk, an I/O error) can leave its connection
                // inside it: such a connection is closed, and the next write opens a fresh one.
                .after_release(|conn, _| Box::pin(async move { Ok(settled::<sqlx::Sqlite>(conn)) }))
                .connect_with(
                    co.clone()
                        // The writer's reads of recent pages come from memory, not from read()
                        // calls on every batch.
                        .pragma("cache_size", "-32768")
                        .pragma("mmap_size", "268435456")
                        .pragma("wal_autocheckpoint", WAL_BACKSTOP_PAGES)
                        // A log that grew past the backstop is cut back when it starts over.
                        .pragma("journal_size_limit", "67108864")
                        // What is deleted (an erased client) is overwritten, not left in free
                        // pages of the file.
                        .pragma("secure_delete", "on")
                        .statement_cache_capacity(1024),
                )
                .await?;
            migrator(SQLITE_SCHEMA).run(&write).await?;
            Some(write)
        };
        // Readers (pages, the API, the scheduler's looks) read a few rows through indexes: a
        // small cache each and no mapping of the file, so the daemon's memory does not grow
        // with the database (each connection would map and cache it again).
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(co.pragma("cache_size", "-8192").pragma("mmap_size", "0"))
            .await?;
        if opts.read_only {
            let found: Option<i64> =
                sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                    .fetch_one(&read)
                    .await
                    .unwrap_or(None);
            same_schema(found.unwrap_or(0))?;
        }
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
            lock: std::sync::Mutex::new(lock),
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

    /// After an erasure: the write-ahead log copied into the file and cut to nothing, so that
    /// no page of what was erased stays in it (freed pages of the file itself are overwritten:
    /// `secure_delete`). Tried a few times while readers hold old pages; whether it was cut.
    /// PostgreSQL keeps no such log of ours (see the operations guide on VACUUM).
    pub async fn scrub_log(&self) -> Result<bool, StoreError> {
        let Pool::Sqlite { write, .. } = &self.pool else {
            return Ok(true);
        };
        for _ in 0..20 {
            let cut = {
                let _turn = self.writing.clone().lock_owned().await;
                let row: (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                    .fetch_one(write)
                    .await?;
                row.0 == 0
            };
            if cut {
                return Ok(true);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(false)
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
                // The file is free for the next daemon.
                drop(self.lock.lock().map(|mut l| l.take()));
            }
            Pool::Postgres(p) => p.close().await,
        }
    }
}

/// The schema, one migration per step, for each backend (applied in order, each once; a step
/// that has landed is never edited, a change is a new step).
const SQLITE_SCHEMA: &[(&str, &str)] = &[
    ("dealflow store", include_str!("sql/sqlite.sql")),
    (
        "events with their payloads",
        include_str!("sql/sqlite-2.sql"),
    ),
    ("cancelled tasks", include_str!("sql/sqlite-3.sql")),
    ("refusals", include_str!("sql/sqlite-4.sql")),
    ("sessions and opt-outs", include_str!("sql/sqlite-5.sql")),
    ("dashboard summaries", include_str!("sql/sqlite-6.sql")),
    ("task timers", include_str!("sql/sqlite-7.sql")),
    ("webhook deliveries", include_str!("sql/sqlite-8.sql")),
    ("who acted, leads kept", include_str!("sql/sqlite-9.sql")),
    (
        "queues claimed by their pending rows",
        include_str!("sql/sqlite-10.sql"),
    ),
    ("what went out forgotten", include_str!("sql/sqlite-11.sql")),
    (
        "tasks and texts kept once",
        include_str!("sql/sqlite-12.sql"),
    ),
];

const POSTGRES_SCHEMA: &[(&str, &str)] = &[
    ("dealflow store", include_str!("sql/postgres.sql")),
    (
        "events with their payloads",
        include_str!("sql/postgres-2.sql"),
    ),
    ("cancelled tasks", include_str!("sql/postgres-3.sql")),
    ("refusals", include_str!("sql/postgres-4.sql")),
    ("sessions and opt-outs", include_str!("sql/postgres-5.sql")),
    ("dashboard summaries", include_str!("sql/postgres-6.sql")),
    ("task timers", include_str!("sql/postgres-7.sql")),
    ("webhook deliveries", include_str!("sql/postgres-8.sql")),
    ("who acted, leads kept", include_str!("sql/postgres-9.sql")),
    (
        "queues claimed by their pending rows",
        include_str!("sql/postgres-10.sql"),
    ),
    (
        "what went out forgotten",
        include_str!("sql/postgres-11.sql"),
    ),
    (
        "tasks and texts kept once",
        include_str!("sql/postgres-12.sql"),
    ),
];

/// The newest schema version this code knows.
pub const SCHEMA_VERSION: i64 = SQLITE_SCHEMA.len() as i64;

/// A digest of every schema step's text on both backends: a database made under another digest
/// may hold a step that was edited since (before it landed), which opening it refuses. Tools
/// that keep databases between runs (the benchmarks' seeds) make them again when it differs.
pub fn schema_digest() -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for (what, sql) in SQLITE_SCHEMA.iter().chain(POSTGRES_SCHEMA) {
        h.update(what.as_bytes());
        h.update(sql.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A database opened read-only must be at this dealflow's schema step.
fn same_schema(found: i64) -> Result<(), StoreError> {
    if found == SCHEMA_VERSION {
        Ok(())
    } else {
        Err(StoreError::Schema {
            found,
            known: SCHEMA_VERSION,
        })
    }
}

fn migrator(steps: &[(&'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        steps
            .iter()
            .enumerate()
            .map(|(i, (what, sql))| {
                Migration::new(
                    i as i64 + 1,
                    Cow::Borrowed(*what),
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
