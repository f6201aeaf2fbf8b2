//! Editing from the dashboard: a deal's fields and roles changed on its page (only what the
//! person changed goes: each input carries the value the page showed), and a new deal created
//! at any stage (`/deals/new`). Both are steps like any other, applied by the writer; a refused
//! creation shows the form again with what was typed and why.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::access::{html, look, page_error};
use super::encode;
use super::forms::{Form, back, form_value, outcome};
use super::layout::{Nav, form_fields, layout};
use super::viewer::Viewer;
use crate::compile::Plan;
use crate::daemon::api::answers::render_created;
use crate::daemon::batch::{Op, Sender};
use crate::daemon::state::Shared;
use crate::engine::{Creation, Deal, Input};
use crate::team::Team;
use crate::types::Ty;
use crate::value::Value;

/// Fields an edit form shows: every field with a single value that is not derived.
fn editable(plan: &Plan) -> impl Iterator<Item = (usize, &crate::compile::FieldDef)> {
    plan.fields.iter().enumerate().filter(|(_, f)| {
        !f.derived && !matches!(f.ty, Ty::List(_) | Ty::Record(_) | Ty::Attachment)
    })
}

/// A value as an input shows it.
fn shown(v: Option<&Value>, plan: &Plan) -> String {
    match v {
        Some(Value::DateTime(t)) => t
            .with_timezone(&plan.tz)
            .format("%Y-%m-%dT%H:%M")
            .to_string(),
        Some(Value::Date(d)) => d.format("%Y-%m-%d").to_string(),
        Some(v) => v.to_string(),
        None => String::new(),
    }
}

/// An input for a field or role in a form, with the value it starts from (`_was.NAME` keeps it
/// in the form, so that only what the person changed is sent).
fn input(
    name: &str,
    label: &str,
    ty: &Ty,
    now: &str,
    choices: Option<&[(String, String)]>,
) -> Markup {
    let kind = match ty {
        Ty::DateTime => "datetime-local",
        Ty::Date => "date",
        Ty::Time => "time",
        Ty::Int | Ty::Decimal | Ty::Money => "number",
        Ty::Email => "email",
        Ty::Phone => "tel",
        _ => "text",
    };
    let step = match ty {
        Ty::Int => Some("1"),
        Ty::Decimal | Ty::Money => Some("any"),
        _ => None,
    };
    html! {
        label data-field=(name) {
            (label)
            @if let Some(choices) = choices {
                select name=(name) {
                    option value="" { "—" }
                    @for (value, text) in choices {
                        option value=(value) selected[value == now] { (text) }
                    }
                }
            } @else {
                input type=(kind) name=(name) step=[step] value=(now);
            }
            input type="hidden" name=(format!("_was.{name}")) value=(now);
        }
    }
}

fn yes_no() -> Vec<(String, String)> {
    vec![("true".into(), "✓".into()), ("false".into(), "✗".into())]
}

/// The edit form of a deal's page (staff only).
pub(super) fn section(v: &Viewer, plan: &Plan, deal: &Deal, team: &Team) -> Markup {
    let w = v.lang.words();
    if !v.may_write() {
        return html! {};
    }
    let members: Vec<(String, String)> = team
        .members
        .iter()
        .map(|m| (m.id.clone(), m.name.clone()))
        .collect();
    html! {
        details.edit {
            summary { (w.edit) }
            form.edit method="post" action=(format!("/deals/{}/edit", encode(&deal.id))) {
                (form_fields(v))
                @for (i, f) in editable(plan) {
                    @let now = shown(deal.values.get(i).and_then(Option::as_ref), plan);
                    @let choices = matches!(f.ty, Ty::Bool).then(yes_no);
                    (input(&f.name, f.label.as_deref().unwrap_or(&f.name), &f.ty, &now, choices.as_deref()))
                }
                @for (r, role) in plan.roles.iter().enumerate() {
                    @let now = deal.slots.get(r).cloned().flatten().unwrap_or_default();
                    (input(&role.name, &role.title, &Ty::User, &now, Some(&members)))
                }
                button type="submit" { (w.save) }
            }
        }
    }
}

/// What the person changed in an edit form: fields set, fields cleared.
fn changes(plan: &Plan, pairs: &[(String, String)]) -> (BTreeMap<String, Value>, Vec<String>) {
    let mut set = BTreeMap::new();
    let mut clear = Vec::new();
    let names = editable(plan)
        .map(|(_, f)| f.name.as_str())
        .chain(plan.roles.iter().map(|r| r.name.as_str()));
    for name in names {
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim());
        let (Some(now), Some(was)) = (get(name), get(&format!("_was.{name}"))) else {
            continue;
        };
        if now == was {
            continue;
        }
        if now.is_empty() {
            clear.push(name.to_string());
        } else {
            set.insert(name.to_string(), Value::Text(now.to_string()));
        }
    }
    (set, clear)
}

pub(super) async fn edit(
    State(s): State<Shared>,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/deals/{}/edit", encode(&id));
    let form = match Form::admit(&s, &headers, &id, &path, &body).await {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let rules = s.core.rules();
    let (fields, clear) = changes(&rules.ready.plan, &form.pairs);
    if fields.is_empty() && clear.is_empty() {
        return back(&id, Err(super::flash::Said::NothingChanged.into()));
    }
    let input = Input::Edit {
        fields,
        clear,
        by: form.acting.by.clone(),
    };
    outcome(&s, &id, input, &form).await
}

/// What a new-deal form was filled with.
#[derive(Default)]
pub(super) struct Typed {
    pub(super) title: String,
    pub(super) id: String,
    pub(super) stage: String,
    pub(super) fields: BTreeMap<String, String>,
    /// The refused website lead the deal is made from (settled once it is).
    pub(super) refusal: Option<i64>,
}

/// The new-deal page: a title, an id (or one made up), the stage to start at, the fields.
pub(super) fn new_page(
    v: &Viewer,
    plan: &Plan,
    typed: &Typed,
    error: Option<&super::flash::Why>,
) -> Markup {
    let w = v.lang.words();
    let body = html! {
        p.crumbs { a href="/" { (w.board) } " › " (w.new_deal) }
        h1 { (w.new_deal) }
        @if let Some(e) = error { p.flash.error role="alert" { (super::flash::shown(e, w)) } }
        @if !v.may_write() {
            p.hint { (w.read_only) }
        } @else {
            form.new method="post" action="/deals/new" {
                (form_fields(v))
                @if let Some(r) = typed.refusal { input type="hidden" name="_refusal" value=(r); }
                label { (w.title_word) input type="text" name="_title" required value=(typed.title); }
                label { (w.id_word) input type="text" name="_id" value=(typed.id) placeholder=(w.id_hint); }
                label { (w.start_at)
                    select name="_stage" {
                        @for st in &plan.stages {
                            option value=(st.name) selected[st.name == typed.stage] { (st.title) }
                        }
                    }
                }
                @for (_, f) in editable(plan) {
                    @let now = typed.fields.get(&f.name).cloned().unwrap_or_default();
                    @let choices = matches!(f.ty, Ty::Bool).then(yes_no);
                    (input(&f.name, f.label.as_deref().unwrap_or(&f.name), &f.ty, &now, choices.as_deref()))
                }
                button type="submit" { (w.create) }
            }
        }
    };
    layout(v, w.new_deal, Nav::None, false, body)
}

pub(super) async fn new_form(
    State(s): State<Shared>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (v, snap) = match look(&s, &headers, "/deals/new", raw.as_deref()).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let plan = &snap.rules.ready.plan;
    let typed = Typed {
        stage: plan
            .stages
            .first()
            .map(|s| s.name.clone())
            .unwrap_or_default(),
        ..Typed::default()
    };
    html(&v, StatusCode::OK, new_page(&v, plan, &typed, None))
}

pub(super) async fn create(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let form = match Form::admit(&s, &headers, "new", "/deals/new", &body).await {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let (v, snap) = match look(&s, &headers, "/deals/new", None).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let plan = &snap.rules.ready.plan;
    let typed = Typed {
        title: form_value(&form.pairs, "_title").unwrap_or_default(),
        id: form_value(&form.pairs, "_id").unwrap_or_default(),
        stage: form_value(&form.pairs, "_stage").unwrap_or_default(),
        fields: editable(plan)
            .filter_map(|(_, f)| Some((f.name.clone(), form_value(&form.pairs, &f.name)?)))
            .collect(),
        refusal: form_value(&form.pairs, "_refusal").and_then(|r| r.parse().ok()),
    };
    let refuse = |why: super::flash::Why| {
        html(
            &v,
            StatusCode::UNPROCESSABLE_ENTITY,
            new_page(&v, plan, &typed, Some(&why)),
        )
    };
    if typed.title.is_empty() {
        return refuse(super::flash::Said::TitleNeeded.into());
    }
    let id = if typed.id.is_empty() {
        crate::daemon::api::intake::new_id()
    } else {
        typed.id.clone()
    };
    if !crate::daemon::api::deals::valid_id(&id) {
        return refuse(super::flash::Said::BadId.into());
    }
    let creation = Creation {
        id: id.clone(),
        title: typed.title.clone(),
        stages: vec![typed.stage.clone()],
        fields: typed
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), Value::Text(v.clone())))
            .collect(),
        quiet: false,
        done: Vec::new(),
    };
    let op = Op::Create(creation).sent(Sender {
        via: form.acting.via.clone().or(form.acting.by.clone()),
        ..Sender::default()
    });
    match s.writer.submit(op, form.key, render_created).await {
        Ok(a) if (200..300).contains(&a.status) => {
            if let Some(r) = typed.refusal {
                super::forms::lead_settled(&s, r, form.acting.by.as_deref(), &id).await;
            }
            Redirect::to(&format!("/deals/{}?done=1", encode(&id))).into_response()
        }
        Ok(a) => {
            let message = serde_json::from_str::<serde_json::Value>(&a.body)
                .ok()
                .and_then(|j| j["error"]["message"].as_str().map(str::to_string))
                .unwrap_or(a.body);
            refuse(super::flash::Why::Engine(message))
        }
        Err(e) => page_error(
            v.lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "503",
            &e.to_string(),
        ),
    }
}
