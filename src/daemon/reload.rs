//! Hot reload: a new version of the rule file is checked first, and applied only when it is
//! valid and every live deal still fits it (its stages are still there). Otherwise the old rules
//! keep running and the refusal is reported (log, `/api/v1/rules`, metrics).
//!
//! A reload is bounded: the files it reads have a size cap, reading and checking them a time
//! cap, and a stopping daemon does not wait for it. One runs at a time; asked for while one
//! runs, a reload answers at once, and the running one reads the file again when it ends (a
//! save made meanwhile is not lost).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use super::core::Core;
use super::metrics::Metrics;
use super::rules::Rules;
use super::switching::Switching;
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
    /// The live deals' pass to the rules last applied.
    pub switching: Switching,
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
            switching: Switching::new(stop.clone()),
            stop,
        }
    }

    /// Reads the rule file again and applies it if it may be. When a reload is already
    /// running, answers at once (`queued`): the running one reads the file again after.
    pub(crate) async fn reload(
        &self,
        core: &Arc<Core>,
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
        let mut before = core.rules().version;
        loop {
            let report = self.attempt(core, writer).await;
            if report.applied {
                tracing::info!(version = report.version, "{}", report.message);
            } else {
                tracing::warn!(version = report.version, misfits = ?report.misfits, "{}", report.message);
            }
            // A reload counts as applied only when the rules changed.
            let changed = report.applied && report.version != before;
            metrics.reload(report.applied, changed);
            metrics
                .rules_version
                .store(report.version, std::sync::atomic::Ordering::Relaxed);
            before = report.version;
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

    /// What a reload of the rule file on disk would do, applying nothing: the plan as JSON
    /// (`applicable` false with the reasons when the file cannot be read or has errors).
    pub(crate) async fn dry_run(&self, core: &Core) -> Result<serde_json::Value, StoreError> {
        let current = core.rules();
        let tz = current.ready.plan.tz;
        let ready = match self.read_new(&current).await {
            Ok(r) => r,
            Err(message) => {
                let mut p = crate::preview::preview_json(&crate::preview::Preview::default(), tz);
                p["applicable"] = false.into();
                p["reasons"] = serde_json::json!([message]);
                return Ok(p);
            }
        };
        let p = crate::preview::preview(
            core.store(),
            &ready,
            Some(&current.ready),
            chrono::Utc::now(),
        )
        .await?;
        Ok(crate::preview::preview_json(&p, ready.plan.tz))
    }

    /// The rule file read again, checked and compiled within the limits; or why not.
    async fn read_new(&self, current: &Rules) -> Result<crate::load::Ready, String> {
        let mut stop = self.stop.clone();
        let read = tokio::time::timeout(
            self.limits.timeout,
            Rules::read(&current.file, self.limits.max_size),
        );
        tokio::select! {
            read = read => match read {
                Ok(Ok(r)) => Ok(r),
                Ok(Err(e)) => Err(format!(
                    "the new rules have errors; the old rules keep running:\n{}",
                    e.errors_in_full()
                )),
                Err(_) => Err(format!(
                    "reading and checking the new rules took longer than {} s (`[rules] reload_timeout_s`); the old rules keep running",
                    self.limits.timeout.as_secs()
                )),
            },
            _ = stop.wait_for(|s| *s) => {
                Err("the daemon is stopping; the old rules keep running".into())
            }
        }
    }

    async fn attempt(&self, core: &Arc<Core>, writer: &Writer) -> ReloadReport {
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
        let ready = match self.read_new(&current).await {
            Ok(r) => r,
            Err(message) => return refuse(message, Vec::new()),
        };
        // What the new rules would do to the live deals: the same preview `dealflow plan`
        // prints; the reload goes ahead only when it says they would be applied.
        let preview = tokio::select! {
            p = crate::preview::preview(core.store(), &ready, Some(&current.ready), chrono::Utc::now()) => p,
            _ = stop.wait_for(|s| *s) => {
                return refuse("the daemon is stopping; the old rules keep running".into(), Vec::new());
            }
        };
        let preview = match preview {
            Ok(p) => p,
            Err(e) => return refuse(format!("the deals could not be checked: {e}"), Vec::new()),
        };
        if !preview.applicable() {
            let misfits: Vec<String> = preview
                .stranded
                .iter()
                .flat_map(|s| s.first.iter().cloned())
                .take(NAMED)
                .collect();
            return refuse(
                format!(
                    "the old rules keep running: {}",
                    preview.reasons().join("; ")
                ),
                misfits,
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
        // Renames (or a mapped field changed) make the dashboard's summaries again.
        if let Err(e) = core.keep_summaries_current().await {
            tracing::warn!(error = %e, "the dashboard's summaries could not be made again; `dealflow summaries rebuild` makes them");
        }
        // Every live deal passes to the rules now running, in the background.
        if !unchanged {
            self.switching.start(core.clone(), writer.clone(), false);
        }
        ReloadReport {
            at: crate::json::stamp(chrono::Utc::now()),
            applied: true,
            queued: false,
            version,
            message: if unchanged {
                format!("the rules did not change (version {version})")
            } else {
                format!(
                    "rules version {version} runs from the next step on; live deals pass to it in the background"
                )
            },
            misfits: Vec::new(),
        }
    }
}
