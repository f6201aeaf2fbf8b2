//! What the HTTP handlers (API and pages) share: the core, the write path, the configuration,
//! the counters and the reloads; and who a token is.

use std::sync::Arc;

use subtle::ConstantTimeEq;

use super::config::{Config, Scope};
use super::core::Core;
use super::metrics::Metrics;
use super::reload::Reloads;
use super::writer::Writer;

/// What the handlers share.
pub(crate) struct AppState {
    /// The engine and the store.
    pub core: Arc<Core>,
    /// The write path.
    pub writer: Writer,
    /// The configuration.
    pub config: Config,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Reloads of the rules, and the last one's report.
    pub reloads: Reloads,
    /// Whether a write would succeed (`/readyz`).
    pub ready: super::ready::Readiness,
}

/// The state as handlers hold it.
pub(crate) type Shared = Arc<AppState>;

impl AppState {
    /// The scope of a token, if it is one of the configuration's.
    pub(super) fn scope_of(&self, token: &str) -> Option<Scope> {
        let given = token.trim().as_bytes();
        let mut found = None;
        for t in &self.config.tokens {
            // Every token is compared, found or not: the time does not tell which one matched.
            if bool::from(t.token.as_bytes().ct_eq(given)) {
                found = Some(t.scope);
            }
        }
        found
    }
}
