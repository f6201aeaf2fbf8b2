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

/// Erases the deal's personal data; `None` when there is no such deal.
pub(crate) async fn erase(
    s: &AppState,
    deal: &str,
    by: Option<String>,
) -> Result<Option<Erased>, StoreError> {
    let rules = s.core.rules();
    let fields = rules
        .ready
        .plan
        .fields
        .iter()
        .filter(|f| f.personal)
        .map(|f| f.name.clone())
        .collect();
    let e = Erasure {
        fields,
        title: ERASED_TITLE.to_string(),
        by: by.clone(),
        at: Utc::now(),
    };
    let mut tx = s.core.store().begin().await?;
    let erased = tx.erase_personal(deal, &e).await?;
    // The dashboard's row of the deal and the words it is found by lose what was erased.
    if erased.is_some() {
        tx.refresh_summaries(&rules.ready.plan, s.core.mapping(), deal)
            .await?;
    }
    tx.commit().await?;
    if let Some(done) = &erased {
        tracing::info!(deal, by = ?by, fields = ?done.fields, messages = done.messages, "personal data erased");
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
