//! Out of control: refused rule reloads, messages that could not be delivered, alerts and
//! overdue tasks of live deals, the most urgent first.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use maud::{Markup, html};

use super::access::{Snapshot, html, look, store_down};
use super::data::{self, Trouble};
use super::format::{deal_link, span_text, stage_title};
use super::layout::{Nav, layout};
use super::viewer::Viewer;
use crate::daemon::state::Shared;

pub(super) async fn show(
    State(s): State<Shared>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (v, snap) = match look(&s, &headers, "/attention", raw.as_deref()).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let (dead, refusals) = match s.core.store().read().await {
        Ok(mut tx) => (
            tx.dead_messages().await.unwrap_or_default(),
            tx.refusals(None, REFUSALS_SHOWN).await.unwrap_or_default(),
        ),
        Err(_) => return store_down(v.lang),
    };
    let refused = s
        .reloads
        .last()
        .filter(|r| !r.applied)
        .map(|r| (r.at, r.message));
    let now = Utc::now();
    let troubles = data::troubles(&snap.rules.ready.plan, &snap.deals, dead, refused, now);
    html(&v, StatusCode::OK, page(&v, &snap, &troubles, &refusals))
}

/// Refused inputs listed, the newest first.
const REFUSALS_SHOWN: i64 = 20;

/// Out of control: everything that needs the head of the company, the most urgent first.
pub(super) fn page(
    v: &Viewer,
    snap: &Snapshot,
    troubles: &[Trouble],
    refusals: &[crate::store::Refusal],
) -> Markup {
    let plan = &snap.rules.ready.plan;
    let w = v.lang.words();
    let title_of = |id: &str| {
        snap.deals
            .iter()
            .find(|d| &*d.id == id)
            .map_or(id.to_string(), |d| d.title.to_string())
    };
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
                            Trouble::Undelivered { deal, channel, to, template, attempts, error } => {
                                tr.urgent data-kind="undelivered" data-deal=(deal) {
                                    td { span.kind { (w.undelivered) } }
                                    td { a href=(deal_link(deal)) { (title_of(deal)) } }
                                    td { (channel) " → " (to) " «" (template) "», " (attempts) " " (w.attempts) ": " (error) }
                                }
                            }
                            Trouble::Alert { deal, alert, stages, stuck_days } => {
                                tr data-kind="alert" data-deal=(deal) data-alert=(plan.alerts[*alert].name) {
                                    td { span.badge { (plan.alerts[*alert].title) } }
                                    td { a href=(deal_link(deal)) { (title_of(deal)) } }
                                    td {
                                        (stages.iter().map(|s| stage_title(plan, *s)).collect::<Vec<_>>().join(" & "))
                                        @if let Some(d) = stuck_days { ", " (d) " " (w.days_in_stage) }
                                    }
                                }
                            }
                            Trouble::Overdue { deal, task, assignee, late } => {
                                tr data-kind="overdue" data-deal=(deal) {
                                    td { span.kind { (w.overdue_task) } }
                                    td { a href=(deal_link(deal)) { (title_of(deal)) } }
                                    td { "«" (task) "» " (name_of(assignee)) ", " (w.overdue_by) " " (span_text(*late, v.lang)) }
                                }
                            }
                        }
                    }
                }
            }
        }
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
