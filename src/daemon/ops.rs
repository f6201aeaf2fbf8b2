//! The operations the daemon runs on its deals, and what came of each.

use crate::engine::{Creation, Deal, Input, Record};
use crate::store::{ContactCheck, DueTimer, StoreError};

/// What to do: one operation of the daemon on its deals.
#[derive(Debug, Clone)]
pub enum Op {
    /// Create a deal.
    Create(Creation),
    /// An event or work on a task.
    Apply {
        /// The deal.
        deal: String,
        /// What.
        input: Input,
    },
    /// A due timer.
    Fire(DueTimer),
    /// The local-midnight alert check of these deals.
    Midnight(Vec<String>),
    /// New rules took over: pass these deals to them (see [`crate::engine::switch`]); a deal that
    /// already runs under them is left as it is.
    Switch(Vec<String>),
    /// These deals ended before their open tasks were closed with them: close them now.
    CloseTasks(Vec<String>),
    /// A creation or an input the API refused before the engine saw it (its body does not
    /// fit the schema the API publishes): kept in the refusals like one the engine refused,
    /// nothing else written. A deal that does not exist is still 404, an id taken still 409.
    Refuse {
        /// What was asked.
        op: Box<Op>,
        /// Why not.
        reason: String,
    },
    /// A request with who sent it and through what (see [`Sender`]).
    Sent {
        /// What was asked.
        op: Box<Op>,
        /// Who sent it, from where.
        sender: Sender,
    },
}

/// Who sent a request and through what, beyond what the engine's input says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sender {
    /// Who it came through when that is not the person it names: the person whose token or
    /// session acted for another, or an integration token's name. Written as `via` on the
    /// step's history records, its event and its refusal.
    pub via: Option<String>,
    /// A website lead's door (`lead`, `form:KEY`): a refusal of it stays on the
    /// out-of-control page until someone settles it.
    pub origin: Option<String>,
    /// Contacts a website lead gave that could not be read: the deal is made without them, and
    /// they wait to be checked.
    pub checks: Vec<ContactCheck>,
}

impl Op {
    /// The operation with who sent it (itself when that says nothing).
    pub fn sent(self, sender: Sender) -> Op {
        if sender == Sender::default() {
            self
        } else {
            Op::Sent {
                op: Box::new(self),
                sender,
            }
        }
    }

    /// The operation itself under its wrappers, with why the API refused it and who sent it.
    pub(crate) fn parts(&self) -> (&Op, Option<&str>, Option<&Sender>) {
        match self {
            Op::Refuse { op, reason } => {
                let (op, _, sender) = op.parts();
                (op, Some(reason), sender)
            }
            Op::Sent { op, sender } => {
                let (op, reason, _) = op.parts();
                (op, reason, Some(sender))
            }
            op => (op, None, None),
        }
    }
}

/// What an operation did.
#[derive(Debug)]
pub enum Step {
    /// Applied: the deal after it, its new revision, and what happened.
    Applied {
        /// The deal after the step.
        deal: Deal,
        /// Its revision now.
        revision: i64,
        /// What happened (spawned deals' records included).
        records: Vec<Record>,
    },
    /// Refused: the input does not fit the pipeline. Nothing was written.
    Refused(String),
    /// Refused: the input does not fit the deal as it is now. Nothing was written.
    NotNow(String),
    /// Refused: a stage's `require` is not met by the deal's fields (set them, then try
    /// again). Nothing was written.
    Unmet(String),
    /// Refused: the task or time entry the input names is not on the deal. Nothing was
    /// written.
    Missing(String),
    /// The step broke (a script error, a loop) and was undone.
    Failed(String),
}

/// Why an operation could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// No deal has this id.
    #[error("there is no deal `{0}`")]
    NoDeal(String),
    /// A deal with this id exists already.
    #[error("a deal `{0}` already exists")]
    Exists(String),
    /// The stored deal does not fit the rules running now.
    #[error("deal `{0}` sits in stages the rules no longer have: {1}")]
    Misfit(String, String),
    /// The deal could not pass to the rules running now (a script or an expression failed).
    #[error("deal `{0}` could not pass to the rules running now: {1}")]
    Switch(String, String),
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
}
