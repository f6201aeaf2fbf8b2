//! The pipeline file as plain data: every node carries the byte span it came from.
//!
//! No parser types appear here. Spans compare equal to each other on purpose, so two ASTs are
//! equal when they say the same thing, wherever it was written (the formatter relies on this).

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use rust_decimal::Decimal;

/// A byte range in the source file. All spans are equal under `==`: see the module docs.
#[derive(Debug, Clone, Copy, Default, Eq)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl PartialEq for Span {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
    /// The smallest span that covers both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A name as written, with its place.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it was written.
    pub span: Span,
}

/// A whole `*.flow` file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct File {
    /// Top-level items in file order.
    pub items: Vec<Item>,
    /// Comments, in file order (kept for the formatter; not part of the meaning).
    pub comments: Vec<Comment>,
}

/// A `# ...` comment.
#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    /// The text including the leading `#`, without the newline.
    pub text: String,
    /// Where it was written.
    pub span: Span,
}

/// A top-level item.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `pipeline ID "Title" { ... }`
    Pipeline(Pipeline),
    /// `calendar ID { ... }`
    Calendar(Calendar),
    /// `role ID "Title"`
    Role(Role),
    /// `fields { ... }`
    Fields(Fields),
    /// `event ID { ... }`
    Event(EventDecl),
    /// `template ID { ... }`
    Template(Template),
    /// `stage ID "Title" ...`
    Stage(Stage),
    /// `phase ID "Title" = ...`
    Phase(Phase),
    /// `alert ID "Title" when ...`
    Alert(Alert),
    /// `migrate stage OLD -> NEW` / `migrate field OLD -> NEW`
    Migrate(Migration),
}

impl Item {
    /// Where the item was written.
    pub fn span(&self) -> Span {
        match self {
            Item::Pipeline(x) => x.span,
            Item::Calendar(x) => x.span,
            Item::Role(x) => x.span,
            Item::Fields(x) => x.span,
            Item::Event(x) => x.span,
            Item::Template(x) => x.span,
            Item::Stage(x) => x.span,
            Item::Phase(x) => x.span,
            Item::Alert(x) => x.span,
            Item::Migrate(x) => x.span,
        }
    }
}

/// The pipeline header.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// Its identifier.
    pub id: Ident,
    /// Its human title.
    pub title: Str,
    /// Settings in file order.
    pub settings: Vec<Setting>,
    /// Where it was written.
    pub span: Span,
}

/// One line of the pipeline header.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// What it sets.
    pub kind: SettingKind,
    /// Where it was written.
    pub span: Span,
}

/// The settings a pipeline header may hold.
#[derive(Debug, Clone, PartialEq)]
pub enum SettingKind {
    /// `timezone "Europe/Moscow"`
    Timezone(Str),
    /// `currency RUB`
    Currency(Ident),
    /// `country RU`: the country of client phone numbers written without a country code.
    Country(Ident),
    /// `calendar ru`
    Calendar(Ident),
    /// `script "file.rhai"`
    Script(Str),
    /// `notify hook fn_name`
    NotifyHook(Ident),
    /// `maps "https://…{place}…"`: the address `map_link(place)` writes.
    Maps(Str),
}

/// A working-time calendar.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    /// Its identifier.
    pub id: Ident,
    /// Its lines.
    pub lines: Vec<CalendarLine>,
    /// Where it was written.
    pub span: Span,
}

/// A calendar line.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarLine {
    /// What the line says.
    pub kind: CalendarLineKind,
    /// Where it was written.
    pub span: Span,
}

/// The kinds of calendar line.
#[derive(Debug, Clone, PartialEq)]
pub enum CalendarLineKind {
    /// `workweek mon..fri, sat`: days or ranges of days.
    Workweek(Vec<(Ident, Option<Ident>)>),
    /// `hours 10:00..19:00`
    Hours(Vec<(Timed<NaiveTime>, Timed<NaiveTime>)>),
    /// `holidays D, D1..D2`
    Holidays(Vec<(Timed<NaiveDate>, Option<Timed<NaiveDate>>)>),
}

/// A literal value with its span (used where a bare value stands in a list).
#[derive(Debug, Clone, PartialEq)]
pub struct Timed<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: Span,
}

/// `role ID "Title"`
#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    /// Its identifier.
    pub id: Ident,
    /// Its human title.
    pub title: Option<Str>,
    /// Where it was written.
    pub span: Span,
}

/// `fields { ... }`
#[derive(Debug, Clone, PartialEq)]
pub struct Fields {
    /// The declarations.
    pub fields: Vec<FieldDecl>,
    /// Where it was written.
    pub span: Span,
}

/// `NAME: TYPE [= EXPR] [required] [personal] [default LIT] ["Label"]`
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDecl {
    /// The field's name.
    pub name: Ident,
    /// The type's name as written (checked later).
    pub ty: Ident,
    /// `required` was written.
    pub required: bool,
    /// `personal` was written: the client's personal data, blanked when they ask for it.
    pub personal: bool,
    /// The default value.
    pub default: Option<Expr>,
    /// `= EXPR`: the field is derived, its value computed from the deal after every change.
    pub derived: Option<Expr>,
    /// The label shown to people.
    pub label: Option<Str>,
    /// Where it was written.
    pub span: Span,
}

/// `event ID [{ ... }]`
#[derive(Debug, Clone, PartialEq)]
pub struct EventDecl {
    /// Its identifier.
    pub id: Ident,
    /// Payload entries (None when there is no `{ }` at all).
    pub entries: Option<Vec<EventEntry>>,
    /// Where it was written.
    pub span: Span,
}

/// A payload entry: a deal field the event sets (`NAME`) or a typed value (`NAME: TYPE`).
#[derive(Debug, Clone, PartialEq)]
pub struct EventEntry {
    /// The name.
    pub name: Ident,
    /// The type, for payload-only entries.
    pub ty: Option<TypeSpec>,
    /// Where it was written.
    pub span: Span,
}

/// A payload type.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeSpec {
    /// A scalar type by name.
    Named(Ident),
    /// `list of { NAME: TYPE, ... }`
    List(Vec<EventEntry>, Span),
}

/// `template ID { ... }`
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Its identifier.
    pub id: Ident,
    /// Its parts.
    pub parts: Vec<TemplatePart>,
    /// Where it was written.
    pub span: Span,
}

/// A message text of a template.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplatePart {
    /// `sms "..."`
    Sms {
        /// The text.
        text: Str,
        /// Where it was written.
        span: Span,
    },
    /// `email subject "..." body "..." [attach EXPR]`
    Email {
        /// The subject line.
        subject: Str,
        /// The body.
        body: Str,
        /// An attachment, e.g. `calendar(...)`.
        attach: Option<Expr>,
        /// Where it was written.
        span: Span,
    },
}

impl TemplatePart {
    /// Where it was written.
    pub fn span(&self) -> Span {
        match self {
            TemplatePart::Sms { span, .. } | TemplatePart::Email { span, .. } => *span,
        }
    }
}

/// `stage ID "Title" [join] [final] [{ ... }]`
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// Its identifier.
    pub id: Ident,
    /// Its human title.
    pub title: Str,
    /// `join` was written.
    pub join: bool,
    /// `final` was written.
    pub is_final: bool,
    /// Its lines; None when there is no `{ }`.
    pub body: Option<Vec<StageLine>>,
    /// Where it was written.
    pub span: Span,
}

impl Stage {
    /// The stage's lines (none when it has no body).
    pub fn lines(&self) -> &[StageLine] {
        self.body.as_deref().unwrap_or(&[])
    }
    /// The stage's transitions in line order.
    pub fn transitions(&self) -> impl Iterator<Item = &Transition> {
        self.lines().iter().filter_map(|l| match &l.kind {
            StageLineKind::Transition(t) => Some(t),
            _ => None,
        })
    }
}

/// A line inside a stage.
#[derive(Debug, Clone, PartialEq)]
pub struct StageLine {
    /// What it says.
    pub kind: StageLineKind,
    /// Where it was written.
    pub span: Span,
}

/// The kinds of stage line.
#[derive(Debug, Clone, PartialEq)]
pub enum StageLineKind {
    /// `require a, b`
    Require(Vec<Ident>),
    /// `skip when COND`
    Skip(Expr),
    /// `on enter { ... }`
    OnEnter(Block),
    /// `on exit { ... }`
    OnExit(Block),
    /// `on EVENT [when COND] { ... }`
    OnEvent {
        /// The event.
        event: Ident,
        /// The guard.
        guard: Option<Expr>,
        /// The actions.
        body: Block,
    },
    /// `after DURATION [as NAME] [when COND] { ... }`
    After {
        /// How long after entry.
        delay: Expr,
        /// The timer's name, if given (`as NAME`).
        name: Option<Ident>,
        /// Checked when it fires.
        guard: Option<Expr>,
        /// The actions.
        body: Block,
    },
    /// `at [end of] EXPR [as NAME] [when COND] { ... }`
    At {
        /// `end of` was written.
        end_of: bool,
        /// The moment.
        at: Expr,
        /// The timer's name, if given (`as NAME`).
        name: Option<Ident>,
        /// Checked when it fires.
        guard: Option<Expr>,
        /// The actions.
        body: Block,
    },
    /// `-> T [& T] [trigger] [when COND] [{ ... }]`
    Transition(Transition),
}

/// A transition line.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// Target stages (several: parallel tracks).
    pub targets: Vec<Ident>,
    /// What takes it; None: taken as soon as the guard holds.
    pub trigger: Option<Trigger>,
    /// The name of its timer, if its trigger is one and a name was given (`as NAME`).
    pub timer_name: Option<Ident>,
    /// The guard.
    pub guard: Option<Expr>,
    /// Actions run while moving.
    pub body: Option<Block>,
    /// Where it was written.
    pub span: Span,
}

/// What takes a transition.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// `on EVENT`
    On(Ident),
    /// `after DURATION`
    After(Expr),
    /// `at [end of] EXPR`
    At {
        /// `end of` was written.
        end_of: bool,
        /// The moment.
        at: Expr,
    },
}

/// `{ action ... }`
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The actions in order.
    pub actions: Vec<Action>,
    /// Where it was written, braces included.
    pub span: Span,
}

/// An action.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// What it does.
    pub kind: ActionKind,
    /// Where it was written.
    pub span: Span,
}

/// The kinds of action.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionKind {
    /// `set FIELD = EXPR`
    Set {
        /// A field or a role slot.
        target: Ident,
        /// The new value.
        value: Expr,
    },
    /// `notify WHO, ... via CHANNEL, ... with TEMPLATE`
    Notify {
        /// `client`, `responsible` or roles.
        who: Vec<Ident>,
        /// `sms`, `email`.
        via: Vec<Ident>,
        /// The template.
        template: Ident,
    },
    /// `task ID "Title" to ROLE [due D] [estimate D]`
    Task {
        /// The task's identifier.
        id: Ident,
        /// Its title.
        title: Str,
        /// Who does it.
        role: Ident,
        /// When it is due, from creation.
        due: Option<Expr>,
        /// How long it should take.
        estimate: Option<Expr>,
    },
    /// `group "Title" with ROLE, ...`
    Group {
        /// The group's title.
        title: Str,
        /// Its members' roles.
        roles: Vec<Ident>,
    },
    /// `spawn deal "Title" at T [& T] { set ... }`
    Spawn {
        /// The new deal's title.
        title: Str,
        /// Its starting stages.
        targets: Vec<Ident>,
        /// `set` actions for the new deal.
        body: Vec<Action>,
        /// Whether `{ }` was written.
        has_body: bool,
    },
    /// `for each X in EXPR { ... }`
    ForEach {
        /// The loop variable.
        var: Ident,
        /// The list.
        list: Expr,
        /// The actions.
        body: Block,
    },
}

/// A string literal: text and `{{ expr }}` parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Str {
    /// The parts in order.
    pub parts: Vec<StrPart>,
    /// Written with `"""`.
    pub triple: bool,
    /// Where it was written.
    pub span: Span,
}

impl Str {
    /// The text when the string has no interpolation.
    pub fn plain(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                StrPart::Text(t) => out.push_str(t),
                StrPart::Interp(_) => return None,
            }
        }
        Some(out)
    }
}

/// Part of a string.
#[derive(Debug, Clone, PartialEq)]
pub enum StrPart {
    /// Text, escapes resolved.
    Text(String),
    /// `{{ expr }}`
    Interp(Expr),
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it was written.
    pub span: Span,
}

/// The kinds of expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A literal.
    Lit(Literal),
    /// A string.
    Str(Str),
    /// A name: a field, a role, a builtin like `now`, a loop variable.
    Name(Ident),
    /// `X.NAME`
    Member(Box<Expr>, Ident),
    /// `in STAGE`
    InStage(Ident),
    /// `f(a, b)`
    Call(Ident, Vec<Expr>),
    /// `not x`, `-x`
    Unary(UnaryOp, Box<Expr>),
    /// `a + b`, `a and b`, ...
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `x is set` (false) / `x is not set` (true)
    IsSet(Box<Expr>, bool),
    /// `( x )`, kept so that the formatter writes what the author wrote
    Paren(Box<Expr>),
}

/// A prefix operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `not`
    Not,
    /// `-`
    Neg,
}

/// An infix operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `or`
    Or,
    /// `and`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

impl BinaryOp {
    /// How it is written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
        }
    }
    /// Whether it compares two values.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        )
    }
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `15`
    Int(i64),
    /// `12.5`
    Decimal(Decimal),
    /// `true`, `false`
    Bool(bool),
    /// `2026-03-02`
    Date(NaiveDate),
    /// `10:00`
    Time(NaiveTime),
    /// `2026-03-02T10:00`, in the pipeline's time zone
    DateTime(NaiveDateTime),
    /// `15m`, `2 workdays`: the unit as written, checked later
    Duration {
        /// How many units.
        amount: i64,
        /// The unit as written.
        unit: String,
    },
}

/// `phase ID "Title" = STAGE, ...`
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// Its identifier.
    pub id: Ident,
    /// Its human title.
    pub title: Str,
    /// The stages it groups.
    pub stages: Vec<Ident>,
    /// Where it was written.
    pub span: Span,
}

/// `alert ID "Title" when COND`
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Its identifier.
    pub id: Ident,
    /// Its human title.
    pub title: Str,
    /// While this holds, the dashboard shows the alert.
    pub cond: Expr,
    /// Where it was written.
    pub span: Span,
}

/// `migrate stage OLD -> NEW [with on enter]` or `migrate field OLD -> NEW`: what becomes of
/// live deals' stages and values that new rules renamed or removed.
#[derive(Debug, Clone, PartialEq)]
pub struct Migration {
    /// Which.
    pub kind: MigrationKind,
    /// Where it was written.
    pub span: Span,
}

/// What a migration carries over.
#[derive(Debug, Clone, PartialEq)]
pub enum MigrationKind {
    /// Deals standing in stage `from` (which the rules no longer have) go to `to`.
    Stage {
        /// The old stage's name.
        from: Ident,
        /// The stage they go to.
        to: Ident,
        /// `with on enter`: they enter it as a deal arriving would, its `on enter` run.
        enter: bool,
    },
    /// A value of field `from` (which the rules no longer have) becomes field `to`'s.
    Field {
        /// The old field's name.
        from: Ident,
        /// The field it goes to.
        to: Ident,
    },
}
