//! The HTTP API under `/api/v1`, plus `/healthz` and `/metrics`. JSON in and out; every error
//! is `{"error": {"code", "message"}}` with the message in the pipeline's words.
//!
//! Every request passes admission first (`admit`: token, body, idempotency key); changes go
//! through the writer (group commit) and come back as `answers`; reads go straight to the
//! store. `deals` holds the deal resources, `service` the daemon's own.

mod admit;
pub(crate) mod answers;
pub(crate) mod deals;
mod explain;
pub(crate) mod intake;
mod privacy;
mod service;
mod visitor;
pub(crate) mod website;

use axum::Router;
use axum::http::{StatusCode, Uri};
use axum::routing::{delete, get, patch, post, put};

use crate::daemon::state::Shared;
pub(crate) use admit::ApiError;

/// The API's routes (the server merges them with the pages').
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/healthz", get(service::healthz))
        .route("/readyz", get(service::readyz))
        .route("/metrics", get(service::metrics))
        .route("/api/v1/openapi.json", get(service::openapi))
        .route("/api/v1/leads", post(deals::create_lead))
        .route(
            "/f/{key}",
            post(website::submit).options(website::preflight).layer(
                axum::middleware::map_response(crate::daemon::headers::guarded),
            ),
        )
        .route(
            "/api/v1/deals",
            post(deals::create_deal).get(deals::list_deals),
        )
        .route(
            "/api/v1/deals/{id}",
            get(deals::get_deal).patch(deals::edit_deal),
        )
        .route("/api/v1/deals/{id}/events", post(deals::send_event))
        .route("/api/v1/deals/{id}/time/{entry}", patch(deals::amend_time))
        .route("/api/v1/deals/{id}/explain", get(explain::explain))
        .route("/api/v1/deals/{id}/personal-data", delete(privacy::erase))
        .route(
            "/api/v1/deals/{id}/opt-outs/{channel}",
            put(privacy::opt_out).delete(privacy::opt_in),
        )
        .route("/api/v1/refusals", get(explain::refusals))
        .route(
            "/api/v1/deals/{id}/tasks/{task}/{action}",
            post(deals::task_work),
        )
        .route("/api/v1/team", get(service::team))
        .route("/api/v1/rules", get(service::rules))
        .route("/api/v1/rules/reload", post(service::reload_rules))
}

/// The answer for a path nothing is at.
pub(crate) async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("there is nothing at `{}`", uri.path()),
    )
}
