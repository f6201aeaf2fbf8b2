//! Live deals passing to new rules, in the background: after a reload (and at start, when the
//! last pass did not finish), every live deal is read a page at a time through the writer and
//! passed to the rules running now (see [`crate::engine::switch`]). Each page is one operation
//! among the requests, so a request waits at most one page. A deal touched by a request before
//! the pass reaches it passes to the new rules right then; the pass only makes sure every deal
//! does, so that the timers table holds no timer the rules no longer have.
//!
//! A mark in the store says which version the last complete pass was for; a pass cut short (a
//! stop, a crash) is run again at the next start.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::batch::Op;
use super::core::Core;
use super::writer::{WriteError, Writer};
use crate::store::Answer;

/// The store's mark: the rules version every live deal passed to.
const MARK: &str = "rules_switched";
/// Deals per page.
const PAGE: i64 = 50;

/// Where the pass stands, as `GET /api/v1/rules` shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SwitchStatus {
    /// The rules version the deals pass to.
    pub version: i64,
    /// Live deals passed so far.
    pub deals_done: u64,
    /// Still running.
    pub running: bool,
}

#[derive(Default)]
struct Progress {
    version: AtomicI64,
    done: AtomicU64,
    running: AtomicBool,
}

/// The pass, one at a time: a new one replaces one still running.
pub(crate) struct Switching {
    task: Mutex<Option<JoinHandle<()>>>,
    progress: Arc<Progress>,
    stop: watch::Receiver<bool>,
}

impl Switching {
    /// No pass yet; a pass gives up when `stop` turns true.
    pub(crate) fn new(stop: watch::Receiver<bool>) -> Self {
        Switching {
            task: Mutex::new(None),
            progress: Arc::default(),
            stop,
        }
    }

    /// Starts a pass of every live deal to the rules running now (ending one still running).
    /// With `only_if_unfinished`, only when the store's mark says the last pass did not reach
    /// this version.
    pub(crate) fn start(&self, core: Arc<Core>, writer: Writer, only_if_unfinished: bool) {
        let progress = self.progress.clone();
        let stop = self.stop.clone();
        let task = tokio::spawn(async move {
            let version = core.rules().version;
            if only_if_unfinished {
                match finished(&core).await {
                    Ok(Some(v)) if v == version => return,
                    // A store that never had a pass (a new one) has every deal under these rules.
                    Ok(None) if never_run(&core).await => {
                        let _ = set_mark(&core, version).await;
                        return;
                    }
                    _ => {}
                }
            }
            progress.version.store(version, Ordering::Relaxed);
            progress.done.store(0, Ordering::Relaxed);
            progress.running.store(true, Ordering::Relaxed);
            match pass(&core, &writer, &progress, stop).await {
                Ok(true) if core.rules().version == version => {
                    if let Err(e) = set_mark(&core, version).await {
                        tracing::warn!(error = %e, "the end of the pass to the new rules could not be marked");
                    }
                    tracing::info!(
                        version,
                        deals = progress.done.load(Ordering::Relaxed),
                        "every live deal runs under the new rules"
                    );
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "live deals could not all pass to the new rules; the next start tries again")
                }
            }
            progress.running.store(false, Ordering::Relaxed);
        });
        let mut slot = self.task.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = slot.replace(task) {
            old.abort();
        }
    }

    /// Where the last pass stands, if one ran since the daemon started.
    pub(crate) fn status(&self) -> Option<SwitchStatus> {
        let version = self.progress.version.load(Ordering::Relaxed);
        (version > 0).then(|| SwitchStatus {
            version,
            deals_done: self.progress.done.load(Ordering::Relaxed),
            running: self.progress.running.load(Ordering::Relaxed),
        })
    }
}

/// Every live deal, a page at a time; false when it stopped before the end. The next page is
/// read and handed to the writer while the one before is written: the writer takes a page in
/// each of its transactions, never waiting for the pass between two.
async fn pass(
    core: &Core,
    writer: &Writer,
    progress: &Progress,
    stop: watch::Receiver<bool>,
) -> Result<bool, WriteError> {
    let mut after = String::new();
    let mut writing: Option<(u64, JoinHandle<Result<Answer, WriteError>>)> = None;
    let done = |n: u64| {
        progress.done.fetch_add(n, Ordering::Relaxed);
    };
    loop {
        if *stop.borrow() {
            return Ok(false);
        }
        let page = {
            let mut tx = core.store().read().await?;
            tx.live_deals(&after, PAGE).await?
        };
        let Some(last) = page.last().cloned() else {
            if let Some((n, page)) = writing.take() {
                written(page).await?;
                done(n);
            }
            return Ok(true);
        };
        let n = page.len() as u64;
        let w = writer.clone();
        let next = tokio::spawn(async move { w.run(Op::Switch(page)).await });
        if let Some((n, page)) = writing.replace((n, next)) {
            written(page).await?;
            done(n);
        }
        after = last;
    }
}

/// A page's write, finished.
async fn written(page: JoinHandle<Result<Answer, WriteError>>) -> Result<(), WriteError> {
    page.await
        .map_err(|_| WriteError::ShuttingDown)?
        .map(|_| ())
}

async fn finished(core: &Core) -> Result<Option<i64>, crate::store::StoreError> {
    let mut tx = core.store().read().await?;
    Ok(tx.mark(MARK).await?.and_then(|v| v.parse().ok()))
}

/// Whether the store has only ever had one version of the rules (nothing to pass between).
async fn never_run(core: &Core) -> bool {
    match core.store().read().await {
        Ok(mut tx) => tx
            .rules_versions()
            .await
            .map(|v| v.len() <= 1)
            .unwrap_or(false),
        Err(_) => false,
    }
}

async fn set_mark(core: &Core, version: i64) -> Result<(), crate::store::StoreError> {
    let mut tx = core.store().begin().await?;
    tx.set_mark(MARK, &version.to_string()).await?;
    tx.commit().await
}
