//! Logging in and out: a token given once opens a session kept on the server (its id in an
//! HttpOnly, SameSite=Strict cookie); wrong tokens from one address make it wait; the way back
//! to the page asked for, and never to another site.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use super::access::{html, language, page_error, store_down};
use super::forms::{form_pairs, not_genuine};
use super::i18n::Lang;
use super::viewer::Viewer;
use super::{encode, session};
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
        set_lang,
        kept: vec![("next".to_string(), next.clone())],
        ..Viewer::stranger(lang)
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

/// A login: from this site's own page (when the browser says where it comes from), not from an
/// address that must wait after wrong tries; a right token opens a session.
pub(super) async fn login(
    State(s): State<Shared>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (lang, _) = language(&s, &headers, None);
    let says_where = headers.contains_key(header::ORIGIN) || headers.contains_key(header::REFERER);
    if says_where && !s.door.site.same_origin(&headers) {
        return not_genuine(lang);
    }
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let client = s.door.site.client(&headers, peer);
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
    let key = s.door.key(&token).filter(|k| k.scope != Scope::Intake);
    // An address that must wait is not listened to, the right token included; a right token
    // clears nothing the address earned (its holder could go on guessing others).
    if let Some(ip) = client {
        match s.door.throttle.attempt(ip, Instant::now(), key.is_none()) {
            Err(wait) => return too_many(lang, wait),
            Ok(wait) if !wait.is_zero() => {
                tracing::warn!(client = %ip, wait_s = wait.as_secs(), "wrong logins: the address waits");
            }
            Ok(_) => {}
        }
    }
    let Some(key) = key else {
        return Redirect::to(&format!("/login?wrong=1&next={}", encode(&next))).into_response();
    };
    let cookie = match session::open(&s, &key).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "a session could not be opened");
            return store_down(lang);
        }
    };
    let mut r = Redirect::to(&next).into_response();
    r.headers_mut().append(header::SET_COOKIE, cookie);
    r.headers_mut()
        .append(header::SET_COOKIE, session::old_token_cleared());
    r
}

/// 429, with when to try again.
fn too_many(lang: Lang, wait: Duration) -> Response {
    let mut r = page_error(
        lang,
        StatusCode::TOO_MANY_REQUESTS,
        "429",
        lang.words().too_many_logins,
    );
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    if let Ok(h) = HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, h);
    }
    r
}

/// A logout ends the session on the server (a form from its own page: a stranger's page
/// cannot log one out) and in the browser.
pub(super) async fn logout(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let (lang, _) = language(&s, &headers, None);
    match session::caller(&s, &headers).await {
        Ok(Some(c)) => {
            let sent = form_pairs(&body)
                .into_iter()
                .find(|(k, _)| k == "_csrf")
                .map(|(_, v)| v);
            if !session::genuine(&s, c.csrf.as_deref(), &headers, sent.as_deref()) {
                return not_genuine(lang);
            }
            if let Err(e) = session::end(&s, &headers).await {
                tracing::error!(error = %e, "a session could not be ended");
                return store_down(lang);
            }
        }
        Ok(None) => {}
        Err(_) => return store_down(lang),
    }
    let mut r = Redirect::to("/login").into_response();
    for c in session::cleared(&s) {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
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
