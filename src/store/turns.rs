//! A queue's turn at the database — the outbox's messages, a webhook subscription's deliveries:
//! what was tried settled and more claimed, a few statements in all, run inside the writer's
//! transaction. The queues then cost the requests no commit and no wait of their own (on
//! SQLite one connection writes; a queue with transactions of its own made every batch of
//! requests wait behind its fsync).

use chrono::{DateTime, Utc};

use super::forget::Forgotten;
use super::outbox::{Among, Queue};
use super::{Delivery, Queued, StoreError, Tx};

/// A queue and whose rows a claim takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// The outbox's messages.
    Outbox,
    /// The deliveries of the webhook subscription of this name.
    Webhook(String),
    /// The deliveries of none of these subscriptions (those taken out of the configuration).
    WebhooksGone(Vec<String>),
    /// The messages and deliveries that went out before this moment: `claim` of each are
    /// forgotten, the deal's history keeping that each message went out.
    WentOut(DateTime<Utc>),
}

/// An attempt that failed: its row tried again at `retry` or, when `dead`, never.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Row id.
    pub id: i64,
    /// Why.
    pub error: String,
    /// The next attempt.
    pub retry: DateTime<Utc>,
    /// Given up on.
    pub dead: bool,
}

/// One turn: the rows that went out, those that failed, and how many more to claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// Which queue.
    pub line: Line,
    /// Rows that went out.
    pub sent: Vec<i64>,
    /// Rows that did not.
    pub failed: Vec<Failure>,
    /// How many more to claim (0: none).
    pub claim: i64,
    /// How long a claim holds: past it (the daemon died) another daemon sends them.
    pub lease: chrono::Duration,
}

impl Turn {
    /// Whether the turn has nothing to do.
    pub fn is_empty(&self) -> bool {
        self.sent.is_empty() && self.failed.is_empty() && self.claim == 0
    }
}

/// What a turn claimed, oldest waiting first.
#[derive(Debug, Clone, PartialEq)]
pub enum Claimed {
    /// Messages to send.
    Messages(Vec<Queued>),
    /// Webhook deliveries to send.
    Deliveries(Vec<Delivery>),
    /// What went out long ago, forgotten.
    Forgotten(Forgotten),
}

/// What came of a turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Taken {
    /// The rows claimed.
    pub claimed: Claimed,
    /// Whether more were due than the claim took (the queue has a backlog): the next turn
    /// comes at once.
    pub more: bool,
}

impl Tx {
    /// Settles what was tried and claims up to `turn.claim` more rows that may go out at
    /// `now`, each held until its lease runs out. Its cost does not grow with the rows queued,
    /// sent or given up on: the claims walk the queue's index of pending rows from the front.
    pub async fn take_turn(
        &mut self,
        turn: &Turn,
        now: DateTime<Utc>,
    ) -> Result<Taken, StoreError> {
        let queue = match turn.line {
            Line::Outbox => Queue::Outbox,
            Line::Webhook(_) | Line::WebhooksGone(_) => Queue::Webhooks,
            Line::WentOut(before) => {
                let f = self.forget_sent(before, turn.claim).await?;
                let more = f.messages.max(f.deliveries) >= u64::try_from(turn.claim).unwrap_or(0);
                return Ok(Taken {
                    claimed: Claimed::Forgotten(f),
                    more: turn.claim > 0 && more,
                });
            }
        };
        self.queue_sent(queue, &turn.sent, now).await?;
        for f in &turn.failed {
            self.attempt_failed(queue, f.id, &f.error, f.retry, f.dead)
                .await?;
        }
        let lease_until = now + turn.lease;
        let among = match &turn.line {
            Line::Outbox | Line::WentOut(_) => Among::All,
            Line::Webhook(name) => Among::Named(name),
            Line::WebhooksGone(names) => Among::NoneOf(names),
        };
        let (claimed, due) = match among {
            Among::All if turn.claim == 0 => (Claimed::Messages(Vec::new()), 0),
            Among::All => {
                let (messages, due) = self.claim_messages(now, lease_until, turn.claim).await?;
                (Claimed::Messages(messages), due)
            }
            among => {
                let d = self
                    .claim_deliveries(now, lease_until, turn.claim, among)
                    .await?;
                let due = d.len();
                (Claimed::Deliveries(d), due)
            }
        };
        Ok(Taken {
            claimed,
            more: turn.claim > 0 && due as i64 >= turn.claim,
        })
    }

    /// How the database runs the look for a line's due rows, one line per step of its plan
    /// (SQLite's `EXPLAIN QUERY PLAN`, PostgreSQL's `EXPLAIN`).
    pub async fn claim_plan(&mut self, line: &Line) -> Result<Vec<String>, StoreError> {
        match line {
            Line::Outbox => self.due_plan(Queue::Outbox, Among::All).await,
            Line::Webhook(name) => self.due_plan(Queue::Webhooks, Among::Named(name)).await,
            // The names with deliveries pending, looked up one by one in the index; each
            // taken out of the configuration is then claimed as `Webhook` is.
            Line::WebhooksGone(_) => self.plan_of(super::webhooks::PENDING_NAMES).await,
            Line::WentOut(_) => self.went_out_plan().await,
        }
    }
}
