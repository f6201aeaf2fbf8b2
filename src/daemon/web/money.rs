//! Money: deals whose planned end falls in the window, expected revenue by week, paid vs
//! invoiced.

use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{NaiveDate, Utc};
use maud::{Markup, html};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::access::{Snapshot, html, look, store_down};
use super::data;
use super::format::{date, deal_link, money, short_money};
use super::i18n::Lang;
use super::layout::{Nav, layout};
use super::viewer::Viewer;
use crate::compile::Plan;
use crate::daemon::state::Shared;

#[derive(Deserialize, Default)]
pub(super) struct MoneyQuery {
    days: Option<String>,
}

pub(super) async fn show(
    State(s): State<Shared>,
    Query(q): Query<MoneyQuery>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (v, snap) = match look(&s, &headers, "/money", raw.as_deref()).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let days = q
        .days
        .as_deref()
        .and_then(|d| d.trim().parse::<i64>().ok())
        .unwrap_or(30)
        .clamp(1, 366);
    let plan = &snap.rules.ready.plan;
    let today = Utc::now().with_timezone(&plan.tz).date_naive();
    let m = match s.core.store().read().await {
        Ok(mut tx) => data::money(&mut tx, today, days, 12).await,
        Err(e) => Err(e),
    };
    match m {
        Ok(m) => html(&v, StatusCode::OK, page(&v, &snap, &m, days)),
        Err(_) => store_down(v.lang),
    }
}

/// Money: what closes soon, expected revenue by week, paid vs invoiced.
pub(super) fn page(v: &Viewer, snap: &Snapshot, m: &data::Money, days: i64) -> Markup {
    let plan = &snap.rules.ready.plan;
    let w = v.lang.words();
    let body = html! {
        h1 { (w.money) }
        section {
            h2 { (w.closing_soon) }
            form.inline method="get" action="/money" {
                label for="days" { (w.within_days) }
                input #days type="number" name="days" min="1" max="366" value=(days);
                button type="submit" { (w.show) }
            }
            @if m.closing.is_empty() {
                p.empty { (w.nothing_closing) }
            } @else {
                table.closing {
                    thead { tr { th { (w.deal) } th { (w.planned_end) } th.num { (w.amount) } } }
                    tbody {
                        @for c in &m.closing {
                            tr data-deal=(c.id) {
                                td { a href=(deal_link(&c.id)) { (c.title) } }
                                td { @if let Some(end) = c.planned_end { (date(end, v.lang)) } }
                                td.num { (money(plan, c.amount.unwrap_or_default(), v.lang)) }
                            }
                        }
                    }
                    tfoot { tr {
                        th colspan="2" {
                            (w.total) " (" (m.closing_all.0) ")"
                            @if m.closing_all.0 > m.closing.len() as i64 {
                                " · " (w.more) " " (m.closing_all.0 - m.closing.len() as i64)
                            }
                        }
                        th.num data-figure="closing" { (money(plan, m.closing_all.1, v.lang)) }
                    } }
                }
            }
        }
        section {
            h2 { (w.by_week) }
            (week_chart(plan, &m.weeks, v.lang))
        }
        section.paid {
            h2 { (w.paid) " / " (w.invoiced) }
            (paid_chart(plan, m.paid, m.invoiced, v.lang))
        }
    };
    layout(v, w.money, Nav::Money, false, body)
}

pub(super) fn week_chart(plan: &Plan, weeks: &[(NaiveDate, Decimal)], lang: Lang) -> Markup {
    let w = lang.words();
    let max = weeks.iter().map(|x| x.1).max().unwrap_or_default();
    let bar_w = 56.0;
    let height = 160.0;
    let width = bar_w * weeks.len() as f64 + 20.0;
    let scale = |d: Decimal| -> f64 {
        if max.is_zero() {
            0.0
        } else {
            (d / max).to_string().parse::<f64>().unwrap_or(0.0) * (height - 40.0)
        }
    };
    html! {
        svg.chart width=(width) height=(height + 30.0) role="img" aria-label=(w.by_week) {
            title { (w.by_week) }
            @for (i, (week, sum)) in weeks.iter().enumerate() {
                @let h = scale(*sum);
                @let x = 10.0 + i as f64 * bar_w;
                g data-week=(week.to_string()) {
                    title { (w.week_of) " " (date(*week, lang)) ": " (money(plan, *sum, lang)) }
                    rect x=(x + 6.0) y=(height - h) width=(bar_w - 12.0) height=(h) class="bar" {}
                    @if !sum.is_zero() {
                        text x=(x + bar_w / 2.0) y=(height - h - 4.0) text-anchor="middle" class="label" {
                            (short_money(*sum))
                        }
                    }
                    text x=(x + bar_w / 2.0) y=(height + 16.0) text-anchor="middle" class="axis" {
                        (week.format("%d.%m"))
                    }
                }
            }
        }
    }
}

pub(super) fn paid_chart(
    plan: &Plan,
    paid: (Decimal, i64),
    invoiced: (Decimal, i64),
    lang: Lang,
) -> Markup {
    let w = lang.words();
    let total = paid.0 + invoiced.0;
    let share = |d: Decimal| -> f64 {
        if total.is_zero() {
            0.0
        } else {
            (d / total).to_string().parse::<f64>().unwrap_or(0.0)
        }
    };
    let width = 480.0;
    let p = share(paid.0) * width;
    html! {
        svg.chart width=(width) height="28" role="img" aria-label=(w.paid) {
            title { (w.paid) }
            rect x="0" y="0" width=(p) height="28" class="paid" {}
            rect x=(p) y="0" width=(width - p) height="28" class="invoiced" {}
        }
        dl.figures {
            dt { (w.paid) } dd data-figure="paid" { (money(plan, paid.0, lang)) " (" (paid.1) ")" }
            dt { (w.invoiced) } dd data-figure="invoiced" { (money(plan, invoiced.0, lang)) " (" (invoiced.1) ")" }
        }
    }
}
