//! Logging in and out: a token given once, kept in a cookie (HttpOnly, SameSite=Strict); the
//! way back to the page asked for, and never to another site.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use super::access::{html, language};
use super::forms::form_pairs;
use super::i18n::Lang;
use super::viewer::Viewer;
use super::{TOKEN_COOKIE, encode};
use crate::daemon::config::Scope;
use crate::daemon::state::Shared;

#[derive(Deserialize, Default)]
pub(super) struct LoginQuery {
    next: Option<String>,
    lang: Option<String>,
    wrong: Option<String>,
}

pub(super) async fn page(
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
        form(&v, &next, q.wrong.is_some()),
    )
}

/// Only a path on this site: a login link cannot send the browser elsewhere. Printable ASCII
/// only (a path is sent percent-encoded): browsers drop tabs and line breaks from a URL, so
/// `/<TAB>/evil.example` would leave as `//evil.example`, and a `Location` header cannot hold
/// them. Anything else goes to the board.
pub(super) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && n.bytes().all(|b| (0x21..=0x7e).contains(&b)) =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

pub(super) async fn login(State(s): State<Shared>, body: Bytes) -> Response {
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
    match s.scope_of(&token) {
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

pub(super) async fn logout() -> Response {
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("dealflow_token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

/// The login page.
pub(super) fn form(v: &Viewer, next: &str, wrong: bool) -> Markup {
    let lang = v.lang;
    let w = lang.words();
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (w.log_in) " · dealflow" }
                link rel="stylesheet" href="/style.css";
            }
            body.login {
                main {
                    h1 { "dealflow" }
                    form method="post" action="/login" {
                        label for="token" { (w.token) }
                        input #token type="password" name="token" autocomplete="current-password" required autofocus;
                        input type="hidden" name="next" value=(next);
                        @if wrong { p.error role="alert" { (w.wrong_token) } }
                        p.hint { (w.token_hint) }
                        button type="submit" { (w.log_in) }
                    }
                    p.langs { a href=(v.lang_href(Lang::Ru)) { "RU" } " · " a href=(v.lang_href(Lang::En)) { "EN" } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_a_local_path_or_the_board() {
        for good in ["/", "/deals/ivan%2F1", "/money?days=30", "/team#x"] {
            assert_eq!(safe_next(Some(good)), good);
        }
        for bad in [
            "//evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\\evil.example",
            "https://evil.example",
            "/a b",
            "/сделки",
            "",
            "evil.example",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
