//! Deals as the writer last committed them, so that the next step on a deal does not read its
//! document, its logged work and decode them again. Reading and decoding took more of a batch's
//! time than the engine's steps.
//!
//! An entry is used only when the database still holds the same revision of the deal, under
//! the same rules version: every committed step bumps a deal's revision, and entries are put
//! here only after their batch committed. So a change from anywhere else (another daemon on
//! PostgreSQL, a replay, a rolled-back batch) makes the entry miss instead of being read stale.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::engine::Deal;

/// Deals kept per generation. When the young generation is full it becomes the old one and
/// the old one is dropped, so at most twice this many deals are held.
const PER_GENERATION: usize = 2048;

/// The most deals kept at once.
pub(super) const MOST_KEPT: usize = 2 * PER_GENERATION;

#[derive(Clone)]
struct Entry {
    revision: i64,
    rules_version: i64,
    deal: Deal,
}

#[derive(Default)]
struct Generations {
    young: HashMap<String, Entry>,
    old: HashMap<String, Entry>,
}

/// The warm deals.
#[derive(Default)]
pub(crate) struct Warm {
    inner: Mutex<Generations>,
}

impl Warm {
    /// The deal `id` if it is kept at this revision, decoded under this rules version.
    pub(crate) fn get(&self, id: &str, revision: i64, rules_version: i64) -> Option<Deal> {
        let mut g = self.lock();
        let hit = |e: &Entry| e.revision == revision && e.rules_version == rules_version;
        if let Some(e) = g.young.get(id) {
            return hit(e).then(|| e.deal.clone());
        }
        let e = g.old.remove(id)?;
        let deal = hit(&e).then(|| e.deal.clone());
        if deal.is_some() {
            g.put(id.to_string(), e);
        }
        deal
    }

    /// Keeps deals as committed: each at its revision, decoded under `rules_version`.
    pub(crate) fn put<'a>(
        &self,
        deals: impl IntoIterator<Item = (&'a Deal, i64)>,
        rules_version: i64,
    ) {
        let mut g = self.lock();
        for (deal, revision) in deals {
            g.put(
                deal.id.to_string(),
                Entry {
                    revision,
                    rules_version,
                    deal: deal.clone(),
                },
            );
        }
    }

    /// How many deals are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        let g = self.lock();
        g.young.len() + g.old.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations> {
        // The maps are whole after any panic (each change is one insert or remove).
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

impl Generations {
    fn put(&mut self, id: String, e: Entry) {
        if self.young.len() >= PER_GENERATION && !self.young.contains_key(&id) {
            self.old = std::mem::take(&mut self.young);
        }
        self.old.remove(&id);
        self.young.insert(id, e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn deal(id: &str) -> Deal {
        Deal {
            id: id.into(),
            title: "Shop".into(),
            parent: None,
            created_at: chrono::Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
            values: Default::default(),
            slots: Default::default(),
            tracks: Vec::new(),
            timers: Vec::new(),
            tasks: Default::default(),
            time_entries: Default::default(),
            alerts: Vec::new(),
            spawned: 0,
            next_track: 0,
            next_timer: 0,
        }
    }

    #[test]
    fn a_kept_deal_is_given_only_at_its_revision_and_rules_version() {
        let w = Warm::default();
        w.put([(&deal("a"), 3)], 1);
        assert!(w.get("a", 3, 1).is_some());
        assert!(w.get("a", 4, 1).is_none(), "the database moved on");
        assert!(w.get("a", 3, 2).is_none(), "new rules decode it anew");
        assert!(w.get("b", 1, 1).is_none());
    }

    #[test]
    fn at_most_two_generations_are_kept_and_a_hit_stays_young() {
        let w = Warm::default();
        w.put([(&deal("first"), 1)], 1);
        for i in 0..PER_GENERATION {
            w.put([(&deal(&format!("d{i}")), 1)], 1);
        }
        // `first` went to the old generation and comes back young when it is used.
        assert!(w.get("first", 1, 1).is_some());
        for i in 0..PER_GENERATION {
            w.put([(&deal(&format!("e{i}")), 1)], 1);
        }
        assert!(w.len() <= MOST_KEPT);
        assert!(
            w.get("first", 1, 1).is_some(),
            "a used deal outlives a full generation"
        );
        assert!(w.get("d5", 1, 1).is_none(), "an unused one does not");
    }
}
