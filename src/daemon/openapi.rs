//! The API's description, OpenAPI 3.1, served at `/api/v1/openapi.json`.

use serde_json::{Value as Json, json};

fn error_responses(codes: &[&str]) -> serde_json::Map<String, Json> {
    let mut m = serde_json::Map::new();
    for c in codes {
        let what = match *c {
            "400" => "The body or query does not read (not valid JSON, a bad form).",
            "401" => "No token, or not a valid one.",
            "403" => "The token's scope does not allow this.",
            "404" => "No such deal (or path).",
            "409" => {
                "The deal is not where this makes sense (an event no active stage expects, a task already done, an id taken)."
            }
            "413" => "The body is larger than the server takes.",
            "415" => "The body is not JSON (or, for leads, not a form).",
            "422" => {
                "The request does not fit the pipeline (unknown event, missing or mistyped fields, a phone or email that is not one, a text with control characters, a `by` not in the team, a require gate not met, a step that failed), a deal id outside the safe alphabet, a `limit` outside 1 to 1000, or an Idempotency-Key reused for another request (keys are each token's own)."
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

fn op(summary: &str, ok: (&str, &str, Json), errors: &[&str], extra: Json) -> Json {
    let mut responses = error_responses(errors);
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
    json!({"name": "id", "in": "path", "required": true, "description": "1 to 100 letters, digits, `-`, `_`, `.` or `/`; no part between slashes is empty, `.` or `..` (`ivan/1`, sent as `ivan%2F1`).",
        "schema": {"type": "string", "minLength": 1, "maxLength": 100}})
}

fn idem_param() -> Json {
    json!({"name": "Idempotency-Key", "in": "header", "required": false,
           "description": "A retry with the same key gets the first answer and changes nothing.",
           "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[ -~]*[!-~][ -~]*$"}})
}

/// The document, with the names of the pipeline running now (events, stages, phases,
/// alerts, fields) where the API takes them, so that whoever connects a website or a tool sees
/// the pipeline's own vocabulary.
pub(super) fn document(plan: &crate::compile::Plan) -> Json {
    let names = |v: Vec<&str>| json!({"type": "string", "enum": v});
    let events = names(plan.events.iter().map(|e| e.name.as_str()).collect());
    let stages = names(plan.stages.iter().map(|x| x.name.as_str()).collect());
    let phases = names(plan.phases.iter().map(|x| x.name.as_str()).collect());
    let alerts = names(plan.alerts.iter().map(|x| x.name.as_str()).collect());
    let fields: serde_json::Map<String, Json> = plan
        .fields
        .iter()
        .map(|f| {
            let label = f.label.clone().unwrap_or_default();
            let what = if f.required {
                format!("{label} (required to create a deal)")
                    .trim()
                    .to_string()
            } else {
                label
            };
            (f.name.clone(), json!({"description": what}))
        })
        .collect();
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
                    "application/x-www-form-urlencoded": {"schema": {"type": "object", "additionalProperties": {"type": "string"}}},
                    "application/json": {"schema": {"type": "object"}}
                }}}),
            )},
            "/api/v1/deals": {
                "post": op(
                    "A deal, optionally at any stage.",
                    ("201", "Created.", json!({"$ref": "#/components/schemas/Created"})),
                    &post_errors,
                    json!({"parameters": [idem_param()], "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["title"], "additionalProperties": false,
                        "properties": {
                            "id": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[A-Za-z0-9_./-]+$", "description": "Default: a new id. Letters, digits, `-`, `_`, `.`, `/`."},
                            "title": {"type": "string"},
                            "stage": {"oneOf": [stages.clone(), {"type": "array", "items": stages.clone()}]},
                            "fields": {"type": "object", "properties": fields},
                            "quiet": {"type": "boolean", "default": false, "description": "Start at the stage without its `on enter` actions (an import of an old deal: no welcome message, no tasks); its timers are armed as at any stage."}
                        }}}}}}),
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
                        {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "Words every deal found has, in any case; a phone as typed is found by its digits. With other filters or `after`: 400."}
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
                json!({"parameters": [id_param(), idem_param()], "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["fields"], "additionalProperties": false,
                    "properties": {"fields": {"type": "object", "minProperties": 1}, "by": {"type": "string"}}
                }}}}}),
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
                json!({"parameters": [id_param(), idem_param()], "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["name"], "additionalProperties": false,
                    "properties": {"name": events, "fields": {"type": "object", "properties": fields.clone()}, "by": {"type": "string"}}
                }}}}}),
            )},
            "/api/v1/deals/{id}/tasks/{task}/{action}": {"post": op(
                "Work on a task. `start` starts the person's timer on it (`by`, or the task's assignee; their timer on any other task, of any deal, pauses and logs its time first); `pause` stops it and logs the time it ran as a time entry (wall clock, at most `[tasks] timer_cap_hours`); `done` stops a running timer the same way and closes the task; `log` adds `{hours, by}` by hand.",
                ("200", "Applied: the deal after it.", deal_ref()),
                &post_errors,
                json!({"parameters": [id_param(), idem_param(),
                    {"name": "task", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "action", "in": "path", "required": true, "schema": {"enum": ["start", "pause", "done", "log"]}}],
                    "requestBody": {"required": false, "content": {"application/json": {"schema": {
                        "type": "object", "additionalProperties": false,
                        "properties": {"hours": {"oneOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "string", "pattern": "^[0-9]+([.][0-9]+)?$"}]}, "by": {"type": "string"}}
                    }}}}}),
            )},
            "/api/v1/deals/{id}/time/{entry}": {"patch": op(
                "Corrects a time entry of the deal (a timer left running, a typo): its hours replaced, the task's hours follow. Audited: a `time_amended` record in the deal's history with the hours before and after and who corrected them.",
                ("200", "Applied: the deal after it.", deal_ref()),
                &post_errors,
                json!({"parameters": [id_param(), idem_param(),
                    {"name": "entry", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 0}}],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["hours"], "additionalProperties": false,
                        "properties": {"hours": {"oneOf": [{"type": "number", "minimum": 0, "maximum": 24}, {"type": "string", "pattern": "^[0-9]+([.][0-9]+)?$"}]}, "by": {"type": "string"}}
                    }}}}}),
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
                    "403": {"description": "The token's scope does not allow this."}}}}
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
                    "events": {"type": "array", "items": {"type": "object"}}}},
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
                        "fields": {}, "version": {"type": "integer"},
                        "effects": {"type": "array", "items": {"type": "object"}},
                        "refused": {"type": ["object", "null"]},
                        "notes": {"type": "array", "items": {"type": "string"}}}}}}},
                "Refusal": {"type": "object", "required": ["deal", "at", "input", "name", "code", "reason", "version"], "properties": {
                    "deal": {"type": "string"}, "at": {"type": "string"}, "input": {"type": "string", "enum": ["create", "event", "task"]},
                    "name": {"type": "string"}, "fields": {}, "by": {"type": ["string", "null"]},
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
