//! The checker: every name resolved, every value of the right kind, every stage able to move.
//!
//! It reports all it finds, not only the first problem. It does no I/O of its own: the
//! pipeline's script is read through the loader the caller passes.

mod expr;
mod flow;
pub mod types;

pub use flow::visit_actions as visit_stage_actions;

use std::collections::HashMap;

use crate::ast::*;
use crate::diag::{self, Diagnostic, codes, did_you_mean};
use crate::script::ScriptInfo;
use types::Ty;

/// Reads a file named by the pipeline (its `script`), relative to the pipeline file.
pub type Loader<'a> = &'a dyn Fn(&str) -> Result<String, String>;

/// Values every expression may use besides the deal's fields and roles.
pub const BUILTIN_VALUES: &[&str] = &["now", "today", "title", "hours_spent", "open_tasks", "deal"];
/// Functions every pipeline has.
pub const BUILTIN_FUNCTIONS: &[&str] = &[
    "next_workday",
    "add_workdays",
    "workdays_between",
    "format",
    "map_link",
    "calendar",
    "len",
];
/// Recipients that are not roles.
const RECIPIENTS: &[&str] = &["client", "responsible"];
/// Message channels.
const CHANNELS: &[&str] = &["sms", "email"];
/// Days of the week as written in `workweek`.
pub const WEEKDAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Checks a parsed file. `loader` reads the pipeline's script; diagnostics come back sorted.
pub fn check(file: &File, loader: Loader<'_>) -> Vec<Diagnostic> {
    let mut cx = Checker::new(file, loader);
    cx.run();
    let mut diags = cx.diags;
    diag::sort(&mut diags);
    diags
}

/// Declarations found in the file, by name.
pub(crate) struct Symbols<'a> {
    pub pipeline: Option<&'a Pipeline>,
    pub calendars: HashMap<&'a str, &'a Calendar>,
    pub roles: HashMap<&'a str, &'a Role>,
    pub fields: HashMap<&'a str, (&'a FieldDecl, Ty)>,
    pub events: HashMap<&'a str, &'a EventDecl>,
    pub templates: HashMap<&'a str, &'a Template>,
    pub stages: Vec<&'a Stage>,
    pub stage_index: HashMap<&'a str, usize>,
    pub phases: Vec<&'a Phase>,
    pub alerts: Vec<&'a Alert>,
    pub script: Option<ScriptInfo>,
}

impl<'a> Symbols<'a> {
    fn names<'b, T>(map: &'b HashMap<&'a str, T>) -> Vec<&'a str> {
        let mut v: Vec<&str> = map.keys().copied().collect();
        v.sort_unstable();
        v
    }
    pub fn stage_names(&self) -> Vec<&'a str> {
        self.stages.iter().map(|s| s.id.name.as_str()).collect()
    }
}

pub(crate) struct Checker<'a> {
    file: &'a File,
    loader: Loader<'a>,
    pub sym: Symbols<'a>,
    pub diags: Vec<Diagnostic>,
    /// The script did not compile: calls into it are not reported again.
    script_broken: bool,
}

impl<'a> Checker<'a> {
    fn new(file: &'a File, loader: Loader<'a>) -> Self {
        Checker {
            file,
            loader,
            sym: Symbols {
                pipeline: None,
                calendars: HashMap::new(),
                roles: HashMap::new(),
                fields: HashMap::new(),
                events: HashMap::new(),
                templates: HashMap::new(),
                stages: Vec::new(),
                stage_index: HashMap::new(),
                phases: Vec::new(),
                alerts: Vec::new(),
                script: None,
            },
            diags: Vec::new(),
            script_broken: false,
        }
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn run(&mut self) {
        self.collect();
        self.pipeline();
        for item in &self.file.items {
            match item {
                Item::Calendar(c) => self.calendar(c),
                Item::Event(e) => self.event(e),
                Item::Template(t) => self.template(t),
                Item::Stage(s) => self.stage(s),
                Item::Phase(_) | Item::Alert(_) | Item::Role(_) | Item::Fields(_) => {}
                Item::Pipeline(_) => {}
            }
        }
        self.field_defaults();
        self.phases_and_alerts();
        flow::check(self);
    }

    /// Gathers declarations and reports names used twice.
    fn collect(&mut self) {
        let file = self.file;
        let mut first: HashMap<(&str, &str), Span> = HashMap::new();
        let mut dup = |cx: &mut Self, kind: &'static str, id: &'a Ident| {
            if let Some(prev) = first.insert((kind, id.name.as_str()), id.span) {
                first.insert((kind, id.name.as_str()), prev);
                cx.push(
                    Diagnostic::error(
                        codes::DUPLICATE,
                        id.span,
                        format!("there is already a {kind} named `{}`", id.name),
                    )
                    .with_label("declared again here")
                    .with_related(prev, "first declared here")
                    .with_help(format!(
                        "give this {kind} another name, or remove one of them"
                    )),
                );
                true
            } else {
                false
            }
        };
        for item in &file.items {
            match item {
                Item::Pipeline(p) => {
                    if let Some(prev) = self.sym.pipeline {
                        self.push(
                            Diagnostic::error(
                                codes::TWO_PIPELINES,
                                p.id.span,
                                "a file holds exactly one pipeline; this is a second one",
                            )
                            .with_label("second pipeline")
                            .with_related(prev.id.span, "the first pipeline")
                            .with_help("put each pipeline in a file of its own".to_string()),
                        );
                    } else {
                        self.sym.pipeline = Some(p);
                    }
                }
                Item::Calendar(c) => {
                    if !dup(self, "calendar", &c.id) {
                        self.sym.calendars.insert(&c.id.name, c);
                    }
                }
                Item::Role(r) => {
                    if !dup(self, "role", &r.id) {
                        self.sym.roles.insert(&r.id.name, r);
                    }
                }
                Item::Fields(fs) => {
                    for f in &fs.fields {
                        if dup(self, "field", &f.name) {
                            continue;
                        }
                        let ty = match Ty::from_field_type(&f.ty.name) {
                            Some(t) => t,
                            None => {
                                self.push(
                                    Diagnostic::error(
                                        codes::UNKNOWN_TYPE,
                                        f.ty.span,
                                        format!("`{}` is not a field type", f.ty.name),
                                    )
                                    .with_label("unknown type")
                                    .with_help(
                                        did_you_mean(&f.ty.name, Ty::FIELD_TYPES.iter().copied())
                                            .unwrap_or_else(|| {
                                                format!(
                                                    "a field is one of: {}",
                                                    Ty::FIELD_TYPES.join(", ")
                                                )
                                            }),
                                    ),
                                );
                                Ty::Unknown
                            }
                        };
                        self.sym.fields.insert(&f.name.name, (f, ty));
                    }
                }
                Item::Event(e) => {
                    if !dup(self, "event", &e.id) {
                        self.sym.events.insert(&e.id.name, e);
                    }
                }
                Item::Template(t) => {
                    if !dup(self, "template", &t.id) {
                        self.sym.templates.insert(&t.id.name, t);
                    }
                }
                Item::Stage(s) => {
                    if !dup(self, "stage", &s.id) {
                        self.sym
                            .stage_index
                            .insert(&s.id.name, self.sym.stages.len());
                        self.sym.stages.push(s);
                    }
                }
                Item::Phase(p) => {
                    if !dup(self, "phase", &p.id) {
                        self.sym.phases.push(p);
                    }
                }
                Item::Alert(a) => {
                    if !dup(self, "alert", &a.id) {
                        self.sym.alerts.push(a);
                    }
                }
            }
        }
        // A role is also a deal slot, so it shares the fields' names; built-ins are taken.
        for item in &file.items {
            if let Item::Role(r) = item
                && let Some((f, _)) = self.sym.fields.get(r.id.name.as_str())
            {
                let fspan = f.name.span;
                self.push(
                    Diagnostic::error(
                        codes::DUPLICATE,
                        r.id.span,
                        format!("`{}` is both a role and a field", r.id.name),
                    )
                    .with_label("role declared here")
                    .with_related(fspan, "field declared here")
                    .with_help(
                        "each role is also a deal slot of the same name; rename one of them"
                            .to_string(),
                    ),
                );
            }
        }
        let mut builtin_clash = Vec::new();
        for (name, (f, _)) in &self.sym.fields {
            if BUILTIN_VALUES.contains(name) || *name == "event" {
                builtin_clash.push(f.name.clone());
            }
        }
        for (name, r) in &self.sym.roles {
            if BUILTIN_VALUES.contains(name) || RECIPIENTS.contains(name) || *name == "event" {
                builtin_clash.push(r.id.clone());
            }
        }
        builtin_clash.sort_by_key(|i| i.span.start);
        for id in builtin_clash {
            self.push(
                Diagnostic::error(
                    codes::DUPLICATE,
                    id.span,
                    format!(
                        "`{}` is a built-in name and cannot be declared again",
                        id.name
                    ),
                )
                .with_label("taken by the language")
                .with_help("choose another name".to_string()),
            );
        }
        if self.sym.pipeline.is_none() {
            self.push(
                Diagnostic::error(
                    codes::NO_PIPELINE,
                    Span::new(0, 0),
                    "this file has no `pipeline`",
                )
                .with_help(
                    "start the file with `pipeline ID \"Title\" { timezone \"Europe/Moscow\" }`"
                        .to_string(),
                ),
            );
        }
        if self.sym.stages.is_empty() && self.sym.pipeline.is_some() {
            let span = self.sym.pipeline.map_or(Span::default(), |p| p.id.span);
            self.push(
                Diagnostic::error(codes::NO_STAGES, span, "the pipeline has no stages").with_help(
                    "add at least one `stage ID \"Title\"`; deals start at the first".to_string(),
                ),
            );
        }
    }

    fn pipeline(&mut self) {
        let Some(p) = self.sym.pipeline else { return };
        let mut seen: HashMap<&'static str, Span> = HashMap::new();
        let mut has_timezone = false;
        let mut hook: Option<&Ident> = None;
        for s in &p.settings {
            let key = match &s.kind {
                SettingKind::Timezone(_) => "timezone",
                SettingKind::Currency(_) => "currency",
                SettingKind::Calendar(_) => "calendar",
                SettingKind::Script(_) => "script",
                SettingKind::NotifyHook(_) => "notify hook",
            };
            if let Some(prev) = seen.insert(key, s.span) {
                self.push(
                    Diagnostic::error(
                        codes::SETTING_TWICE,
                        s.span,
                        format!("`{key}` is set twice"),
                    )
                    .with_label("set again here")
                    .with_related(prev, "first set here")
                    .with_help("keep one of the two lines".to_string()),
                );
                continue;
            }
            match &s.kind {
                SettingKind::Timezone(tz) => {
                    has_timezone = true;
                    let name = tz.plain().unwrap_or_default();
                    if name.parse::<chrono_tz::Tz>().is_err() {
                        let names = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
                        self.push(
                            Diagnostic::error(codes::UNKNOWN_TIMEZONE, tz.span, format!("`{name}` is not a time zone"))
                                .with_label("unknown time zone")
                                .with_help(did_you_mean(&name, names).unwrap_or_else(|| "write a zone of the IANA database, like `Europe/Moscow` or `America/New_York`".into())),
                        );
                    }
                }
                SettingKind::Calendar(c) => {
                    if !self.sym.calendars.contains_key(c.name.as_str()) {
                        let names = Symbols::names(&self.sym.calendars);
                        self.push(
                            Diagnostic::error(codes::UNKNOWN_CALENDAR, c.span, format!("there is no calendar `{}`", c.name))
                                .with_label("unknown calendar")
                                .with_help(did_you_mean(&c.name, names).unwrap_or_else(|| format!("declare it: `calendar {} {{ workweek mon..fri; hours 10:00..19:00 }}`", c.name))),
                        );
                    }
                }
                SettingKind::Script(path) => self.script(path),
                SettingKind::NotifyHook(f) => hook = Some(f),
                SettingKind::Currency(_) => {}
            }
        }
        if !has_timezone {
            self.push(
                Diagnostic::warning(
                    codes::NO_TIMEZONE,
                    p.id.span,
                    "the pipeline has no `timezone`; times will be read as UTC",
                )
                .with_help(
                    "add `timezone \"Europe/Moscow\"` (or your zone) to the pipeline".to_string(),
                ),
            );
        }
        if let Some(f) = hook {
            self.function_exists(f, Some(1), "notify hook");
        }
    }

    fn script(&mut self, path: &Str) {
        let name = path.plain().unwrap_or_default();
        match (self.loader)(&name) {
            Err(why) => self.push(
                Diagnostic::error(
                    codes::SCRIPT_MISSING,
                    path.span,
                    format!("the script `{name}` cannot be read: {why}"),
                )
                .with_label("script file")
                .with_help("the path is relative to this pipeline file".to_string()),
            ),
            Ok(text) => match crate::script::inspect(&text) {
                Ok(info) => self.sym.script = Some(info),
                Err(e) => {
                    let place = match (e.line, e.column) {
                        (Some(l), Some(c)) => format!("{name}:{l}:{c}"),
                        (Some(l), None) => format!("{name}:{l}"),
                        _ => name.clone(),
                    };
                    self.push(
                        Diagnostic::error(
                            codes::SCRIPT_ERROR,
                            path.span,
                            format!("the script has an error at {place}: {}", e.message),
                        )
                        .with_label("in this script")
                        .with_help(
                            "fix the script; its functions cannot be used until it compiles"
                                .to_string(),
                        ),
                    );
                    // Calls into a broken script are not reported again.
                    self.sym.script = Some(ScriptInfo {
                        functions: Vec::new(),
                    });
                    self.script_broken = true;
                }
            },
        }
    }

    /// Checks that a script function exists (with `arity` parameters, when given).
    pub fn function_exists(&mut self, f: &Ident, arity: Option<usize>, what: &str) -> bool {
        if self.script_broken {
            return true;
        }
        let Some(script) = &self.sym.script else {
            let help = if BUILTIN_FUNCTIONS.contains(&f.name.as_str()) {
                None
            } else {
                did_you_mean(&f.name, BUILTIN_FUNCTIONS.iter().copied()).or_else(|| {
                    Some("functions other than the built-in ones come from the pipeline's `script \"file.rhai\"`, and this pipeline has none".into())
                })
            };
            self.push(
                Diagnostic::error(
                    codes::UNKNOWN_FUNCTION,
                    f.span,
                    format!("there is no function `{}`", f.name),
                )
                .with_label(format!("unknown {what}"))
                .with_help(help),
            );
            return false;
        };
        let arities = script.arities(&f.name);
        if arities.is_empty() {
            let mut names: Vec<&str> = script.functions.iter().map(|(n, _)| n.as_str()).collect();
            names.extend(BUILTIN_FUNCTIONS);
            let help = did_you_mean(&f.name, names)
                .unwrap_or_else(|| format!("define `fn {}(…)` in the pipeline's script", f.name));
            self.push(
                Diagnostic::error(
                    codes::UNKNOWN_FUNCTION,
                    f.span,
                    format!(
                        "there is no function `{}` in the script or built in",
                        f.name
                    ),
                )
                .with_label(format!("unknown {what}"))
                .with_help(help),
            );
            return false;
        }
        if let Some(n) = arity
            && !arities.contains(&n)
        {
            let have = arities
                .iter()
                .map(|&a| values(a))
                .collect::<Vec<_>>()
                .join(" or ");
            let diag = if what == "notify hook" {
                Diagnostic::error(codes::HOOK_SIGNATURE, f.span, format!("the notify hook `{}` must take one value, the message, but it takes {have}", f.name))
                    .with_label("notify hook")
                    .with_help(format!("define it as `fn {}(msg) {{ … msg }}` in the script", f.name))
            } else {
                Diagnostic::error(
                    codes::ARITY,
                    f.span,
                    format!("`{}` takes {have}, but is given {n}", f.name),
                )
                .with_label(format!("given {n}"))
            };
            self.push(diag);
            return false;
        }
        true
    }

    fn calendar(&mut self, c: &Calendar) {
        let mut has_days = false;
        let mut has_hours = false;
        for line in &c.lines {
            match &line.kind {
                CalendarLineKind::Workweek(days) => {
                    for (from, to) in days {
                        has_days = true;
                        let a = self.weekday(from);
                        let b = to.as_ref().and_then(|t| self.weekday(t));
                        if let (Some(a), Some(b), Some(to)) = (a, b, to)
                            && b < a
                        {
                            self.push(
                                Diagnostic::error(
                                    codes::CALENDAR_RANGE,
                                    from.span.to(to.span),
                                    format!("`{}..{}` runs backwards", from.name, to.name),
                                )
                                .with_help(format!(
                                    "write the days in week order, e.g. `{}..{}`",
                                    to.name, from.name
                                )),
                            );
                        }
                    }
                }
                CalendarLineKind::Hours(ranges) => {
                    for (from, to) in ranges {
                        has_hours = true;
                        if to.value <= from.value {
                            self.push(
                                Diagnostic::error(
                                    codes::CALENDAR_RANGE,
                                    from.span.to(to.span),
                                    "working hours end before they start",
                                )
                                .with_label("empty range")
                                .with_help(
                                    "write the start first, e.g. `hours 10:00..19:00`".to_string(),
                                ),
                            );
                        }
                    }
                }
                CalendarLineKind::Holidays(days) => {
                    for (from, to) in days {
                        if let Some(to) = to
                            && to.value < from.value
                        {
                            self.push(
                                Diagnostic::error(
                                    codes::CALENDAR_RANGE,
                                    from.span.to(to.span),
                                    "this holiday range ends before it starts",
                                )
                                .with_label("empty range")
                                .with_help("write the first day first".to_string()),
                            );
                        }
                    }
                }
            }
        }
        if !has_days || !has_hours {
            let missing = if !has_days { "`workweek`" } else { "`hours`" };
            self.push(
                Diagnostic::warning(
                    codes::EMPTY_CALENDAR,
                    c.id.span,
                    format!("calendar `{}` has no {missing}", c.id.name),
                )
                .with_help(
                    "working-day durations use the default: mon..fri, 09:00..18:00".to_string(),
                ),
            );
        }
    }

    fn weekday(&mut self, d: &Ident) -> Option<usize> {
        let lower = d.name.to_lowercase();
        let found = WEEKDAYS.iter().position(|w| {
            lower == *w || (lower.len() > 3 && lower.starts_with(w) && full_weekday(w) == lower)
        });
        if found.is_none() {
            self.push(
                Diagnostic::error(
                    codes::UNKNOWN_WEEKDAY,
                    d.span,
                    format!("`{}` is not a day of the week", d.name),
                )
                .with_label("unknown day")
                .with_help(
                    did_you_mean(&lower, WEEKDAYS.iter().copied()).unwrap_or_else(|| {
                        "days are written mon, tue, wed, thu, fri, sat, sun".into()
                    }),
                ),
            );
        }
        found
    }

    fn event(&mut self, e: &EventDecl) {
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for entry in e.entries.iter().flatten() {
            if let Some(prev) = seen.insert(&entry.name.name, entry.name.span) {
                self.push(
                    Diagnostic::error(
                        codes::DUPLICATE,
                        entry.name.span,
                        format!("event `{}` lists `{}` twice", e.id.name, entry.name.name),
                    )
                    .with_related(prev, "first listed here"),
                );
            }
            match &entry.ty {
                None => {
                    let known = self.sym.fields.contains_key(entry.name.name.as_str())
                        || self.sym.roles.contains_key(entry.name.name.as_str());
                    if !known {
                        let names: Vec<&str> = self
                            .sym
                            .fields
                            .keys()
                            .chain(self.sym.roles.keys())
                            .copied()
                            .collect();
                        self.push(
                            Diagnostic::error(
                                codes::UNKNOWN_FIELD,
                                entry.name.span,
                                format!(
                                    "event `{}` sets `{}`, but the deal has no such field",
                                    e.id.name, entry.name.name
                                ),
                            )
                            .with_label("unknown field")
                            .with_help(did_you_mean(&entry.name.name, names).unwrap_or_else(|| {
                                format!(
                                    "declare it in `fields`, or give it a type here: `{}: text`",
                                    entry.name.name
                                )
                            })),
                        );
                    }
                }
                Some(ty) => {
                    self.type_spec(ty, true);
                }
            }
        }
    }

    /// The type of a payload entry; lists are allowed only at the top of an event.
    pub fn type_spec(&mut self, ty: &TypeSpec, allow_list: bool) -> Ty {
        match ty {
            TypeSpec::Named(name) => match Ty::from_field_type(&name.name) {
                Some(t) => t,
                None => {
                    if !allow_list || name.name != "list" {
                        self.push(
                            Diagnostic::error(
                                codes::UNKNOWN_TYPE,
                                name.span,
                                format!("`{}` is not a type", name.name),
                            )
                            .with_label("unknown type")
                            .with_help(
                                did_you_mean(&name.name, Ty::FIELD_TYPES.iter().copied())
                                    .unwrap_or_else(|| {
                                        format!(
                                            "a value is one of: {}, or `list of {{ … }}`",
                                            Ty::FIELD_TYPES.join(", ")
                                        )
                                    }),
                            ),
                        );
                    }
                    Ty::Unknown
                }
            },
            TypeSpec::List(entries, span) => {
                if !allow_list {
                    self.push(
                        Diagnostic::error(codes::UNKNOWN_TYPE, *span, "a list cannot hold lists")
                            .with_help(
                                "keep list entries to plain values like text, money or date"
                                    .to_string(),
                            ),
                    );
                }
                let mut rec = Vec::new();
                for e in entries {
                    let t = match &e.ty {
                        Some(t) => self.type_spec(t, false),
                        None => {
                            self.push(
                                Diagnostic::error(
                                    codes::UNKNOWN_TYPE,
                                    e.name.span,
                                    format!(
                                        "`{}` needs a type, e.g. `{}: text`",
                                        e.name.name, e.name.name
                                    ),
                                )
                                .with_label("no type"),
                            );
                            Ty::Unknown
                        }
                    };
                    rec.push((e.name.name.clone(), t));
                }
                Ty::List(rec)
            }
        }
    }

    fn template(&mut self, t: &Template) {
        let (mut sms, mut email) = (None::<Span>, None::<Span>);
        for part in &t.parts {
            let slot = match part {
                TemplatePart::Sms { .. } => &mut sms,
                TemplatePart::Email { .. } => &mut email,
            };
            if let Some(prev) = slot.replace(part.span()) {
                self.push(
                    Diagnostic::error(
                        codes::DUPLICATE,
                        part.span(),
                        format!(
                            "template `{}` has two texts for the same channel",
                            t.id.name
                        ),
                    )
                    .with_related(prev, "the first one"),
                );
            }
            let scope = expr::Scope::template();
            match part {
                TemplatePart::Sms { text, .. } => {
                    self.string(text, &scope);
                }
                TemplatePart::Email {
                    subject,
                    body,
                    attach,
                    ..
                } => {
                    self.string(subject, &scope);
                    self.string(body, &scope);
                    if let Some(a) = attach {
                        let ty = self.expr(a, &scope);
                        if ty != Ty::Attachment && ty != Ty::Unknown {
                            self.push(
                                Diagnostic::error(codes::ARGUMENT_TYPE, a.span, format!("only `calendar(…)` can be attached, but this is {ty}"))
                                    .with_help("attach an invitation: `attach calendar(meeting_at, 1h, meeting_place)`".to_string()),
                            );
                        }
                    }
                }
            }
        }
    }

    fn stage(&mut self, s: &'a Stage) {
        for line in s.lines() {
            let base = expr::Scope::stage();
            match &line.kind {
                StageLineKind::Require(names) => {
                    for n in names {
                        self.field_or_role(n, "required");
                    }
                }
                StageLineKind::Skip(cond) => self.condition(cond, &base),
                StageLineKind::OnEnter(b) | StageLineKind::OnExit(b) => self.block(b, &base),
                StageLineKind::OnEvent { event, guard, body } => {
                    let scope = self.event_scope(event);
                    if let Some(g) = guard {
                        self.condition(g, &scope);
                    }
                    self.block(body, &scope);
                }
                StageLineKind::After { delay, guard, body } => {
                    self.duration(delay, &base);
                    if let Some(g) = guard {
                        self.condition(g, &base);
                    }
                    self.block(body, &base);
                }
                StageLineKind::At {
                    end_of,
                    at,
                    guard,
                    body,
                } => {
                    self.moment(at, *end_of, &base);
                    if let Some(g) = guard {
                        self.condition(g, &base);
                    }
                    self.block(body, &base);
                }
                StageLineKind::Transition(t) => {
                    for target in &t.targets {
                        self.stage_ref(target);
                    }
                    let scope = match &t.trigger {
                        Some(Trigger::On(ev)) => self.event_scope(ev),
                        Some(Trigger::After(d)) => {
                            self.duration(d, &base);
                            base.clone()
                        }
                        Some(Trigger::At { end_of, at }) => {
                            self.moment(at, *end_of, &base);
                            base.clone()
                        }
                        None => base.clone(),
                    };
                    if let Some(g) = &t.guard {
                        self.condition(g, &scope);
                    }
                    if let Some(b) = &t.body {
                        self.block(b, &scope);
                    }
                }
            }
        }
    }

    /// The scope of a block that handles `event` (reporting the event if it is unknown).
    fn event_scope(&mut self, event: &Ident) -> expr::Scope<'a> {
        match self.sym.events.get(event.name.as_str()) {
            Some(decl) => expr::Scope::event(decl),
            None => {
                let names = Symbols::names(&self.sym.events);
                self.push(
                    Diagnostic::error(
                        codes::UNKNOWN_EVENT,
                        event.span,
                        format!("there is no event `{}`", event.name),
                    )
                    .with_label("unknown event")
                    .with_help(
                        did_you_mean(&event.name, names)
                            .unwrap_or_else(|| format!("declare it: `event {}`", event.name)),
                    ),
                );
                expr::Scope::unknown_event()
            }
        }
    }

    pub fn stage_ref(&mut self, s: &Ident) -> bool {
        if self.sym.stage_index.contains_key(s.name.as_str()) {
            return true;
        }
        let names = self.sym.stage_names();
        self.push(
            Diagnostic::error(
                codes::UNKNOWN_STAGE,
                s.span,
                format!("there is no stage `{}`", s.name),
            )
            .with_label("unknown stage")
            .with_help(
                did_you_mean(&s.name, names)
                    .unwrap_or_else(|| format!("declare it: `stage {} \"Title\"`", s.name)),
            ),
        );
        false
    }

    pub fn role_ref(&mut self, r: &Ident) -> bool {
        if self.sym.roles.contains_key(r.name.as_str()) {
            return true;
        }
        let names = Symbols::names(&self.sym.roles);
        self.push(
            Diagnostic::error(
                codes::UNKNOWN_ROLE,
                r.span,
                format!("there is no role `{}`", r.name),
            )
            .with_label("unknown role")
            .with_help(
                did_you_mean(&r.name, names)
                    .unwrap_or_else(|| format!("declare it: `role {} \"Title\"`", r.name)),
            ),
        );
        false
    }

    /// A field or role slot named in `require` or `set`; returns its type when known.
    fn field_or_role(&mut self, n: &Ident, what: &str) -> Option<Ty> {
        if let Some((_, ty)) = self.sym.fields.get(n.name.as_str()) {
            return Some(ty.clone());
        }
        if self.sym.roles.contains_key(n.name.as_str()) {
            return Some(Ty::User);
        }
        let names: Vec<&str> = self
            .sym
            .fields
            .keys()
            .chain(self.sym.roles.keys())
            .copied()
            .collect();
        let builtin = BUILTIN_VALUES.contains(&n.name.as_str());
        let help = if builtin {
            Some(format!(
                "`{}` is kept by dealflow itself and cannot be changed",
                n.name
            ))
        } else {
            did_you_mean(&n.name, names)
                .or_else(|| Some(format!("declare it in `fields`: `{}: text`", n.name)))
        };
        self.push(
            Diagnostic::error(
                codes::UNKNOWN_FIELD,
                n.span,
                format!("the deal has no field `{}`", n.name),
            )
            .with_label(format!("unknown {what} field"))
            .with_help(help),
        );
        None
    }

    fn block(&mut self, b: &Block, scope: &expr::Scope<'a>) {
        for a in &b.actions {
            self.action(a, scope);
        }
    }

    fn action(&mut self, a: &Action, scope: &expr::Scope<'a>) {
        match &a.kind {
            ActionKind::Set { target, value } => self.set(target, value, scope),
            ActionKind::Notify { who, via, template } => self.notify(who, via, template),
            ActionKind::Task {
                role,
                due,
                estimate,
                title,
                ..
            } => {
                self.string(title, scope);
                self.role_ref(role);
                if let Some(d) = due {
                    self.duration(d, scope);
                }
                if let Some(e) = estimate {
                    self.duration(e, scope);
                }
            }
            ActionKind::Group { title, roles } => {
                self.string(title, scope);
                for r in roles {
                    self.role_ref(r);
                }
            }
            ActionKind::Spawn {
                title,
                targets,
                body,
                ..
            } => {
                self.string(title, scope);
                for t in targets {
                    self.stage_ref(t);
                }
                for a in body {
                    self.action(a, scope);
                }
            }
            ActionKind::ForEach { var, list, body } => {
                let ty = self.expr(list, scope);
                let item = match ty {
                    Ty::List(rec) => Ty::Record(rec),
                    Ty::Unknown => Ty::Unknown,
                    other => {
                        self.push(
                            Diagnostic::error(codes::NOT_A_LIST, list.span, format!("`for each` needs a list, but this is {other}"))
                                .with_label("not a list")
                                .with_help("loop over a list the event carries, e.g. `for each c in event.contracts`".to_string()),
                        );
                        Ty::Unknown
                    }
                };
                let inner = scope.with_var(&var.name, item);
                self.block(body, &inner);
            }
        }
    }

    fn set(&mut self, target: &Ident, value: &Expr, scope: &expr::Scope<'a>) {
        let field_ty = self.field_or_role(target, "set");
        let value_ty = self.expr(value, scope);
        if let Some(ft) = field_ty
            && !ft.accepts(&value_ty)
        {
            self.push(
                Diagnostic::error(
                    codes::SET_TYPE,
                    value.span,
                    format!("`{}` holds {ft}, but this is {value_ty}", target.name),
                )
                .with_label(format!("this is {value_ty}"))
                .with_help(set_help(&ft, &value_ty)),
            );
        }
    }

    fn notify(&mut self, who: &[Ident], via: &[Ident], template: &Ident) {
        for w in who {
            if RECIPIENTS.contains(&w.name.as_str()) || self.sym.roles.contains_key(w.name.as_str())
            {
                continue;
            }
            let mut names = Symbols::names(&self.sym.roles);
            names.extend(RECIPIENTS);
            self.push(
                Diagnostic::error(
                    codes::UNKNOWN_RECIPIENT,
                    w.span,
                    format!("`{}` is not someone a message can go to", w.name),
                )
                .with_label("unknown recipient")
                .with_help(
                    did_you_mean(&w.name, names)
                        .unwrap_or_else(|| "write `client`, `responsible` or a role".into()),
                ),
            );
        }
        let tpl = self.sym.templates.get(template.name.as_str()).copied();
        if tpl.is_none() {
            let names = Symbols::names(&self.sym.templates);
            self.push(
                Diagnostic::error(
                    codes::UNKNOWN_TEMPLATE,
                    template.span,
                    format!("there is no template `{}`", template.name),
                )
                .with_label("unknown template")
                .with_help(did_you_mean(&template.name, names).unwrap_or_else(|| {
                    format!("declare it: `template {} {{ sms \"…\" }}`", template.name)
                })),
            );
        }
        for ch in via {
            if !CHANNELS.contains(&ch.name.as_str()) {
                self.push(
                    Diagnostic::error(
                        codes::UNKNOWN_CHANNEL,
                        ch.span,
                        format!("`{}` is not a channel", ch.name),
                    )
                    .with_label("unknown channel")
                    .with_help(
                        did_you_mean(&ch.name, CHANNELS.iter().copied())
                            .unwrap_or_else(|| "messages go `via sms`, `via email` or both".into()),
                    ),
                );
                continue;
            }
            if let Some(t) = tpl {
                let has = t.parts.iter().any(|p| match p {
                    TemplatePart::Sms { .. } => ch.name == "sms",
                    TemplatePart::Email { .. } => ch.name == "email",
                });
                if !has {
                    self.push(
                        Diagnostic::error(codes::TEMPLATE_CHANNEL, ch.span, format!("template `{}` has no {} text", t.id.name, ch.name))
                            .with_label(format!("sent by {}", ch.name))
                            .with_related(t.id.span, "template declared here")
                            .with_help(if ch.name == "sms" { "add `sms \"…\"` to the template, or send it by email only".to_string() } else { "add `email subject \"…\" body \"…\"` to the template, or send it by sms only".to_string() }),
                    );
                }
            }
        }
    }

    fn field_defaults(&mut self) {
        let mut fields: Vec<(&FieldDecl, Ty)> = self
            .sym
            .fields
            .values()
            .map(|(f, t)| (*f, t.clone()))
            .collect();
        fields.sort_by_key(|(f, _)| f.span.start);
        let scope = expr::Scope::constant();
        for (f, ty) in fields {
            if let Some(d) = &f.default {
                let vt = self.expr(d, &scope);
                if !ty.accepts(&vt) {
                    self.push(
                        Diagnostic::error(
                            codes::DEFAULT_TYPE,
                            d.span,
                            format!("`{}` holds {ty}, but its default is {vt}", f.name.name),
                        )
                        .with_label(format!("this is {vt}")),
                    );
                }
            }
        }
    }

    fn phases_and_alerts(&mut self) {
        let mut in_phase: HashMap<&str, &Ident> = HashMap::new();
        for p in self.sym.phases.clone() {
            for s in &p.stages {
                if !self.stage_ref(s) {
                    continue;
                }
                if let Some(prev) = in_phase.insert(&s.name, &p.id) {
                    self.push(
                        Diagnostic::warning(
                            codes::PHASE_OVERLAP,
                            s.span,
                            format!(
                                "stage `{}` is in phase `{}` and in phase `{}`",
                                s.name, prev.name, p.id.name
                            ),
                        )
                        .with_help(
                            "the dashboard shows a stage in one phase; keep it in one".to_string(),
                        ),
                    );
                }
            }
        }
        let scope = expr::Scope::alert();
        for a in self.sym.alerts.clone() {
            self.condition(&a.cond, &scope);
        }
    }

    /// A condition: must be yes/no.
    pub fn condition(&mut self, e: &Expr, scope: &expr::Scope<'a>) {
        let ty = self.expr(e, scope);
        if ty != Ty::Bool && ty != Ty::Unknown {
            self.push(
                Diagnostic::error(
                    codes::NOT_A_CONDITION,
                    e.span,
                    format!("a condition must be yes or no, but this is {ty}"),
                )
                .with_label(format!("this is {ty}"))
                .with_help(condition_help(e, &ty)),
            );
        }
    }

    fn duration(&mut self, e: &Expr, scope: &expr::Scope<'a>) {
        let ty = self.expr(e, scope);
        if !matches!(ty, Ty::Duration { .. } | Ty::Unknown) {
            self.push(
                Diagnostic::error(
                    codes::NOT_A_DURATION,
                    e.span,
                    format!("a duration is needed here, but this is {ty}"),
                )
                .with_label(format!("this is {ty}"))
                .with_help(
                    "write a duration like `15m`, `2h`, `3d`, `1w` or `2 workdays`".to_string(),
                ),
            );
        }
    }

    fn moment(&mut self, e: &Expr, end_of: bool, scope: &expr::Scope<'a>) {
        let ty = self.expr(e, scope);
        if !(ty.is_moment() || ty == Ty::Unknown) {
            let help = if matches!(ty, Ty::Duration { .. }) {
                "`at` needs a point in time; for a delay from entering the stage write `after`"
                    .to_string()
            } else {
                "write a date or a moment, like `invoice_due` or `meeting_at - 2h`".to_string()
            };
            self.push(
                Diagnostic::error(
                    codes::NOT_A_MOMENT,
                    e.span,
                    format!(
                        "`at{}` needs a date or a moment, but this is {ty}",
                        if end_of { " end of" } else { "" }
                    ),
                )
                .with_label(format!("this is {ty}"))
                .with_help(help),
            );
        }
    }

    /// Checks the `{{ }}` parts of a string.
    pub fn string(&mut self, s: &Str, scope: &expr::Scope<'a>) {
        for part in &s.parts {
            if let StrPart::Interp(e) = part {
                self.expr(e, scope);
            }
        }
    }

    pub fn expr(&mut self, e: &Expr, scope: &expr::Scope<'a>) -> Ty {
        expr::type_of(self, e, scope)
    }
}

/// `monday` for `mon`, to accept full day names.
fn full_weekday(short: &str) -> &'static str {
    match short {
        "mon" => "monday",
        "tue" => "tuesday",
        "wed" => "wednesday",
        "thu" => "thursday",
        "fri" => "friday",
        "sat" => "saturday",
        _ => "sunday",
    }
}

/// `1 value`, `2 values`.
pub(crate) fn values(n: usize) -> String {
    if n == 1 {
        "1 value".into()
    } else {
        format!("{n} values")
    }
}

fn set_help(field: &Ty, value: &Ty) -> String {
    match (field, value) {
        (Ty::Date, Ty::Text) => "write a date without quotes, like `2026-03-02`, or compute one, like `today + 3d`".into(),
        (Ty::DateTime, Ty::Text) => "write a moment without quotes, like `2026-03-02T10:00`, or compute one, like `now + 2h`".into(),
        (f, Ty::Text) if f.is_number() => "write the number without quotes".into(),
        (Ty::Date, Ty::DateTime) => "a moment has a time of day; to keep the day only, use a date such as `today` or `next_workday(today)`".into(),
        (Ty::Text, v) if !v.is_text() => "to store it as text, use `format(…)`".into(),
        (Ty::Int, Ty::Decimal | Ty::Money) => "this field takes whole numbers only; declare it `decimal` or `money`".into(),
        _ => format!("give it {field}, or change the field's type"),
    }
}

fn condition_help(e: &Expr, ty: &Ty) -> String {
    if let ExprKind::Name(id) = &e.kind {
        return format!("to test whether it has a value, write `{} is set`", id.name);
    }
    if ty.is_number() {
        return "compare it, e.g. `… > 0`".into();
    }
    "compare it with `==`, `<`, `>`, or test it with `is set`".into()
}
