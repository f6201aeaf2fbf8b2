//! Staff notices: the person a task is given to (when it is made, or handed to them) hears of
//! it on the channel of their team entry — Telegram when they have a chat there, else email —
//! with the deal's title, the deadline and a link to the deal's page (the daemon's public
//! address); and hears again when the deadline passes with the task still open (a reminder
//! timer armed at the task's due, dropped when it is done or cancelled). On unless their entry
//! says `notices = false`; nothing when they have no address on that channel. A notice is a
//! notification like any other: recorded in the history and the timeline (templates
//! `task_assigned` and `task_overdue`), passed through the pipeline's notify hook (quiet
//! hours), sent by the outbox. Its words are signs, not a language: `☐` the task, `⏰` its due,
//! `❗` a deadline passed.

use super::{Armed, Stepper, TimerRef};
use crate::compile::{Action, Channel, Plan, StageId};
use crate::engine::StepError;

/// What a notice says.
#[derive(Clone, Copy, PartialEq)]
enum Notice {
    /// The task is theirs.
    Assigned,
    /// Its deadline passed and it is still open.
    Overdue,
}

impl Stepper<'_> {
    /// Arms the overdue reminder of task `idx` at its due, when it has one and someone who
    /// hears notices (no record: the reminder is the notice, when it comes).
    pub(super) fn arm_reminder(&mut self, idx: usize) {
        let Some(task) = self.deal.tasks.get(idx) else {
            return;
        };
        let hears = task
            .assignee
            .as_deref()
            .and_then(|a| self.ctx.team.member(a))
            .is_some_and(|m| m.notices && (m.telegram.is_some() || m.email.is_some()));
        // One reminder a task; none for a deadline already passed (the notice says it).
        let armed = self
            .deal
            .timers
            .iter()
            .any(|a| a.which == TimerRef::Reminder(idx));
        let (Some(due), true, false) = (task.due, hears, armed) else {
            return;
        };
        if due <= self.ctx.now || task.done_at.is_some() {
            return;
        }
        let stage = task.stage;
        let track = self
            .deal
            .tracks
            .iter()
            .find(|t| t.stage == stage)
            .map_or(0, |t| t.id);
        let id = self.deal.next_timer;
        self.deal.next_timer += 1;
        self.deal.timers.push(Armed {
            id,
            track,
            stage,
            which: TimerRef::Reminder(idx),
            fires_at: due,
            target: due,
            fired: false,
        });
    }

    /// Drops the reminder of task `idx` (done or cancelled: nobody is reminded of it).
    pub(super) fn drop_reminder(&mut self, idx: usize) {
        self.deal
            .timers
            .retain(|a| a.which != TimerRef::Reminder(idx));
    }

    /// Reminds the assignee of task `idx` that its deadline passed, when it is still open (the
    /// history names the `task` line that made it).
    pub(super) fn overdue_notice(&mut self, idx: usize) -> Result<(), StepError> {
        match self.deal.tasks.get(idx) {
            Some(t) if t.done_at.is_none() => {
                let line = task_line(self.ctx.plan, t.stage, &t.id);
                self.task_notice(idx, line, Notice::Overdue)
            }
            _ => Ok(()),
        }
    }

    /// Tells the assignee of task `idx` it is theirs (`line`: the rule that gave it to them).
    pub(super) fn assigned_notice(
        &mut self,
        idx: usize,
        line: Option<usize>,
    ) -> Result<(), StepError> {
        self.task_notice(idx, line, Notice::Assigned)
    }

    /// Tells the assignee of task `idx` it is theirs, or that its deadline passed.
    fn task_notice(
        &mut self,
        idx: usize,
        line: Option<usize>,
        notice: Notice,
    ) -> Result<(), StepError> {
        let Some(task) = self.deal.tasks.get(idx).cloned() else {
            return Ok(());
        };
        let (sign, template) = match notice {
            Notice::Assigned => ("☐", "task_assigned"),
            Notice::Overdue => ("❗", "task_overdue"),
        };
        let Some(member) = task
            .assignee
            .as_deref()
            .and_then(|a| self.ctx.team.member(a))
        else {
            return Ok(());
        };
        if !member.notices {
            return Ok(());
        }
        let (channel, to) = match (&member.telegram, &member.email) {
            (Some(chat), _) => (Channel::Telegram, chat.clone()),
            (None, Some(email)) => (Channel::Email, email.clone()),
            (None, None) => return Ok(()),
        };
        let mut lines = vec![
            format!("{sign} {}", task.title),
            self.deal.title.to_string(),
        ];
        if let Some(due) = task.due {
            let local = due.with_timezone(&self.ctx.plan.tz);
            lines.push(format!("⏰ {}", local.format("%d.%m.%Y %H:%M")));
        }
        if let Some(site) = self.ctx.site {
            lines.push(format!(
                "{site}/deals/{}",
                percent_encoding::utf8_percent_encode(
                    &self.deal.id,
                    percent_encoding::NON_ALPHANUMERIC
                )
            ));
        }
        let subject = (channel == Channel::Email)
            .then(|| format!("{sign} {} · {}", task.title, self.deal.title));
        let msg = super::actions::Message {
            to_kind: "user",
            to,
            channel: channel.name(),
            template: template.to_string(),
            subject,
            text: lines.join("\n"),
            send_at: self.ctx.now,
        };
        self.queue(msg, Vec::new(), member.id.clone(), line)
    }
}

/// The line of the `task` action that makes task `id` in `stage` (else in any stage).
fn task_line(plan: &Plan, stage: StageId, id: &str) -> Option<usize> {
    fn find(actions: &[Action], id: &str) -> Option<usize> {
        actions.iter().find_map(|a| match a {
            Action::Task { id: t, line, .. } if t == id => Some(*line),
            Action::ForEach { body, .. } => find(body, id),
            _ => None,
        })
    }
    let in_stage = |s: StageId| {
        let def = plan.stages.get(s)?;
        def.on_enter
            .iter()
            .chain(&def.on_exit)
            .chain(def.on_event.iter().map(|o| &o.rule))
            .chain(def.timers.iter().map(|t| &t.rule))
            .map(|r| r.body.as_slice())
            .chain(def.transitions.iter().map(|t| t.body.as_slice()))
            .find_map(|b| find(b, id))
    };
    in_stage(stage).or_else(|| (0..plan.stages.len()).find_map(in_stage))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{DateTime, Duration, Utc};

    use crate::engine::{self, Creation, Ctx, Input, Kind, Outcome, TaskAction, TimerRef};
    use crate::source::SourceFile;
    use crate::team::{Member, Team};

    const FLOW: &str = "pipeline p \"P\" { timezone \"Europe/Moscow\" }\nrole maker \"Maker\"\n\
                        fields { name: text }\nevent go\nevent end\n\
                        stage s \"S\" {\n  on enter { task t \"Saw\" to maker due 1h }\n  -> m on go\n}\n\
                        stage m \"M\" {\n  -> e on end\n}\n\
                        stage e \"E\" final {\n}\n";

    fn team() -> Team {
        Team {
            members: vec![Member {
                id: "mo".into(),
                name: "Mo".into(),
                roles: vec!["maker".into()],
                email: Some("mo@w.test".into()),
                phone: None,
                telegram: None,
                notices: true,
                rate: Default::default(),
            }],
            ..Default::default()
        }
    }

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-02T08:00:00Z")
            .expect("a moment")
            .to_utc()
            + Duration::hours(hours)
    }

    /// The notices of a step: (template, text, subject).
    fn notices(out: &Outcome) -> Vec<(String, String, Option<String>)> {
        out.records
            .iter()
            .filter_map(|r| match &r.kind {
                Kind::Notification {
                    template,
                    text,
                    subject,
                    ..
                } => Some((template.clone(), text.clone(), subject.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_assignee_hears_of_the_task_and_again_when_its_deadline_passes_open() {
        let ready = crate::prepare(&SourceFile::new("p.flow", FLOW), &|_| Err("none".into()))
            .expect("a pipeline");
        let team = team();
        let ctx = |now| Ctx {
            plan: &ready.plan,
            team: &team,
            script: None,
            now,
            site: Some("https://crm.studio.test"),
        };
        let deal = Creation {
            id: "ivan/1".into(),
            title: "Table".into(),
            stages: vec![],
            fields: BTreeMap::new(),
            quiet: false,
            done: Vec::new(),
        };
        let made = engine::create(ctx(at(0)), &deal).expect("created");
        assert_eq!(
            notices(&made),
            [(
                "task_assigned".to_string(),
                "☐ Saw\nTable\n⏰ 02.03.2026 12:00\nhttps://crm.studio.test/deals/ivan%2F1"
                    .to_string(),
                Some("☐ Saw · Table".to_string())
            )]
        );
        let reminder = made
            .deal
            .timers
            .iter()
            .find(|a| a.which == TimerRef::Reminder(0))
            .expect("a reminder at the task's due")
            .clone();
        assert_eq!(reminder.fires_at, at(1));

        // The deal moves on, the task stays open: its deadline passes, its assignee hears.
        let event = |name: &str| Input::Event {
            name: name.into(),
            payload: BTreeMap::new(),
            by: None,
        };
        let moved = engine::apply(ctx(at(0)), &made.deal, &event("go")).expect("moved");
        let fired = engine::apply(ctx(at(1)), &moved.deal, &Input::Timer { id: reminder.id })
            .expect("fired");
        assert_eq!(
            notices(&fired),
            [(
                "task_overdue".to_string(),
                "❗ Saw\nTable\n⏰ 02.03.2026 12:00\nhttps://crm.studio.test/deals/ivan%2F1"
                    .to_string(),
                Some("❗ Saw · Table".to_string())
            )]
        );
        assert!(fired.deal.timers.is_empty(), "a task is reminded of once");

        // The deal ended (its open task cancelled), or the task done in time: nobody is
        // reminded.
        let ended = engine::apply(ctx(at(0)), &moved.deal, &event("end")).expect("ended");
        assert!(ended.deal.timers.is_empty(), "{:?}", ended.deal.timers);
        let done = engine::apply(
            ctx(at(0)),
            &made.deal,
            &Input::Task {
                task: "t".into(),
                action: TaskAction::Done,
                by: Some("mo".into()),
            },
        )
        .expect("done");
        assert!(
            done.deal
                .timers
                .iter()
                .all(|a| !matches!(a.which, TimerRef::Reminder(_))),
            "{:?}",
            done.deal.timers
        );
    }
}
