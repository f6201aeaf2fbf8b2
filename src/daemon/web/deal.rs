//! A deal: fields, stages, tasks with estimate vs hours, hours and margin as bars, a form for
//! each event its stages accept and for work on its tasks, and its history with the reason for
//! each step.

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono_tz::Tz;
use maud::{Markup, html};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::access::{html, page_error, store_down, viewer};
use super::data;
use super::encode;
use super::format::{
    alert_badges, deal_link, field_label, hours, moment, money, stage_title, value,
};
use super::history::history;
use super::i18n::{Lang, Words};
use super::layout::{Nav, form_fields, layout};
use super::viewer::Viewer;
use crate::compile::{PayloadType, Plan, Slot};
use crate::daemon::config::Dashboard;
use crate::daemon::rules::Rules;
use crate::daemon::state::Shared;
use crate::engine::{Deal, TrackState};
use crate::team::Team;
use crate::types::Ty;
use crate::value::Value;

#[derive(Deserialize, Default)]
pub(super) struct DealQuery {
    /// The outcome of the last form: `ok`, a refusal the pages made (its code), or the
    /// engine's.
    done: Option<String>,
    why: Option<String>,
    refused: Option<String>,
    /// The seal of `refused` (see `flash::seal`).
    seal: Option<String>,
}

pub(super) async fn show(
    State(s): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<DealQuery>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let path = format!("/deals/{}", encode(&id));
    let v = match viewer(&s, &headers, &path, raw.as_deref()).await {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let rules = s.core.rules();
    let Ok(mut tx) = s.core.store().read().await else {
        return store_down(v.lang);
    };
    let read = match crate::explain::Read::from(&mut tx, &id).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return page_error(
                v.lang,
                StatusCode::NOT_FOUND,
                v.lang.words().not_found,
                v.lang.words().no_deal,
            );
        }
        Err(_) => return store_down(v.lang),
    };
    let Some(loaded) = &read.stored else {
        return page_error(
            v.lang,
            StatusCode::NOT_FOUND,
            v.lang.words().not_found,
            &format!("there is no deal `{id}`"),
        );
    };
    let Ok(mut team) = tx.team().await else {
        return store_down(v.lang);
    };
    team.timer_cap = s.core.timer_cap();
    let Ok(opted_out) = tx.opt_outs(&id).await else {
        return store_down(v.lang);
    };
    let Ok(deliveries) = tx.deliveries_of(&id, 50).await else {
        return store_down(v.lang);
    };
    let Ok(checks) = tx.checks_of(&id).await else {
        return store_down(v.lang);
    };
    drop(tx);
    let deal = match loaded.stored.decode(&rules.ready.plan) {
        Ok(d) => d,
        Err(crate::store::Misfit::MissingStages(m)) => {
            return page_error(
                v.lang,
                StatusCode::CONFLICT,
                "409",
                &format!(
                    "deal `{id}` sits in stages the rules no longer have: {}",
                    m.join(", ")
                ),
            );
        }
    };
    let said = q.why.as_deref().and_then(super::flash::Said::of);
    // Only a reason this daemon sent here, sealed, is shown.
    let refused = q
        .refused
        .filter(|r| super::flash::sealed(&id, r, q.seal.as_deref().unwrap_or("")));
    let flash = match (q.done.as_deref(), said, refused) {
        (_, Some(s), _) => Some(Err(super::flash::Why::Said(s))),
        (_, None, Some(r)) => Some(Err(super::flash::Why::Engine(r))),
        (Some(_), None, None) => Some(Ok(())),
        _ => None,
    };
    let story = read.explain(&rules.ready.plan, &id, v.lang == super::i18n::Lang::Ru);
    let body = page(
        &v,
        &DealView {
            rules: &rules,
            deal: &deal,
            story: &story,
            team: &team,
            dashboard: &s.config.dashboard,
            flash,
            opted_out: &opted_out,
            deliveries: &deliveries,
            checks: &checks,
            now: chrono::Utc::now(),
        },
    );
    html(&v, StatusCode::OK, body)
}

/// What the deal page draws from.
pub(super) struct DealView<'a> {
    pub rules: &'a Rules,
    pub deal: &'a Deal,
    /// Its story: history and refusals, step by step.
    pub story: &'a crate::explain::Explanation,
    pub team: &'a Team,
    pub dashboard: &'a Dashboard,
    /// The outcome of the form just sent.
    pub flash: Option<Result<(), super::flash::Why>>,
    /// The channels the client opted out of.
    pub opted_out: &'a [String],
    /// The latest webhook deliveries about the deal.
    pub deliveries: &'a [crate::store::Delivery],
    /// Contacts its lead gave that did not read (those not settled are shown).
    pub checks: &'a [crate::store::OpenCheck],
    /// When the page is made (running timers count up to it).
    pub now: chrono::DateTime<chrono::Utc>,
}

impl DealView<'_> {
    /// What the deal's time parts are drawn from.
    fn sheet(&self) -> super::work::Sheet<'_> {
        super::work::Sheet {
            rules: self.rules,
            deal: self.deal,
            team: self.team,
            dashboard: self.dashboard,
            now: self.now,
        }
    }
}

/// A deal: fields, stages, timeline with reasons, tasks, hours and margin, and the forms for
/// the events its stages accept and for work on its tasks.
pub(super) fn page(v: &Viewer, d: &DealView<'_>) -> Markup {
    let plan = &d.rules.ready.plan;
    let deal = d.deal;
    let w = v.lang.words();
    let body = html! {
        p.crumbs { a href="/" { (w.board) } " › " (deal.id) }
        h1 data-deal=(deal.id) { (deal.title) }
        @if let Some(flash) = &d.flash {
            @match flash {
                Ok(()) => p.flash.ok role="status" { (w.applied) },
                Err(why) => p.flash.error role="alert" { (super::flash::shown(why, w)) },
            }
        }
        @if let Some(p) = &deal.parent {
            p { (w.parent) ": " a href=(deal_link(p)) { (p) } }
        }
        (stages(v, d))
        (fields(v, d))
        (tasks(v, d))
        (super::work::entries(v, &d.sheet()))
        (events(v, d))
        (super::edit::section(v, plan, deal, d.team))
        (super::privacy::section(v, &deal.id, d.opted_out))
        (super::webhooks::deliveries(v, plan.tz, d.deliveries))
        (history(plan, d.story, v.lang))
    };
    layout(v, &deal.title, Nav::None, false, body)
}

/// Where the deal is: each track with its stage and since when, and the alerts raised.
fn stages(v: &Viewer, d: &DealView<'_>) -> Markup {
    let plan = &d.rules.ready.plan;
    let deal = d.deal;
    let w = v.lang.words();
    html! {
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
    }
}

/// The deal's fields and people, and its hours and money as bars.
fn fields(v: &Viewer, d: &DealView<'_>) -> Markup {
    let plan = &d.rules.ready.plan;
    let deal = d.deal;
    let w = v.lang.words();
    html! {
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
                @for c in d.checks.iter().filter(|c| c.settled_at.is_none()) {
                    tr.check data-check=(c.check.field) {
                        th { (field_label(plan, &c.check.field)) }
                        td { "«" (c.check.typed) "» — " (w.did_not_read) }
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
            (super::work::live_rows(v, &d.sheet(), &super::work::live(&d.sheet())))
        }
    }
    }
}

/// Its tasks: estimate against hours, who worked, and the buttons to start, finish and log time.
fn tasks(v: &Viewer, d: &DealView<'_>) -> Markup {
    let plan = &d.rules.ready.plan;
    let deal = d.deal;
    let w = v.lang.words();
    let base = deal_link(&deal.id);
    html! {
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
                            @if t.cancelled { (w.cancelled) }
                            @else if t.done_at.is_some() { (w.done) }
                            @else if let Some(r) = &t.timer { (super::work::running(v, &d.sheet(), &r.by, r.since)) }
                            @else if t.started_at.is_some() { (w.started) }
                            @else { (w.open) }
                        }
                        td.actions {
                            @if v.may_write() && t.done_at.is_none() {
                                @if t.timer.is_some() {
                                    form method="post" action=(format!("{base}/tasks/{}/pause", encode(&t.id))) {
                                        (form_fields(v))
                                        button type="submit" { (w.pause) }
                                    }
                                } @else {
                                    form method="post" action=(format!("{base}/tasks/{}/start", encode(&t.id))) {
                                        (form_fields(v))
                                        button type="submit" { (w.start) }
                                    }
                                }
                                form method="post" action=(format!("{base}/tasks/{}/done", encode(&t.id))) {
                                    (form_fields(v))
                                    button type="submit" { (w.finish) }
                                }
                                form.log method="post" action=(format!("{base}/tasks/{}/log", encode(&t.id))) {
                                    (form_fields(v))
                                    input type="number" name="hours" step="0.25" min="0.25" placeholder=(w.hours) aria-label=(w.hours) required;
                                    (person_select(v, d.team, t.assignee.as_deref(), w))
                                    button type="submit" { (w.log_time) }
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

/// A form for each event the deal's stages accept, with the fields it sets.
fn events(v: &Viewer, d: &DealView<'_>) -> Markup {
    let plan = &d.rules.ready.plan;
    let deal = d.deal;
    let w = v.lang.words();
    let base = deal_link(&deal.id);
    // The events the deal's active stages accept.
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
    html! {
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
                    (form_fields(v))
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
                                        option value="" { "—" }
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
                    @if v.acts_for_others() { label { (w.who) (person_select(v, d.team, None, w)) } }
                    button type="submit" { (w.send) }
                }
            }
        }
    }
    }
}

/// Who logged time on a task and how much: `Катя 12, Дима 3`.
pub(super) fn worked(deal: &Deal, team: &Team, task: &str) -> String {
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

/// "Who": the people the viewer may act for, offered only where that is more than themselves
/// (a token of no one, or one with `act_for`); the viewer's own person, else `chosen`, first
/// chosen.
pub(super) fn person_select(v: &Viewer, team: &Team, chosen: Option<&str>, w: &Words) -> Markup {
    if !v.acts_for_others() {
        return html! {};
    }
    let chosen = v.person.as_deref().or(chosen);
    html! {
        select name="_by" aria-label=(w.who) {
            @if v.person.is_none() { option value="" { "—" } }
            @for m in team.members.iter().filter(|m| v.person.as_deref() == Some(m.id.as_str())) {
                option value=(m.id) selected[chosen == Some(m.id.as_str())] { (m.name) }
            }
            @for m in team.members.iter().filter(|m| v.person.as_deref() != Some(m.id.as_str()) && v.may_act_for(&m.id)) {
                option value=(m.id) selected[chosen == Some(m.id.as_str())] { (m.name) }
            }
        }
    }
}

/// An input for a value of a type, filled with the current value.
pub(super) fn input_for(
    name: &str,
    label: &str,
    ty: &Ty,
    current: Option<&Value>,
    tz: Tz,
) -> Markup {
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

/// Hours sold vs spent and amount vs labour cost vs margin, as bars.
pub(super) fn hours_chart(plan: &Plan, deal: &Deal, cfg: &Dashboard, lang: Lang) -> Markup {
    let w = lang.words();
    let sold = data::number(plan, deal, &cfg.sold_hours);
    let spent = deal.hours_spent();
    let amount = data::number(plan, deal, &cfg.amount);
    let cost = data::number(plan, deal, &cfg.labour_cost);
    let margin = data::number(plan, deal, &cfg.margin);
    let bar = |label: &str, figure: &str, text: String, part: f64, class: &str| {
        html! {
            div.bar data-figure=(figure) {
                span.label { (label) }
                svg width="220" height="14" aria-hidden="true" {
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
