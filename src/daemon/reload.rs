//! Hot reload: a new version of the rule file is checked first, and applied only when it is
//! valid and every live deal still fits it (its stages are still there). Otherwise the old rules
//! keep running and the refusal is reported (log, `/api/v1/rules`, metrics).

use serde::Serialize;

use std::sync::Mutex;

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
    /// The rules version running after it.
    pub version: i64,
    /// In plain words.
    pub message: String,
    /// Live deals that sit in stages the new file no longer has (ids; the first 50).
    pub misfits: Vec<String>,
}

/// Reloads, one at a time, and the last one's report.
#[derive(Default)]
pub(crate) struct Reloads {
    last: Mutex<Option<ReloadReport>>,
    one_at_a_time: tokio::sync::Mutex<()>,
}

impl Reloads {
    /// Reads the rule file again and applies it if it may be.
    pub(crate) async fn reload(
        &self,
        core: &Core,
        writer: &Writer,
        metrics: &Metrics,
    ) -> ReloadReport {
        let _one = self.one_at_a_time.lock().await;
        let report = attempt(core, writer).await;
        if report.applied {
            tracing::info!(version = report.version, "{}", report.message);
        } else {
            tracing::warn!(version = report.version, misfits = ?report.misfits, "{}", report.message);
        }
        metrics.reload(report.applied);
        metrics
            .rules_version
            .store(report.version, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut last) = self.last.lock() {
            *last = Some(report.clone());
        }
        report
    }

    /// The last reload, if there was one.
    pub(crate) fn last(&self) -> Option<ReloadReport> {
        self.last
            .lock()
            .map(|g| g.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }
}

async fn attempt(core: &Core, writer: &Writer) -> ReloadReport {
    let current = core.rules();
    let refuse = |message: String, misfits: Vec<String>| ReloadReport {
        at: crate::json::stamp(chrono::Utc::now()),
        applied: false,
        version: current.version,
        message,
        misfits,
    };
    let ready = match Rules::read(&current.file).await {
        Ok(r) => r,
        Err(e) => {
            return refuse(
                format!(
                    "the new rules have errors; the old rules keep running:\n{}",
                    e.errors_in_full()
                ),
                Vec::new(),
            );
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
        version,
        message: if unchanged {
            format!("the rules did not change (version {version})")
        } else {
            format!("rules version {version} runs from the next step on")
        },
        misfits: Vec::new(),
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
