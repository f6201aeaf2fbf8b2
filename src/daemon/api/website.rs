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

use super::admit::ApiError;
use super::intake;
use super::visitor::{Reply, Told, speaks_russian};
use crate::daemon::batch::{Op, Sender};
use crate::daemon::config::{ConfigError, WebsiteForm};
use crate::daemon::state::Shared;

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
    let rules = s.core.rules();
    let plan = &rules.ready.plan;
    let mut reply = Reply {
        html: accepts("text/html"),
        allow: None,
        form,
        ru: speaks_russian(form, s.config.dashboard.language.as_deref(), plan.country),
    };
    let metrics = &s.metrics;
    match allowed(form, &headers) {
        Ok(a) => reply.allow = a,
        Err(()) => {
            metrics.form("refused");
            return reply.refused(StatusCode::FORBIDDEN, Told::Origin);
        }
    }
    // A body over the limit is refused like anything else here: a page or JSON, CORS kept.
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            metrics.form("refused");
            return if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                reply.refused(e.status(), Told::TooLarge)
            } else {
                reply.refused(StatusCode::BAD_REQUEST, Told::Incomplete)
            };
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
        let mut r = reply.refused(StatusCode::TOO_MANY_REQUESTS, Told::TooMany);
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
            tracing::info!(form = %form.key, error = ?e, "website form: the body does not read");
            let status = e.into_response().status();
            return reply.refused(status, Told::Unreadable);
        }
    };
    // The hidden input is empty in a person's browser: anything in it, a space included, is
    // a robot's.
    if fields
        .get(&form.honeypot)
        .is_some_and(|v| v.as_str().is_none_or(|t| !t.is_empty()))
    {
        metrics.form("spam");
        tracing::info!(form = %form.key, "website form: the honeypot was filled in; nothing made");
        return reply.taken();
    }
    let mut lead = intake::lead(
        plan,
        &fields,
        &intake::Mapping {
            fields: form.fields.as_ref().unwrap_or(&s.config.intake.fields),
            title: form.title.as_deref().or(s.config.intake.title.as_deref()),
            fixed: &form.set,
        },
    );
    lead.creation.fields.remove(&form.honeypot);
    let mut contacts = contacts(plan, &lead.creation.fields);
    // A contact that does not read still makes no second deal within the window.
    contacts.extend(lead.checks.iter().map(|c| c.typed.trim().to_lowercase()));
    let window = Duration::from_secs(form.duplicate_window_s);
    if !contacts.is_empty() && !s.forms.take(&form.key, &contacts, window, now) {
        metrics.form("duplicate");
        return reply.taken();
    }
    let op = Op::Create(lead.creation).sent(Sender {
        via: None,
        origin: Some(format!("form:{}", form.key)),
        checks: lead.checks,
    });
    let answer = s
        .writer
        .submit(op, None, super::answers::render_created)
        .await;
    match answer {
        Ok(a) if a.status == 201 => {
            metrics.form("created");
            reply.taken()
        }
        Ok(a) => {
            // Kept in the refusals with its door: the team sees it on the out-of-control page.
            s.forms.release(&form.key, &contacts);
            metrics.form("refused");
            let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            reply.refused(status, Told::NotTaken)
        }
        Err(e) => {
            s.forms.release(&form.key, &contacts);
            tracing::warn!(form = %form.key, error = %e, "website form: not taken");
            reply.refused(StatusCode::SERVICE_UNAVAILABLE, Told::Unavailable)
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
