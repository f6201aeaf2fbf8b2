//! Entering and leaving stages, tracks and joins, timers, payloads and task work.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::eval::Env;
use super::{Creation, Kind, StepError, Stepper, TimerRef, Track, TrackState};
use crate::compile::{PayloadType, Slot, StageId};
use crate::types::Ty;
use crate::value::Value;

impl Stepper<'_> {
    pub(crate) fn create(
        &mut self,
        req: &Creation,
        parent: Option<String>,
    ) -> Result<(), StepError> {
        let plan = self.ctx.plan;
        let stages: Vec<StageId> = if req.stages.is_empty() {
            vec![0]
        } else {
            req.stages
                .iter()
                .map(|n| {
                    plan.stage_index.get(n).copied().ok_or_else(|| {
                        StepError::Refused(format!("the pipeline has no stage `{n}`"))
                    })
                })
                .collect::<Result<_, _>>()?
        };
        if plan.stages.is_empty() {
            return Err(StepError::Refused("the pipeline has no stages".into()));
        }
        self.deal.parent = parent.as_deref().map(Into::into);
        let names = stages
            .iter()
            .map(|&s| plan.stages[s].name.clone())
            .collect();
        self.record(
            Kind::DealCreated {
                stages: names,
                parent,
                quiet: req.quiet,
            },
            None,
        );
        for (name, v) in &req.fields {
            let slot = self
                .slot_by_name(name)
                .ok_or_else(|| StepError::Refused(format!("the deal has no field `{name}`")))?;
            self.not_derived(slot, name)?;
            let v = self
                .convert_slot(slot, name, v)
                .map_err(StepError::Refused)?;
            self.set_slot(slot, Some(v), None);
        }
        let missing: Vec<String> = plan
            .fields
            .iter()
            .zip(self.deal.values.iter())
            .filter(|(f, v)| f.required && v.is_none())
            .map(|(f, _)| format!("`{}`", f.name))
            .collect();
        if !missing.is_empty() {
            return Err(StepError::Refused(format!(
                "a deal needs {} to be created",
                missing.join(", ")
            )));
        }
        let tasks = plan.task_ids();
        if let Some(unknown) = req.done.iter().find(|t| !tasks.contains(t.as_str())) {
            return Err(StepError::Refused(format!(
                "the pipeline makes no task `{unknown}` (given as done)"
            )));
        }
        let track = self.new_track(stages[0]);
        // An import starts at its stages without their `on enter` actions (no welcome SMS to
        // five thousand old clients), but with the tasks a way out waits on, lest production
        // be passed at once; whatever happens after that is a step like any other.
        self.quiet = req.quiet;
        self.done.clone_from(&req.done);
        let entered = self.enter_targets(track, &stages);
        self.quiet = false;
        self.done.clear();
        entered?;
        self.settle()
    }

    pub(crate) fn new_track(&mut self, stage: StageId) -> u32 {
        let id = self.deal.next_track;
        self.deal.next_track += 1;
        self.deal.tracks.push(Track {
            id,
            stage,
            entered_at: self.ctx.now,
            state: TrackState::Active,
        });
        id
    }

    /// Enters `targets`: the first on `track`, each other on a new track of its own.
    pub(crate) fn enter_targets(
        &mut self,
        track: u32,
        targets: &[StageId],
    ) -> Result<(), StepError> {
        for (i, &t) in targets.iter().enumerate() {
            let id = if i == 0 { track } else { self.new_track(t) };
            self.enter(id, t)?;
        }
        Ok(())
    }

    fn set_track(&mut self, track: u32, stage: StageId, state: TrackState) {
        let now = self.ctx.now;
        if let Some(t) = self.deal.tracks.iter_mut().find(|t| t.id == track) {
            t.stage = stage;
            t.state = state;
            t.entered_at = now;
        }
    }

    fn enter(&mut self, track: u32, stage: StageId) -> Result<(), StepError> {
        self.count_move()?;
        let plan = self.ctx.plan;
        let def = &plan.stages[stage];
        let missing: Vec<String> = def
            .require
            .iter()
            .filter(|s| !self.slot_is_set(**s))
            .map(|s| format!("`{}`", self.slot_name(*s)))
            .collect();
        if !missing.is_empty() {
            return Err(StepError::Required {
                message: format!(
                    "deal `{}` cannot enter `{}`: {} {} not set",
                    self.deal.id,
                    def.name,
                    missing.join(", "),
                    if missing.len() == 1 { "is" } else { "are" }
                ),
                line: def.require_line.unwrap_or(def.line),
            });
        }
        let env = Env::stage(stage);
        if let Some(cond) = &def.skip
            && self.holds(Some(cond), &env).map_err(StepError::Failed)?
        {
            self.record(
                Kind::StageSkipped {
                    stage: def.name.clone(),
                },
                Some(def.skip_line.unwrap_or(def.line)),
            );
            if let Some(first) = def.transitions.first() {
                return self.enter_targets(track, &first.targets.clone());
            }
            self.set_track(track, stage, TrackState::Active);
            return Ok(());
        }
        if def.join {
            let others = self
                .deal
                .tracks
                .iter()
                .any(|t| t.id != track && t.state == TrackState::Active);
            if others {
                self.set_track(track, stage, TrackState::Waiting);
                self.record(
                    Kind::TrackWaiting {
                        stage: def.name.clone(),
                    },
                    Some(def.line),
                );
                return Ok(());
            }
            self.deal
                .tracks
                .retain(|t| t.id == track || !(t.state == TrackState::Waiting && t.stage == stage));
        }
        self.set_track(track, stage, TrackState::Active);
        self.record(
            Kind::StageEntered {
                stage: def.name.clone(),
            },
            Some(def.line),
        );
        // Quietly, `run` makes only the tasks of these lines: and only where a way out waits
        // on them.
        if !self.quiet || def.waits_on_tasks() {
            for rule in &def.on_enter {
                self.run(&rule.body, &env, Some(rule.line))?;
            }
        }
        if def.is_final {
            self.set_track(track, stage, TrackState::Ended);
            return Ok(());
        }
        for which in super::timers::stage_timers(def) {
            self.arm(track, stage, which).map_err(StepError::Failed)?;
        }
        Ok(())
    }

    /// Leaves a stage through its `i`-th transition.
    pub(crate) fn take(&mut self, track: u32, stage: StageId, i: usize) -> Result<(), StepError> {
        self.count_move()?;
        let plan = self.ctx.plan;
        let def = &plan.stages[stage];
        let t = &def.transitions[i];
        let env = Env::stage(stage);
        self.record(
            Kind::StageLeft {
                stage: def.name.clone(),
            },
            Some(t.line),
        );
        for rule in &def.on_exit {
            self.run(&rule.body, &env, Some(rule.line))?;
        }
        // A task's reminder stays: the task does.
        self.deal.timers.retain(|a| {
            !(a.track == track && a.stage == stage && !matches!(a.which, TimerRef::Reminder(_)))
        });
        self.run(&t.body, &env, Some(t.line))?;
        self.enter_targets(track, &t.targets)
    }

    /// A task of the deal to change (copied first if an earlier state still shares it).
    pub(crate) fn task_mut(&mut self, idx: usize) -> &mut super::Task {
        Arc::make_mut(&mut Arc::make_mut(&mut self.deal.tasks)[idx])
    }

    // ---- slots and payloads -------------------------------------------------------------

    pub(crate) fn slot_name(&self, s: Slot) -> String {
        match s {
            Slot::Field(f) => self.ctx.plan.fields[f].name.clone(),
            Slot::Role(r) => self.ctx.plan.roles[r].name.clone(),
        }
    }

    pub(crate) fn slot_by_name(&self, name: &str) -> Option<Slot> {
        let plan = self.ctx.plan;
        plan.field_index
            .get(name)
            .map(|&f| Slot::Field(f))
            .or_else(|| plan.role_index.get(name).map(|&r| Slot::Role(r)))
    }

    fn slot_is_set(&self, s: Slot) -> bool {
        match s {
            Slot::Field(f) => self.deal.values[f].is_some(),
            Slot::Role(r) => self.deal.slots[r].is_some(),
        }
    }

    /// Stores a value (None: unset) and records the change.
    pub(crate) fn set_slot(&mut self, s: Slot, v: Option<Value>, line: Option<usize>) {
        self.put_slot(s, v, line, false);
    }

    /// A field or role set by a person's edit: its record says the value before too.
    pub(crate) fn edit_slot(&mut self, s: Slot, v: Option<Value>) {
        self.put_slot(s, v, None, true);
    }

    fn put_slot(&mut self, s: Slot, v: Option<Value>, line: Option<usize>, by_hand: bool) {
        let before = match s {
            Slot::Field(f) => self.deal.values[f].clone(),
            Slot::Role(r) => self.deal.slots[r].clone().map(Value::User),
        };
        let changed = match s {
            Slot::Field(f) => {
                let v = v.map(|v| crate::compile::coerce(v, &self.ctx.plan.fields[f].ty));
                let changed = self.deal.values[f] != v;
                Arc::make_mut(&mut self.deal.values)[f] = v;
                changed
            }
            Slot::Role(r) => {
                let v = v.and_then(|v| v.as_text().map(str::to_string));
                let changed = self.deal.slots[r] != v;
                Arc::make_mut(&mut self.deal.slots)[r] = v;
                changed
            }
        };
        if changed {
            let value = match s {
                Slot::Field(f) => self.deal.values[f].clone(),
                Slot::Role(r) => self.deal.slots[r].clone().map(Value::User),
            };
            self.record(
                Kind::FieldSet {
                    field: self.slot_name(s),
                    value,
                    derived: matches!(s, Slot::Field(f) if self.ctx.plan.fields[f].derived),
                    was: by_hand.then_some(before),
                },
                line,
            );
        }
    }

    pub(crate) fn convert_slot(&self, slot: Slot, name: &str, v: &Value) -> Result<Value, String> {
        let ty = match slot {
            Slot::Field(f) => self.ctx.plan.fields[f].ty.clone(),
            Slot::Role(_) => Ty::User,
        };
        let v = self.convert(v, &ty, name)?;
        // A required text that shows nothing is not given (`""`, spaces, a zero-width space).
        if let (Slot::Field(f), Value::Text(t)) = (slot, &v)
            && self.ctx.plan.fields[f].required
            && crate::value::blank(t)
        {
            return Err(format!(
                "`{name}` is required: it must hold more than spaces"
            ));
        }
        Ok(v)
    }

    /// A loosely typed value (from a scenario or a request) as a value of `ty`.
    pub(crate) fn convert(&self, v: &Value, ty: &Ty, name: &str) -> Result<Value, String> {
        let bad = |what: &str| format!("`{name}` must be {what}, not `{v}`");
        Ok(match ty {
            Ty::Phone => match v {
                Value::Text(s) | Value::User(s) => {
                    crate::value::no_control(name, s, false)?;
                    Value::Text(crate::contact::phone(name, s, self.ctx.plan.country)?)
                }
                // A number has lost its `+` and leading zeros: a phone is sent as text.
                _ => return Err(bad("a phone number, as text")),
            },
            Ty::Email => match v {
                Value::Text(s) | Value::User(s) => {
                    crate::value::no_control(name, s, false)?;
                    Value::Text(crate::contact::email(name, s)?)
                }
                _ => return Err(bad("an email address")),
            },
            Ty::Telegram => match v {
                Value::Text(s) | Value::User(s) => {
                    crate::value::no_control(name, s, false)?;
                    Value::Text(crate::contact::telegram(name, s)?)
                }
                Value::Int(n) => Value::Text(n.to_string()),
                _ => return Err(bad("a Telegram chat id")),
            },
            Ty::Text | Ty::Url => match v {
                Value::Text(s) | Value::User(s) => {
                    // Tabs and line breaks only where a text may span lines.
                    crate::value::no_control(name, s, *ty == Ty::Text)?;
                    Value::Text(s.clone())
                }
                Value::Int(_) | Value::Decimal(_) => Value::Text(v.to_string()),
                _ => return Err(bad("text")),
            },
            Ty::Int => match v {
                Value::Int(n) => Value::Int(*n),
                // `215.0` is a whole number too (JSON has one kind of number).
                Value::Decimal(d) if d.fract().is_zero() => Value::Int(
                    rust_decimal::prelude::ToPrimitive::to_i64(d)
                        .ok_or_else(|| bad("a whole number"))?,
                ),
                Value::Text(s) => Value::Int(s.trim().parse().map_err(|_| bad("a whole number"))?),
                _ => return Err(bad("a whole number")),
            },
            Ty::Decimal | Ty::Money => match v {
                Value::Int(n) => Value::Decimal((*n).into()),
                Value::Decimal(d) => Value::Decimal(*d),
                Value::Text(s) => Value::Decimal(s.trim().parse().map_err(|_| bad("a number"))?),
                _ => return Err(bad("a number")),
            },
            Ty::Bool => match v {
                Value::Bool(b) => Value::Bool(*b),
                Value::Text(s) if s == "true" || s == "false" => Value::Bool(s == "true"),
                _ => return Err(bad("true or false")),
            },
            Ty::Date => match v {
                Value::Date(d) => Value::Date(*d),
                Value::Text(s) => Value::Date(
                    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                        .map_err(|_| bad("a date like 2026-03-02"))?,
                ),
                _ => return Err(bad("a date like 2026-03-02")),
            },
            Ty::DateTime => match v {
                Value::DateTime(t) => Value::DateTime(*t),
                Value::Text(s) => Value::DateTime(
                    self.parse_moment(s)
                        .ok_or_else(|| bad("a date and time like 2026-03-02T10:00"))?,
                ),
                _ => return Err(bad("a date and time like 2026-03-02T10:00")),
            },
            Ty::User => match v {
                Value::Text(s) | Value::User(s) => {
                    if self.ctx.team.member(s).is_none() {
                        return Err(format!("`{name}`: `{s}` is not in the team"));
                    }
                    Value::User(s.clone())
                }
                _ => return Err(bad("a team member's id")),
            },
            _ => v.clone(),
        })
    }

    /// `2026-03-02T10:00` in the pipeline's zone (a time the clocks skip read as on the clock
    /// before the jump, as the API's document promises), or RFC 3339 with an offset.
    pub(crate) fn parse_moment(&self, s: &str) -> Option<DateTime<Utc>> {
        crate::calendar::request_moment(self.ctx.plan.tz, s)
    }

    /// The payload checked against the event's declaration and converted to its types.
    pub(crate) fn typed_payload(
        &self,
        ev: usize,
        payload: &BTreeMap<String, Value>,
    ) -> Result<BTreeMap<String, Value>, StepError> {
        let plan = self.ctx.plan;
        let decl = &plan.events[ev];
        let mut out = BTreeMap::new();
        for (name, v) in payload {
            if let Some(&slot) = decl.sets.iter().find(|&&s| self.slot_name(s) == *name) {
                out.insert(
                    name.clone(),
                    self.convert_slot(slot, name, v)
                        .map_err(StepError::Refused)?,
                );
                continue;
            }
            let Some((_, ty)) = decl.payload.iter().find(|(n, _)| n == name) else {
                let carried: Vec<String> = decl
                    .sets
                    .iter()
                    .map(|s| self.slot_name(*s))
                    .chain(decl.payload.iter().map(|(n, _)| n.clone()))
                    .collect();
                return Err(StepError::Refused(if carried.is_empty() {
                    format!(
                        "event `{}` carries nothing, but `{name}` was given",
                        decl.name
                    )
                } else {
                    format!(
                        "event `{}` carries no `{name}` (it carries {})",
                        decl.name,
                        carried.join(", ")
                    )
                }));
            };
            let value = match ty {
                PayloadType::Scalar(t) => self.convert(v, t, name).map_err(StepError::Refused)?,
                PayloadType::List(entries) => {
                    let Value::List(items) = v else {
                        return Err(StepError::Refused(format!("`{name}` must be a list")));
                    };
                    let mut list = Vec::new();
                    for (i, item) in items.iter().enumerate() {
                        let Value::Record(rec) = item else {
                            return Err(StepError::Refused(format!(
                                "`{name}` entry {} must be a record",
                                i + 1
                            )));
                        };
                        let mut typed = BTreeMap::new();
                        for (k, x) in rec {
                            let Some((_, t)) = entries.iter().find(|(n, _)| n == k) else {
                                return Err(StepError::Refused(format!(
                                    "`{name}` entry {} has `{k}`, which the event does not declare",
                                    i + 1
                                )));
                            };
                            typed.insert(
                                k.clone(),
                                self.convert(x, t, &format!("{name}.{k}"))
                                    .map_err(StepError::Refused)?,
                            );
                        }
                        list.push(Value::Record(typed));
                    }
                    Value::List(list)
                }
            };
            out.insert(name.clone(), value);
        }
        Ok(out)
    }
}
