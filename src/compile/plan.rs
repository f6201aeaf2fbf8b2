//! The plan the engine runs: a pipeline with every name resolved to an index.

use std::collections::HashMap;

use chrono_tz::Tz;

use crate::ast::BinaryOp;
use crate::calendar::WorkCalendar;
use crate::types::Ty;
use crate::value::Value;

/// Index of a stage in [`Plan::stages`].
pub type StageId = usize;
/// Index of an event in [`Plan::events`].
pub type EventId = usize;
/// Index of a role in [`Plan::roles`].
pub type RoleId = usize;
/// Index of a field in [`Plan::fields`].
pub type FieldId = usize;

/// A compiled pipeline.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The file it came from, for `file:line` in history.
    pub file: String,
    /// The pipeline's identifier.
    pub name: String,
    /// Its title.
    pub title: String,
    /// Its time zone.
    pub tz: Tz,
    /// Its currency code.
    pub currency: String,
    /// The country of client phone numbers written without a country code.
    pub country: Option<phonenumber::country::Id>,
    /// The address `map_link(place)` writes, `{place}` where the place goes.
    pub maps: String,
    /// Its working-time calendar.
    pub calendar: WorkCalendar,
    /// Deal fields.
    pub fields: Vec<FieldDef>,
    /// Field ids by name.
    pub field_index: HashMap<String, FieldId>,
    /// Roles, in file order (the first is `responsible`).
    pub roles: Vec<RoleDef>,
    /// Role ids by name.
    pub role_index: HashMap<String, RoleId>,
    /// Events.
    pub events: Vec<EventDef>,
    /// Event ids by name.
    pub event_index: HashMap<String, EventId>,
    /// Templates.
    pub templates: Vec<TemplateDef>,
    /// Template ids by name.
    pub template_index: HashMap<String, usize>,
    /// Stages in funnel order.
    pub stages: Vec<StageDef>,
    /// Stage ids by name.
    pub stage_index: HashMap<String, StageId>,
    /// Dashboard phases.
    pub phases: Vec<PhaseDef>,
    /// Alerts.
    pub alerts: Vec<AlertDef>,
    /// Derived fields, in the order they are computed (a field after those it reads).
    pub derived: Vec<DerivedDef>,
    /// The script's file name, as written.
    pub script_name: Option<String>,
    /// The script's text.
    pub script: Option<String>,
    /// The notify hook function.
    pub notify_hook: Option<String>,
    /// Where live deals of stages and values of fields the rules no longer have go.
    pub migrations: Migrations,
}

/// The `migrate` lines: what becomes of live deals' stages and values that these rules renamed
/// or removed.
#[derive(Debug, Clone, Default)]
pub struct Migrations {
    /// By the old stage's name.
    pub stages: HashMap<String, StageMove>,
    /// By the old field's name.
    pub fields: HashMap<String, FieldMove>,
}

/// `migrate stage OLD -> NEW [with on enter]`.
#[derive(Debug, Clone)]
pub struct StageMove {
    /// Where the deals go.
    pub to: StageId,
    /// They enter it as an arriving deal would (its `on enter` runs).
    pub enter: bool,
    /// The line in the pipeline file.
    pub line: usize,
}

/// `migrate field OLD -> NEW`.
#[derive(Debug, Clone)]
pub struct FieldMove {
    /// The field the value goes to.
    pub to: FieldId,
    /// The line in the pipeline file.
    pub line: usize,
}

impl Plan {
    pub(crate) fn empty(file: String) -> Self {
        Plan {
            file,
            name: String::new(),
            title: String::new(),
            tz: Tz::UTC,
            currency: String::new(),
            country: None,
            maps: crate::maps::DEFAULT_ADDRESS.to_string(),
            calendar: WorkCalendar::default(),
            fields: Vec::new(),
            field_index: HashMap::new(),
            roles: Vec::new(),
            role_index: HashMap::new(),
            events: Vec::new(),
            event_index: HashMap::new(),
            templates: Vec::new(),
            template_index: HashMap::new(),
            stages: Vec::new(),
            stage_index: HashMap::new(),
            phases: Vec::new(),
            alerts: Vec::new(),
            derived: Vec::new(),
            script_name: None,
            script: None,
            notify_hook: None,
            migrations: Migrations::default(),
        }
    }

    /// Something must be looked at again at each local midnight: an alert or a derived field
    /// reads the clock.
    pub fn reads_clock(&self) -> bool {
        self.alerts.iter().any(|a| a.time_dependent) || self.derived.iter().any(|d| d.clock)
    }

    /// The `file:line` of a rule, for history.
    pub fn rule(&self, line: usize) -> String {
        format!("{}:{line}", self.file)
    }

    /// The first `task` line of this id, and the stage it is in.
    pub fn task_line(&self, id: &str) -> Option<(&StageDef, &Action)> {
        self.stages
            .iter()
            .find_map(|s| s.blocks().find_map(|b| task_in(b, id)).map(|a| (s, a)))
    }

    /// A task as people read it: the title its `task` line gives it (its id where the title
    /// is made from the deal, or there is no such line).
    pub fn task_title(&self, id: &str) -> String {
        match self.task_line(id) {
            Some((_, Action::Task { title, .. })) => title.literal().unwrap_or_else(|| id.into()),
            _ => id.to_string(),
        }
    }
}

impl StageDef {
    /// Every block of actions the stage has: `on enter`, `on exit`, its events', timers' and
    /// transitions'.
    pub fn blocks(&self) -> impl Iterator<Item = &[Action]> {
        self.on_enter
            .iter()
            .chain(&self.on_exit)
            .map(|r| r.body.as_slice())
            .chain(self.on_event.iter().map(|o| o.rule.body.as_slice()))
            .chain(self.timers.iter().map(|t| t.rule.body.as_slice()))
            .chain(self.transitions.iter().map(|t| t.body.as_slice()))
    }
}

impl Text {
    /// The text when it is all literal (nothing put in).
    pub fn literal(&self) -> Option<String> {
        self.parts
            .iter()
            .map(|p| match p {
                TextPart::Lit(s) => Some(s.as_str()),
                TextPart::Expr(_) => None,
            })
            .collect()
    }
}

/// The `task` action of this id in a block (its `for each` bodies too).
fn task_in<'a>(block: &'a [Action], id: &str) -> Option<&'a Action> {
    block.iter().find_map(|a| match a {
        Action::Task { id: t, .. } if t == id => Some(a),
        Action::ForEach { body, .. } => task_in(body, id),
        _ => None,
    })
}

/// A deal field.
#[derive(Debug, Clone)]
pub struct FieldDef {
    /// Its name.
    pub name: String,
    /// Its label.
    pub label: Option<String>,
    /// Its type.
    pub ty: Ty,
    /// A deal cannot be created without it.
    pub required: bool,
    /// Computed from the deal (`= EXPR`): never set by hand.
    pub derived: bool,
    /// The client's personal data: written `personal`, or a phone or an email.
    pub personal: bool,
    /// The value of a new deal.
    pub default: Option<Value>,
}

/// A role.
#[derive(Debug, Clone)]
pub struct RoleDef {
    /// Its identifier.
    pub name: String,
    /// Its title.
    pub title: String,
}

/// A place a value can be stored: a field or a role slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// A field.
    Field(FieldId),
    /// A role slot (holds a user id).
    Role(RoleId),
}

/// The type of a payload-only event value.
#[derive(Debug, Clone)]
pub enum PayloadType {
    /// A plain value.
    Scalar(Ty),
    /// A list of records.
    List(Vec<(String, Ty)>),
}

/// An event.
#[derive(Debug, Clone)]
pub struct EventDef {
    /// Its name.
    pub name: String,
    /// Deal fields (or role slots) it sets.
    pub sets: Vec<Slot>,
    /// Values it only carries.
    pub payload: Vec<(String, PayloadType)>,
    /// The line of its declaration (the rule that sets the fields it lists).
    pub line: usize,
}

/// A text with `{{ }}` parts.
#[derive(Debug, Clone, Default)]
pub struct Text {
    /// The parts.
    pub parts: Vec<TextPart>,
}

/// Part of a text.
#[derive(Debug, Clone)]
pub enum TextPart {
    /// Literal text.
    Lit(String),
    /// A value put in.
    Expr(Expr),
}

/// An email template part.
#[derive(Debug, Clone)]
pub struct EmailDef {
    /// Subject.
    pub subject: Text,
    /// Body.
    pub body: Text,
    /// An attachment expression (`calendar(...)`).
    pub attach: Option<Expr>,
}

/// A message template.
#[derive(Debug, Clone)]
pub struct TemplateDef {
    /// Its name.
    pub name: String,
    /// The SMS text.
    pub sms: Option<Text>,
    /// The email.
    pub email: Option<EmailDef>,
}

/// A block of actions with the line it was written on.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Line in the pipeline file.
    pub line: usize,
    /// Actions.
    pub body: Vec<Action>,
}

/// `on EVENT [when] { }`
#[derive(Debug, Clone)]
pub struct OnEvent {
    /// The event.
    pub event: EventId,
    /// The guard.
    pub guard: Option<Expr>,
    /// The actions.
    pub rule: Rule,
}

/// When a timer fires.
#[derive(Debug, Clone)]
pub enum TimerAt {
    /// A duration after entering the stage.
    After(Expr),
    /// A moment; `end_of` a date is the midnight after it.
    At {
        /// `end of` was written.
        end_of: bool,
        /// The moment.
        at: Expr,
    },
}

/// A stage timer (`after` / `at` lines).
#[derive(Debug, Clone)]
pub struct TimerDef {
    /// A readable name, e.g. `meeting: at meeting_at - 2h`.
    pub label: String,
    /// Its name (`as NAME`), if the line gives one.
    pub name: Option<String>,
    /// When it fires.
    pub at: TimerAt,
    /// Checked when it fires.
    pub guard: Option<Expr>,
    /// The actions.
    pub rule: Rule,
}

/// What takes a transition.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// Its guard alone (checked after every change), or at once when it has none.
    Guard,
    /// An event.
    On(EventId),
    /// A timer.
    Timer(TimerAt),
}

/// A transition.
#[derive(Debug, Clone)]
pub struct TransitionDef {
    /// Target stages.
    pub targets: Vec<StageId>,
    /// What takes it.
    pub trigger: Trigger,
    /// Its guard.
    pub guard: Option<Expr>,
    /// Actions run on the way.
    pub body: Vec<Action>,
    /// Line in the pipeline file.
    pub line: usize,
    /// A readable name.
    pub label: String,
    /// The name of its timer (`as NAME`), if it has a timer trigger and a name.
    pub timer_name: Option<String>,
}

/// A stage.
#[derive(Debug, Clone)]
pub struct StageDef {
    /// Its identifier.
    pub name: String,
    /// Its title.
    pub title: String,
    /// Waits for every track.
    pub join: bool,
    /// Ends its track.
    pub is_final: bool,
    /// Line of its declaration.
    pub line: usize,
    /// Fields that must be set to enter.
    pub require: Vec<Slot>,
    /// The line of its (first) `require`.
    pub require_line: Option<usize>,
    /// `skip when`.
    pub skip: Option<Expr>,
    /// The line of its `skip when`.
    pub skip_line: Option<usize>,
    /// `on enter` blocks.
    pub on_enter: Vec<Rule>,
    /// `on exit` blocks.
    pub on_exit: Vec<Rule>,
    /// `on EVENT` blocks.
    pub on_event: Vec<OnEvent>,
    /// `after` / `at` lines.
    pub timers: Vec<TimerDef>,
    /// `->` lines, in order.
    pub transitions: Vec<TransitionDef>,
}

impl StageDef {
    pub(crate) fn new(name: &str, title: String, join: bool, is_final: bool, line: usize) -> Self {
        StageDef {
            name: name.to_string(),
            title,
            join,
            is_final,
            line,
            require: Vec::new(),
            require_line: None,
            skip: None,
            skip_line: None,
            on_enter: Vec::new(),
            on_exit: Vec::new(),
            on_event: Vec::new(),
            timers: Vec::new(),
            transitions: Vec::new(),
        }
    }

    /// Whether the stage reacts to this event at all.
    pub fn handles(&self, event: EventId) -> bool {
        self.on_event.iter().any(|o| o.event == event)
            || self
                .transitions
                .iter()
                .any(|t| matches!(t.trigger, Trigger::On(e) if e == event))
    }

    /// Whether a way out of the stage waits on its tasks: a transition's guard reads
    /// `open_tasks` (production's `-> delivered when open_tasks == 0`). Without its tasks such
    /// a stage would be passed at once.
    pub fn waits_on_tasks(&self) -> bool {
        self.transitions
            .iter()
            .filter_map(|t| t.guard.as_ref())
            .any(Expr::reads_open_tasks)
    }
}

impl Plan {
    /// The ids of the tasks the pipeline's lines make, in name order.
    pub fn task_ids(&self) -> std::collections::BTreeSet<&str> {
        fn within<'p>(actions: &'p [Action], out: &mut std::collections::BTreeSet<&'p str>) {
            for a in actions {
                match a {
                    Action::Task { id, .. } => {
                        out.insert(id.as_str());
                    }
                    Action::ForEach { body, .. } => within(body, out),
                    _ => {}
                }
            }
        }
        let mut out = std::collections::BTreeSet::new();
        for body in self.stages.iter().flat_map(StageDef::blocks) {
            within(body, &mut out);
        }
        out
    }
}

impl Expr {
    /// Whether the expression reads `open_tasks`.
    pub fn reads_open_tasks(&self) -> bool {
        match self {
            Expr::OpenTasks => true,
            Expr::Member(e, _) | Expr::Not(e) | Expr::Neg(e) | Expr::IsSet(e, _) => {
                e.reads_open_tasks()
            }
            Expr::Binary(_, a, b) => a.reads_open_tasks() || b.reads_open_tasks(),
            Expr::Builtin(_, args) | Expr::Script(_, args) => {
                args.iter().any(Expr::reads_open_tasks)
            }
            _ => false,
        }
    }
}

/// A dashboard phase.
#[derive(Debug, Clone)]
pub struct PhaseDef {
    /// Its identifier.
    pub name: String,
    /// Its title.
    pub title: String,
    /// Its stages.
    pub stages: Vec<StageId>,
}

/// A derived field: `NAME: TYPE = EXPR`.
#[derive(Debug, Clone)]
pub struct DerivedDef {
    /// The field.
    pub field: FieldId,
    /// What computes it.
    pub expr: Expr,
    /// It reads the clock (directly, or through another derived field): computed again at
    /// local midnight too.
    pub clock: bool,
    /// The line in the pipeline file.
    pub line: usize,
}

/// An alert.
#[derive(Debug, Clone)]
pub struct AlertDef {
    /// Its identifier.
    pub name: String,
    /// Its title.
    pub title: String,
    /// While this holds, the alert is raised.
    pub cond: Expr,
    /// It mentions `now` or `today`, so midnight can change it.
    pub time_dependent: bool,
    /// Line in the pipeline file.
    pub line: usize,
}

/// Who gets a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The client (the deal's phone and email fields).
    Client,
    /// The deal's person in the first role.
    Responsible,
    /// The deal's person in this role.
    Role(RoleId),
}

/// A message channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// SMS.
    Sms,
    /// Email.
    Email,
    /// Telegram: the template's SMS text (else its email's subject and body), by the bot.
    Telegram,
}

impl Channel {
    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
            Channel::Telegram => "telegram",
        }
    }
}

/// An action.
#[derive(Debug, Clone)]
pub enum Action {
    /// `set`
    Set(Slot, Expr),
    /// `notify`
    Notify {
        /// Recipients.
        who: Vec<Who>,
        /// Channels.
        channels: Vec<Channel>,
        /// Template index.
        template: usize,
        /// Line in the pipeline file.
        line: usize,
    },
    /// `task`
    Task {
        /// The task's identifier.
        id: String,
        /// Its title.
        title: Text,
        /// Who does it.
        role: RoleId,
        /// Due after creation.
        due: Option<Expr>,
        /// Estimate.
        estimate: Option<Expr>,
        /// Line in the pipeline file.
        line: usize,
    },
    /// `group`
    Group {
        /// Title.
        title: Text,
        /// Roles of its members.
        roles: Vec<RoleId>,
    },
    /// `spawn deal`
    Spawn {
        /// Title of the new deal.
        title: Text,
        /// Its stages.
        targets: Vec<StageId>,
        /// Values set on it.
        sets: Vec<(Slot, Expr)>,
    },
    /// `for each`: the loop variable is the innermost local.
    ForEach {
        /// The list.
        list: Expr,
        /// The actions.
        body: Vec<Action>,
    },
}

/// Built-in functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// `next_workday(d)`
    NextWorkday,
    /// `add_workdays(d, n)`
    AddWorkdays,
    /// `workdays_between(a, b)`
    WorkdaysBetween,
    /// `format(x, fmt)`
    Format,
    /// `map_link(place)`
    MapLink,
    /// `calendar(start, duration, place)`
    Calendar,
    /// `cancellation(start, duration, place)`: the invitation `calendar` sent, called off
    Cancellation,
    /// `len(list)`
    Len,
}

/// A compiled expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// A constant.
    Lit(Value),
    /// A deal field.
    Field(FieldId),
    /// A role slot.
    Role(RoleId),
    /// `now`
    Now,
    /// `today`
    Today,
    /// `title`
    Title,
    /// `hours_spent`
    HoursSpent,
    /// `open_tasks`
    OpenTasks,
    /// `deal`
    Deal,
    /// `deal_url`
    DealUrl,
    /// A `for each` variable: 0 is the innermost.
    Local(usize),
    /// `event.NAME`
    EventValue(String),
    /// `x.NAME`
    Member(Box<Expr>, String),
    /// `in STAGE`
    InStage(StageId),
    /// A built-in call.
    Builtin(Builtin, Vec<Expr>),
    /// A call into the script.
    Script(String, Vec<Expr>),
    /// `not x`
    Not(Box<Expr>),
    /// `-x`
    Neg(Box<Expr>),
    /// `a op b`
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `x is set` (false) / `x is not set` (true)
    IsSet(Box<Expr>, bool),
}
