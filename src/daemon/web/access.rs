//! The pages' door: the viewer found from the token in the `Authorization` header or the
//! session cookie (or the way to the login page), the finished page with its cookies, and the snapshot
//! of the rules and team a page draws from.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::Markup;

use super::LANG_COOKIE;
use super::i18n::Lang;
use super::layout::error_page;
use super::session::{self, cookie};
use super::viewer::Viewer;
use crate::daemon::config::Scope;
use crate::daemon::rules::Rules;
use crate::daemon::state::AppState;
use crate::store::StoreError;
use crate::team::Team;

/// A page's query as the viewer needs it: the language asked for (`?lang=`), and the pairs the
/// language links keep — all but the parts that are said once: the language, the outcome of
/// the last form, a wrong login.
pub(super) fn page_query(raw: Option<&str>) -> (Option<String>, Vec<(String, String)>) {
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

pub(super) fn language(
    s: &AppState,
    headers: &HeaderMap,
    asked: Option<&str>,
) -> (Lang, Option<Lang>) {
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

/// The viewer (by a bearer token or the session cookie), or the way to the login page.
pub(super) async fn viewer(
    s: &AppState,
    headers: &HeaderMap,
    path: &str,
    query: Option<&str>,
) -> Result<Viewer, Box<Response>> {
    let (asked, kept) = page_query(query);
    let (lang, set_lang) = language(s, headers, asked.as_deref());
    let caller = match session::caller(s, headers).await {
        Ok(c) => c,
        Err(_) => return Err(Box::new(store_down(lang))),
    };
    match caller {
        Some(c) if c.key.scope == Scope::Intake => Err(Box::new(page_error(
            lang,
            StatusCode::FORBIDDEN,
            lang.words().forbidden,
            "intake",
        ))),
        Some(c) => Ok(Viewer {
            scope: c.key.scope,
            person: c.key.person.clone(),
            key: Some(c.key),
            csrf: c.csrf,
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
pub(super) fn html(v: &Viewer, status: StatusCode, body: Markup) -> Response {
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

pub(super) fn page_error(lang: Lang, status: StatusCode, title: &str, message: &str) -> Response {
    html(
        &Viewer::stranger(lang),
        status,
        error_page(lang, title, message),
    )
}

/// What every page draws from: the rules running now and the team. (The figures are read by
/// each page from the summaries, see `data`.)
pub(super) struct Snapshot {
    pub(super) rules: Arc<Rules>,
    pub(super) team: Team,
}

pub(super) async fn snapshot(s: &AppState) -> Result<Snapshot, StoreError> {
    let rules = s.core.rules();
    let team = s.core.store().read().await?.team().await?;
    Ok(Snapshot { rules, team })
}

pub(super) fn store_down(lang: Lang) -> Response {
    page_error(
        lang,
        StatusCode::SERVICE_UNAVAILABLE,
        "503",
        "the database did not answer; try again",
    )
}

/// The viewer and everything the page draws from, or the answer to send instead (the login
/// page, or "the database did not answer").
pub(super) async fn look(
    s: &AppState,
    headers: &HeaderMap,
    path: &str,
    query: Option<&str>,
) -> Result<(Viewer, Snapshot), Box<Response>> {
    let v = viewer(s, headers, path, query).await?;
    match snapshot(s).await {
        Ok(snap) => Ok((v, snap)),
        Err(_) => Err(Box::new(store_down(v.lang))),
    }
}
