//! Analytics for the zones of growth (`/analytics?from=2026-01&to=2026-03`): the funnel, time in
//! stage, invoices, delivery by manager, hours, margin by manager and month, why deals are lost,
//! what the rules turned away — read from the counts the writer keeps by month, drawn as SVG.

use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{Datelike, NaiveDate, Utc};
use maud::{Markup, html};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::access::{Snapshot, html, look, store_down};
use super::format::{deal_link, money};
use super::i18n::Lang;
use super::layout::{Nav, layout};
use super::viewer::Viewer;
use crate::analytics::{Period, Report};
use crate::compile::Plan;
use crate::daemon::state::Shared;

#[derive(Deserialize, Default)]
pub(super) struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
}

/// A month as a form sends it (`2026-03`), or `None`.
fn month(s: Option<&str>) -> Option<NaiveDate> {
    let s = s?.trim();
    NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").ok()
}

pub(super) async fn show(
    State(s): State<Shared>,
    Query(q): Query<PeriodQuery>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (v, snap) = match look(&s, &headers, "/analytics", raw.as_deref()).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let plan = &snap.rules.ready.plan;
    let today = Utc::now().with_timezone(&plan.tz).date_naive();
    // The last three months by default; an empty field is open-ended.
    let (from, to) = match (q.from.as_deref(), q.to.as_deref()) {
        (None, None) => (
            today
                .with_day(1)
                .and_then(|d| d.checked_sub_months(chrono::Months::new(2))),
            Some(today),
        ),
        (f, t) => (month(f), month(t)),
    };
    let period = match (from, to) {
        (None, None) => None,
        (f, t) => Some(Period::new(
            f.unwrap_or(NaiveDate::MIN),
            t.unwrap_or(NaiveDate::MAX),
        )),
    };
    let report = match s.core.store().read().await {
        Ok(mut tx) => {
            tx.analytics(plan, s.core.mapping(), &snap.team, period, today)
                .await
        }
        Err(e) => Err(e),
    };
    match report {
        Ok(r) => {
            let shown = (
                from.map(|d| d.format("%Y-%m").to_string()),
                to.map(|d| d.format("%Y-%m").to_string()),
            );
            html(&v, StatusCode::OK, page(&v, &snap, &r, shown))
        }
        Err(_) => store_down(v.lang),
    }
}

/// A horizontal bar, `part` of the width (0 to 1).
fn bar(part: f64, class: &str) -> Markup {
    let w = (part.clamp(0.0, 1.0) * 300.0).round();
    html! {
        svg.hbar width="300" height="14" role="img" aria-hidden="true" {
            rect x="0" y="0" width=(w) height="14" class=(class) {}
        }
    }
}

fn share(a: Decimal, of: Decimal) -> f64 {
    if of.is_zero() {
        0.0
    } else {
        (a / of).to_string().parse().unwrap_or(0.0)
    }
}

fn hours(h: f64, lang: Lang) -> String {
    let (d, unit_d, unit_h) = match lang {
        Lang::Ru => (h / 24.0, "дн.", "ч"),
        Lang::En => (h / 24.0, "d", "h"),
    };
    if h >= 48.0 {
        format!("{d:.1} {unit_d}")
    } else {
        format!("{h:.1} {unit_h}")
    }
}

fn pct(p: Option<f64>) -> String {
    p.map_or("—".into(), |x| format!("{:.0} %", x * 100.0))
}

fn who(snap: &Snapshot, id: &str) -> String {
    snap.team
        .member(id)
        .map_or(id.to_string(), |m| m.name.clone())
}

fn role_title(plan: &Plan, r: &str) -> String {
    plan.roles
        .iter()
        .find(|x| x.name == r)
        .map_or(r.to_string(), |x| x.title.clone())
}

/// The analytics page.
pub(super) fn page(
    v: &Viewer,
    snap: &Snapshot,
    r: &Report,
    shown: (Option<String>, Option<String>),
) -> Markup {
    let plan = &snap.rules.ready.plan;
    let w = v.lang.words();
    let top = r.funnel.iter().map(|f| f.entered).max().unwrap_or(0).max(1) as f64;
    let longest = r
        .time_in_stage
        .iter()
        .map(|d| d.median_h)
        .fold(0.0f64, f64::max)
        .max(1.0);
    let max_hours = r
        .hours_by_person
        .iter()
        .map(|h| h.hours)
        .max()
        .unwrap_or_default();
    let body = html! {
        h1 { (w.analytics) }
        form.inline.period method="get" action="/analytics" {
            label { (w.period_from) input type="month" name="from" value=[shown.0.as_deref()]; }
            label { (w.period_to) input type="month" name="to" value=[shown.1.as_deref()]; }
            button type="submit" { (w.show) }
            " " a href="/analytics?from=&to=" { (w.all_time) }
        }
        section.funnel {
            h2 { (w.funnel) }
            @if r.funnel.is_empty() { p.empty { (w.nothing_yet) } } @else {
                table {
                    thead { tr { th { "" } th.num { (w.at_start) } th.num { (w.entered) } th.num { (w.moved_on) } th.num { (w.lost_there) } th.num { (w.at_end) } th.num { (w.conversion) } th { "" } } }
                    tbody {
                        @for f in &r.funnel {
                            tr data-stage=(f.stage) {
                                td { (f.title) }
                                td.num data-figure="at_start" { (f.at_start) }
                                td.num data-figure="entered" { (f.entered) }
                                td.num data-figure="moved_on" { (f.moved_on) }
                                td.num.warn[f.lost > 0] data-figure="lost" { (f.lost) }
                                td.num data-figure="at_end" { (f.at_end) }
                                td.num data-figure="conversion" { (pct(f.conversion)) }
                                td { (bar(f.entered as f64 / top, "bar")) }
                            }
                        }
                    }
                }
            }
        }
        section.dwell {
            h2 { (w.time_in_stage) }
            @if let Some(d) = r.time_in_stage.first() {
                p.hint { (w.longest_at) " «" (d.title) "»: " (w.median) " " (hours(d.median_h, v.lang)) }
            }
            @if !r.time_in_stage.is_empty() {
                table {
                    thead { tr { th { "" } th.num { (w.deals_word) } th.num { (w.median) } th.num { (w.p90) } th { "" } } }
                    tbody {
                        @for d in &r.time_in_stage {
                            tr data-stage=(d.stage) {
                                td { (d.title) }
                                td.num { (d.deals) }
                                td.num { (hours(d.median_h, v.lang)) }
                                td.num { (hours(d.p90_h, v.lang)) }
                                td { (bar(d.median_h / longest, "bar")) }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(i) = &r.invoices {
            section.invoices {
                h2 { (w.invoices_word) }
                dl.figures {
                    dt { (w.issued) } dd data-figure="issued" { (i.issued) }
                    dt { (w.paid_on_time) } dd data-figure="paid_on_time" { (i.paid_on_time) }
                    dt { (w.paid_late) } dd data-figure="paid_late" { (i.paid_late) }
                    dt { (w.burnt) } dd data-figure="burnt" { (i.burnt) }
                    dt { (w.reissued) } dd data-figure="reissued" { (i.reissued) }
                    dt { (w.burn_rate) } dd data-figure="burn_rate" { (pct(i.burn_rate)) }
                }
            }
        }
        @if let Some(d) = &r.delivery {
            section.delivery {
                h2 { (w.delivery) }
                @if d.is_empty() { p.empty { (w.nothing_yet) } } @else {
                    table {
                        thead { tr { th { (w.manager) } th.num { (w.on_time) } th.num { (w.late_word) } th.num { (w.days_late) } } }
                        tbody {
                            @for x in d {
                                tr data-manager=(x.manager) {
                                    td { (who(snap, &x.manager)) }
                                    td.num { (x.on_time) }
                                    td.num.warn[x.late > 0] { (x.late) }
                                    td.num { (x.days_late) }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.hours {
            h2 { (w.hours_by_person) }
            table {
                tbody {
                    @for h in &r.hours_by_person {
                        tr data-person=(h.who) {
                            td { (who(snap, &h.who)) }
                            td.num { (h.hours.normalize()) }
                            td { (bar(share(h.hours, max_hours), "bar")) }
                        }
                    }
                }
            }
            h3 { (w.hours_by_role) }
            table {
                tbody {
                    @for h in &r.hours_by_role {
                        tr { td { (role_title(plan, &h.who)) } td.num { (h.hours.normalize()) } }
                    }
                }
            }
            @if let Some(o) = &r.overruns && !o.is_empty() {
                h3 { (w.overruns) }
                table.overruns {
                    thead { tr { th { "" } th.num { (w.sold_word) } th.num { (w.spent_word) } } }
                    tbody {
                        @for x in o {
                            tr data-deal=(x.deal) {
                                td { a href=(deal_link(&x.deal)) { (x.title) } }
                                td.num { (x.sold.normalize()) }
                                td.num.warn { (x.spent.normalize()) }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(m) = &r.money {
            section.margin {
                h2 { (w.margin_by_manager) }
                table {
                    thead { tr { th { (w.manager) } th.num { (w.deals_word) } th.num { (w.revenue) } th.num { (w.margin_word) } } }
                    tbody {
                        @for x in &m.by_manager {
                            tr data-manager=(x.key) {
                                td { (who(snap, &x.key)) }
                                td.num { (x.deals) }
                                td.num { (money(plan, x.revenue, v.lang)) }
                                td.num data-figure="margin" { (money(plan, x.margin, v.lang)) }
                            }
                        }
                    }
                }
                h2 { (w.margin_by_month) }
                (month_chart(plan, &m.by_month, v.lang))
            }
        }
        section.lost {
            h2 { (w.lost_reasons) }
            @if r.lost_reasons.is_empty() { p.empty { (w.nothing_yet) } } @else {
                table {
                    thead { tr { th { (w.reason) } th.num { (w.deals_word) } th.num { (w.amount) } } }
                    tbody {
                        @for l in &r.lost_reasons {
                            tr { td { (l.reason) } td.num { (l.deals) } td.num { (money(plan, l.amount, v.lang)) } }
                        }
                    }
                }
            }
        }
        section.refused {
            h2 { (w.refusals_word) }
            @if r.refusals.is_empty() { p.empty { (w.nothing_yet) } } @else {
                table {
                    thead { tr { th { (w.what_in) } th { (w.code_word) } th.num { (w.count_word) } } }
                    tbody {
                        @for x in &r.refusals {
                            tr { td { (refused_what(&x.input, v)) } td { (refused_why(&x.code, v)) } td.num { (x.count) } }
                        }
                    }
                }
            }
        }
        @if !r.notes.is_empty() {
            section.notes {
                h2 { (w.left_out) }
                ul { @for n in &r.notes { li { (n) } } }
            }
        }
    };
    layout(v, w.analytics, Nav::Analytics, false, body)
}

/// Revenue and margin by month, as pairs of bars.
fn month_chart(plan: &Plan, rows: &[crate::analytics::MarginRow], lang: Lang) -> Markup {
    let w = lang.words();
    let top = rows.iter().map(|r| r.revenue).max().unwrap_or_default();
    let (col, height) = (64.0, 140.0);
    let width = col * rows.len().max(1) as f64 + 20.0;
    html! {
        svg.chart width=(width) height=(height + 30.0) role="img" aria-label=(w.margin_by_month) {
            title { (w.margin_by_month) }
            @for (i, r) in rows.iter().enumerate() {
                @let x = 10.0 + i as f64 * col;
                @let hr = share(r.revenue, top) * (height - 20.0);
                @let hm = share(r.margin.max(Decimal::ZERO), top) * (height - 20.0);
                g data-month=(r.key) {
                    title { (r.key) ": " (w.revenue) " " (money(plan, r.revenue, lang)) ", " (w.margin_word) " " (money(plan, r.margin, lang)) }
                    rect x=(x + 6.0) y=(height - hr) width="24" height=(hr) class="bar" {}
                    rect x=(x + 32.0) y=(height - hm) width="24" height=(hm) class="paid" {}
                    text x=(x + col / 2.0) y=(height + 16.0) text-anchor="middle" class="axis" { (r.key) }
                }
            }
        }
    }
}

/// A refused input's kind in the page's words (`event NAME` keeps the pipeline's name).
fn refused_what(input: &str, v: &Viewer) -> String {
    let w = v.lang.words();
    let (kind, rest) = input.split_once(' ').unwrap_or((input, ""));
    let word = match kind {
        "create" => w.input_create,
        "event" => w.input_event,
        "task" => w.input_task,
        "edit" => w.input_edit,
        "time" => w.input_time,
        _ => return input.to_string(),
    };
    format!("{word} {rest}").trim().to_string()
}

/// Why an input was refused, in the page's words.
fn refused_why(code: &str, v: &Viewer) -> &'static str {
    let w = v.lang.words();
    match code {
        "not_now" => w.why_not_now,
        "step_failed" => w.why_failed,
        "exists" => w.why_exists,
        "misfit" => w.why_misfit,
        _ => w.why_refused,
    }
}
