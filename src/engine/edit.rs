//! A person edits a deal: fields set or cleared, roles given to other people. An edit is a step
//! like any other: each change is a `field_set` record caused by "edited by PERSON", then
//! whatever the change makes happen (guard-only transitions, alerts, `at` timers armed again on
//! their field). A value is converted by its field's declaration; a required field, or one a
//! stage the deal is in requires, cannot be cleared; a role goes only to a member of the team,
//! and the open tasks that role's `task` lines gave to the person who had it go with it.

use std::collections::BTreeMap;

use super::{Kind, StepError, Stepper, TrackState};
use crate::compile::{Slot, StageDef};
use crate::value::Value;

impl Stepper<'_> {
    pub(crate) fn edit(
        &mut self,
        fields: &BTreeMap<String, Value>,
        clear: &[String],
    ) -> Result<(), StepError> {
        if fields.is_empty() && clear.is_empty() {
            return Err(StepError::Refused(
                "an edit needs a field or a role to set or clear".into(),
            ));
        }
        let mut changes: Vec<(Slot, Option<Value>)> = Vec::new();
        for (name, v) in fields {
            let slot = self.edited_slot(name)?;
            if clear.contains(name) {
                return Err(StepError::Refused(format!(
                    "`{name}` is both set and cleared"
                )));
            }
            let v = self
                .convert_slot(slot, name, v)
                .map_err(StepError::Refused)?;
            if let (Slot::Role(_), Some(person)) = (slot, v.as_text())
                && !self.ctx.team.members.is_empty()
                && self.ctx.team.member(person).is_none()
            {
                return Err(StepError::Refused(format!(
                    "`{name}`: `{person}` is not in the team"
                )));
            }
            changes.push((slot, Some(v)));
        }
        for name in clear {
            let slot = self.edited_slot(name)?;
            self.may_clear(slot, name)?;
            changes.push((slot, None));
        }
        for (slot, v) in changes {
            let before = match slot {
                Slot::Role(r) => self.deal.slots[r].clone(),
                Slot::Field(_) => None,
            };
            self.edit_slot(slot, v);
            if let Slot::Role(r) = slot {
                let after = self.deal.slots[r].clone();
                if before != after {
                    self.hand_over(r, before, after)?;
                }
            }
        }
        Ok(())
    }

    /// The field or role an edit names.
    fn edited_slot(&self, name: &str) -> Result<Slot, StepError> {
        let slot = self
            .slot_by_name(name)
            .ok_or_else(|| StepError::Refused(format!("the deal has no field or role `{name}`")))?;
        self.not_derived(slot, name)?;
        Ok(slot)
    }

    /// Refuses a derived field: its value is computed, never given.
    pub(crate) fn not_derived(&self, slot: Slot, name: &str) -> Result<(), StepError> {
        match slot {
            Slot::Field(f) if self.ctx.plan.fields[f].derived => Err(StepError::Refused(format!(
                "`{name}` is derived: it is computed from the deal and cannot be set by hand"
            ))),
            _ => Ok(()),
        }
    }

    /// Whether `slot` may be cleared: not a required field, not required by a stage a live
    /// track of the deal is in.
    fn may_clear(&self, slot: Slot, name: &str) -> Result<(), StepError> {
        let plan = self.ctx.plan;
        if let Slot::Field(f) = slot
            && plan.fields[f].required
        {
            return Err(StepError::Refused(format!(
                "`{name}` is required: it can be changed, not cleared"
            )));
        }
        for t in self
            .deal
            .tracks
            .iter()
            .filter(|t| t.state != TrackState::Ended)
        {
            let st = &plan.stages[t.stage];
            if st.require.contains(&slot) {
                return Err(StepError::Required {
                    message: format!(
                        "`{name}` cannot be cleared: deal `{}` is in `{}`, which requires it",
                        self.deal.id, st.name
                    ),
                    line: st.require_line.unwrap_or(st.line),
                });
            }
        }
        Ok(())
    }

    /// The role `role` went from one person to another: the open tasks its `task` lines gave
    /// the first go to the second.
    fn hand_over(
        &mut self,
        role: usize,
        from: Option<String>,
        to: Option<String>,
    ) -> Result<(), StepError> {
        let plan = self.ctx.plan;
        let moving: Vec<usize> = self
            .deal
            .tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.done_at.is_none() && t.assignee == from)
            .filter(|(_, t)| {
                plan.stages.get(t.stage).and_then(|s| task_role(s, &t.id)) == Some(role)
            })
            .map(|(i, _)| i)
            .collect();
        for idx in moving {
            self.task_mut(idx).assignee = to.clone();
            if let Some(a) = &from {
                self.load.push((a.clone(), -1));
            }
            if let Some(a) = &to {
                self.load.push((a.clone(), 1));
            }
            let task = self.deal.tasks[idx].id.clone();
            self.record(
                Kind::TaskReassigned {
                    task,
                    from: from.clone(),
                    to: to.clone(),
                },
                None,
            );
            self.assigned_notice(idx, None)?;
            // Handed to someone who hears notices: they are reminded when it runs late.
            self.arm_reminder(idx);
        }
        Ok(())
    }
}

/// The role a stage's `task` line of this name gives its task to.
fn task_role(stage: &StageDef, task: &str) -> Option<usize> {
    stage.blocks().find_map(|b| in_block(b, task))
}

fn in_block(block: &[crate::compile::Action], task: &str) -> Option<usize> {
    use crate::compile::Action;
    block.iter().find_map(|a| match a {
        Action::Task { id, role, .. } if id == task => Some(*role),
        Action::ForEach { body, .. } => in_block(body, task),
        _ => None,
    })
}
