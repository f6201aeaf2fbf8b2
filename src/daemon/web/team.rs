//! The team: open and overdue tasks per person, hours logged this week.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use maud::{Markup, html};

use super::access::{Snapshot, html, look, store_down};
use super::data;
use super::format::hours;
use super::layout::{Nav, layout};
use super::viewer::Viewer;
use crate::daemon::state::Shared;

pub(super) async fn show(
    State(s): State<Shared>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (v, snap) = match look(&s, &headers, "/team", raw.as_deref()).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let loads = match s.core.store().read().await {
        Ok(mut tx) => {
            data::team_load(&mut tx, &snap.rules.ready.plan, &snap.team, Utc::now()).await
        }
        Err(e) => Err(e),
    };
    match loads {
        Ok(loads) => html(&v, StatusCode::OK, page(&v, &snap, &loads)),
        Err(_) => store_down(v.lang),
    }
}

/// Team: open and overdue tasks per person, hours logged this week.
pub(super) fn page(v: &Viewer, snap: &Snapshot, loads: &[data::Load]) -> Markup {
    let plan = &snap.rules.ready.plan;
    let w = v.lang.words();
    let role_title = |r: &str| {
        plan.roles
            .iter()
            .find(|x| x.name == r)
            .map_or(r.to_string(), |x| x.title.clone())
    };
    let body = html! {
        h1 { (w.team) }
        table.team {
            thead { tr {
                th { (w.person) } th { (w.roles) } th.num { (w.open_tasks) }
                th.num { (w.overdue_tasks) } th.num { (w.hours_this_week) }
            } }
            tbody {
                @for l in loads {
                    tr data-person=(l.id) {
                        td { (l.name) }
                        td { (l.roles.iter().map(|r| role_title(r)).collect::<Vec<_>>().join(", ")) }
                        td.num data-figure="open" { (l.open) }
                        td.num.warn[l.overdue > 0] data-figure="overdue" { (l.overdue) }
                        td.num data-figure="hours" { (hours(l.hours_week)) }
                    }
                }
            }
        }
    };
    layout(v, w.team, Nav::Team, false, body)
}
