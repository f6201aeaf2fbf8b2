//! The wall clock: due timers fire (also those that fell due while the daemon was down, once),
//! the local midnight of the pipeline's zone runs the alert check once a day, and the daily
//! digest of open tasks goes out at its hour (see [`super::digest`]).
//!
//! Timers are claimed before they fire (a lease and an attempt number), so several daemons on
//! one PostgreSQL split them; the firing itself checks, under the deal's lock, that the timer is
//! still there and still this claim's, so each fires exactly once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveTime, Utc};
use tokio::sync::watch;

use super::batch::Op;
use super::core::Core;
use super::metrics::Metrics;
use super::writer::{WriteError, Writer};
use crate::store::{Claimed, Forgotten, Line, StoreError, Turn};

/// Timers claimed at a time.
const CLAIM: i64 = 200;
/// The longest nap between looks at the clock.
const NAP: Duration = Duration::from_secs(1);

/// Runs until `stop` turns true.
pub(crate) async fn run(
    core: Arc<Core>,
    writer: Writer,
    metrics: Arc<Metrics>,
    owner: String,
    lease: Duration,
    digest: Option<(NaiveTime, bool)>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            break;
        }
        let now = Utc::now();
        let mut busy = false;
        match tick(&core, &writer, &metrics, &owner, now, lease).await {
            Ok(n) => busy = n as i64 == CLAIM,
            Err(e) => tracing::warn!(error = %e, "scheduler"),
        }
        if let Err(e) = midnight(&core, &writer, now).await {
            tracing::warn!(error = %e, "midnight check");
        }
        if let Some((at, daily)) = digest
            && let Err(e) = super::digest::digest(&core, at, daily, now).await
        {
            tracing::warn!(error = %e, "daily digest; it is tried again");
        }
        if busy {
            continue;
        }
        let nap = match next_wake(&core).await {
            Some(t) => (t - Utc::now()).to_std().unwrap_or(Duration::ZERO).min(NAP),
            None => NAP,
        };
        tokio::select! {
            _ = tokio::time::sleep(nap) => {}
            _ = stop.changed() => {}
        }
    }
}

async fn next_wake(core: &Core) -> Option<DateTime<Utc>> {
    let mut tx = core.store().read().await.ok()?;
    tx.next_timer().await.ok().flatten()
}

/// Claims and fires what is due now; how many were claimed.
pub(crate) async fn tick(
    core: &Core,
    writer: &Writer,
    metrics: &Metrics,
    owner: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<usize, StoreError> {
    let lease = now + chrono::Duration::from_std(lease).unwrap_or_default();
    let due = {
        let mut tx = core.store().begin().await?;
        let due = tx.claim_timers(owner, now, lease, CLAIM).await?;
        tx.commit().await?;
        due
    };
    let n = due.len();
    // All of them at once: the writer puts them in as few transactions as it can.
    let mut set = tokio::task::JoinSet::new();
    for d in due {
        let w = writer.clone();
        set.spawn(async move { w.run(Op::Fire(d)).await });
    }
    while let Some(a) = set.join_next().await {
        match a {
            Ok(Ok(a)) if a.status == 200 => metrics.timer_fired(),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "a timer could not fire; it will be tried again")
            }
            Err(e) => tracing::error!(error = %e, "a timer task broke"),
        }
    }
    Ok(n)
}

/// The local midnight check: the first look after a local midnight (or at start, when the last
/// one checked is older than the latest midnight) runs it, once across daemons.
pub(crate) async fn midnight(
    core: &Core,
    writer: &Writer,
    now: DateTime<Utc>,
) -> Result<(), WriteError> {
    let rules = core.rules();
    if !rules.ready.plan.reads_clock() {
        return Ok(());
    }
    let today = now
        .with_timezone(&rules.ready.plan.tz)
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    {
        let mut tx = core.store().read().await?;
        if tx.last_midnight().await?.as_deref() >= Some(today.as_str()) {
            return Ok(());
        }
    }
    let claimed = {
        let mut tx = core.store().begin().await?;
        let c = tx.claim_midnight(&today).await?;
        tx.commit().await?;
        c
    };
    if !claimed {
        return Ok(());
    }
    tracing::info!(day = %today, "local midnight: checking alerts of live deals");
    writer.each_live_page(core, Op::Midnight).await
}

/// How long what is forgotten is kept, and how long a dashboard session may stay unused.
pub(crate) struct Keep {
    /// Refused inputs.
    pub refusals: Duration,
    /// Messages that went out and webhooks delivered.
    pub sent: Duration,
    /// A session unused this long has ended.
    pub idle: Duration,
}

/// What went out forgotten in one turn of the writer, at most.
const FORGET: i64 = 500;

/// Once an hour: refused inputs older than their keep are forgotten, and the dashboard
/// sessions that have ended (expired, or unused for `idle`); the messages and webhook
/// deliveries that went out before theirs are forgotten a few hundred at a time, each such
/// turn beside the requests in the writer's transaction.
pub(crate) async fn prune(
    core: Arc<Core>,
    writer: Writer,
    keep: Keep,
    mut stop: watch::Receiver<bool>,
) {
    const EVERY: Duration = Duration::from_secs(3600);
    let ago = |d: Duration| Utc::now() - chrono::Duration::from_std(d).unwrap_or_default();
    loop {
        let now = Utc::now();
        let (before, idle_since) = (ago(keep.refusals), ago(keep.idle));
        let pruned = async {
            let mut tx = core.store().begin().await?;
            let n = tx.prune_refusals(before).await?;
            let sessions = tx.prune_sessions(now, idle_since).await?;
            tx.commit().await?;
            Ok::<(u64, u64), StoreError>((n, sessions))
        }
        .await;
        match pruned {
            Ok((0, 0)) => {}
            Ok((n, sessions)) => tracing::info!(
                refusals = n,
                sessions,
                "old refusals and ended sessions forgotten"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "old refusals and ended sessions could not be forgotten")
            }
        }
        match forget_sent(&writer, ago(keep.sent), &mut stop).await {
            Ok(f) if f == Forgotten::default() => {}
            Ok(f) => tracing::info!(
                messages = f.messages,
                deliveries = f.deliveries,
                "messages and webhook deliveries that went out long ago forgotten"
            ),
            Err(e) => tracing::warn!(error = %e, "what went out long ago could not be forgotten"),
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Forgets what went out before `before`, [`FORGET`] rows a turn until none is left (or the
/// daemon stops); how many in all.
async fn forget_sent(
    writer: &Writer,
    before: DateTime<Utc>,
    stop: &mut watch::Receiver<bool>,
) -> Result<Forgotten, WriteError> {
    let mut all = Forgotten::default();
    loop {
        let taken = writer
            .turn(Turn {
                line: Line::WentOut(before),
                sent: Vec::new(),
                failed: Vec::new(),
                claim: FORGET,
                lease: chrono::Duration::zero(),
            })
            .await?;
        if let Claimed::Forgotten(f) = taken.claimed {
            all.messages += f.messages;
            all.deliveries += f.deliveries;
        }
        if !taken.more || *stop.borrow() {
            return Ok(all);
        }
        // The requests' batches come first: one turn of forgetting among them at a time.
        tokio::task::yield_now().await;
    }
}
