//! Search: deals found by name, phone, email, id or title (`/search?q=`).

use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use maud::html;
use serde::Deserialize;

use super::access::{html, look, store_down};
use super::board::card;
use super::layout::{Nav, layout};
use crate::daemon::state::Shared;

/// Deals a search shows at most.
pub(super) const FOUND: i64 = 50;

#[derive(Deserialize, Default)]
pub(super) struct SearchQuery {
    q: Option<String>,
}

pub(super) async fn show(
    State(s): State<Shared>,
    Query(q): Query<SearchQuery>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (v, snap) = match look(&s, &headers, "/search", raw.as_deref()).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let query = q.q.unwrap_or_default();
    let query = query.trim();
    let found = if query.is_empty() {
        Ok(Vec::new())
    } else {
        match s.core.store().read().await {
            Ok(mut tx) => {
                tx.search_deals(query, snap.rules.ready.plan.country, FOUND)
                    .await
            }
            Err(e) => Err(e),
        }
    };
    let Ok(found) = found else {
        return store_down(v.lang);
    };
    let w = v.lang.words();
    let now = Utc::now();
    let body = html! {
        h1 { (w.search) }
        form.search method="get" action="/search" role="search" {
            label for="q" { (w.search_hint) }
            input #q type="search" name="q" value=(query) autofocus;
            button type="submit" { (w.search) }
        }
        @if !query.is_empty() && found.is_empty() {
            p.empty { (w.nothing_found) }
        }
        div.found {
            @for c in &found { (card(&v, &snap, c, None, now)) }
        }
    };
    html(
        &v,
        StatusCode::OK,
        layout(&v, w.search, Nav::Search, false, body),
    )
}
