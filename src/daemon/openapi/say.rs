//! What a body that does not fit its schema is told, in the words the engine uses for the same
//! mistake (`` `amount` must be a number, not `abc` ``, `` `client_name` must not contain control
//! characters (U+0000 at character 3) ``), so that the check before the engine says no less
//! than the engine did. Where no field is concerned, the schema's own complaint and where.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::compile::{PayloadType, Plan};
use crate::types::Ty;

/// The message for a complaint `what` about the value at `path` (a JSON pointer) of `body`;
/// `lead`: the body is a website form's, its names mapped to fields by these.
pub(crate) fn say(
    plan: &Plan,
    lead: Option<&BTreeMap<String, String>>,
    body: &Json,
    path: &str,
    what: &str,
) -> String {
    let at: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let value = body.pointer(path).unwrap_or(&Json::Null);
    let ty = match (at.as_slice(), lead) {
        ([name], Some(m)) => field_ty(plan, m.get(*name).map_or(name, String::as_str)),
        (["fields", name], None) => field_ty(plan, name).or_else(|| payload_ty(plan, name, None)),
        (["fields", name, _, entry], None) => payload_ty(plan, name, Some(entry)),
        (["by"], None) => Some(Ty::User).filter(|_| value.is_string()),
        (["title"], None) => Some(Ty::Url),
        _ => None,
    };
    let name = match at.as_slice() {
        ["fields", name, i, entry] => match i.parse::<usize>() {
            Ok(i) => format!("{name}.{entry} (entry {})", i + 1),
            Err(_) => format!("{name}.{entry}"),
        },
        [.., last] => (*last).to_string(),
        [] => String::new(),
    };
    match ty.and_then(|t| engine_words(plan, &t, &name, value)) {
        Some(m) => m,
        None if at.is_empty() => match lead.and_then(|m| lead_needs(plan, m, body)) {
            Some(m) => m,
            None => format!("the body does not fit: {what}"),
        },
        None => format!("`{}`: {what}", at.join(".")),
    }
}

/// What a website lead lacks, in the engine's words: a required field given under none of its
/// names, or holding only spaces (`a deal needs `client_name` (as `name`) to be created`).
fn lead_needs(plan: &Plan, names: &BTreeMap<String, String>, body: &Json) -> Option<String> {
    let given = |name: &str| match body.get(name) {
        Some(Json::String(t)) => !crate::value::blank(t),
        Some(Json::Number(_) | Json::Bool(_)) => true,
        _ => false,
    };
    let missing: Vec<String> = plan
        .fields
        .iter()
        .filter(|f| f.required && !f.derived)
        .filter_map(|f| {
            let mut under: Vec<&str> = names
                .iter()
                .filter(|(_, to)| **to == f.name)
                .map(|(n, _)| n.as_str())
                .collect();
            under.push(&f.name);
            (!under.iter().any(|n| given(n))).then(|| {
                let forms: Vec<String> = under
                    .iter()
                    .filter(|n| **n != f.name)
                    .map(|n| format!("`{n}`"))
                    .collect();
                if forms.is_empty() {
                    format!("`{}`", f.name)
                } else {
                    format!("`{}` (as {})", f.name, forms.join(" or "))
                }
            })
        })
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "a deal needs {} to be created, with more than spaces in it",
            missing.join(", ")
        )
    })
}

fn field_ty(plan: &Plan, name: &str) -> Option<Ty> {
    if let Some(&f) = plan.field_index.get(name) {
        return Some(plan.fields[f].ty.clone());
    }
    plan.role_index.get(name).map(|_| Ty::User)
}

/// The type of an event's payload value `name` (of its list entry `entry`).
fn payload_ty(plan: &Plan, name: &str, entry: Option<&str>) -> Option<Ty> {
    plan.events.iter().find_map(|e| {
        let (_, t) = e.payload.iter().find(|(n, _)| n == name)?;
        match (t, entry) {
            (PayloadType::Scalar(t), None) => Some(t.clone()),
            (PayloadType::List(entries), Some(k)) => {
                entries.iter().find(|(n, _)| n == k).map(|(_, t)| t.clone())
            }
            _ => None,
        }
    })
}

/// The engine's words for `value` as a `ty`, when it has some.
fn engine_words(plan: &Plan, ty: &Ty, name: &str, value: &Json) -> Option<String> {
    let text = value.as_str();
    let shown = match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    let bad = |what: &str| Some(format!("`{name}` must be {what}, not `{shown}`"));
    match ty {
        Ty::Phone => match text {
            Some(s) => crate::value::no_control(name, s, false)
                .and_then(|()| crate::contact::phone(name, s, plan.country))
                .err(),
            None => bad("a phone number, as text"),
        },
        Ty::Email => match text {
            Some(s) => crate::value::no_control(name, s, false)
                .and_then(|()| crate::contact::email(name, s))
                .err(),
            None => bad("an email address"),
        },
        Ty::Telegram => match text {
            Some(s) => crate::contact::telegram(name, s).err(),
            None => bad("a Telegram chat id"),
        },
        Ty::Text | Ty::Url => match text {
            Some(s) => crate::value::no_control(name, s, *ty == Ty::Text).err(),
            None => bad("text"),
        },
        Ty::Int => bad("a whole number of at most 15 digits"),
        Ty::Decimal | Ty::Money => bad("a number of at most 15 digits before the point"),
        Ty::Bool => bad("true or false"),
        Ty::Date => bad("a date like 2026-03-02"),
        Ty::DateTime => bad("a date and time like 2026-03-02T10:00"),
        Ty::User => match text {
            Some(s) => crate::value::no_control(name, s, false)
                .err()
                .or_else(|| Some(format!("`{name}`: `{s}` is not in the team"))),
            None => bad("a team member's id"),
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/web-studio.flow");
        crate::load::RuleFile::read(&rules)
            .ok()
            .and_then(|f| f.ready().ok())
            .map(|r| r.plan)
            .expect("the reference compiles")
    }

    #[test]
    fn a_value_that_does_not_fit_is_told_in_the_engines_words() {
        let plan = plan();
        let body = serde_json::json!({"fields": {"client_name": "Iv\u{0}an", "amount": "abc",
            "contracts": [{"amount": "x"}]}, "by": "nobody"});
        assert_eq!(
            say(&plan, None, &body, "/fields/client_name", "no"),
            "`client_name` must not contain control characters (U+0000 at character 3)"
        );
        assert_eq!(
            say(&plan, None, &body, "/fields/amount", "no"),
            "`amount` must be a number of at most 15 digits before the point, not `abc`"
        );
        assert_eq!(
            say(&plan, None, &body, "/fields/contracts/0/amount", "no"),
            "`contracts.amount (entry 1)` must be a number of at most 15 digits before the point, not `x`"
        );
        assert_eq!(
            say(&plan, None, &body, "/by", "no"),
            "`by`: `nobody` is not in the team"
        );
        assert_eq!(
            say(&plan, None, &body, "", "no"),
            "the body does not fit: no"
        );
        assert_eq!(say(&plan, None, &body, "/stage", "no"), "`stage`: no");
    }

    #[test]
    fn a_lead_without_a_name_is_told_what_it_lacks_not_the_schema() {
        let plan = plan();
        let names: BTreeMap<String, String> = [("name", "client_name"), ("phone", "client_phone")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        for body in [
            serde_json::json!({"name": "  ", "phone": "8 916 100-20-31"}),
            serde_json::json!({"phone": "8 916 100-20-31"}),
        ] {
            let said = say(
                &plan,
                Some(&names),
                &body,
                "",
                "is not valid under any of the schemas",
            );
            assert_eq!(
                said,
                "a deal needs `client_name` (as `name`) to be created, with more than spaces in it"
            );
            assert!(!said.contains("916"), "the body is not echoed");
        }
    }
}
