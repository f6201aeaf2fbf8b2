//! Checked AST to a plan: the names the checker resolved become indexes, texts are split into
//! parts, the calendar and time zone are built. The engine runs plans and never looks a name up
//! while running.
//!
//! The compiler resolves nothing by itself: every declaration is placed at the id the checker
//! gave it, and every name used is what the checker found it to stand for ([`Names`]). A file
//! the checker refused has holes there; compiling it is an error that names the first hole.

mod expr;
pub mod plan;
mod stages;

use std::collections::{BTreeSet, HashMap};

use crate::ast::{self, Ident, Item, Span};
use crate::calendar::WorkCalendar;
use crate::check::{Def, Names, ScriptFile};
use crate::source::SourceFile;
use crate::types::Ty;
pub use expr::coerce;
pub use plan::*;

/// Why a file could not be compiled. Only a file the checker refused gets here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// A name the checker did not resolve to what it must be here.
    #[error("{file}:{line}: `{name}` is not a known {what} (check the file first)")]
    Unresolved {
        /// What the name must stand for (`stage`, `field`…).
        what: &'static str,
        /// The name as written.
        name: String,
        /// The pipeline file.
        file: String,
        /// The line it is on.
        line: usize,
    },
    /// A value that cannot be built: a moment the time zone skips, a duration too long.
    #[error("{file}:{line}: {problem}")]
    Value {
        /// What is wrong, in words.
        problem: String,
        /// The pipeline file.
        file: String,
        /// The line it is on.
        line: usize,
    },
}

/// Builds the plan of a file that checked clean: `names` is what the checker resolved,
/// `script` the script it read.
pub fn compile(
    file: &ast::File,
    names: &Names,
    source: &SourceFile,
    script: Option<&ScriptFile>,
) -> Result<Plan, CompileError> {
    let mut c = Compiler {
        file,
        names,
        source,
        plan: Plan::empty(source.name.clone()),
    };
    c.declarations()?;
    c.stages()?;
    let mut plan = c.plan;
    if let Some(s) = script {
        plan.script_name = Some(s.name.clone());
        plan.script = Some(s.text.clone());
    }
    Ok(plan)
}

pub(crate) struct Compiler<'a> {
    file: &'a ast::File,
    names: &'a Names,
    source: &'a SourceFile,
    pub plan: Plan,
}

/// Puts `item` at `id`, growing `items` as needed (declarations come in file order, and so do
/// their ids, but the ids are the checker's).
fn place<T>(items: &mut Vec<Option<T>>, id: usize, item: T) {
    if items.len() <= id {
        items.resize_with(id + 1, || None);
    }
    items[id] = Some(item);
}

impl<'a> Compiler<'a> {
    pub(crate) fn line(&self, span: Span) -> usize {
        self.source.line_col(span.start).0
    }

    fn unresolved(&self, what: &'static str, name: &Ident) -> CompileError {
        CompileError::Unresolved {
            what,
            name: name.name.clone(),
            file: self.source.name.clone(),
            line: self.line(name.span),
        }
    }

    pub(crate) fn value_error(&self, span: Span, problem: String) -> CompileError {
        CompileError::Value {
            problem,
            file: self.source.name.clone(),
            line: self.line(span),
        }
    }

    /// What the checker found `name` to stand for.
    pub(crate) fn def(&self, name: &Ident) -> Option<Def> {
        self.names.of(name)
    }

    pub(crate) fn stage_id(&self, name: &Ident) -> Result<StageId, CompileError> {
        match self.def(name) {
            Some(Def::Stage(s)) => Ok(s),
            _ => Err(self.unresolved("stage", name)),
        }
    }

    pub(crate) fn event_id(&self, name: &Ident) -> Result<EventId, CompileError> {
        match self.def(name) {
            Some(Def::Event(e)) => Ok(e),
            _ => Err(self.unresolved("event", name)),
        }
    }

    pub(crate) fn role_id(&self, name: &Ident) -> Result<RoleId, CompileError> {
        match self.def(name) {
            Some(Def::Role(r)) => Ok(r),
            _ => Err(self.unresolved("role", name)),
        }
    }

    pub(crate) fn slot(&self, name: &Ident) -> Result<Slot, CompileError> {
        match self.def(name) {
            Some(Def::Field(f)) => Ok(Slot::Field(f)),
            Some(Def::Role(r)) => Ok(Slot::Role(r)),
            _ => Err(self.unresolved("field", name)),
        }
    }

    fn template_id(&self, name: &Ident) -> Result<usize, CompileError> {
        match self.def(name) {
            Some(Def::Template(t)) => Ok(t),
            _ => Err(self.unresolved("template", name)),
        }
    }

    fn declarations(&mut self) -> Result<(), CompileError> {
        let file = self.file;
        let mut calendars: HashMap<usize, &ast::Calendar> = HashMap::new();
        let (mut roles, mut fields, mut stages) = (Vec::new(), Vec::new(), Vec::new());
        for item in &file.items {
            match item {
                Item::Calendar(c) => match self.def(&c.id) {
                    Some(Def::Calendar(id)) => {
                        calendars.insert(id, c);
                    }
                    _ => return Err(self.unresolved("calendar", &c.id)),
                },
                Item::Role(r) => {
                    let id = self.role_id(&r.id)?;
                    let title = r
                        .title
                        .as_ref()
                        .and_then(|t| t.plain())
                        .unwrap_or_else(|| r.id.name.clone());
                    let name = r.id.name.clone();
                    place(&mut roles, id, RoleDef { name, title });
                }
                Item::Fields(fs) => {
                    for f in &fs.fields {
                        let Slot::Field(id) = self.slot(&f.name)? else {
                            return Err(self.unresolved("field", &f.name));
                        };
                        let ty = self.names.field_type(id).cloned().unwrap_or(Ty::Unknown);
                        // Defaults are literals, converted to the field's type.
                        let default = f
                            .default
                            .as_ref()
                            .and_then(expr::constant)
                            .map(|v| expr::coerce(v, &ty));
                        let def = FieldDef {
                            name: f.name.name.clone(),
                            label: f.label.as_ref().and_then(|l| l.plain()),
                            ty: ty.clone(),
                            required: f.required,
                            derived: f.derived.is_some(),
                            personal: f.personal
                                || matches!(ty, Ty::Phone | Ty::Email | Ty::Telegram),
                            default,
                        };
                        place(&mut fields, id, def);
                    }
                }
                Item::Stage(s) => {
                    let id = self.stage_id(&s.id)?;
                    let def = StageDef::new(
                        &s.id.name,
                        s.title.plain().unwrap_or_default(),
                        s.join,
                        s.is_final,
                        self.line(s.span),
                    );
                    place(&mut stages, id, def);
                }
                _ => {}
            }
        }
        self.plan.roles = whole(roles, "role", &self.source.name)?;
        self.plan.fields = whole(fields, "field", &self.source.name)?;
        self.plan.stages = whole(stages, "stage", &self.source.name)?;
        self.plan.role_index = index(&self.plan.roles, |r| &r.name);
        self.plan.field_index = index(&self.plan.fields, |f| &f.name);
        self.plan.stage_index = index(&self.plan.stages, |s| &s.name);
        self.pipeline(&calendars)?;
        self.events_and_phases()?;
        self.migrations()?;
        // Templates and alerts use expressions, which need events and stages in place.
        self.templates_and_alerts()
    }

    /// Derived fields, ordered so that each comes after the derived fields it reads (the
    /// checker refused circles; declaration order otherwise).
    fn derived(&mut self) -> Result<(), CompileError> {
        let mut left = Vec::new();
        for item in &self.file.items {
            let Item::Fields(fs) = item else { continue };
            for f in &fs.fields {
                let Some(e) = &f.derived else { continue };
                let Slot::Field(field) = self.slot(&f.name)? else {
                    return Err(self.unresolved("field", &f.name));
                };
                let expr = self.expr(e)?;
                let reads = expr::fields_read(&expr);
                let line = self.line(f.span);
                left.push((field, expr, reads, line));
            }
        }
        while !left.is_empty() {
            let ready = left.iter().position(|(_, _, reads, _)| {
                reads
                    .iter()
                    .all(|r| !left.iter().any(|(other, ..)| other == r))
            });
            // A circle was reported by the checker; computing in file order is then harmless.
            let (field, expr, reads, line) = left.remove(ready.unwrap_or(0));
            let clock = expr::depends_on_clock(&expr)
                || reads
                    .iter()
                    .any(|r| self.plan.derived.iter().any(|d| d.field == *r && d.clock));
            self.plan.derived.push(DerivedDef {
                field,
                expr,
                clock,
                line,
            });
        }
        Ok(())
    }

    fn migrations(&mut self) -> Result<(), CompileError> {
        for item in &self.file.items {
            let Item::Migrate(m) = item else { continue };
            let line = self.line(m.span);
            match &m.kind {
                ast::MigrationKind::Stage { from, to, enter } => {
                    let to = self.stage_id(to)?;
                    self.plan.migrations.stages.insert(
                        from.name.clone(),
                        StageMove {
                            to,
                            enter: *enter,
                            line,
                        },
                    );
                }
                ast::MigrationKind::Field { from, to } => {
                    let Slot::Field(to) = self.slot(to)? else {
                        return Err(self.unresolved("field", to));
                    };
                    self.plan
                        .migrations
                        .fields
                        .insert(from.name.clone(), FieldMove { to, line });
                }
            }
        }
        Ok(())
    }

    fn pipeline(&mut self, calendars: &HashMap<usize, &ast::Calendar>) -> Result<(), CompileError> {
        for item in &self.file.items {
            let Item::Pipeline(p) = item else { continue };
            self.plan.name = p.id.name.clone();
            self.plan.title = p.title.plain().unwrap_or_default();
            for s in &p.settings {
                match &s.kind {
                    ast::SettingKind::Timezone(t) => match self.names.timezone() {
                        Some(tz) => self.plan.tz = tz,
                        None => {
                            let name = t.plain().unwrap_or_default();
                            return Err(
                                self.value_error(t.span, format!("`{name}` is not a time zone"))
                            );
                        }
                    },
                    ast::SettingKind::Currency(c) => self.plan.currency = c.name.clone(),
                    ast::SettingKind::Country(c) => {
                        self.plan.country = crate::contact::phone_country(&c.name);
                    }
                    ast::SettingKind::Calendar(c) => {
                        let cal = match self.def(c) {
                            Some(Def::Calendar(id)) => calendars.get(&id),
                            _ => None,
                        };
                        let cal = cal.ok_or_else(|| self.unresolved("calendar", c))?;
                        self.plan.calendar = calendar(cal);
                    }
                    ast::SettingKind::Script(_) => {}
                    ast::SettingKind::Maps(a) => {
                        let text = a.plain().unwrap_or_default();
                        crate::maps::address(&text)
                            .map_err(|why| self.value_error(a.span, format!("`{text}`: {why}")))?;
                        self.plan.maps = text;
                    }
                    ast::SettingKind::NotifyHook(f) => self.plan.notify_hook = Some(f.name.clone()),
                }
            }
        }
        Ok(())
    }

    fn events_and_phases(&mut self) -> Result<(), CompileError> {
        let mut events = Vec::new();
        for item in &self.file.items {
            let Item::Event(e) = item else { continue };
            let id = self.event_id(&e.id)?;
            let mut def = EventDef {
                name: e.id.name.clone(),
                sets: Vec::new(),
                payload: Vec::new(),
                line: self.line(e.span),
            };
            for entry in e.entries.iter().flatten() {
                if entry.ty.is_none() {
                    def.sets.push(self.slot(&entry.name)?);
                }
            }
            def.payload = self
                .names
                .payload(id)
                .iter()
                .map(|(name, ty)| {
                    let t = match ty {
                        Ty::List(rec) => PayloadType::List(rec.clone()),
                        other => PayloadType::Scalar(other.clone()),
                    };
                    (name.clone(), t)
                })
                .collect();
            place(&mut events, id, def);
        }
        self.plan.events = whole(events, "event", &self.source.name)?;
        self.plan.event_index = index(&self.plan.events, |e| &e.name);
        for item in &self.file.items {
            let Item::Phase(p) = item else { continue };
            let stages = p
                .stages
                .iter()
                .map(|s| self.stage_id(s))
                .collect::<Result<_, _>>()?;
            self.plan.phases.push(PhaseDef {
                name: p.id.name.clone(),
                title: p.title.plain().unwrap_or_default(),
                stages,
            });
        }
        Ok(())
    }

    fn templates_and_alerts(&mut self) -> Result<(), CompileError> {
        self.derived()?;
        let mut templates = Vec::new();
        for item in &self.file.items {
            match item {
                Item::Template(t) => {
                    let id = self.template_id(&t.id)?;
                    let mut def = TemplateDef {
                        name: t.id.name.clone(),
                        sms: None,
                        email: None,
                    };
                    for part in &t.parts {
                        match part {
                            ast::TemplatePart::Sms { text, .. } => def.sms = Some(self.text(text)?),
                            ast::TemplatePart::Email {
                                subject,
                                body,
                                attach,
                                ..
                            } => {
                                let attach = attach.as_ref().map(|a| self.expr(a)).transpose()?;
                                def.email = Some(EmailDef {
                                    subject: self.text(subject)?,
                                    body: self.text(body)?,
                                    attach,
                                });
                            }
                        }
                    }
                    place(&mut templates, id, def);
                }
                Item::Alert(a) => {
                    let cond = self.expr(&a.cond)?;
                    let time_dependent = expr::depends_on_clock(&cond)
                        || expr::fields_read(&cond)
                            .iter()
                            .any(|f| self.plan.derived.iter().any(|d| d.field == *f && d.clock));
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
        self.plan.templates = whole(templates, "template", &self.source.name)?;
        self.plan.template_index = index(&self.plan.templates, |t| &t.name);
        Ok(())
    }

    fn text(&self, s: &ast::Str) -> Result<Text, CompileError> {
        let mut parts = Vec::new();
        for p in &s.parts {
            parts.push(match p {
                ast::StrPart::Text(t) => TextPart::Lit(t.clone()),
                ast::StrPart::Interp(e) => TextPart::Expr(self.expr(e)?),
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

    fn expr(&self, e: &ast::Expr) -> Result<Expr, CompileError> {
        expr::compile(self, e)
    }
}

/// The declarations of one kind, with no hole (a hole: the checker did not place one).
fn whole<T>(items: Vec<Option<T>>, what: &'static str, file: &str) -> Result<Vec<T>, CompileError> {
    let n = items.len();
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            item.ok_or_else(|| CompileError::Unresolved {
                what,
                name: format!("#{i} of {n}"),
                file: file.to_string(),
                line: 0,
            })
        })
        .collect()
}

/// Ids by name.
fn index<T>(items: &[T], name: impl Fn(&T) -> &String) -> HashMap<String, usize> {
    items
        .iter()
        .enumerate()
        .map(|(i, t)| (name(t).clone(), i))
        .collect()
}

fn calendar(c: &ast::Calendar) -> WorkCalendar {
    let mut cal = WorkCalendar {
        workweek: [false; 7],
        hours: Vec::new(),
        holidays: BTreeSet::new(),
    };
    let day = |i: &ast::Ident| crate::calendar::weekday(&i.name);
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
