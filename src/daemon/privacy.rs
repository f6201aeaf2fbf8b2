//! A client's personal data, as the API and the pages ask for it: erased on request, and
//! their opt-out from a channel. What is personal is the pipeline's word: fields written
//! `personal`, and every phone and email field.

use chrono::Utc;

use super::state::AppState;
use crate::store::{Erased, Erasure, StoreError};

/// The channels a client can opt out of.
pub(crate) const CHANNELS: [&str; 3] = ["sms", "email", "telegram"];

/// The title an erased deal keeps.
pub(crate) const ERASED_TITLE: &str = "—";

/// The pipeline's names and the team's ids, sorted: what the records hold as names, never as a
/// client's words.
fn names(plan: &crate::compile::Plan, team: &[crate::team::TeamMember]) -> Vec<String> {
    let mut names: Vec<String> = [
        &plan.field_index.keys().collect::<Vec<_>>(),
        &plan.role_index.keys().collect(),
        &plan.event_index.keys().collect(),
        &plan.template_index.keys().collect(),
        &plan.stage_index.keys().collect(),
    ]
    .into_iter()
    .flatten()
    .map(|n| n.to_string())
    .chain(plan.phases.iter().map(|p| p.name.clone()))
    .chain(plan.alerts.iter().map(|a| a.name.clone()))
    .chain(plan.task_ids().into_iter().map(str::to_string))
    .chain(team.iter().map(|m| m.id.clone()))
    .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Erases the deal's personal data, and that of the deals spawned from it (they copied the
/// client's fields); `None` when there is no such deal. On SQLite the write-ahead log is cut
/// afterwards, so that no copy of an erased page stays in it.
pub(crate) async fn erase(
    s: &AppState,
    deal: &str,
    acting: crate::daemon::door::Acting,
) -> Result<Option<Erased>, StoreError> {
    let by = acting.by;
    let rules = s.core.rules();
    let plan = &rules.ready.plan;
    let e = Erasure {
        fields: plan
            .fields
            .iter()
            .filter(|f| f.personal)
            .map(|f| f.name.clone())
            .collect(),
        title: ERASED_TITLE.to_string(),
        known: Vec::new(),
        by: by.clone(),
        via: acting.via,
        at: Utc::now(),
        country: plan.country,
        webhooks: s.core.webhooks().to_vec(),
        names: names(plan, &s.config.team),
    };
    let mut tx = s.core.store().begin().await?;
    let erased = tx.erase_personal(deal, &e).await?;
    let children = match &erased {
        Some(_) => tx.descendants(deal).await?,
        None => Vec::new(),
    };
    // The deals spawned from it lose the client's values it held (their own fields may not
    // hold them: a contract's comment may still quote the name).
    if let Some(done) = &erased {
        let spawned = Erasure {
            known: done.values.clone(),
            ..e.clone()
        };
        for child in &children {
            tx.erase_personal(child, &spawned).await?;
        }
    }
    // The dashboard's rows of the deals and the words they are found by lose what was erased.
    for d in std::iter::once(deal).chain(children.iter().map(String::as_str)) {
        if erased.is_some() {
            tx.refresh_summaries(plan, s.core.mapping(), d).await?;
        }
    }
    tx.commit().await?;
    if let Some(done) = &erased {
        tracing::info!(deal, by = ?by, fields = ?done.fields, messages = done.messages, spawned = children.len(), "personal data erased");
        match s.core.store().scrub_log().await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                deal,
                "the write-ahead log could not be cut after an erasure (readers held it); the next checkpoint overwrites it"
            ),
            Err(e) => {
                tracing::warn!(deal, error = %e, "the write-ahead log was not cut after an erasure")
            }
        }
    }
    Ok(erased)
}

/// The client opts out of `channel` (or back in); the channels they are out of now, or `None`
/// when there is no such deal.
pub(crate) async fn opt_out(
    s: &AppState,
    deal: &str,
    channel: &str,
    out: bool,
    by: Option<&str>,
) -> Result<Option<Vec<String>>, StoreError> {
    let mut tx = s.core.store().begin().await?;
    let now = tx.set_opt_out(deal, channel, out, by, Utc::now()).await?;
    tx.commit().await?;
    Ok(now)
}
