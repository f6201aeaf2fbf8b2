//! The pipeline as a picture: the running rules drawn as SVG, on a page and on its own.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, PreEscaped, html};

use super::access::{html, viewer};
use super::layout::{Nav, layout};
use super::viewer::Viewer;
use crate::daemon::rules::Rules;
use crate::daemon::state::Shared;

pub(super) async fn show(
    State(s): State<Shared>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let v = match viewer(&s, &headers, "/pipeline", raw.as_deref()).await {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let rules = s.core.rules();
    html(&v, StatusCode::OK, page(&v, &rules))
}

pub(super) async fn pipeline_svg(State(s): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(r) = viewer(&s, &headers, "/pipeline", None).await {
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
pub(super) fn pipeline_picture(rules: &Rules) -> Result<String, String> {
    let text = std::fs::read_to_string(&rules.file)
        .map_err(|e| format!("cannot read `{}`: {e}", rules.file.display()))?;
    let parsed = crate::parse::parse(&text);
    if !parsed.diagnostics.is_empty() {
        return Err("the rule file on disk does not parse (the running rules are older)".into());
    }
    crate::graph::render_svg(&parsed.file).map_err(|e| e.to_string())
}

/// The pipeline as a picture.
pub(super) fn page(v: &Viewer, rules: &Rules) -> Markup {
    let w = v.lang.words();
    let plan = &rules.ready.plan;
    let body = html! {
        h1 { (plan.title) }
        p.hint { (w.rules_version) " " (rules.version) " · " (rules.file.display()) }
        div.picture {
            @match pipeline_picture(rules) {
                Ok(svg) => (PreEscaped(svg)),
                Err(e) => p.error { (e) },
            }
        }
    };
    layout(v, w.pipeline, Nav::Pipeline, false, body)
}
