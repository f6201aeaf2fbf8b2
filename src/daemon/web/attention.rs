//! Out of control: refused rule reloads, messages that could not be delivered, website leads
//! refused or with a contact that did not read (each until someone settles it, from this very
//! page), alerts and overdue tasks of live deals, the most urgent first, a page at a time.

use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use maud::{Markup, html};

use super::access::{Snapshot, html, look, store_down};
use super::board::{PageQuery, badges, page_number, pager, title_of};
use super::data::{self, Trouble};
use super::format::{deal_link, moment, span_text};
use super::layout::form_fields;
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
    let refused = s.reloads.last().filter(|r| !r.applied).map(|r| {
        let at = chrono::DateTime::parse_from_rfc3339(&r.at)
            .map_or_else(|_| Utc::now(), |t| t.with_timezone(&Utc));
        (at, r.message)
    });
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
                                    td { (moment(*at, plan.tz, v.lang)) }
                                    td {
                                        (w.old_rules_run)
                                        // The checker's own words, as `dealflow check` prints them.
                                        details { summary { (w.details) } pre lang="en" { (message) } }
                                    }
                                }
                            }
                            Trouble::Lead(r) => (lead_row(v, plan, r)),
                            Trouble::Contact(c) => {
                                tr.urgent data-kind="contact_check" data-deal=(c.deal) {
                                    td { span.kind { (w.contact_to_check) } }
                                    td { a href=(deal_link(&c.deal)) { (c.title) } }
                                    td {
                                        (crate::explain::field_label(plan, &c.check.field)) ": «" (c.check.typed) "» "
                                        span.hint { (w.did_not_read) }
                                        @if v.may_write() {
                                            form.inline method="post" action=(format!("/attention/checks/{}/dismiss", c.id)) {
                                                (form_fields(v))
                                                button type="submit" { (w.dismiss) }
                                            }
                                        }
                                    }
                                }
                            }
                            Trouble::Undelivered(m) => {
                                tr.urgent data-kind="undelivered" data-deal=(m.deal) {
                                    td { span.kind { (w.undelivered) } }
                                    // A message of no deal (the daily digest) links nowhere.
                                    td {
                                        @if m.deal.is_empty() { "—" } @else { a href=(deal_link(&m.deal)) { (m.deal) } }
                                    }
                                    td {
                                        (m.channel) " → " (m.to) " «" (m.template) "», " (m.attempts) " " (w.attempts) ": "
                                        // The mail server's or the gateway's own words.
                                        span lang="en" { (m.last_error.as_deref().unwrap_or_default()) }
                                    }
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
                            td { (moment(r.at, plan.tz, v.lang)) " " (input_words(r, v)) }
                            td {
                                // A creation refused left no deal to open.
                                @if r.input == "create" && r.code != "exists" { (r.deal) }
                                @else { a href=(deal_link(&r.deal)) { (r.deal) } }
                            }
                            td {
                                // The engine's own words.
                                span lang="en" { (r.reason) }
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

/// What a refused input was, in the page's words.
fn input_words(r: &crate::store::Refusal, v: &Viewer) -> String {
    let w = v.lang.words();
    let what = match r.input.as_str() {
        "create" => w.input_create,
        "event" => w.input_event,
        "task" => w.input_task,
        "edit" => w.input_edit,
        "time" => w.input_time,
        other => return other.to_string(),
    };
    if r.name.is_empty() || r.input == "edit" {
        what.to_string()
    } else {
        format!("{what} {}", r.name)
    }
}

/// A website lead the rules refused: who wrote, from which door, what they sent, why it was
/// not taken; a deal made of it, or dismissed, in one click.
fn lead_row(v: &Viewer, plan: &crate::compile::Plan, r: &crate::store::Refusal) -> Markup {
    let w = v.lang.words();
    let sent: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&r.payload).unwrap_or_default();
    let door = match r.origin.as_deref() {
        Some(o) if o.starts_with("form:") => format!("{} {}", w.website_form, &o[5..]),
        _ => w.website_api.to_string(),
    };
    html! {
        tr.urgent data-kind="refused_lead" data-refusal=(r.id) {
            td { span.kind { (w.lead_not_taken) } " " (moment(r.at, plan.tz, v.lang)) }
            td { (door) }
            td {
                ul.sent {
                    @for (name, value) in sent.iter().filter(|(_, v)| !v.is_null()) {
                        li { (crate::explain::field_label(plan, name)) ": «" (value.as_str().map_or_else(|| value.to_string(), str::to_string)) "»" }
                    }
                }
                span lang="en" { (r.reason) }
                @if v.may_write() {
                    form.inline method="post" action=(format!("/attention/leads/{}/deal", r.id)) {
                        (form_fields(v))
                        button type="submit" { (w.make_deal) }
                    }
                    form.inline method="post" action=(format!("/attention/leads/{}/dismiss", r.id)) {
                        (form_fields(v))
                        button type="submit" { (w.dismiss) }
                    }
                }
            }
        }
    }
}
