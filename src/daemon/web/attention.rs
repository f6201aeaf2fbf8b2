//! Out of control: refused rule reloads, messages that could not be delivered, alerts and
//! overdue tasks of live deals, the most urgent first, a page at a time.

use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use maud::{Markup, html};

use super::access::{Snapshot, html, look, store_down};
use super::board::{PageQuery, badges, page_number, pager, title_of};
use super::data::{self, Trouble};
use super::format::{deal_link, span_text};
use super::layout::{Nav, layout};
use super::viewer::Viewer;
use crate::daemon::state::Shared;

pub(super) async fn show(
    State(s): State<Shared>,
    Query(q): Query<PageQuery>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (v, snap) = match look(&s, &headers, "/attention", raw.as_deref()).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let refused = s
        .reloads
        .last()
        .filter(|r| !r.applied)
        .map(|r| (r.at, r.message));
    let page_no = page_number(q.page.as_deref());
    let read = async {
        let mut tx = s.core.store().read().await?;
        let (troubles, total) = data::troubles(&mut tx, refused, Utc::now(), page_no).await?;
        let refusals = tx.refusals(None, REFUSALS_SHOWN).await?;
        Ok::<_, crate::store::StoreError>((troubles, total, refusals))
    };
    match read.await {
        Ok((troubles, total, refusals)) => {
            let pages = (total + data::TROUBLES_PAGE - 1) / data::TROUBLES_PAGE;
            html(
                &v,
                StatusCode::OK,
                page(&v, &snap, &troubles, (page_no, pages), &refusals),
            )
        }
        Err(_) => store_down(v.lang),
    }
}

/// Refused inputs listed, the newest first.
const REFUSALS_SHOWN: i64 = 20;

/// Out of control: everything that needs the head of the company, the most urgent first, a page
/// (`at`: this page and how many there are) at a time.
pub(super) fn page(
    v: &Viewer,
    snap: &Snapshot,
    troubles: &[Trouble],
    at: (i64, i64),
    refusals: &[crate::store::Refusal],
) -> Markup {
    let plan = &snap.rules.ready.plan;
    let w = v.lang.words();
    let now = Utc::now();
    let name_of = |id: &Option<String>| {
        id.as_deref().map_or(String::new(), |i| {
            snap.team
                .member(i)
                .map_or(i.to_string(), |m| m.name.clone())
        })
    };
    let body = html! {
        h1 { (w.attention) }
        p.hint { (w.refreshed) }
        @if troubles.is_empty() {
            p.empty { (w.all_under_control) }
        } @else {
            table.troubles {
                thead { tr { th { (w.what) } th { (w.deal) } th { "" } } }
                tbody {
                    @for t in troubles {
                        @match t {
                            Trouble::ReloadRefused { at, message } => {
                                tr.urgent data-kind="reload_refused" {
                                    td { span.kind { (w.reload_refused) } }
                                    td { (at) }
                                    td { (message) }
                                }
                            }
                            Trouble::Undelivered(m) => {
                                tr.urgent data-kind="undelivered" data-deal=(m.deal) {
                                    td { span.kind { (w.undelivered) } }
                                    // A message of no deal (the daily digest) links nowhere.
                                    td {
                                        @if m.deal.is_empty() { "—" } @else { a href=(deal_link(&m.deal)) { (m.deal) } }
                                    }
                                    td { (m.channel) " → " (m.to) " «" (m.template) "», " (m.attempts) " " (w.attempts) ": " (m.last_error.as_deref().unwrap_or_default()) }
                                }
                            }
                            Trouble::Alert(c) => {
                                tr data-kind="alert" data-deal=(c.id) data-alert=(c.alerts.join(" ")) {
                                    td { (badges(plan, &c.alerts)) }
                                    td { a href=(deal_link(&c.id)) { (c.title) } }
                                    td {
                                        (c.stages.iter().map(|s| title_of(plan, s)).collect::<Vec<_>>().join(" & "))
                                        @if !c.waiting.is_empty() {
                                            " (" (w.waits_at) " " (c.waiting.iter().map(|s| title_of(plan, s)).collect::<Vec<_>>().join(" & ")) ")"
                                        }
                                        @if let Some(since) = c.since { ", " (data::days(since, now)) " " (w.days_in_stage) }
                                    }
                                }
                            }
                            Trouble::Overdue(o) => {
                                tr data-kind="overdue" data-deal=(o.deal) {
                                    td { span.kind { (w.overdue_task) } }
                                    td { a href=(deal_link(&o.deal)) { (o.deal_title) } }
                                    td { "«" (o.task) "» " (name_of(&o.assignee)) ", " (w.overdue_by) " " (span_text(now - o.due, v.lang)) }
                                }
                            }
                        }
                    }
                }
            }
        }
        (pager(v, at.0, at.1, |p| if p == 0 { "/attention".to_string() } else { format!("/attention?page={}", p + 1) }))
        @if !refusals.is_empty() {
            h2 { (w.refused_lately) }
            table.refusals {
                thead { tr { th { (w.what) } th { (w.deal) } th { "" } } }
                tbody {
                    @for r in refusals {
                        tr data-kind="refused_input" data-deal=(r.deal) {
                            td { (r.at.with_timezone(&plan.tz).format("%Y-%m-%d %H:%M")) " " (r.input) " " (r.name) }
                            td {
                                // A creation refused left no deal to open.
                                @if r.input == "create" && r.code != "exists" { (r.deal) }
                                @else { a href=(deal_link(&r.deal)) { (r.deal) } }
                            }
                            td {
                                (r.reason)
                                @if let Some(rule) = &r.rule { " · " code { (rule) } }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(v, w.attention, Nav::Attention, true, body)
}
