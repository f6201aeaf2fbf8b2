//! Timers: when a stage's timer lines and timer transitions fall due, arming them, following
//! their moments, firing them, and how a timer is known from one version of the rules to the
//! next.

use chrono::{DateTime, Utc};

use super::eval::Env;
use super::{Armed, Deal, Kind, StepError, Stepper, TimerRef};
use crate::compile::{Plan, StageDef, StageId, TimerAt, Trigger};
use crate::value::Value;

/// The readable name of an armed timer of `deal`.
pub fn timer_label(plan: &Plan, deal: &Deal, a: &Armed) -> String {
    let stage = &plan.stages[a.stage];
    match a.which {
        TimerRef::Reminder(i) => deal
            .tasks
            .get(i)
            .map(|t| format!("⏰ {}", t.id))
            .unwrap_or_default(),
        TimerRef::Line(i) => stage
            .timers
            .get(i)
            .map(|t| t.label.clone())
            .unwrap_or_default(),
        TimerRef::Transition(i) => stage
            .transitions
            .get(i)
            .map(|t| t.label.clone())
            .unwrap_or_default(),
    }
}

/// The pipeline line of a stage's timer.
pub(crate) fn timer_line(def: &StageDef, which: TimerRef) -> Option<usize> {
    match which {
        TimerRef::Line(i) => def.timers.get(i).map(|t| t.rule.line),
        TimerRef::Transition(i) => def.transitions.get(i).map(|t| t.line),
        TimerRef::Reminder(_) => None,
    }
}

/// How a timer is known from one version of the rules to the next, within its stage: whether
/// it is a timer line or a transition's trigger, whether it is an `at` or an `after`, and its
/// name (`as NAME`) or, without one, its place among the stage's unnamed timers of that sort
/// (0 for the first unnamed `at` line, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerKey {
    /// A transition's trigger, not an `after`/`at` line.
    pub transition: bool,
    /// An `at` timer, not an `after`.
    pub at: bool,
    /// Its name, when the line gives one.
    pub name: Option<String>,
    /// Its place among the stage's unnamed timers of its sort.
    pub ordinal: usize,
}

/// A stored timer being looked for under new rules.
#[derive(Debug, Clone, Copy)]
pub struct Sought<'a> {
    /// Its key; `None` for timers stored before timers had keys (found by label or position).
    pub key: Option<&'a TimerKey>,
    /// A transition's trigger.
    pub transition: bool,
    /// Its label when it was stored (the line's text).
    pub label: &'a str,
    /// Its position among the stage's lines or transitions when it was stored.
    pub index: usize,
}

/// One timer of a stage, as matching sees it.
struct Candidate<'p> {
    which: TimerRef,
    transition: bool,
    at: bool,
    name: Option<&'p str>,
    label: &'p str,
    ordinal: usize,
}

fn candidates(def: &StageDef) -> Vec<Candidate<'_>> {
    let mut all = Vec::new();
    for (i, t) in def.timers.iter().enumerate() {
        let at = matches!(t.at, TimerAt::At { .. });
        all.push((
            TimerRef::Line(i),
            false,
            at,
            t.name.as_deref(),
            t.label.as_str(),
        ));
    }
    for (i, t) in def.transitions.iter().enumerate() {
        if let Trigger::Timer(when) = &t.trigger {
            let at = matches!(when, TimerAt::At { .. });
            all.push((
                TimerRef::Transition(i),
                true,
                at,
                t.timer_name.as_deref(),
                t.label.as_str(),
            ));
        }
    }
    let mut out: Vec<Candidate<'_>> = Vec::with_capacity(all.len());
    for (which, transition, at, name, label) in all {
        let ordinal = out
            .iter()
            .filter(|c| c.transition == transition && c.at == at && c.name.is_none())
            .count();
        out.push(Candidate {
            which,
            transition,
            at,
            name,
            label,
            ordinal,
        });
    }
    out
}

/// Every timer of a stage: its lines, then its timer transitions.
pub(crate) fn stage_timers(def: &StageDef) -> Vec<TimerRef> {
    candidates(def).into_iter().map(|c| c.which).collect()
}

/// The key of a stage's timer (`None` when the stage has no such timer).
pub fn timer_key(def: &StageDef, which: TimerRef) -> Option<TimerKey> {
    candidates(def)
        .into_iter()
        .find(|c| c.which == which)
        .map(|c| TimerKey {
            transition: c.transition,
            at: c.at,
            name: c.name.map(str::to_string),
            ordinal: c.ordinal,
        })
}

/// Where the stored timers of one track in one stage are under new rules (`None`: the rules no
/// longer have it), in their order. First by what does not change when lines move: a named
/// timer by its name, an unnamed one by its unchanged line. Then an unnamed timer whose line
/// was edited, by its place among the stage's unnamed timers of its sort; failing that, by
/// its place among those and the lines named since (a line given a name where it stood is
/// still the same timer). Timers stored before timers had keys fall back to their old
/// position. No two stored timers get the same one.
pub fn match_timers(def: &StageDef, sought: &[Sought<'_>]) -> Vec<Option<TimerRef>> {
    let cands = candidates(def);
    let mut taken = vec![false; cands.len()];
    let mut found: Vec<Option<TimerRef>> = vec![None; sought.len()];
    for (n, s) in sought.iter().enumerate() {
        let hit = cands.iter().enumerate().position(|(i, c)| {
            !taken[i]
                && c.transition == s.transition
                && match named(s) {
                    Some(name) => c.name == Some(name),
                    None => c.name.is_none() && line_text(c.label) == line_text(s.label),
                }
        });
        if let Some(i) = hit {
            taken[i] = true;
            found[n] = Some(cands[i].which);
        }
    }
    let names_kept: Vec<&str> = sought.iter().filter_map(|s| named(s)).collect();
    // A line named since the deal's timers were stored.
    let newly_named = |c: &Candidate<'_>| c.name.is_some_and(|name| !names_kept.contains(&name));
    for (n, s) in sought.iter().enumerate() {
        if found[n].is_some() || named(s).is_some() {
            continue;
        }
        let hit = match s.key {
            Some(k) => {
                let sort = |c: &&Candidate<'_>| c.transition == k.transition && c.at == k.at;
                let strict = cands
                    .iter()
                    .filter(sort)
                    .filter(|c| c.name.is_none())
                    .nth(k.ordinal);
                let loose = || {
                    cands
                        .iter()
                        .filter(sort)
                        .filter(|c| c.name.is_none() || newly_named(c))
                        .nth(k.ordinal)
                        .filter(|c| newly_named(c))
                };
                strict.or_else(loose).map(|c| c.which)
            }
            None => cands
                .iter()
                .find(|c| {
                    let index = match c.which {
                        TimerRef::Line(i) | TimerRef::Transition(i) | TimerRef::Reminder(i) => i,
                    };
                    c.transition == s.transition
                        && index == s.index
                        && c.at == label_is_at(s.label)
                        && (c.name.is_none() || newly_named(c))
                })
                .map(|c| c.which),
        };
        let Some(which) = hit else { continue };
        let Some(i) = cands.iter().position(|c| c.which == which) else {
            continue;
        };
        if !taken[i] {
            taken[i] = true;
            found[n] = Some(which);
        }
    }
    found
}

fn named<'a>(s: &Sought<'a>) -> Option<&'a str> {
    s.key.and_then(|k| k.name.as_deref())
}

/// A label without its stage (`at meeting_at - 2h` of `meeting: at meeting_at - 2h`): the
/// same line in a renamed stage is the same timer.
fn line_text(label: &str) -> &str {
    label.split_once(": ").map_or(label, |(_, l)| l)
}

/// Whether a stored label (`stage: at …`, `stage: -> x at …`) is an `at` timer's.
fn label_is_at(label: &str) -> bool {
    let line = line_text(label);
    line.starts_with("at ") || line.contains(" at ")
}

impl Stepper<'_> {
    fn timer_at(&self, stage: StageId, which: TimerRef) -> Option<&TimerAt> {
        let def = &self.ctx.plan.stages[stage];
        match which {
            TimerRef::Line(i) => def.timers.get(i).map(|t| &t.at),
            TimerRef::Transition(i) => match &def.transitions.get(i)?.trigger {
                Trigger::Timer(at) => Some(at),
                _ => None,
            },
            TimerRef::Reminder(_) => None,
        }
    }

    /// The moment a timer of this track is for now (its expression's value), if it has one.
    pub(crate) fn fires_at(
        &mut self,
        track: u32,
        stage: StageId,
        which: TimerRef,
    ) -> Result<Option<DateTime<Utc>>, String> {
        let Some(at) = self.timer_at(stage, which).cloned() else {
            return Ok(None);
        };
        let env = Env::stage(stage);
        Ok(match at {
            TimerAt::After(e) => {
                let entered = self
                    .deal
                    .tracks
                    .iter()
                    .find(|t| t.id == track)
                    .map_or(self.ctx.now, |t| t.entered_at);
                match self.eval(&e, &env)? {
                    Some(Value::Duration(d)) => self.add_to_moment(entered, d, 1),
                    _ => None,
                }
            }
            TimerAt::At { end_of, at } => {
                self.eval(&at, &env)?.and_then(|v| self.moment(&v, end_of))
            }
        })
    }

    /// Arms a timer of a stage the track just entered.
    pub(crate) fn arm(
        &mut self,
        track: u32,
        stage: StageId,
        which: TimerRef,
    ) -> Result<(), String> {
        if let Some(t) = self.fires_at(track, stage, which)? {
            self.push_timer(track, stage, which, t);
        }
        Ok(())
    }

    /// Arms a timer for the moment `t` (at once when `t` has passed); gives its id.
    pub(crate) fn push_timer(
        &mut self,
        track: u32,
        stage: StageId,
        which: TimerRef,
        t: DateTime<Utc>,
    ) -> u64 {
        let fires_at = t.max(self.ctx.now);
        let id = self.deal.next_timer;
        self.deal.next_timer += 1;
        let armed = Armed {
            id,
            track,
            stage,
            which,
            fires_at,
            target: t,
            fired: false,
        };
        let label = timer_label(self.ctx.plan, &self.deal, &armed);
        self.deal.timers.push(armed);
        let line = timer_line(&self.ctx.plan.stages[stage], which);
        self.record(
            Kind::TimerSet {
                timer: label,
                fires_at,
            },
            line,
        );
        id
    }

    /// `at` timers follow their expression: when its value changes, the timer moves.
    pub(crate) fn rearm(&mut self) -> Result<(), String> {
        let plan = self.ctx.plan;
        for (track, stage) in self.active_tracks() {
            let def = &plan.stages[stage];
            let lines = def
                .timers
                .iter()
                .enumerate()
                .filter(|(_, t)| matches!(t.at, TimerAt::At { .. }))
                .map(|(i, _)| TimerRef::Line(i));
            let transitions = def
                .transitions
                .iter()
                .enumerate()
                .filter(|(_, t)| matches!(t.trigger, Trigger::Timer(TimerAt::At { .. })))
                .map(|(i, _)| TimerRef::Transition(i));
            for which in lines.chain(transitions) {
                let want = self.fires_at(track, stage, which)?;
                let pos = self.armed_at(track, stage, which);
                match (pos, want) {
                    // Same moment as before (fired or not): nothing to do.
                    (Some(p), Some(t)) if self.deal.timers[p].target == t => {}
                    (Some(p), Some(t)) => {
                        self.deal.timers.remove(p);
                        self.push_timer(track, stage, which, t);
                    }
                    (Some(p), None) => {
                        self.deal.timers.remove(p);
                    }
                    (None, Some(t)) => {
                        self.push_timer(track, stage, which, t);
                    }
                    (None, None) => {}
                }
            }
        }
        Ok(())
    }

    /// Where a track's timer sits among the deal's, if it is armed (or fired this visit).
    pub(crate) fn armed_at(&self, track: u32, stage: StageId, which: TimerRef) -> Option<usize> {
        self.deal
            .timers
            .iter()
            .position(|a| a.track == track && a.stage == stage && a.which == which)
    }

    /// A timer fell due: its actions run (or its transition is taken) when its condition holds.
    pub(crate) fn timer(&mut self, id: u64) -> Result<(), StepError> {
        let Some(pos) = self.deal.timers.iter().position(|a| a.id == id && !a.fired) else {
            return Ok(());
        };
        self.deal.timers[pos].fired = true;
        let armed = self.deal.timers[pos].clone();
        if let TimerRef::Reminder(task) = armed.which {
            // Kept no longer: a task is reminded of once.
            self.deal.timers.remove(pos);
            return self.overdue_notice(task);
        }
        let plan = self.ctx.plan;
        let def = &plan.stages[armed.stage];
        self.record(
            Kind::TimerFired {
                timer: timer_label(plan, &self.deal, &armed),
            },
            timer_line(def, armed.which),
        );
        if !self.track_is(armed.track, armed.stage) {
            return Ok(());
        }
        let env = Env::stage(armed.stage);
        match armed.which {
            TimerRef::Line(i) => {
                let t = &def.timers[i];
                if self
                    .holds(t.guard.as_ref(), &env)
                    .map_err(StepError::Failed)?
                {
                    self.run(&t.rule.body, &env, Some(t.rule.line))?;
                }
            }
            TimerRef::Transition(i) => {
                let t = &def.transitions[i];
                if self
                    .holds(t.guard.as_ref(), &env)
                    .map_err(StepError::Failed)?
                {
                    self.take(armed.track, armed.stage, i)?;
                }
            }
            TimerRef::Reminder(_) => {}
        }
        Ok(())
    }
}
