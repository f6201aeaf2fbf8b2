//! Values and moments as JSON: numbers for numbers and money, text for dates and moments (in
//! the pipeline's zone, to the second; RFC 3339 in UTC to the microsecond where the store keeps
//! them); and JSON as the engine takes it, loosely typed.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value as Json, json};

use crate::value::Value;

/// A moment as stored for people: RFC 3339 in UTC, to the microsecond.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A moment in the pipeline's zone as the JSON forms write it (`2026-03-02T09:15:00+03:00`).
pub fn at(t: &DateTime<Utc>, tz: Tz) -> String {
    At(*t, tz).to_string()
}

/// A moment in the pipeline's zone, RFC 3339 to the second (`2026-03-02T09:15:00+03:00`),
/// written straight into the output: a timeline has several of these per event.
pub(crate) struct At(pub(crate) DateTime<Utc>, pub(crate) Tz);

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use chrono::{Datelike, Offset, Timelike};
        let local = self.0.with_timezone(&self.1);
        let offset = local.offset().fix().local_minus_utc();
        if offset % 60 != 0 || !(0..=9999).contains(&local.year()) {
            // Offsets with seconds (zones before standard time) and far years: chrono's way.
            return f.write_str(&local.to_rfc3339_opts(SecondsFormat::Secs, false));
        }
        let (sign, offset) = if offset < 0 {
            (b'-', -offset)
        } else {
            (b'+', offset)
        };
        let mut buf = *b"0000-00-00T00:00:00+00:00";
        let mut put = |at: usize, width: usize, mut n: u32| {
            for i in (at..at + width).rev() {
                buf[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(0, 4, local.year() as u32);
        put(5, 2, local.month());
        put(8, 2, local.day());
        put(11, 2, local.hour());
        put(14, 2, local.minute());
        put(17, 2, local.second());
        put(20, 2, (offset / 3600) as u32);
        put(23, 2, (offset / 60 % 60) as u32);
        buf[19] = sign;
        // Only ASCII digits and signs were written.
        f.write_str(std::str::from_utf8(&buf).map_err(|_| std::fmt::Error)?)
    }
}

impl serde::Serialize for At {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.collect_str(self)
    }
}

/// A value as JSON: numbers for numbers and money, text for dates and moments.
pub fn value_json(v: &Value, tz: Tz) -> Json {
    match v {
        Value::Text(s) | Value::User(s) => Json::String(s.clone()),
        Value::Int(n) => json!(n),
        Value::Decimal(d) => {
            let text = d.normalize().to_string();
            text.parse::<serde_json::Number>()
                .map(Json::Number)
                .unwrap_or(Json::String(text))
        }
        Value::Bool(b) => Json::Bool(*b),
        Value::Date(d) => Json::String(d.format("%Y-%m-%d").to_string()),
        Value::DateTime(t) => Json::String(at(t, tz)),
        Value::List(items) => Json::Array(items.iter().map(|i| value_json(i, tz)).collect()),
        Value::Record(m) => Json::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), value_json(v, tz)))
                .collect(),
        ),
        other => Json::String(other.to_string()),
    }
}

/// A value as the HTTP API writes it: as [`value_json`], but moments in UTC ([`stamp`]).
pub fn value_json_utc(v: &Value) -> Json {
    match v {
        Value::DateTime(t) => Json::String(stamp(*t)),
        Value::List(items) => Json::Array(items.iter().map(value_json_utc).collect()),
        Value::Record(m) => Json::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), value_json_utc(v)))
                .collect(),
        ),
        other => value_json(other, Tz::UTC),
    }
}

/// A moment written in local time with its offset, in UTC as the HTTP API writes moments
/// ([`stamp`]); anything else as it is.
pub fn utc_text(j: &mut Json) {
    if let Json::String(s) = j
        && let Ok(t) = DateTime::parse_from_rfc3339(s)
    {
        *s = stamp(t.with_timezone(&Utc));
    }
}

/// A number of hours, a rate: as JSON numbers are written.
pub(crate) fn number(d: rust_decimal::Decimal) -> Json {
    value_json(&Value::Decimal(d), Tz::UTC)
}

/// A JSON value as the engine takes it, loosely typed: the pipeline's declarations convert it
/// (text to a date, a number to money) and refuse what does not fit.
pub fn json_value(j: &Json) -> Option<Value> {
    Some(match j {
        Json::Null => return None,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.to_string().parse::<i64>() {
            Ok(i) => Value::Int(i),
            // A number no decimal holds stays text: the declaration then refuses it by name.
            Err(_) => number_decimal(n)
                .map(Value::Decimal)
                .unwrap_or_else(|| Value::Text(n.to_string())),
        },
        Json::String(s) => Value::Text(s.clone()),
        Json::Array(items) => Value::List(items.iter().filter_map(json_value).collect()),
        Json::Object(m) => Value::Record(
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), json_value(v)?)))
                .collect(),
        ),
    })
}

/// A JSON number as a decimal: exactly as written when a decimal holds it, else rounded to
/// the 28 places a decimal has (`1e-30` is 0); `None` when it is too large for one.
pub fn number_decimal(n: &serde_json::Number) -> Option<rust_decimal::Decimal> {
    use rust_decimal::prelude::FromPrimitive;
    let text = n.to_string();
    text.parse()
        .or_else(|_| rust_decimal::Decimal::from_scientific(&text))
        .ok()
        .or_else(|| {
            let f: f64 = text.parse().ok().filter(|f: &f64| f.is_finite())?;
            if f.abs() < 1e-28 {
                Some(rust_decimal::Decimal::ZERO)
            } else {
                rust_decimal::Decimal::from_f64(f)
            }
        })
}

/// A JSON object's entries as engine values (nulls left out).
pub fn json_fields(m: &Map<String, Json>) -> BTreeMap<String, Value> {
    m.iter()
        .filter_map(|(k, v)| Some((k.clone(), json_value(v)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_are_written_as_chrono_writes_them() {
        let zones: [Tz; 5] = [
            chrono_tz::Europe::Moscow,
            chrono_tz::UTC,
            chrono_tz::America::New_York,
            chrono_tz::Asia::Kolkata,
            chrono_tz::Europe::Amsterdam,
        ];
        let moments = [
            "2026-03-02T06:15:00Z",
            "2026-03-29T00:59:59Z",
            "2026-03-29T01:00:00Z",
            "2026-11-01T05:30:00Z",
            "2026-12-31T23:59:59Z",
            "1900-01-01T12:00:00Z",
        ];
        for tz in zones {
            for m in moments {
                let t = DateTime::parse_from_rfc3339(m).unwrap().with_timezone(&Utc);
                let chrono = t
                    .with_timezone(&tz)
                    .to_rfc3339_opts(SecondsFormat::Secs, false);
                assert_eq!(At(t, tz).to_string(), chrono, "{m} in {tz}");
                assert_eq!(
                    serde_json::to_string(&At(t, tz)).unwrap(),
                    format!("\"{chrono}\"")
                );
            }
        }
    }
}
