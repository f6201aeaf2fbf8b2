//! Why a deal is where it is (`GET /deals/{id}/explain`), and the inputs the rules turned
//! away (`GET /refusals`).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::admit::{ApiError, Need, authorize, json_answer};
use crate::daemon::state::Shared;
use crate::explain::{Read, explanation_json};

/// `?lang=ru|en` (English unless asked).
#[derive(Debug, serde::Deserialize)]
pub(super) struct ExplainQuery {
    #[serde(default)]
    lang: Option<String>,
}

pub(super) async fn explain(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Result<Query<ExplainQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&s, &headers, Need::Read)?;
    let Query(q) =
        q.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", e.body_text()))?;
    let ru = match q.lang.as_deref() {
        None | Some("en") => false,
        Some("ru") => true,
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_query",
                format!("`lang` is `ru` or `en`, not `{other}`"),
            ));
        }
    };
    let rules = s.core.rules();
    let mut tx = s.core.store().read().await?;
    let read = Read::from(&mut tx, &id).await?;
    drop(tx);
    let Some(read) = read else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_deal",
            format!("there is no deal `{id}`"),
        ));
    };
    let story = read.explain(&rules.ready.plan, &id, ru);
    Ok(json_answer(
        StatusCode::OK,
        explanation_json(&story, |t| crate::json::stamp(*t)).to_string(),
    ))
}

/// A list's `limit`: 100 when not given, refused (422) outside 1 to 1000 — never quietly
/// changed into another number.
pub(super) fn limit(given: Option<i64>) -> Result<i64, ApiError> {
    let limit = given.unwrap_or(100);
    if (1..=1000).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_limit",
            format!("`limit` is from 1 to 1000, not {limit}"),
        ))
    }
}

/// `?deal=&limit=`.
#[derive(Debug, serde::Deserialize)]
pub(super) struct RefusalsQuery {
    #[serde(default)]
    deal: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
}

pub(super) async fn refusals(
    State(s): State<Shared>,
    headers: HeaderMap,
    q: Result<Query<RefusalsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&s, &headers, Need::Read)?;
    let Query(q) =
        q.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", e.body_text()))?;
    let limit = limit(q.limit)?;
    let deal = q.deal.filter(|d| !d.is_empty());
    let mut tx = s.core.store().read().await?;
    let rows = tx.refusals(deal.as_deref(), limit).await?;
    drop(tx);
    let body: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            json!({
                "deal": r.deal,
                "at": crate::json::stamp(r.at),
                "input": r.input,
                "name": r.name,
                "fields": serde_json::from_str::<serde_json::Value>(&r.payload).unwrap_or_default(),
                "by": r.by,
                "via": r.via,
                "origin": r.origin,
                "code": r.code,
                "reason": r.reason,
                "rule": r.rule,
                "version": r.version,
            })
        })
        .collect();
    Ok(json_answer(StatusCode::OK, json!(body).to_string()))
}
