//! A deal's time: running timers that tick, the time entries with a form to correct each, and
//! the live hours, labour cost and margin (running timers included) beside what the pipeline
//! keeps; the team's running timers.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use maud::{Markup, html};
use rust_decimal::Decimal;

use super::encode;
use super::format::{deal_link, hours, moment, money};
use super::i18n::Lang;
use super::layout::form_fields;
use super::viewer::Viewer;
use crate::engine::{self, Ctx};

/// What a deal's time is drawn from.
pub(super) struct Sheet<'a> {
    pub rules: &'a crate::daemon::rules::Rules,
    pub deal: &'a crate::engine::Deal,
    pub team: &'a crate::team::Team,
    pub dashboard: &'a crate::daemon::config::Dashboard,
    /// When the page is made (running timers count up to it).
    pub now: DateTime<Utc>,
}

/// The script that makes running timers tick (the pages read the same without it).
const TICK: &str = include_str!("tick.js");

pub(super) async fn tick() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        TICK,
    )
        .into_response()
}

/// Time since `since` as people read it (`1 ч 05 мин`), ticking in the browser.
pub(super) fn elapsed(since: DateTime<Utc>, now: DateTime<Utc>, lang: Lang) -> Markup {
    let w = lang.words();
    let minutes = (now - since).num_minutes().max(0);
    let (h, m) = (minutes / 60, minutes % 60);
    let text = if h > 0 {
        format!("{h} {} {m:02} {}", w.hour_unit, w.minute_unit)
    } else {
        format!("{m:02} {}", w.minute_unit)
    };
    html! {
        span.ticking data-since=(since.to_rfc3339()) data-h=(w.hour_unit) data-m=(w.minute_unit) { (text) }
    }
}

/// A running timer as a task's status: whose, since when, how long.
pub(super) fn running(v: &Viewer, d: &Sheet<'_>, by: &str, since: DateTime<Utc>) -> Markup {
    let w = v.lang.words();
    let name = d.team.member(by).map_or(by, |m| m.name.as_str());
    html! {
        span.timer data-timer=(by) {
            (w.timer_runs) ": " (name) " · " (elapsed(since, d.now, v.lang))
        }
    }
}

/// The deal's time entries, each with a form to correct its hours.
pub(super) fn entries(v: &Viewer, d: &Sheet<'_>) -> Markup {
    let plan = &d.rules.ready.plan;
    let deal = d.deal;
    let w = v.lang.words();
    if deal.time_entries.is_empty() {
        return html! {};
    }
    let base = deal_link(&deal.id);
    let title = |task: &str| {
        deal.tasks
            .iter()
            .find(|t| t.id == task)
            .map_or(task.to_string(), |t| t.title.clone())
    };
    html! {
    section.time {
        h2 { (w.time_entries) }
        table {
            thead { tr {
                th { "#" } th { (w.task) } th { (w.person) } th { (w.logged_at) }
                th.num { (w.hours) } th { "" }
            } }
            tbody {
                @for (n, e) in deal.time_entries.iter().enumerate() {
                    tr data-entry=(n) {
                        td { (n) }
                        td { (e.task.as_deref().map(title).unwrap_or_default()) }
                        td { (d.team.member(&e.user).map_or(e.user.as_str(), |m| m.name.as_str())) }
                        td { (moment(e.at, plan.tz, v.lang)) }
                        td.num { (hours(e.hours)) }
                        td.actions {
                            @if v.may_write() {
                                form.log method="post" action=(format!("{base}/time/{n}")) {
                                    (form_fields(v))
                                    input type="number" name="hours" step="0.01" min="0" max="24"
                                        value=(hours(e.hours)) aria-label=(w.hours) required;
                                    button type="submit" { (w.correct) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    }
}

/// Live figures: hours with the running timers, labour cost (the configured script function,
/// or hours × rates) and margin against the amount; `None` when the amount is not mapped.
pub(super) struct Live {
    pub hours: Decimal,
    /// Timers running on the deal, and the hours they add.
    pub timers: usize,
    pub running: Decimal,
    pub cost: Option<Decimal>,
    pub margin: Option<Decimal>,
}

pub(super) fn live(d: &Sheet<'_>) -> Live {
    let plan = &d.rules.ready.plan;
    let (deal, running) = engine::counting_timers(d.deal, d.team, d.now);
    let ctx = Ctx {
        plan,
        team: d.team,
        script: d.rules.ready.script.as_ref(),
        now: d.now,
        site: None,
    };
    let amount = super::data::number(plan, &deal, &d.dashboard.amount);
    let cost = engine::labour_cost(ctx, &deal, d.dashboard.labour_cost_function.as_deref())
        .map_err(|e| tracing::warn!(deal = %deal.id, error = %e, "live labour cost"))
        .ok();
    Live {
        hours: deal.hours_spent(),
        timers: d.deal.tasks.iter().filter(|t| t.timer.is_some()).count(),
        running,
        cost: amount.and(cost),
        margin: amount.zip(cost).map(|(a, c)| a - c),
    }
}

/// The live figures as rows, marked live, beside the stored ones.
pub(super) fn live_rows(v: &Viewer, d: &Sheet<'_>, l: &Live) -> Markup {
    let plan = &d.rules.ready.plan;
    let w = v.lang.words();
    let tag = |label: &str| format!("{label} ({})", w.live_now);
    // The pipeline's label for the field, else the dashboard's own word.
    let label = |field: &str, word: &str| {
        plan.field_index
            .get(field)
            .and_then(|&i| plan.fields[i].label.clone())
            .unwrap_or_else(|| word.to_string())
    };
    html! {
        table.live title=(w.live_note) {
            tr data-live="hours" {
                th { (tag(w.hours_spent)) }
                td { (hours(l.hours)) @if l.timers > 0 { " (" (w.timer_runs) ": " (hours(l.running)) ")" } }
            }
            @if let Some(c) = l.cost {
                tr data-live="labour_cost" {
                    th { (tag(&label(&d.dashboard.labour_cost, w.labour_cost))) }
                    td { (money(plan, c, v.lang)) }
                }
            }
            @if let Some(m) = l.margin {
                tr data-live="margin" class=[m.is_sign_negative().then_some("warn")] {
                    th { (tag(&label(&d.dashboard.margin, w.margin))) }
                    td { (money(plan, m, v.lang)) }
                }
            }
        }
    }
}

/// The team's running timers, ticking.
pub(super) fn team_timers(
    v: &Viewer,
    rows: &[crate::store::RunningTimer],
    team: &crate::team::Team,
    tz: Tz,
    now: DateTime<Utc>,
) -> Markup {
    let w = v.lang.words();
    html! {
    section.timers {
        h2 { (w.running_timers) }
        @if rows.is_empty() {
            p.empty { (w.no_timers) }
        } @else {
            table {
                thead { tr { th { (w.person) } th { (w.task) } th { (w.since_word) } th.num { (w.spent) } } }
                tbody {
                    @for t in rows {
                        tr data-timer=(t.by) {
                            td { (team.member(&t.by).map_or(t.by.as_str(), |m| m.name.as_str())) }
                            td { a href=(deal_link(&t.deal)) { (t.deal_title) } " · " (t.task_title) }
                            td { (moment(t.since, tz, v.lang)) }
                            td.num { (elapsed(t.since, now, v.lang)) }
                        }
                    }
                }
            }
        }
    }
    }
}

/// A path for a time entry's correction form.
pub(super) fn entry_path(id: &str, n: usize) -> String {
    format!("/deals/{}/time/{n}", encode(id))
}
