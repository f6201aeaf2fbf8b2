//! The daemon's core: the engine run against stored deals, with the rules that run now. Every
//! operation works inside a transaction the caller gives it and does not commit; the caller
//! commits (several operations at once, when it groups commits) or rolls back. A refusal writes
//! nothing.
//!
//! [`Core::open`] is the one way a core comes to be: the rule file read, checked and compiled,
//! the store opened, the rules recorded as a version, the team put in place, committed.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use super::batch::{Batch, Op};
use super::warm::Warm;
use crate::engine::{Creation, Deal, Input, Record};
use crate::load::{LoadError, Ready, RuleFile};
use crate::store::{DueTimer, Options, Store, StoreError, Tx};
use crate::team::Member;

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
    /// Reads, checks and compiles the rule file, off the async threads (a large file takes a
    /// while).
    pub async fn read(file: &Path) -> Result<Ready, LoadError> {
        let path = file.to_path_buf();
        match tokio::task::spawn_blocking(move || RuleFile::read(&path)?.ready()).await {
            Ok(read) => read,
            // Reading panicked or was cancelled: the rules are as unreadable as a missing file.
            Err(e) => Err(LoadError::Read {
                path: file.to_path_buf(),
                source: std::io::Error::other(e.to_string()),
            }),
        }
    }

    /// Records `ready` (read from `file`) as a version of the rules in `tx`: a new number, or the
    /// latest one again when nothing changed.
    pub async fn record(ready: Ready, file: &Path, tx: &mut Tx) -> Result<Rules, StoreError> {
        let version = tx
            .add_rules_version(
                &file.display().to_string(),
                &ready.text,
                ready.plan.script.as_deref(),
                Utc::now(),
            )
            .await?;
        Ok(Rules {
            ready,
            version,
            file: file.to_path_buf(),
        })
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

/// Why a core could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The rule file (every error in full).
    #[error("{}", .0.errors_in_full())]
    Rules(#[from] LoadError),
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How a core is opened.
#[derive(Debug, Clone)]
pub struct Opening<'a> {
    /// The rule file.
    pub rules: &'a Path,
    /// The database URL (`sqlite://FILE` or `postgres://…`).
    pub database: &'a str,
    /// How the database is opened.
    pub options: Options,
    /// The team to put in place of the stored one; `None` keeps the stored team.
    pub team: Option<&'a [Member]>,
}

/// The engine against the store, with the rules that run now.
pub struct Core {
    store: Store,
    rules: RwLock<Arc<Rules>>,
    /// Deals as the writer last committed them.
    pub(crate) warm: Warm,
}

impl Core {
    /// Reads the rules, opens the store, records the rules as a version and puts the team in
    /// place, in one transaction.
    pub async fn open(o: Opening<'_>) -> Result<Core, OpenError> {
        let ready = Rules::read(o.rules).await?;
        let store = Store::open(o.database, &o.options).await?;
        let mut tx = store.begin().await?;
        let rules = Rules::record(ready, o.rules, &mut tx).await?;
        if let Some(team) = o.team {
            tx.put_team(team).await?;
        }
        tx.commit().await?;
        Ok(Core::new(store, rules))
    }

    /// A core over `store` running `rules`.
    pub(crate) fn new(store: Store, rules: Rules) -> Self {
        Core {
            store,
            rules: RwLock::new(Arc::new(rules)),
            warm: Warm::default(),
        }
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.store
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
    pub(crate) fn set_rules(&self, rules: Rules) {
        let new = Arc::new(rules);
        match self.rules.write() {
            Ok(mut r) => *r = new,
            Err(p) => *p.into_inner() = new,
        }
    }

    /// Runs operations in `tx` as one batch, in order: each sees what the ones before it did
    /// (a refused one changes nothing), and everything is written at the end; the caller
    /// commits. The outcome of each.
    pub async fn run_all(
        &self,
        tx: &mut Tx,
        ops: &[Op],
        now: DateTime<Utc>,
    ) -> Result<Vec<Result<Step, CoreError>>, StoreError> {
        let rules = self.rules();
        let refs: Vec<&Op> = ops.iter().collect();
        let mut batch = Batch::prepare(&rules, &self.warm, tx, &refs).await?;
        let steps = ops.iter().map(|op| batch.run(op, now)).collect();
        batch.write(tx, now).await?;
        Ok(steps)
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

    /// The copy of a deal the writer kept from its last commit, if it kept one at this
    /// revision under the rules running now (a copy is only ever what the database holds).
    pub fn kept(&self, id: &str, revision: i64) -> Option<Deal> {
        self.warm.get(id, revision, self.rules().version)
    }
}
