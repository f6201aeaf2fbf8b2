//! What every request passes before its route and every answer after it: a bearer token that is
//! not one of the configuration's counts against the client's address like a wrong login (the
//! door's throttle), an address that must wait is answered 429 whatever token it sends, and an
//! answer that is not a page carries the security headers a JSON answer needs.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::api::ApiError;
use super::state::Shared;

/// The bearer token a request carries, as `authorize` and the pages read it.
fn bearer(req: &Request) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// Whether a request's answer depends on its token: every route reads it (the API answers
/// 401 to a wrong one, a page sends its sender to the login page) but the few open to anyone —
/// liveness, readiness, the API's document, `/metrics` unless it asks for a token, the website
/// forms, the login page and the pages' own files. A token sent there tells its sender nothing.
fn reads_token(s: &Shared, path: &str) -> bool {
    match path {
        "/healthz" | "/readyz" | "/api/v1/openapi.json" | "/login" | "/style.css" | "/tick.js" => {
            false
        }
        "/metrics" => s.config.server.metrics_require_token,
        _ => !path.starts_with("/f/"),
    }
}

/// Counts wrong bearer tokens against the client's address, wherever a token is read, and
/// answers 429 with `Retry-After` to an address that must wait, the right token included: a
/// right token clears nothing.
pub(crate) async fn throttled(State(s): State<Shared>, req: Request, next: Next) -> Response {
    let Some(token) = bearer(&req).filter(|_| reads_token(&s, req.uri().path())) else {
        return next.run(req).await;
    };
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let Some(ip) = s.door.site.client(req.headers(), peer) else {
        return next.run(req).await;
    };
    let wrong = s.door.key(token).is_none();
    match s.door.throttle.attempt(ip, Instant::now(), wrong) {
        Err(wait) => {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let mut r = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_wrong_tokens",
                format!("too many wrong tokens from this address; try again in {secs} s"),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
        Ok(wait) if !wait.is_zero() => {
            tracing::warn!(client = %ip, wait_s = wait.as_secs(), "wrong tokens: the address waits");
        }
        Ok(_) => {}
    }
    next.run(req).await
}
