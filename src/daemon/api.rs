//! The HTTP API under `/api/v1`, plus `/healthz` and `/metrics`. JSON in and out; every error
//! is `{"error": {"code", "message"}}` with the message in the pipeline's words.
//!
//! Changes go through the [`Writer`] (group commit); reads go straight to the store.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Router, middleware};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use subtle::ConstantTimeEq;

use super::config::{Config, Scope};
use super::metrics::Metrics;
use super::reload::{self, ReloadReport};
use super::view::{deal_json, json_fields, team_json};
use super::writer::{Idem, Op, Writer};
use super::{Core, CoreError, Rules, Step};
use crate::engine::{Creation, Input, TaskAction};
use crate::store::{Answer, DealFilter, StoreError, digest};

/// What the handlers share.
pub struct AppState {
    /// The engine and the store.
    pub core: Arc<Core>,
    /// The write path.
    pub writer: Writer,
    /// The configuration.
    pub config: Config,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The last reload and its result.
    pub last_reload: Mutex<Option<ReloadReport>>,
    /// Serializes reloads.
    pub reloading: tokio::sync::Mutex<()>,
}

type Shared = Arc<AppState>;

/// The router.
pub fn router(state: Shared) -> Router {
    let limit = state.config.server.body_limit;
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/leads", post(create_lead))
        .route("/api/v1/deals", post(create_deal).get(list_deals))
        .route("/api/v1/deals/{id}", get(get_deal))
        .route("/api/v1/deals/{id}/events", post(send_event))
        .route("/api/v1/deals/{id}/tasks/{task}/{action}", post(task_work))
        .route("/api/v1/team", get(team))
        .route("/api/v1/rules", get(rules))
        .route("/api/v1/rules/reload", post(reload_rules))
        .merge(super::web::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state)
}

/// Counts every answer for `/metrics`.
async fn count(
    State(s): State<Shared>,
    req: axum::extract::Request,
    next: middleware::Next,
) -> Response {
    let r = next.run(req).await;
    let status = r.status();
    s.metrics
        .http(status.is_client_error() || status.is_server_error());
    r
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
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
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
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

fn json_answer(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Who may call what.
#[derive(Clone, Copy, PartialEq)]
enum Need {
    Read,
    Write,
    Intake,
}

/// Checks the bearer token (compared in constant time against every configured token) and
/// its scope.
fn authorize(s: &AppState, headers: &HeaderMap, need: Need) -> Result<Scope, ApiError> {
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
    let Some(scope) = scope_of(s, given) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the token is not valid",
        ));
    };
    let ok = match need {
        Need::Read => matches!(scope, Scope::Read | Scope::Staff),
        Need::Write => scope == Scope::Staff,
        Need::Intake => matches!(scope, Scope::Intake | Scope::Staff),
    };
    if ok {
        Ok(scope)
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "a `{}` token may not do this",
                match scope {
                    Scope::Intake => "intake",
                    Scope::Staff => "staff",
                    Scope::Read => "read",
                }
            ),
        ))
    }
}

/// The scope of a token, if it is one of the configuration's.
pub(crate) fn scope_of(s: &AppState, token: &str) -> Option<Scope> {
    let given = token.trim().as_bytes();
    let mut found = None;
    for t in &s.config.tokens {
        // Every token is compared, found or not: the time does not tell which one matched.
        if bool::from(t.token.as_bytes().ct_eq(given)) {
            found = Some(t.scope);
        }
    }
    found
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

/// A JSON object body into `T`: 415 when it is not JSON, 400 when it does not parse, 422 when
/// its fields are wrong.
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

/// The idempotency key of a POST, with what the request was.
fn idem(
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
    body: &Bytes,
) -> Result<Option<Idem>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = v.to_str().unwrap_or("").trim();
    if key.is_empty() || key.len() > 200 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_idempotency_key",
            "the Idempotency-Key must be 1 to 200 visible characters",
        ));
    }
    let text = String::from_utf8_lossy(body);
    Ok(Some(Idem {
        key: key.to_string(),
        fingerprint: format!("{method} {} {}", uri.path(), digest(&text, None)),
    }))
}

/// The first checks of every POST, in this order: the token and its scope, the body within
/// the size limit, the idempotency key.
fn admit(
    s: &AppState,
    need: Need,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Bytes, Option<Idem>), ApiError> {
    authorize(s, headers, need)?;
    let body = body_of(body)?;
    let key = idem(headers, method, uri, &body)?;
    Ok((body, key))
}

/// Runs an operation through the writer and sends its answer.
async fn submit(
    s: &AppState,
    op: Op,
    key: Option<Idem>,
    render: super::writer::Render,
) -> Result<Response, ApiError> {
    let a = s
        .writer
        .submit(op, key, render)
        .await
        .map_err(|m| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m))?;
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
        Err(CoreError::Store(_)) => error_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the database did not answer; try again",
        ),
    }
}

fn render_created(rules: &Rules, r: &Result<Step, CoreError>) -> Answer {
    match r {
        Ok(Step::Applied { deal, revision, .. }) => answer(
            StatusCode::CREATED,
            json!({"id": &*deal.id, "deal": deal_json(&rules.ready.plan, deal, *revision)}),
        ),
        other => refusal(other),
    }
}

pub(crate) fn render_deal(rules: &Rules, r: &Result<Step, CoreError>) -> Answer {
    match r {
        Ok(Step::Applied { deal, revision, .. }) => answer(
            StatusCode::OK,
            deal_json(&rules.ready.plan, deal, *revision),
        ),
        other => refusal(other),
    }
}

/// A new deal id: the date, then random letters (`d-20260302-k3j9x2`).
fn new_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let tail: String = (0..8)
        .map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char)
        .collect();
    format!("d-{}-{tail}", chrono::Utc::now().format("%Y%m%d"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDeal {
    #[serde(default)]
    id: Option<String>,
    title: String,
    #[serde(default)]
    stage: Option<StageList>,
    #[serde(default)]
    fields: serde_json::Map<String, Json>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StageList {
    One(String),
    Many(Vec<String>),
}

async fn create_deal(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (body, key) = admit(&s, Need::Write, &method, &uri, &headers, body)?;
    let d: NewDeal = parse_json(&headers, &body)?;
    let id = match d.id {
        Some(id) => {
            check_id(&id)?;
            id
        }
        None => new_id(),
    };
    let req = Creation {
        id,
        title: d.title,
        stages: match d.stage {
            None => Vec::new(),
            Some(StageList::One(s)) => vec![s],
            Some(StageList::Many(v)) => v,
        },
        fields: json_fields(&d.fields),
    };
    submit(&s, Op::Create(req), key, render_created).await
}

fn check_id(id: &str) -> Result<(), ApiError> {
    let ok = !id.is_empty()
        && id.len() <= 100
        && id
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_id",
            "a deal id is 1 to 100 letters, digits, `-`, `_`, `.` or `/`",
        ))
    }
}

/// A website form (form-encoded) or the same as JSON: names mapped to fields by
/// `[intake.fields]`; names that are fields of the pipeline go as they are; others are ignored
/// (buttons, spam traps).
async fn create_lead(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (body, key) = admit(&s, Need::Intake, &method, &uri, &headers, body)?;
    let form: BTreeMap<String, Json> = if is_json(&headers) {
        parse_json(&headers, &body)?
    } else {
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !ct.starts_with("application/x-www-form-urlencoded") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "not_a_form",
                "send the lead as a form (application/x-www-form-urlencoded) or as JSON",
            ));
        }
        let pairs = form_pairs(&body)?;
        pairs
            .into_iter()
            .map(|(k, v)| (k, Json::String(v)))
            .collect()
    };
    let rules = s.core.rules();
    let plan = &rules.ready.plan;
    let mut fields = serde_json::Map::new();
    for (name, v) in &form {
        let field = s
            .config
            .intake
            .fields
            .get(name)
            .cloned()
            .or_else(|| plan.field_index.contains_key(name).then(|| name.clone()));
        if let Some(f) = field {
            // An empty form input is no value.
            if v.as_str() != Some("") {
                fields.insert(f, v.clone());
            }
        }
    }
    let title = s
        .config
        .intake
        .title
        .as_ref()
        .and_then(|t| form.get(t))
        .or_else(|| fields.get("client_name"))
        .and_then(Json::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| "Lead".to_string());
    let req = Creation {
        id: new_id(),
        title,
        stages: Vec::new(),
        fields: json_fields(&fields),
    };
    submit(&s, Op::Create(req), key, render_created).await
}

fn form_pairs(body: &Bytes) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_bytes(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_form",
            format!("the form does not read: {e}"),
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventBody {
    name: String,
    #[serde(default)]
    fields: serde_json::Map<String, Json>,
    #[serde(default)]
    by: Option<String>,
}

async fn send_event(
    State(s): State<Shared>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (body, key) = admit(&s, Need::Write, &method, &uri, &headers, body)?;
    let e: EventBody = parse_json(&headers, &body)?;
    let input = Input::Event {
        name: e.name,
        payload: json_fields(&e.fields),
        by: e.by,
    };
    submit(&s, Op::Apply { deal: id, input }, key, render_deal).await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TaskBody {
    #[serde(default)]
    hours: Option<Json>,
    #[serde(default)]
    by: Option<String>,
}

async fn task_work(
    State(s): State<Shared>,
    Path((id, task, action)): Path<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (body, key) = admit(&s, Need::Write, &method, &uri, &headers, body)?;
    let b: TaskBody = if body.is_empty() {
        TaskBody::default()
    } else {
        parse_json(&headers, &body)?
    };
    let action = match action.as_str() {
        "start" => TaskAction::Start,
        "done" => TaskAction::Done,
        "log" => {
            let hours = b
                .hours
                .as_ref()
                .and_then(|h| match h {
                    Json::Number(n) => n.to_string().parse::<rust_decimal::Decimal>().ok(),
                    Json::String(t) => t.trim().parse().ok(),
                    _ => None,
                })
                .filter(|h| *h > rust_decimal::Decimal::ZERO)
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "bad_hours",
                        "`hours` must be a positive number",
                    )
                })?;
            TaskAction::Log(hours)
        }
        other => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "no_such_action",
                format!("tasks can be `start`ed, `done` or `log`ged, not `{other}`"),
            ));
        }
    };
    let input = Input::Task {
        task,
        action,
        by: b.by,
    };
    submit(&s, Op::Apply { deal: id, input }, key, render_deal).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    stage: Option<String>,
    phase: Option<String>,
    alert: Option<String>,
    person: Option<String>,
    live: Option<bool>,
    after: Option<String>,
    limit: Option<i64>,
}

async fn list_deals(
    State(s): State<Shared>,
    headers: HeaderMap,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&s, &headers, Need::Read)?;
    let Query(q) =
        q.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", e.body_text()))?;
    // An empty filter (`?stage=`, as forms send them) filters nothing.
    let some = |v: Option<String>| v.filter(|x| !x.trim().is_empty());
    let q = ListQuery {
        stage: some(q.stage),
        phase: some(q.phase),
        alert: some(q.alert),
        person: some(q.person),
        after: some(q.after),
        ..q
    };
    let rules = s.core.rules();
    let plan = &rules.ready.plan;
    let unknown = |what: &str, v: &Option<String>, known: bool| -> Result<(), ApiError> {
        match v {
            Some(name) if !known => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_name",
                format!("the pipeline has no {what} `{name}`"),
            )),
            _ => Ok(()),
        }
    };
    unknown(
        "stage",
        &q.stage,
        q.stage
            .as_ref()
            .is_none_or(|n| plan.stage_index.contains_key(n)),
    )?;
    unknown(
        "phase",
        &q.phase,
        q.phase
            .as_ref()
            .is_none_or(|n| plan.phases.iter().any(|p| &p.name == n)),
    )?;
    unknown(
        "alert",
        &q.alert,
        q.alert
            .as_ref()
            .is_none_or(|n| plan.alerts.iter().any(|a| &a.name == n)),
    )?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let filter = DealFilter {
        stage: q.stage,
        phase: q.phase,
        alert: q.alert,
        person: q.person,
        live: q.live,
        after: q.after,
        limit,
    };
    let mut tx = s.core.store.read().await?;
    let rows = tx.list_deals(&filter).await?;
    drop(tx);
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id.clone()))
        .flatten();
    Ok(json_answer(
        StatusCode::OK,
        json!({"deals": rows, "next": next}).to_string(),
    ))
}

async fn get_deal(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&s, &headers, Need::Read)?;
    let rules = s.core.rules();
    let mut tx = s.core.store.read().await?;
    let Some(loaded) = tx.peek_deal(&id).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_deal",
            format!("there is no deal `{id}`"),
        ));
    };
    let history = tx.history(&id).await?;
    let events = tx.events(&id).await?;
    drop(tx);
    let deal = loaded.stored.decode(&rules.ready.plan).map_err(
        |super::super::store::Misfit::MissingStages(m)| {
            ApiError::new(
                StatusCode::CONFLICT,
                "misfit",
                format!(
                    "deal `{id}` sits in stages the rules no longer have: {}",
                    m.join(", ")
                ),
            )
        },
    )?;
    let mut j = deal_json(&rules.ready.plan, &deal, loaded.revision);
    let entries: Vec<Json> = history
        .into_iter()
        .map(|(_, cause, rule, version, record)| {
            let mut e: serde_json::Map<String, Json> =
                serde_json::from_str(&record).unwrap_or_default();
            e.insert("cause".into(), json!(cause));
            e.insert("rule".into(), json!(rule));
            e.insert("version".into(), json!(version));
            Json::Object(e)
        })
        .collect();
    let events: Vec<Json> = events
        .into_iter()
        .map(|(name, payload, by, at, revision)| {
            json!({
                "name": name,
                "fields": serde_json::from_str::<Json>(&payload).unwrap_or(Json::Null),
                "by": by,
                "at": at,
                "revision": revision,
            })
        })
        .collect();
    if let Json::Object(m) = &mut j {
        m.insert("history".into(), Json::Array(entries));
        m.insert("events".into(), Json::Array(events));
    }
    Ok(json_answer(StatusCode::OK, j.to_string()))
}

async fn team(State(s): State<Shared>, headers: HeaderMap) -> Result<Response, ApiError> {
    authorize(&s, &headers, Need::Read)?;
    let mut tx = s.core.store.read().await?;
    let team = tx.team().await?;
    drop(tx);
    Ok(json_answer(StatusCode::OK, team_json(&team).to_string()))
}

async fn rules(State(s): State<Shared>, headers: HeaderMap) -> Result<Response, ApiError> {
    authorize(&s, &headers, Need::Read)?;
    Ok(json_answer(
        StatusCode::OK,
        rules_json(&s).await?.to_string(),
    ))
}

async fn rules_json(s: &AppState) -> Result<Json, ApiError> {
    let rules = s.core.rules();
    let mut tx = s.core.store.read().await?;
    let versions = tx.rules_versions().await?;
    drop(tx);
    let current = versions.iter().find(|v| v.version == rules.version);
    let last = s
        .last_reload
        .lock()
        .map(|g| g.clone())
        .unwrap_or_else(|p| p.into_inner().clone());
    Ok(json!({
        "version": rules.version,
        "file": rules.file.display().to_string(),
        "digest": current.map(|v| v.digest.clone()),
        "loaded_at": current.map(|v| crate::store::stamp(v.loaded_at)),
        "versions": versions.len(),
        "last_reload": last,
    }))
}

async fn reload_rules(State(s): State<Shared>, headers: HeaderMap) -> Result<Response, ApiError> {
    authorize(&s, &headers, Need::Write)?;
    let report = reload::reload(&s).await;
    let status = if report.applied {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(json_answer(
        status,
        serde_json::to_string(&report).unwrap_or_default(),
    ))
}

async fn healthz(State(s): State<Shared>) -> Response {
    let ok = match s.core.store.read().await {
        Ok(mut tx) => tx.count(crate::store::Table::Deals).await.is_ok(),
        Err(_) => false,
    };
    if ok {
        json_answer(StatusCode::OK, json!({"status": "ok"}).to_string())
    } else {
        json_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "database unavailable"}).to_string(),
        )
    }
}

async fn metrics(State(s): State<Shared>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
        .into_response()
}

async fn openapi(State(s): State<Shared>) -> Response {
    let rules = s.core.rules();
    json_answer(
        StatusCode::OK,
        super::openapi::document(&rules.ready.plan).to_string(),
    )
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("there is nothing at `{}`", uri.path()),
    )
}
