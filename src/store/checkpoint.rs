//! The SQLite checkpointer: the write-ahead log copied into the database file beside the write
//! path, so that no request waits behind a long copy, and the log kept short.

use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;
use sqlx::sqlite::SqlitePool;
use tokio::sync::Notify;

/// How many pages the write-ahead log may hold before the writer itself copies them into the
/// database. The checkpointer keeps the log far below that; this only bounds the file if the
/// checkpointer falls behind.
pub(super) const WAL_BACKSTOP_PAGES: &str = "40000";

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
pub(super) async fn checkpoints(
    read: SqlitePool,
    wrote: Arc<Notify>,
    writing: Arc<tokio::sync::Mutex<()>>,
) {
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
