//! Readiness: whether a write would succeed now. `GET /readyz` asks; the answer is a real
//! write (a mark in `meta`, committed), made at most once a second however often it is asked.
//! A deal's step writes far more than that mark: on a full disk the mark can still fit where a
//! failed transaction left the write-ahead log grown, while steps fail. So for half a minute
//! after the writer failed for want of space or by an I/O error (and did not write since), the
//! answer is no without a probe; then the probe decides again, and the next real write tells.

use std::time::{Duration, Instant};

use super::core::Core;
use super::metrics::Metrics;

/// How long an answer stands.
const FRESH: Duration = Duration::from_secs(1);
/// How long the writer's failure is believed over the probe.
const BELIEVED: Duration = Duration::from_secs(30);
/// How long a probe may take before it counts as a failure.
const PATIENCE: Duration = Duration::from_secs(2);

/// The last probe's answer and when it was made.
#[derive(Default)]
pub(crate) struct Readiness {
    last: tokio::sync::Mutex<Option<(Instant, bool)>>,
}

impl Readiness {
    /// Whether a write succeeds (answered from the last second's probe, if there was one).
    pub(crate) async fn check(&self, core: &Core, metrics: &Metrics) -> bool {
        if metrics
            .write_failed()
            .is_some_and(|at| at.elapsed() < BELIEVED)
        {
            return false;
        }
        let mut last = self.last.lock().await;
        if let Some((at, ok)) = *last
            && at.elapsed() < FRESH
        {
            return ok;
        }
        let ok = tokio::time::timeout(PATIENCE, probe(core))
            .await
            .unwrap_or(false);
        *last = Some((Instant::now(), ok));
        ok
    }
}

async fn probe(core: &Core) -> bool {
    let Ok(mut tx) = core.store().begin().await else {
        return false;
    };
    let now = crate::json::stamp(chrono::Utc::now());
    if tx.set_mark("ready_probe", &now).await.is_err() {
        return false;
    }
    tx.commit().await.is_ok()
}
