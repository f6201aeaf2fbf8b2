//! Actions: set, notify, task, group, spawn, for each.

use std::sync::Arc;

use chrono::{DateTime, NaiveTime, Timelike, Utc};
use rust_decimal::Decimal;

use super::eval::Env;
use super::{Attachment, Creation, Deal, Kind, StepError, Stepper, Task};
use crate::compile::{Action, Channel, RoleId, Text, TextPart, Who};
use crate::value::Value;

impl Stepper<'_> {
    /// Runs actions in order; `line` is the rule they belong to (for history).
    pub(crate) fn run(
        &mut self,
        actions: &[Action],
        env: &Env,
        line: Option<usize>,
    ) -> Result<(), StepError> {
        for a in actions {
            // A quiet start (an import) makes tasks and nothing else: no message, no field
            // set, no group, no deal spawned.
            if self.quiet && !matches!(a, Action::Task { .. } | Action::ForEach { .. }) {
                continue;
            }
            self.action(a, env, line)?;
        }
        Ok(())
    }

    fn action(&mut self, a: &Action, env: &Env, line: Option<usize>) -> Result<(), StepError> {
        match a {
            Action::Set(slot, e) => {
                let v = self.eval(e, env).map_err(StepError::Failed)?;
                self.set_slot(*slot, v, line);
            }
            Action::Notify {
                who,
                channels,
                template,
                line,
            } => {
                for w in who {
                    for ch in channels {
                        self.notify(*w, *ch, *template, env, *line)?;
                    }
                }
            }
            Action::Task {
                id,
                title,
                role,
                due,
                estimate,
                line,
            } => {
                let title = self.render(title, env)?;
                let assignee = self.person_for(*role, Some(*line));
                let due = match due {
                    Some(d) => match self.eval(d, env).map_err(StepError::Failed)? {
                        Some(Value::Duration(d)) => self.deadline(d),
                        _ => None,
                    },
                    None => None,
                };
                let estimate_h = match estimate {
                    Some(e) => match self.eval(e, env).map_err(StepError::Failed)? {
                        Some(Value::Duration(d)) => Some(d.hours()),
                        _ => None,
                    },
                    None => None,
                };
                // Work the old CRM says was finished is made done at once (an import).
                let done = self.done.iter().any(|d| d == id);
                if let Some(a) = &assignee
                    && !done
                {
                    self.load.push((a.clone(), 1));
                }
                Arc::make_mut(&mut self.deal.tasks).push(Arc::new(Task {
                    id: id.clone(),
                    title: title.clone(),
                    assignee: assignee.clone(),
                    stage: env.stage.unwrap_or(0),
                    created_at: self.ctx.now,
                    due,
                    estimate_h,
                    started_at: None,
                    done_at: done.then_some(self.ctx.now),
                    cancelled: false,
                    hours: Decimal::ZERO,
                    timer: None,
                }));
                self.record(
                    Kind::TaskCreated {
                        task: id.clone(),
                        title,
                        assignee,
                        due,
                        estimate_h,
                    },
                    Some(*line),
                );
                let idx = self.deal.tasks.len() - 1;
                if done {
                    self.record(
                        Kind::TaskDone {
                            task: id.clone(),
                            hours: Decimal::ZERO,
                        },
                        Some(*line),
                    );
                } else if !self.quiet {
                    // An imported task is nobody's news: no notice, no reminder.
                    self.assigned_notice(idx, Some(*line))?;
                    self.arm_reminder(idx);
                }
            }
            Action::Group { title, roles } => {
                let title = self.render(title, env)?;
                let mut members = Vec::new();
                for r in roles {
                    if let Some(p) = self.person_for(*r, line)
                        && !members.contains(&p)
                    {
                        members.push(p);
                    }
                }
                self.record(Kind::GroupCreated { title, members }, line);
            }
            Action::Spawn {
                title,
                targets,
                sets,
            } => {
                let title = self.render(title, env)?;
                let mut values = Vec::new();
                for (slot, e) in sets {
                    values.push((*slot, self.eval(e, env).map_err(StepError::Failed)?));
                }
                self.spawn(title, targets, values, line)?;
            }
            Action::ForEach { list, body } => {
                let items = match self.eval(list, env).map_err(StepError::Failed)? {
                    Some(Value::List(items)) => items,
                    _ => Vec::new(),
                };
                for item in items {
                    let mut inner = env.clone();
                    inner.locals.push(item);
                    self.run(body, &inner, line)?;
                }
            }
        }
        Ok(())
    }

    fn spawn(
        &mut self,
        title: String,
        targets: &[usize],
        values: Vec<(crate::compile::Slot, Option<Value>)>,
        line: Option<usize>,
    ) -> Result<(), StepError> {
        let plan = self.ctx.plan;
        self.deal.spawned += 1;
        let id = format!("{}/{}", self.deal.id, self.deal.spawned);
        let mut child = Deal::new(plan, id.clone(), title.clone(), self.ctx.now);
        child.values = self.deal.values.clone();
        child.slots = self.deal.slots.clone();
        let mut sub = Stepper::new(self.ctx, child, &format!("spawned by {}", self.deal.id));
        sub.load = std::mem::take(&mut self.load);
        let req = Creation {
            id,
            title,
            stages: targets
                .iter()
                .map(|&s| plan.stages[s].name.clone())
                .collect(),
            fields: Default::default(),
            quiet: false,
            done: Vec::new(),
        };
        // The spawn's `set` lines apply before the new deal enters its stages.
        let parent = Some(self.deal.id.clone());
        sub.deal.parent = parent.clone();
        sub.record(
            Kind::DealCreated {
                stages: req.stages.clone(),
                parent: parent.map(|p| p.to_string()),
                quiet: false,
            },
            line,
        );
        for (slot, v) in values {
            sub.set_slot(slot, v, line);
        }
        let track = sub.new_track(targets[0]);
        sub.enter_targets(track, targets)?;
        sub.settle()?;
        self.load = std::mem::take(&mut sub.load);
        self.records.append(&mut sub.records);
        self.spawned.push(sub.deal);
        self.spawned.append(&mut sub.spawned);
        Ok(())
    }

    /// The deal's person in a role; an empty slot is filled with the member of that role who
    /// has the fewest open tasks (ties: by id), recorded at `line`, the rule that needed them.
    pub(crate) fn person_for(&mut self, role: RoleId, line: Option<usize>) -> Option<String> {
        if let Some(p) = &self.deal.slots[role] {
            return Some(p.clone());
        }
        let name = &self.ctx.plan.roles[role].name;
        let best = self
            .ctx
            .team
            .members
            .iter()
            .filter(|m| m.roles.iter().any(|r| r == name))
            .min_by_key(|m| (self.load_of(&m.id), m.id.clone()))?
            .id
            .clone();
        self.set_slot(
            crate::compile::Slot::Role(role),
            Some(Value::User(best.clone())),
            line,
        );
        Some(best)
    }

    /// A text with its `{{ }}` parts filled in; a part with no value is left empty.
    pub(crate) fn render(&mut self, t: &Text, env: &Env) -> Result<String, StepError> {
        let literal: usize = t
            .parts
            .iter()
            .map(|p| match p {
                TextPart::Lit(s) => s.len(),
                TextPart::Expr(_) => 16,
            })
            .sum();
        let mut out = String::with_capacity(literal);
        for p in &t.parts {
            match p {
                TextPart::Lit(s) => out.push_str(s),
                TextPart::Expr(e) => {
                    if let Some(v) = self.eval(e, env).map_err(StepError::Failed)? {
                        out.push_str(&self.display(&v));
                    }
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn notify(
        &mut self,
        who: Who,
        ch: Channel,
        template: usize,
        env: &Env,
        line: usize,
    ) -> Result<(), StepError> {
        let plan = self.ctx.plan;
        let tpl = &plan.templates[template];
        let (to_kind, person) = match who {
            Who::Client => ("client", None),
            Who::Responsible => (
                "user",
                if plan.roles.is_empty() {
                    None
                } else {
                    self.person_for(0, Some(line))
                },
            ),
            Who::Role(r) => ("user", self.person_for(r, Some(line))),
        };
        let skipped = |s: &mut Self, to: String, reason: String| {
            s.record(
                Kind::NotificationSkipped {
                    to_kind,
                    to,
                    channel: ch.name(),
                    template: tpl.name.clone(),
                    reason,
                },
                Some(line),
            );
        };
        let address = match (who, &person) {
            (Who::Client, _) => self.client_address(ch),
            (_, Some(p)) => self.ctx.team.member(p).and_then(|m| match ch {
                Channel::Sms => m.phone.clone(),
                Channel::Email => m.email.clone(),
                Channel::Telegram => m.telegram.clone(),
            }),
            (_, None) => {
                skipped(self, "nobody".into(), "no team member has this role".into());
                return Ok(());
            }
        };
        let who_name = person.clone().unwrap_or_else(|| "client".into());
        let Some(to) = address else {
            let what = match ch {
                Channel::Sms => "phone number",
                Channel::Email => "email address",
                Channel::Telegram => "Telegram chat",
            };
            let reason = format!(
                "{} has no {what}",
                if who == Who::Client {
                    "the client".to_string()
                } else {
                    format!("`{who_name}`")
                }
            );
            skipped(self, who_name, reason);
            return Ok(());
        };
        let (subject, text, attachments) = match ch {
            Channel::Sms => match &tpl.sms {
                Some(t) => (None, self.render(t, env)?, Vec::new()),
                None => {
                    skipped(self, to, format!("template `{}` has no sms text", tpl.name));
                    return Ok(());
                }
            },
            Channel::Email => match &tpl.email {
                Some(e) => {
                    let subject = self.render(&e.subject, env)?;
                    let body = self.render(&e.body, env)?;
                    let mut att = Vec::new();
                    if let Some(a) = &e.attach
                        && let Some(Value::Invite(inv)) =
                            self.eval(a, env).map_err(StepError::Failed)?
                    {
                        att.push(self.invitation(a, &inv, &subject, &to, person.as_deref()));
                    }
                    (Some(subject), body, att)
                }
                None => {
                    skipped(self, to, format!("template `{}` has no email", tpl.name));
                    return Ok(());
                }
            },
            // A chat message: the SMS text, else the email's subject over its body.
            Channel::Telegram => match (&tpl.sms, &tpl.email) {
                (Some(t), _) => (None, self.render(t, env)?, Vec::new()),
                (None, Some(e)) => {
                    let subject = self.render(&e.subject, env)?;
                    let body = self.render(&e.body, env)?;
                    (None, format!("{subject}\n\n{body}"), Vec::new())
                }
                (None, None) => {
                    skipped(self, to, format!("template `{}` has no text", tpl.name));
                    return Ok(());
                }
            },
        };
        let msg = Message {
            to_kind,
            to,
            channel: ch.name(),
            template: tpl.name.clone(),
            subject,
            text,
            send_at: self.ctx.now,
        };
        self.queue(msg, attachments, who_name, Some(line))
    }

    /// A message through the pipeline's notify hook (changed, held or dropped), then recorded:
    /// a `notification`, or a `notification_skipped` for `who` when the hook dropped it.
    pub(super) fn queue(
        &mut self,
        mut msg: Message,
        attachments: Vec<crate::engine::Attachment>,
        who: String,
        line: Option<usize>,
    ) -> Result<(), StepError> {
        if let Some(hook) = &self.ctx.plan.notify_hook {
            let (to_kind, channel, template) = (msg.to_kind, msg.channel, msg.template.clone());
            match self.hook(hook, msg).map_err(StepError::Failed)? {
                Some(m) => msg = m,
                None => {
                    self.record(
                        Kind::NotificationSkipped {
                            to_kind,
                            to: who,
                            channel,
                            template,
                            reason: "dropped by the notify hook".into(),
                        },
                        line,
                    );
                    return Ok(());
                }
            }
        }
        self.record(
            Kind::Notification {
                to_kind: msg.to_kind,
                to: msg.to,
                channel: msg.channel,
                template: msg.template,
                subject: msg.subject,
                text: msg.text,
                send_at: msg.send_at,
                attachments,
            },
            line,
        );
        Ok(())
    }

    /// A task's deadline `d` from now. `N workdays` lands within working hours: a deadline
    /// outside them moves to the next opening (nobody is late before the office opens);
    /// minutes, hours, days and working hours stay as they count.
    fn deadline(&self, d: crate::value::Duration) -> Option<DateTime<Utc>> {
        let due = self.add_to_moment(self.ctx.now, d, 1)?;
        if !matches!(d, crate::value::Duration::Workdays(_)) {
            return Some(due);
        }
        let local = due.with_timezone(&self.ctx.plan.tz).naive_local();
        self.local(self.ctx.plan.calendar.at_or_next_opening(local)?)
    }

    /// The client's phone or email: the deal's first field of that type.
    fn client_address(&self, ch: Channel) -> Option<String> {
        use crate::types::Ty;
        let want = match ch {
            Channel::Sms => Ty::Phone,
            Channel::Email => Ty::Email,
            Channel::Telegram => Ty::Telegram,
        };
        let plan = self.ctx.plan;
        plan.fields
            .iter()
            .zip(self.deal.values.iter())
            .find(|(f, _)| f.ty == want)
            .and_then(|(_, v)| v.as_ref())
            .map(|v| v.to_string())
    }

    /// Passes a message through the pipeline's notify hook: changed, held or dropped.
    pub(super) fn hook(&self, function: &str, msg: Message) -> Result<Option<Message>, String> {
        let script = self
            .ctx
            .script
            .ok_or("the pipeline has a notify hook but no script")?;
        let local = msg.send_at.with_timezone(&self.ctx.plan.tz);
        // The texts go in as shared strings; what comes back as the very same string was not
        // touched and is not compared or copied.
        let to = rhai::ImmutableString::from(msg.to.as_str());
        let text = rhai::ImmutableString::from(msg.text.as_str());
        let subject = msg.subject.as_deref().map(rhai::ImmutableString::from);
        let mut map = rhai::Map::new();
        map.insert("channel".into(), msg.channel.into());
        map.insert("to_kind".into(), msg.to_kind.into());
        map.insert("to".into(), to.clone().into());
        map.insert("template".into(), msg.template.as_str().into());
        map.insert(
            "subject".into(),
            subject.clone().map_or(rhai::Dynamic::UNIT, Into::into),
        );
        map.insert("text".into(), text.clone().into());
        map.insert(
            "local_time".into(),
            format!("{:02}:{:02}", local.hour(), local.minute()).into(),
        );
        let out = script.call(function, vec![rhai::Dynamic::from_map(map)])?;
        if out.is_unit() {
            return Ok(None);
        }
        let Some(map) = out.try_cast::<rhai::Map>() else {
            return Err(format!(
                "the notify hook `{function}` must return the message (a map) or `()`"
            ));
        };
        let text_of = |k: &str| {
            map.get(k)
                .and_then(|v| v.clone().into_immutable_string().ok())
        };
        let mut m = msg;
        if let Some(t) = text_of("text")
            && !t.ptr_eq(&text)
            && t.as_str() != m.text
        {
            m.text = t.to_string();
        }
        if let Some(s) = text_of("subject")
            && !subject.as_ref().is_some_and(|was| s.ptr_eq(was))
            && m.subject.as_deref() != Some(s.as_str())
        {
            m.subject = Some(s.to_string());
        }
        if let Some(t) = text_of("to")
            && !t.ptr_eq(&to)
            && t.as_str() != m.to
        {
            m.to = t.to_string();
        }
        if let Some(nb) = text_of("not_before") {
            let t = NaiveTime::parse_from_str(nb.trim(), "%H:%M").map_err(|_| {
                format!("the notify hook set `not_before` to `{nb}`; write a time like 09:00")
            })?;
            m.send_at = self.next_local(m.send_at, t).ok_or("no such local time")?;
        }
        Ok(Some(m))
    }

    /// A meeting's invitation file for `to`: from the deal's responsible person (the first
    /// role), one UID per deal and the field that holds the meeting's moment.
    fn invitation(
        &self,
        attach: &crate::compile::Expr,
        inv: &crate::value::Invite,
        summary: &str,
        to: &str,
        person: Option<&str>,
    ) -> Attachment {
        use crate::compile::{Builtin, Expr};
        let plan = self.ctx.plan;
        let key = match attach {
            Expr::Builtin(Builtin::Calendar | Builtin::Cancellation, args) => match args.first() {
                Some(Expr::Field(f)) => plan.fields[*f].name.clone(),
                _ => inv.start.format("%Y%m%dT%H%M%SZ").to_string(),
            },
            _ => inv.start.format("%Y%m%dT%H%M%SZ").to_string(),
        };
        let organizer = self
            .deal
            .slots
            .first()
            .and_then(|s| s.as_deref())
            .and_then(|id| self.ctx.team.member(id))
            .and_then(|m| Some((m.name.as_str(), m.email.as_deref()?)));
        let attendee_name = person
            .and_then(|p| self.ctx.team.member(p))
            .map(|m| m.name.as_str());
        let people = super::invite::People {
            organizer,
            attendee: (attendee_name, to),
        };
        let uid = super::invite::uid(&self.deal.id, &key);
        Attachment {
            filename: "invite.ics".into(),
            content_type: super::invite::content_type(&people, inv.cancelled),
            content: super::invite::ics(inv, summary, &uid, &people, self.ctx.now),
        }
    }

    /// The first moment at or after `from` whose local time of day is `t`.
    fn next_local(&self, from: DateTime<Utc>, t: NaiveTime) -> Option<DateTime<Utc>> {
        let local = from.with_timezone(&self.ctx.plan.tz);
        let today = local.date_naive();
        let now_t = local.time().with_nanosecond(0)?;
        let day = if now_t <= t { today } else { today.succ_opt()? };
        self.local(day.and_time(t))
    }
}

/// A message on its way to the outbox.
pub(super) struct Message {
    pub to_kind: &'static str,
    pub to: String,
    pub channel: &'static str,
    pub template: String,
    pub subject: Option<String>,
    pub text: String,
    pub send_at: DateTime<Utc>,
}
