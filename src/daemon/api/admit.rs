//! Admission: the checks every request passes before it does anything, in this order — the
//! bearer token and its scope, the body within the size limit, the idempotency key — and the
//! body read as JSON. Every refusal is an [`ApiError`].

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};

use crate::daemon::batch::{Op, Sender};
use crate::daemon::config::Scope;
use crate::daemon::door::{Acting, Key};
use crate::daemon::openapi::check::Body;
use crate::daemon::state::AppState;
use crate::daemon::writer::Idem;
use crate::store::{StoreError, digest};

/// An error answer: `{"error": {"code", "message"}}` with its status.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn body(&self) -> String {
        json!({"error": {"code": self.code, "message": self.message}}).to_string()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.body();
        json_answer(self.status, body)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the database did not answer; try again",
        )
    }
}

/// The operation, or, when its body did not fit the API's schema, its refusal: kept in the
/// refusals like the engine's, answered 422 (404 for a deal that does not exist).
pub(crate) fn refuse_if(op: Op, complaint: Option<String>) -> Op {
    match complaint {
        None => op,
        Some(reason) => Op::Refuse {
            op: Box::new(op),
            reason,
        },
    }
}

/// The answer to a body that did not fit the API's schema, where nothing is kept of it.
pub(crate) fn unfit(complaint: Option<String>) -> Result<(), ApiError> {
    match complaint {
        None => Ok(()),
        Some(m) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_fields",
            m,
        )),
    }
}

/// A JSON body with its status; a 503 says when to try again.
pub(crate) fn json_answer(status: StatusCode, body: String) -> Response {
    let mut r = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    r
}

/// Who may call what.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Need {
    /// A `read` or `staff` token.
    Read,
    /// A `staff` token.
    Write,
    /// An `intake` or `staff` token.
    Intake,
}

/// Checks the bearer token (compared in constant time against every configured token) and
/// its scope; what the token is.
pub(crate) fn authorize(s: &AppState, headers: &HeaderMap, need: Need) -> Result<Key, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send `Authorization: Bearer TOKEN`",
        ));
    };
    let given = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let Some(key) = s.door.key(given) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the token is not valid",
        ));
    };
    let scope = key.scope;
    let ok = match need {
        Need::Read => matches!(scope, Scope::Read | Scope::Staff),
        Need::Write => scope == Scope::Staff,
        Need::Intake => matches!(scope, Scope::Intake | Scope::Staff),
    };
    if ok {
        Ok(key)
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            match scope {
                Scope::Intake => "an `intake` token may not do this",
                Scope::Staff => "a `staff` token may not do this",
                Scope::Read => "a `read` token may not do this",
            },
        ))
    }
}

/// A POST as it came: what admission looks at.
pub(crate) struct Post {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
}

impl<S: Send + Sync> FromRequest<S> for Post {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let method = req.method().clone();
        let uri = req.uri().clone();
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state).await;
        Ok(Post {
            method,
            uri,
            headers,
            body,
        })
    }
}

/// A POST that passed admission.
pub(crate) struct Admitted {
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body, within the size limit.
    pub body: Bytes,
    /// Its idempotency key, with what the request was.
    pub key: Option<Idem>,
    /// The token it came with.
    pub token: Key,
}

impl Post {
    /// The first checks of every POST, in this order: the token and its scope, the body within
    /// the size limit, the idempotency key.
    pub(crate) fn admit(self, s: &AppState, need: Need) -> Result<Admitted, ApiError> {
        let token = authorize(s, &self.headers, need)?;
        let body = body_of(self.body)?;
        let key = idem(&self.headers, &self.method, &self.uri, &body, &token)?;
        Ok(Admitted {
            headers: self.headers,
            body,
            key,
            token,
        })
    }
}

impl Admitted {
    /// The body as a JSON object of shape `T` (415 when it is not JSON, 400 when it does not
    /// parse, 422 when it has not that shape), and what the schema the API document publishes
    /// for it says against it, if anything: the request is then refused (see [`refuse_if`]).
    pub(crate) fn checked<T: serde::de::DeserializeOwned>(
        &self,
        s: &AppState,
        body: Body<'_>,
    ) -> Result<(T, Option<String>), ApiError> {
        let value: Json = parse_json(&self.headers, &self.body)?;
        let complaint = self.complaint(s, body, &value)?;
        match serde_json::from_value(value) {
            Ok(t) => Ok((t, complaint)),
            Err(e) => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_fields",
                complaint.unwrap_or_else(|| format!("the body does not fit: {e}")),
            )),
        }
    }

    /// What the schema the API document publishes for `body` says against `value`.
    pub(crate) fn complaint(
        &self,
        s: &AppState,
        body: Body<'_>,
        value: &Json,
    ) -> Result<Option<String>, ApiError> {
        let rules = s.core.rules();
        let plan = &rules.ready.plan;
        let bodies = s
            .bodies
            .get(&s.vocabulary(plan), rules.version)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e))?;
        Ok(bodies.check(plan, body, value).err())
    }

    /// Whether it says it is JSON.
    pub(crate) fn is_json(&self) -> bool {
        is_json(&self.headers)
    }

    /// Who the request acts as, naming `by` (see [`Key::acting`]): 403 when its token may not
    /// act for that person.
    pub(crate) fn acting(&self, by: Option<String>) -> Result<Acting, ApiError> {
        self.token
            .acting(by)
            .map_err(|m| ApiError::new(StatusCode::FORBIDDEN, "acts_as", m))
    }

    /// `op` as this request's, done as `acting`: whose token it came through is kept with it.
    pub(crate) fn sent(&self, op: Op, acting: Acting) -> Op {
        op.sent(Sender {
            via: acting.via,
            ..Sender::default()
        })
    }

    /// A new deal as this request's: who made it is kept with it (the token's person, or an
    /// integration token's name).
    pub(crate) fn made(&self, op: Op) -> Op {
        let acting = self.token.acting(None).unwrap_or_default();
        op.sent(Sender {
            via: acting.by.or(acting.via),
            ..Sender::default()
        })
    }
}

/// The body, within the size limit.
fn body_of(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "the request body is larger than the server takes",
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "bad_body", e.body_text())
        }
    })
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim())
        .is_some_and(|v| v == "application/json" || v.ends_with("+json"))
}

fn parse_json<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, ApiError> {
    if !is_json(headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_json",
            "send the body as JSON (`Content-Type: application/json`)",
        ));
    }
    let value: Json = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    serde_json::from_value(value).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_fields",
            format!("the body does not fit: {e}"),
        )
    })
}

/// The idempotency key of a POST, with what the request was. Keys are the token's own: the
/// same key sent with another token is another request.
fn idem(
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
    body: &Bytes,
    token: &Key,
) -> Result<Option<Idem>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    // Exactly what the document says: 1 to 200 visible characters or spaces, not all spaces
    // (no tab, nothing outside ASCII).
    let raw = v.as_bytes();
    let fits = (1..=200).contains(&raw.len())
        && raw.iter().all(|b| (0x20..=0x7e).contains(b))
        && raw.iter().any(|&b| b != b' ');
    let key = std::str::from_utf8(raw).unwrap_or("").trim();
    if !fits {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_idempotency_key",
            "the Idempotency-Key must be 1 to 200 visible characters",
        ));
    }
    let text = String::from_utf8_lossy(body);
    Ok(Some(Idem {
        key: token.scoped(key),
        fingerprint: format!("{method} {} {}", uri.path(), digest(&text, None)),
    }))
}
