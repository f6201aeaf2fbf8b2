//! The pages' forms: an event sent to a deal, work on a task. Only staff may send them; one
//! sent with the session cookie must come from this site's own page (its origin, and the
//! session's form token); each carries an idempotency key, so a form sent twice is applied
//! once, and the answer is a redirect back to the deal with the outcome (post/redirect/get).
//! A value is read by the type its field declares: only a list is read as JSON.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::access::{page_error, viewer};
use super::encode;
use super::flash::{Said, Why};
use super::session::genuine;
use crate::daemon::api::answers::render_deal;
use crate::daemon::batch::{Op, Sender};
use crate::daemon::door::Acting;
use crate::daemon::state::{AppState, Shared};
use crate::daemon::writer::Idem;
use crate::engine::{Input, TaskAction};

/// A form a staff member sent about a deal, admitted: its fields in order (a name may repeat)
/// and the idempotency key the page put in it.
pub(super) struct Form {
    pub(super) pairs: Vec<(String, String)>,
    pub(super) key: Option<Idem>,
    /// Who it acts as: the form's `_by` where the viewer may act for that person, else the
    /// viewer's own person (and whose session it came through, when that is another).
    pub(super) acting: Acting,
}

impl Form {
    /// The viewer must be staff and the form its own page's (else the answer to send
    /// instead); then the fields are read.
    pub(super) async fn admit(
        s: &AppState,
        headers: &HeaderMap,
        id: &str,
        path: &str,
        body: &Bytes,
    ) -> Result<Form, Box<Response>> {
        Form::admit_on(s, headers, &format!("/deals/{}", encode(id)), path, body).await
    }

    /// As [`Form::admit`], for a form of the page at `page` (where a login comes back to).
    pub(super) async fn admit_on(
        s: &AppState,
        headers: &HeaderMap,
        page: &str,
        path: &str,
        body: &Bytes,
    ) -> Result<Form, Box<Response>> {
        let v = viewer(s, headers, page, None).await?;
        if !v.may_write() {
            return Err(Box::new(page_error(
                v.lang,
                StatusCode::FORBIDDEN,
                v.lang.words().forbidden,
                v.lang.words().read_only,
            )));
        }
        let pairs = form_pairs(body);
        if !genuine(
            s,
            v.csrf.as_deref(),
            headers,
            form_value(&pairs, "_csrf").as_deref(),
        ) {
            return Err(Box::new(not_genuine(v.lang)));
        }
        let key = form_key(&pairs, path, body, v.csrf.as_deref());
        let acting = match &v.key {
            Some(k) => k.acting(form_value(&pairs, "_by")).map_err(|m| {
                Box::new(page_error(
                    v.lang,
                    StatusCode::FORBIDDEN,
                    v.lang.words().forbidden,
                    &m,
                ))
            })?,
            None => Acting::default(),
        };
        Ok(Form { pairs, key, acting })
    }
}

/// The answer to a form that did not come from this site's own page.
pub(super) fn not_genuine(lang: super::i18n::Lang) -> Response {
    page_error(
        lang,
        StatusCode::FORBIDDEN,
        lang.words().forbidden,
        lang.words().not_genuine,
    )
}

/// The form's fields, in order (a name may repeat).
pub(super) fn form_pairs(body: &Bytes) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default()
}

/// A form field's value, trimmed; `None` when it is missing or blank.
pub(super) fn form_value(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The idempotency key the page put in the form: a form sent twice (a double click, a retry
/// after a dropped connection) is applied once. It is the session's own (by its form token).
fn form_key(
    pairs: &[(String, String)],
    path: &str,
    body: &Bytes,
    session: Option<&str>,
) -> Option<Idem> {
    let key = form_value(pairs, "_key")?;
    if key.len() > 200 {
        return None;
    }
    let owner = session.map_or("", |s| &s[..s.len().min(16)]);
    Some(Idem {
        key: format!("web:{owner}:{key}"),
        fingerprint: format!(
            "POST {path} {}",
            crate::store::digest(&String::from_utf8_lossy(body), None)
        ),
    })
}

pub(super) async fn send_event(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/deals/{}/events", encode(&id));
    let form = match Form::admit(&s, &headers, &id, &path, &body).await {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let pairs = &form.pairs;
    let rules = s.core.rules();
    let plan = &rules.ready.plan;
    let Some(name) = pairs
        .iter()
        .find(|(k, _)| k == "_event")
        .map(|(_, v)| v.clone())
    else {
        return back(&id, Err(Said::NoEvent.into()));
    };
    let mut fields = serde_json::Map::new();
    for (k, val) in pairs {
        if k.starts_with('_') || val.trim().is_empty() {
            continue;
        }
        let value = match declared(plan, &name, k) {
            Declared::Bool => serde_json::Value::Bool(val == "true" || val == "on"),
            Declared::List => match serde_json::from_str(val) {
                Ok(j @ serde_json::Value::Array(_)) => j,
                _ => return back(&id, Err(Said::NotAList.into())),
            },
            Declared::Text => serde_json::Value::String(val.trim().to_string()),
        };
        fields.insert(k.clone(), value);
    }
    let input = Input::Event {
        name,
        payload: crate::json::json_fields(&fields),
        by: form.acting.by.clone(),
    };
    outcome(&s, &id, input, &form).await
}

pub(super) async fn task_work(
    State(s): State<Shared>,
    Path((id, task, action)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/deals/{}/tasks/{}/{action}", encode(&id), encode(&task));
    let form = match Form::admit(&s, &headers, &id, &path, &body).await {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let action = match action.as_str() {
        "start" => TaskAction::Start,
        "pause" => TaskAction::Pause,
        "done" => TaskAction::Done,
        "log" => {
            let hours = form_value(&form.pairs, "hours")
                .map(|h| h.replace(',', "."))
                .and_then(|h| h.parse::<rust_decimal::Decimal>().ok())
                .filter(|h| *h > rust_decimal::Decimal::ZERO);
            let Some(hours) = hours else {
                return back(&id, Err(Said::HoursPositive.into()));
            };
            TaskAction::Log(hours)
        }
        _ => return back(&id, Err(Said::NoTaskAction.into())),
    };
    let input = Input::Task {
        task,
        action,
        by: form.acting.by.clone(),
    };
    outcome(&s, &id, input, &form).await
}

/// A time entry corrected from the deal page.
pub(super) async fn amend_time(
    State(s): State<Shared>,
    Path((id, entry)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(n) = entry.parse::<usize>() else {
        return back(&id, Err(Said::NoEntry.into()));
    };
    let form = match Form::admit(&s, &headers, &id, &super::work::entry_path(&id, n), &body).await {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let hours = form_value(&form.pairs, "hours")
        .map(|h| h.replace(',', "."))
        .and_then(|h| h.trim().parse::<rust_decimal::Decimal>().ok())
        .filter(|h| *h >= rust_decimal::Decimal::ZERO && *h <= rust_decimal::Decimal::from(24));
    let Some(hours) = hours else {
        return back(&id, Err(Said::HoursDay.into()));
    };
    let input = Input::Amend {
        entry: n,
        hours,
        by: form.acting.by.clone(),
    };
    outcome(&s, &id, input, &form).await
}

/// How a form value is read: by the type the event's payload or the field declares.
enum Declared {
    Bool,
    List,
    Text,
}

fn declared(plan: &crate::compile::Plan, event: &str, name: &str) -> Declared {
    use crate::compile::PayloadType;
    use crate::types::Ty;
    let payload = plan
        .events
        .iter()
        .find(|e| e.name == event)
        .and_then(|e| e.payload.iter().find(|(n, _)| n == name))
        .map(|(_, t)| t);
    let ty = match payload {
        Some(PayloadType::List(_)) => return Declared::List,
        Some(PayloadType::Scalar(t)) => Some(t),
        None => plan.field_index.get(name).map(|&i| &plan.fields[i].ty),
    };
    match ty {
        Some(Ty::Bool) => Declared::Bool,
        Some(Ty::List(_)) => Declared::List,
        _ => Declared::Text,
    }
}

/// Applies the input to the deal and sends the browser back to it with what came of it.
pub(super) async fn outcome(s: &AppState, id: &str, input: Input, form: &Form) -> Response {
    let op = Op::Apply {
        deal: id.to_string(),
        input,
    }
    .sent(Sender {
        via: form.acting.via.clone(),
        ..Sender::default()
    });
    match s.writer.submit(op, form.key.clone(), render_deal).await {
        Ok(a) if (200..300).contains(&a.status) => back(id, Ok(())),
        Ok(a) => {
            let message = serde_json::from_str::<serde_json::Value>(&a.body)
                .ok()
                .and_then(|j| j["error"]["message"].as_str().map(str::to_string))
                .unwrap_or(a.body);
            back(id, Err(Why::Engine(message)))
        }
        Err(e) => back(id, Err(Why::Engine(e.to_string()))),
    }
}

/// Back to the deal's page, with what came of the form.
pub(super) fn back(id: &str, result: Result<(), Why>) -> Response {
    let to = match result {
        Ok(()) => format!("/deals/{}?done=1", encode(id)),
        Err(Why::Said(s)) => format!("/deals/{}?why={}", encode(id), s.code()),
        Err(Why::Engine(m)) => format!(
            "/deals/{}?refused={}&seal={}",
            encode(id),
            encode(&m),
            super::flash::seal(id, &m)
        ),
    };
    Redirect::to(&to).into_response()
}

/// Marks the refused lead `id` settled by the deal made of it (a failure is logged: the deal
/// is made, the lead stays listed until someone dismisses it).
pub(super) async fn lead_settled(s: &AppState, id: i64, by: Option<&str>, deal: &str) {
    let done = async {
        let mut tx = s.core.store().begin().await?;
        tx.settle_refusal(id, by, Some(deal), chrono::Utc::now())
            .await?;
        tx.commit().await
    };
    if let Err(e) = done.await {
        tracing::warn!(refusal = id, deal, error = %e, "a refused lead made into a deal was not marked settled");
    }
}
