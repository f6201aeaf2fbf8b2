//! The request bodies the API takes, as JSON Schemas made from the pipeline running now and the
//! team: each field with its type, the fields a deal needs, one body per event with what that
//! event carries, `by` one of the team. The server checks every body against these very
//! schemas before the engine sees it (see [`super::check`]), so the document cannot promise
//! more or less than the server keeps.

use serde_json::{Map, Value as Json, json};

use crate::compile::{PayloadType, Plan, Slot};
use crate::types::Ty;

/// The largest whole number or amount a field takes: 15 digits before the point.
pub(crate) const MAX_NUMBER: i64 = 999_999_999_999_999;

/// A text on one line: no control characters (`char::is_control`).
const LINE: &str = "^[^\\x00-\\x1F\\x7F-\\x9F]*$";
/// A text that may span lines: tabs and line breaks too.
const LINES: &str = "^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$";

/// A date that exists, `YYYY-MM-DD` (29 February in leap years only).
pub(crate) const DATE: &str = "(?:[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[048]|[2468][048]|[13579][26])00)-02-29)";
/// A time of day, `HH:MM`.
const TIME: &str = "(?:[01][0-9]|2[0-3]):[0-5][0-9]";

/// A local moment as the engine reads it: `2026-03-02T10:00`, `2026-03-02T10:00:00` or
/// `2026-03-02 10:00`, a date that exists (from the year 1: a moment of the year 0 would fall
/// before it in UTC east of Greenwich, which no answer could write) and a time of day.
pub(crate) fn local_moment_pattern() -> String {
    format!("^(?!0000){DATE}(?:T{TIME}(?::[0-5][0-9])?| {TIME})$")
}

/// What the schemas are made from: the pipeline and the ids of the team.
pub(crate) struct Vocabulary<'a> {
    /// The pipeline running now.
    pub plan: &'a Plan,
    /// The team's ids (empty: no team configured, `by` is only a name).
    pub team: Vec<String>,
    /// Website form names → the fields they fill (`[intake.fields]`).
    pub intake: std::collections::BTreeMap<String, String>,
    /// The form name that gives a lead's title (`[intake] title`).
    pub intake_title: Option<String>,
}

impl Vocabulary<'_> {
    /// A team member's id; no value at all when there is no team (a `user` field can never
    /// be set then: the engine finds nobody).
    fn user(&self) -> Json {
        if self.team.is_empty() {
            json!(false)
        } else {
            json!({"type": "string", "enum": self.team, "description": "A team member's id."})
        }
    }

    /// Who did it: one of the team, or any name on one line when there is no team.
    pub(crate) fn by(&self) -> Json {
        if self.team.is_empty() {
            json!({"type": "string", "pattern": LINE, "description": "Who did it (default: the token's person)."})
        } else {
            json!({"type": "string", "enum": self.team, "description": "Who did it, a team member's id (default: the token's person)."})
        }
    }

    /// A value of type `ty` as a request may send it.
    pub(crate) fn value(&self, ty: &Ty) -> Json {
        let number = |min: i64| json!({"type": "integer", "minimum": min, "maximum": MAX_NUMBER});
        match ty {
            Ty::Text => json!({"type": ["string", "number"], "pattern": LINES}),
            Ty::Url => json!({"type": ["string", "number"], "pattern": LINE}),
            Ty::Int => json!({"anyOf": [number(-MAX_NUMBER),
                {"type": "string", "pattern": "^[+-]?[0-9]{1,15}$"}],
                "description": "A whole number of at most 15 digits."}),
            Ty::Decimal | Ty::Money => json!({"anyOf": [
                {"type": "number", "minimum": -MAX_NUMBER, "maximum": MAX_NUMBER},
                {"type": "string", "pattern": "^[+-]?[0-9]{1,15}([.][0-9]{1,13})?$"}],
                "description": "A number of at most 15 digits before the point (as text: exact)."}),
            Ty::Bool => json!({"anyOf": [{"type": "boolean"}, {"enum": ["true", "false"]}]}),
            Ty::Date => json!({"type": "string", "format": "date", "pattern": format!("^{DATE}$"),
                "description": "2026-03-02"}),
            Ty::DateTime => {
                json!({"type": "string", "anyOf": [{"format": "date-time"},
                    {"format": "local-date-time", "pattern": local_moment_pattern()}],
                "description": "RFC 3339 with an offset, or `2026-03-02T10:00` (`2026-03-02T10:00:00`, `2026-03-02 10:00`) in the pipeline's time zone; a time the clocks skip is read as on the clock before the jump."})
            }
            Ty::Phone => json!({"type": "string", "format": "phone",
                "pattern": crate::contact::phone_pattern(self.plan.country),
                "description": "A phone number with its country code (`+7 916 123-45-67`), or without it where the pipeline has its `country`; spaces, dots, dashes and brackets between the digits; kept in E.164."}),
            Ty::Email => json!({"type": "string", "format": "email"}),
            Ty::Telegram => json!({"anyOf": [
                {"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX},
                {"type": "string", "pattern": "^(-?[0-9]{1,20}|@[A-Za-z0-9_]{5,32})$"}],
                "description": "A Telegram chat id (`123456789`) or a public `@name`."}),
            Ty::User => self.user(),
            Ty::List(entries) | Ty::Record(entries) => {
                let record = self.record(entries);
                if matches!(ty, Ty::List(_)) {
                    json!({"type": "array", "items": record})
                } else {
                    record
                }
            }
            Ty::Duration { .. } | Ty::Time | Ty::Deal | Ty::Attachment | Ty::Unknown => json!({}),
        }
    }

    fn record(&self, entries: &[(String, Ty)]) -> Json {
        let props: Map<String, Json> = entries
            .iter()
            .map(|(n, t)| (n.clone(), self.value(t)))
            .collect();
        json!({"type": "object", "properties": props, "additionalProperties": false})
    }

    /// The type a field or role slot holds.
    fn slot_ty(&self, slot: Slot) -> Ty {
        match slot {
            Slot::Field(f) => self.plan.fields[f].ty.clone(),
            Slot::Role(_) => Ty::User,
        }
    }

    /// A field's or role's name.
    pub(crate) fn slot_name(&self, slot: Slot) -> &str {
        match slot {
            Slot::Field(f) => &self.plan.fields[f].name,
            Slot::Role(r) => &self.plan.roles[r].name,
        }
    }

    /// What may be set by hand: every field not derived, and the roles.
    fn settable(&self) -> Vec<Slot> {
        let fields = (0..self.plan.fields.len())
            .filter(|&f| !self.plan.fields[f].derived)
            .map(Slot::Field);
        fields
            .chain((0..self.plan.roles.len()).map(Slot::Role))
            .collect()
    }

    fn described(&self, slot: Slot, mut schema: Json) -> Json {
        if let (Slot::Field(f), Json::Object(m)) = (slot, &mut schema)
            && let Some(label) = &self.plan.fields[f].label
        {
            m.entry("title").or_insert_with(|| json!(label));
        }
        schema
    }

    /// A new deal's `fields`: the required ones must be there (and not null).
    pub(crate) fn new_deal_fields(&self) -> Json {
        let mut props = Map::new();
        let mut required = Vec::new();
        for slot in self.settable() {
            let v = self.value(&self.slot_ty(slot));
            let name = self.slot_name(slot).to_string();
            let needed = matches!(slot, Slot::Field(f) if self.plan.fields[f].required);
            let v = if needed {
                required.push(name.clone());
                filled(v)
            } else {
                nullable(v)
            };
            props.insert(name, self.described(slot, v));
        }
        json!({"type": "object", "properties": props, "required": required,
            "additionalProperties": false})
    }

    /// A deal edited: fields and roles set, or cleared with null (never a derived one; a
    /// required one is changed, never cleared).
    pub(crate) fn edit_fields(&self) -> Json {
        let props: Map<String, Json> = self
            .settable()
            .into_iter()
            .map(|slot| {
                let v = self.value(&self.slot_ty(slot));
                let required = matches!(slot, Slot::Field(f) if self.plan.fields[f].required);
                let v = if required { filled(v) } else { nullable(v) };
                (self.slot_name(slot).to_string(), self.described(slot, v))
            })
            .collect();
        json!({"type": "object", "properties": props, "minProperties": 1,
            "additionalProperties": false})
    }

    /// One body per event: its name and what it carries.
    pub(crate) fn event_bodies(&self) -> Vec<(String, Json)> {
        self.plan
            .events
            .iter()
            .map(|e| {
                let mut props = Map::new();
                for &slot in &e.sets {
                    let v = nullable(self.value(&self.slot_ty(slot)));
                    props.insert(self.slot_name(slot).to_string(), self.described(slot, v));
                }
                for (name, ty) in &e.payload {
                    let v = match ty {
                        PayloadType::Scalar(t) => self.value(t),
                        PayloadType::List(entries) => self.value(&Ty::List(entries.clone())),
                    };
                    props.insert(name.clone(), nullable(v));
                }
                let body = json!({
                    "type": "object", "required": ["name"], "additionalProperties": false,
                    "properties": {
                        "name": {"const": e.name},
                        "fields": {"type": "object", "properties": props, "additionalProperties": false},
                        "by": self.by(),
                    }});
                (e.name.clone(), body)
            })
            .collect()
    }
}

impl Vocabulary<'_> {
    /// A lead from a website form: each name the form may send (`[intake.fields]`, or a
    /// field's own name) with its field's value, empty meaning not given; a field the deal
    /// needs given under one of its names; other names are ignored.
    pub(crate) fn lead_body(&self, form: bool) -> Json {
        let target = |name: &str| -> Option<usize> {
            let field = self.intake.get(name).map_or(name, String::as_str);
            self.plan.field_index.get(field).copied()
        };
        let names: Vec<&str> = self
            .intake
            .keys()
            .map(String::as_str)
            .chain(self.plan.fields.iter().map(|f| f.name.as_str()))
            .collect();
        let mut props = Map::new();
        let mut needs = Vec::new();
        for name in names {
            let Some(f) = target(name) else { continue };
            let field = &self.plan.fields[f];
            let v = if field.derived {
                let none = if form { json!([""]) } else { json!(["", null]) };
                json!({"enum": none, "description": "Computed by the pipeline: never sent."})
            } else {
                // A website's visitor types a phone or an email as they like: one that does not
                // read makes the deal without it, and the text waits to be checked.
                let v = match field.ty {
                    Ty::Phone | Ty::Email => json!({"type": ["string", "number"], "pattern": LINES,
                        "description": "As the visitor typed it: a phone or address that cannot be read is kept on the deal for the team to check."}),
                    _ => self.value(&field.ty),
                };
                if form {
                    json!({"anyOf": [strings_only(v), {"const": ""}]})
                } else {
                    json!({"anyOf": [v, {"enum": ["", null]}]})
                }
            };
            props.insert(name.to_string(), self.described(Slot::Field(f), v));
        }
        for (f, field) in self.plan.fields.iter().enumerate() {
            if !field.required {
                continue;
            }
            let given: Vec<Json> = props
                .keys()
                .filter(|n| target(n) == Some(f))
                .map(|n| json!({"required": [n], "properties": {n: filled(json!({"not": {"enum": ["", null]}}))}}))
                .collect();
            needs.push(json!({"anyOf": given}));
        }
        if let Some(t) = &self.intake_title {
            let title = json!({"type": ["string", "number", "boolean", "object", "array", "null"],
                "pattern": LINES, "description": "The lead's title."});
            match props.get_mut(t) {
                Some(p) => *p = json!({"allOf": [p.clone(), title]}),
                None => {
                    props.insert(t.clone(), title);
                }
            }
        }
        let mut body = json!({"type": "object", "properties": props});
        if form {
            // A name is a header's parameter in a multipart body: one line, no quotes (the
            // server refuses any other, `api::intake::name_reads`).
            body["additionalProperties"] = json!({"type": "string"});
            body["propertyNames"] = json!({"pattern": "^[^\\x00-\\x1F\\x7F-\\x9F\"\\\\]*$"});
        }
        if !needs.is_empty() {
            body["allOf"] = json!(needs);
        }
        body
    }
}

/// What of a value's schema a form can send: text only.
fn strings_only(v: Json) -> Json {
    let Json::Object(mut m) = v else { return v };
    if let Some(Json::Array(kinds)) = m.get("type")
        && kinds.contains(&json!("string"))
    {
        m.insert("type".into(), json!("string"));
    }
    if let Some(Json::Array(any)) = m.remove("anyOf") {
        let text: Vec<Json> = any
            .into_iter()
            .filter(|b| {
                b["type"] == json!("string")
                    || b["enum"]
                        .as_array()
                        .is_some_and(|e| e.iter().all(Json::is_string))
                    || b.get("format").is_some()
            })
            .collect();
        m.insert("anyOf".into(), json!(text));
    }
    Json::Object(m)
}

/// A required value: a text in it holds more than whitespace.
fn filled(v: Json) -> Json {
    json!({"allOf": [v, {"pattern": crate::value::shown_pattern(),
        "description": "Not only spaces (nor characters that take no room)."}]})
}

/// A value, or null (a null in a new deal or an event is no value; in an edit it clears).
fn nullable(v: Json) -> Json {
    if v == json!(false) {
        return json!({"type": "null"});
    }
    json!({"anyOf": [v, {"type": "null"}]})
}
