//! The board: phases and stages as columns, deals as cards.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::access::{Snapshot, html, look};
use super::data;
use super::format::{alert_badges, deal_link, money, person, stage_title};
use super::layout::{Nav, layout};
use super::viewer::Viewer;
use crate::daemon::config::Dashboard;
use crate::daemon::state::Shared;
use crate::engine::Deal;

pub(super) async fn show(
    State(s): State<Shared>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (v, snap) = match look(&s, &headers, "/", raw.as_deref()).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let body = page(&v, &snap, &s.config.dashboard, Utc::now());
    html(&v, StatusCode::OK, body)
}

/// The board: phases and stages as columns, deals as cards.
pub(super) fn page(v: &Viewer, snap: &Snapshot, cfg: &Dashboard, now: DateTime<Utc>) -> Markup {
    let plan = &snap.rules.ready.plan;
    let w = v.lang.words();
    let groups = data::board(plan, &snap.deals, &cfg.amount);
    let client =
        |d: &Deal| -> Option<String> { data::field(plan, d, "client_name").map(|v| v.to_string()) };
    let body = html! {
        h1 { (plan.title) }
        p.hint { (w.refreshed) }
        div.board {
            @for (phase, columns) in &groups {
                section.phase data-phase=(phase.map_or("", |p| plan.phases[p].name.as_str())) {
                    h2 { (phase.map_or(w.other_stages, |p| plan.phases[p].title.as_str())) }
                    div.columns {
                        @for col in columns {
                            @let st = &plan.stages[col.stage];
                            div.column data-stage=(st.name) {
                                h3 {
                                    (st.title)
                                    span.count { (col.count) }
                                }
                                p.sum { (money(plan, col.money, v.lang)) }
                                @for card in &col.cards {
                                    article.card data-deal=(card.deal.id) {
                                        a.title href=(deal_link(&card.deal.id)) { (card.deal.title) }
                                        @if let Some(c) = client(card.deal) { div.client { (c) } }
                                        div.meta {
                                            @if let Some(a) = data::number(plan, card.deal, &cfg.amount) {
                                                span.money { (money(plan, a, v.lang)) }
                                            }
                                            @if let Some(p) = person(card.deal, &snap.team) { span.person { (p) } }
                                            @if !st.is_final {
                                                span.days { (data::days(card.since, now)) " " (w.days_in_stage) }
                                            }
                                        }
                                        @if !card.elsewhere.is_empty() {
                                            div.tracks {
                                                (w.also_at) ": "
                                                @for (i, s) in card.elsewhere.iter().enumerate() {
                                                    @if i > 0 { " & " }
                                                    span.track { (stage_title(plan, *s)) }
                                                }
                                            }
                                        }
                                        div.badges { (alert_badges(plan, card.deal)) }
                                    }
                                }
                                @if col.count > col.cards.len() {
                                    p.more { "… " (w.more) " " (col.count - col.cards.len()) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(v, w.board, Nav::Board, true, body)
}
