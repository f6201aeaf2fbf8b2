//! The checker: every name resolved, every value of the right kind, every stage able to move.
//!
//! It reports all it finds, not only the first problem, and hands on what it resolved
//! ([`Names`]: what every name written in the file stands for), so that the compiler never
//! looks a name up again. It does no I/O of its own: the pipeline's script is read through the
//! loader the caller passes.
//!
//! A file per kind of declaration: `collect` gathers them (and names used twice), `pipeline`
//! checks the settings, the script and the calendars, `declarations` the fields, events,
//! templates, phases and alerts, `stages` the stages and their actions, `expr` expressions and
//! `flow` whether deals can reach, leave and join every stage.

mod collect;
mod declarations;
mod derived;
mod expr;
mod flow;
mod migrations;
mod names;
mod pipeline;
mod stages;

pub use derived::names_in;
pub use flow::visit_actions as visit_stage_actions;
pub use names::{Builtin, Def, Names, ScriptFile};

use std::collections::HashMap;

use crate::ast::*;
use crate::diag::{self, Diagnostic, codes, did_you_mean};
use crate::script::ScriptInfo;
use crate::types::Ty;

/// Reads a file named by the pipeline (its `script`), relative to the pipeline file; the error
/// is the reason in words, shown in the diagnostic.
pub type Loader<'a> = &'a dyn Fn(&str) -> Result<String, String>;

/// Values every expression may use besides the deal's fields and roles.
pub const BUILTIN_VALUES: &[&str] = &[
    "now",
    "today",
    "title",
    "hours_spent",
    "open_tasks",
    "deal",
    "deal_url",
];
/// Functions every pipeline has.
pub const BUILTIN_FUNCTIONS: &[&str] = &[
    "next_workday",
    "add_workdays",
    "workdays_between",
    "format",
    "map_link",
    "calendar",
    "cancellation",
    "len",
];
/// Recipients that are not roles.
const RECIPIENTS: &[&str] = &["client", "responsible"];
/// Message channels.
const CHANNELS: &[&str] = &["sms", "email", "telegram"];

/// What the checker found: every problem, what every name stands for, and the script as read.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// Every problem, sorted.
    pub diagnostics: Vec<Diagnostic>,
    /// What the names of the file stand for (complete only when there are no errors).
    pub names: Names,
    /// The pipeline's script, when it names one that could be read.
    pub script: Option<ScriptFile>,
}

/// Checks a parsed file. `loader` reads the pipeline's script; diagnostics come back sorted.
pub fn check(file: &File, loader: Loader<'_>) -> Checked {
    let mut cx = Checker::new(file, loader);
    cx.run();
    let mut diagnostics = cx.diags;
    diag::sort(&mut diagnostics);
    Checked {
        diagnostics,
        names: cx.names,
        script: cx.script_file,
    }
}

/// Declarations of one kind in file order, found by name; a declaration's id is its place.
pub(crate) struct Table<'a, T> {
    items: Vec<(&'a str, T)>,
    index: HashMap<&'a str, usize>,
}

impl<'a, T> Table<'a, T> {
    fn new() -> Self {
        Table {
            items: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// Adds a declaration; its id.
    fn add(&mut self, name: &'a str, item: T) -> usize {
        let id = self.items.len();
        self.index.insert(name, id);
        self.items.push((name, item));
        id
    }

    /// The declaration of this name.
    pub(crate) fn get(&self, name: &str) -> Option<&T> {
        self.id(name).map(|i| &self.items[i].1)
    }

    /// The id of the declaration of this name.
    pub(crate) fn id(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Whether a declaration has this name.
    pub(crate) fn contains_key(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Whether there is none.
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The names, in file order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.items.iter().map(|(n, _)| *n)
    }

    /// The declarations, in file order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &T> {
        self.items.iter().map(|(_, t)| t)
    }

    /// The names, sorted (for suggestions).
    pub(crate) fn names(&self) -> Vec<&'a str> {
        let mut v: Vec<&str> = self.keys().collect();
        v.sort_unstable();
        v
    }
}

/// Declarations found in the file, by name.
pub(crate) struct Symbols<'a> {
    pub pipeline: Option<&'a Pipeline>,
    pub calendars: Table<'a, &'a Calendar>,
    pub roles: Table<'a, &'a Role>,
    pub fields: Table<'a, (&'a FieldDecl, Ty)>,
    pub events: Table<'a, &'a EventDecl>,
    pub templates: Table<'a, &'a Template>,
    pub stages: Table<'a, &'a Stage>,
    pub phases: Vec<&'a Phase>,
    pub alerts: Vec<&'a Alert>,
    pub script: Option<ScriptInfo>,
}

pub(crate) struct Checker<'a> {
    file: &'a File,
    loader: Loader<'a>,
    pub sym: Symbols<'a>,
    pub diags: Vec<Diagnostic>,
    /// What the names stand for, as they are resolved.
    pub names: Names,
    /// The script as read.
    script_file: Option<ScriptFile>,
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
                calendars: Table::new(),
                roles: Table::new(),
                fields: Table::new(),
                events: Table::new(),
                templates: Table::new(),
                stages: Table::new(),
                phases: Vec::new(),
                alerts: Vec::new(),
                script: None,
            },
            diags: Vec::new(),
            names: Names::default(),
            script_file: None,
            script_broken: false,
        }
    }

    pub(crate) fn push(&mut self, d: Diagnostic) {
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
                Item::Phase(_)
                | Item::Alert(_)
                | Item::Role(_)
                | Item::Fields(_)
                | Item::Migrate(_) => {}
                Item::Pipeline(_) => {}
            }
        }
        self.field_defaults();
        self.derived_fields();
        self.phases_and_alerts();
        self.migrations();
        flow::check(self);
    }

    pub(crate) fn stage_ref(&mut self, s: &Ident) -> bool {
        if let Some(id) = self.sym.stages.id(&s.name) {
            self.names.record(s, Def::Stage(id));
            return true;
        }
        let names: Vec<&str> = self.sym.stages.keys().collect();
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

    pub(crate) fn role_ref(&mut self, r: &Ident) -> bool {
        if let Some(id) = self.sym.roles.id(&r.name) {
            self.names.record(r, Def::Role(id));
            return true;
        }
        let names = self.sym.roles.names();
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

    /// A field or role slot named in `require`, `set` or an event; its type when known.
    fn field_or_role(&mut self, n: &Ident, what: &str) -> Option<Ty> {
        if let Some(ty) = self.slot(n) {
            return Some(ty);
        }
        let names: Vec<&str> = self
            .sym
            .fields
            .keys()
            .chain(self.sym.roles.keys())
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

    /// A deal slot (a field, or a role's slot) by name, recorded; its type.
    fn slot(&mut self, n: &Ident) -> Option<Ty> {
        if let Some(id) = self.sym.fields.id(&n.name) {
            self.names.record(n, Def::Field(id));
            return self.sym.fields.get(&n.name).map(|(_, ty)| ty.clone());
        }
        let id = self.sym.roles.id(&n.name)?;
        self.names.record(n, Def::Role(id));
        Some(Ty::User)
    }

    pub(crate) fn condition(&mut self, e: &Expr, scope: &expr::Scope<'a>) {
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
    pub(crate) fn string(&mut self, s: &Str, scope: &expr::Scope<'a>) {
        for part in &s.parts {
            if let StrPart::Interp(e) = part {
                self.expr(e, scope);
            }
        }
    }

    pub(crate) fn expr(&mut self, e: &Expr, scope: &expr::Scope<'a>) -> Ty {
        expr::type_of(self, e, scope)
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
