//! The dashboard: server-rendered pages for the head of the company and the team, in Russian
//! and English, with the pipeline's own titles. Reading needs no JavaScript; the board and the
//! out-of-control page refresh themselves. The same tokens and scopes as the API: a login page
//! takes a token and opens a session kept on the server (its id in an HttpOnly, SameSite=Strict
//! cookie); every form sent with it must come from this site's own page.
//!
//! One file per page (`board`, `money`, `attention`, `team`, `pipeline`, `deal`, `login`), each
//! with its handler and its markup; `viewer` says who is looking and gathers what a page draws
//! from, `layout` and `format` are what every page shares, `forms` takes the deal page's forms,
//! `data` computes the figures.

mod access;
mod analytics;
mod attention;
mod board;
mod data;
mod deal;
mod edit;
mod flash;
mod format;
mod forms;
mod history;
mod i18n;
mod layout;
mod leads;
mod login;
mod money;
mod pipeline;
mod privacy;
mod search;
mod session;
mod team;
mod viewer;
mod webhooks;
mod work;

use axum::Router;
use axum::routing::{get, post};

use crate::daemon::state::Shared;

/// Every fixed text the pages say, in Russian (`russian`) or English: what a page in the
/// other language must never show (its test reads them).
pub fn phrases(russian: bool) -> Vec<String> {
    if russian {
        i18n::Lang::Ru.phrases()
    } else {
        i18n::Lang::En.phrases()
    }
}

/// The cookie that keeps the chosen language.
const LANG_COOKIE: &str = "dealflow_lang";

/// The pages' routes (the server merges them with the API's).
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(board::show))
        .route("/stages/{stage}", get(board::column))
        .route("/search", get(search::show))
        .route("/money", get(money::show))
        .route("/analytics", get(analytics::show))
        .route("/attention", get(attention::show))
        .route("/attention/leads/{id}/deal", post(leads::make_deal))
        .route("/attention/leads/{id}/dismiss", post(leads::dismiss_lead))
        .route("/attention/checks/{id}/dismiss", post(leads::dismiss_check))
        .route("/team", get(team::show))
        .route("/pipeline", get(pipeline::show))
        .route("/pipeline.svg", get(pipeline::pipeline_svg))
        .route("/deals/new", get(edit::new_form).post(edit::create))
        .route("/deals/{id}", get(deal::show))
        .route("/deals/{id}/edit", post(edit::edit))
        .route("/deals/{id}/events", post(forms::send_event))
        .route("/deals/{id}/tasks/{task}/{action}", post(forms::task_work))
        .route("/deals/{id}/time/{entry}", post(forms::amend_time))
        .route(
            "/deals/{id}/opt-outs/{channel}/{way}",
            post(privacy::opt_out),
        )
        .route("/deals/{id}/personal-data", post(privacy::erase))
        .route("/login", get(login::page).post(login::login))
        .route("/logout", post(login::logout))
        .route("/style.css", get(layout::style))
        .route("/tick.js", get(work::tick))
        .layer(axum::middleware::map_response(
            crate::daemon::headers::guarded,
        ))
}

/// A body over `[server] body_limit`, refused before any handler read it: a short page in the
/// viewer's language for a browser (it asks for `text/html`: a dashboard form), `{"error": …}`
/// for anyone else, never the framework's plain text. (The website form answers its own, with
/// its CORS headers, as every other refusal there.)
pub(crate) async fn too_large(
    axum::extract::State(s): axum::extract::State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    let browser = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let (lang, _) = access::language(&s, req.headers(), None);
    let r = next.run(req).await;
    let answered = r
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json") || t.starts_with("text/html"));
    if r.status() != StatusCode::PAYLOAD_TOO_LARGE || answered {
        return r;
    }
    if browser {
        let w = lang.words();
        crate::daemon::headers::guarded(access::page_error(
            lang,
            StatusCode::PAYLOAD_TOO_LARGE,
            w.too_large_title,
            w.too_large,
        ))
        .await
    } else {
        crate::daemon::api::ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the request body is larger than the server takes",
        )
        .into_response()
    }
}

/// A deal id in a path (ids like `ivan/1` hold a slash).
fn encode(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}
