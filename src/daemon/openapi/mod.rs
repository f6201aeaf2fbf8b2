//! The API's description, OpenAPI 3.1, served at `/api/v1/openapi.json`: the request bodies
//! in the pipeline's and the team's own words ([`bodies`]), checked by the server as published
//! ([`check`]), and links from a created deal to what can be done with it next.

pub(crate) mod bodies;
pub(crate) mod check;
mod say;

use serde_json::{Value as Json, json};

use bodies::Vocabulary;

/// The stages a new deal starts at: one, or several (parallel tracks), or none (the first).
fn stage_list(plan: &crate::compile::Plan) -> Json {
    let names: Vec<&str> = plan.stages.iter().map(|x| x.name.as_str()).collect();
    json!({"anyOf": [{"enum": names},
        {"type": "array", "items": {"enum": names}, "uniqueItems": true}]})
}

/// A new deal's `done`: tasks of the pipeline (none when it makes none).
fn done_tasks(plan: &crate::compile::Plan) -> Json {
    let tasks: Vec<&str> = plan.task_ids().into_iter().collect();
    let mut done = json!({"type": "array", "uniqueItems": true, "default": [],
        "description": "Tasks the deal's first stages make that are made done at once (an import of work the old CRM says was finished)."});
    if tasks.is_empty() {
        done["maxItems"] = json!(0);
    } else {
        done["items"] = json!({"enum": tasks});
    }
    done
}

/// `POST /api/v1/deals`.
pub(crate) fn new_deal_body(v: &Vocabulary<'_>) -> Json {
    let required = if v.plan.fields.iter().any(|f| f.required) {
        json!(["title", "fields"])
    } else {
        json!(["title"])
    };
    let mut body = json!({
    "type": "object", "required": required, "additionalProperties": false,
    "properties": {
        "id": {"type": "string", "maxLength": 100, "description": "Default: a new id. Letters, digits, `-`, `_`, `.`, `/`; no part between slashes empty or dots only.",
            "pattern": "^[A-Za-z0-9_.-]*[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_.-]*[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$"},
        "title": {"type": "string", "pattern": "^[^\\x00-\\x1F\\x7F-\\x9F]*$"},
        "stage": stage_list(v.plan),
        "fields": v.new_deal_fields(),
        "quiet": {"type": "boolean", "default": false, "description": "Start at the stage without its `on enter` actions (an import of an old deal: no welcome message, no fields set), but with the tasks a way out of the stage waits on (`when open_tasks == 0`), made without staff notices; its timers are armed as at any stage."},
        "done": done_tasks(v.plan)
    }});
    // A deal made at a stage that `require`s fields is given them (a stage the deal is moved
    // on to from there checks its own: 409 when they are missing).
    let gates: Vec<Json> = v
        .plan
        .stages
        .iter()
        .filter(|s| !s.require.is_empty())
        .map(|s| {
            let names: Vec<&str> = s.require.iter().map(|&slot| v.slot_name(slot)).collect();
            json!({
                "if": {"required": ["stage"], "properties": {"stage": {"anyOf": [
                    {"const": s.name}, {"type": "array", "contains": {"const": s.name}}]}}},
                "then": {"required": ["fields"], "properties": {"fields": {"required": names}}}
            })
        })
        .collect();
    if !gates.is_empty() {
        body["allOf"] = json!(gates);
    }
    body
}

/// `PATCH /api/v1/deals/{id}`.
pub(crate) fn edit_body(v: &Vocabulary<'_>) -> Json {
    json!({"type": "object", "required": ["fields"], "additionalProperties": false,
        "properties": {"fields": v.edit_fields(), "by": v.by()}})
}

/// `POST /api/v1/deals/{id}/events`: one body per event.
fn event_body(v: &Vocabulary<'_>) -> Json {
    let one: Vec<Json> = v.event_bodies().into_iter().map(|(_, b)| b).collect();
    json!({"oneOf": one})
}

/// Work on a task: `log` needs its hours (0.01 to 1000), the others take none.
pub(crate) fn task_body(v: &Vocabulary<'_>, log: bool) -> Json {
    let mut b =
        json!({"type": "object", "additionalProperties": false, "properties": {"by": v.by()}});
    if log {
        b["properties"]["hours"] = json!({"type": "number", "minimum": 0.01, "maximum": 1000});
        b["required"] = json!(["hours"]);
    }
    b
}

/// `PATCH /api/v1/deals/{id}/time/{entry}`.
pub(crate) fn amend_body(v: &Vocabulary<'_>) -> Json {
    json!({"type": "object", "required": ["hours"], "additionalProperties": false,
        "properties": {"hours": {"type": "number", "minimum": 0, "maximum": 24}, "by": v.by()}})
}

fn error_responses(codes: &[&str]) -> serde_json::Map<String, Json> {
    let mut m = serde_json::Map::new();
    for c in codes {
        let what = match *c {
            "400" => "The body or query does not read (not valid JSON, a bad form).",
            "401" => "No token, or not a valid one.",
            "403" => {
                "The token's scope does not allow this, or the token belongs to a person \
                      and `by` names someone it may not act for."
            }
            "404" => "No such deal, or no such task or time entry on it (or path).",
            "409" => {
                "The deal is not where this makes sense: an event no active stage expects, a stage's `require` not met by the deal's fields (code `required`: set them first), a task already done, an id taken; or an Idempotency-Key used before for another request (keys are each token's own)."
            }
            "413" => "The body is larger than the server takes.",
            "415" => "The body is not JSON (or, for leads, not a form).",
            "422" => {
                "The request does not fit this document (code `bad_fields`, saying where and why: every body is checked against its schema here, with the pipeline's fields, events and the team), or the pipeline (unknown event, a step its scripts failed on), or a `limit` outside 1 to 1000."
            }
            "503" => {
                "The database did not answer or cannot be written to; try again after `Retry-After` seconds."
            }
            _ => "Error.",
        };
        m.insert(
            (*c).to_string(),
            json!({"description": what, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
        );
    }
    m
}

/// 429: an address that sent too many wrong tokens waits, whatever token it sends.
fn too_many() -> Json {
    json!({"description": "Too many wrong tokens from this address: it waits `Retry-After` seconds (1, doubling to 15 minutes), whatever token it sends meanwhile.",
        "headers": {"Retry-After": {"required": true, "schema": {"type": "integer", "minimum": 1}}},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn op(summary: &str, ok: (&str, &str, Json), errors: &[&str], extra: Json) -> Json {
    let mut responses = error_responses(errors);
    if errors.contains(&"401") {
        responses.insert("429".to_string(), too_many());
    }
    responses.insert(
        ok.0.to_string(),
        json!({"description": ok.1, "content": {"application/json": {"schema": ok.2}}}),
    );
    let mut o = json!({"summary": summary, "responses": responses});
    if let (Json::Object(o), Json::Object(extra)) = (&mut o, extra) {
        o.extend(extra);
    }
    o
}

/// A client's opt-outs.
fn opt_outs() -> Json {
    json!({"type": "object", "required": ["deal", "opted_out"], "properties": {
        "deal": {"type": "string"},
        "opted_out": {"type": "array", "items": {"enum": ["email", "sms", "telegram"]}}}})
}

fn channel_param() -> Json {
    json!({"name": "channel", "in": "path", "required": true, "schema": {"enum": ["sms", "email", "telegram"]}})
}

/// `POST /api/v1/rules/reload`: every answer is a reload report.
fn reload_op() -> Json {
    let report = |what: &str| json!({"description": what, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Reload"}}}});
    let mut o = op(
        "Reads the rule file again; applies it only when valid and every live deal fits it. With `dry_run=true`, applies nothing and answers what the reload would do (the plan `dealflow plan` prints).",
        (
            "200",
            "Applied; or, with `dry_run=true`, the plan (`applicable` says whether the reload would apply the file).",
            json!({"anyOf": [
                {"$ref": "#/components/schemas/Reload"},
                {"$ref": "#/components/schemas/Plan"}
            ]}),
        ),
        &["400", "401", "403"],
        json!({"parameters": [
            {"name": "dry_run", "in": "query", "required": false,
             "description": "Only say what the reload would do.",
             "schema": {"type": "boolean"}}
        ]}),
    );
    o["responses"]["202"] =
        report("A reload is running: the rule file is read again when it ends (`queued`).");
    o["responses"]["422"] = report("Refused: the old rules keep running (`message` says why).");
    o
}

fn deal_ref() -> Json {
    json!({"$ref": "#/components/schemas/Deal"})
}

fn id_param() -> Json {
    json!({"name": "id", "in": "path", "required": true, "description": "1 to 100 Latin letters, digits, `-`, `_`, `.` or `/`; no part between slashes is empty, `.` or `..` (`ivan/1`, sent as `ivan%2F1`).",
        "schema": {"type": "string", "minLength": 1, "maxLength": 100}})
}

fn task_param() -> Json {
    json!({"name": "task", "in": "path", "required": true, "description": "The task's name in the pipeline.", "schema": {"type": "string"}})
}

fn idem_param() -> Json {
    json!({"name": "Idempotency-Key", "in": "header", "required": false,
           "description": "A retry with the same key gets the first answer and changes nothing.",
           "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[ -~]*[!-~][ -~]*$"}})
}

/// The document, with the names of the pipeline running now (events, stages, phases,
/// alerts, fields) where the API takes them, so that whoever connects a website or a tool sees
/// the pipeline's own vocabulary.
pub(super) fn document(v: &Vocabulary<'_>) -> Json {
    let mut doc = paths(v);
    wire(&mut doc);
    doc
}

/// Each operation's id, by path and method.
const OPERATIONS: &[(&str, &str, &str)] = &[
    ("/api/v1/leads", "post", "createLead"),
    ("/api/v1/deals", "post", "createDeal"),
    ("/api/v1/deals", "get", "listDeals"),
    ("/api/v1/deals/{id}", "get", "getDeal"),
    ("/api/v1/deals/{id}", "patch", "editDeal"),
    ("/api/v1/deals/{id}/explain", "get", "explainDeal"),
    ("/api/v1/refusals", "get", "listRefusals"),
    ("/api/v1/deals/{id}/events", "post", "sendEvent"),
    (
        "/api/v1/deals/{id}/tasks/{task}/{action}",
        "post",
        "workOnTask",
    ),
    ("/api/v1/deals/{id}/tasks/{task}/log", "post", "logTime"),
    ("/api/v1/deals/{id}/time/{entry}", "patch", "amendTime"),
    ("/api/v1/team", "get", "getTeam"),
    ("/api/v1/rules", "get", "getRules"),
    ("/api/v1/rules/reload", "post", "reloadRules"),
    (
        "/api/v1/deals/{id}/personal-data",
        "delete",
        "erasePersonalData",
    ),
    ("/api/v1/deals/{id}/opt-outs/{channel}", "put", "optOut"),
    ("/api/v1/deals/{id}/opt-outs/{channel}", "delete", "optIn"),
    ("/healthz", "get", "healthz"),
    ("/readyz", "get", "readyz"),
    ("/metrics", "get", "metrics"),
];

/// Operation ids, and links from every answer that is a deal to what can be done with it
/// next (its id), so that a client (or a tester) follows a deal from its creation on; to its
/// first task from the answers that surely hold one (work on a task), and to its first time
/// entry from those that surely hold one (time logged, an entry corrected): a link points only
/// at what its answer has (a deal made at a stage that gives no task has none).
fn wire(doc: &mut Json) {
    for (path, method, id) in OPERATIONS {
        if let Some(op) = doc["paths"][*path].get_mut(*method) {
            op["operationId"] = json!(id);
        }
    }
    let next = |base: &str, tasks: bool, entries: bool| {
        let id = json!({"id": "$response.body#/id"});
        let with = |key: &str, pointer: &str| {
            let mut p = id.clone();
            p[key] = json!(format!("$response.body#{base}{pointer}"));
            p
        };
        let mut links = json!({
            "GetDeal": {"operationId": "getDeal", "parameters": id},
            "SendEvent": {"operationId": "sendEvent", "parameters": id},
            "EditDeal": {"operationId": "editDeal", "parameters": id},
            "ExplainDeal": {"operationId": "explainDeal", "parameters": id},
            "OptOut": {"operationId": "optOut", "parameters": id},
            "OptIn": {"operationId": "optIn", "parameters": id},
            "ErasePersonalData": {"operationId": "erasePersonalData", "parameters": id},
        });
        if tasks {
            links["WorkOnTask"] = json!({"operationId": "workOnTask",
                "parameters": with("task", "/tasks/0/task")});
            links["LogTime"] = json!({"operationId": "logTime",
                "parameters": with("task", "/tasks/0/task")});
        }
        if entries {
            links["AmendTime"] = json!({"operationId": "amendTime",
                "parameters": with("entry", "/time_entries/0/entry")});
        }
        links
    };
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for op in paths.values_mut().filter_map(Json::as_object_mut) {
        for o in op.values_mut() {
            let id = o["operationId"].as_str();
            let tasks = matches!(id, Some("workOnTask" | "logTime"));
            let entries = matches!(id, Some("logTime" | "amendTime"));
            let Some(responses) = o.get_mut("responses").and_then(Json::as_object_mut) else {
                continue;
            };
            for r in responses.values_mut() {
                let schema = &r["content"]["application/json"]["schema"]["$ref"];
                let base = match schema.as_str() {
                    Some("#/components/schemas/Created") => "/deal",
                    Some("#/components/schemas/Deal") => "",
                    _ => continue,
                };
                r["links"] = next(base, tasks, entries);
            }
        }
    }
}

/// The paths and components.
fn paths(v: &Vocabulary<'_>) -> Json {
    let plan = v.plan;
    // In a query, an empty name (`?stage=`, as a form sends it) filters nothing.
    let names = |mut v: Vec<&str>| {
        v.push("");
        json!({"type": "string", "enum": v})
    };
    let stages = names(plan.stages.iter().map(|x| x.name.as_str()).collect());
    let phases = names(plan.phases.iter().map(|x| x.name.as_str()).collect());
    let alerts = names(plan.alerts.iter().map(|x| x.name.as_str()).collect());
    let post_errors = [
        "400", "401", "403", "404", "409", "413", "415", "422", "503",
    ];
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "dealflow",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Deals moving through a sales pipeline written in dealflow's language. Authenticate with `Authorization: Bearer TOKEN`; scopes: `intake` (create leads only), `staff` (everything), `read` (reads only)."
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/leads": {"post": op(
                "A new deal from a website form; form names are mapped to fields by [intake.fields].",
                ("201", "Created.", json!({"$ref": "#/components/schemas/Created"})),
                &post_errors,
                json!({"parameters": [idem_param()], "requestBody": {"required": true, "content": {
                    "application/x-www-form-urlencoded": {"schema": v.lead_body(true)},
                    "multipart/form-data": {"schema": v.lead_body(true)},
                    "application/json": {"schema": v.lead_body(false)}
                }}}),
            )},
            "/api/v1/deals": {
                "post": op(
                    "A deal, optionally at any stage.",
                    ("201", "Created.", json!({"$ref": "#/components/schemas/Created"})),
                    &post_errors,
                    json!({"parameters": [idem_param()], "requestBody": {"required": true, "content": {"application/json": {"schema": new_deal_body(v)}}}}),
                ),
                "get": op(
                    "Deals, filtered, in id order, a page at a time; or, with `q`, the deals found by words (their id, title, client's name, phones, emails; live ones first; no further page).",
                    ("200", "A page.", json!({"type": "object", "properties": {
                        "deals": {"type": "array", "items": {"$ref": "#/components/schemas/DealRow"}},
                        "next": {"type": ["string", "null"], "description": "Pass as `after` for the next page."}
                    }})),
                    &["400", "401", "403", "422", "503"],
                    json!({"parameters": [
                        {"name": "stage", "in": "query", "schema": stages.clone()},
                        {"name": "phase", "in": "query", "schema": phases},
                        {"name": "alert", "in": "query", "schema": alerts},
                        {"name": "person", "in": "query", "schema": {"type": "string"}},
                        {"name": "live", "in": "query", "schema": {"type": "boolean"}},
                        {"name": "after", "in": "query", "schema": {"type": "string"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
                        {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "Words every deal found has, in any case; a phone as typed is found by its digits. The best `limit` matches (live deals first), kept when they pass the other filters; one page (`after` does not apply)."}
                    ]}),
                )
            },
            "/api/v1/deals/{id}": {"get": op(
                "A deal with its history (each entry with its cause, the rule file:line and the rules version) and the events applied to it with their fields.",
                ("200", "The deal.", deal_ref()),
                &["401", "403", "404", "409", "503"],
                json!({"parameters": [id_param()]}),
            ), "patch": op(
                "A person edits the deal: fields and roles set (converted by their declarations) or cleared with null. A step like any other: `field_set` records caused by \"edited by PERSON\", then what the change makes happen (guard-only transitions, alerts, `at` timers armed again on their field); a role given to another person hands them the open tasks of that role. A required field, or one a stage the deal is in requires, cannot be cleared (422).",
                ("200", "Applied: the deal after it.", deal_ref()),
                &post_errors,
                json!({"parameters": [id_param(), idem_param()], "requestBody": {"required": true, "content": {"application/json": {"schema": edit_body(v)}}}}),
            )},
            "/api/v1/deals/{id}/explain": {"get": op(
                "Why the deal is where it is: its story step by step (what came in, what the engine did, each effect with the rule file:line), refused inputs with their reasons.",
                ("200", "The story.", json!({"$ref": "#/components/schemas/Explanation"})),
                &["400", "401", "403", "404", "503"],
                json!({"parameters": [id_param(),
                    {"name": "lang", "in": "query", "required": false, "schema": {"type": "string", "enum": ["en", "ru"]}}]}),
            )},
            "/api/v1/refusals": {"get": op(
                "Inputs the rules turned away (events, creations, work on tasks), newest first.",
                ("200", "The refusals.", json!({"type": "array", "items": {"$ref": "#/components/schemas/Refusal"}})),
                &["400", "401", "403", "422", "503"],
                json!({"parameters": [
                    {"name": "deal", "in": "query", "required": false, "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}]}),
            )},
            "/api/v1/deals/{id}/events": {"post": op(
                "Sends an event to a deal.",
                ("200", "Applied: the deal after it.", deal_ref()),
                &post_errors,
                json!({"parameters": [id_param(), idem_param()], "requestBody": {"required": true, "content": {"application/json": {"schema": event_body(v)}}}}),
            )},
            "/api/v1/deals/{id}/tasks/{task}/{action}": {"post": op(
                "Work on a task. `start` starts the person's timer on it (`by`, or the task's assignee; their timer on any other task, of any deal, pauses and logs its time first); `pause` stops it and logs the time it ran as a time entry (wall clock, at most `[tasks] timer_cap_hours`); `done` stops a running timer the same way and closes the task.",
                ("200", "Applied: the deal after it.", deal_ref()),
                &post_errors,
                json!({"parameters": [id_param(), idem_param(), task_param(),
                    {"name": "action", "in": "path", "required": true, "schema": {"enum": ["start", "pause", "done"]}}],
                    "requestBody": {"required": false, "content": {"application/json": {"schema": task_body(v, false)}}}}),
            )},
            "/api/v1/deals/{id}/tasks/{task}/log": {"post": op(
                "Time spent on a task, logged by hand: `hours` (0.01 to 1000) by `by` (default: the token's person, else the task's assignee).",
                ("200", "Applied: the deal after it.", deal_ref()),
                &post_errors,
                json!({"parameters": [id_param(), idem_param(), task_param()],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": task_body(v, true)}}}}),
            )},
            "/api/v1/deals/{id}/time/{entry}": {"patch": op(
                "Corrects a time entry of the deal (a timer left running, a typo): its hours replaced, the task's hours follow. Audited: a `time_amended` record in the deal's history with the hours before and after and who corrected them.",
                ("200", "Applied: the deal after it.", deal_ref()),
                &post_errors,
                json!({"parameters": [id_param(), idem_param(),
                    {"name": "entry", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 0}}],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": amend_body(v)}}}}),
            )},
            "/api/v1/team": {"get": op(
                "The team with open tasks per person.",
                ("200", "The team.", json!({"type": "array", "items": {"type": "object"}})),
                &["401", "403", "503"],
                json!({}),
            )},
            "/api/v1/rules": {"get": op(
                "The rules version running and the last reload's result.",
                ("200", "Rules status.", json!({"type": "object"})),
                &["401", "403", "503"],
                json!({}),
            )},
            "/api/v1/rules/reload": {"post": reload_op()},
            "/api/v1/deals/{id}/personal-data": {"delete": op(
                "Erases the client's personal data (152-FZ, GDPR): the pipeline's `personal` fields and every phone and email field, the deal's title, the texts of its messages and the client's addresses — in the deal, its history, its events, its refusals, the outbox and kept answers. Messages not yet sent are not sent. The history keeps its shape and gains an entry saying who erased what.",
                ("200", "What was erased.", json!({"type": "object", "required": ["deal", "erased"], "properties": {
                    "deal": {"type": "string"}, "by": {"type": ["string", "null"]},
                    "erased": {"type": "object", "required": ["fields", "history", "events", "refusals", "messages", "revision"], "properties": {
                        "fields": {"type": "array", "items": {"type": "string"}},
                        "history": {"type": "integer"}, "events": {"type": "integer"},
                        "refusals": {"type": "integer"}, "messages": {"type": "integer"},
                        "revision": {"type": "integer"}}}}})),
                &["401", "403", "404", "503"],
                json!({"parameters": [id_param()]}),
            )},
            "/api/v1/deals/{id}/opt-outs/{channel}": {
                "put": op(
                    "The client opted out of a channel: the outbox skips their messages on it (each said in the deal's history as a skipped notification).",
                    ("200", "The channels the client is opted out of now.", opt_outs()),
                    &["401", "403", "404", "422", "503"],
                    json!({"parameters": [id_param(), channel_param()]}),
                ),
                "delete": op(
                    "The client opted back in to a channel.",
                    ("200", "The channels the client is opted out of now.", opt_outs()),
                    &["401", "403", "404", "422", "503"],
                    json!({"parameters": [id_param(), channel_param()]}),
                ),
            },
            "/healthz": {"get": {"summary": "Liveness: the daemon answers (nothing is read).", "security": [],
                "responses": {"200": {"description": "Alive."}}}},
            "/readyz": {"get": {"summary": "Readiness: a write to the database succeeds now (probed at most once a second).", "security": [],
                "responses": {"200": {"description": "Ready."}, "503": {"description": "The database cannot be written to; `Retry-After` says when to ask again."}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics. With `[server] metrics_require_token`, only for a `read` or `staff` token.",
                "security": [{}, {"bearer": []}],
                "responses": {"200": {"description": "Text exposition format.", "content": {"text/plain": {}}},
                    "401": {"description": "A token is required here, and none (or not a valid one) was sent."},
                    "403": {"description": "The token's scope does not allow this."},
                    "429": too_many()}}}
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
                "Created": {"type": "object", "required": ["id", "deal"], "properties": {
                    "id": {"type": "string"}, "deal": deal_ref()}},
                "Deal": {"type": "object", "required": ["id", "title", "stages", "fields", "tasks", "alerts"], "properties": {
                    "id": {"type": "string"}, "title": {"type": "string"}, "parent": {"type": "string"},
                    "created_at": {"type": "string", "format": "date-time"}, "live": {"type": "boolean"},
                    "stages": {"type": "array", "items": {"type": "string"}},
                    "phases": {"type": "array", "items": {"type": "string"}},
                    "fields": {"type": "object"}, "people": {"type": "object"},
                    "tasks": {"type": "array", "items": {"type": "object", "properties": {
                        "timer": {"type": ["object", "null"], "required": ["by", "since"], "properties": {
                            "by": {"type": "string"}, "since": {"type": "string", "format": "date-time"}}}}}},
                    "time_entries": {"type": "array", "items": {"type": "object",
                        "required": ["entry", "user", "hours", "rate", "at"], "properties": {
                        "entry": {"type": "integer"}, "task": {"type": ["string", "null"]}, "user": {"type": "string"},
                        "hours": {"type": "number"}, "rate": {"type": "number"},
                        "at": {"type": "string", "format": "date-time"}}}},
                    "alerts": {"type": "array", "items": {"type": "string"}},
                    "hours_spent": {"type": "number"}, "revision": {"type": "integer"},
                    "history": {"type": "array", "items": {"type": "object"}},
                    "events": {"type": "array", "items": {"type": "object"}},
                    "contact_checks": contact_checks()}},
                "DealRow": {"type": "object", "properties": {
                    "id": {"type": "string"}, "title": {"type": "string"}, "parent": {"type": ["string", "null"]},
                    "stages": {"type": "array", "items": {"type": "string"}},
                    "phases": {"type": "array", "items": {"type": "string"}},
                    "alerts": {"type": "array", "items": {"type": "string"}},
                    "people": {"type": "array", "items": {"type": "string"}},
                    "live": {"type": "boolean"}, "revision": {"type": "integer"}}},
                "Explanation": {"type": "object", "required": ["deal", "stages", "live", "steps"], "properties": {
                    "deal": {"type": "string"}, "stages": {"type": "array", "items": {"type": "string"}},
                    "live": {"type": "boolean"},
                    "waiting": {"type": "array", "items": {"type": "object"}},
                    "steps": {"type": "array", "items": {"type": "object", "required": ["at", "input", "version", "effects", "notes"], "properties": {
                        "at": {"type": "string"}, "input": {"type": "string"}, "by": {"type": ["string", "null"]},
                        "via": {"type": ["string", "null"]},
                        "fields": {}, "version": {"type": "integer"},
                        "effects": {"type": "array", "items": {"type": "object"}},
                        "refused": {"type": ["object", "null"]},
                        "notes": {"type": "array", "items": {"type": "string"}}}}}}},
                "Refusal": {"type": "object", "required": ["deal", "at", "input", "name", "code", "reason", "version"], "properties": {
                    "deal": {"type": "string"}, "at": {"type": "string"}, "input": {"type": "string", "enum": ["create", "event", "task", "edit", "time"]},
                    "name": {"type": "string"}, "fields": {}, "by": {"type": ["string", "null"]},
                    "via": {"type": ["string", "null"]}, "origin": {"type": ["string", "null"]},
                    "code": {"type": "string"}, "reason": {"type": "string"}, "rule": {"type": ["string", "null"]},
                    "version": {"type": "integer"}}},
                "Plan": {"type": "object", "required": ["applicable", "reasons", "summary", "deals", "stranded"], "properties": {
                    "applicable": {"type": "boolean"},
                    "reasons": {"type": "array", "items": {"type": "string"}},
                    "at": {"type": "string"}, "running_version": {"type": ["integer", "null"]},
                    "live_deals": {"type": "integer"},
                    "summary": {"type": "object"},
                    "deals": {"type": "array", "items": {"type": "object"}},
                    "stranded": {"type": "array", "items": {"type": "object"}},
                    "warnings": {"type": "array", "items": {"type": "string"}}}},
                "Reload": {"type": "object", "properties": {
                    "at": {"type": "string"}, "applied": {"type": "boolean"}, "queued": {"type": "boolean"},
                    "version": {"type": "integer"},
                    "message": {"type": "string"}, "misfits": {"type": "array", "items": {"type": "string"}}}}
            }
        }
    })
}

/// A deal's contacts to check, as its answer lists them.
fn contact_checks() -> Json {
    json!({"type": "array",
        "description": "A website lead's phone or email that did not read: the text as typed, until someone sets the field or dismisses it.",
        "items": {"type": "object", "required": ["field", "typed", "reason", "at"], "properties": {
            "field": {"type": "string"}, "typed": {"type": "string"}, "reason": {"type": "string"},
            "at": {"type": "string", "format": "date-time"}}}})
}
