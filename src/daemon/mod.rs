//! The daemon's core: the engine run against stored deals. Every operation works inside a
//! transaction the caller gives it and does not commit; the caller commits (several operations
//! at once, when it groups commits) or rolls back. A refusal writes nothing.

pub mod api;
pub mod batch;
pub mod config;
pub mod demo;
pub mod metrics;
pub mod openapi;
pub mod outbox;
pub mod reload;
pub mod replay;
pub mod scheduler;
pub mod server;
pub mod view;
pub mod warm;
pub mod web;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use crate::engine::{Creation, Deal, Input, Record};
use crate::load::{Loaded, Ready};
use crate::store::{DueTimer, Store, StoreError, Tx};
use batch::Batch;
use writer::Op;

/// A version of the rules, ready to run.
pub struct Rules {
    /// The compiled pipeline and its script.
    pub ready: Ready,
    /// Its number in the store's `rule_versions`.
    pub version: i64,
    /// The rule file.
    pub file: PathBuf,
}

impl Rules {
    /// Reads, checks and compiles the rule file; the text and script for the store.
    pub fn read(file: &Path) -> Result<(Ready, String, Option<String>), String> {
        let loaded = Loaded::read(file)?;
        let ready = loaded.ready().map_err(|e| match e {
            // Every problem in full (file:line:col, the line, what is wrong), errors only.
            crate::load::LoadError::Invalid(diags, source) => {
                let errors: Vec<_> = diags
                    .into_iter()
                    .filter(|d| d.severity == crate::diag::Severity::Error)
                    .collect();
                crate::diag::render_text(&errors, &source, false)
            }
            other => other.to_string(),
        })?;
        let source = loaded.source.text.clone();
        let script = ready.plan.script.clone();
        Ok((ready, source, script))
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
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The engine against the store, with the rules that run now.
pub struct Core {
    /// The database.
    pub store: Store,
    rules: RwLock<Arc<Rules>>,
    /// Deals as the writer last committed them.
    pub warm: warm::Warm,
}

impl Core {
    /// A core over `store` running `rules`.
    pub fn new(store: Store, rules: Rules) -> Self {
        Core {
            store,
            rules: RwLock::new(Arc::new(rules)),
            warm: Default::default(),
        }
    }

    /// The rules running now.
    pub fn rules(&self) -> Arc<Rules> {
        // A poisoned lock still holds a complete `Arc`: replacing it is one pointer write.
        match self.rules.read() {
            Ok(r) => r.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Puts new rules in place; the next step runs them.
    pub fn set_rules(&self, rules: Rules) {
        let new = Arc::new(rules);
        match self.rules.write() {
            Ok(mut r) => *r = new,
            Err(p) => *p.into_inner() = new,
        }
    }

    /// Runs one operation in `tx` (read, step, write; the caller commits).
    pub async fn one(&self, tx: &mut Tx, op: &Op, now: DateTime<Utc>) -> Result<Step, CoreError> {
        let rules = self.rules();
        let mut batch = Batch::prepare(&rules, &self.warm, tx, &[op]).await?;
        let step = batch.run(op, now)?;
        batch.write(tx, now).await?;
        Ok(step)
    }

    /// Creates a deal.
    pub async fn create(
        &self,
        tx: &mut Tx,
        req: &Creation,
        now: DateTime<Utc>,
    ) -> Result<Step, CoreError> {
        self.one(tx, &Op::Create(req.clone()), now).await
    }

    /// Applies an event or work on a task to a deal.
    pub async fn apply(
        &self,
        tx: &mut Tx,
        deal: &str,
        input: &Input,
        now: DateTime<Utc>,
    ) -> Result<Step, CoreError> {
        let op = Op::Apply {
            deal: deal.to_string(),
            input: input.clone(),
        };
        self.one(tx, &op, now).await
    }

    /// Fires a due timer, once: a timer that is no longer armed (fired by another daemon,
    /// moved, or its stage left) is skipped and `None` returned. A timer whose step fails is
    /// not tried again: the failure goes to the deal's history and the timer is dropped.
    pub async fn fire(
        &self,
        tx: &mut Tx,
        due: &DueTimer,
        now: DateTime<Utc>,
    ) -> Result<Option<Step>, CoreError> {
        match self.one(tx, &Op::Fire(due.clone()), now).await? {
            Step::NotNow(_) => Ok(None),
            s => Ok(Some(s)),
        }
    }
}
