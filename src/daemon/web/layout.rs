//! The frame of every page (navigation, languages, logging out), the page for a problem, and
//! the style sheet.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::i18n::Lang;
use super::viewer::Viewer;

/// The pages' style sheet (served at `/style.css`).
pub(super) const STYLE: &str = include_str!("style.css");

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Nav {
    Board,
    Money,
    Attention,
    Team,
    Pipeline,
    Analytics,
    Search,
    None,
}

pub(super) fn layout(v: &Viewer, title: &str, nav: Nav, refresh: bool, body: Markup) -> Markup {
    let w = v.lang.words();
    let item = |n: Nav, href: &str, label: &str| {
        html! {
            a href=(href) class=[(n == nav).then_some("active")] { (label) }
        }
    };
    html! {
        (DOCTYPE)
        html lang=(v.lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if refresh { meta http-equiv="refresh" content="30"; }
                title { (title) " · dealflow" }
                link rel="stylesheet" href="/style.css";
                script src="/tick.js" defer {}
            }
            body {
                header {
                    nav {
                        span.brand { "dealflow" }
                        (item(Nav::Board, "/", w.board))
                        (item(Nav::Money, "/money", w.money))
                        (item(Nav::Attention, "/attention", w.attention))
                        (item(Nav::Team, "/team", w.team))
                        (item(Nav::Analytics, "/analytics", w.analytics))
                        (item(Nav::Pipeline, "/pipeline", w.pipeline))
                        (item(Nav::Search, "/search", w.search))
                    }
                    div.tools {
                        a href=(v.lang_href(Lang::Ru)) class=[(v.lang == Lang::Ru).then_some("active")] { "RU" }
                        a href=(v.lang_href(Lang::En)) class=[(v.lang == Lang::En).then_some("active")] { "EN" }
                        form method="post" action="/logout" {
                            (csrf_field(v))
                            button type="submit" { (w.log_out) }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The hidden field that says a form comes from this session's own page.
pub(super) fn csrf_field(v: &Viewer) -> Markup {
    html! {
        @if let Some(t) = &v.csrf { input type="hidden" name="_csrf" value=(t); }
    }
}

/// What every form that changes a deal carries: the session's form token, and a fresh
/// idempotency key (sent twice, the form is applied once).
pub(super) fn form_fields(v: &Viewer) -> Markup {
    let key: String = (0..16)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[fastrand::usize(..36)]))
        .collect();
    html! {
        (csrf_field(v))
        input type="hidden" name="_key" value=(key);
    }
}

/// A page for a problem (404, 403, 503…).
pub(super) fn error_page(lang: Lang, title: &str, message: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head { meta charset="utf-8"; title { (title) } link rel="stylesheet" href="/style.css"; }
            body { main { h1 { (title) } p.error { (message) } p { a href="/" { "←" } } } }
        }
    }
}

pub(super) async fn style() -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        STYLE,
    )
        .into_response()
}
