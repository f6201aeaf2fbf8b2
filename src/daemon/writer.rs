//! The one path by which the daemon changes the database, with group commit: requests that
//! arrive while a transaction is being written wait, then go in together in the next one, and
//! each is answered only after the commit that holds it. One fsync serves many steps.
//!
//! A step that is refused writes nothing, so it can share a transaction with others. If the
//! database fails a batch (a deadlock between two daemons, a full disk), the batch is rolled
//! back and its requests are tried again one by one, so one bad request cannot sink the rest.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, SubsecRound, Utc};
use tokio::sync::{mpsc, oneshot, watch};

use super::batch::{Batch, CoreError, Op, Step};
use super::core::Core;
use super::metrics::{Metrics, Phase};
use super::rules::Rules;
use crate::store::{Answer, StoreError, Taken, Turn};

/// Most requests in one transaction.
const MAX_BATCH: usize = 256;

/// A request's idempotency key and what the request was.
#[derive(Debug, Clone)]
pub(crate) struct Idem {
    /// The `Idempotency-Key`.
    pub key: String,
    /// Method, path and a digest of the body: the same key for another request is refused.
    pub fingerprint: String,
}

/// Turns a step's outcome into the answer the client gets (and that a retry gets again).
pub(crate) type Render = fn(&Rules, &Result<Step, CoreError>) -> Answer;

/// The answer of work the daemon does by itself (timers, midnights, reloads): only its status,
/// 200 when the step was applied.
pub(crate) fn background(_: &Rules, r: &Result<Step, CoreError>) -> Answer {
    let status = match r {
        Ok(Step::Applied { .. }) => 200,
        Ok(Step::Failed(_)) => 500,
        Ok(_) => 409,
        Err(_) => 404,
    };
    Answer {
        fingerprint: String::new(),
        status,
        body: String::new(),
    }
}

/// Why the writer could not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The daemon stops and takes no more requests.
    #[error("the daemon is shutting down")]
    ShuttingDown,
    /// The database failed the request's transaction (tried on its own after its batch failed).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the writer is given to do.
enum Job {
    /// A step of the engine (a request, a timer, a reload's page).
    Step {
        op: Op,
        key: Option<Idem>,
        render: Render,
        reply: oneshot::Sender<Result<Reply, WriteError>>,
    },
    /// A queue's turn: what went out settled, more claimed (see [`Turn`]).
    Turn {
        turn: Turn,
        reply: oneshot::Sender<Result<Taken, WriteError>>,
    },
}

/// What came of a job, by its kind.
enum Done {
    Step(Reply),
    Turn(Taken),
}

impl Job {
    /// Gives the job's caller what came of it.
    fn answer(self, done: Result<Option<Done>, WriteError>) {
        match (self, done) {
            (Job::Step { reply, .. }, Ok(Some(Done::Step(r)))) => {
                let _ = reply.send(Ok(r));
            }
            (Job::Turn { reply, .. }, Ok(Some(Done::Turn(t)))) => {
                let _ = reply.send(Ok(t));
            }
            (Job::Step { reply, .. }, Err(e)) => {
                let _ = reply.send(Err(e));
            }
            (Job::Turn { reply, .. }, Err(e)) => {
                let _ = reply.send(Err(e));
            }
            // `write` answers each job in its own kind; were it not to, the reply is dropped
            // and the caller hears that the writer is gone.
            _ => {}
        }
    }

    fn is_step(&self) -> bool {
        matches!(self, Job::Step { .. })
    }
}

/// What the writer gives back: the answer itself when it had to keep it (an idempotency key),
/// else the step, for the caller to render in its own task (the writer's time is the
/// daemon's scarcest).
enum Reply {
    Answer(Answer),
    Step(Arc<Rules>, Result<Step, CoreError>),
}

/// A handle to the writer task.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

/// The status and body given when an idempotency key is reused for another request.
pub(crate) const KEY_REUSED: u16 = 409;

impl Writer {
    /// Starts the writer task over `core`. It stops when `stop` turns true (or every handle is
    /// dropped): it takes no more requests, and writes and answers those it has.
    pub fn start(
        core: Arc<Core>,
        metrics: Arc<Metrics>,
        stop: watch::Receiver<bool>,
    ) -> (Writer, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(4096);
        let task = tokio::spawn(run(core, metrics, rx, stop));
        (Writer { tx }, task)
    }

    /// Runs `op` in the next transaction and gives its status once it is committed (200 when
    /// it was applied).
    pub async fn run(&self, op: Op) -> Result<Answer, WriteError> {
        self.submit(op, None, background).await
    }

    /// Runs `op` in the next transaction and gives the answer once it is committed: the one
    /// kept for its idempotency key when the key was used before, else `render`'s.
    pub(crate) async fn submit(
        &self,
        op: Op,
        key: Option<Idem>,
        render: Render,
    ) -> Result<Answer, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job::Step {
                op,
                key,
                render,
                reply,
            })
            .await
            .map_err(|_| WriteError::ShuttingDown)?;
        match answer.await.map_err(|_| WriteError::ShuttingDown)?? {
            Reply::Answer(a) => Ok(a),
            Reply::Step(rules, step) => Ok(render(&rules, &step)),
        }
    }

    /// Requests and turns sent to the writer that it has not taken up yet: more than none
    /// means the door is busy (the queues then leave it the machine, see `outbox::run`).
    pub(crate) fn waiting(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Takes a queue's turn in the next transaction, beside the requests of its batch: what
    /// went out settled, more claimed; what was claimed once it is committed.
    pub(crate) async fn turn(&self, turn: Turn) -> Result<Taken, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job::Turn { turn, reply })
            .await
            .map_err(|_| WriteError::ShuttingDown)?;
        answer.await.map_err(|_| WriteError::ShuttingDown)?
    }
}

async fn run(
    core: Arc<Core>,
    metrics: Arc<Metrics>,
    mut rx: mpsc::Receiver<Job>,
    mut stop: watch::Receiver<bool>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let got = tokio::select! {
            n = rx.recv_many(&mut batch, MAX_BATCH) => n,
            () = stopping(&mut stop) => {
                // No new requests; those already sent are still taken below.
                rx.close();
                rx.recv_many(&mut batch, MAX_BATCH).await
            }
        };
        if got == 0 {
            break;
        }
        let jobs = std::mem::take(&mut batch);
        let started = Instant::now();
        // To the microsecond, as the database keeps moments: a deal kept warm is then exactly
        // the deal read back.
        let now = Utc::now().trunc_subsecs(6);
        let n = jobs.iter().filter(|j| j.is_step()).count();
        match write(&core, &metrics, &jobs, now).await {
            Ok(answers) => {
                metrics.batch(n, started.elapsed());
                for (job, a) in jobs.into_iter().zip(answers) {
                    job.answer(Ok(a));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, requests = n, "a batch failed; trying its requests one by one");
                for job in jobs {
                    let one = std::slice::from_ref(&job);
                    let r = write(&core, &metrics, one, now).await;
                    let r = match r {
                        Ok(mut a) => {
                            metrics.batch(usize::from(job.is_step()), started.elapsed());
                            Ok(a.pop().flatten())
                        }
                        Err(e) => {
                            metrics.store_error(&e);
                            tracing::error!(error = %e, "a request could not be written");
                            Err(WriteError::Store(e))
                        }
                    };
                    job.answer(r);
                }
            }
        }
    }
}

impl Writer {
    /// Runs `op` over every live deal, a small page at a time: each page is one operation
    /// among the requests, not a long stall for them.
    pub(crate) async fn each_live_page(
        &self,
        core: &Core,
        op: fn(Vec<String>) -> Op,
    ) -> Result<(), WriteError> {
        let mut after = String::new();
        loop {
            let page = {
                let mut tx = core.store().read().await?;
                tx.live_deals(&after, 50).await?
            };
            let Some(last) = page.last().cloned() else {
                return Ok(());
            };
            self.submit(op(page), None, background).await?;
            after = last;
        }
    }
}

/// Resolves when `stop` turns true (or its sender is gone).
async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Writes jobs in one transaction (one batch: their deals read together, the steps run in
/// memory, everything written together, then the queues' turns); what came of each, in order.
async fn write(
    core: &Core,
    metrics: &Metrics,
    jobs: &[Job],
    now: DateTime<Utc>,
) -> Result<Vec<Option<Done>>, StoreError> {
    let rules = core.rules();
    let mut clock = Instant::now();
    let mut lap = |phase: Phase| {
        let t = Instant::now();
        metrics.phase(phase, t - clock);
        clock = t;
    };
    let mut tx = core.store().begin().await?;
    lap(Phase::Begin);
    let keys: Vec<String> = jobs
        .iter()
        .filter_map(|j| match j {
            Job::Step { key: Some(k), .. } => Some(k.key.clone()),
            _ => None,
        })
        .collect();
    let kept = if keys.is_empty() {
        Default::default()
    } else {
        tx.answers(&keys).await?
    };
    let ops: Vec<&Op> = jobs
        .iter()
        .filter_map(|j| match j {
            Job::Step { op, .. } => Some(op),
            Job::Turn { .. } => None,
        })
        .collect();
    let mut batch = Batch::prepare(&rules, core, &mut tx, &ops).await?;
    lap(Phase::Read);
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        let Job::Step {
            op, key, render, ..
        } = job
        else {
            // Its turn comes after the steps' writes.
            out.push(None);
            continue;
        };
        let Some(k) = key else {
            let result = batch.run(op, now);
            metrics.step(&result);
            out.push(Some(Done::Step(Reply::Step(rules.clone(), result))));
            continue;
        };
        let earlier = kept.get(&k.key).or_else(|| batch.kept(&k.key)).cloned();
        if let Some(a) = earlier {
            out.push(Some(Done::Step(Reply::Answer(
                if a.fingerprint == k.fingerprint {
                    a
                } else {
                    reused(&k.key)
                },
            ))));
            continue;
        }
        let result = batch.run(op, now);
        metrics.step(&result);
        // Kept with the batch, so a retry gets these very bytes.
        let answer = render(&rules, &result);
        if (200..300).contains(&answer.status) {
            batch.keep_answer(
                k.key.clone(),
                Answer {
                    fingerprint: k.fingerprint.clone(),
                    ..answer.clone()
                },
            );
        }
        out.push(Some(Done::Step(Reply::Answer(answer))));
    }
    lap(Phase::Run);
    batch.write(&mut tx, now, core).await?;
    // The queues' turns last: a message the steps queued may be claimed at once.
    for (job, slot) in jobs.iter().zip(out.iter_mut()) {
        if let Job::Turn { turn, .. } = job {
            *slot = Some(Done::Turn(tx.take_turn(turn, now).await?));
        }
    }
    lap(Phase::Write);
    tx.commit().await?;
    lap(Phase::Commit);
    // Only now, committed, are these the deals the database holds.
    core.warm.put(batch.deals(), rules.version);
    Ok(out)
}

fn reused(key: &str) -> Answer {
    Answer {
        fingerprint: String::new(),
        status: KEY_REUSED,
        body: serde_json::json!({
            "error": {
                "code": "idempotency_key_reused",
                "message": format!("the Idempotency-Key `{key}` was already used for another request; use a new key"),
            }
        })
        .to_string(),
    }
}
