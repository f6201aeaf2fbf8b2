//! How an erasure blanks a stored JSON document: the personal fields' values (and an edit's
//! value before), the texts and client addresses of messages, and any other text that holds
//! one of the client's values (a group titled by the deal, a refusal's reason quoting the
//! phone as typed); and how a refusal of another deal is known to be the same client's.

use serde_json::Value as Json;

use super::Erasure;

/// What an erasure takes out: the personal field names, and the client's values as they were
/// seen (the title, each personal value, what an edit replaced), filled while blanking.
pub(super) struct Blanker<'a> {
    pub e: &'a Erasure,
    /// The title the deal keeps.
    pub title: String,
    /// The client's values: any text that holds one loses it.
    pub values: Vec<String>,
}

/// A value too short to scrub out of text safely (a one-letter name would blank every word).
const SHORTEST: usize = 3;

impl Blanker<'_> {
    /// Keeps a value of the client's (a string, or a number as written).
    pub(super) fn saw(&mut self, v: &Json) {
        let text = match v {
            Json::String(s) => s.trim().to_string(),
            Json::Number(n) => n.to_string(),
            _ => return,
        };
        if text.chars().count() >= SHORTEST && !self.values.contains(&text) {
            self.values.push(text);
        }
    }

    fn personal(&self, field: &str) -> bool {
        self.e.fields.iter().any(|p| p == field)
    }

    /// Blanks the client's data in a document; whether it changed anything. Each personal
    /// value it takes out is kept (see [`Blanker::saw`]).
    pub(super) fn blank(&mut self, v: &mut Json) -> bool {
        let mut changed = false;
        match v {
            Json::Object(m) => {
                let personal_field = m
                    .get("field")
                    .and_then(Json::as_str)
                    .is_some_and(|f| self.personal(f));
                if personal_field {
                    // The value set, and an edit's value before it.
                    for k in ["value", "from"] {
                        if let Some(x) = m.get(k).filter(|x| !x.is_null()).cloned() {
                            self.saw(&x);
                            m.insert(k.into(), Json::Null);
                            changed = true;
                        }
                    }
                }
                if m.get("kind").and_then(Json::as_str) == Some("notification") {
                    let client = m.get("to_kind").and_then(Json::as_str) == Some("client");
                    let mut keys = vec!["text", "subject"];
                    if client {
                        keys.push("to");
                    }
                    for k in keys {
                        if m.get(k).is_some_and(|x| x.as_str() != Some("")) {
                            m.insert(k.into(), Json::String(String::new()));
                            changed = true;
                        }
                    }
                    if m.get("attachments").is_some() {
                        m.remove("attachments");
                        changed = true;
                    }
                }
                for (k, x) in m.iter_mut() {
                    if self.personal(k) {
                        if !x.is_null() {
                            self.saw(x);
                            *x = Json::Null;
                            changed = true;
                        }
                    } else {
                        changed |= self.blank(x);
                    }
                }
            }
            Json::Array(items) => {
                for x in items {
                    changed |= self.blank(x);
                }
            }
            _ => {}
        }
        changed
    }

    /// Takes every value of the client's out of the texts of a document (`—` in its place);
    /// whether it changed anything.
    pub(super) fn scrub(&self, v: &mut Json) -> bool {
        match v {
            // A text that is a value of the client's as a whole goes whatever it looks like (a
            // comment holding just the phone, a hyphenated name).
            Json::String(s) if self.whole(s) => {
                *s = "—".to_string();
                true
            }
            Json::String(s) if self.machine(s) => false,
            Json::String(s) => match self.scrubbed(s) {
                Some(t) => {
                    *s = t;
                    true
                }
                None => false,
            },
            Json::Object(m) => m.values_mut().fold(false, |c, x| self.scrub(x) | c),
            Json::Array(items) => items.iter_mut().fold(false, |c, x| self.scrub(x) | c),
            _ => false,
        }
    }

    /// Whether a text of a record is a value the records are made of rather than words: a
    /// moment, a date, a number, a deal's id (`d-20261207-…`) or one of the pipeline's names. A
    /// client named `2026` or `won` leaves the moments, ids and stages that hold it whole.
    fn machine(&self, s: &str) -> bool {
        let id = s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.contains(['-', '/'])
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
        id || self.structural(s)
    }

    /// Whether a text is a moment, a date or one of the pipeline's names.
    fn dated_or_named(&self, s: &str) -> bool {
        crate::calendar::request_moment(chrono_tz::Tz::UTC, s).is_some()
            || chrono::DateTime::parse_from_rfc3339(s).is_ok()
            || chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
            || self.e.names.binary_search_by(|n| n.as_str().cmp(s)).is_ok()
    }

    /// Whether a text is a moment, a date, an exact number or one of the pipeline's names: a
    /// value a deal's document must keep as it is to read back.
    fn structural(&self, s: &str) -> bool {
        self.dated_or_named(s) || s.parse::<rust_decimal::Decimal>().is_ok()
    }

    /// Whether a text is, as a whole, one of the client's values, and not a value a deal's
    /// document keeps as it is (a date a birthday shares, an amount): it goes whole. A phone of
    /// theirs goes however it is written, digits alone too.
    fn whole(&self, s: &str) -> bool {
        let t = s.trim();
        let k = self.key(t);
        if !self.values.iter().any(|v| self.key(v) == k) || self.dated_or_named(t) {
            return false;
        }
        let phone = k.len() >= 7 && k.bytes().all(|b| b.is_ascii_digit());
        phone || t.parse::<rust_decimal::Decimal>().is_err()
    }

    /// A text without the client's values, if it held any: each as it was stored, and a phone
    /// of theirs however it is written in the text (`8 916 555 12 34` for `+79165551234`).
    pub(super) fn scrubbed(&self, text: &str) -> Option<String> {
        let mut out = text.to_string();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), "—");
            }
        }
        let phones: Vec<String> = self
            .values
            .iter()
            .map(|v| self.key(v))
            .filter(|k| k.len() >= 7 && k.bytes().all(|b| b.is_ascii_digit()))
            .collect();
        if !phones.is_empty() {
            out = self.without_phones(&out, &phones);
        }
        (out != text).then_some(out)
    }

    /// A text with every phone-like run (digits and `+ ( ) . -` and spaces, seven digits or
    /// more) that is one of `phones` (by its number; the last ten digits where a trunk prefix
    /// differs) put as `—`.
    fn without_phones(&self, text: &str, phones: &[String]) -> String {
        let same = |k: &str| {
            phones.iter().any(|p| {
                p == k || (p.len() >= 10 && k.len() >= 10 && p[p.len() - 10..] == k[k.len() - 10..])
            })
        };
        let part = |c: char| c.is_ascii_digit() || "+() .-".contains(c);
        let chars: Vec<char> = text.chars().collect();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while i < chars.len() {
            if !(chars[i].is_ascii_digit() || chars[i] == '+' || chars[i] == '(') {
                out.push(chars[i]);
                i += 1;
                continue;
            }
            let mut j = i;
            while j < chars.len() && part(chars[j]) {
                j += 1;
            }
            // The run ends at its last digit (or bracket): what follows is text again.
            let mut end = j;
            while end > i && !(chars[end - 1].is_ascii_digit() || chars[end - 1] == ')') {
                end -= 1;
            }
            let end = end.max(i + 1);
            let run: String = chars[i..end].iter().collect();
            let digits = run.chars().filter(char::is_ascii_digit).count();
            if digits >= 7 && same(&self.key(&run)) {
                out.push('—');
            } else {
                out.push_str(&run);
            }
            i = end;
        }
        out
    }

    /// Whether a refused input's fields (a JSON object) are the client's: a phone with the same
    /// number, the same email, or the same name.
    pub(super) fn same_client(&self, fields: &Json) -> bool {
        let Json::Object(m) = fields else {
            return false;
        };
        let mine: Vec<String> = self.values.iter().map(|v| self.key(v)).collect();
        m.iter().any(|(k, v)| {
            self.personal(k) && v.as_str().is_some_and(|t| mine.contains(&self.key(t)))
        })
    }

    /// A value as two ways of writing it compare: a phone by its number (read with the
    /// pipeline's country), anything else trimmed and in lower case.
    fn key(&self, text: &str) -> String {
        let t = text.trim();
        let digits = t.chars().filter(char::is_ascii_digit).count();
        if digits >= 7
            && t.chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        {
            let e164 = crate::contact::phone("", t, self.e.country).unwrap_or_else(|_| t.into());
            return e164.chars().filter(char::is_ascii_digit).collect();
        }
        t.to_lowercase()
    }
}

/// Gives the deal, wherever a document holds it (`{"id": deal, "title": …}`), its new title;
/// whether it did.
pub(super) fn retitle(v: &mut Json, deal: &str, title: &str) -> bool {
    match v {
        Json::Object(m) => {
            let mut changed = false;
            if m.get("id").and_then(Json::as_str) == Some(deal)
                && m.get("title").is_some_and(|t| t.as_str() != Some(title))
            {
                m.insert("title".into(), Json::String(title.to_string()));
                changed = true;
            }
            for x in m.values_mut() {
                changed |= retitle(x, deal, title);
            }
            changed
        }
        Json::Array(items) => {
            let mut changed = false;
            for x in items {
                changed |= retitle(x, deal, title);
            }
            changed
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;

    fn erasure() -> Erasure {
        Erasure {
            fields: vec!["client_phone".into(), "client_name".into()],
            title: "—".into(),
            by: Some("anna".into()),
            via: None,
            known: Vec::new(),
            at: Utc::now(),
            country: crate::contact::phone_country("RU"),
            webhooks: Vec::new(),
            names: vec!["lead".into(), "won".into()],
        }
    }

    #[test]
    fn personal_values_and_message_texts_are_blanked_and_the_shape_kept() {
        let e = erasure();
        let mut b = Blanker {
            e: &e,
            title: "—".into(),
            values: Vec::new(),
        };
        let mut set = json!({"kind": "field_set", "field": "client_phone", "from": "+79990000001", "value": "+79990000000"});
        assert!(b.blank(&mut set));
        assert_eq!(
            set,
            json!({"kind": "field_set", "field": "client_phone", "from": null, "value": null})
        );
        assert_eq!(b.values, ["+79990000000", "+79990000001"]);
        let mut other = json!({"kind": "field_set", "field": "amount", "value": 10});
        assert!(!b.blank(&mut other));
        let mut msg = json!({"kind": "notification", "to_kind": "client", "to": "+79990000000",
            "channel": "sms", "template": "welcome", "text": "Иван, здравствуйте", "attachments": ["a.ics"]});
        assert!(b.blank(&mut msg));
        assert_eq!(
            msg,
            json!({"kind": "notification", "to_kind": "client", "to": "",
            "channel": "sms", "template": "welcome", "text": ""})
        );
        let mut team = json!({"kind": "notification", "to_kind": "user", "to": "anna@studio.test", "text": "Позвоните Ивану"});
        assert!(b.blank(&mut team));
        assert_eq!(team["to"], "anna@studio.test");
        assert_eq!(team["text"], "");
        let mut payload = json!({"client_name": "Иван Петров", "meeting_place": "Офис"});
        assert!(b.blank(&mut payload));
        assert_eq!(
            payload,
            json!({"client_name": null, "meeting_place": "Офис"})
        );
        assert!(!b.blank(&mut payload), "a second erasure changes nothing");
        // Any other text that holds a value of the client's loses it.
        let mut group =
            json!({"kind": "group_created", "title": "Сайт: Иван Петров", "members": ["anna"]});
        assert!(b.scrub(&mut group));
        assert_eq!(group["title"], "Сайт: —");
        assert!(!b.scrub(&mut group));
        let mut note =
            json!("перезвонить на 8 (999) 000-00-01, или +7 999 000 00 00 вечером; код 1234567");
        assert!(b.scrub(&mut note));
        assert_eq!(note, "перезвонить на —, или — вечером; код 1234567");
    }

    #[test]
    fn a_client_whose_value_is_in_a_moment_an_id_a_number_or_a_stage_leaves_them_whole() {
        let e = erasure();
        let mut b = Blanker {
            e: &e,
            title: "—".into(),
            values: Vec::new(),
        };
        b.saw(&json!("2026"));
        b.saw(&json!("won"));
        let mut record = json!({
            "at": "2026-12-07T10:00:00.000000Z", "deal": "d-20261207-kambsr7x",
            "kind": "stage_changed", "from": "lead", "to": "won", "amount": "12026.50",
            "meeting_at": "2026-12-08T10:00", "due": "2026-12-09",
            "comment": "звонил 2026 раз, won the deal"});
        assert!(b.scrub(&mut record));
        assert_eq!(
            record,
            json!({
            "at": "2026-12-07T10:00:00.000000Z", "deal": "d-20261207-kambsr7x",
            "kind": "stage_changed", "from": "lead", "to": "won", "amount": "12026.50",
            "meeting_at": "2026-12-08T10:00", "due": "2026-12-09",
            "comment": "звонил — раз, — the deal"})
        );
    }

    #[test]
    fn a_value_of_the_clients_that_is_a_whole_text_goes_whatever_it_looks_like() {
        let e = erasure();
        let mut b = Blanker {
            e: &e,
            title: "—".into(),
            values: Vec::new(),
        };
        b.saw(&json!("Jean-Pierre"));
        b.saw(&json!("+79990001122"));
        b.saw(&json!("1990-05-01"));
        let mut doc = json!({"comment": "Jean-Pierre", "place": "8 999 000-11-22",
            "digits": "+79990001122", "infinity": "Inf", "met": "1990-05-01"});
        assert!(b.scrub(&mut doc));
        // A date a personal one shares stays: it is the deal's own value, not words.
        assert_eq!(
            doc,
            json!({"comment": "—", "place": "—", "digits": "—", "infinity": "Inf",
            "met": "1990-05-01"})
        );
    }

    #[test]
    fn a_refusal_is_the_same_clients_by_a_phone_however_typed_an_email_or_a_name() {
        let e = erasure();
        let mut b = Blanker {
            e: &e,
            title: "—".into(),
            values: Vec::new(),
        };
        b.saw(&json!("+79161234567"));
        b.saw(&json!("Иван Петров"));
        for same in [
            json!({"client_phone": "8 (916) 123-45-67"}),
            json!({"client_phone": "+7 916 123 45 67", "comment": "x"}),
            json!({"client_name": " иван петров "}),
        ] {
            assert!(b.same_client(&same), "{same}");
        }
        for other in [
            json!({"client_phone": "+7 916 123 45 68"}),
            json!({"comment": "Иван Петров"}),
            json!({"client_name": "Иван"}),
            json!([]),
        ] {
            assert!(!b.same_client(&other), "{other}");
        }
    }
}
