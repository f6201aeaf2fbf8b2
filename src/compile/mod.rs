//! Checked AST to a plan: names resolved to indexes, texts split into parts, the calendar and
//! time zone built. The engine runs plans and never looks a name up while running.

mod expr;
pub mod plan;

use std::collections::{BTreeSet, HashMap};

use crate::ast::{self, Item};
use crate::calendar::WorkCalendar;
use crate::check::types::Ty;
use crate::source::SourceFile;
pub use expr::coerce;
pub use plan::*;

/// Builds the plan of a file that checked clean. `script` is the text of the pipeline's script,
/// already read by the caller. Fails (with a plain message) only on files the checker refuses.
pub fn compile(
    file: &ast::File,
    source: &SourceFile,
    script: Option<String>,
) -> Result<Plan, String> {
    let mut c = Compiler::new(file, source);
    c.declarations()?;
    c.stages()?;
    let mut plan = c.plan;
    plan.script = script;
    Ok(plan)
}

pub(crate) struct Compiler<'a> {
    file: &'a ast::File,
    source: &'a SourceFile,
    pub plan: Plan,
}

impl<'a> Compiler<'a> {
    fn new(file: &'a ast::File, source: &'a SourceFile) -> Self {
        Compiler {
            file,
            source,
            plan: Plan::empty(source.name.clone()),
        }
    }

    pub fn line(&self, span: ast::Span) -> usize {
        self.source.line_col(span.start).0
    }

    fn declarations(&mut self) -> Result<(), String> {
        let file = self.file;
        let mut calendars: HashMap<&str, &ast::Calendar> = HashMap::new();
        for item in &file.items {
            match item {
                Item::Calendar(c) => {
                    calendars.insert(&c.id.name, c);
                }
                Item::Role(r) => {
                    let title = r
                        .title
                        .as_ref()
                        .and_then(|t| t.plain())
                        .unwrap_or_else(|| r.id.name.clone());
                    self.plan
                        .role_index
                        .insert(r.id.name.clone(), self.plan.roles.len());
                    self.plan.roles.push(RoleDef {
                        name: r.id.name.clone(),
                        title,
                    });
                }
                Item::Fields(fs) => {
                    for f in &fs.fields {
                        let ty = Ty::from_field_type(&f.ty.name)
                            .ok_or_else(|| format!("unknown type `{}`", f.ty.name))?;
                        self.plan
                            .field_index
                            .insert(f.name.name.clone(), self.plan.fields.len());
                        self.plan.fields.push(FieldDef {
                            name: f.name.name.clone(),
                            label: f.label.as_ref().and_then(|l| l.plain()),
                            ty,
                            required: f.required,
                            default: None,
                        });
                    }
                }
                Item::Stage(s) => {
                    self.plan
                        .stage_index
                        .insert(s.id.name.clone(), self.plan.stages.len());
                    self.plan.stages.push(StageDef::new(
                        &s.id.name,
                        s.title.plain().unwrap_or_default(),
                        s.join,
                        s.is_final,
                        self.line(s.span),
                    ));
                }
                _ => {}
            }
        }
        // Defaults after all fields are known (they are literals, converted to the field's type).
        for item in &file.items {
            if let Item::Fields(fs) = item {
                for f in &fs.fields {
                    if let Some(d) = &f.default {
                        let idx = self.plan.field_index[&f.name.name];
                        let ty = self.plan.fields[idx].ty.clone();
                        let value = expr::constant(d).map(|v| expr::coerce(v, &ty));
                        self.plan.fields[idx].default = value;
                    }
                }
            }
        }
        for item in &file.items {
            match item {
                Item::Pipeline(p) => {
                    self.plan.name = p.id.name.clone();
                    self.plan.title = p.title.plain().unwrap_or_default();
                    for s in &p.settings {
                        match &s.kind {
                            ast::SettingKind::Timezone(t) => {
                                let name = t.plain().unwrap_or_default();
                                self.plan.tz = name
                                    .parse()
                                    .map_err(|_| format!("unknown time zone `{name}`"))?;
                            }
                            ast::SettingKind::Currency(c) => self.plan.currency = c.name.clone(),
                            ast::SettingKind::Calendar(c) => {
                                let cal = calendars
                                    .get(c.name.as_str())
                                    .ok_or_else(|| format!("unknown calendar `{}`", c.name))?;
                                self.plan.calendar = calendar(cal);
                            }
                            ast::SettingKind::Script(s) => self.plan.script_name = s.plain(),
                            ast::SettingKind::NotifyHook(f) => {
                                self.plan.notify_hook = Some(f.name.clone())
                            }
                        }
                    }
                }
                Item::Event(e) => {
                    let mut def = EventDef {
                        name: e.id.name.clone(),
                        sets: Vec::new(),
                        payload: Vec::new(),
                    };
                    for entry in e.entries.iter().flatten() {
                        match &entry.ty {
                            None => def.sets.push(self.slot(&entry.name.name)?),
                            Some(t) => def.payload.push((entry.name.name.clone(), payload_type(t))),
                        }
                    }
                    self.plan
                        .event_index
                        .insert(e.id.name.clone(), self.plan.events.len());
                    self.plan.events.push(def);
                }
                Item::Phase(p) => {
                    let stages = p
                        .stages
                        .iter()
                        .map(|s| self.stage_id(&s.name))
                        .collect::<Result<_, _>>()?;
                    self.plan.phases.push(PhaseDef {
                        name: p.id.name.clone(),
                        title: p.title.plain().unwrap_or_default(),
                        stages,
                    });
                }
                _ => {}
            }
        }
        // Templates and alerts use expressions, which need events and stages resolved.
        for item in &file.items {
            match item {
                Item::Template(t) => {
                    let mut def = TemplateDef {
                        name: t.id.name.clone(),
                        sms: None,
                        email: None,
                    };
                    let scope = expr::Scope::template();
                    for part in &t.parts {
                        match part {
                            ast::TemplatePart::Sms { text, .. } => {
                                def.sms = Some(self.text(text, &scope)?)
                            }
                            ast::TemplatePart::Email {
                                subject,
                                body,
                                attach,
                                ..
                            } => {
                                let attach =
                                    attach.as_ref().map(|a| self.expr(a, &scope)).transpose()?;
                                def.email = Some(EmailDef {
                                    subject: self.text(subject, &scope)?,
                                    body: self.text(body, &scope)?,
                                    attach,
                                });
                            }
                        }
                    }
                    self.plan
                        .template_index
                        .insert(t.id.name.clone(), self.plan.templates.len());
                    self.plan.templates.push(def);
                }
                Item::Alert(a) => {
                    let cond = self.expr(&a.cond, &expr::Scope::default())?;
                    let time_dependent = expr::depends_on_clock(&cond);
                    self.plan.alerts.push(AlertDef {
                        name: a.id.name.clone(),
                        title: a.title.plain().unwrap_or_default(),
                        cond,
                        time_dependent,
                        line: self.line(a.span),
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }

    pub fn stage_id(&self, name: &str) -> Result<StageId, String> {
        self.plan
            .stage_index
            .get(name)
            .copied()
            .ok_or_else(|| format!("unknown stage `{name}`"))
    }

    pub fn event_id(&self, name: &str) -> Result<EventId, String> {
        self.plan
            .event_index
            .get(name)
            .copied()
            .ok_or_else(|| format!("unknown event `{name}`"))
    }

    pub fn slot(&self, name: &str) -> Result<Slot, String> {
        if let Some(&f) = self.plan.field_index.get(name) {
            return Ok(Slot::Field(f));
        }
        if let Some(&r) = self.plan.role_index.get(name) {
            return Ok(Slot::Role(r));
        }
        Err(format!("unknown field `{name}`"))
    }

    pub fn role_id(&self, name: &str) -> Result<RoleId, String> {
        self.plan
            .role_index
            .get(name)
            .copied()
            .ok_or_else(|| format!("unknown role `{name}`"))
    }

    fn stages(&mut self) -> Result<(), String> {
        let file = self.file;
        for item in &file.items {
            let Item::Stage(s) = item else { continue };
            let id = self.stage_id(&s.id.name)?;
            let mut def = self.plan.stages[id].clone();
            for line in s.lines() {
                let ln = self.line(line.span);
                let base = expr::Scope::default();
                match &line.kind {
                    ast::StageLineKind::Require(names) => {
                        for n in names {
                            def.require.push(self.slot(&n.name)?);
                        }
                    }
                    ast::StageLineKind::Skip(c) => def.skip = Some(self.expr(c, &base)?),
                    ast::StageLineKind::OnEnter(b) => def.on_enter.push(Rule {
                        line: ln,
                        body: self.block(b, &base)?,
                    }),
                    ast::StageLineKind::OnExit(b) => def.on_exit.push(Rule {
                        line: ln,
                        body: self.block(b, &base)?,
                    }),
                    ast::StageLineKind::OnEvent { event, guard, body } => {
                        let ev = self.event_id(&event.name)?;
                        let scope = expr::Scope::event(ev);
                        def.on_event.push(OnEvent {
                            event: ev,
                            guard: guard.as_ref().map(|g| self.expr(g, &scope)).transpose()?,
                            rule: Rule {
                                line: ln,
                                body: self.block(body, &scope)?,
                            },
                        });
                    }
                    ast::StageLineKind::After { delay, guard, body } => {
                        def.timers.push(TimerDef {
                            label: format!("{}: after {}", s.id.name, crate::print::expr(delay)),
                            at: TimerAt::After(self.expr(delay, &base)?),
                            guard: guard.as_ref().map(|g| self.expr(g, &base)).transpose()?,
                            rule: Rule {
                                line: ln,
                                body: self.block(body, &base)?,
                            },
                        });
                    }
                    ast::StageLineKind::At {
                        end_of,
                        at,
                        guard,
                        body,
                    } => {
                        let eo = if *end_of { "end of " } else { "" };
                        def.timers.push(TimerDef {
                            label: format!("{}: at {eo}{}", s.id.name, crate::print::expr(at)),
                            at: TimerAt::At {
                                end_of: *end_of,
                                at: self.expr(at, &base)?,
                            },
                            guard: guard.as_ref().map(|g| self.expr(g, &base)).transpose()?,
                            rule: Rule {
                                line: ln,
                                body: self.block(body, &base)?,
                            },
                        });
                    }
                    ast::StageLineKind::Transition(t) => {
                        let targets = t
                            .targets
                            .iter()
                            .map(|i| self.stage_id(&i.name))
                            .collect::<Result<Vec<_>, _>>()?;
                        let names: Vec<&str> = t.targets.iter().map(|i| i.name.as_str()).collect();
                        let (trigger, scope, label) = match &t.trigger {
                            None => (
                                Trigger::Guard,
                                base.clone(),
                                format!("{}: -> {}", s.id.name, names.join(" & ")),
                            ),
                            Some(ast::Trigger::On(e)) => {
                                let ev = self.event_id(&e.name)?;
                                (
                                    Trigger::On(ev),
                                    expr::Scope::event(ev),
                                    format!(
                                        "{}: -> {} on {}",
                                        s.id.name,
                                        names.join(" & "),
                                        e.name
                                    ),
                                )
                            }
                            Some(ast::Trigger::After(d)) => (
                                Trigger::Timer(TimerAt::After(self.expr(d, &base)?)),
                                base.clone(),
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
                                        at: self.expr(at, &base)?,
                                    }),
                                    base.clone(),
                                    format!(
                                        "{}: -> {} at {eo}{}",
                                        s.id.name,
                                        names.join(" & "),
                                        crate::print::expr(at)
                                    ),
                                )
                            }
                        };
                        def.transitions.push(TransitionDef {
                            targets,
                            trigger,
                            guard: t.guard.as_ref().map(|g| self.expr(g, &scope)).transpose()?,
                            body: match &t.body {
                                Some(b) => self.block(b, &scope)?,
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

    fn block(&self, b: &ast::Block, scope: &expr::Scope) -> Result<Vec<Action>, String> {
        b.actions.iter().map(|a| self.action(a, scope)).collect()
    }

    fn action(&self, a: &ast::Action, scope: &expr::Scope) -> Result<Action, String> {
        let line = self.line(a.span);
        Ok(match &a.kind {
            ast::ActionKind::Set { target, value } => {
                Action::Set(self.slot(&target.name)?, self.expr(value, scope)?)
            }
            ast::ActionKind::Notify { who, via, template } => Action::Notify {
                who: who
                    .iter()
                    .map(|w| match w.name.as_str() {
                        "client" => Ok(Who::Client),
                        "responsible" => Ok(Who::Responsible),
                        r => self.role_id(r).map(Who::Role),
                    })
                    .collect::<Result<_, _>>()?,
                channels: via
                    .iter()
                    .map(|c| match c.name.as_str() {
                        "sms" => Ok(Channel::Sms),
                        "email" => Ok(Channel::Email),
                        other => Err(format!("unknown channel `{other}`")),
                    })
                    .collect::<Result<_, _>>()?,
                template: *self
                    .plan
                    .template_index
                    .get(&template.name)
                    .ok_or_else(|| format!("unknown template `{}`", template.name))?,
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
                title: self.text(title, scope)?,
                role: self.role_id(&role.name)?,
                due: due.as_ref().map(|d| self.expr(d, scope)).transpose()?,
                estimate: estimate.as_ref().map(|d| self.expr(d, scope)).transpose()?,
                line,
            },
            ast::ActionKind::Group { title, roles } => Action::Group {
                title: self.text(title, scope)?,
                roles: roles
                    .iter()
                    .map(|r| self.role_id(&r.name))
                    .collect::<Result<_, _>>()?,
            },
            ast::ActionKind::Spawn {
                title,
                targets,
                body,
                ..
            } => Action::Spawn {
                title: self.text(title, scope)?,
                targets: targets
                    .iter()
                    .map(|t| self.stage_id(&t.name))
                    .collect::<Result<_, _>>()?,
                sets: body
                    .iter()
                    .filter_map(|a| match &a.kind {
                        ast::ActionKind::Set { target, value } => Some((target, value)),
                        _ => None,
                    })
                    .map(|(t, v)| Ok((self.slot(&t.name)?, self.expr(v, scope)?)))
                    .collect::<Result<_, String>>()?,
            },
            ast::ActionKind::ForEach { var, list, body } => {
                let list = self.expr(list, scope)?;
                let inner = scope.with_var(&var.name);
                Action::ForEach {
                    list,
                    body: self.block(body, &inner)?,
                }
            }
        })
    }

    fn text(&self, s: &ast::Str, scope: &expr::Scope) -> Result<Text, String> {
        let mut parts = Vec::new();
        for p in &s.parts {
            parts.push(match p {
                ast::StrPart::Text(t) => TextPart::Lit(t.clone()),
                ast::StrPart::Interp(e) => TextPart::Expr(self.expr(e, scope)?),
            });
        }
        // A `"""` text starts on the line after the opening quotes and ends on the line
        // before the closing ones.
        if s.triple {
            if let Some(TextPart::Lit(first)) = parts.first_mut()
                && let Some(rest) = first
                    .strip_prefix('\n')
                    .or_else(|| first.strip_prefix("\r\n"))
            {
                *first = rest.to_string();
            }
            if let Some(TextPart::Lit(last)) = parts.last_mut()
                && let Some(rest) = last.strip_suffix('\n')
            {
                *last = rest.strip_suffix('\r').unwrap_or(rest).to_string();
            }
        }
        Ok(Text { parts })
    }

    fn expr(&self, e: &ast::Expr, scope: &expr::Scope) -> Result<Expr, String> {
        expr::compile(self, e, scope)
    }
}

fn payload_type(t: &ast::TypeSpec) -> PayloadType {
    match t {
        ast::TypeSpec::Named(n) => {
            PayloadType::Scalar(Ty::from_field_type(&n.name).unwrap_or(Ty::Unknown))
        }
        ast::TypeSpec::List(entries, _) => PayloadType::List(
            entries
                .iter()
                .map(|e| {
                    let ty = match &e.ty {
                        Some(ast::TypeSpec::Named(n)) => {
                            Ty::from_field_type(&n.name).unwrap_or(Ty::Unknown)
                        }
                        _ => Ty::Unknown,
                    };
                    (e.name.name.clone(), ty)
                })
                .collect(),
        ),
    }
}

fn calendar(c: &ast::Calendar) -> WorkCalendar {
    let mut cal = WorkCalendar {
        workweek: [false; 7],
        hours: Vec::new(),
        holidays: BTreeSet::new(),
    };
    let day = |i: &ast::Ident| {
        crate::check::WEEKDAYS
            .iter()
            .position(|w| i.name.to_lowercase().starts_with(w))
    };
    let (mut has_days, mut has_hours) = (false, false);
    for line in &c.lines {
        match &line.kind {
            ast::CalendarLineKind::Workweek(days) => {
                for (from, to) in days {
                    has_days = true;
                    if let Some(a) = day(from) {
                        let b = to.as_ref().and_then(day).unwrap_or(a);
                        for slot in cal.workweek.iter_mut().take(b + 1).skip(a) {
                            *slot = true;
                        }
                    }
                }
            }
            ast::CalendarLineKind::Hours(ranges) => {
                for (a, b) in ranges {
                    has_hours = true;
                    cal.hours.push((a.value, b.value));
                }
            }
            ast::CalendarLineKind::Holidays(days) => {
                for (a, b) in days {
                    let end = b.as_ref().map_or(a.value, |b| b.value);
                    let mut d = a.value;
                    while d <= end {
                        cal.holidays.insert(d);
                        match d.succ_opt() {
                            Some(n) => d = n,
                            None => break,
                        }
                    }
                }
            }
        }
    }
    let default = WorkCalendar::default();
    if !has_days {
        cal.workweek = default.workweek;
    }
    if !has_hours {
        cal.hours = default.hours;
    }
    cal.hours.sort();
    cal
}
