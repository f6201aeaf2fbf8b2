//! Website forms without a relay: `[[forms]]`, each reached at `/f/{key}` by a plain HTML
//! `<form>` or by `fetch()` from the sites it names (CORS). The key is public (it is in the
//! page's source): what guards the door is the allowed origins, a honeypot input, a limit per
//! client address and a short window in which the same phone or email on the same form makes
//! no second deal. Where a deal comes from and where the visitor goes next (the thank-you URL)
//! come from the configuration only, never from the request.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};

use super::admit::ApiError;
use super::intake;
use crate::daemon::batch::Op;
use crate::daemon::config::{ConfigError, WebsiteForm};
use crate::daemon::state::Shared;

/// How the answer is given: a page for a browser's own form, JSON for a script.
struct Reply<'a> {
    html: bool,
    allow: Option<HeaderValue>,
    form: &'a WebsiteForm,
    ru: bool,
}

impl Reply<'_> {
    fn with_cors(&self, mut r: Response) -> Response {
        if let Some(o) = &self.allow {
            r.headers_mut()
                .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o.clone());
        }
        r.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Origin"));
        r
    }

    /// Taken (or quietly dropped as spam or a repeat: the visitor cannot tell).
    fn taken(&self) -> Response {
        let r = match (self.html, &self.form.thanks) {
            (true, Some(t)) => {
                let mut r = StatusCode::SEE_OTHER.into_response();
                if let Ok(v) = HeaderValue::from_str(t) {
                    r.headers_mut().insert(header::LOCATION, v);
                }
                r
            }
            (true, None) => page(
                StatusCode::OK,
                if self.ru {
                    "Спасибо! Заявка получена, мы скоро свяжемся с вами."
                } else {
                    "Thank you! We have your request and will be in touch soon."
                },
            ),
            (false, _) => super::admit::json_answer(
                StatusCode::CREATED,
                json!({"received": true}).to_string(),
            ),
        };
        self.with_cors(r)
    }

    /// Not taken: why, as a page or as `{"error": …}`.
    fn refused(&self, status: StatusCode, code: &'static str, message: &str) -> Response {
        let r = if self.html {
            page(status, message)
        } else {
            ApiError::new(status, code, message).into_response()
        };
        self.with_cors(r)
    }
}

/// A short page for a visitor whose browser sent the form itself.
fn page(status: StatusCode, text: &str) -> Response {
    let markup = maud::html! {
        (maud::DOCTYPE)
        html {
            head { meta charset="utf-8"; title { (text) } }
            body { p { (text) } }
        }
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}

/// Checks the forms against the pipeline: every field they map to or set is declared.
pub(crate) fn check_fields(
    forms: &[WebsiteForm],
    plan: &crate::compile::Plan,
) -> Result<(), ConfigError> {
    for f in forms {
        let targets = f.fields.iter().flat_map(|m| m.values()).chain(f.set.keys());
        for field in targets {
            if !plan.field_index.contains_key(field) {
                return Err(ConfigError::Named(format!(
                    "form `{}`: the pipeline has no field `{field}`",
                    f.key
                )));
            }
        }
    }
    Ok(())
}

/// The form a key opens, if any.
fn form_of<'a>(s: &'a Shared, key: &str) -> Option<&'a WebsiteForm> {
    s.config.forms.iter().find(|f| f.key == key)
}

/// The `Access-Control-Allow-Origin` value for this request, `Err` when its origin is not one
/// of the form's sites (no origin: not a browser, nothing to allow).
fn allowed(form: &WebsiteForm, headers: &HeaderMap) -> Result<Option<HeaderValue>, ()> {
    let Some(o) = headers.get(header::ORIGIN) else {
        return Ok(None);
    };
    let text = o.to_str().unwrap_or("");
    if form.origins.iter().any(|a| a.trim_end_matches('/') == text) {
        Ok(Some(o.clone()))
    } else {
        Err(())
    }
}

/// `OPTIONS /f/{key}`: the browser asks whether a script on another site may send the form.
pub(super) async fn preflight(
    State(s): State<Shared>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(form) = form_of(&s, &key) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(Some(origin)) = allowed(form, &headers) else {
        return StatusCode::FORBIDDEN.into_response();
    };
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    r
}

/// `POST /f/{key}`: a lead from a website form.
pub(super) async fn submit(
    State(s): State<Shared>,
    Path(key): Path<String>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(form) = form_of(&s, &key) else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "no_form",
            format!("there is no form `{key}`"),
        )
        .into_response();
    };
    let accepts = |what: &str| {
        headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains(what))
    };
    let lang = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut reply = Reply {
        html: accepts("text/html"),
        allow: None,
        form,
        ru: lang.trim_start().starts_with("ru"),
    };
    let metrics = &s.metrics;
    match allowed(form, &headers) {
        Ok(a) => reply.allow = a,
        Err(()) => {
            metrics.form("refused");
            return reply.refused(
                StatusCode::FORBIDDEN,
                "origin",
                "this form may not be sent from that site",
            );
        }
    }
    // A body over the limit is refused like anything else here: a page or JSON, CORS kept.
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            metrics.form("refused");
            let large = e.status() == StatusCode::PAYLOAD_TOO_LARGE;
            let (status, code, message) = match (large, reply.ru) {
                (true, true) => (
                    e.status(),
                    "too_large",
                    "Форма прислала больше, чем мы принимаем.",
                ),
                (true, false) => (e.status(), "too_large", "The form sent more than we take."),
                (false, true) => (
                    StatusCode::BAD_REQUEST,
                    "bad_body",
                    "Форма не дошла целиком.",
                ),
                (false, false) => (
                    StatusCode::BAD_REQUEST,
                    "bad_body",
                    "The form did not arrive whole.",
                ),
            };
            return reply.refused(status, code, message);
        }
    };
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let now = Instant::now();
    if let Some(ip) = s.door.site.client(&headers, peer)
        && let Some(wait) = s.forms.over_limit(&form.key, ip, form.per_hour, now)
    {
        metrics.form("limited");
        let mut r = reply.refused(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many",
            "too many requests from this address; try again later",
        );
        let secs = wait.as_secs().max(1).to_string();
        if let Ok(v) = HeaderValue::from_str(&secs) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let read = match intake::sent(&headers) {
        Ok(how) => intake::form(how, &headers, body).await,
        Err(e) => Err(e),
    };
    let fields = match read {
        Ok(f) => f,
        Err(e) => {
            metrics.form("refused");
            return reply.with_cors(e.into_response());
        }
    };
    if fields
        .get(&form.honeypot)
        .is_some_and(|v| v.as_str().is_none_or(|t| !t.trim().is_empty()))
    {
        metrics.form("spam");
        tracing::info!(form = %form.key, "website form: the honeypot was filled in; nothing made");
        return reply.taken();
    }
    let rules = s.core.rules();
    let plan = &rules.ready.plan;
    let mut lead = intake::lead(
        plan,
        &fields,
        &intake::Mapping {
            fields: form.fields.as_ref().unwrap_or(&s.config.intake.fields),
            title: form.title.as_deref().or(s.config.intake.title.as_deref()),
            fixed: &form.set,
        },
    );
    lead.fields.remove(&form.honeypot);
    let contacts = contacts(plan, &lead.fields);
    let window = Duration::from_secs(form.duplicate_window_s);
    if !contacts.is_empty() && !s.forms.take(&form.key, &contacts, window, now) {
        metrics.form("duplicate");
        return reply.taken();
    }
    let answer = s
        .writer
        .submit(Op::Create(lead), None, super::answers::render_created)
        .await;
    match answer {
        Ok(a) if a.status == 201 => {
            metrics.form("created");
            reply.taken()
        }
        Ok(a) => {
            s.forms.release(&form.key, &contacts);
            metrics.form("refused");
            let body: Json = serde_json::from_str(&a.body).unwrap_or_default();
            let message = body["error"]["message"]
                .as_str()
                .unwrap_or("the request was refused");
            let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            reply.refused(status, "refused", message)
        }
        Err(e) => {
            s.forms.release(&form.key, &contacts);
            reply.refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                &e.to_string(),
            )
        }
    }
}

/// The lead's phones and emails as the duplicate window compares them: phones in E.164 where
/// they read as phones, emails in lower case.
fn contacts(
    plan: &crate::compile::Plan,
    fields: &BTreeMap<String, crate::value::Value>,
) -> Vec<String> {
    use crate::types::Ty;
    let mut out = Vec::new();
    for (name, v) in fields {
        let Some(&id) = plan.field_index.get(name) else {
            continue;
        };
        let text = v.to_string();
        match plan.fields[id].ty {
            Ty::Phone => out.push(crate::contact::phone(name, &text, plan.country).unwrap_or(text)),
            Ty::Email => out.push(text.trim().to_lowercase()),
            _ => {}
        }
    }
    out
}
