//! Hot reload: a new version of the rule file is checked first, and applied only when it is
//! valid and every live deal still fits it (its stages are still there). Otherwise the old rules
//! keep running and the refusal is reported (log, `/api/v1/rules`, metrics).
//!
//! A reload is bounded: the files it reads have a size cap, reading and checking them a time
//! cap, and a stopping daemon does not wait for it. One runs at a time; asked for while one
//! runs, a reload answers at once, and the running one reads the file again when it ends (a
//! save made meanwhile is not lost).

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use super::batch::Op;
use super::core::Core;
use super::metrics::Metrics;
use super::rules::Rules;
use super::writer::Writer;
use crate::store::StoreError;

/// Deals named in a refusal, at most.
const NAMED: usize = 50;

/// What a reload did.
#[derive(Debug, Clone, Serialize)]
pub(super) struct ReloadReport {
    /// When.
    pub at: String,
    /// Whether the new rules run now.
    pub applied: bool,
    /// A reload was already running: this one is done by it, reading the file again when it
    /// ends.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub queued: bool,
    /// The rules version running after it.
    pub version: i64,
    /// In plain words.
    pub message: String,
    /// Live deals that sit in stages the new file no longer has (ids; the first 50).
    pub misfits: Vec<String>,
}

/// How far a reload may go reading the new rules.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReloadLimits {
    /// The largest rule or script file, in bytes.
    pub max_size: Option<u64>,
    /// The longest reading, checking and compiling may take.
    pub timeout: Duration,
}

/// Whether a reload runs, and whether another was asked for meanwhile.
#[derive(Default)]
struct Runs {
    running: bool,
    again: bool,
}

/// Reloads, one at a time, and the last one's report.
pub(crate) struct Reloads {
    last: Mutex<Option<ReloadReport>>,
    runs: Mutex<Runs>,
    limits: ReloadLimits,
    /// Turns true when the daemon stops: a reload gives up at once.
    stop: watch::Receiver<bool>,
}

/// Marks the run over when it ends, however it ends (its caller may be gone).
struct RunOver<'a>(&'a Mutex<Runs>);

impl Drop for RunOver<'_> {
    fn drop(&mut self) {
        lock(self.0).running = false;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The state is whole after any panic (each change is one assignment).
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Reloads {
    /// Reloads within these limits, giving up when `stop` turns true.
    pub(crate) fn new(limits: ReloadLimits, stop: watch::Receiver<bool>) -> Self {
        Reloads {
            last: Mutex::new(None),
            runs: Mutex::new(Runs::default()),
            limits,
            stop,
        }
    }

    /// Reads the rule file again and applies it if it may be. When a reload is already
    /// running, answers at once (`queued`): the running one reads the file again after.
    pub(crate) async fn reload(
        &self,
        core: &Core,
        writer: &Writer,
        metrics: &Metrics,
    ) -> ReloadReport {
        {
            let mut runs = lock(&self.runs);
            if runs.running {
                runs.again = true;
                return ReloadReport {
                    at: crate::json::stamp(chrono::Utc::now()),
                    applied: false,
                    queued: true,
                    version: core.rules().version,
                    message: "a reload is running; the rule file is read again when it ends".into(),
                    misfits: Vec::new(),
                };
            }
            runs.running = true;
        }
        let _over = RunOver(&self.runs);
        loop {
            let report = self.attempt(core, writer).await;
            if report.applied {
                tracing::info!(version = report.version, "{}", report.message);
            } else {
                tracing::warn!(version = report.version, misfits = ?report.misfits, "{}", report.message);
            }
            metrics.reload(report.applied);
            metrics
                .rules_version
                .store(report.version, std::sync::atomic::Ordering::Relaxed);
            *lock(&self.last) = Some(report.clone());
            let mut runs = lock(&self.runs);
            if runs.again && !*self.stop.borrow() {
                runs.again = false;
                continue;
            }
            runs.again = false;
            return report;
        }
    }

    /// The last reload, if there was one.
    pub(crate) fn last(&self) -> Option<ReloadReport> {
        lock(&self.last).clone()
    }

    async fn attempt(&self, core: &Core, writer: &Writer) -> ReloadReport {
        let current = core.rules();
        let refuse = |message: String, misfits: Vec<String>| ReloadReport {
            at: crate::json::stamp(chrono::Utc::now()),
            applied: false,
            queued: false,
            version: current.version,
            message,
            misfits,
        };
        let mut stop = self.stop.clone();
        let read = tokio::time::timeout(
            self.limits.timeout,
            Rules::read(&current.file, self.limits.max_size),
        );
        let ready = tokio::select! {
            read = read => match read {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => {
                    return refuse(
                        format!(
                            "the new rules have errors; the old rules keep running:\n{}",
                            e.errors_in_full()
                        ),
                        Vec::new(),
                    );
                }
                Err(_) => {
                    return refuse(
                        format!(
                            "reading and checking the new rules took longer than {} s (`[rules] reload_timeout_s`); the old rules keep running",
                            self.limits.timeout.as_secs()
                        ),
                        Vec::new(),
                    );
                }
            },
            _ = stop.wait_for(|s| *s) => {
                return refuse("the daemon is stopping; the old rules keep running".into(), Vec::new());
            }
        };
        let misfits = match misfits(core, &ready.plan).await {
            Ok(m) => m,
            Err(e) => return refuse(format!("the deals could not be checked: {e}"), Vec::new()),
        };
        if !misfits.0.is_empty() {
            let more = misfits.1.saturating_sub(misfits.0.len());
            return refuse(
                format!(
                    "{} live deal(s) sit in stages the new rules no longer have: {}{}; the old rules keep running",
                    misfits.1,
                    misfits.0.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                ),
                misfits.0,
            );
        }
        let recorded = async {
            let mut tx = core.store().begin().await?;
            let rules = Rules::record(ready, &current.file, &mut tx).await?;
            tx.commit().await?;
            Ok::<Rules, StoreError>(rules)
        }
        .await;
        let rules = match recorded {
            Ok(r) => r,
            Err(e) => {
                return refuse(
                    format!("the new version could not be recorded: {e}"),
                    Vec::new(),
                );
            }
        };
        let version = rules.version;
        let unchanged = version == current.version;
        core.set_rules(rules);
        // Every live deal's timers derived again under the rules now running.
        if !unchanged && let Err(e) = writer.each_live_page(core, Op::Rederive).await {
            tracing::warn!(error = %e, "timers of live deals could not all be derived again");
        }
        ReloadReport {
            at: crate::json::stamp(chrono::Utc::now()),
            applied: true,
            queued: false,
            version,
            message: if unchanged {
                format!("the rules did not change (version {version})")
            } else {
                format!("rules version {version} runs from the next step on")
            },
            misfits: Vec::new(),
        }
    }
}

/// Live deals the plan cannot run: (first ids, how many).
async fn misfits(
    core: &Core,
    plan: &crate::compile::Plan,
) -> Result<(Vec<String>, usize), StoreError> {
    let mut named = Vec::new();
    let mut count = 0;
    let mut after = String::new();
    loop {
        let mut tx = core.store().read().await?;
        let page = tx.live_deals(&after, 500).await?;
        let Some(last) = page.last().cloned() else {
            break;
        };
        for id in &page {
            if let Some(d) = tx.peek_deal(id).await?
                && d.stored.decode(plan).is_err()
            {
                count += 1;
                if named.len() < NAMED {
                    named.push(id.clone());
                }
            }
        }
        after = last;
    }
    Ok((named, count))
}
