//! Work on tasks: a timer per person that logs the time it ran, hours logged by hand, a task
//! done, and time entries corrected afterwards. Every change is a record: the history is the
//! audit of who logged and corrected what.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::{Kind, Running, StepError, Stepper, TaskAction, TimeEntry};

/// Hours between two moments, to the hundredth (36 seconds), never below zero.
pub fn hours_between(since: DateTime<Utc>, until: DateTime<Utc>) -> Decimal {
    let secs = (until - since).num_seconds().max(0);
    (Decimal::from(secs) / Decimal::from(3600)).round_dp(2)
}

/// The deal with its running timers counted as if they stopped now (each at most the team's
/// cap), for the live figures of the pages; and the hours they add.
pub fn counting_timers(
    deal: &super::Deal,
    team: &crate::team::Team,
    now: DateTime<Utc>,
) -> (super::Deal, Decimal) {
    let mut out = deal.clone();
    let mut running = Decimal::ZERO;
    for t in deal.tasks.iter() {
        let Some(r) = &t.timer else { continue };
        let hours = hours_between(r.since, now).min(team.timer_cap());
        running += hours;
        Arc::make_mut(&mut out.time_entries).push(TimeEntry {
            task: Some(t.id.clone()),
            user: r.by.clone(),
            hours,
            rate: team.member(&r.by).map_or(Decimal::ZERO, |m| m.rate),
            at: now,
        });
    }
    (out, running)
}

/// A deal's labour cost: the script function `function` given the deal (as a derived field's
/// `labour_cost(deal)` is), or else every time entry's hours at its rate.
pub fn labour_cost(
    ctx: super::Ctx<'_>,
    deal: &super::Deal,
    function: Option<&str>,
) -> Result<Decimal, String> {
    let Some(f) = function else {
        return Ok(deal.time_entries.iter().map(|e| e.hours * e.rate).sum());
    };
    let s = Stepper::new(ctx, deal.clone(), "live figures");
    let script = ctx
        .script
        .ok_or_else(|| format!("the pipeline has no script for `{f}`"))?;
    match crate::script::from_dynamic(script.call(f, vec![s.deal_dynamic()])?)? {
        Some(crate::value::Value::Decimal(d)) => Ok(d),
        Some(crate::value::Value::Int(n)) => Ok(Decimal::from(n)),
        other => Err(format!("`{f}(deal)` gave {other:?}, not a number")),
    }
}

/// Who works on a deal's task: `by`, or the assignee of its latest open task of that name.
pub fn worker_of(deal: &super::Deal, task: &str, by: Option<&str>) -> Option<String> {
    by.map(str::to_string).or_else(|| {
        deal.tasks
            .iter()
            .rev()
            .find(|t| t.id == task && t.done_at.is_none())
            .and_then(|t| t.assignee.clone())
    })
}

/// The task of a deal on which `user`'s timer runs, if one does.
pub fn running_timer(deal: &super::Deal, user: &str) -> Option<String> {
    deal.tasks
        .iter()
        .find(|t| t.timer.as_ref().is_some_and(|r| r.by == user))
        .map(|t| t.id.clone())
}

impl Stepper<'_> {
    pub(crate) fn task_work(
        &mut self,
        task: &str,
        action: &TaskAction,
        by: Option<&str>,
    ) -> Result<(), StepError> {
        let idx = self
            .deal
            .tasks
            .iter()
            .rposition(|t| t.id == task && t.done_at.is_none())
            .or_else(|| self.deal.tasks.iter().rposition(|t| t.id == task))
            .ok_or_else(|| {
                StepError::Missing(format!("deal `{}` has no task `{task}`", self.deal.id))
            })?;
        match action {
            TaskAction::Start => self.start(idx, by),
            TaskAction::Pause => {
                let Some(running) = self.deal.tasks[idx].timer.clone() else {
                    return Err(StepError::NotNow(format!(
                        "no timer is running on task `{task}`"
                    )));
                };
                if let Some(by) = by
                    && by != running.by
                {
                    return Err(StepError::NotNow(format!(
                        "the timer on task `{task}` is `{}`'s, not `{by}`'s",
                        running.by
                    )));
                }
                self.stop_timer(idx);
                Ok(())
            }
            TaskAction::Done => {
                self.open(idx)?;
                if self.deal.tasks[idx].timer.is_some() {
                    self.stop_timer(idx);
                }
                let now = self.ctx.now;
                self.task_mut(idx).done_at = Some(now);
                self.drop_reminder(idx);
                if let Some(a) = self.deal.tasks[idx].assignee.clone() {
                    self.load.push((a, -1));
                }
                let hours = self.deal.tasks[idx].hours;
                self.record(
                    Kind::TaskDone {
                        task: task.to_string(),
                        hours,
                    },
                    None,
                );
                Ok(())
            }
            TaskAction::Log(hours) => {
                if *hours <= Decimal::ZERO {
                    return Err(StepError::Refused(
                        "hours logged must be more than zero".into(),
                    ));
                }
                let user = self.worker(idx, by)?;
                // Hours typed in by the person whose timer runs on the task say how long
                // they worked: the timer stops and logs nothing more.
                if self.deal.tasks[idx]
                    .timer
                    .as_ref()
                    .is_some_and(|r| r.by == user)
                    && let Some(running) = self.task_mut(idx).timer.take()
                {
                    self.record(
                        Kind::TimerStopped {
                            task: task.to_string(),
                            by: running.by,
                            since: running.since,
                            hours: Decimal::ZERO,
                            capped: false,
                            replaced: true,
                        },
                        None,
                    );
                }
                self.log(idx, &user, *hours);
                Ok(())
            }
        }
    }

    /// Refuses work on a task that is closed.
    fn open(&self, idx: usize) -> Result<(), StepError> {
        let t = &self.deal.tasks[idx];
        if t.cancelled {
            return Err(StepError::NotNow(format!(
                "task `{}` was cancelled when the deal ended",
                t.id
            )));
        }
        if t.done_at.is_some() {
            return Err(StepError::NotNow(format!(
                "task `{}` is already done",
                t.id
            )));
        }
        Ok(())
    }

    /// Who works: `by`, or the task's assignee; a member of the team.
    fn worker(&self, idx: usize, by: Option<&str>) -> Result<String, StepError> {
        let user = by
            .map(str::to_string)
            .or_else(|| self.deal.tasks[idx].assignee.clone())
            // The task has nobody on it now: the deal's state, not the request, lacks a worker.
            .ok_or_else(|| {
                StepError::NotNow(format!(
                    "task `{}` has no assignee: say who worked (`by`)",
                    self.deal.tasks[idx].id
                ))
            })?;
        if self.ctx.team.member(&user).is_none() {
            return Err(StepError::Refused(format!("`{user}` is not in the team")));
        }
        Ok(user)
    }

    /// Starts the worker's timer on the task. Their timer on another task of this deal stops
    /// first (the writer stops one on another deal before this step); another person's timer
    /// on this task stops and logs their time.
    fn start(&mut self, idx: usize, by: Option<&str>) -> Result<(), StepError> {
        self.open(idx)?;
        let user = self.worker(idx, by)?;
        let task = self.deal.tasks[idx].id.clone();
        if let Some(r) = &self.deal.tasks[idx].timer {
            if r.by == user {
                return Err(StepError::NotNow(format!(
                    "`{user}`'s timer on task `{task}` is already running"
                )));
            }
            self.stop_timer(idx);
        }
        if let Some(other) = self
            .deal
            .tasks
            .iter()
            .position(|t| t.timer.as_ref().is_some_and(|r| r.by == user))
        {
            self.stop_timer(other);
        }
        let now = self.ctx.now;
        let t = self.task_mut(idx);
        t.started_at.get_or_insert(now);
        t.timer = Some(Running {
            by: user.clone(),
            since: now,
        });
        self.record(
            Kind::TaskStarted {
                task,
                by: Some(user),
            },
            None,
        );
        Ok(())
    }

    /// Stops the timer running on a task and logs the time it ran (at most the team's cap).
    pub(crate) fn stop_timer(&mut self, idx: usize) {
        let Some(running) = self.task_mut(idx).timer.take() else {
            return;
        };
        let ran = hours_between(running.since, self.ctx.now);
        let cap = self.ctx.team.timer_cap();
        let hours = ran.min(cap);
        self.record(
            Kind::TimerStopped {
                task: self.deal.tasks[idx].id.clone(),
                by: running.by.clone(),
                since: running.since,
                hours,
                capped: ran > cap,
                replaced: false,
            },
            None,
        );
        if hours > Decimal::ZERO {
            self.log(idx, &running.by, hours);
        }
    }

    /// Logs hours of `user` on a task, at their rate now (0 for someone no longer in the team).
    fn log(&mut self, idx: usize, user: &str, hours: Decimal) {
        let rate = self.ctx.team.member(user).map_or(Decimal::ZERO, |m| m.rate);
        let now = self.ctx.now;
        let task = self.deal.tasks[idx].id.clone();
        self.task_mut(idx).hours += hours;
        Arc::make_mut(&mut self.deal.time_entries).push(TimeEntry {
            task: Some(task.clone()),
            user: user.to_string(),
            hours,
            rate,
            at: now,
        });
        self.record(
            Kind::TimeLogged {
                task,
                by: user.to_string(),
                hours,
            },
            None,
        );
    }

    /// Corrects the hours of a time entry (its task's hours follow).
    pub(crate) fn amend(
        &mut self,
        entry: usize,
        hours: Decimal,
        by: Option<&str>,
    ) -> Result<(), StepError> {
        if hours < Decimal::ZERO || hours > Decimal::from(24) {
            return Err(StepError::Refused(
                "an entry's hours must be between 0 and 24".into(),
            ));
        }
        let Some(e) = self.deal.time_entries.get(entry).cloned() else {
            return Err(StepError::Missing(format!(
                "deal `{}` has no time entry {entry} (it has {})",
                self.deal.id,
                self.deal.time_entries.len()
            )));
        };
        if e.hours == hours {
            return Err(StepError::NotNow(format!(
                "time entry {entry} already has {hours} h"
            )));
        }
        Arc::make_mut(&mut self.deal.time_entries)[entry].hours = hours;
        if let Some(idx) = e
            .task
            .as_ref()
            .and_then(|t| self.deal.tasks.iter().rposition(|x| &x.id == t))
        {
            let t = self.task_mut(idx);
            t.hours = (t.hours - e.hours + hours).max(Decimal::ZERO);
        }
        self.record(
            Kind::TimeAmended {
                entry,
                user: e.user,
                from: e.hours,
                to: hours,
                by: by.map(str::to_string),
            },
            None,
        );
        Ok(())
    }
}
