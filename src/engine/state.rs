//! What the engine knows of a deal and of the team, and what one step produces.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::compile::{Plan, StageId};
use crate::value::Value;

/// Whether a track can still move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackState {
    /// In a stage that handles events and timers.
    Active,
    /// Arrived at a `join` stage, waiting for the other tracks.
    Waiting,
    /// In a final stage: the track is over.
    Ended,
}

/// One line of a deal's progress (a deal has one per parallel branch).
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    /// Unique within the deal.
    pub id: u32,
    /// Where it is.
    pub stage: StageId,
    /// Since when.
    pub entered_at: DateTime<Utc>,
    /// Whether it can move.
    pub state: TrackState,
}

/// Which timer of a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerRef {
    /// The n-th `after`/`at` line.
    Line(usize),
    /// The n-th transition (with a timer trigger).
    Transition(usize),
    /// The overdue reminder of the deal's n-th task (at its due; not a line of the stage: it
    /// stays when the deal moves on, and goes when the task is done or cancelled).
    Reminder(usize),
}

/// A timer waiting to fire.
#[derive(Debug, Clone, PartialEq)]
pub struct Armed {
    /// Unique within the deal, never reused.
    pub id: u64,
    /// The track that set it.
    pub track: u32,
    /// The stage that set it.
    pub stage: StageId,
    /// Which timer.
    pub which: TimerRef,
    /// When it fires (never before it was set).
    pub fires_at: DateTime<Utc>,
    /// The moment its expression gave; it moves when this changes.
    pub target: DateTime<Utc>,
    /// It has fired (kept so that an `at` timer does not fire twice for the same moment).
    pub fired: bool,
}

/// A task for the team.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// The task's identifier in the pipeline (`call_client`).
    pub id: String,
    /// Its title.
    pub title: String,
    /// Who does it.
    pub assignee: Option<String>,
    /// The stage that created it.
    pub stage: StageId,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it is due.
    pub due: Option<DateTime<Utc>>,
    /// Hours it should take.
    pub estimate_h: Option<Decimal>,
    /// When work started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it was finished (or cancelled).
    pub done_at: Option<DateTime<Utc>>,
    /// It was closed because its deal ended, not done.
    pub cancelled: bool,
    /// Hours logged on it.
    pub hours: Decimal,
    /// A timer running on it: who, since when.
    pub timer: Option<Running>,
}

/// A task timer that is running.
#[derive(Debug, Clone, PartialEq)]
pub struct Running {
    /// Whose timer.
    pub by: String,
    /// Since when.
    pub since: DateTime<Utc>,
}

/// Time logged on a deal.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeEntry {
    /// The task it was logged on.
    pub task: Option<String>,
    /// Who worked.
    pub user: String,
    /// How long.
    pub hours: Decimal,
    /// Their hourly rate at the time.
    pub rate: Decimal,
    /// When it was logged.
    pub at: DateTime<Utc>,
}

/// A deal.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Deal {
    /// Identifier (`ivan`, `ivan/1`).
    pub id: Arc<str>,
    /// Title.
    pub title: Arc<str>,
    /// The deal that spawned it.
    pub parent: Option<Arc<str>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Field values by field id (shared between copies until one changes them).
    pub values: Arc<Vec<Option<Value>>>,
    /// Role slots by role id: the person doing that job for this deal.
    pub slots: Arc<Vec<Option<String>>>,
    /// Where it is.
    pub tracks: Vec<Track>,
    /// Timers waiting to fire.
    pub timers: Vec<Armed>,
    /// Tasks (shared between copies until one changes them, each on its own).
    pub tasks: Arc<Vec<Arc<Task>>>,
    /// Time logged (shared between copies until one changes them).
    pub time_entries: Arc<Vec<TimeEntry>>,
    /// Raised alerts by alert id.
    pub alerts: Vec<bool>,
    /// Deals spawned so far (names the next one).
    pub spawned: u32,
    /// Next track id.
    pub next_track: u32,
    /// Next timer id.
    pub next_timer: u64,
}

impl Deal {
    /// An empty deal shaped for `plan`.
    pub fn new(plan: &Plan, id: String, title: String, now: DateTime<Utc>) -> Self {
        Deal {
            id: id.into(),
            title: title.into(),
            parent: None,
            created_at: now,
            values: Arc::new(plan.fields.iter().map(|f| f.default.clone()).collect()),
            slots: Arc::new(vec![None; plan.roles.len()]),
            tracks: Vec::new(),
            timers: Vec::new(),
            tasks: Arc::default(),
            time_entries: Arc::default(),
            alerts: vec![false; plan.alerts.len()],
            spawned: 0,
            next_track: 0,
            next_timer: 0,
        }
    }

    /// Hours logged on the deal.
    pub fn hours_spent(&self) -> Decimal {
        self.time_entries.iter().map(|e| e.hours).sum()
    }

    /// Open tasks, of one stage or of the whole deal.
    pub fn open_tasks(&self, stage: Option<StageId>) -> usize {
        self.tasks
            .iter()
            .filter(|t| t.done_at.is_none() && stage.is_none_or(|s| t.stage == s))
            .count()
    }

    /// The stages of its tracks, in track order (waiting and ended tracks included).
    pub fn stages(&self) -> Vec<StageId> {
        let mut out: Vec<StageId> = Vec::new();
        for t in &self.tracks {
            if !out.contains(&t.stage) {
                out.push(t.stage);
            }
        }
        out
    }

    /// Whether any track can still move.
    pub fn is_live(&self) -> bool {
        self.tracks.iter().any(|t| t.state != TrackState::Ended)
    }
}
