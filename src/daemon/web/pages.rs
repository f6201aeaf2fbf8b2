//! The pages as HTML (maud escapes every value it is given).

use std::fmt::Write;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use rust_decimal::{Decimal, RoundingStrategy};

use super::data::{self, Trouble};
use super::i18n::{Lang, Words};
use super::{Snapshot, Viewer, encode};
use crate::check::types::Ty;
use crate::compile::{PayloadType, Plan, Slot};
use crate::daemon::Rules;
use crate::daemon::config::Dashboard;
use crate::engine::{Deal, Team, TrackState};
use crate::value::Value;

/// The pages' style sheet (served at `/style.css`).
pub const STYLE: &str = include_str!("style.css");

#[derive(Clone, Copy, PartialEq)]
enum Nav {
    Board,
    Money,
    Attention,
    Team,
    Pipeline,
    None,
}

fn layout(v: &Viewer, title: &str, nav: Nav, refresh: bool, body: Markup) -> Markup {
    let w = v.lang.words();
    let item = |n: Nav, href: &str, label: &str| {
        html! {
            a href=(href) class=[(n == nav).then_some("active")] { (label) }
        }
    };
    html! {
        (DOCTYPE)
        html lang=(v.lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if refresh { meta http-equiv="refresh" content="30"; }
                title { (title) " · dealflow" }
                link rel="stylesheet" href="/style.css";
            }
            body {
                header {
                    nav {
                        span.brand { "dealflow" }
                        (item(Nav::Board, "/", w.board))
                        (item(Nav::Money, "/money", w.money))
                        (item(Nav::Attention, "/attention", w.attention))
                        (item(Nav::Team, "/team", w.team))
                        (item(Nav::Pipeline, "/pipeline", w.pipeline))
                    }
                    div.tools {
                        a href=(v.lang_href(Lang::Ru)) class=[(v.lang == Lang::Ru).then_some("active")] { "RU" }
                        a href=(v.lang_href(Lang::En)) class=[(v.lang == Lang::En).then_some("active")] { "EN" }
                        form method="post" action="/logout" {
                            button type="submit" { (w.log_out) }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A page for a problem (404, 403, 503…).
pub fn error_page(lang: Lang, title: &str, message: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head { meta charset="utf-8"; title { (title) } link rel="stylesheet" href="/style.css"; }
            body { main { h1 { (title) } p.error { (message) } p { a href="/" { "←" } } } }
        }
    }
}

/// The login page.
pub fn login(v: &Viewer, next: &str, wrong: bool) -> Markup {
    let lang = v.lang;
    let w = lang.words();
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (w.log_in) " · dealflow" }
                link rel="stylesheet" href="/style.css";
            }
            body.login {
                main {
                    h1 { "dealflow" }
                    form method="post" action="/login" {
                        label for="token" { (w.token) }
                        input #token type="password" name="token" autocomplete="current-password" required autofocus;
                        input type="hidden" name="next" value=(next);
                        @if wrong { p.error role="alert" { (w.wrong_token) } }
                        p.hint { (w.token_hint) }
                        button type="submit" { (w.log_in) }
                    }
                    p.langs { a href=(v.lang_href(Lang::Ru)) { "RU" } " · " a href=(v.lang_href(Lang::En)) { "EN" } }
                }
            }
        }
    }
}

/// Money as people write it: `190 000 ₽`, `1 500,50 ₽` (Russian), `190,000 ₽` (English).
pub fn money(plan: &Plan, d: Decimal, lang: Lang) -> String {
    let (group, point) = match lang {
        Lang::Ru => (' ', ','),
        Lang::En => (',', '.'),
    };
    let d = d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    let negative = d.is_sign_negative() && !d.is_zero();
    let abs = d.abs();
    let whole = abs.trunc().to_string();
    let cents = ((abs - abs.trunc()) * Decimal::from(100)).round();
    let mut out = String::new();
    if negative {
        out.push('−');
    }
    let n = whole.len();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (n - i).is_multiple_of(3) {
            out.push(group);
        }
        out.push(c);
    }
    if !cents.is_zero() {
        let _ = write!(out, "{point}{cents:0>2}");
    }
    let symbol = match plan.currency.as_str() {
        "RUB" => "₽",
        "USD" => "$",
        "EUR" => "€",
        "GBP" => "£",
        other => other,
    };
    let _ = write!(out, " {symbol}");
    out
}

fn date(d: NaiveDate, lang: Lang) -> String {
    match lang {
        Lang::Ru => d.format("%d.%m.%Y").to_string(),
        Lang::En => d.format("%Y-%m-%d").to_string(),
    }
}

fn moment(t: DateTime<Utc>, tz: Tz, lang: Lang) -> String {
    let l = t.with_timezone(&tz);
    match lang {
        Lang::Ru => l.format("%d.%m.%Y %H:%M").to_string(),
        Lang::En => l.format("%Y-%m-%d %H:%M").to_string(),
    }
}

fn hours(h: Decimal) -> String {
    half_up(h, 2).to_string()
}

/// A field's value for people.
fn value(plan: &Plan, ty: Option<&Ty>, v: &Value, lang: Lang) -> String {
    let w = lang.words();
    match (ty, v) {
        (Some(Ty::Money), v) if v.as_decimal().is_some() => {
            money(plan, v.as_decimal().unwrap_or_default(), lang)
        }
        (_, Value::Bool(b)) => match (lang, b) {
            (Lang::Ru, true) => "да".into(),
            (Lang::Ru, false) => "нет".into(),
            (Lang::En, true) => "yes".into(),
            (Lang::En, false) => "no".into(),
        },
        (_, Value::Date(d)) => date(*d, lang),
        (_, Value::DateTime(t)) => moment(*t, plan.tz, lang),
        (_, Value::Decimal(d)) => d.normalize().to_string(),
        (_, Value::List(items)) if items.is_empty() => w.no_value.into(),
        (_, other) => other.to_string(),
    }
}

fn stage_title(plan: &Plan, s: usize) -> &str {
    plan.stages.get(s).map_or("?", |st| st.title.as_str())
}

fn field_label(plan: &Plan, name: &str) -> String {
    plan.field_index
        .get(name)
        .and_then(|&i| plan.fields[i].label.clone())
        .unwrap_or_else(|| name.to_string())
}

fn alert_badges(plan: &Plan, deal: &Deal) -> Markup {
    html! {
        @for (a, raised) in deal.alerts.iter().enumerate() {
            @if *raised && a < plan.alerts.len() {
                span.badge data-alert=(plan.alerts[a].name) { (plan.alerts[a].title) }
            }
        }
    }
}

/// The person shown on a card: whoever holds the first filled role slot.
fn person<'d>(deal: &'d Deal, team: &'d Team) -> Option<&'d str> {
    let id = deal.slots.iter().flatten().next()?;
    Some(team.member(id).map_or(id.as_str(), |m| m.name.as_str()))
}

fn deal_link(id: &str) -> String {
    format!("/deals/{}", encode(id))
}

/// The board: phases and stages as columns, deals as cards.
pub fn board(v: &Viewer, snap: &Snapshot, cfg: &Dashboard, now: DateTime<Utc>) -> Markup {
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

/// Money: what closes soon, expected revenue by week, paid vs invoiced.
pub fn money_page(
    v: &Viewer,
    snap: &Snapshot,
    cfg: &Dashboard,
    now: DateTime<Utc>,
    days: i64,
) -> Markup {
    let plan = &snap.rules.ready.plan;
    let w = v.lang.words();
    let today = now.with_timezone(&plan.tz).date_naive();
    let m = data::money(plan, &snap.deals, cfg, today, days, 12);
    let total: Decimal = m.closing.iter().map(|c| c.2).sum();
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
                        @for (deal, end, amount) in &m.closing {
                            tr data-deal=(deal.id) {
                                td { a href=(deal_link(&deal.id)) { (deal.title) } }
                                td { (date(*end, v.lang)) }
                                td.num { (money(plan, *amount, v.lang)) }
                            }
                        }
                    }
                    tfoot { tr { th colspan="2" { (w.total) } th.num { (money(plan, total, v.lang)) } } }
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

fn week_chart(plan: &Plan, weeks: &[(NaiveDate, Decimal)], lang: Lang) -> Markup {
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

/// `190k`, `1.2M`: a bar's label.
fn short_money(d: Decimal) -> String {
    let thousand = Decimal::from(1000);
    let million = Decimal::from(1_000_000);
    if d.abs() >= million {
        format!("{}M", half_up(d / million, 1))
    } else if d.abs() >= thousand {
        format!("{}k", half_up(d / thousand, 0))
    } else {
        half_up(d, 0).to_string()
    }
}

/// Rounded the way people round (half away from zero), trailing zeros dropped.
fn half_up(d: Decimal, places: u32) -> Decimal {
    d.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero)
        .normalize()
}

fn paid_chart(
    plan: &Plan,
    paid: (Decimal, usize),
    invoiced: (Decimal, usize),
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
            rect x="0" y="0" width=(p) height="28" class="paid" {}
            rect x=(p) y="0" width=(width - p) height="28" class="invoiced" {}
        }
        dl.figures {
            dt { (w.paid) } dd data-figure="paid" { (money(plan, paid.0, lang)) " (" (paid.1) ")" }
            dt { (w.invoiced) } dd data-figure="invoiced" { (money(plan, invoiced.0, lang)) " (" (invoiced.1) ")" }
        }
    }
}

/// Out of control: everything that needs the head of the company, the most urgent first.
pub fn attention(v: &Viewer, snap: &Snapshot, troubles: &[Trouble]) -> Markup {
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
    };
    layout(v, w.attention, Nav::Attention, true, body)
}

fn span_text(d: chrono::Duration, lang: Lang) -> String {
    let (days, hours) = (d.num_days(), d.num_hours() % 24);
    match lang {
        Lang::Ru if days > 0 => format!("{days} дн. {hours} ч"),
        Lang::Ru => format!("{} ч {} мин", d.num_hours(), d.num_minutes() % 60),
        Lang::En if days > 0 => format!("{days} d {hours} h"),
        Lang::En => format!("{} h {} min", d.num_hours(), d.num_minutes() % 60),
    }
}

/// Team: open and overdue tasks per person, hours logged this week.
pub fn team(v: &Viewer, snap: &Snapshot, now: DateTime<Utc>) -> Markup {
    let plan = &snap.rules.ready.plan;
    let w = v.lang.words();
    let loads = data::team_load(plan, &snap.team, &snap.deals, now);
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
                @for l in &loads {
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

/// The pipeline as a picture.
pub fn pipeline(v: &Viewer, rules: &Rules) -> Markup {
    let w = v.lang.words();
    let plan = &rules.ready.plan;
    let body = html! {
        h1 { (plan.title) }
        p.hint { (w.rules_version) " " (rules.version) " · " (rules.file.display()) }
        div.picture {
            @match super::pipeline_picture(rules) {
                Ok(svg) => (PreEscaped(svg)),
                Err(e) => p.error { (e) },
            }
        }
    };
    layout(v, w.pipeline, Nav::Pipeline, false, body)
}

/// What the deal page draws from.
pub struct DealView<'a> {
    pub rules: &'a Rules,
    pub deal: &'a Deal,
    /// (kind, cause, rule, rules version, record JSON), oldest first.
    pub history: &'a [(String, String, Option<String>, i64, String)],
    pub team: &'a Team,
    pub dashboard: &'a Dashboard,
    /// The outcome of the form just sent.
    pub flash: Option<Result<(), String>>,
}

/// A deal: fields, stages, timeline with reasons, tasks, hours and margin, and the forms for
/// the events its stages accept and for work on its tasks.
pub fn deal(v: &Viewer, d: &DealView<'_>) -> Markup {
    let plan = &d.rules.ready.plan;
    let deal = d.deal;
    let w = v.lang.words();
    let key = || -> String {
        (0..16)
            .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[fastrand::usize(..36)]))
            .collect()
    };
    let base = deal_link(&deal.id);
    let events: Vec<usize> = plan
        .events
        .iter()
        .enumerate()
        .filter(|(e, _)| {
            deal.tracks.iter().any(|t| {
                t.state == TrackState::Active
                    && plan.stages.get(t.stage).is_some_and(|s| s.handles(*e))
            })
        })
        .map(|(e, _)| e)
        .collect();
    let body = html! {
        p.crumbs { a href="/" { (w.board) } " › " (deal.id) }
        h1 data-deal=(deal.id) { (deal.title) }
        @if let Some(flash) = &d.flash {
            @match flash {
                Ok(()) => p.flash.ok role="status" { (w.applied) },
                Err(m) => p.flash.error role="alert" { (w.refused) ": " (m) },
            }
        }
        @if let Some(p) = &deal.parent {
            p { (w.parent) ": " a href=(deal_link(p)) { (p) } }
        }
        section.stages {
            h2 { (w.stages) }
            ul {
                @for t in &deal.tracks {
                    li data-stage=(plan.stages.get(t.stage).map_or("", |s| s.name.as_str())) {
                        strong { (stage_title(plan, t.stage)) }
                        " — " (w.since) " " (moment(t.entered_at, plan.tz, v.lang))
                        @if t.state == TrackState::Ended { " (" (w.finished) ")" }
                    }
                }
            }
            div.badges { (alert_badges(plan, deal)) }
        }
        div.two {
            section.fields {
                h2 { (w.fields) }
                table {
                    @for (i, f) in plan.fields.iter().enumerate() {
                        @if let Some(Some(val)) = deal.values.get(i) {
                            tr data-field=(f.name) {
                                th { (f.label.as_deref().unwrap_or(&f.name)) }
                                td { (value(plan, Some(&f.ty), val, v.lang)) }
                            }
                        }
                    }
                    @for (r, role) in plan.roles.iter().enumerate() {
                        @if let Some(Some(p)) = deal.slots.get(r) {
                            tr data-role=(role.name) {
                                th { (role.title) }
                                td { (d.team.member(p).map_or(p.as_str(), |m| m.name.as_str())) }
                            }
                        }
                    }
                }
            }
            section.figures {
                h2 { (w.margin) }
                (hours_chart(plan, deal, d.dashboard, v.lang))
            }
        }
        section.tasks {
            h2 { (w.tasks) }
            table {
                thead { tr {
                    th { (w.task) } th { (w.assignee) } th { (w.due) }
                    th.num { (w.estimate) } th.num { (w.spent) } th { (w.worked) } th { "" } th { "" }
                } }
                tbody {
                    @for t in deal.tasks.iter() {
                        tr data-task=(t.id) class=[t.done_at.is_some().then_some("done")] {
                            td { (t.title) }
                            td { (t.assignee.as_deref().map(|a| d.team.member(a).map_or(a, |m| m.name.as_str())).unwrap_or(w.no_value)) }
                            td { (t.due.map(|x| moment(x, plan.tz, v.lang)).unwrap_or_else(|| w.no_value.into())) }
                            td.num { (t.estimate_h.map(hours).unwrap_or_else(|| w.no_value.into())) }
                            td.num.warn[t.estimate_h.is_some_and(|e| t.hours > e)] { (hours(t.hours)) }
                            td.worked { (worked(deal, d.team, &t.id)) }
                            td {
                                @if t.done_at.is_some() { (w.done) }
                                @else if t.started_at.is_some() { (w.started) }
                                @else { (w.open) }
                            }
                            td.actions {
                                @if v.may_write() && t.done_at.is_none() {
                                    @if t.started_at.is_none() {
                                        form method="post" action=(format!("{base}/tasks/{}/start", encode(&t.id))) {
                                            input type="hidden" name="_key" value=(key());
                                            button type="submit" { (w.start) }
                                        }
                                    }
                                    form method="post" action=(format!("{base}/tasks/{}/done", encode(&t.id))) {
                                        input type="hidden" name="_key" value=(key());
                                        button type="submit" { (w.finish) }
                                    }
                                    form.log method="post" action=(format!("{base}/tasks/{}/log", encode(&t.id))) {
                                        input type="hidden" name="_key" value=(key());
                                        input type="number" name="hours" step="0.25" min="0.25" placeholder=(w.hours) aria-label=(w.hours) required;
                                        (person_select(d.team, t.assignee.as_deref(), w))
                                        button type="submit" { (w.log_time) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.events {
            h2 { (w.events) }
            @if !v.may_write() {
                p.hint { (w.read_only) }
            } @else if events.is_empty() {
                p.hint { (w.no_events) }
            } @else {
                @for e in &events {
                    @let ev = &plan.events[*e];
                    form.event method="post" action=(format!("{base}/events")) data-event=(ev.name) {
                        input type="hidden" name="_key" value=(key());
                        input type="hidden" name="_event" value=(ev.name);
                        h3 { (ev.name) }
                        @for slot in &ev.sets {
                            @match slot {
                                Slot::Field(f) => {
                                    @let fd = &plan.fields[*f];
                                    (input_for(&fd.name, fd.label.as_deref().unwrap_or(&fd.name), &fd.ty, deal.values.get(*f).and_then(|x| x.as_ref()), plan.tz))
                                }
                                Slot::Role(r) => {
                                    @let role = &plan.roles[*r];
                                    label { (role.title)
                                        select name=(role.name) {
                                            option value="" { "" }
                                            @for m in d.team.members.iter().filter(|m| m.roles.contains(&role.name)) {
                                                option value=(m.id) { (m.name) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        @for (name, ty) in &ev.payload {
                            @match ty {
                                PayloadType::Scalar(t) => (input_for(name, &field_label(plan, name), t, None, plan.tz)),
                                PayloadType::List(cols) => {
                                    label { (field_label(plan, name)) " (" (w.json_hint) ": "
                                        (cols.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>().join(", ")) ")"
                                        textarea name=(name) rows="4" {}
                                    }
                                }
                            }
                        }
                        label { (w.who) (person_select(d.team, None, w)) }
                        button type="submit" { (w.send) }
                    }
                }
            }
        }
        section.history {
            h2 { (w.history) }
            ol.timeline {
                @for (kind, cause, rule, version, record) in d.history {
                    @let r: serde_json::Value = serde_json::from_str(record).unwrap_or_default();
                    li data-kind=(kind) {
                        span.at { (history_time(&r, v.lang)) }
                        span.what { (describe(plan, kind, &r, v.lang)) }
                        span.why {
                            @if !cause.is_empty() { (w.cause) ": " (cause) }
                            @if let Some(rule) = rule { " · " (w.rule) " " code { (rule) } }
                            " · " (w.version) " " (version)
                        }
                    }
                }
            }
        }
    };
    layout(v, &deal.title, Nav::None, false, body)
}

/// Who logged time on a task and how much: `Катя 12, Дима 3`.
fn worked(deal: &Deal, team: &Team, task: &str) -> String {
    let mut by: Vec<(String, Decimal)> = Vec::new();
    for e in deal
        .time_entries
        .iter()
        .filter(|e| e.task.as_deref() == Some(task))
    {
        match by.iter_mut().find(|(u, _)| *u == e.user) {
            Some((_, h)) => *h += e.hours,
            None => by.push((e.user.clone(), e.hours)),
        }
    }
    by.iter()
        .map(|(u, h)| {
            let name = team.member(u).map_or(u.as_str(), |m| m.name.as_str());
            format!("{name} {}", hours(*h))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn person_select(team: &Team, chosen: Option<&str>, w: &Words) -> Markup {
    html! {
        select name="_by" aria-label=(w.who) {
            option value="" { "" }
            @for m in &team.members {
                option value=(m.id) selected[chosen == Some(m.id.as_str())] { (m.name) }
            }
        }
    }
}

/// An input for a value of a type, filled with the current value.
fn input_for(name: &str, label: &str, ty: &Ty, current: Option<&Value>, tz: Tz) -> Markup {
    let (kind, step) = match ty {
        Ty::DateTime => ("datetime-local", None),
        Ty::Date => ("date", None),
        Ty::Time => ("time", None),
        Ty::Int => ("number", Some("1")),
        Ty::Decimal | Ty::Money => ("number", Some("any")),
        Ty::Email => ("email", None),
        Ty::Phone => ("tel", None),
        _ => ("text", None),
    };
    let now = current.map(|v| match v {
        Value::DateTime(t) => t.with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string(),
        Value::Date(d) => d.format("%Y-%m-%d").to_string(),
        other => other.to_string(),
    });
    html! {
        label {
            (label)
            @if matches!(ty, Ty::Bool) {
                input type="checkbox" name=(name) value="true" checked[matches!(current, Some(Value::Bool(true)))];
            } @else {
                input type=(kind) name=(name) step=[step] value=[now];
            }
        }
    }
}

fn history_time(r: &serde_json::Value, lang: Lang) -> String {
    r["at"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| match lang {
            Lang::Ru => t.format("%d.%m.%Y %H:%M").to_string(),
            Lang::En => t.format("%Y-%m-%d %H:%M").to_string(),
        })
        .unwrap_or_default()
}

/// One history entry in plain words.
fn describe(plan: &Plan, kind: &str, r: &serde_json::Value, lang: Lang) -> String {
    let ru = lang == Lang::Ru;
    let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
    let stage = |v: &serde_json::Value| -> String {
        let one = |n: &str| {
            plan.stage_index
                .get(n)
                .map_or(n.to_string(), |&i| plan.stages[i].title.clone())
        };
        match v {
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str())
                .map(one)
                .collect::<Vec<_>>()
                .join(" & "),
            serde_json::Value::String(x) => one(x),
            _ => String::new(),
        }
    };
    let alert = || {
        let n = s("alert");
        plan.alerts
            .iter()
            .find(|a| a.name == n)
            .map_or(n, |a| a.title.clone())
    };
    let value = match &r["value"] {
        serde_json::Value::String(x) => x.clone(),
        serde_json::Value::Null => "—".into(),
        other => other.to_string(),
    };
    match (kind, ru) {
        ("deal_created", true) => format!("Сделка создана: {}", stage(&r["stage"])),
        ("deal_created", false) => format!("Deal created: {}", stage(&r["stage"])),
        ("stage_entered", true) => format!("▶ Этап «{}»", stage(&r["stage"])),
        ("stage_entered", false) => format!("▶ Enters «{}»", stage(&r["stage"])),
        ("stage_left", true) => format!("◀ Уходит с этапа «{}»", stage(&r["stage"])),
        ("stage_left", false) => format!("◀ Leaves «{}»", stage(&r["stage"])),
        ("stage_skipped", true) => format!("↷ Пропускает «{}»", stage(&r["stage"])),
        ("stage_skipped", false) => format!("↷ Skips «{}»", stage(&r["stage"])),
        ("track_waiting", true) => format!("⧖ Ждёт остальные ветки в «{}»", stage(&r["stage"])),
        ("track_waiting", false) => {
            format!("⧖ Waits for the other tracks at «{}»", stage(&r["stage"]))
        }
        ("field_set", _) => format!("{} = {value}", field_label(plan, &s("field"))),
        ("notification", _) => format!(
            "✉ {} → {}: «{}»",
            s("channel"),
            s("to"),
            r["subject"].as_str().unwrap_or(&s("text"))
        ),
        ("notification_skipped", true) => {
            format!("✉ не отправлено ({}): {}", s("channel"), s("reason"))
        }
        ("notification_skipped", false) => {
            format!("✉ not sent ({}): {}", s("channel"), s("reason"))
        }
        ("task_created", true) => format!("☐ Задача «{}» → {}", s("title"), s("assignee")),
        ("task_created", false) => format!("☐ Task «{}» → {}", s("title"), s("assignee")),
        ("task_started", true) => format!("Задача {} начата", s("task")),
        ("task_started", false) => format!("Task {} started", s("task")),
        ("task_done", true) => format!("☑ Задача {} готова", s("task")),
        ("task_done", false) => format!("☑ Task {} done", s("task")),
        ("time_logged", true) => format!("⏱ {} ч ({})", r["hours"], s("by")),
        ("time_logged", false) => format!("⏱ {} h ({})", r["hours"], s("by")),
        ("timer_set", true) => format!("⏰ Таймер на {}", s("fires_at")),
        ("timer_set", false) => format!("⏰ Timer for {}", s("fires_at")),
        ("timer_fired", true) => "⏰ Сработал таймер".into(),
        ("timer_fired", false) => "⏰ Timer fired".into(),
        ("alert_raised", true) => format!("⚠ Тревога: {}", alert()),
        ("alert_raised", false) => format!("⚠ Alert: {}", alert()),
        ("alert_cleared", true) => format!("✓ Тревога снята: {}", alert()),
        ("alert_cleared", false) => format!("✓ Alert cleared: {}", alert()),
        ("event_applied", true) => format!("Событие {}", s("event")),
        ("event_applied", false) => format!("Event {}", s("event")),
        ("event_refused", true) => format!("✗ Событие {} не принято: {}", s("event"), s("error")),
        ("event_refused", false) => format!("✗ Event {} refused: {}", s("event"), s("error")),
        ("step_failed", true) => format!("✗ Шаг не удался: {}", s("error")),
        ("step_failed", false) => format!("✗ Step failed: {}", s("error")),
        (other, _) => other.replace('_', " "),
    }
}

/// Hours sold vs spent and amount vs labour cost vs margin, as bars.
fn hours_chart(plan: &Plan, deal: &Deal, cfg: &Dashboard, lang: Lang) -> Markup {
    let w = lang.words();
    let sold = data::number(plan, deal, &cfg.sold_hours);
    let spent = deal.hours_spent();
    let amount = data::number(plan, deal, &cfg.amount);
    let cost = data::number(plan, deal, "labour_cost");
    let margin = data::number(plan, deal, &cfg.margin);
    let bar = |label: &str, figure: &str, text: String, part: f64, class: &str| {
        html! {
            div.bar data-figure=(figure) {
                span.label { (label) }
                svg width="220" height="14" {
                    rect x="0" y="0" width=(220.0 * part.clamp(0.0, 1.0)) height="14" class=(class) {}
                }
                span.value { (text) }
            }
        }
    };
    let ratio = |a: Decimal, b: Decimal| -> f64 {
        if b.is_zero() {
            0.0
        } else {
            (a / b).to_string().parse::<f64>().unwrap_or(0.0)
        }
    };
    let hours_max = sold.unwrap_or_default().max(spent);
    let money_max = amount.unwrap_or_default().max(cost.unwrap_or_default());
    html! {
        div.bars {
            @if let Some(s) = sold {
                (bar(w.hours_sold, "sold_hours", hours(s), ratio(s, hours_max), "sold"))
            }
            (bar(w.hours_spent, "hours_spent", hours(spent), ratio(spent, hours_max),
                if sold.is_some_and(|s| spent > s) { "over" } else { "spent" }))
            @if let Some(a) = amount {
                (bar(&field_label(plan, &cfg.amount), "amount", money(plan, a, lang), ratio(a, money_max), "sold"))
            }
            @if let Some(c) = cost {
                (bar(w.labour_cost, "labour_cost", money(plan, c, lang), ratio(c, money_max), "spent"))
            }
            @if let Some(m) = margin {
                (bar(w.margin, "margin", money(plan, m, lang), ratio(m.abs(), money_max),
                    if m.is_sign_negative() { "over" } else { "margin" }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_written_as_people_write_it() {
        let flow = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/web-studio.flow");
        let ready = crate::load::Loaded::read(&flow)
            .expect("readable")
            .ready()
            .expect("valid");
        let plan = &ready.plan;
        let d = |s: &str| s.parse::<Decimal>().expect("a decimal");
        assert_eq!(money(plan, d("190000"), Lang::Ru), "190 000 ₽");
        assert_eq!(money(plan, d("190000"), Lang::En), "190,000 ₽");
        assert_eq!(money(plan, d("1500.5"), Lang::Ru), "1 500,50 ₽");
        assert_eq!(money(plan, d("1500.05"), Lang::En), "1,500.05 ₽");
        assert_eq!(money(plan, d("-200"), Lang::Ru), "−200 ₽");
        assert_eq!(money(plan, d("0"), Lang::Ru), "0 ₽");
        assert_eq!(money(plan, d("999.999"), Lang::Ru), "1 000 ₽");
        assert_eq!(short_money(d("190000")), "190k");
        assert_eq!(short_money(d("1250000")), "1.3M");
    }
}
