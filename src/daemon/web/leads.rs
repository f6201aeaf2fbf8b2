//! Settling what a website brought and the rules could not take, from the out-of-control page:
//! a refused lead made into a deal in one click (or, when it still does not make one, the
//! new-deal form filled with what the visitor sent), or dismissed; a contact that did not read,
//! dismissed once someone has dealt with it. Staff only, from the site's own page.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;

use super::access::{html, look, page_error, store_down};
use super::edit::{Typed, new_page};
use super::encode;
use super::forms::Form;
use crate::daemon::api::answers::render_created;
use crate::daemon::api::intake::Lead;
use crate::daemon::batch::{Op, Sender};
use crate::daemon::state::{AppState, Shared};
use crate::store::{CheckRef, Refusal};

const PAGE: &str = "/attention";

fn to_attention() -> Response {
    Redirect::to(PAGE).into_response()
}

/// The refused website lead `id`, if it is one no one has settled.
async fn open_lead(s: &AppState, id: i64) -> Result<Option<Refusal>, crate::store::StoreError> {
    let mut tx = s.core.store().read().await?;
    Ok(tx
        .refusal(id)
        .await?
        .filter(|r| r.origin.is_some() && r.settled.is_none()))
}

/// `POST /attention/leads/{id}/deal`: a deal made of a refused lead, as the website would have
/// made it (a contact that does not read waits to be checked); when that is still refused, the
/// new-deal form with what the visitor sent and why.
pub(super) async fn make_deal(
    State(s): State<Shared>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/attention/leads/{id}/deal");
    let form = match Form::admit_on(&s, &headers, PAGE, &path, &body).await {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let (v, snap) = match look(&s, &headers, PAGE, None).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let lead = match open_lead(&s, id).await {
        Ok(Some(r)) => r,
        Ok(None) => return to_attention(),
        Err(_) => return store_down(v.lang),
    };
    let plan = &snap.rules.ready.plan;
    let sent: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&lead.payload).unwrap_or_default();
    let Lead { creation, checks } = crate::daemon::api::intake::lead_of_fields(plan, &sent);
    let deal = creation.id.clone();
    let typed = Typed {
        title: creation.title.clone(),
        stage: plan
            .stages
            .first()
            .map(|s| s.name.clone())
            .unwrap_or_default(),
        fields: sent
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_string),
                )
            })
            .collect(),
        refusal: Some(id),
        ..Typed::default()
    };
    let op = Op::Create(creation).sent(Sender {
        via: form.acting.via.clone().or(form.acting.by.clone()),
        checks,
        ..Sender::default()
    });
    match s.writer.submit(op, form.key.clone(), render_created).await {
        Ok(a) if (200..300).contains(&a.status) => {
            super::forms::lead_settled(&s, id, form.acting.by.as_deref(), &deal).await;
            Redirect::to(&format!("/deals/{}?done=1", encode(&deal))).into_response()
        }
        Ok(a) => {
            let message = serde_json::from_str::<serde_json::Value>(&a.body)
                .ok()
                .and_then(|j| j["error"]["message"].as_str().map(str::to_string))
                .unwrap_or(a.body);
            html(
                &v,
                StatusCode::UNPROCESSABLE_ENTITY,
                new_page(&v, plan, &typed, Some(&super::flash::Why::Engine(message))),
            )
        }
        Err(e) => page_error(
            v.lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "503",
            &e.to_string(),
        ),
    }
}

/// `POST /attention/leads/{id}/dismiss`: a refused lead no one will make a deal of.
pub(super) async fn dismiss_lead(
    State(s): State<Shared>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/attention/leads/{id}/dismiss");
    let form = match Form::admit_on(&s, &headers, PAGE, &path, &body).await {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let done = async {
        let mut tx = s.core.store().begin().await?;
        tx.settle_refusal(id, form.acting.by.as_deref(), None, Utc::now())
            .await?;
        tx.commit().await
    };
    match done.await {
        Ok(()) => to_attention(),
        Err(_) => store_down(super::i18n::Lang::Ru),
    }
}

/// `POST /attention/checks/{id}/dismiss`: a contact that did not read, dealt with.
pub(super) async fn dismiss_check(
    State(s): State<Shared>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/attention/checks/{id}/dismiss");
    let form = match Form::admit_on(&s, &headers, PAGE, &path, &body).await {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let done = async {
        let mut tx = s.core.store().begin().await?;
        tx.settle_checks(
            None,
            CheckRef::Id(id),
            form.acting.by.as_deref(),
            Utc::now(),
        )
        .await?;
        tx.commit().await
    };
    match done.await {
        Ok(()) => to_attention(),
        Err(_) => store_down(super::i18n::Lang::Ru),
    }
}
