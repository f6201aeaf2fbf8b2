//! Request bodies checked against the schemas the document publishes, before the engine sees
//! them: what the document calls valid the server takes, and what it does not the server
//! refuses with 422, by construction. Formats the document names are checked by the engine's
//! own readers (a phone as the outbox keeps it, an address lettre can send to, a moment in the
//! pipeline's time zone).

use std::sync::Arc;

use chrono::NaiveDate;
use jsonschema::Validator;
use serde_json::Value as Json;

use super::bodies::Vocabulary;
use super::say::say;
use crate::compile::Plan;

/// The bodies of one rules version and team, compiled.
pub(crate) struct Bodies {
    /// The rules version they were made for.
    pub version: i64,
    /// Website form names → fields, for the words of a lead's refusal.
    intake: std::collections::BTreeMap<String, String>,
    new_deal: Validator,
    lead: Validator,
    edit: Validator,
    events: Vec<(String, Validator)>,
    task: Validator,
    log: Validator,
    amend: Validator,
}

/// Which body a request sends.
#[derive(Clone, Copy)]
pub(crate) enum Body<'a> {
    /// `POST /deals`.
    NewDeal,
    /// `POST /leads`, a form's names and values.
    Lead,
    /// `PATCH /deals/{id}`.
    Edit,
    /// `POST /deals/{id}/events`.
    Event,
    /// `POST /deals/{id}/tasks/{task}/{action}`, the action named.
    Task(&'a str),
    /// `PATCH /deals/{id}/time/{entry}`.
    Amend,
}

/// A local moment as the engine reads it (its pattern, in the document beside the format,
/// says which texts are one: every one of them is read here, a time the clocks skip too).
fn local_moment(tz: chrono_tz::Tz, s: &str) -> bool {
    // Only a local time here (one with an offset is `date-time`'s), read as the engine reads it.
    crate::calendar::rfc3339(s.trim()).is_none() && crate::calendar::request_moment(tz, s).is_some()
}

impl Bodies {
    /// Compiles the schemas of `vocabulary`.
    pub(crate) fn new(vocabulary: &Vocabulary<'_>, version: i64) -> Result<Bodies, String> {
        let plan = vocabulary.plan;
        let (tz, country) = (plan.tz, plan.country);
        let options = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .with_format("phone", move |s| {
                crate::contact::phone("phone", s, country).is_ok()
            })
            .with_format("email", |s| crate::contact::email("email", s).is_ok())
            .with_format("date", |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok())
            .with_format("date-time", |s| crate::calendar::rfc3339(s).is_some())
            .with_format("local-date-time", move |s| local_moment(tz, s));
        let build = |schema: &Json| options.build(schema).map_err(|e| e.to_string());
        Ok(Bodies {
            version,
            intake: vocabulary.intake.clone(),
            new_deal: build(&super::new_deal_body(vocabulary))?,
            lead: build(&vocabulary.lead_body(false))?,
            edit: build(&super::edit_body(vocabulary))?,
            events: vocabulary
                .event_bodies()
                .into_iter()
                .map(|(name, body)| Ok((name, build(&body)?)))
                .collect::<Result<_, String>>()?,
            task: build(&super::task_body(vocabulary, false))?,
            log: build(&super::task_body(vocabulary, true))?,
            amend: build(&super::amend_body(vocabulary))?,
        })
    }

    /// Refuses a body the document does not allow, saying where and why (in the engine's
    /// words where a field's value is wrong: `plan` is the pipeline the bodies were made from).
    pub(crate) fn check(&self, plan: &Plan, body: Body<'_>, value: &Json) -> Result<(), String> {
        let v = match body {
            Body::NewDeal => &self.new_deal,
            Body::Lead => &self.lead,
            Body::Edit => &self.edit,
            Body::Amend => &self.amend,
            Body::Task("log") => &self.log,
            Body::Task(_) => &self.task,
            Body::Event => {
                let name = value.get("name").and_then(Json::as_str);
                match name.and_then(|n| self.events.iter().find(|(e, _)| e == n)) {
                    Some((_, v)) => v,
                    None => {
                        // Not an object with a known name: the engine's own words say which.
                        if name.is_some() && value.is_object() {
                            return Ok(());
                        }
                        return Err("the body must be an object with the event's `name`".into());
                    }
                }
            }
        };
        let lead = matches!(body, Body::Lead).then_some(&self.intake);
        match v.iter_errors(value).next() {
            None => Ok(()),
            Some(e) => Err(say(
                plan,
                lead,
                value,
                &e.instance_path().to_string(),
                &e.to_string(),
            )),
        }
    }
}

/// The compiled bodies of the rules running now, made again when the rules change.
#[derive(Default)]
pub(crate) struct Cache(std::sync::Mutex<Option<Arc<Bodies>>>);

impl Cache {
    /// The bodies of `version`, compiled once.
    pub(crate) fn get(
        &self,
        vocabulary: &Vocabulary<'_>,
        version: i64,
    ) -> Result<Arc<Bodies>, String> {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = slot.as_ref().filter(|b| b.version == version) {
            return Ok(b.clone());
        }
        let made = Arc::new(
            Bodies::new(vocabulary, version)
                .map_err(|e| format!("the API's body schemas do not compile: {e}"))?,
        );
        *slot = Some(made.clone());
        Ok(made)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(p: &str) -> Validator {
        jsonschema::validator_for(&serde_json::json!({"type": "string", "pattern": p}))
            .expect("compiles")
    }

    #[test]
    fn every_local_moment_the_pattern_allows_is_read_in_any_zone() {
        let local = pattern(&super::super::bodies::local_moment_pattern());
        let zones = [
            chrono_tz::Europe::Moscow,
            chrono_tz::Europe::Berlin,
            chrono_tz::America::Sao_Paulo,
        ];
        for (text, ok) in [
            ("2026-03-02T10:00", true),
            ("2026-03-02T10:00:59", true),
            ("2026-03-02 10:00", true),
            ("2024-02-29T00:00", true),
            ("2000-02-29T00:00", true),
            ("1900-02-29T00:00", false),
            ("2026-02-29T00:00", false),
            ("2026-04-31T00:00", false),
            ("2026-13-01T00:00", false),
            ("2026-03-02T24:00", false),
            ("2026-03-02 10:00:00", false),
            ("2026-3-2T10:00", false),
            ("", false),
            // The hour Berlin skips, and a midnight São Paulo skipped.
            ("2026-03-29T02:30", true),
            ("2018-11-04T00:30", true),
            // A moment of the year 0 falls before it in UTC east of Greenwich.
            ("0000-01-01T00:00", false),
            ("0001-01-01T00:00", true),
        ] {
            assert_eq!(local.is_valid(&serde_json::json!(text)), ok, "{text}");
            if ok {
                for tz in zones {
                    assert!(local_moment(tz, text), "{text} in {tz}");
                }
            }
        }
        let date = pattern(&format!("^{}$", super::super::bodies::DATE));
        for (text, ok) in [
            ("2026-03-02", true),
            ("2024-02-29", true),
            ("2100-02-29", false),
            ("2026-06-31", false),
        ] {
            assert_eq!(date.is_valid(&serde_json::json!(text)), ok, "{text}");
            assert_eq!(
                NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
                ok,
                "{text}"
            );
        }
    }

    proptest::proptest! {
        /// What the pattern allows, the engine reads, in a zone with clocks that jump.
        #[test]
        fn the_local_pattern_allows_only_what_is_read(
            text in "[0-9]{4}-[01][0-9]-[0-3][0-9][T ][0-2][0-9]:[0-5][0-9](:[0-6][0-9])?"
        ) {
            let local = pattern(&super::super::bodies::local_moment_pattern());
            if local.is_valid(&serde_json::json!(text)) {
                for tz in [chrono_tz::Europe::Berlin, chrono_tz::America::Sao_Paulo, chrono_tz::Pacific::Apia] {
                    proptest::prop_assert!(local_moment(tz, &text), "{} in {}", text, tz);
                }
            }
        }
    }
}
