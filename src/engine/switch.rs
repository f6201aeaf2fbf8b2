//! The switch: a live deal passes from the rules it ran under to new ones. One function, used
//! by the daemon's reload, by the what-if and by `plan`, so that what they show is what happens.
//!
//! The deal comes already read under the new rules (its stages, fields and timers found again
//! by name; see the store's codec), with what could not be found in a [`Left`]. The switch
//! sends nothing and takes no transition: it arms the timers the new rules add, moves those
//! whose moment changed, drops those the new rules no longer have, never arms again a timer
//! that already fired during this visit of its stage, and checks the alerts. A timer whose
//! moment has already passed fires once right after the switch, as the deal's next step.

use chrono::{DateTime, Utc};

use super::eval::Env;
use super::timers::{stage_timers, timer_label, timer_line};
use super::{Ctx, Deal, Kind, Outcome, StepError, Stepper, TrackState};
use crate::compile::StageId;

/// What reading a deal under new rules could not carry over as it was.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Left {
    /// Timers of the deal the new rules no longer have.
    pub timers: Vec<LeftTimer>,
    /// Tracks that stood in a stage the new rules no longer have, placed by a `migrate` line.
    pub stages: Vec<MigratedTrack>,
    /// Values of fields the new rules no longer have, carried by a `migrate` line.
    pub fields: Vec<CarriedField>,
}

/// A track placed in another stage by `migrate stage OLD -> NEW`.
#[derive(Debug, Clone, PartialEq)]
pub struct MigratedTrack {
    /// The track.
    pub track: u32,
    /// The stage it stood in (gone from the new rules).
    pub from: String,
    /// Where it stands now.
    pub to: StageId,
    /// It enters its new stage as an arriving deal would (`with on enter`).
    pub enter: bool,
    /// The `migrate` line.
    pub line: usize,
}

/// A value carried into another field by `migrate field OLD -> NEW`.
#[derive(Debug, Clone, PartialEq)]
pub struct CarriedField {
    /// The field it went to.
    pub field: usize,
    /// The field it was in (gone from the new rules).
    pub from: String,
    /// The `migrate` line.
    pub line: usize,
}

/// A timer of a deal that the new rules no longer have.
#[derive(Debug, Clone, PartialEq)]
pub struct LeftTimer {
    /// Its id in the deal.
    pub id: u64,
    /// Its name under the rules it was set by.
    pub label: String,
    /// When it fires (or fired).
    pub fires_at: DateTime<Utc>,
    /// It already fired.
    pub fired: bool,
}

/// One thing the switch changes for a deal (or, for a fired timer, does not).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A track moved out of a stage the new rules no longer have, by a `migrate` line.
    StageMigrated {
        /// The stage it stood in.
        from: String,
        /// The stage it stands in now.
        to: String,
        /// It entered it with its `on enter`.
        enter: bool,
        /// The `migrate` line.
        line: usize,
    },
    /// A value carried into a renamed field by a `migrate` line.
    FieldCarried {
        /// The old field.
        from: String,
        /// The new one.
        to: String,
        /// The `migrate` line.
        line: usize,
    },
    /// A timer new to the deal's stage is armed; `overdue`: its moment has passed, it fires
    /// right after the switch.
    TimerAdded {
        /// The timer.
        timer: String,
        /// When it fires.
        fires_at: DateTime<Utc>,
        /// Its moment has passed.
        overdue: bool,
        /// Its id in the deal.
        id: u64,
    },
    /// A waiting timer's moment changed.
    TimerMoved {
        /// The timer.
        timer: String,
        /// When it would have fired.
        from: DateTime<Utc>,
        /// When it fires now.
        to: DateTime<Utc>,
        /// Its moment has passed: it fires right after the switch.
        overdue: bool,
        /// Its id in the deal (a new one).
        id: u64,
    },
    /// A waiting timer the new rules no longer have.
    TimerDropped {
        /// The timer.
        timer: String,
        /// When it would have fired.
        fires_at: DateTime<Utc>,
    },
    /// A timer that already fired during this visit of its stage; its moment is another under
    /// the new rules, and it is not armed again.
    TimerNotRearmed {
        /// The timer.
        timer: String,
        /// The moment it fired for.
        fired_for: DateTime<Utc>,
        /// Its moment under the new rules.
        now_for: DateTime<Utc>,
    },
}

/// A deal after the switch.
#[derive(Debug, Clone)]
pub struct Switched {
    /// The deal, its records (timers set, moved, dropped; alerts raised or cleared) and load.
    pub outcome: Outcome,
    /// What changed, for a plan.
    pub changes: Vec<Change>,
    /// Ids of the timers the deal no longer has that were waiting (their rows go).
    pub gone: Vec<u64>,
}

impl Switched {
    /// Whether the switch changed anything of the deal.
    pub fn changed(&self) -> bool {
        !self.outcome.records.is_empty()
            || !self.gone.is_empty()
            || self
                .changes
                .iter()
                .any(|c| matches!(c, Change::TimerNotRearmed { .. }))
    }
}

/// Passes `deal` (read under `ctx.plan`, with what could not be carried over in `left`) to the
/// rules of `ctx`. `cause` names the switch in the deal's history (`rules version 7`).
pub fn switch(ctx: Ctx<'_>, deal: &Deal, left: &Left, cause: &str) -> Result<Switched, StepError> {
    let mut s = Stepper::new(ctx, deal.clone(), cause);
    let mut changes = Vec::new();
    let mut gone = Vec::new();
    migrate(&mut s, left, &mut changes)?;
    // Derived fields as the new rules compute them, before timers that may read them.
    s.derive(false)?;
    for t in &left.timers {
        if !t.fired {
            gone.push(t.id);
            s.record(
                Kind::TimerDropped {
                    timer: t.label.clone(),
                },
                None,
            );
            changes.push(Change::TimerDropped {
                timer: t.label.clone(),
                fires_at: t.fires_at,
            });
        }
    }
    // Timers of tracks that are no longer where they were set stay as they are: only the
    // active stages' timers are derived.
    let plan = ctx.plan;
    for (track, stage) in s.active_tracks() {
        let def = &plan.stages[stage];
        for which in stage_timers(def) {
            let want = s.fires_at(track, stage, which).map_err(StepError::Failed)?;
            let pos = s.armed_at(track, stage, which);
            match (pos, want) {
                (Some(p), Some(t)) if s.deal.timers[p].target == t => {}
                (Some(p), Some(t)) if s.deal.timers[p].fired => {
                    let timer = timer_label(plan, &s.deal, &s.deal.timers[p]);
                    let a = &mut s.deal.timers[p];
                    let fired_for = a.target;
                    a.target = t;
                    changes.push(Change::TimerNotRearmed {
                        timer,
                        fired_for,
                        now_for: t,
                    });
                }
                (Some(p), Some(t)) => {
                    let old = s.deal.timers.remove(p);
                    gone.push(old.id);
                    let id = s.push_timer(track, stage, which, t);
                    let to = t.max(ctx.now);
                    // The record of the new moment says it was moved, not set.
                    if let Some(r) = s.records.last_mut() {
                        r.kind = Kind::TimerMoved {
                            timer: timer_label(plan, &s.deal, &old),
                            from: old.fires_at,
                            fires_at: to,
                        };
                    }
                    changes.push(Change::TimerMoved {
                        timer: timer_label(plan, &s.deal, &old),
                        from: old.fires_at,
                        to,
                        overdue: t <= ctx.now,
                        id,
                    });
                }
                (Some(p), None) => {
                    let old = s.deal.timers.remove(p);
                    if !old.fired {
                        gone.push(old.id);
                        let label = timer_label(plan, &s.deal, &old);
                        s.record(
                            Kind::TimerDropped {
                                timer: label.clone(),
                            },
                            timer_line(def, which),
                        );
                        changes.push(Change::TimerDropped {
                            timer: label,
                            fires_at: old.fires_at,
                        });
                    }
                }
                (None, Some(t)) => {
                    let id = s.push_timer(track, stage, which, t);
                    changes.push(Change::TimerAdded {
                        timer: s
                            .deal
                            .timers
                            .last()
                            .map(|a| timer_label(plan, &s.deal, a))
                            .unwrap_or_default(),
                        fires_at: t.max(ctx.now),
                        overdue: t <= ctx.now,
                        id,
                    });
                }
                (None, None) => {}
            }
        }
    }
    s.close_tasks();
    s.alerts(false)?;
    Ok(Switched {
        outcome: s.finish(),
        changes,
        gone,
    })
}

/// Tracks and values `migrate` lines carry over. A migrated track stands in its new stage as
/// it stood in the old one (the same visit: its clock and timers go on, as for a renamed
/// stage); with `with on enter` it enters it anew: the visit starts now, `on enter` runs, and
/// the stage's timers are armed afresh. A final stage ends the track.
fn migrate(s: &mut Stepper<'_>, left: &Left, changes: &mut Vec<Change>) -> Result<(), StepError> {
    let plan = s.ctx.plan;
    for c in &left.fields {
        let field = plan.fields[c.field].name.clone();
        let value = s.deal.values.get(c.field).cloned().flatten();
        s.record(
            Kind::FieldSet {
                field: field.clone(),
                value,
                derived: false,
                was: None,
            },
            Some(c.line),
        );
        changes.push(Change::FieldCarried {
            from: c.from.clone(),
            to: field,
            line: c.line,
        });
    }
    for m in &left.stages {
        let def = &plan.stages[m.to];
        s.record(
            Kind::StageMigrated {
                from: m.from.clone(),
                stage: def.name.clone(),
            },
            Some(m.line),
        );
        changes.push(Change::StageMigrated {
            from: m.from.clone(),
            to: def.name.clone(),
            enter: m.enter,
            line: m.line,
        });
        let now = s.ctx.now;
        if let Some(t) = s.deal.tracks.iter_mut().find(|t| t.id == m.track) {
            // Entering anew starts the visit's clock; a renamed stage keeps it.
            if m.enter {
                t.entered_at = now;
            }
            t.state = if def.is_final {
                TrackState::Ended
            } else {
                TrackState::Active
            };
        }
        if m.enter {
            let env = Env::stage(m.to);
            for rule in &def.on_enter {
                s.run(&rule.body, &env, Some(rule.line))?;
            }
        }
    }
    Ok(())
}
