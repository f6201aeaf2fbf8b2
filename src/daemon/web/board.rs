//! The board: phases and stages as columns, deals as cards; a column's first cards on the board
//! and all of them, a page at a time, on the column's own page.

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::access::{Snapshot, html, look, page_error, store_down};
use super::data;
use super::format::{deal_link, money, stage_title};
use super::layout::{Nav, layout};
use super::viewer::Viewer;
use crate::compile::Plan;
use crate::daemon::state::Shared;
use crate::store::Card;

pub(super) async fn show(
    State(s): State<Shared>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (v, snap) = match look(&s, &headers, "/", raw.as_deref()).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let plan = &snap.rules.ready.plan;
    let groups = match s.core.store().read().await {
        Ok(mut tx) => data::board(&mut tx, plan).await,
        Err(e) => Err(e),
    };
    match groups {
        Ok(groups) => html(&v, StatusCode::OK, page(&v, &snap, &groups, Utc::now())),
        Err(_) => store_down(v.lang),
    }
}

/// The board: phases and stages as columns, deals as cards.
pub(super) fn page(
    v: &Viewer,
    snap: &Snapshot,
    groups: &[(Option<usize>, Vec<data::Column>)],
    now: DateTime<Utc>,
) -> Markup {
    let plan = &snap.rules.ready.plan;
    let w = v.lang.words();
    let body = html! {
        h1 { (plan.title) }
        p.hint {
            (w.refreshed)
            @if v.may_write() { " · " a.new href="/deals/new" { "+ " (w.new_deal) } }
        }
        div.board {
            @for (phase, columns) in groups {
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
                                @for c in &col.cards {
                                    (card(v, snap, c, Some(col.stage), now))
                                }
                                @if col.count > col.cards.len() as i64 {
                                    p.more {
                                        a href=(column_link(&st.name, 0)) {
                                            "… " (w.more) " " (col.count - col.cards.len() as i64)
                                        }
                                    }
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

fn column_link(stage: &str, page: i64) -> String {
    let stage = super::encode(stage);
    if page == 0 {
        format!("/stages/{stage}")
    } else {
        format!("/stages/{stage}?page={}", page + 1)
    }
}

/// A deal's card: its title, client, money, person, how long it is where it is, its other
/// places (tracks in other stages, tracks waiting at a join) and its alerts. `column`: the
/// column it is drawn in (the others are "also").
pub(super) fn card(
    v: &Viewer,
    snap: &Snapshot,
    c: &Card,
    column: Option<usize>,
    now: DateTime<Utc>,
) -> Markup {
    let plan = &snap.rules.ready.plan;
    let w = v.lang.words();
    let here = column.map(|s| plan.stages[s].name.as_str());
    let elsewhere: Vec<&str> = c
        .stages
        .iter()
        .map(String::as_str)
        .filter(|s| Some(*s) != here)
        .collect();
    let final_here = column.is_some_and(|s| plan.stages[s].is_final);
    let person = c
        .person
        .as_deref()
        .map(|p| snap.team.member(p).map_or(p, |m| m.name.as_str()));
    html! {
        article.card data-deal=(c.id) {
            a.title href=(deal_link(&c.id)) { (c.title) }
            @if let Some(client) = &c.client { div.client { (client) } }
            div.meta {
                @if let Some(a) = c.amount { span.money { (money(plan, a, v.lang)) } }
                @if let Some(p) = person { span.person { (p) } }
                @if !c.live && !final_here { span.done { (w.finished) } }
                @else if c.live && let Some(since) = c.since {
                    span.days { (data::days(since, now)) " " (w.days_in_stage) }
                }
            }
            @if !elsewhere.is_empty() {
                div.tracks {
                    // Out of a column (a search), where it is; in one, where else it is.
                    (if column.is_some() { w.also_at } else { w.stage_word }) ": "
                    @for (i, s) in elsewhere.iter().enumerate() {
                        @if i > 0 { " & " }
                        span.track { (title_of(plan, s)) }
                    }
                }
            }
            @if !c.waiting.is_empty() {
                div.tracks.waiting {
                    (w.waits_at) ": "
                    @for (i, s) in c.waiting.iter().enumerate() {
                        @if i > 0 { " & " }
                        span.track { (title_of(plan, s)) }
                    }
                }
            }
            div.badges { (badges(plan, &c.alerts)) }
        }
    }
}

/// A stage's title by its name (the name itself when the rules no longer have it).
pub(super) fn title_of<'p>(plan: &'p Plan, name: &'p str) -> &'p str {
    plan.stage_index
        .get(name)
        .map_or(name, |&s| stage_title(plan, s))
}

/// Badges of raised alerts, by name.
pub(super) fn badges(plan: &Plan, alerts: &[String]) -> Markup {
    html! {
        @for a in alerts {
            @let title = plan.alerts.iter().find(|x| &x.name == a).map_or(a.as_str(), |x| x.title.as_str());
            span.badge data-alert=(a) { (title) }
        }
    }
}

#[derive(Deserialize, Default)]
pub(super) struct PageQuery {
    pub(super) page: Option<String>,
}

/// `?page=N` (from 1) as an index from 0.
pub(super) fn page_number(q: Option<&str>) -> i64 {
    q.and_then(|p| p.trim().parse::<i64>().ok())
        .unwrap_or(1)
        .clamp(1, 1_000_000)
        - 1
}

/// One column, every card a page at a time.
pub(super) async fn column(
    State(s): State<Shared>,
    Path(stage): Path<String>,
    Query(q): Query<PageQuery>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let here = format!("/stages/{}", super::encode(&stage));
    let (v, snap) = match look(&s, &headers, &here, raw.as_deref()).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let plan = &snap.rules.ready.plan;
    let Some(&st) = plan.stage_index.get(&stage) else {
        let w = v.lang.words();
        return page_error(v.lang, StatusCode::NOT_FOUND, "404", w.no_such_stage);
    };
    let page = page_number(q.page.as_deref());

    let read = async {
        let mut tx = s.core.store().read().await?;
        let count = tx
            .totals_under("stage/")
            .await?
            .get(&stage)
            .map_or(0, |t| t.0);
        let cards = tx
            .column_cards(
                &stage,
                plan.stages[st].is_final,
                page * data::COLUMN_PAGE,
                data::COLUMN_PAGE,
            )
            .await?;
        Ok::<_, crate::store::StoreError>((count, cards))
    };
    let Ok((count, cards)) = read.await else {
        return store_down(v.lang);
    };
    let now = Utc::now();
    let pages = (count + data::COLUMN_PAGE - 1) / data::COLUMN_PAGE;
    let body = html! {
        h1 { (plan.stages[st].title) " " span.count { (count) } }
        div.column.wide data-stage=(stage) {
            @for c in &cards { (card(&v, &snap, c, Some(st), now)) }
        }
        (pager(&v, page, pages, |p| column_link(&stage, p)))
    };
    html(
        &v,
        StatusCode::OK,
        layout(&v, &plan.stages[st].title, Nav::Board, false, body),
    )
}

/// Links to the previous and next pages of a list.
pub(super) fn pager(v: &Viewer, page: i64, pages: i64, link: impl Fn(i64) -> String) -> Markup {
    let w = v.lang.words();
    html! {
        @if pages > 1 {
            nav.pager {
                @if page > 0 { a rel="prev" href=(link(page - 1)) { (w.prev_page) } }
                span { (w.page_word) " " (page + 1) " / " (pages) }
                @if page + 1 < pages { a rel="next" href=(link(page + 1)) { (w.next_page) } }
            }
        }
    }
}
