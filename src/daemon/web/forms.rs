//! The pages' forms: an event sent to a deal, work on a task. Only staff may send them; each
//! carries an idempotency key, so a form sent twice is applied once, and the answer is a
//! redirect back to the deal with the outcome (post/redirect/get).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::access::{page_error, viewer};
use super::encode;
use super::viewer::Viewer;
use crate::daemon::api::answers::render_deal;
use crate::daemon::batch::Op;
use crate::daemon::state::{AppState, Shared};
use crate::daemon::writer::Idem;
use crate::engine::{Input, TaskAction};

/// Form posts: the viewer must be staff; the answer is a redirect back to the deal page with
/// the outcome (post/redirect/get: a reload does not send the form again).
/// A form a staff member sent about a deal, admitted: its fields in order (a name may repeat)
/// and the idempotency key the page put in it.
pub(super) struct Form {
    pairs: Vec<(String, String)>,
    key: Option<Idem>,
}

impl Form {
    /// The viewer must be staff (else the answer to send instead); then the fields are read.
    fn admit(
        s: &AppState,
        headers: &HeaderMap,
        id: &str,
        path: &str,
        body: &Bytes,
    ) -> Result<Form, Box<Response>> {
        staff(s, headers, id)?;
        let pairs = form_pairs(body);
        let key = form_key(&pairs, path, body);
        Ok(Form { pairs, key })
    }

    /// A field's value, trimmed; `None` when it is missing or blank.
    fn value(&self, name: &str) -> Option<String> {
        form_value(&self.pairs, name)
    }
}

fn staff(s: &AppState, headers: &HeaderMap, id: &str) -> Result<Viewer, Box<Response>> {
    let v = viewer(s, headers, &format!("/deals/{}", encode(id)), None)?;
    if !v.may_write() {
        return Err(Box::new(page_error(
            v.lang,
            StatusCode::FORBIDDEN,
            v.lang.words().forbidden,
            v.lang.words().read_only,
        )));
    }
    Ok(v)
}

/// The form's fields, in order (a name may repeat).
pub(super) fn form_pairs(body: &Bytes) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default()
}

/// A form field's value, trimmed; `None` when it is missing or blank.
fn form_value(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The idempotency key the page put in the form: a form sent twice (a double click, a retry
/// after a dropped connection) is applied once.
fn form_key(pairs: &[(String, String)], path: &str, body: &Bytes) -> Option<Idem> {
    let key = form_value(pairs, "_key")?;
    if key.len() > 200 {
        return None;
    }
    Some(Idem {
        key: format!("web:{key}"),
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
    let form = match Form::admit(&s, &headers, &id, &path, &body) {
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
        return back(&id, Err("the form names no event".into()));
    };
    let mut fields = serde_json::Map::new();
    for (k, val) in pairs {
        if k.starts_with('_') || val.trim().is_empty() {
            continue;
        }
        let value = match plan.field_index.get(k).map(|&i| &plan.fields[i].ty) {
            Some(crate::types::Ty::Bool) => serde_json::Value::Bool(val == "true" || val == "on"),
            _ if val.trim_start().starts_with('[') => match serde_json::from_str(val) {
                Ok(j) => j,
                Err(e) => return back(&id, Err(format!("`{k}` is not a JSON list: {e}"))),
            },
            _ => serde_json::Value::String(val.trim().to_string()),
        };
        fields.insert(k.clone(), value);
    }
    let input = Input::Event {
        name,
        payload: crate::json::json_fields(&fields),
        by: form.value("_by"),
    };
    outcome(&s, &id, input, form.key).await
}

pub(super) async fn task_work(
    State(s): State<Shared>,
    Path((id, task, action)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/deals/{}/tasks/{}/{action}", encode(&id), encode(&task));
    let form = match Form::admit(&s, &headers, &id, &path, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let action = match action.as_str() {
        "start" => TaskAction::Start,
        "done" => TaskAction::Done,
        "log" => {
            let hours = form
                .value("hours")
                .map(|h| h.replace(',', "."))
                .and_then(|h| h.parse::<rust_decimal::Decimal>().ok())
                .filter(|h| *h > rust_decimal::Decimal::ZERO);
            let Some(hours) = hours else {
                return back(&id, Err("hours must be a positive number".into()));
            };
            TaskAction::Log(hours)
        }
        other => return back(&id, Err(format!("there is no task action `{other}`"))),
    };
    let input = Input::Task {
        task,
        action,
        by: form.value("_by"),
    };
    outcome(&s, &id, input, form.key).await
}

/// Applies the input to the deal and sends the browser back to it with what came of it.
pub(super) async fn outcome(s: &AppState, id: &str, input: Input, key: Option<Idem>) -> Response {
    let op = Op::Apply {
        deal: id.to_string(),
        input,
    };
    match s.writer.submit(op, key, render_deal).await {
        Ok(a) if (200..300).contains(&a.status) => back(id, Ok(())),
        Ok(a) => {
            let message = serde_json::from_str::<serde_json::Value>(&a.body)
                .ok()
                .and_then(|j| j["error"]["message"].as_str().map(str::to_string))
                .unwrap_or(a.body);
            back(id, Err(message))
        }
        Err(e) => back(id, Err(e.to_string())),
    }
}

pub(super) fn back(id: &str, result: Result<(), String>) -> Response {
    let to = match result {
        Ok(()) => format!("/deals/{}?done=1", encode(id)),
        Err(m) => format!("/deals/{}?refused={}", encode(id), encode(&m)),
    };
    Redirect::to(&to).into_response()
}
