//! The interpreter: (plan, deal, clock, input) → new deal state + records of what happened.
//!
//! Pure: no I/O, no global clock. The simulator and the daemon drive the same code; only the
//! clock and the store differ. A step is atomic: it works on a copy of the deal and either
//! returns the whole outcome or an error, in which case nothing changed.

mod actions;
mod edit;
mod eval;
mod invite;
mod notices;
mod record;
mod stages;
mod state;
mod switch;
mod timers;
mod trial;
mod work;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::compile::{Plan, Slot, StageId};
use crate::script::Script;
use crate::team::Team;
use crate::value::Value;
pub use record::{Attachment, Kind, Record};
pub use state::{Armed, Deal, Running, Task, TimeEntry, TimerRef, Track, TrackState};
pub use switch::{CarriedField, Change, Left, LeftTimer, MigratedTrack, Switched, switch};
pub use timers::{Sought, TimerKey, match_timers, timer_key, timer_label};
pub use trial::{Tried, trial};
pub use work::{counting_timers, hours_between, labour_cost, running_timer, worker_of};

/// Moves allowed in one step before it is called a loop.
const MAX_MOVES: usize = 100;

/// What a step runs against.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// The pipeline.
    pub plan: &'a Plan,
    /// The team and its load.
    pub team: &'a Team,
    /// The pipeline's script, if it has one.
    pub script: Option<&'a Script>,
    /// The engine's clock: wall time in the daemon, virtual in a simulation.
    pub now: DateTime<Utc>,
    /// Where the dashboard is reached (`[server] public_url`), for `deal_url`; `None`: the
    /// path alone (a simulation).
    pub site: Option<&'a str>,
}

/// A request to create a deal.
#[derive(Debug, Clone)]
pub struct Creation {
    /// Its identifier.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Stage names to start at; empty: the first stage.
    pub stages: Vec<String>,
    /// Field values by name (loosely typed: they are converted to the fields' types).
    pub fields: BTreeMap<String, Value>,
    /// Start at the stages as an import of old deals does: without their `on enter` actions
    /// (no messages, no fields set, no groups) but the tasks a stage's way out waits on
    /// ([`crate::compile::StageDef::waits_on_tasks`]), made without staff notices.
    pub quiet: bool,
    /// Tasks (by id) the stages it starts at make done at once: work the old CRM says was
    /// finished. Tasks of any other stage are not touched.
    pub done: Vec<String>,
}

/// Work on a task.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskAction {
    /// Work started: the person's timer starts on the task (their timer on another task
    /// pauses).
    Start,
    /// The person's timer on the task stops; the time since it started is logged.
    Pause,
    /// Finished (a timer running on it stops and logs its time first).
    Done,
    /// Hours worked.
    Log(Decimal),
}

/// Something that happens to an existing deal.
#[derive(Debug, Clone)]
pub enum Input {
    /// An event with its payload (loosely typed values, converted by the declaration).
    Event {
        /// Event name.
        name: String,
        /// Payload by name.
        payload: BTreeMap<String, Value>,
        /// Who sent it.
        by: Option<String>,
    },
    /// A timer of the deal fell due.
    Timer {
        /// The armed timer's id.
        id: u64,
    },
    /// Work on a task.
    Task {
        /// Task identifier (the latest open one of that name).
        task: String,
        /// What was done.
        action: TaskAction,
        /// Who.
        by: Option<String>,
    },
    /// A time entry of the deal corrected (a timer left running, a typo): its hours replaced.
    Amend {
        /// The entry's place in the deal's time entries, from 0.
        entry: usize,
        /// Its hours now.
        hours: Decimal,
        /// Who corrected it.
        by: Option<String>,
    },
    /// A person edits the deal: fields set (loosely typed values, converted by their
    /// declarations) or cleared, roles given to other people (their open tasks go with them).
    Edit {
        /// Fields and roles set, by name.
        fields: BTreeMap<String, Value>,
        /// Fields and roles cleared.
        clear: Vec<String>,
        /// Who.
        by: Option<String>,
    },
}

impl Input {
    /// A short description of the cause, for history.
    pub fn cause(&self, deal: &Deal, plan: &Plan) -> String {
        match self {
            Input::Event { name, .. } => format!("event {name}"),
            Input::Timer { id } => {
                let label = deal
                    .timers
                    .iter()
                    .find(|t| t.id == *id)
                    .map(|t| timers::timer_label(plan, deal, t));
                format!("timer {}", label.unwrap_or_default())
            }
            Input::Task { task, action, .. } => match action {
                TaskAction::Start => format!("task {task} started"),
                TaskAction::Pause => format!("task {task} paused"),
                TaskAction::Done => format!("task {task} done"),
                TaskAction::Log(h) => format!("task {task}: {h} h logged"),
            },
            Input::Amend { entry, by, .. } => match by {
                Some(by) => format!("time entry {entry} corrected by {by}"),
                None => format!("time entry {entry} corrected"),
            },
            Input::Edit { by, .. } => match by {
                Some(by) => format!("edited by {by}"),
                None => "edited".to_string(),
            },
        }
    }
}

/// What a step did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The deal after the step.
    pub deal: Deal,
    /// Deals it spawned, fully created.
    pub spawned: Vec<Deal>,
    /// What happened, in order (spawned deals' records included).
    pub records: Vec<Record>,
    /// Open-task changes per team member.
    pub load: Vec<(String, i64)>,
}

/// Why a step did not happen, in the pipeline's words.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepError {
    /// The input does not fit the pipeline (an unknown event, missing or mistyped fields…).
    #[error("{0}")]
    Refused(String),
    /// The input fits the pipeline but not the deal as it is now (an event no active stage
    /// expects, a task already done).
    #[error("{0}")]
    NotNow(String),
    /// What the input names on the deal is not there (a task, a time entry).
    #[error("{0}")]
    Missing(String),
    /// The step broke (a script error, a loop); it was undone.
    #[error("{0}")]
    Failed(String),
    /// A stage's `require` is not met: refused like [`StepError::Refused`], and `line` is the
    /// `require` that decided it.
    #[error("{message}")]
    Required {
        /// In the pipeline's words.
        message: String,
        /// The `require` line.
        line: usize,
    },
}

impl StepError {
    /// The message.
    pub fn message(&self) -> &str {
        match self {
            StepError::Refused(m)
            | StepError::NotNow(m)
            | StepError::Missing(m)
            | StepError::Failed(m) => m,
            StepError::Required { message, .. } => message,
        }
    }

    /// The pipeline line of the rule that decided it, when one did.
    pub fn line(&self) -> Option<usize> {
        match self {
            StepError::Required { line, .. } => Some(*line),
            _ => None,
        }
    }
}

/// The working state of one step.
pub(crate) struct Stepper<'a> {
    pub ctx: Ctx<'a>,
    pub deal: Deal,
    pub records: Vec<Record>,
    pub spawned: Vec<Deal>,
    pub load: Vec<(String, i64)>,
    pub cause: std::sync::Arc<str>,
    pub payload: Option<BTreeMap<String, Value>>,
    pub moves: usize,
    /// Stages are entered without their `on enter` actions but the tasks their way out waits
    /// on, and tasks without notices (an import's first stages).
    pub quiet: bool,
    /// Tasks made done as they are made (an import's first stages).
    pub done: Vec<String>,
}

impl<'a> Stepper<'a> {
    pub(crate) fn new(ctx: Ctx<'a>, deal: Deal, cause: &str) -> Self {
        Stepper {
            ctx,
            deal,
            records: Vec::new(),
            spawned: Vec::new(),
            load: Vec::new(),
            cause: cause.into(),
            payload: None,
            moves: 0,
            quiet: false,
            done: Vec::new(),
        }
    }

    pub(crate) fn record(&mut self, kind: Kind, line: Option<usize>) {
        self.records.push(Record {
            at: self.ctx.now,
            deal: self.deal.id.clone(),
            kind,
            cause: self.cause.clone(),
            line,
        });
    }

    pub(crate) fn finish(self) -> Outcome {
        Outcome {
            deal: self.deal,
            spawned: self.spawned,
            records: self.records,
            load: self.load,
        }
    }

    /// Open tasks of a member, counting this step's changes.
    pub(crate) fn load_of(&self, id: &str) -> i64 {
        let base = self.ctx.team.load.get(id).copied().unwrap_or(0);
        base + self
            .load
            .iter()
            .filter(|(m, _)| m == id)
            .map(|(_, d)| d)
            .sum::<i64>()
    }
}

/// Creates a deal (also used for spawned deals). Refused when a required field is missing,
/// a stage does not exist, or a stage's `require` is not met.
pub fn create(ctx: Ctx<'_>, req: &Creation) -> Result<Outcome, StepError> {
    crate::value::no_control("id", &req.id, false).map_err(StepError::Refused)?;
    let deal = Deal::new(ctx.plan, req.id.clone(), req.title.clone(), ctx.now);
    let mut s = Stepper::new(ctx, deal, "created");
    s.create(req, None)?;
    // After the fields: a title made from a field names the field first.
    crate::value::no_control("title", &req.title, false).map_err(StepError::Refused)?;
    let mut out = s.finish();
    if req.quiet {
        // An imported deal's moments already past are the old CRM's: its timers for them
        // count as fired (no "deadline missed" mail to the CEO for every deal imported).
        for t in out.deal.timers.iter_mut().filter(|t| t.fires_at <= ctx.now) {
            t.fired = true;
        }
    }
    Ok(out)
}

/// Applies an input to a deal.
pub fn apply(ctx: Ctx<'_>, deal: &Deal, input: &Input) -> Result<Outcome, StepError> {
    if let Input::Event { by: Some(by), .. }
    | Input::Task { by: Some(by), .. }
    | Input::Edit { by: Some(by), .. }
    | Input::Amend { by: Some(by), .. } = input
    {
        crate::value::no_control("by", by, false).map_err(StepError::Refused)?;
        // Who did it is one of the team (with no team at all, `by` is only a name).
        if !ctx.team.members.is_empty() && ctx.team.member(by).is_none() {
            return Err(StepError::Refused(format!(
                "`by`: `{by}` is not in the team"
            )));
        }
    }
    let cause = input.cause(deal, ctx.plan);
    let mut s = Stepper::new(ctx, deal.clone(), &cause);
    match input {
        Input::Event { name, payload, by } => s.event(name, payload, by.as_deref())?,
        Input::Timer { id } => s.timer(*id)?,
        Input::Task { task, action, by } => s.task_work(task, action, by.as_deref())?,
        Input::Edit { fields, clear, .. } => s.edit(fields, clear)?,
        Input::Amend {
            entry, hours, by, ..
        } => s.amend(*entry, *hours, by.as_deref())?,
    }
    s.settle()?;
    Ok(s.finish())
}

/// A loosely typed value (from a scenario or a test file) as the field or role `name` of the
/// pipeline would hold it, converted as an event's payload is; `None` when the pipeline has no
/// field or role of that name.
pub fn typed(ctx: Ctx<'_>, name: &str, v: &Value) -> Option<Result<Value, String>> {
    let s = Stepper::new(ctx, Deal::default(), "");
    let slot = s.slot_by_name(name)?;
    Some(s.convert_slot(slot, name, v))
}

/// A deal that ended before its open tasks were closed with it (stored by an earlier version):
/// they are closed now as cancelled. Nothing else changes.
pub fn close_tasks(ctx: Ctx<'_>, deal: &Deal) -> Outcome {
    let mut s = Stepper::new(ctx, deal.clone(), "tasks of an ended deal closed");
    s.close_tasks();
    s.finish()
}

/// A local midnight for one deal: derived fields and alerts that read the clock are computed
/// and checked again. Takes the deal and gives it back (no copy: only its derived values and
/// alert flags can change, and they are restored on error), with the records of what changed.
pub fn midnight(ctx: Ctx<'_>, deal: Deal) -> (Deal, Result<Vec<Record>, StepError>) {
    let before = (deal.alerts.clone(), deal.values.clone());
    let mut s = Stepper::new(ctx, deal, "midnight");
    match s.derive(true).and_then(|()| s.alerts(true)) {
        Ok(()) => (s.deal, Ok(s.records)),
        Err(e) => {
            let mut deal = s.deal;
            (deal.alerts, deal.values) = before;
            (deal, Err(e))
        }
    }
}

impl Stepper<'_> {
    /// After any change: derived fields computed, guard-only transitions until nothing moves
    /// (derived fields computed again after each move), timers re-armed, the
    /// open tasks of a deal that ended closed, alerts.
    pub(crate) fn settle(&mut self) -> Result<(), StepError> {
        self.derive(false)?;
        self.guard_moves()?;
        self.rearm().map_err(StepError::Failed)?;
        self.close_tasks();
        self.alerts(false)
    }

    /// When the deal has ended (no track can move any more), its open tasks are closed as
    /// cancelled: nobody is left working on a lost or finished deal.
    pub(crate) fn close_tasks(&mut self) {
        if self.deal.is_live() {
            return;
        }
        let now = self.ctx.now;
        for idx in 0..self.deal.tasks.len() {
            if self.deal.tasks[idx].done_at.is_some() {
                continue;
            }
            // A timer still running logs its time: the work was done.
            self.stop_timer(idx);
            let task = Arc::make_mut(&mut Arc::make_mut(&mut self.deal.tasks)[idx]);
            task.done_at = Some(now);
            task.cancelled = true;
            let (id, assignee) = (task.id.clone(), task.assignee.clone());
            self.drop_reminder(idx);
            if let Some(a) = assignee {
                self.load.push((a, -1));
            }
            self.record(Kind::TaskCancelled { task: id }, None);
        }
    }

    /// Computes every derived field (or only those that read the clock), in order; a change is
    /// recorded as a `set` on the field's line. A script that fails fails the step, as in an
    /// alert.
    pub(crate) fn derive(&mut self, clock_only: bool) -> Result<(), StepError> {
        let plan = self.ctx.plan;
        for d in &plan.derived {
            if clock_only && !d.clock {
                continue;
            }
            let v = self.eval(&d.expr, &eval::Env::default()).map_err(|e| {
                StepError::Failed(format!(
                    "derived field `{}` (line {}): {e}",
                    plan.fields[d.field].name, d.line
                ))
            })?;
            self.set_slot(Slot::Field(d.field), v, Some(d.line));
        }
        Ok(())
    }

    /// Checks every alert (or only those that read the clock) and records changes.
    pub(crate) fn alerts(&mut self, clock_only: bool) -> Result<(), StepError> {
        let plan = self.ctx.plan;
        for (i, a) in plan.alerts.iter().enumerate() {
            if clock_only && !a.time_dependent {
                continue;
            }
            let now = self
                .holds(Some(&a.cond), &eval::Env::default())
                .map_err(StepError::Failed)?;
            if now != self.deal.alerts[i] {
                self.deal.alerts[i] = now;
                let kind = if now {
                    Kind::AlertRaised {
                        alert: a.name.clone(),
                    }
                } else {
                    Kind::AlertCleared {
                        alert: a.name.clone(),
                    }
                };
                self.record(kind, Some(a.line));
            }
        }
        Ok(())
    }

    fn event(
        &mut self,
        name: &str,
        payload: &BTreeMap<String, Value>,
        by: Option<&str>,
    ) -> Result<(), StepError> {
        let plan = self.ctx.plan;
        let Some(&ev) = plan.event_index.get(name) else {
            return Err(StepError::Refused(format!(
                "the pipeline has no event `{name}`"
            )));
        };
        let typed = self.typed_payload(ev, payload)?;
        let active = self.active_tracks();
        let handles = active.iter().any(|&(_, st)| plan.stages[st].handles(ev));
        if !handles {
            let here: Vec<String> = self
                .deal
                .stages()
                .iter()
                .map(|&s| format!("`{}`", plan.stages[s].name))
                .collect();
            return Err(StepError::NotNow(format!(
                "`{name}` is not expected now: deal `{}` is in {}",
                self.deal.id,
                if here.is_empty() {
                    "no stage".to_string()
                } else {
                    here.join(", ")
                }
            )));
        }
        self.record(
            Kind::EventApplied {
                event: name.to_string(),
                by: by.map(str::to_string),
            },
            None,
        );
        // Listed deal fields are set from the payload.
        for &slot in &plan.events[ev].sets {
            let field = self.slot_name(slot);
            if let Some(v) = typed.get(&field) {
                self.set_slot(slot, Some(v.clone()), Some(plan.events[ev].line));
            }
        }
        self.payload = Some(typed);
        // `on EVENT` blocks of the active stages, in file order.
        let mut stages: Vec<StageId> = active.iter().map(|&(_, s)| s).collect();
        stages.sort_unstable();
        stages.dedup();
        for st in stages {
            for on in &plan.stages[st].on_event {
                if on.event == ev {
                    let env = eval::Env::stage(st);
                    if self
                        .holds(on.guard.as_ref(), &env)
                        .map_err(StepError::Failed)?
                    {
                        self.run(&on.rule.body, &env, Some(on.rule.line))?;
                    }
                }
            }
        }
        // In each active track, the first transition on this event whose guard holds.
        for (track, stage) in active {
            if !self.track_is(track, stage) {
                continue;
            }
            let env = eval::Env::stage(stage);
            let mut chosen = None;
            for (i, t) in plan.stages[stage].transitions.iter().enumerate() {
                if matches!(t.trigger, crate::compile::Trigger::On(e) if e == ev)
                    && self
                        .holds(t.guard.as_ref(), &env)
                        .map_err(StepError::Failed)?
                {
                    chosen = Some(i);
                    break;
                }
            }
            if let Some(i) = chosen {
                self.take(track, stage, i)?;
            }
        }
        self.payload = None;
        Ok(())
    }

    /// The active tracks as (track id, stage), in stage file order.
    pub(crate) fn active_tracks(&self) -> Vec<(u32, StageId)> {
        let mut v: Vec<(u32, StageId)> = self
            .deal
            .tracks
            .iter()
            .filter(|t| t.state == TrackState::Active)
            .map(|t| (t.id, t.stage))
            .collect();
        v.sort_by_key(|&(id, s)| (s, id));
        v
    }

    /// Whether a track is still active at that stage (earlier moves in the step may have moved it).
    pub(crate) fn track_is(&self, track: u32, stage: StageId) -> bool {
        self.deal
            .tracks
            .iter()
            .any(|t| t.id == track && t.stage == stage && t.state == TrackState::Active)
    }

    fn guard_moves(&mut self) -> Result<(), StepError> {
        let plan = self.ctx.plan;
        let has_guards = |st: StageId| {
            plan.stages[st]
                .transitions
                .iter()
                .any(|t| matches!(t.trigger, crate::compile::Trigger::Guard))
        };
        loop {
            // Most stages have no guard-only line: nothing to try, nothing to collect.
            if !self
                .deal
                .tracks
                .iter()
                .any(|t| t.state == TrackState::Active && has_guards(t.stage))
            {
                return Ok(());
            }
            let mut moved = false;
            for (track, stage) in self.active_tracks() {
                if !self.track_is(track, stage) {
                    continue;
                }
                let env = eval::Env::stage(stage);
                let mut chosen = None;
                for (i, t) in plan.stages[stage].transitions.iter().enumerate() {
                    if matches!(t.trigger, crate::compile::Trigger::Guard)
                        && self
                            .holds(t.guard.as_ref(), &env)
                            .map_err(StepError::Failed)?
                    {
                        chosen = Some(i);
                        break;
                    }
                }
                if let Some(i) = chosen {
                    self.take(track, stage, i)?;
                    self.derive(false)?;
                    moved = true;
                }
            }
            if !moved {
                return Ok(());
            }
        }
    }

    /// Counts a move; too many in one step means the pipeline loops.
    pub(crate) fn count_move(&mut self) -> Result<(), StepError> {
        self.moves += 1;
        if self.moves > MAX_MOVES {
            return Err(StepError::Failed(format!(
                "more than {MAX_MOVES} stage changes in one step: the pipeline goes round in a loop"
            )));
        }
        Ok(())
    }
}
