//! The operations the daemon runs on its deals, what came of each, and a batch of them run
//! against the store in one transaction: the deals they touch are read in one go, the engine
//! runs each step in memory (a later step of the batch sees what an earlier one did, the team's
//! load included), and everything is written at the end in a few multi-row statements. A
//! refused or failed step leaves nothing behind. Every operation works inside a transaction the
//! caller gives it and does not commit; the caller commits (several operations at once, when it
//! groups commits) or rolls back.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::core::Core;
pub use super::ops::{CoreError, Op, Sender, Step};
use super::refused::refusal;
use super::rules::Rules;
use crate::engine::{
    self, Creation, Ctx, Deal, Input, Kind, Outcome, Record, StepError, TaskAction,
};
use crate::store::{
    Answer, AppliedEvent, BatchWrite, DealWrite, DueTimer, Misfit, Refusal, StoreError, Tx,
};
use crate::team::Team;

/// Running operations against the store: each in a batch of its own or several in one.
impl Core {
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
        let mut batch = Batch::prepare(&rules, self, tx, &refs).await?;
        let steps = ops.iter().map(|op| batch.run(op, now)).collect();
        batch.write(tx, now, self).await?;
        Ok(steps)
    }

    /// Deals that ended under a version that left their tasks open get them closed, once
    /// (a mark in the store says it was done; running it twice changes nothing).
    pub(super) async fn close_ended_tasks(&self) -> Result<(), StoreError> {
        const MARK: &str = "ended_tasks_closed";
        if self.store().read().await?.mark(MARK).await?.is_some() {
            return Ok(());
        }
        let mut after = String::new();
        loop {
            let mut tx = self.store().begin().await?;
            let page = tx.ended_with_open_tasks(&after, 200).await?;
            let Some(last) = page.last().cloned() else {
                tx.set_mark(MARK, &crate::json::stamp(Utc::now())).await?;
                tx.commit().await?;
                return Ok(());
            };
            match self.one(&mut tx, &Op::CloseTasks(page), Utc::now()).await {
                Ok(_) => tx.commit().await?,
                Err(CoreError::Store(e)) => return Err(e),
                Err(e) => tracing::warn!(error = %e, "tasks of ended deals not closed"),
            }
            after = last;
        }
    }

    /// Runs one operation in `tx` (read, step, write; the caller commits).
    pub async fn one(&self, tx: &mut Tx, op: &Op, now: DateTime<Utc>) -> Result<Step, CoreError> {
        let rules = self.rules();
        let mut batch = Batch::prepare(&rules, self, tx, &[op]).await?;
        let step = batch.run(op, now)?;
        batch.write(tx, now, self).await?;
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

/// The working set of a batch.
pub(crate) struct Batch<'r> {
    rules: &'r Rules,
    /// Where the dashboard is reached, for `deal_url`.
    site: Option<&'r str>,
    team: Team,
    /// Deals as read (or why they do not fit the rules).
    read: HashMap<String, Result<(Deal, i64), Misfit>>,
    /// Deals last written under other rules, with what reading them under these could not
    /// carry over: they pass to these rules when first touched.
    pending: HashMap<String, engine::Left>,
    /// Deals last written under other rules: their tasks are written whole (the names of
    /// their stages may have changed).
    older: HashSet<String>,
    /// Deals as they are now, with their revision, in the order first touched.
    now: Vec<(Deal, i64)>,
    index: HashMap<String, usize>,
    /// Which of `now` changed.
    changed: Vec<bool>,
    /// Records, each with its deal's revision after the step and who the step was done by.
    history: Vec<(Record, i64, Option<crate::json::Actor>)>,
    load: Vec<(String, i64)>,
    attempts: HashMap<(String, u64), i64>,
    drop_timers: Vec<(String, u64)>,
    answers: Vec<(String, Answer)>,
    events: Vec<AppliedEvent>,
    /// Inputs refused, to keep.
    refusals: Vec<Refusal>,
    /// The line of the rule that refused the operation running, if one did.
    refused_by: Option<usize>,
    /// Timers running when the batch began: (person, deal, task).
    running: Vec<(String, String, String)>,
    /// Who the operation running is done by: the person its input names, and whose token it
    /// came through (see [`Sender::via`]).
    actor: Option<crate::json::Actor>,
    /// Contacts new deals were given that could not be read.
    checks: Vec<(String, crate::store::ContactCheck)>,
    /// Phone and email fields steps gave a value: their contact checks are settled.
    checked: Vec<(String, String)>,
}

/// The deals an operation reads.
fn deals_of(op: &Op) -> Vec<String> {
    match op {
        Op::Create(req) => vec![req.id.clone()],
        Op::Apply { deal, .. } => vec![deal.clone()],
        Op::Fire(due) => vec![due.deal.clone()],
        Op::Midnight(ids) | Op::Switch(ids) | Op::CloseTasks(ids) => ids.clone(),
        Op::Refuse { op, .. } | Op::Sent { op, .. } => deals_of(op),
    }
}

impl<'r> Batch<'r> {
    /// Reads what `ops` need: their deals (locked on PostgreSQL), the team, the claims of the
    /// timers they fire.
    pub(super) async fn prepare(
        rules: &'r Rules,
        core: &'r Core,
        tx: &mut Tx,
        ops: &[&Op],
    ) -> Result<Batch<'r>, StoreError> {
        let (site, warm, timer_cap) = (core.site(), &core.warm, core.timer_cap());
        let mut ids: Vec<String> = ops.iter().flat_map(|o| deals_of(o)).collect();
        // A start pauses the person's timer on another deal: those deals are read too.
        let starts = ops.iter().any(|o| {
            matches!(
                o.parts().0,
                Op::Apply {
                    input: Input::Task {
                        action: TaskAction::Start,
                        ..
                    },
                    ..
                }
            )
        });
        let running = if starts {
            tx.running_timers().await?
        } else {
            Vec::new()
        };
        ids.extend(running.iter().map(|r| r.deal.clone()));
        ids.sort();
        ids.dedup();
        // Deals kept warm at the revision the database holds need no reading; the rest are
        // read whole.
        let revisions = tx.deal_revisions(&ids).await?;
        let mut read = HashMap::with_capacity(revisions.len());
        let mut cold = Vec::new();
        for (id, revision) in revisions {
            match warm.get(&id, revision, rules.version) {
                Some(deal) => {
                    read.insert(id, Ok((deal, revision)));
                }
                None => cold.push(id),
            }
        }
        let loaded = if cold.is_empty() {
            HashMap::new()
        } else {
            tx.load_deals(&cold).await?
        };
        // The timer rows of the deals a timer fires for, and of the deals a switch passes (rows
        // an earlier version left behind go then).
        let firing: Vec<String> = ops
            .iter()
            .flat_map(|o| match o {
                Op::Fire(d) => vec![d.deal.clone()],
                Op::Switch(ids) => ids.clone(),
                _ => Vec::new(),
            })
            .collect();
        let attempts = if firing.is_empty() {
            HashMap::new()
        } else {
            tx.timer_attempts(&firing).await?
        };
        let mut team = tx.team().await?;
        team.timer_cap = timer_cap;
        let (mut pending, mut older) = (HashMap::new(), HashSet::new());
        for (id, l) in loaded {
            let d = match l.stored.read(&rules.ready.plan) {
                Ok((deal, left)) => {
                    if l.rules_version != rules.version {
                        pending.insert(id.clone(), left);
                        older.insert(id.clone());
                    }
                    Ok((deal, l.revision))
                }
                Err(m) => Err(m),
            };
            read.insert(id, d);
        }
        Ok(Batch {
            rules,
            site,
            team,
            read,
            pending,
            older,
            now: Vec::new(),
            index: HashMap::new(),
            changed: Vec::new(),
            history: Vec::new(),
            load: Vec::new(),
            attempts,
            drop_timers: Vec::new(),
            answers: Vec::new(),
            events: Vec::new(),
            refusals: Vec::new(),
            refused_by: None,
            running: running
                .into_iter()
                .map(|r| (r.by, r.deal, r.task))
                .collect(),
            actor: None,
            checks: Vec::new(),
            checked: Vec::new(),
        })
    }

    /// The deal as it is now in the batch, or why there is none. A deal last written under
    /// other rules passes to the running ones first (the switch is written with the batch,
    /// whatever becomes of the operation that touched it).
    fn get(&mut self, id: &str, now: DateTime<Utc>) -> Result<usize, CoreError> {
        if let Some(&i) = self.index.get(id) {
            return Ok(i);
        }
        let i = match self.read.get(id) {
            None => return Err(CoreError::NoDeal(id.to_string())),
            Some(Err(Misfit::MissingStages(stages))) => {
                return Err(CoreError::Misfit(id.to_string(), stages.join(", ")));
            }
            Some(Ok((deal, rev))) => {
                let i = self.now.len();
                self.now.push((deal.clone(), *rev));
                self.changed.push(false);
                self.index.insert(id.to_string(), i);
                i
            }
        };
        if let Some(left) = self.pending.remove(id) {
            // The rules' own step, not the request's: no one behind its records.
            let actor = self.actor.take();
            let cause = format!("rules version {}", self.rules.version);
            match engine::switch(self.ctx(now), &self.now[i].0, &left, &cause) {
                Ok(sw) if sw.changed() => {
                    let deal = id.to_string();
                    self.drop_timers
                        .extend(sw.gone.iter().map(|t| (deal.clone(), *t)));
                    self.commit(Some(i), Ok(sw.outcome));
                }
                Ok(_) => {}
                Err(e) => {
                    self.actor = actor;
                    tracing::warn!(deal = %id, error = %e, "the deal could not pass to the new rules");
                    return Err(CoreError::Switch(id.to_string(), e.message().to_string()));
                }
            }
            self.actor = actor;
        }
        Ok(i)
    }

    fn ctx(&self, now: DateTime<Utc>) -> Ctx<'_> {
        Ctx {
            plan: &self.rules.ready.plan,
            team: &self.team,
            script: self.rules.ready.script.as_ref(),
            now,
            site: self.site,
        }
    }

    /// Runs one operation in memory.
    pub(super) fn run(&mut self, op: &Op, now: DateTime<Utc>) -> Result<Step, CoreError> {
        self.refused_by = None;
        let (asked, reason, sender) = op.parts();
        let by = match asked {
            Op::Apply { input, .. } => match input {
                Input::Event { by, .. }
                | Input::Task { by, .. }
                | Input::Edit { by, .. }
                | Input::Amend { by, .. } => by.clone(),
                Input::Timer { .. } => None,
            },
            _ => None,
        };
        let via = sender.and_then(|s| s.via.clone());
        self.actor = crate::json::Actor::of(by, via.clone());
        let result = match (reason, asked) {
            (Some(reason), op) => self.refuse(op, reason, now),
            (None, Op::Create(req)) => self.create(req, now),
            (None, Op::Apply { deal, input }) => self.apply(deal, input, now),
            (None, Op::Fire(due)) => self.fire(due, now),
            (None, Op::Switch(ids)) => Ok(self.switch(ids, now)),
            (None, Op::Midnight(ids)) => Ok(self.midnight(ids, now)),
            (None, Op::CloseTasks(ids)) => Ok(self.close_tasks(ids, now)),
            // `parts` took the wrappers off.
            (None, Op::Refuse { .. } | Op::Sent { .. }) => {
                Ok(Step::Refused("the request is wrapped twice".into()))
            }
        };
        if let (Ok(Step::Applied { deal, .. }), Op::Create(_), Some(s)) = (&result, asked, sender) {
            let id = deal.id.to_string();
            self.checks
                .extend(s.checks.iter().map(|c| (id.clone(), c.clone())));
        }
        let rule = self
            .refused_by
            .take()
            .map(|line| format!("{}:{line}", self.rules.ready.plan.file));
        if let Some(mut r) = refusal(
            asked,
            &result,
            rule,
            self.rules.version,
            self.rules.ready.plan.tz,
            now,
        ) {
            r.via = via;
            r.origin = sender.and_then(|s| s.origin.clone());
            self.refusals.push(r);
        }
        self.actor = None;
        result
    }

    /// A request refused before the engine: 404 and 409 as the engine would say them.
    fn refuse(&mut self, op: &Op, reason: &str, now: DateTime<Utc>) -> Result<Step, CoreError> {
        match op {
            Op::Create(req)
                if self.index.contains_key(&req.id) || self.read.contains_key(&req.id) =>
            {
                Err(CoreError::Exists(req.id.clone()))
            }
            Op::Apply { deal, .. } => self.get(deal, now).map(|_| Step::Refused(reason.into())),
            _ => Ok(Step::Refused(reason.into())),
        }
    }

    /// Ended deals: their open tasks closed as cancelled.
    fn close_tasks(&mut self, ids: &[String], now: DateTime<Utc>) -> Step {
        let mut last = Step::NotNow("no deals".into());
        for id in ids {
            let i = match self.get(id, now) {
                Ok(i) if !self.now[i].0.is_live() => i,
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(deal = %id, error = %e, "tasks of an ended deal not closed");
                    continue;
                }
            };
            let out = engine::close_tasks(self.ctx(now), &self.now[i].0);
            if out.records.is_empty() {
                continue;
            }
            last = self.commit(Some(i), Ok(out));
        }
        last
    }

    fn create(&mut self, req: &Creation, now: DateTime<Utc>) -> Result<Step, CoreError> {
        if self.index.contains_key(&req.id) || self.read.contains_key(&req.id) {
            return Err(CoreError::Exists(req.id.clone()));
        }
        let out = engine::create(self.ctx(now), req);
        Ok(self.commit(None, out))
    }

    /// An event or work on a task; an event applied is kept with the fields it carried.
    fn apply(&mut self, deal: &str, input: &Input, now: DateTime<Utc>) -> Result<Step, CoreError> {
        let i = self.get(deal, now)?;
        if let Input::Task {
            task,
            action: TaskAction::Start,
            by,
        } = input
        {
            self.pause_elsewhere(i, task, by.as_deref(), now);
        }
        let out = engine::apply(self.ctx(now), &self.now[i].0, input);
        let step = self.commit(Some(i), out);
        if let (Step::Applied { revision, .. }, Input::Event { name, payload, by }) = (&step, input)
        {
            let tz = self.rules.ready.plan.tz;
            let json: serde_json::Map<String, serde_json::Value> = payload
                .iter()
                .map(|(k, v)| (k.clone(), crate::json::value_json(v, tz)))
                .collect();
            self.events.push(AppliedEvent {
                deal: deal.to_string(),
                name: name.clone(),
                payload: serde_json::Value::Object(json).to_string(),
                by: by.clone(),
                via: self.actor.as_ref().and_then(|a| a.via.clone()),
                revision: *revision,
            });
        }
        if let Step::Applied { records, .. } = &step {
            let given = contacts_given(&self.rules.ready.plan, records);
            self.checked
                .extend(given.into_iter().filter(|(d, _)| d == deal));
        }
        Ok(step)
    }

    /// A due timer, if it is still armed and still this claim's.
    fn fire(&mut self, due: &DueTimer, now: DateTime<Utc>) -> Result<Step, CoreError> {
        let i = match self.get(&due.deal, now) {
            Ok(i) => i,
            Err(CoreError::NoDeal(_)) => {
                self.drop_timers.push((due.deal.clone(), due.timer));
                return Ok(Step::NotNow("the deal is gone".into()));
            }
            Err(e) => return Err(e),
        };
        // Still this claim's (a late finisher after a takeover changes nothing)?
        let key = (due.deal.clone(), due.timer);
        let claimed = match (self.attempts.get(&key), due.attempt) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(a), Some(mine)) => *a == mine,
        };
        let armed = self.now[i]
            .0
            .timers
            .iter()
            .any(|a| a.id == due.timer && !a.fired && a.fires_at <= now);
        if !claimed || !armed {
            if claimed {
                self.drop_timers.push(key);
            }
            return Ok(Step::NotNow("the timer is no longer armed".into()));
        }
        let input = Input::Timer { id: due.timer };
        let out = engine::apply(self.ctx(now), &self.now[i].0, &input);
        if let Err(e) = &out {
            // Not tried again: the failure goes to history, the timer goes.
            let cause = input.cause(&self.now[i].0, &self.rules.ready.plan);
            let r = Record {
                at: now,
                deal: self.now[i].0.id.clone(),
                kind: Kind::StepFailed {
                    cause: cause.clone(),
                    error: e.message().to_string(),
                },
                cause: cause.into(),
                line: None,
            };
            self.history.push((r, self.now[i].1, None));
            self.drop_timers.push(key);
            return Ok(Step::Failed(e.message().to_string()));
        }
        self.attempts.remove(&key);
        Ok(self.commit(Some(i), out))
    }

    /// New rules took over: these deals pass to them (reading them does it, see `get`).
    /// A timer row the deal has no waiting timer for (left by an earlier version) goes too.
    fn switch(&mut self, ids: &[String], now: DateTime<Utc>) -> Step {
        let mut last = Step::NotNow("no deals".into());
        for id in ids {
            if let Ok(i) = self.get(id, now) {
                let deal = &self.now[i].0;
                let stale: Vec<(String, u64)> = self
                    .attempts
                    .keys()
                    .filter(|(d, t)| d == id && !deal.timers.iter().any(|a| a.id == *t && !a.fired))
                    .cloned()
                    .collect();
                self.drop_timers.extend(stale);
            }
            match self.get(id, now) {
                Ok(i) if self.changed[i] => {
                    last = Step::Applied {
                        deal: self.now[i].0.clone(),
                        revision: self.now[i].1,
                        records: Vec::new(),
                    };
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(deal = %id, error = %e, "not passed to the new rules"),
            }
        }
        last
    }

    /// A local midnight: these deals' clock alerts checked again.
    fn midnight(&mut self, ids: &[String], now: DateTime<Utc>) -> Step {
        let mut last = Step::NotNow("no deals".into());
        for id in ids {
            let i = match self.get(id, now) {
                Ok(i) => i,
                Err(e) => {
                    tracing::warn!(deal = %id, error = %e, "midnight check skipped");
                    continue;
                }
            };
            let deal = std::mem::take(&mut self.now[i].0);
            let (deal, records) = engine::midnight(self.ctx(now), deal);
            self.now[i].0 = deal;
            last = match records {
                Ok(r) if r.is_empty() => continue,
                Ok(records) => {
                    let out = Outcome {
                        deal: self.now[i].0.clone(),
                        spawned: Vec::new(),
                        records,
                        load: Vec::new(),
                    };
                    self.commit(Some(i), Ok(out))
                }
                Err(e) => Step::Failed(e.message().to_string()),
            };
        }
        last
    }

    /// One running timer per person: before a start, the person's timer on another deal is
    /// paused there (its time logged), in this batch. The batch's own copy of a deal is the
    /// latest word on its timers; the rows read at its start speak for the others.
    fn pause_elsewhere(&mut self, i: usize, task: &str, by: Option<&str>, now: DateTime<Utc>) {
        let Some(user) = engine::worker_of(&self.now[i].0, task, by) else {
            return;
        };
        let in_batch = self.now.iter().enumerate().find_map(|(j, (d, _))| {
            (j != i)
                .then(|| engine::running_timer(d, &user))
                .flatten()
                .map(|t| (d.id.to_string(), t))
        });
        let elsewhere = in_batch.or_else(|| {
            self.running
                .iter()
                .find(|(who, d, _)| {
                    *who == user && *d != *self.now[i].0.id && !self.index.contains_key(d)
                })
                .map(|(_, d, t)| (d.clone(), t.clone()))
        });
        let Some((other, task)) = elsewhere else {
            return;
        };
        let Ok(j) = self.get(&other, now) else {
            return;
        };
        let pause = Input::Task {
            task,
            action: TaskAction::Pause,
            by: Some(user),
        };
        let out = engine::apply(self.ctx(now), &self.now[j].0, &pause);
        if let Step::Failed(e)
        | Step::Refused(e)
        | Step::NotNow(e)
        | Step::Unmet(e)
        | Step::Missing(e) = self.commit(Some(j), out)
        {
            tracing::warn!(deal = %other, error = %e, "a running timer was not paused");
        }
    }

    /// Takes a step's outcome into the working set.
    fn commit(&mut self, at: Option<usize>, out: Result<Outcome, StepError>) -> Step {
        let out = match out {
            Ok(o) => o,
            Err(StepError::Refused(m)) => return Step::Refused(m),
            Err(StepError::NotNow(m)) => return Step::NotNow(m),
            Err(StepError::Missing(m)) => return Step::Missing(m),
            Err(StepError::Failed(m)) => return Step::Failed(m),
            Err(StepError::Required { message, line }) => {
                self.refused_by = Some(line);
                return Step::Unmet(message);
            }
        };
        self.team.apply(&out.load);
        self.load.extend(out.load.iter().cloned());
        let mut revisions: Vec<(std::sync::Arc<str>, i64)> = Vec::new();
        let main = match at {
            Some(i) => {
                self.now[i].0 = out.deal.clone();
                self.now[i].1 += 1;
                self.changed[i] = true;
                i
            }
            None => self.add(out.deal.clone()),
        };
        revisions.push((self.now[main].0.id.clone(), self.now[main].1));
        for child in out.spawned {
            let c = self.add(child);
            revisions.push((self.now[c].0.id.clone(), 1));
        }
        let revision = self.now[main].1;
        for r in &out.records {
            let rev = revisions
                .iter()
                .find(|(d, _)| *d == r.deal)
                .map_or(revision, |(_, v)| *v);
            self.history.push((r.clone(), rev, self.actor.clone()));
        }
        Step::Applied {
            deal: out.deal,
            revision,
            records: out.records,
        }
    }

    fn add(&mut self, deal: Deal) -> usize {
        let i = self.now.len();
        self.index.insert(deal.id.to_string(), i);
        self.now.push((deal, 1));
        self.changed.push(true);
        i
    }

    /// An answer to keep for an idempotency key, written with the batch.
    pub(super) fn keep_answer(&mut self, key: String, answer: Answer) {
        self.answers.push((key, answer));
    }

    /// Whether the batch already answered this key (a retry inside the same batch).
    pub(super) fn kept(&self, key: &str) -> Option<&Answer> {
        self.answers.iter().find(|(k, _)| k == key).map(|(_, a)| a)
    }

    /// Every deal the batch touched, as it is now, with its revision: once the batch has
    /// committed, this is what the database holds. Not a deal read as other rules wrote it
    /// and left as it was (a switch that had nothing to say to it): its row still has those
    /// rules' names, and its next step must read it again and write its tasks whole.
    pub(super) fn deals(&self) -> impl Iterator<Item = (&Deal, i64)> {
        self.now
            .iter()
            .zip(&self.changed)
            .filter(|((d, _), changed)| **changed || !self.older.contains(&*d.id))
            .map(|((d, rev), _)| (d, *rev))
    }

    /// Writes everything the batch did.
    pub(super) async fn write(
        &self,
        tx: &mut Tx,
        now: DateTime<Utc>,
        core: &super::core::Core,
    ) -> Result<(), StoreError> {
        let deals = self
            .now
            .iter()
            .zip(&self.changed)
            .filter(|(_, c)| **c)
            .map(|((d, rev), _)| DealWrite {
                before: self
                    .read
                    .get(&*d.id)
                    .and_then(|r| r.as_ref().ok())
                    .map(|(b, _)| b),
                after: d,
                revision: *rev,
                older: self.older.contains(&*d.id),
            })
            .collect();
        tx.write_batch(&BatchWrite {
            plan: &self.rules.ready.plan,
            mapping: core.mapping(),
            version: self.rules.version,
            now,
            deals,
            history: self
                .history
                .iter()
                .map(|(r, v, actor)| (r, *v, actor.as_ref()))
                .collect(),
            load: self.load.clone(),
            answers: self.answers.clone(),
            drop_timers: self.drop_timers.clone(),
            events: self.events.clone(),
            refusals: self.refusals.clone(),
            checks: self.checks.clone(),
            checked: self.checked.clone(),
            webhooks: core.webhooks(),
        })
        .await
    }
}

/// The phone and email fields a step gave a value, by deal: a lead's unreadable contact is
/// checked once someone gives the field one.
fn contacts_given(plan: &crate::compile::Plan, records: &[Record]) -> Vec<(String, String)> {
    use crate::types::Ty;
    records
        .iter()
        .filter_map(|r| match &r.kind {
            Kind::FieldSet {
                field,
                value: Some(_),
                ..
            } => {
                let f = plan.field_index.get(field)?;
                matches!(plan.fields[*f].ty, Ty::Phone | Ty::Email)
                    .then(|| (r.deal.to_string(), field.clone()))
            }
            _ => None,
        })
        .collect()
}
