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
    let now = Utc::now();
    let read = match s.core.store().read().await {
        Ok(mut tx) => match data::team_load(&mut tx, &snap.rules.ready.plan, &snap.team, now).await
        {
            Ok(loads) => tx.running_timers().await.map(|t| (loads, t)),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    let cap = s.core.timer_cap().unwrap_or(crate::team::Team::TIMER_CAP);
    match read {
        Ok((loads, timers)) => html(
            &v,
            StatusCode::OK,
            page(&v, &snap, &loads, &Running { timers, now, cap }),
        ),
        Err(_) => store_down(v.lang),
    }
}

/// The team's running timers, when the page is made, and how much one logs at most.
pub(super) struct Running {
    pub timers: Vec<crate::store::RunningTimer>,
    pub now: chrono::DateTime<Utc>,
    pub cap: rust_decimal::Decimal,
}

impl Running {
    /// The hours a person's running timer would log now.
    fn hours_of(&self, person: &str) -> rust_decimal::Decimal {
        self.timers
            .iter()
            .filter(|t| t.by == person)
            .map(|t| crate::engine::hours_between(t.since, self.now).min(self.cap))
            .sum()
    }
}

/// Team: open and overdue tasks per person, hours logged this week (with what a running timer
/// adds), the timers running now.
pub(super) fn page(v: &Viewer, snap: &Snapshot, loads: &[data::Load], running: &Running) -> Markup {
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
                        td.num data-figure="hours" {
                            (hours(l.hours_week))
                            @let now = running.hours_of(&l.id);
                            @if now > rust_decimal::Decimal::ZERO { " (+" (hours(now)) " " (w.timer_runs) ")" }
                        }
                    }
                }
            }
        }
        (super::work::team_timers(v, &running.timers, &snap.team, plan.tz, running.now))
    };
    layout(v, w.team, Nav::Team, false, body)
}
