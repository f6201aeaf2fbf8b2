//! Hooks tried before they reach a client: the new rules' templates (through the notify hook)
//! and script calls, tried on a sample of live deals — the first few by id in each stage — and
//! on a deal made of the declared defaults (so a fresh install is tried too). A failure is a
//! reason to refuse the new rules when the running rules succeed at the same thing, or the
//! template or function is new; one that fails under both is only a warning.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::engine::{self, Ctx, Deal, Track, TrackState, Tried};
use crate::load::Ready;
use crate::store::StoredDeal;
use crate::team::Team;

/// Live deals tried per stage.
pub(super) const PER_STAGE: usize = 3;
/// The id of the deal made of defaults.
const DEFAULTS: &str = "(a new deal with the defaults)";

/// A hook that fails under the new rules.
#[derive(Debug, Clone)]
pub struct HookFailure {
    /// What failed.
    pub tried: String,
    /// The deal it was tried on.
    pub deal: String,
    /// The error.
    pub error: String,
    /// It fails under the running rules too (a warning, not a reason to refuse).
    pub also_now: bool,
}

/// Tries hooks on the sample as it comes, deal by deal.
pub(super) struct Hooks<'a> {
    new: &'a Ready,
    old: Option<&'a Ready>,
    team: &'a Team,
    at: DateTime<Utc>,
    per_stage: BTreeMap<String, usize>,
    /// Deals tried.
    pub tried: usize,
    /// What failed.
    pub failures: Vec<HookFailure>,
}

impl<'a> Hooks<'a> {
    pub(super) fn new(
        new: &'a Ready,
        old: Option<&'a Ready>,
        team: &'a Team,
        at: DateTime<Utc>,
    ) -> Self {
        Hooks {
            new,
            old,
            team,
            at,
            per_stage: BTreeMap::new(),
            tried: 0,
            failures: Vec::new(),
        }
    }

    fn ctx<'r>(&'r self, ready: &'r Ready) -> Ctx<'r> {
        Ctx {
            plan: &ready.plan,
            team: self.team,
            script: ready.script.as_ref(),
            now: self.at,
            site: None,
        }
    }

    /// A live deal, as it stands after the switch (`switched`) and as stored: tried when its
    /// stage still has room in the sample.
    pub(super) fn live(&mut self, stored: &StoredDeal, switched: &Deal) {
        let plan = &self.new.plan;
        let Some(stage) = switched
            .stages()
            .first()
            .map(|&s| plan.stages[s].name.clone())
        else {
            return;
        };
        let n = self.per_stage.entry(stage).or_default();
        if *n >= PER_STAGE {
            return;
        }
        *n += 1;
        let before = self.old.and_then(|old| stored.decode(&old.plan).ok());
        self.try_one(switched, before.as_ref());
    }

    /// A deal made of the declared defaults, at the first stage.
    pub(super) fn defaults(&mut self) {
        let made = |ready: &Ready| {
            let mut d = Deal::new(&ready.plan, DEFAULTS.into(), DEFAULTS.into(), self.at);
            d.tracks.push(Track {
                id: 0,
                stage: 0,
                entered_at: self.at,
                state: TrackState::Active,
            });
            d.next_track = 1;
            d
        };
        if self.new.plan.stages.is_empty() {
            return;
        }
        let new = made(self.new);
        let old = self.old.filter(|o| !o.plan.stages.is_empty()).map(made);
        self.try_one(&new, old.as_ref());
    }

    fn try_one(&mut self, deal: &Deal, before: Option<&Deal>) {
        self.tried += 1;
        let now = engine::trial(self.ctx(self.new), deal);
        let then: Vec<(Tried, Result<(), String>)> = match (self.old, before) {
            (Some(old), Some(b)) => engine::trial(self.ctx(old), b),
            _ => Vec::new(),
        };
        for (tried, result) in now {
            let Err(error) = result else { continue };
            let also_now = then.iter().any(|(t, r)| *t == tried && r.is_err());
            self.failures.push(HookFailure {
                tried: tried.to_string(),
                deal: deal.id.to_string(),
                error,
                also_now,
            });
        }
    }
}
