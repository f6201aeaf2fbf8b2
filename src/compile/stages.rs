//! Stages compiled: their requirements, skips, blocks, timers and transitions, with the
//! actions inside.

use super::plan::*;
use super::{CompileError, Compiler};
use crate::ast::{self, Item};

impl Compiler<'_> {
    pub(super) fn stages(&mut self) -> Result<(), CompileError> {
        let file = self.file;
        for item in &file.items {
            let Item::Stage(s) = item else { continue };
            let id = self.stage_id(&s.id)?;
            let mut def = self.plan.stages[id].clone();
            for line in s.lines() {
                let ln = self.line(line.span);
                match &line.kind {
                    ast::StageLineKind::Require(names) => {
                        def.require_line.get_or_insert(ln);
                        for n in names {
                            def.require.push(self.slot(n)?);
                        }
                    }
                    ast::StageLineKind::Skip(c) => {
                        def.skip = Some(self.expr(c)?);
                        def.skip_line = Some(ln);
                    }
                    ast::StageLineKind::OnEnter(b) => def.on_enter.push(Rule {
                        line: ln,
                        body: self.block(b)?,
                    }),
                    ast::StageLineKind::OnExit(b) => def.on_exit.push(Rule {
                        line: ln,
                        body: self.block(b)?,
                    }),
                    ast::StageLineKind::OnEvent { event, guard, body } => {
                        let ev = self.event_id(event)?;
                        def.on_event.push(OnEvent {
                            event: ev,
                            guard: guard.as_ref().map(|g| self.expr(g)).transpose()?,
                            rule: Rule {
                                line: ln,
                                body: self.block(body)?,
                            },
                        });
                    }
                    ast::StageLineKind::After {
                        delay,
                        name,
                        guard,
                        body,
                    } => {
                        def.timers.push(TimerDef {
                            label: format!(
                                "{}: after {}{}",
                                s.id.name,
                                crate::print::expr(delay),
                                as_name(name)
                            ),
                            name: name.as_ref().map(|n| n.name.clone()),
                            at: TimerAt::After(self.expr(delay)?),
                            guard: guard.as_ref().map(|g| self.expr(g)).transpose()?,
                            rule: Rule {
                                line: ln,
                                body: self.block(body)?,
                            },
                        });
                    }
                    ast::StageLineKind::At {
                        end_of,
                        at,
                        name,
                        guard,
                        body,
                    } => {
                        let eo = if *end_of { "end of " } else { "" };
                        def.timers.push(TimerDef {
                            label: format!(
                                "{}: at {eo}{}{}",
                                s.id.name,
                                crate::print::expr(at),
                                as_name(name)
                            ),
                            name: name.as_ref().map(|n| n.name.clone()),
                            at: TimerAt::At {
                                end_of: *end_of,
                                at: self.expr(at)?,
                            },
                            guard: guard.as_ref().map(|g| self.expr(g)).transpose()?,
                            rule: Rule {
                                line: ln,
                                body: self.block(body)?,
                            },
                        });
                    }
                    ast::StageLineKind::Transition(t) => {
                        let targets = t
                            .targets
                            .iter()
                            .map(|i| self.stage_id(i))
                            .collect::<Result<Vec<_>, _>>()?;
                        let names: Vec<&str> = t.targets.iter().map(|i| i.name.as_str()).collect();
                        let (trigger, label) = match &t.trigger {
                            None => (
                                Trigger::Guard,
                                format!("{}: -> {}", s.id.name, names.join(" & ")),
                            ),
                            Some(ast::Trigger::On(e)) => {
                                let ev = self.event_id(e)?;
                                (
                                    Trigger::On(ev),
                                    format!(
                                        "{}: -> {} on {}",
                                        s.id.name,
                                        names.join(" & "),
                                        e.name
                                    ),
                                )
                            }
                            Some(ast::Trigger::After(d)) => (
                                Trigger::Timer(TimerAt::After(self.expr(d)?)),
                                format!(
                                    "{}: -> {} after {}",
                                    s.id.name,
                                    names.join(" & "),
                                    crate::print::expr(d)
                                ),
                            ),
                            Some(ast::Trigger::At { end_of, at }) => {
                                let eo = if *end_of { "end of " } else { "" };
                                (
                                    Trigger::Timer(TimerAt::At {
                                        end_of: *end_of,
                                        at: self.expr(at)?,
                                    }),
                                    format!(
                                        "{}: -> {} at {eo}{}",
                                        s.id.name,
                                        names.join(" & "),
                                        crate::print::expr(at)
                                    ),
                                )
                            }
                        };
                        let label = format!("{label}{}", as_name(&t.timer_name));
                        def.transitions.push(TransitionDef {
                            timer_name: t.timer_name.as_ref().map(|n| n.name.clone()),
                            targets,
                            trigger,
                            guard: t.guard.as_ref().map(|g| self.expr(g)).transpose()?,
                            body: match &t.body {
                                Some(b) => self.block(b)?,
                                None => Vec::new(),
                            },
                            line: ln,
                            label,
                        });
                    }
                }
            }
            self.plan.stages[id] = def;
        }
        Ok(())
    }

    fn block(&self, b: &ast::Block) -> Result<Vec<Action>, CompileError> {
        b.actions.iter().map(|a| self.action(a)).collect()
    }

    fn action(&self, a: &ast::Action) -> Result<Action, CompileError> {
        let line = self.line(a.span);
        Ok(match &a.kind {
            ast::ActionKind::Set { target, value } => {
                Action::Set(self.slot(target)?, self.expr(value)?)
            }
            ast::ActionKind::Notify { who, via, template } => Action::Notify {
                who: who
                    .iter()
                    .map(|w| match w.name.as_str() {
                        "client" => Ok(Who::Client),
                        "responsible" => Ok(Who::Responsible),
                        _ => self.role_id(w).map(Who::Role),
                    })
                    .collect::<Result<_, _>>()?,
                channels: via
                    .iter()
                    .map(|c| match c.name.as_str() {
                        "sms" => Ok(Channel::Sms),
                        "email" => Ok(Channel::Email),
                        "telegram" => Ok(Channel::Telegram),
                        _ => Err(self.unresolved("channel", c)),
                    })
                    .collect::<Result<_, _>>()?,
                template: self.template_id(template)?,
                line,
            },
            ast::ActionKind::Task {
                id,
                title,
                role,
                due,
                estimate,
            } => Action::Task {
                id: id.name.clone(),
                title: self.text(title)?,
                role: self.role_id(role)?,
                due: due.as_ref().map(|d| self.expr(d)).transpose()?,
                estimate: estimate.as_ref().map(|d| self.expr(d)).transpose()?,
                line,
            },
            ast::ActionKind::Group { title, roles } => Action::Group {
                title: self.text(title)?,
                roles: roles
                    .iter()
                    .map(|r| self.role_id(r))
                    .collect::<Result<_, _>>()?,
            },
            ast::ActionKind::Spawn {
                title,
                targets,
                body,
                ..
            } => Action::Spawn {
                title: self.text(title)?,
                targets: targets
                    .iter()
                    .map(|t| self.stage_id(t))
                    .collect::<Result<_, _>>()?,
                sets: body
                    .iter()
                    .filter_map(|a| match &a.kind {
                        ast::ActionKind::Set { target, value } => Some((target, value)),
                        _ => None,
                    })
                    .map(|(t, v)| Ok((self.slot(t)?, self.expr(v)?)))
                    .collect::<Result<_, CompileError>>()?,
            },
            ast::ActionKind::ForEach { list, body, .. } => {
                let list = self.expr(list)?;
                Action::ForEach {
                    list,
                    body: self.block(body)?,
                }
            }
        })
    }
}

/// ` as NAME` in a timer's label, or nothing.
fn as_name(name: &Option<ast::Ident>) -> String {
    name.as_ref()
        .map(|n| format!(" as {}", n.name))
        .unwrap_or_default()
}
