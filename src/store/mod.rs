//! Where the daemon keeps deals: an SQLite file (the embedded default) or PostgreSQL (several
//! daemons). The same statements run on both; the schema is embedded and applied at start.
//!
//! The steps of a batch are written whole in one transaction ([`Tx::write_batch`]): the deals'
//! new states, their history, timers, tasks and time entries, the team's load and the messages
//! they queued. Either all of it is there after a commit or none of it.
//!
//! A file per table family: `pool` opens the database and begins transactions (`checkpoint`
//! keeps SQLite's log short), `deals`, `team`, `rules`, `timers`, `outbox`, `history` and
//! `requests` read and write their tables, `write` writes a whole batch in a few generated
//! `statements`, `integrity` checks that the parts agree, `codec` is a deal's stored document.

pub mod codec;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Sqlite};

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
    /// A database opened read-only is at another step of the schema than this dealflow's
    /// (a read-only open cannot upgrade it).
    #[error("{}", schema_message(*found, *known))]
    Schema {
        /// The database's schema step (0: not a dealflow database).
        found: i64,
        /// This dealflow's.
        known: i64,
    },
    /// A stored row does not read back (written by a newer dealflow, or edited by hand).
    #[error("stored data of `{0}` does not read: {1}")]
    Corrupt(String, String),
}

/// The kinds of store error `/metrics` counts apart, in the order [`StoreError::kind`] numbers
/// them.
pub const ERROR_KINDS: [&str; 6] = [
    "full",
    "io",
    "connection",
    "conflict",
    "constraint",
    "other",
];

impl StoreError {
    /// What kind of failure it is, as a place in [`ERROR_KINDS`]: the disk is full, an I/O
    /// error, the connection is lost or cannot be had, a conflict with another transaction
    /// (a deadlock, a serialization failure), a constraint, anything else.
    pub fn kind(&self) -> usize {
        let StoreError::Db(e) = self else {
            return match self {
                StoreError::Io(..) => 1,
                _ => 5,
            };
        };
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_) => 2,
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.to_string()).unwrap_or_default();
                // SQLite's primary result code is the low byte of its extended one.
                let sqlite = code.parse::<i32>().ok().map(|c| c & 0xff);
                match (sqlite, code.as_str()) {
                    (Some(13), _) | (_, "53100") => 0,
                    (Some(10), _) | (_, "58030") => 1,
                    (_, c) if c.starts_with("08") || c.starts_with("57P") => 2,
                    (Some(5 | 6), _) | (_, "40001" | "40P01") => 3,
                    (Some(19), _) => 4,
                    (_, c) if c.starts_with("23") => 4,
                    _ => 5,
                }
            }
            _ => 5,
        }
    }
}

fn schema_message(found: i64, known: i64) -> String {
    if found == 0 {
        "this is not a dealflow database (it has no schema)".to_string()
    } else if found > known {
        format!(
            "the database was upgraded by a newer dealflow (schema step {found}; this one knows up to {known}); use that version"
        )
    } else {
        format!(
            "the database is at schema step {found}, older than this dealflow's {known}; start the daemon on it once to upgrade it, then read it"
        )
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

mod analytics;
mod checkpoint;
mod checks;
mod dashboard;
mod deals;
mod digest;
mod export;
mod facts;
mod forget;
mod history;
mod integrity;
mod messages;
mod meta;
mod outbox;
mod parts;
mod pool;
mod privacy;
mod refusals;
mod requests;
mod rules;
mod sessions;
mod statements;
mod summaries;
mod team;
mod timers;
mod turns;
mod webhooks;
mod write;

pub use checks::{CheckRef, ContactCheck, OpenCheck};
pub use dashboard::{Card, OverdueTask};
pub use deals::{DealFilter, DealRow, ReadDeal};
pub use digest::{OpenTask, StaffMessage};
pub use export::{After, Export, ExportRow};
pub use facts::{Invoice, Mapping};
pub use forget::{Forgotten, SENT_CAUSE, SENT_KIND};
pub use history::{EventEntry, HistoryEntry};
pub use integrity::Table;
pub use outbox::Queued;
pub use pool::{SCHEMA_VERSION, Store, WriteTurn, schema_digest};
pub use privacy::{Erased, Erasure, STORE_KINDS};
pub use refusals::{Refusal, Settled};
pub use requests::Answer;
pub use rules::{RulesVersion, digest};
pub use sessions::Session;
pub use statements::Arg;
pub use summaries::{MARK as SUMMARIES_MARK, Rebuilt, Sums};
pub use team::RunningTimer;
pub use timers::DueTimer;
pub use turns::{Claimed, Failure, Line, Taken, Turn};
pub use webhooks::{Delivery, Subscription};
pub use write::{AppliedEvent, BatchWrite, DealWrite};

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
    /// SQLite: do not wait for the disk at each commit (a throwaway database, the demo's
    /// seeding: a crash may lose the last commits).
    pub unsynced: bool,
}

pub(super) fn read_stamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

pub(super) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(super) fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
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
}
