//! Answers: what a step's outcome becomes for the client (and what a retry with the same
//! idempotency key gets again, byte for byte), and the way an operation goes to the writer.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value as Json, json};

use super::admit::{ApiError, json_answer};
use crate::daemon::batch::{CoreError, Op, Step};
use crate::daemon::rules::Rules;
use crate::daemon::state::AppState;
use crate::daemon::writer::{Idem, Render};
use crate::json::deal_json;
use crate::store::Answer;

/// Runs an operation through the writer and sends its answer.
pub(crate) async fn submit(
    s: &AppState,
    op: Op,
    key: Option<Idem>,
    render: Render,
) -> Result<Response, ApiError> {
    let a = s.writer.submit(op, key, render).await.map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            e.to_string(),
        )
    })?;
    let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Ok(json_answer(status, a.body))
}

fn answer(status: StatusCode, body: Json) -> Answer {
    Answer {
        fingerprint: String::new(),
        status: status.as_u16(),
        body: body.to_string(),
    }
}

fn error_answer(status: StatusCode, code: &'static str, message: &str) -> Answer {
    answer(status, json!({"error": {"code": code, "message": message}}))
}

/// The answer to anything that is not applied.
fn refusal(r: &Result<Step, CoreError>) -> Answer {
    match r {
        Ok(Step::Applied { .. }) => {
            error_answer(StatusCode::INTERNAL_SERVER_ERROR, "internal", "applied")
        }
        Ok(Step::Refused(m)) => error_answer(StatusCode::UNPROCESSABLE_ENTITY, "refused", m),
        Ok(Step::NotNow(m)) => error_answer(StatusCode::CONFLICT, "not_now", m),
        Ok(Step::Unmet(m)) => error_answer(StatusCode::CONFLICT, "required", m),
        Ok(Step::Missing(m)) => error_answer(StatusCode::NOT_FOUND, "not_found", m),
        Ok(Step::Failed(m)) => error_answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            "step_failed",
            &format!("the step failed and was undone: {m}"),
        ),
        Err(e @ CoreError::NoDeal(_)) => {
            error_answer(StatusCode::NOT_FOUND, "no_deal", &e.to_string())
        }
        Err(e @ CoreError::Exists(_)) => {
            error_answer(StatusCode::CONFLICT, "exists", &e.to_string())
        }
        Err(e @ CoreError::Misfit(..)) => {
            error_answer(StatusCode::CONFLICT, "misfit", &e.to_string())
        }
        Err(e @ CoreError::Switch(..)) => error_answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            "step_failed",
            &e.to_string(),
        ),
        Err(CoreError::Store(_)) => error_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the database did not answer; try again",
        ),
    }
}

/// A deal created: 201 with its id and document.
pub(crate) fn render_created(rules: &Rules, r: &Result<Step, CoreError>) -> Answer {
    match r {
        Ok(Step::Applied { deal, revision, .. }) => answer(
            StatusCode::CREATED,
            json!({"id": &*deal.id, "deal": deal_json(&rules.ready.plan, deal, *revision)}),
        ),
        other => refusal(other),
    }
}

/// A deal changed: 200 with its document.
pub(crate) fn render_deal(rules: &Rules, r: &Result<Step, CoreError>) -> Answer {
    match r {
        Ok(Step::Applied { deal, revision, .. }) => answer(
            StatusCode::OK,
            deal_json(&rules.ready.plan, deal, *revision),
        ),
        other => refusal(other),
    }
}
