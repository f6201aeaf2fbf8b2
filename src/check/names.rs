//! What the checker hands on: what every name written in the file stands for, each field's
//! type, the pipeline's time zone and its script as read. The compiler builds the plan from
//! these and never looks a name up by itself.

use std::collections::HashMap;

use chrono_tz::Tz;

use crate::ast::Ident;
use crate::types::Ty;

/// What a name written in the file stands for: a declaration (by its place among the
/// declarations of its kind, in file order, which is also its id in the plan), a `for each`
/// variable, or a value dealflow keeps itself. Declarations stand for themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Def {
    /// A stage.
    Stage(usize),
    /// A deal field.
    Field(usize),
    /// A role (also a deal slot of the same name).
    Role(usize),
    /// An event.
    Event(usize),
    /// A message template.
    Template(usize),
    /// A working-time calendar.
    Calendar(usize),
    /// A `for each` variable, counted from the innermost loop out (0: the innermost).
    Local(usize),
    /// A value every expression may use.
    Builtin(Builtin),
    /// A function of the pipeline's script (its place among the script's functions).
    Function(usize),
}

/// The values every expression may use besides the deal's fields and roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Builtin {
    /// `now`: the moment of the step.
    Now,
    /// `today`: its date in the pipeline's zone.
    Today,
    /// `title`: the deal's title.
    Title,
    /// `hours_spent`: hours logged on the deal.
    HoursSpent,
    /// `open_tasks`: the deal's open tasks.
    OpenTasks,
    /// `deal`: the whole deal (for scripts).
    Deal,
    /// `deal_url`: the deal's page on the dashboard.
    DealUrl,
}

impl Builtin {
    /// Every built-in value with its name, in the order the language lists them.
    pub const ALL: [(&'static str, Builtin); 7] = [
        ("now", Builtin::Now),
        ("today", Builtin::Today),
        ("title", Builtin::Title),
        ("hours_spent", Builtin::HoursSpent),
        ("open_tasks", Builtin::OpenTasks),
        ("deal", Builtin::Deal),
        ("deal_url", Builtin::DealUrl),
    ];

    /// The built-in value of this name, if it is one.
    pub fn named(name: &str) -> Option<Builtin> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
    }

    /// The kind of value it is.
    pub fn ty(self) -> Ty {
        match self {
            Builtin::Now => Ty::DateTime,
            Builtin::Today => Ty::Date,
            Builtin::Title => Ty::Text,
            Builtin::DealUrl => Ty::Url,
            Builtin::HoursSpent => Ty::Decimal,
            Builtin::OpenTasks => Ty::Int,
            Builtin::Deal => Ty::Deal,
        }
    }
}

/// The checker's findings about names.
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// By the byte where the name starts (two names never start at the same byte).
    defs: HashMap<usize, Def>,
    /// Each field's type, by field id.
    field_types: Vec<Ty>,
    /// What each event only carries (the entries with a type), by event id.
    payloads: HashMap<usize, Vec<(String, Ty)>>,
    /// The pipeline's time zone, when it names one that exists.
    timezone: Option<Tz>,
}

impl Names {
    /// What `name` stands for, if the checker resolved it.
    pub fn of(&self, name: &Ident) -> Option<Def> {
        self.defs.get(&name.span.start).copied()
    }

    /// The type of a field, by its id.
    pub fn field_type(&self, field: usize) -> Option<&Ty> {
        self.field_types.get(field)
    }

    /// The values an event only carries, with their types, in the order declared.
    pub fn payload(&self, event: usize) -> &[(String, Ty)] {
        self.payloads.get(&event).map_or(&[], Vec::as_slice)
    }

    /// The pipeline's time zone, if it has a valid one.
    pub fn timezone(&self) -> Option<Tz> {
        self.timezone
    }

    /// Every name the checker resolved: where it starts, and what it stands for.
    pub fn all(&self) -> impl Iterator<Item = (usize, Def)> + '_ {
        self.defs.iter().map(|(&at, &def)| (at, def))
    }

    pub(super) fn record(&mut self, name: &Ident, def: Def) {
        self.defs.insert(name.span.start, def);
    }

    pub(super) fn add_field_type(&mut self, ty: Ty) {
        self.field_types.push(ty);
    }

    pub(super) fn set_payload(&mut self, event: usize, entries: Vec<(String, Ty)>) {
        self.payloads.insert(event, entries);
    }

    pub(super) fn set_timezone(&mut self, tz: Tz) {
        self.timezone = Some(tz);
    }
}

/// The pipeline's script as the checker read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptFile {
    /// Its name as the pipeline writes it.
    pub name: String,
    /// Its text.
    pub text: String,
}
