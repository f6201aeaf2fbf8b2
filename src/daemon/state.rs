//! What the HTTP handlers (API and pages) share: the core, the write path, the configuration,
//! the counters, the reloads and the door.

use std::sync::Arc;

use super::config::Config;
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
    /// Who may come in: the tokens (read again on SIGHUP), the sessions' site, wrong logins.
    pub door: super::door::Door,
    /// What the website forms remember: submissions per address, recent contacts.
    pub forms: super::door::forms::Guard,
    /// The request bodies the API document publishes, compiled for the rules running now.
    pub bodies: super::openapi::check::Cache,
}

impl AppState {
    /// What the API's schemas are made from now: the pipeline running and the team's ids.
    pub(crate) fn vocabulary<'a>(
        &self,
        plan: &'a crate::compile::Plan,
    ) -> super::openapi::bodies::Vocabulary<'a> {
        super::openapi::bodies::Vocabulary {
            plan,
            team: self.config.team.iter().map(|m| m.id.clone()).collect(),
            intake: self.config.intake.fields.clone(),
            intake_title: self.config.intake.title.clone(),
        }
    }
}

/// The state as handlers hold it.
pub(crate) type Shared = Arc<AppState>;
