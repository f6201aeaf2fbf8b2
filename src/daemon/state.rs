//! What the HTTP handlers (API and pages) share: the core, the write path, the configuration,
//! the counters and the last reload; and who a token is.

use std::sync::{Arc, Mutex};

use subtle::ConstantTimeEq;

use super::config::{Config, Scope};
use super::core::Core;
use super::metrics::Metrics;
use super::reload::ReloadReport;
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
    /// The last reload and its result.
    pub last_reload: Mutex<Option<ReloadReport>>,
    /// Serializes reloads.
    pub reloading: tokio::sync::Mutex<()>,
}

/// The state as handlers hold it.
pub(crate) type Shared = Arc<AppState>;

impl AppState {
    /// The scope of a token, if it is one of the configuration's.
    pub fn scope_of(&self, token: &str) -> Option<Scope> {
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

    /// The last reload, if there was one.
    pub fn last_reload(&self) -> Option<ReloadReport> {
        self.last_reload
            .lock()
            .map(|g| g.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }
}
