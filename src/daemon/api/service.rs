//! The daemon's own resources: the team, the rules running and their reload, health, metrics
//! and the API's description of itself.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};

use super::admit::{ApiError, Need, authorize, json_answer};
use crate::daemon::state::{AppState, Shared};
use crate::json::team_json;

pub(super) async fn team(
    State(s): State<Shared>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&s, &headers, Need::Read)?;
    let mut tx = s.core.store().read().await?;
    let team = tx.team().await?;
    drop(tx);
    Ok(json_answer(StatusCode::OK, team_json(&team).to_string()))
}

pub(super) async fn rules(
    State(s): State<Shared>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&s, &headers, Need::Read)?;
    Ok(json_answer(
        StatusCode::OK,
        rules_json(&s).await?.to_string(),
    ))
}

async fn rules_json(s: &AppState) -> Result<Json, ApiError> {
    let rules = s.core.rules();
    let mut tx = s.core.store().read().await?;
    let versions = tx.rules_versions().await?;
    drop(tx);
    let current = versions.iter().find(|v| v.version == rules.version);
    let last = s.reloads.last();
    Ok(json!({
        "version": rules.version,
        "file": rules.file.display().to_string(),
        "digest": current.map(|v| v.digest.clone()),
        "loaded_at": current.map(|v| crate::json::stamp(v.loaded_at)),
        "versions": versions.len(),
        "last_reload": last,
        "switching": s.reloads.switching.status(),
    }))
}

/// `?dry_run=true`.
#[derive(Debug, serde::Deserialize)]
pub(super) struct ReloadQuery {
    #[serde(default)]
    dry_run: bool,
}

pub(super) async fn reload_rules(
    State(s): State<Shared>,
    headers: HeaderMap,
    query: Result<axum::extract::Query<ReloadQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&s, &headers, Need::Write)?;
    let dry_run = match query {
        Ok(q) => q.dry_run,
        Err(e) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_query",
                e.body_text(),
            ));
        }
    };
    if dry_run {
        let plan = s.reloads.dry_run(&s.core).await?;
        return Ok(json_answer(StatusCode::OK, plan.to_string()));
    }
    let report = s.reloads.reload(&s.core, &s.writer, &s.metrics).await;
    let status = if report.applied {
        StatusCode::OK
    } else if report.queued {
        // A reload is running; it reads the file again when it ends.
        StatusCode::ACCEPTED
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(json_answer(
        status,
        serde_json::to_string(&report).unwrap_or_default(),
    ))
}

/// Liveness: the daemon answers. Nothing is read (a deal count grows slow with the deals).
pub(super) async fn healthz() -> Response {
    json_answer(StatusCode::OK, json!({"status": "ok"}).to_string())
}

/// Readiness: 200 only when a write would succeed now (a real write, at most once a second).
pub(super) async fn readyz(State(s): State<Shared>) -> Response {
    if s.ready.check(&s.core, &s.metrics).await {
        json_answer(StatusCode::OK, json!({"status": "ready"}).to_string())
    } else {
        json_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "the database cannot be written to"}).to_string(),
        )
    }
}

/// The counters, in Prometheus' text format; with `[server] metrics_require_token`, only for
/// a `read` or `staff` token (Prometheus sends it by `authorization.credentials_file`).
pub(super) async fn metrics(State(s): State<Shared>, headers: HeaderMap) -> Response {
    if s.config.server.metrics_require_token
        && let Err(e) = authorize(&s, &headers, Need::Read)
    {
        return e.into_response();
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
        .into_response()
}

pub(super) async fn openapi(State(s): State<Shared>) -> Response {
    let rules = s.core.rules();
    json_answer(
        StatusCode::OK,
        crate::daemon::openapi::document(&s.vocabulary(&rules.ready.plan)).to_string(),
    )
}
