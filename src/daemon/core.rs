//! The daemon's core: the store, the rules that run now, and the deals the writer kept as it
//! committed them. Operations run against it in batches (`batch`), each inside a transaction
//! the caller gives and commits.
//!
//! [`Core::open`] is the one way a core comes to be: the rule file read, checked and compiled,
//! the store opened, the rules recorded as a version, the team put in place, committed.

use std::path::Path;
use std::sync::{Arc, RwLock};

use super::rules::Rules;
use super::warm::Warm;
use crate::engine::Deal;
use crate::load::LoadError;
use crate::store::{Mapping, Options, Store, StoreError};
use crate::team::Member;

/// Why a core could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The rule file (every error in full).
    #[error("{}", .0.errors_in_full())]
    Rules(#[from] LoadError),
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How a core is opened.
#[derive(Debug, Clone)]
pub struct Opening<'a> {
    /// The rule file.
    pub rules: &'a Path,
    /// The database URL (`sqlite://FILE` or `postgres://…`).
    pub database: &'a str,
    /// How the database is opened.
    pub options: Options,
    /// The team to put in place of the stored one; `None` keeps the stored team.
    pub team: Option<&'a [Member]>,
    /// The largest rule or script file read, in bytes (`None`: no limit).
    pub max_rules_size: Option<u64>,
    /// Which fields the dashboard's summaries read (`[dashboard]`).
    pub mapping: Mapping,
}

/// The engine against the store, with the rules that run now.
pub struct Core {
    store: Store,
    rules: RwLock<Arc<Rules>>,
    /// Deals as the writer last committed them.
    pub(crate) warm: Warm,
    /// Where the dashboard is reached (`[server] public_url`), for `deal_url`.
    site: std::sync::OnceLock<String>,
    /// Which fields the dashboard's summaries read.
    mapping: Mapping,
    /// The most one task timer logs at once, in hours (`[tasks] timer_cap_hours`).
    timer_cap: std::sync::OnceLock<rust_decimal::Decimal>,
    /// The webhooks' subscriptions (`[[webhooks]]`): the records each takes are queued for it.
    webhooks: std::sync::OnceLock<Vec<crate::store::Subscription>>,
}

impl Core {
    /// Reads the rules, opens the store, records the rules as a version and puts the team in
    /// place, in one transaction.
    pub async fn open(o: Opening<'_>) -> Result<Core, OpenError> {
        let ready = Rules::read(o.rules, o.max_rules_size).await?;
        let store = Store::open(o.database, &o.options).await?;
        let mut tx = store.begin().await?;
        let rules = Rules::record(ready, o.rules, &mut tx).await?;
        if let Some(team) = o.team {
            tx.put_team(team).await?;
        }
        tx.commit().await?;
        let core = Core::new(store, rules, o.mapping);
        core.close_ended_tasks().await?;
        core.keep_summaries_current().await?;
        Ok(core)
    }

    /// A core over `store` running `rules`.
    pub(crate) fn new(store: Store, rules: Rules, mapping: Mapping) -> Self {
        Core {
            store,
            rules: RwLock::new(Arc::new(rules)),
            warm: Warm::default(),
            site: std::sync::OnceLock::new(),
            mapping,
            timer_cap: std::sync::OnceLock::new(),
            webhooks: std::sync::OnceLock::new(),
        }
    }

    /// Which fields the dashboard's summaries read.
    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// Makes the dashboard's summaries again when what they were made from changed (a first
    /// start after the upgrade that added them, another `[dashboard]` mapping, renames in the
    /// rules running now). Writes wait meanwhile. Whether they were made again.
    pub async fn keep_summaries_current(&self) -> Result<bool, StoreError> {
        let rules = self.rules();
        let plan = &rules.ready.plan;
        let mut tx = self.store.read().await?;
        if tx.summaries_current(plan, &self.mapping).await? {
            return Ok(false);
        }
        // Made for the first time: the analytics are counted from the deals' history too.
        let history = tx.mark(crate::store::SUMMARIES_MARK).await?.is_none();
        tx.rollback().await?;
        let started = std::time::Instant::now();
        tracing::info!("making the dashboard's summaries from the stored deals");
        let mut tx = self.store.begin().await?;
        let done = tx
            .rebuild_summaries(plan, &self.mapping, history, |n| {
                if n % 10_000 == 0 {
                    tracing::info!(deals = n, "summaries: deals read");
                }
            })
            .await?;
        tx.commit().await?;
        tracing::info!(
            deals = done.deals,
            unread = done.unread.len(),
            ms = started.elapsed().as_millis() as u64,
            "the dashboard's summaries are made"
        );
        Ok(true)
    }

    /// Says where the dashboard is reached (once; before the first step).
    pub(crate) fn set_site(&self, url: &str) {
        let _ = self.site.set(url.trim_end_matches('/').to_string());
    }

    /// The webhooks' subscriptions, set once when the daemon starts (before the first step).
    pub fn set_webhooks(&self, subscriptions: Vec<crate::store::Subscription>) {
        let _ = self.webhooks.set(subscriptions);
    }

    /// The webhooks' subscriptions (none until set).
    pub(crate) fn webhooks(&self) -> &[crate::store::Subscription] {
        self.webhooks.get().map_or(&[], Vec::as_slice)
    }

    /// Says how many hours one task timer logs at most (once; before the first step).
    pub(crate) fn set_timer_cap(&self, hours: rust_decimal::Decimal) {
        let _ = self.timer_cap.set(hours);
    }

    /// How many hours one task timer logs at most, if the configuration says.
    pub(crate) fn timer_cap(&self) -> Option<rust_decimal::Decimal> {
        self.timer_cap.get().copied()
    }

    /// Where the dashboard is reached, if the configuration says.
    pub(crate) fn site(&self) -> Option<&str> {
        self.site.get().map(String::as_str)
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The rules running now.
    pub fn rules(&self) -> Arc<Rules> {
        // A poisoned lock still holds a complete `Arc`: replacing it is one pointer write.
        match self.rules.read() {
            Ok(r) => r.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Puts new rules in place; the next step runs them.
    pub(crate) fn set_rules(&self, rules: Rules) {
        let new = Arc::new(rules);
        match self.rules.write() {
            Ok(mut r) => *r = new,
            Err(p) => *p.into_inner() = new,
        }
    }

    /// The copy of a deal the writer kept from its last commit, if it kept one at this
    /// revision under the rules running now (a copy is only ever what the database holds).
    pub fn kept(&self, id: &str, revision: i64) -> Option<Deal> {
        self.warm.get(id, revision, self.rules().version)
    }
}
