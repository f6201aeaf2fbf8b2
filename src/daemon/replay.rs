//! A scenario played against the store on a virtual clock: every input, timer and local
//! midnight a step of its own, committed as the daemon commits them. Seeds a demo database and
//! shows that the daemon's path (state stored and read back at every step) ends where the
//! simulator ends.

use chrono::{DateTime, Utc};

use super::batch::{CoreError, Op, Step};
use super::core::Core;
use crate::calendar::{MomentError, moment, next_midnight};
use crate::engine::{Creation, Input};
use crate::sim::scenario::{Scenario, What};
use crate::store::StoreError;

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Played {
    /// Steps applied (inputs and timers).
    pub applied: u64,
    /// Inputs refused (or steps that failed).
    pub refused: u64,
    /// Timers fired.
    pub timers: u64,
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A moment of the scenario cannot be read.
    #[error(transparent)]
    Moment(#[from] MomentError),
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A step could not run at all (not a refusal: those are counted).
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// Plays `sc` against `core`'s store. The team of the scenario becomes the stored team.
pub async fn replay(core: &Core, sc: Scenario) -> Result<Played, ReplayError> {
    let rules = core.rules();
    let plan = &rules.ready.plan;
    let tz = plan.tz;
    let start = moment(tz, &sc.start)?;
    let until = moment(tz, &sc.until)?;
    let store = core.store();
    // The scenario's cap on a timer's entry, as the simulator takes it.
    if let Some(cap) = sc.timer_cap {
        core.set_timer_cap(cap);
    }
    let mut tx = store.begin().await?;
    tx.put_team(&sc.team).await?;
    tx.commit().await?;
    let mut inputs = Vec::with_capacity(sc.inputs.len());
    for e in sc.inputs {
        inputs.push((moment(tz, &e.at)?.max(start), e.offset, e.what));
    }
    inputs.sort_by_key(|(at, offset, _)| (*at, *offset));
    let clock_alerts = plan.reads_clock();
    let mut midnight = next_midnight(tz, start);
    let mut inputs = inputs.into_iter().peekable();
    let mut played = Played::default();
    loop {
        let t_timer = store.read().await?.next_timer().await?;
        let t_input = inputs.peek().map(|(t, ..)| *t);
        let t_mid = midnight.filter(|_| clock_alerts);
        let Some(now) = [t_timer, t_mid, t_input].into_iter().flatten().min() else {
            break;
        };
        if now >= until {
            break;
        }
        if t_timer == Some(now) {
            let mut tx = store.begin().await?;
            let due = tx.due_timers(now, 1).await?;
            for d in &due {
                match core.fire(&mut tx, d, now).await? {
                    Some(Step::Applied { .. }) => played.timers += 1,
                    Some(_) => played.refused += 1,
                    None => {}
                }
            }
            tx.commit().await?;
        } else if t_mid == Some(now) {
            midnight_pass(core, now).await?;
            midnight = next_midnight(tz, now + chrono::Duration::minutes(1));
        } else if let Some((_, _, what)) = inputs.next() {
            let mut tx = store.begin().await?;
            let step = core.one(&mut tx, &op(what), now).await;
            match step {
                Ok(Step::Applied { .. }) => {
                    tx.commit().await?;
                    played.applied += 1;
                }
                // A refusal is kept, as the daemon keeps it.
                Ok(_) | Err(CoreError::NoDeal(_) | CoreError::Exists(_)) => {
                    tx.commit().await?;
                    played.refused += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(played)
}

/// A scenario's input as the daemon's operation.
fn op(what: What) -> Op {
    match what {
        What::Deal {
            id,
            title,
            stages,
            fields,
        } => Op::Create(Creation {
            id,
            title,
            stages,
            fields,
            quiet: false,
            done: Vec::new(),
        }),
        What::Event {
            deal,
            name,
            payload,
            by,
        } => Op::Apply {
            deal,
            input: Input::Event { name, payload, by },
        },
        What::Task {
            deal,
            task,
            action,
            by,
        } => Op::Apply {
            deal,
            input: Input::Task { task, action, by },
        },
        What::Edit {
            deal,
            fields,
            clear,
            by,
        } => Op::Apply {
            deal,
            input: Input::Edit { fields, clear, by },
        },
    }
}

/// Every live deal's alerts checked at a local midnight, a page of deals per transaction.
async fn midnight_pass(core: &Core, now: DateTime<Utc>) -> Result<(), ReplayError> {
    let mut after = String::new();
    loop {
        let mut tx = core.store().begin().await?;
        let page = tx.live_deals(&after, 500).await?;
        let Some(last) = page.last().cloned() else {
            // Ended, not dropped: a write transaction dropped leaves its connection closed.
            tx.rollback().await?;
            break;
        };
        core.one(&mut tx, &Op::Midnight(page), now).await?;
        tx.commit().await?;
        after = last;
    }
    Ok(())
}
