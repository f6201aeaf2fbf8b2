//! The trace of a step: what happened to which deal, when, and why.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::value::Value;

/// One thing that happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// When.
    pub at: DateTime<Utc>,
    /// To which deal.
    pub deal: std::sync::Arc<str>,
    /// What.
    pub kind: Kind,
    /// Why: the event, timer or creation that caused the step (shared by its records).
    pub cause: std::sync::Arc<str>,
    /// The pipeline line of the rule that did it, if one did.
    pub line: Option<usize>,
}

/// An email attachment. As JSON (the timeline, the outbox): `{filename, content_type, content}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Attachment {
    /// File name.
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// The content.
    pub content: String,
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A deal was created at these stages.
    DealCreated {
        /// Stage names.
        stages: Vec<String>,
        /// The deal that spawned it.
        parent: Option<String>,
        /// It started at its stages without their `on enter` actions (an import).
        quiet: bool,
    },
    /// A creation was refused; nothing was created.
    DealRefused {
        /// Stage names asked for.
        stages: Vec<String>,
        /// Why.
        error: String,
    },
    /// A track entered a stage.
    StageEntered {
        /// The stage.
        stage: String,
    },
    /// A stage was skipped by its `skip when`.
    StageSkipped {
        /// The stage.
        stage: String,
    },
    /// A `migrate` line moved a track out of a stage the rules no longer have.
    StageMigrated {
        /// The stage it stood in.
        from: String,
        /// The stage it stands in now.
        stage: String,
    },
    /// A track left a stage.
    StageLeft {
        /// The stage.
        stage: String,
    },
    /// A track arrived at a join and waits for the others (text timeline only).
    TrackWaiting {
        /// The join stage.
        stage: String,
    },
    /// A field or role slot changed.
    FieldSet {
        /// Its name.
        field: String,
        /// The new value (None: now unset).
        value: Option<Value>,
        /// The field is derived: the value was computed, not set.
        derived: bool,
        /// A person's edit: the value before it (`Some(None)`: it was unset), written `from`
        /// beside the new one, so the history says what was changed, not only to what.
        was: Option<Option<Value>>,
    },
    /// A message was queued.
    Notification {
        /// `client` or `user`.
        to_kind: &'static str,
        /// Address or phone number.
        to: String,
        /// `sms` or `email`.
        channel: &'static str,
        /// Template name.
        template: String,
        /// Email subject.
        subject: Option<String>,
        /// The text.
        text: String,
        /// When it may be sent.
        send_at: DateTime<Utc>,
        /// Attached files.
        attachments: Vec<Attachment>,
    },
    /// A message could not be made.
    NotificationSkipped {
        /// `client` or `user`.
        to_kind: &'static str,
        /// Who (a person's id, or `client`).
        to: String,
        /// `sms` or `email`.
        channel: &'static str,
        /// Template name.
        template: String,
        /// Why.
        reason: String,
    },
    /// A task was created.
    TaskCreated {
        /// Task identifier.
        task: String,
        /// Title.
        title: String,
        /// Who does it.
        assignee: Option<String>,
        /// When it is due.
        due: Option<DateTime<Utc>>,
        /// Estimate in hours.
        estimate_h: Option<Decimal>,
    },
    /// Work on a task started (text timeline only).
    TaskStarted {
        /// Task identifier.
        task: String,
        /// Who.
        by: Option<String>,
    },
    /// A task timer stopped (paused, the task done, the person started another); the time it
    /// ran is logged with it (text timeline only).
    TimerStopped {
        /// Task identifier.
        task: String,
        /// Whose timer.
        by: String,
        /// When it started.
        since: DateTime<Utc>,
        /// The hours logged: the time it ran, at most the cap.
        hours: Decimal,
        /// It ran longer than the cap.
        capped: bool,
        /// Hours typed in by hand for the task took its place: it logged nothing.
        replaced: bool,
    },
    /// A time entry was corrected (text timeline only).
    TimeAmended {
        /// The entry's place among the deal's time entries.
        entry: usize,
        /// Whose time it is.
        user: String,
        /// Its hours before.
        from: Decimal,
        /// Its hours now.
        to: Decimal,
        /// Who corrected it.
        by: Option<String>,
    },
    /// Time was logged (text timeline only).
    TimeLogged {
        /// Task identifier.
        task: String,
        /// Who.
        by: String,
        /// How long.
        hours: Decimal,
    },
    /// A task was finished.
    TaskDone {
        /// Task identifier.
        task: String,
        /// Hours logged on it.
        hours: Decimal,
    },
    /// An open task was closed because its deal ended (its last track reached a final stage).
    TaskCancelled {
        /// Task identifier.
        task: String,
    },
    /// An open task went to another person with its role (an edit gave the role to them).
    TaskReassigned {
        /// Task identifier.
        task: String,
        /// Who had it.
        from: Option<String>,
        /// Who has it now.
        to: Option<String>,
    },
    /// A timer was set.
    TimerSet {
        /// Its name.
        timer: String,
        /// When it fires.
        fires_at: DateTime<Utc>,
    },
    /// New rules gave a waiting timer another moment.
    TimerMoved {
        /// Its name.
        timer: String,
        /// When it would have fired.
        from: DateTime<Utc>,
        /// When it fires now.
        fires_at: DateTime<Utc>,
    },
    /// New rules no longer have a waiting timer: it will not fire.
    TimerDropped {
        /// Its name.
        timer: String,
    },
    /// A timer fired.
    TimerFired {
        /// Its name.
        timer: String,
    },
    /// A project group was formed.
    GroupCreated {
        /// Title.
        title: String,
        /// Member ids.
        members: Vec<String>,
    },
    /// An alert started to hold.
    AlertRaised {
        /// Alert name.
        alert: String,
    },
    /// An alert stopped holding.
    AlertCleared {
        /// Alert name.
        alert: String,
    },
    /// An event arrived and was applied (text timeline only).
    EventApplied {
        /// Event name.
        event: String,
        /// Who sent it.
        by: Option<String>,
    },
    /// An event was refused; nothing changed.
    EventRefused {
        /// Event name.
        event: String,
        /// Why.
        error: String,
    },
    /// A step failed (a script error, a loop) and was undone.
    StepFailed {
        /// What caused the step.
        cause: String,
        /// Why it failed.
        error: String,
    },
}

impl Kind {
    /// Whether this says an input was refused or a step failed.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Kind::DealRefused { .. } | Kind::EventRefused { .. } | Kind::StepFailed { .. }
        )
    }

    /// Every kind's name, as [`Kind::name`] gives it.
    pub const NAMES: &'static [&'static str] = &[
        "deal_created",
        "deal_refused",
        "stage_entered",
        "stage_skipped",
        "stage_left",
        "stage_migrated",
        "track_waiting",
        "field_set",
        "notification",
        "notification_skipped",
        "task_created",
        "task_started",
        "time_logged",
        "timer_stopped",
        "time_amended",
        "task_done",
        "task_cancelled",
        "task_reassigned",
        "timer_set",
        "timer_moved",
        "timer_dropped",
        "timer_fired",
        "group_created",
        "alert_raised",
        "alert_cleared",
        "event_applied",
        "event_refused",
        "step_failed",
    ];

    /// The kind's name in the JSON timeline.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::DealCreated { .. } => "deal_created",
            Kind::DealRefused { .. } => "deal_refused",
            Kind::StageEntered { .. } => "stage_entered",
            Kind::StageSkipped { .. } => "stage_skipped",
            Kind::StageLeft { .. } => "stage_left",
            Kind::StageMigrated { .. } => "stage_migrated",
            Kind::TrackWaiting { .. } => "track_waiting",
            Kind::FieldSet { .. } => "field_set",
            Kind::Notification { .. } => "notification",
            Kind::NotificationSkipped { .. } => "notification_skipped",
            Kind::TaskCreated { .. } => "task_created",
            Kind::TaskStarted { .. } => "task_started",
            Kind::TimeLogged { .. } => "time_logged",
            Kind::TimerStopped { .. } => "timer_stopped",
            Kind::TimeAmended { .. } => "time_amended",
            Kind::TaskDone { .. } => "task_done",
            Kind::TaskCancelled { .. } => "task_cancelled",
            Kind::TaskReassigned { .. } => "task_reassigned",
            Kind::TimerSet { .. } => "timer_set",
            Kind::TimerMoved { .. } => "timer_moved",
            Kind::TimerDropped { .. } => "timer_dropped",
            Kind::TimerFired { .. } => "timer_fired",
            Kind::GroupCreated { .. } => "group_created",
            Kind::AlertRaised { .. } => "alert_raised",
            Kind::AlertCleared { .. } => "alert_cleared",
            Kind::EventApplied { .. } => "event_applied",
            Kind::EventRefused { .. } => "event_refused",
            Kind::StepFailed { .. } => "step_failed",
        }
    }

    /// Whether the specification's JSON timeline lists this kind (others are for people only).
    pub fn in_json(&self) -> bool {
        !matches!(
            self,
            Kind::TrackWaiting { .. }
                | Kind::TaskStarted { .. }
                | Kind::TimeLogged { .. }
                | Kind::TimerStopped { .. }
                | Kind::TimeAmended { .. }
                | Kind::EventApplied { .. }
        )
    }
}
