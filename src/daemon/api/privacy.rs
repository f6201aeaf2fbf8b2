//! A client's personal data: `DELETE /api/v1/deals/{id}/personal-data` erases it; `PUT` and
//! `DELETE /api/v1/deals/{id}/opt-outs/{channel}` record that the client opted out of SMS or
//! email (and back in). Staff only; what is done is said in the deal's history with who did it.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::json;

use super::admit::{ApiError, Need, authorize, json_answer};
use crate::daemon::privacy::{self, CHANNELS};
use crate::daemon::state::Shared;

fn no_deal(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_deal",
        format!("there is no deal `{id}`"),
    )
}

pub(super) async fn erase(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<axum::response::Response, ApiError> {
    let key = authorize(&s, &headers, Need::Write)?;
    let acting = key.acting(None).unwrap_or_default();
    let erased = privacy::erase(&s, &id, acting)
        .await?
        .ok_or_else(|| no_deal(&id))?;
    Ok(json_answer(
        StatusCode::OK,
        json!({"deal": id, "by": key.person, "erased": erased}).to_string(),
    ))
}

async fn set(
    s: Shared,
    id: String,
    channel: String,
    headers: HeaderMap,
    out: bool,
) -> Result<axum::response::Response, ApiError> {
    let key = authorize(&s, &headers, Need::Write)?;
    if !CHANNELS.contains(&channel.as_str()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_channel",
            format!("a client opts out of `sms` or `email`, not `{channel}`"),
        ));
    }
    // Who recorded it: the token's person, else an integration's token by its name.
    let acting = key.acting(None).unwrap_or_default();
    let who = acting.by.or(acting.via);
    let now = privacy::opt_out(&s, &id, &channel, out, who.as_deref())
        .await?
        .ok_or_else(|| no_deal(&id))?;
    Ok(json_answer(
        StatusCode::OK,
        json!({"deal": id, "opted_out": now}).to_string(),
    ))
}

pub(super) async fn opt_out(
    State(s): State<Shared>,
    Path((id, channel)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<axum::response::Response, ApiError> {
    set(s, id, channel, headers, true).await
}

pub(super) async fn opt_in(
    State(s): State<Shared>,
    Path((id, channel)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<axum::response::Response, ApiError> {
    set(s, id, channel, headers, false).await
}
