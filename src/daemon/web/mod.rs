//! The dashboard: server-rendered pages for the head of the company and the team, in Russian
//! and English, with the pipeline's own titles. Reading needs no JavaScript; the board and the
//! out-of-control page refresh themselves. The same tokens and scopes as the API: a login page
//! takes a token and keeps it in a cookie (HttpOnly, SameSite=Strict).

pub mod data;
pub mod i18n;
mod pages;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use maud::Markup;
use serde::Deserialize;

use super::Rules;
use super::api::{AppState, render_deal, scope_of};
use super::config::Scope;
use super::writer::{Idem, Op};
use crate::engine::{Deal, Input, TaskAction, Team};
use crate::store::StoreError;
use i18n::Lang;

type Shared = Arc<AppState>;

/// The cookie that keeps the token.
const TOKEN_COOKIE: &str = "dealflow_token";
/// The cookie that keeps the chosen language.
const LANG_COOKIE: &str = "dealflow_lang";

/// The pages' routes (merged into the daemon's router).
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(board))
        .route("/money", get(money))
        .route("/attention", get(attention))
        .route("/team", get(team))
        .route("/pipeline", get(pipeline))
        .route("/pipeline.svg", get(pipeline_svg))
        .route("/deals/{id}", get(deal))
        .route("/deals/{id}/events", post(send_event))
        .route("/deals/{id}/tasks/{task}/{action}", post(task_work))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/style.css", get(style))
}

/// Who is looking, in which language.
pub(crate) struct Viewer {
    scope: Scope,
    lang: Lang,
    /// A `Set-Cookie` for a language chosen by `?lang=`.
    set_lang: Option<Lang>,
    /// The page's query, less its one-shot parts: what the language links keep.
    kept: Vec<(String, String)>,
}

impl Viewer {
    fn may_write(&self) -> bool {
        self.scope == Scope::Staff
    }

    /// The link to this very page in `lang`.
    pub(crate) fn lang_href(&self, lang: Lang) -> String {
        let mut pairs: Vec<(&str, &str)> = self
            .kept
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.push(("lang", lang.code()));
        format!(
            "?{}",
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        )
    }
}

/// A page's query as the viewer needs it: the language asked for (`?lang=`), and the pairs the
/// language links keep — all but the parts that are said once: the language, the outcome of
/// the last form, a wrong login.
fn page_query(raw: Option<&str>) -> (Option<String>, Vec<(String, String)>) {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.unwrap_or_default()).unwrap_or_default();
    let asked = pairs
        .iter()
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.clone());
    let kept = pairs
        .into_iter()
        .filter(|(k, _)| !matches!(k.as_str(), "lang" | "done" | "refused" | "wrong"))
        .collect();
    (asked, kept)
}

fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

fn language(s: &AppState, headers: &HeaderMap, asked: Option<&str>) -> (Lang, Option<Lang>) {
    if let Some(l) = asked.and_then(Lang::from_code) {
        return (l, Some(l));
    }
    let chosen = cookie(headers, LANG_COOKIE)
        .and_then(Lang::from_code)
        .or_else(|| {
            s.config
                .dashboard
                .language
                .as_deref()
                .and_then(Lang::from_code)
        })
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept)
        })
        .unwrap_or(Lang::Ru);
    (chosen, None)
}

/// The viewer, or the way to the login page.
fn viewer(
    s: &AppState,
    headers: &HeaderMap,
    path: &str,
    query: Option<&str>,
) -> Result<Viewer, Box<Response>> {
    let (asked, kept) = page_query(query);
    let (lang, set_lang) = language(s, headers, asked.as_deref());
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string)
        .or_else(|| {
            cookie(headers, TOKEN_COOKIE).map(|t| {
                percent_encoding::percent_decode_str(t)
                    .decode_utf8_lossy()
                    .into_owned()
            })
        });
    match token.and_then(|t| scope_of(s, &t)) {
        Some(Scope::Intake) => Err(Box::new(page_error(
            lang,
            StatusCode::FORBIDDEN,
            lang.words().forbidden,
            "intake",
        ))),
        Some(scope) => Ok(Viewer {
            scope,
            lang,
            set_lang,
            kept,
        }),
        None => {
            // Back to this very page after the login, its query kept.
            let here = if kept.is_empty() {
                path.to_string()
            } else {
                format!(
                    "{path}?{}",
                    serde_urlencoded::to_string(&kept).unwrap_or_default()
                )
            };
            let next =
                percent_encoding::utf8_percent_encode(&here, percent_encoding::NON_ALPHANUMERIC);
            Err(Box::new(
                Redirect::to(&format!("/login?next={next}")).into_response(),
            ))
        }
    }
}

/// A finished page, with the language cookie when one was chosen.
fn html(v: &Viewer, status: StatusCode, body: Markup) -> Response {
    let mut r = (status, body).into_response();
    if let Some(l) = v.set_lang
        && let Ok(h) = HeaderValue::from_str(&format!(
            "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            l.code()
        ))
    {
        r.headers_mut().append(header::SET_COOKIE, h);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn page_error(lang: Lang, status: StatusCode, title: &str, message: &str) -> Response {
    let v = Viewer {
        scope: Scope::Read,
        lang,
        set_lang: None,
        kept: Vec::new(),
    };
    html(&v, status, pages::error_page(lang, title, message))
}

/// Everything the pages draw from: the rules, every stored deal that fits them, the team.
struct Snapshot {
    rules: Arc<Rules>,
    deals: Vec<Deal>,
    team: Team,
}

/// Deals read a page at a time.
const PAGE: i64 = 500;

async fn snapshot(s: &AppState) -> Result<Snapshot, StoreError> {
    let rules = s.core.rules();
    let mut tx = s.core.store.read().await?;
    let team = tx.team().await?;
    let mut deals = Vec::new();
    let mut after = String::new();
    loop {
        let page = tx.deal_states(&after, PAGE).await?;
        let n = page.len() as i64;
        if let Some((last, _)) = page.last() {
            after = last.clone();
        }
        // A deal in stages the running rules do not have cannot be drawn; the API names it.
        deals.extend(
            page.into_iter()
                .filter_map(|(_, l)| l.stored.decode(&rules.ready.plan).ok()),
        );
        if n < PAGE {
            break;
        }
    }
    drop(tx);
    Ok(Snapshot { rules, deals, team })
}

fn store_down(lang: Lang) -> Response {
    page_error(
        lang,
        StatusCode::SERVICE_UNAVAILABLE,
        "503",
        "the database did not answer; try again",
    )
}

/// The viewer and everything the page draws from, or the answer to send instead (the login
/// page, or "the database did not answer").
async fn look(
    s: &AppState,
    headers: &HeaderMap,
    path: &str,
    query: Option<&str>,
) -> Result<(Viewer, Snapshot), Box<Response>> {
    let v = viewer(s, headers, path, query)?;
    match snapshot(s).await {
        Ok(snap) => Ok((v, snap)),
        Err(_) => Err(Box::new(store_down(v.lang))),
    }
}

async fn board(State(s): State<Shared>, RawQuery(raw): RawQuery, headers: HeaderMap) -> Response {
    let (v, snap) = match look(&s, &headers, "/", raw.as_deref()).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let body = pages::board(&v, &snap, &s.config.dashboard, Utc::now());
    html(&v, StatusCode::OK, body)
}

#[derive(Deserialize, Default)]
struct MoneyQuery {
    days: Option<String>,
}

async fn money(
    State(s): State<Shared>,
    Query(q): Query<MoneyQuery>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (v, snap) = match look(&s, &headers, "/money", raw.as_deref()).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let days = q
        .days
        .as_deref()
        .and_then(|d| d.trim().parse::<i64>().ok())
        .unwrap_or(30)
        .clamp(1, 366);
    let body = pages::money_page(&v, &snap, &s.config.dashboard, Utc::now(), days);
    html(&v, StatusCode::OK, body)
}

async fn attention(
    State(s): State<Shared>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (v, snap) = match look(&s, &headers, "/attention", raw.as_deref()).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let dead = match s.core.store.read().await {
        Ok(mut tx) => tx.dead_messages().await.unwrap_or_default(),
        Err(_) => return store_down(v.lang),
    };
    let refused = s
        .last_reload
        .lock()
        .ok()
        .and_then(|r| r.clone())
        .filter(|r| !r.applied)
        .map(|r| (r.at, r.message));
    let now = Utc::now();
    let troubles = data::troubles(&snap.rules.ready.plan, &snap.deals, dead, refused, now);
    html(&v, StatusCode::OK, pages::attention(&v, &snap, &troubles))
}

async fn team(State(s): State<Shared>, RawQuery(raw): RawQuery, headers: HeaderMap) -> Response {
    let (v, snap) = match look(&s, &headers, "/team", raw.as_deref()).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    html(&v, StatusCode::OK, pages::team(&v, &snap, Utc::now()))
}

async fn pipeline(
    State(s): State<Shared>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let v = match viewer(&s, &headers, "/pipeline", raw.as_deref()) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let rules = s.core.rules();
    html(&v, StatusCode::OK, pages::pipeline(&v, &rules))
}

async fn pipeline_svg(State(s): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(r) = viewer(&s, &headers, "/pipeline", None) {
        return *r;
    }
    let rules = s.core.rules();
    match pipeline_picture(&rules) {
        Ok(svg) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")],
            svg,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

/// The running rules drawn as SVG.
pub(crate) fn pipeline_picture(rules: &Rules) -> Result<String, String> {
    let text = std::fs::read_to_string(&rules.file)
        .map_err(|e| format!("cannot read `{}`: {e}", rules.file.display()))?;
    let parsed = crate::parse::parse(&text);
    if !parsed.diagnostics.is_empty() {
        return Err("the rule file on disk does not parse (the running rules are older)".into());
    }
    crate::graph::render_svg(&parsed.file)
}

#[derive(Deserialize, Default)]
struct DealQuery {
    /// The outcome of the last form: `ok` or the refusal.
    done: Option<String>,
    refused: Option<String>,
}

async fn deal(
    State(s): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<DealQuery>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let path = format!("/deals/{}", encode(&id));
    let v = match viewer(&s, &headers, &path, raw.as_deref()) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let rules = s.core.rules();
    let Ok(mut tx) = s.core.store.read().await else {
        return store_down(v.lang);
    };
    let loaded = match tx.peek_deal(&id).await {
        Ok(Some(l)) => l,
        Ok(None) => {
            return page_error(
                v.lang,
                StatusCode::NOT_FOUND,
                v.lang.words().not_found,
                &format!("there is no deal `{id}`"),
            );
        }
        Err(_) => return store_down(v.lang),
    };
    let (Ok(history), Ok(team)) = (tx.history(&id).await, tx.team().await) else {
        return store_down(v.lang);
    };
    drop(tx);
    let deal = match loaded.stored.decode(&rules.ready.plan) {
        Ok(d) => d,
        Err(crate::store::Misfit::MissingStages(m)) => {
            return page_error(
                v.lang,
                StatusCode::CONFLICT,
                "409",
                &format!(
                    "deal `{id}` sits in stages the rules no longer have: {}",
                    m.join(", ")
                ),
            );
        }
    };
    let flash = match (q.done.as_deref(), q.refused) {
        (_, Some(r)) => Some(Err(r)),
        (Some(_), None) => Some(Ok(())),
        _ => None,
    };
    let body = pages::deal(
        &v,
        &pages::DealView {
            rules: &rules,
            deal: &deal,
            history: &history,
            team: &team,
            dashboard: &s.config.dashboard,
            flash,
        },
    );
    html(&v, StatusCode::OK, body)
}

/// A deal id in a path (ids like `ivan/1` hold a slash).
pub(crate) fn encode(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Form posts: the viewer must be staff; the answer is a redirect back to the deal page with
/// the outcome (post/redirect/get: a reload does not send the form again).
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
fn form_pairs(body: &Bytes) -> Vec<(String, String)> {
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

async fn send_event(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = staff(&s, &headers, &id) {
        return *r;
    }
    let pairs = form_pairs(&body);
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
    for (k, val) in &pairs {
        if k.starts_with('_') || val.trim().is_empty() {
            continue;
        }
        let value = match plan.field_index.get(k).map(|&i| &plan.fields[i].ty) {
            Some(crate::check::types::Ty::Bool) => {
                serde_json::Value::Bool(val == "true" || val == "on")
            }
            _ if val.trim_start().starts_with('[') => match serde_json::from_str(val) {
                Ok(j) => j,
                Err(e) => return back(&id, Err(format!("`{k}` is not a JSON list: {e}"))),
            },
            _ => serde_json::Value::String(val.trim().to_string()),
        };
        fields.insert(k.clone(), value);
    }
    let by = form_value(&pairs, "_by");
    let input = Input::Event {
        name,
        payload: super::view::json_fields(&fields),
        by,
    };
    let path = format!("/deals/{}/events", encode(&id));
    let key = form_key(&pairs, &path, &body);
    outcome(&s, &id, input, key).await
}

async fn task_work(
    State(s): State<Shared>,
    Path((id, task, action)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = staff(&s, &headers, &id) {
        return *r;
    }
    let pairs = form_pairs(&body);
    let get = |name: &str| form_value(&pairs, name);
    let by = get("_by");
    let path = format!("/deals/{}/tasks/{}/{action}", encode(&id), encode(&task));
    let key = form_key(&pairs, &path, &body);
    let action = match action.as_str() {
        "start" => TaskAction::Start,
        "done" => TaskAction::Done,
        "log" => {
            let hours = get("hours")
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
    let input = Input::Task { task, action, by };
    outcome(&s, &id, input, key).await
}

/// Applies the input to the deal and sends the browser back to it with what came of it.
async fn outcome(s: &AppState, id: &str, input: Input, key: Option<Idem>) -> Response {
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
        Err(m) => back(id, Err(m)),
    }
}

fn back(id: &str, result: Result<(), String>) -> Response {
    let to = match result {
        Ok(()) => format!("/deals/{}?done=1", encode(id)),
        Err(m) => format!("/deals/{}?refused={}", encode(id), encode(&m)),
    };
    Redirect::to(&to).into_response()
}

#[derive(Deserialize, Default)]
struct LoginQuery {
    next: Option<String>,
    lang: Option<String>,
    wrong: Option<String>,
}

async fn login_page(
    State(s): State<Shared>,
    Query(q): Query<LoginQuery>,
    headers: HeaderMap,
) -> Response {
    let (lang, set_lang) = language(&s, &headers, q.lang.as_deref());
    let next = safe_next(q.next.as_deref());
    let v = Viewer {
        scope: Scope::Read,
        lang,
        set_lang,
        kept: vec![("next".to_string(), next.clone())],
    };
    html(
        &v,
        if q.wrong.is_some() {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        },
        pages::login(&v, &next, q.wrong.is_some()),
    )
}

/// Only a path on this site: a login link cannot send the browser elsewhere.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

async fn login(State(s): State<Shared>, body: Bytes) -> Response {
    let pairs = form_pairs(&body);
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let token = get("token");
    let next = safe_next(Some(&get("next")));
    match scope_of(&s, &token) {
        Some(scope) if scope != Scope::Intake => {
            let mut r = Redirect::to(&next).into_response();
            if let Ok(h) = HeaderValue::from_str(&format!(
                "{TOKEN_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000",
                encode(&token)
            )) {
                r.headers_mut().append(header::SET_COOKIE, h);
            }
            r
        }
        _ => Redirect::to(&format!("/login?wrong=1&next={}", encode(&next))).into_response(),
    }
}

async fn logout() -> Response {
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("dealflow_token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

async fn style() -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        pages::STYLE,
    )
        .into_response()
}
