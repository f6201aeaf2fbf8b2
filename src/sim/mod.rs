//! Dry runs on a virtual clock: a scenario's inputs and the timers they arm, in time order,
//! through the same engine the daemon uses, with deals kept in memory.

pub mod generate;
pub mod lively;
pub mod output;
pub mod scenario;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use chrono::{DateTime, Duration, Utc};

use crate::calendar::{MomentError, moment, next_midnight};
use crate::compile::Plan;
use crate::engine::{self, Creation, Ctx, Deal, Input, Kind, Outcome, Record, StepError};
use crate::script::Script;
use crate::team::Team;
use scenario::{Scenario, What};

/// The end state of one deal when the clock stops.
#[derive(Debug, Clone)]
pub struct Final {
    /// The deal.
    pub deal: Deal,
}

/// What a simulation produced, records kept in memory (for small runs and tests).
#[derive(Debug, Clone)]
pub struct Timeline {
    /// Every record, in time order.
    pub records: Vec<Record>,
    /// The deals at the end, in creation order.
    pub finals: Vec<Final>,
    /// When the clock stopped.
    pub until: DateTime<Utc>,
    /// Inputs and timers processed.
    pub steps: u64,
}

impl Timeline {
    /// The timeline for tools: one JSON object per line, ending with each deal's `final`.
    pub fn json_lines(&self, plan: &Plan) -> String {
        crate::json::json_lines(
            plan,
            &self.records,
            self.finals.iter().map(|f| &f.deal),
            &self.until,
        )
    }
}

/// How a simulation ended; its records went to the sink as they happened.
#[derive(Debug, Clone)]
pub struct End {
    /// The deals at the end, in creation order.
    pub finals: Vec<Final>,
    /// When the clock stopped.
    pub until: DateTime<Utc>,
    /// Inputs and timers processed.
    pub steps: u64,
    /// Records produced.
    pub records: u64,
    /// Deals checked at local midnights (not counted in `steps`).
    pub midnights: u64,
}

/// Receives records in time order, as they happen: the records of each step at once, to be
/// taken out of the vector (what is left is dropped).
pub type Sink<'a> = &'a mut dyn FnMut(&mut Vec<Record>);

/// Reports progress: (moments done, moments in all).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Looks at the world at chosen moments while a scenario runs (`dealflow test`).
pub struct Watch<'w> {
    at: Vec<DateTime<Utc>>,
    look: &'w mut dyn FnMut(usize, &World<'_>),
    /// Moments looked at so far.
    seen: usize,
}

impl<'w> Watch<'w> {
    /// Looks at the world at the moments `at` (earliest first): at each, after every input and
    /// timer up to and including it and before any later one; a moment at or after the
    /// scenario's end sees the world as the clock stops. `look` is called once per moment,
    /// with its place in `at`.
    pub fn new(at: Vec<DateTime<Utc>>, look: &'w mut dyn FnMut(usize, &World<'_>)) -> Self {
        Watch { at, look, seen: 0 }
    }
}

/// The deals as they stand at a moment a [`Watch`] looks at.
pub struct World<'s> {
    deals: &'s [Deal],
    index: &'s HashMap<String, usize>,
}

impl World<'_> {
    /// A deal, if it exists by now.
    pub fn deal(&self, id: &str) -> Option<&Deal> {
        self.index.get(id).map(|&d| &self.deals[d])
    }
}

/// A timer in the queue: (fires_at, sequence, deal index, timer id). Stale entries (a timer
/// that moved or whose stage was left) are skipped when they come up.
type Due = (DateTime<Utc>, u64, usize, u64);

/// Why a simulation could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// `start` or `until` is not a moment.
    #[error(transparent)]
    Moment(#[from] MomentError),
    /// An input's `at` is not a moment.
    #[error("input at offset {offset}: {error}")]
    Input {
        /// Where the input stands in the scenario file.
        offset: usize,
        /// What is wrong with its moment.
        error: MomentError,
    },
    /// The clock would run backwards.
    #[error("`until` ({until}) is before `start` ({start})")]
    Backwards {
        /// The scenario's start, as written.
        start: String,
        /// Its end, as written.
        until: String,
    },
}

/// An in-memory world: deals, team, timers, and the clock.
pub struct Simulation<'a> {
    plan: &'a Plan,
    script: Option<&'a Script>,
    team: Team,
    deals: Vec<Deal>,
    index: HashMap<String, usize>,
    /// Deals that may still be live (checked at midnights), in creation order.
    live: Vec<usize>,
    /// An empty deal that stands in for one the engine is checking at midnight.
    spare: Option<Deal>,
    /// Timers due, earliest first.
    timers: BinaryHeap<Reverse<Due>>,
    seq: u64,
    /// Records of the step in progress, handed to the sink after it.
    out: Vec<Record>,
    records: u64,
    steps: u64,
    midnights: u64,
}

impl<'a> Simulation<'a> {
    /// A world for `plan` with this team.
    pub fn new(plan: &'a Plan, script: Option<&'a Script>, team: Team) -> Self {
        Simulation {
            plan,
            script,
            team,
            deals: Vec::new(),
            index: HashMap::new(),
            live: Vec::new(),
            spare: None,
            timers: BinaryHeap::new(),
            seq: 0,
            out: Vec::new(),
            records: 0,
            steps: 0,
            midnights: 0,
        }
    }

    /// A local moment as written in a scenario (`2026-03-02T09:15`), in the pipeline's zone.
    pub fn moment(&self, s: &str) -> Result<DateTime<Utc>, MomentError> {
        moment(self.plan.tz, s)
    }

    fn ctx(&self, now: DateTime<Utc>) -> Ctx<'_> {
        Ctx {
            plan: self.plan,
            team: &self.team,
            script: self.script,
            now,
            site: None,
        }
    }

    /// Runs a whole scenario, keeping every record.
    pub fn run(self, sc: Scenario, progress: Option<Progress<'_>>) -> Result<Timeline, SimError> {
        let mut records = Vec::new();
        let mut keep = |step: &mut Vec<Record>| records.append(step);
        let end = self.run_into(sc, &mut keep, progress)?;
        Ok(Timeline {
            records,
            finals: end.finals,
            until: end.until,
            steps: end.steps,
        })
    }

    /// Runs a whole scenario, handing each record to `sink` as it happens. The scenario is used
    /// up: each input moves into the engine when its moment comes.
    pub fn run_into(
        self,
        sc: Scenario,
        sink: Sink<'_>,
        progress: Option<Progress<'_>>,
    ) -> Result<End, SimError> {
        self.drive(sc, sink, progress, None)
    }

    /// Runs a whole scenario like [`Simulation::run_into`], and lets `watch` look at the deals
    /// at its moments.
    pub fn run_watched(
        self,
        sc: Scenario,
        sink: Sink<'_>,
        watch: Watch<'_>,
    ) -> Result<End, SimError> {
        self.drive(sc, sink, None, Some(watch))
    }

    fn drive(
        mut self,
        sc: Scenario,
        sink: Sink<'_>,
        progress: Option<Progress<'_>>,
        mut watch: Option<Watch<'_>>,
    ) -> Result<End, SimError> {
        let start = self.moment(&sc.start)?;
        let until = self.moment(&sc.until)?;
        if until < start {
            return Err(SimError::Backwards {
                start: sc.start,
                until: sc.until,
            });
        }
        let mut inputs = Vec::with_capacity(sc.inputs.len());
        for e in sc.inputs {
            let at = self.moment(&e.at).map_err(|error| SimError::Input {
                offset: e.offset,
                error,
            })?;
            inputs.push((at.max(start), e.offset, e.what));
        }
        inputs.sort_by_key(|(at, offset, _)| (*at, *offset));
        let clock_alerts = self.plan.reads_clock();
        let mut next_midnight = self.next_midnight(start);
        let total = inputs.len() as u64;
        let mut inputs = inputs.into_iter().peekable();
        let mut progress = progress;
        let mut i = 0;
        loop {
            let t_timer = self.timers.peek().map(|Reverse((t, ..))| *t);
            let t_input = inputs.peek().map(|(t, ..)| *t);
            let t_mid = next_midnight.filter(|_| clock_alerts);
            // Timers first, then the midnight check, then inputs given for the same moment.
            let next = [t_timer, t_mid, t_input].into_iter().flatten().min();
            let Some(now) = next else { break };
            if now >= until {
                break;
            }
            if let Some(w) = watch.as_mut() {
                self.look(w, Some(now));
            }
            if t_timer == Some(now) {
                let Some(Reverse((_, _, d, id))) = self.timers.pop() else {
                    break;
                };
                self.fire(d, id, now);
            } else if t_mid == Some(now) {
                self.midnight(now);
                next_midnight = self.next_midnight(now + Duration::minutes(1));
            } else {
                let Some((_, _, what)) = inputs.next() else {
                    break;
                };
                i += 1;
                self.input(what, now);
                if let Some(p) = progress.as_mut() {
                    p(i as u64, total);
                }
            }
            if !self.out.is_empty() {
                sink(&mut self.out);
                self.out.clear();
            }
        }
        if let Some(w) = watch.as_mut() {
            self.look(w, None);
        }
        Ok(End {
            finals: self.deals.into_iter().map(|deal| Final { deal }).collect(),
            until,
            steps: self.steps,
            records: self.records,
            midnights: self.midnights,
        })
    }

    /// Shows the world to `watch` at each of its moments before `next` (all that are left
    /// when the clock stops), and forgets them.
    fn look(&self, watch: &mut Watch<'_>, next: Option<DateTime<Utc>>) {
        let world = World {
            deals: &self.deals,
            index: &self.index,
        };
        while let Some(&t) = watch.at.get(watch.seen)
            && next.is_none_or(|n| t < n)
        {
            (watch.look)(watch.seen, &world);
            watch.seen += 1;
        }
    }

    fn next_midnight(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        next_midnight(self.plan.tz, after)
    }

    fn input(&mut self, what: What, now: DateTime<Utc>) {
        self.steps += 1;
        match what {
            What::Deal {
                id,
                title,
                stages,
                fields,
            } => {
                if self.index.contains_key(&id) {
                    let why = format!("a deal `{id}` already exists");
                    self.refuse_deal(&id, &stages, now, &StepError::Refused(why));
                    return;
                }
                let req = Creation {
                    id,
                    title,
                    stages,
                    fields,
                    quiet: false,
                    done: Vec::new(),
                };
                match engine::create(self.ctx(now), &req) {
                    Ok(out) => self.commit(None, out),
                    Err(e) => self.refuse_deal(&req.id, &req.stages, now, &e),
                }
            }
            What::Event {
                deal,
                name,
                payload,
                by,
            } => {
                let input = Input::Event { name, payload, by };
                self.apply_to(&deal, &input, now);
            }
            What::Task {
                deal,
                task,
                action,
                by,
            } => {
                if action == engine::TaskAction::Start {
                    self.pause_elsewhere(&deal, &task, by.as_deref(), now);
                }
                let input = Input::Task { task, action, by };
                self.apply_to(&deal, &input, now);
            }
            What::Edit {
                deal,
                fields,
                clear,
                by,
            } => {
                let input = Input::Edit { fields, clear, by };
                self.apply_to(&deal, &input, now);
            }
        }
    }

    /// One running timer per person: before a start, the person's timer on another deal is
    /// paused (its time logged there), as the daemon's writer does.
    fn pause_elsewhere(&mut self, deal: &str, task: &str, by: Option<&str>, now: DateTime<Utc>) {
        let Some(&d) = self.index.get(deal) else {
            return;
        };
        let Some(user) = engine::worker_of(&self.deals[d], task, by) else {
            return;
        };
        let running = self.live.iter().find_map(|&i| {
            let other = &self.deals[i];
            (i != d)
                .then(|| engine::running_timer(other, &user))
                .flatten()
                .map(|t| (other.id.to_string(), t))
        });
        if let Some((other, task)) = running {
            let input = Input::Task {
                task,
                action: engine::TaskAction::Pause,
                by: Some(user),
            };
            self.apply_to(&other, &input, now);
        }
    }

    fn refuse_deal(&mut self, id: &str, stages: &[String], now: DateTime<Utc>, error: &StepError) {
        let (line, error) = (error.line(), error.message().to_string());
        let stages = if stages.is_empty() {
            self.plan
                .stages
                .first()
                .map(|s| vec![s.name.clone()])
                .unwrap_or_default()
        } else {
            stages.to_vec()
        };
        self.emit(Record {
            at: now,
            deal: id.into(),
            kind: Kind::DealRefused { stages, error },
            cause: "created".into(),
            line,
        });
    }

    fn apply_to(&mut self, deal: &str, input: &Input, now: DateTime<Utc>) {
        let Some(&d) = self.index.get(deal) else {
            let kind = match input {
                Input::Event { name, .. } => Kind::EventRefused {
                    event: name.clone(),
                    error: format!("there is no deal `{deal}`"),
                },
                Input::Task { task, .. } => Kind::StepFailed {
                    cause: format!("task {task}"),
                    error: format!("there is no deal `{deal}`"),
                },
                _ => Kind::StepFailed {
                    cause: String::new(),
                    error: format!("there is no deal `{deal}`"),
                },
            };
            self.emit(Record {
                at: now,
                deal: deal.into(),
                kind,
                cause: "".into(),
                line: None,
            });
            return;
        };
        self.step(d, input, now);
    }

    fn step(&mut self, d: usize, input: &Input, now: DateTime<Utc>) {
        let result = engine::apply(self.ctx(now), &self.deals[d], input);
        match result {
            Ok(out) => self.commit(Some(d), out),
            Err(err) => {
                let cause = input.cause(&self.deals[d], self.plan);
                match (&err, input) {
                    (
                        StepError::Refused(_)
                        | StepError::NotNow(_)
                        | StepError::Missing(_)
                        | StepError::Required { .. },
                        Input::Event { name, .. },
                    ) => {
                        let kind = Kind::EventRefused {
                            event: name.clone(),
                            error: err.message().to_string(),
                        };
                        self.emit(Record {
                            at: now,
                            deal: self.deals[d].id.clone(),
                            kind,
                            cause: cause.into(),
                            line: err.line(),
                        });
                    }
                    (e, _) => self.failed(d, now, &cause, e),
                }
            }
        }
    }

    /// Records that a step of deal `d` broke and was undone.
    fn failed(&mut self, d: usize, now: DateTime<Utc>, cause: &str, err: &StepError) {
        self.emit(Record {
            at: now,
            deal: self.deals[d].id.clone(),
            kind: Kind::StepFailed {
                cause: cause.to_string(),
                error: err.message().to_string(),
            },
            cause: cause.into(),
            line: None,
        });
    }

    fn fire(&mut self, d: usize, id: u64, now: DateTime<Utc>) {
        let live = self.deals[d]
            .timers
            .iter()
            .any(|a| a.id == id && !a.fired && a.fires_at == now);
        if live {
            self.steps += 1;
            self.step(d, &Input::Timer { id }, now);
        }
    }

    fn midnight(&mut self, now: DateTime<Utc>) {
        // Deals that ended stay ended: they leave the list for good.
        let mut live = std::mem::take(&mut self.live);
        live.retain(|&d| self.deals[d].is_live());
        for &d in &live {
            self.midnights += 1;
            // The deal goes to the engine and comes back; an empty deal (made once) holds its
            // place meanwhile.
            let placeholder = self.spare.take().unwrap_or_default();
            let deal = std::mem::replace(&mut self.deals[d], placeholder);
            let (deal, result) = engine::midnight(self.ctx(now), deal);
            self.spare = Some(std::mem::replace(&mut self.deals[d], deal));
            match result {
                Ok(records) => records.into_iter().for_each(|r| self.emit(r)),
                Err(e) => self.failed(d, now, "midnight", &e),
            }
        }
        self.live = live;
    }

    fn commit(&mut self, at: Option<usize>, out: Outcome) {
        self.team.apply(&out.load);
        let mut deals = Vec::with_capacity(1 + out.spawned.len());
        match at {
            Some(d) => {
                let known = self.deals[d].next_timer;
                self.deals[d] = out.deal;
                deals.push((d, known));
            }
            None => {
                self.add(out.deal, &mut deals);
            }
        }
        for child in out.spawned {
            self.add(child, &mut deals);
        }
        for (idx, known) in deals {
            self.queue_timers(idx, known);
        }
        let mut records = out.records;
        self.records += records.len() as u64;
        self.out.append(&mut records);
    }

    /// Queues the timers of deal `idx` armed since `known` (its timer ids count up).
    fn queue_timers(&mut self, idx: usize, known: u64) {
        for a in &self.deals[idx].timers {
            if a.id >= known && !a.fired {
                self.seq += 1;
                self.timers.push(Reverse((a.fires_at, self.seq, idx, a.id)));
            }
        }
    }

    /// Starts the world with deals that already exist (a what-if run on live data): they and
    /// their waiting timers are there before the first input.
    pub fn seed(&mut self, deals: Vec<Deal>) {
        for deal in deals {
            let mut added = Vec::new();
            self.add(deal, &mut added);
            for (idx, known) in added {
                self.queue_timers(idx, known);
            }
        }
    }

    fn emit(&mut self, r: Record) {
        self.records += 1;
        self.out.push(r);
    }

    fn add(&mut self, deal: Deal, deals: &mut Vec<(usize, u64)>) -> usize {
        let idx = self.deals.len();
        self.index.insert(deal.id.to_string(), idx);
        self.deals.push(deal);
        self.live.push(idx);
        deals.push((idx, 0));
        idx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_are_read_in_the_pipelines_zone_unless_they_carry_an_offset() {
        let flow = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/web-studio.flow");
        let ready = crate::load::RuleFile::read(&flow)
            .expect("readable")
            .ready()
            .expect("valid");
        let sim = Simulation::new(&ready.plan, None, Team::default());
        let utc = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        // Europe/Moscow is UTC+3.
        for (written, meant) in [
            ("2026-03-02T09:15", "2026-03-02T06:15:00Z"),
            ("2026-03-02T09:15:30", "2026-03-02T06:15:30Z"),
            ("2026-03-02 09:15", "2026-03-02T06:15:00Z"),
            ("2026-03-02", "2026-03-01T21:00:00Z"),
            (" 2026-03-02T09:15 ", "2026-03-02T06:15:00Z"),
            ("2026-03-02T09:15:00+01:00", "2026-03-02T08:15:00Z"),
            ("2026-03-02T09:15:00Z", "2026-03-02T09:15:00Z"),
        ] {
            assert_eq!(sim.moment(written), Ok(utc(meant)), "{written}");
        }
        for wrong in [
            "next tuesday",
            "2026-02-30T09:15",
            "2026-03-02T24:00",
            "2026-03-02T0a:15",
        ] {
            assert_eq!(
                sim.moment(wrong).map_err(|e| e.to_string()),
                Err(format!("`{wrong}` is not a moment like 2026-03-02T09:15")),
            );
        }
    }
}
