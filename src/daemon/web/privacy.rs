//! The deal page's part for the client's personal data: the channels they opted out of (and
//! the buttons that record it), and erasing their personal data on request, confirmed by a
//! tick. Staff only, from the page's own forms.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::{Markup, html};

use super::encode;
use super::flash::{Said, Why};
use super::forms::{Form, back, form_value};
use super::layout::form_fields;
use super::viewer::Viewer;
use crate::daemon::privacy::{self, CHANNELS};
use crate::daemon::state::Shared;

/// The section: opt-outs, and the erasure form.
pub(super) fn section(v: &Viewer, id: &str, opted_out: &[String]) -> Markup {
    let w = v.lang.words();
    let base = format!("/deals/{}", encode(id));
    html! {
        section.privacy {
            h2 { (w.personal_data) }
            @if !opted_out.is_empty() {
                p.opted-out { (w.opted_out) ": " (opted_out.join(", ")) }
            }
            @if v.may_write() {
                div.opt-outs {
                    @for ch in CHANNELS {
                        @let out = opted_out.iter().any(|c| c == ch);
                        form method="post" action=(format!("{base}/opt-outs/{ch}/{}", if out { "in" } else { "out" })) data-channel=(ch) {
                            (form_fields(v))
                            button type="submit" { (if out { w.opt_in } else { w.opt_out }) " · " (ch) }
                        }
                    }
                }
                form.erase method="post" action=(format!("{base}/personal-data")) {
                    (form_fields(v))
                    label { input type="checkbox" name="confirm" value="yes" required; " " (w.erase_confirm) }
                    button type="submit" { (w.erase) }
                }
            }
        }
    }
}

/// `POST /deals/{id}/opt-outs/{channel}/{out|in}`.
pub(super) async fn opt_out(
    State(s): State<Shared>,
    Path((id, channel, way)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/deals/{}/opt-outs/{channel}/{way}", encode(&id));
    let form = match Form::admit(&s, &headers, &id, &path, &body).await {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let out = match way.as_str() {
        "out" => true,
        "in" => false,
        _ => return back(&id, Err(Said::OptWay.into())),
    };
    if !CHANNELS.contains(&channel.as_str()) {
        return back(&id, Err(Said::OptChannel.into()));
    }
    match privacy::opt_out(&s, &id, &channel, out, form.acting.by.as_deref()).await {
        Ok(Some(_)) => back(&id, Ok(())),
        Ok(None) => back(&id, Err(Said::NoDeal.into())),
        Err(e) => back(&id, Err(Why::Engine(e.to_string()))),
    }
}

/// `POST /deals/{id}/personal-data`: erases, when the tick says so.
pub(super) async fn erase(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/deals/{}/personal-data", encode(&id));
    let form = match Form::admit(&s, &headers, &id, &path, &body).await {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if form_value(&form.pairs, "confirm").as_deref() != Some("yes") {
        return back(&id, Err(Said::TickToConfirm.into()));
    }
    match privacy::erase(&s, &id, form.acting.clone()).await {
        Ok(Some(_)) => back(&id, Ok(())),
        Ok(None) => back(&id, Err(Said::NoDeal.into())),
        Err(e) => back(&id, Err(Why::Engine(e.to_string()))),
    }
}
