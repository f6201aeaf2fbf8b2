//! Deals over HTTP: leads from a website form, deals created at any stage, events and work on
//! tasks, lists with filters, one deal with its history and the events applied to it.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::admit::{ApiError, Need, Post, authorize, json_answer, refuse_if, unfit};
use super::answers::{render_created, render_deal, submit};
use super::intake;
use crate::daemon::batch::{Op, Sender};
use crate::daemon::openapi::check::Body;
use crate::daemon::state::Shared;
use crate::engine::{Creation, Input, TaskAction};
use crate::json::{deal_json, json_fields};
use crate::store::DealFilter;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDeal {
    #[serde(default)]
    id: Option<String>,
    title: String,
    #[serde(default)]
    stage: Option<StageList>,
    #[serde(default)]
    fields: serde_json::Map<String, Json>,
    /// Start at the stage without its `on enter` actions (an import of an old deal).
    #[serde(default)]
    quiet: bool,
    /// Tasks its stages make that are made done at once (an import of an old deal).
    #[serde(default)]
    done: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StageList {
    One(String),
    Many(Vec<String>),
}

pub(super) async fn create_deal(State(s): State<Shared>, post: Post) -> Result<Response, ApiError> {
    let post = post.admit(&s, Need::Write)?;
    let (d, complaint) = post.checked::<NewDeal>(&s, Body::NewDeal)?;
    let id = match d.id {
        Some(id) => {
            check_id(&id)?;
            id
        }
        None => intake::new_id(),
    };
    let req = Creation {
        id,
        title: d.title,
        stages: match d.stage {
            None => Vec::new(),
            Some(StageList::One(s)) => vec![s],
            Some(StageList::Many(v)) => v,
        },
        fields: json_fields(&d.fields),
        quiet: d.quiet,
        done: d.done,
    };
    let op = post.made(refuse_if(Op::Create(req), complaint));
    submit(&s, op, post.key, render_created).await
}

/// What a deal id may be, said when it is not.
pub(crate) const BAD_ID: &str = "a deal id is 1 to 100 Latin letters, digits, `-`, `_`, `.` or `/`, and no part between slashes is empty, `.` or `..`";

/// Whether a deal id may be used. Parts between slashes are never empty, `.` or `..`: an id is
/// also a path on the pages.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && id.split('/').all(|part| !part.chars().all(|c| c == '.'))
}

fn check_id(id: &str) -> Result<(), ApiError> {
    if valid_id(id) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_id",
            BAD_ID,
        ))
    }
}

/// A website form (form-encoded) or the same as JSON: names mapped to fields by
/// `[intake.fields]`; names that are fields of the pipeline go as they are; others are ignored
/// (buttons, spam traps).
pub(super) async fn create_lead(State(s): State<Shared>, post: Post) -> Result<Response, ApiError> {
    let post = post.admit(&s, Need::Intake)?;
    let (form, complaint): (BTreeMap<String, Json>, _) = if post.is_json() {
        post.checked(&s, Body::Lead)?
    } else {
        let how = intake::sent(&post.headers)?;
        let form = intake::form(how, &post.headers, post.body.clone()).await?;
        let complaint = post.complaint(&s, Body::Lead, &json!(form))?;
        (form, complaint)
    };
    let rules = s.core.rules();
    let lead = intake::lead(
        &rules.ready.plan,
        &form,
        &intake::Mapping {
            fields: &s.config.intake.fields,
            title: s.config.intake.title.as_deref(),
            fixed: &BTreeMap::new(),
        },
    );
    let made = post.token.acting(None).unwrap_or_default();
    let op = refuse_if(Op::Create(lead.creation), complaint).sent(Sender {
        via: made.by.or(made.via),
        origin: Some("lead".into()),
        checks: lead.checks,
    });
    submit(&s, op, post.key, render_created).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventBody {
    name: String,
    #[serde(default)]
    fields: serde_json::Map<String, Json>,
    #[serde(default)]
    by: Option<String>,
}

pub(super) async fn send_event(
    State(s): State<Shared>,
    Path(id): Path<String>,
    post: Post,
) -> Result<Response, ApiError> {
    let post = post.admit(&s, Need::Write)?;
    let (e, complaint) = post.checked::<EventBody>(&s, Body::Event)?;
    let acting = post.acting(e.by)?;
    let input = Input::Event {
        name: e.name,
        payload: json_fields(&e.fields),
        by: acting.by.clone(),
    };
    let op = refuse_if(Op::Apply { deal: id, input }, complaint);
    submit(&s, post.sent(op, acting), post.key, render_deal).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EditBody {
    fields: serde_json::Map<String, Json>,
    #[serde(default)]
    by: Option<String>,
}

/// `PATCH /api/v1/deals/{id}`: a person edits the deal's fields and roles (`null` clears one).
/// A step like any other: `field_set` records caused by "edited by PERSON", then what the
/// change makes happen; a role's open tasks go to the person who gets it.
pub(super) async fn edit_deal(
    State(s): State<Shared>,
    Path(id): Path<String>,
    post: Post,
) -> Result<Response, ApiError> {
    let post = post.admit(&s, Need::Write)?;
    let (e, complaint) = post.checked::<EditBody>(&s, Body::Edit)?;
    let clear: Vec<String> = e
        .fields
        .iter()
        .filter(|(_, v)| v.is_null())
        .map(|(k, _)| k.clone())
        .collect();
    let set: serde_json::Map<String, Json> =
        e.fields.into_iter().filter(|(_, v)| !v.is_null()).collect();
    let acting = post.acting(e.by)?;
    let input = Input::Edit {
        fields: json_fields(&set),
        clear,
        by: acting.by.clone(),
    };
    let op = refuse_if(Op::Apply { deal: id, input }, complaint);
    submit(&s, post.sent(op, acting), post.key, render_deal).await
}

/// `hours` as a JSON number or text, a decimal.
fn hours_of(h: Option<&Json>) -> Option<rust_decimal::Decimal> {
    match h? {
        Json::Number(n) => crate::json::number_decimal(n),
        Json::String(t) => t.trim().parse().ok(),
        _ => None,
    }
}

/// `PATCH /api/v1/deals/{id}/time/{entry}`: a time entry corrected, audited in the history.
pub(super) async fn amend_time(
    State(s): State<Shared>,
    Path((id, entry)): Path<(String, String)>,
    post: Post,
) -> Result<Response, ApiError> {
    let post = post.admit(&s, Need::Write)?;
    let entry: usize = entry.parse().map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_such_entry",
            format!("`{entry}` is not a time entry's number (0, 1, …)"),
        )
    })?;
    let (b, complaint) = post.checked::<TaskBody>(&s, Body::Amend)?;
    unfit(complaint)?;
    let hours = hours_of(b.hours.as_ref())
        .filter(|h| *h >= rust_decimal::Decimal::ZERO && *h <= rust_decimal::Decimal::from(24))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_hours",
                "`hours` must be a number from 0 to 24",
            )
        })?;
    let acting = post.acting(b.by)?;
    let input = Input::Amend {
        entry,
        hours,
        by: acting.by.clone(),
    };
    let op = post.sent(Op::Apply { deal: id, input }, acting);
    submit(&s, op, post.key, render_deal).await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TaskBody {
    #[serde(default)]
    hours: Option<Json>,
    #[serde(default)]
    by: Option<String>,
}

pub(super) async fn task_work(
    State(s): State<Shared>,
    Path((id, task, action)): Path<(String, String, String)>,
    post: Post,
) -> Result<Response, ApiError> {
    let post = post.admit(&s, Need::Write)?;
    if !matches!(action.as_str(), "start" | "pause" | "done" | "log") {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_such_action",
            format!("tasks can be `start`ed, `pause`d, `done` or `log`ged, not `{action}`"),
        ));
    }
    let b: TaskBody = if post.body.is_empty() && action != "log" {
        TaskBody::default()
    } else {
        let (b, complaint) = post.checked(&s, Body::Task(&action))?;
        unfit(complaint)?;
        b
    };
    let action = match action.as_str() {
        "start" => TaskAction::Start,
        "pause" => TaskAction::Pause,
        "log" => {
            let hours = hours_of(b.hours.as_ref())
                .filter(|h| *h > rust_decimal::Decimal::ZERO)
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "bad_hours",
                        "`hours` must be a positive number",
                    )
                })?;
            TaskAction::Log(hours)
        }
        _ => TaskAction::Done,
    };
    let acting = post.acting(b.by)?;
    let input = Input::Task {
        task,
        action,
        by: acting.by.clone(),
    };
    let op = post.sent(Op::Apply { deal: id, input }, acting);
    submit(&s, op, post.key, render_deal).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    stage: Option<String>,
    phase: Option<String>,
    alert: Option<String>,
    person: Option<String>,
    live: Option<bool>,
    after: Option<String>,
    limit: Option<i64>,
    q: Option<String>,
}

pub(super) async fn list_deals(
    State(s): State<Shared>,
    headers: HeaderMap,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&s, &headers, Need::Read)?;
    let Query(q) =
        q.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", e.body_text()))?;
    // An empty filter (`?stage=`, as forms send them) filters nothing.
    let some = |v: Option<String>| v.filter(|x| !x.trim().is_empty());
    let q = ListQuery {
        stage: some(q.stage),
        phase: some(q.phase),
        alert: some(q.alert),
        person: some(q.person),
        after: some(q.after),
        ..q
    };
    let rules = s.core.rules();
    let plan = &rules.ready.plan;
    let unknown = |what: &str, v: &Option<String>, known: bool| -> Result<(), ApiError> {
        match v {
            Some(name) if !known => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_name",
                format!("the pipeline has no {what} `{name}`"),
            )),
            _ => Ok(()),
        }
    };
    unknown(
        "stage",
        &q.stage,
        q.stage
            .as_ref()
            .is_none_or(|n| plan.stage_index.contains_key(n)),
    )?;
    unknown(
        "phase",
        &q.phase,
        q.phase
            .as_ref()
            .is_none_or(|n| plan.phases.iter().any(|p| &p.name == n)),
    )?;
    unknown(
        "alert",
        &q.alert,
        q.alert
            .as_ref()
            .is_none_or(|n| plan.alerts.iter().any(|a| &a.name == n)),
    )?;
    let limit = super::explain::limit(q.limit)?;
    // Words to find deals by: the best matches (live deals first) that pass the other
    // filters, one page (`after` pages through id order, not through matches).
    if let Some(words) = q.q.as_deref().map(str::trim).filter(|w| !w.is_empty()) {
        let has =
            |list: &[String], want: &Option<String>| want.as_ref().is_none_or(|w| list.contains(w));
        let mut tx = s.core.store().read().await?;
        let found: Vec<String> = tx
            .search_deals(words, plan.country, limit)
            .await?
            .into_iter()
            .filter(|c| q.live.is_none_or(|l| c.live == l))
            .map(|c| c.id)
            .collect();
        let mut rows = tx.deal_rows(&found).await?;
        drop(tx);
        rows.retain(|r| {
            has(&r.stages, &q.stage)
                && has(&r.phases, &q.phase)
                && has(&r.alerts, &q.alert)
                && has(&r.people, &q.person)
        });
        return Ok(json_answer(
            StatusCode::OK,
            json!({"deals": rows, "next": null}).to_string(),
        ));
    }
    let filter = DealFilter {
        stage: q.stage,
        phase: q.phase,
        alert: q.alert,
        person: q.person,
        live: q.live,
        after: q.after,
        limit,
    };
    let mut tx = s.core.store().read().await?;
    let rows = tx.list_deals(&filter).await?;
    drop(tx);
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id.clone()))
        .flatten();
    Ok(json_answer(
        StatusCode::OK,
        json!({"deals": rows, "next": next}).to_string(),
    ))
}

pub(super) async fn get_deal(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&s, &headers, Need::Read)?;
    let rules = s.core.rules();
    let mut tx = s.core.store().read().await?;
    let Some(loaded) = tx.peek_deal(&id).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_deal",
            format!("there is no deal `{id}`"),
        ));
    };
    let history = tx.history(&id).await?;
    let events = tx.events(&id).await?;
    let checks = tx.checks_of(&id).await?;
    drop(tx);
    let deal = loaded.stored.decode(&rules.ready.plan).map_err(
        |crate::store::Misfit::MissingStages(m)| {
            ApiError::new(
                StatusCode::CONFLICT,
                "misfit",
                format!(
                    "deal `{id}` sits in stages the rules no longer have: {}",
                    m.join(", ")
                ),
            )
        },
    )?;
    let mut j = deal_json(&rules.ready.plan, &deal, loaded.revision);
    let entries: Vec<Json> = history
        .into_iter()
        .map(|h| {
            let mut e: serde_json::Map<String, Json> =
                serde_json::from_str(&h.record).unwrap_or_default();
            crate::json::record_in_utc(&mut e, &rules.ready.plan);
            e.insert("cause".into(), json!(h.cause));
            e.insert("rule".into(), json!(h.rule));
            e.insert("version".into(), json!(h.version));
            Json::Object(e)
        })
        .collect();
    let events: Vec<Json> = events
        .into_iter()
        .map(|e| {
            json!({
                "name": e.name,
                "fields": serde_json::from_str::<Json>(&e.payload).unwrap_or(Json::Null),
                "by": e.by,
                "via": e.via,
                "at": e.at,
                "revision": e.revision,
            })
        })
        .collect();
    // Contacts its lead gave that did not read, while nobody has set the field or dismissed
    // them.
    let checks: Vec<Json> = checks
        .into_iter()
        .filter(|c| c.settled_at.is_none())
        .map(|c| {
            json!({"field": c.check.field, "typed": c.check.typed, "reason": c.check.reason,
                "at": crate::json::stamp(c.at)})
        })
        .collect();
    if let Json::Object(m) = &mut j {
        m.insert("history".into(), Json::Array(entries));
        m.insert("events".into(), Json::Array(events));
        m.insert("contact_checks".into(), Json::Array(checks));
    }
    Ok(json_answer(StatusCode::OK, j.to_string()))
}
