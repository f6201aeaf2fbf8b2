//! Values a deal holds and expressions compute. "No value" is `None` around a [`Value`].

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A length of time as written: calendar time or working time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Duration {
    /// Minutes of calendar time (`15m`, `2h`, `3d`, `1w`).
    Minutes(i64),
    /// Working days by the calendar.
    Workdays(i64),
    /// Working hours by the calendar, in minutes.
    WorkMinutes(i64),
}

impl Duration {
    /// Hours, for estimates (working and calendar time alike).
    pub fn hours(self) -> Decimal {
        match self {
            Duration::Minutes(m) | Duration::WorkMinutes(m) => Decimal::from(m) / Decimal::from(60),
            Duration::Workdays(d) => Decimal::from(d * 8),
        }
    }
}

/// A value. Stored (in the daemon's database) as `{"type": "decimal", "value": "150000.50"}`:
/// the type is kept and decimals stay exact text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Value {
    /// Text (also phone numbers, emails, links).
    Text(String),
    /// A whole number.
    Int(i64),
    /// An exact decimal (also money).
    Decimal(Decimal),
    /// Yes or no.
    Bool(bool),
    /// A calendar date.
    Date(NaiveDate),
    /// A moment.
    DateTime(DateTime<Utc>),
    /// A time of day.
    Time(NaiveTime),
    /// A duration.
    Duration(Duration),
    /// A team member, by id.
    User(String),
    /// A list.
    List(Vec<Value>),
    /// A record with named entries.
    Record(BTreeMap<String, Value>),
    /// A calendar invitation to attach to an email.
    Invite(Box<Invite>),
}

/// Refuses text holding control characters (a NUL, an escape …), which no store keeps alike
/// and no reader expects: the error names `what` and the first such character. Tabs and line
/// breaks are allowed when the text may span lines (`multiline`).
pub fn no_control(what: &str, text: &str, multiline: bool) -> Result<(), String> {
    match text
        .chars()
        .enumerate()
        .find(|&(_, c)| unkept(c, multiline))
    {
        None => Ok(()),
        Some((at, c)) => Err(format!(
            "`{what}` must not contain control characters (U+{:04X} at character {})",
            c as u32,
            at + 1
        )),
    }
}

/// Characters that take no room: zero-width spaces and joiners, the word joiner, the byte
/// order mark, the soft hyphen. Pasted text carries them where nobody sees them.
pub const ZERO_WIDTH: [char; 6] = [
    '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{00AD}',
];

/// Whether `c` takes no room (see [`ZERO_WIDTH`]).
pub fn zero_width(c: char) -> bool {
    ZERO_WIDTH.contains(&c)
}

/// What a text that shows something holds, as a JSON Schema pattern (what [`blank`] refuses):
/// a character that is neither a space nor one that takes no room.
pub fn shown_pattern() -> String {
    let mut p = String::from("[^\\s");
    for c in ZERO_WIDTH {
        p.push_str(&format!("\\u{:04X}", u32::from(c)));
    }
    p.push(']');
    p
}

/// Whether a text shows nothing: empty, spaces, or characters that take no room.
pub fn blank(text: &str) -> bool {
    text.chars().all(|c| c.is_whitespace() || zero_width(c))
}

/// A control character a text may not hold: all of them, but tabs and line breaks where the
/// text may span lines (`multiline`).
pub fn unkept(c: char, multiline: bool) -> bool {
    c.is_control() && !(multiline && matches!(c, '\t' | '\n' | '\r'))
}

/// A meeting invitation (an iCalendar event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invite {
    /// When it starts.
    pub start: DateTime<Utc>,
    /// When it ends.
    pub end: DateTime<Utc>,
    /// Where.
    pub place: String,
    /// Called off: the invitation withdrawn (`cancellation(…)`).
    pub cancelled: bool,
}

impl Value {
    /// Equal and written the same: unlike `==`, `1.0` and `1.00` differ (a script can tell them
    /// apart by printing them).
    pub fn identical(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Decimal(a), Value::Decimal(b)) => a == b && a.scale() == b.scale(),
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.identical(y))
            }
            (Value::Record(a), Value::Record(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, va), (kb, vb))| ka == kb && va.identical(vb))
            }
            (a, b) => a == b,
        }
    }

    /// Feeds the value to a hasher so that identical values (see [`Value::identical`]) hash
    /// the same.
    pub fn hash_identity<H: std::hash::Hasher>(&self, h: &mut H) {
        use std::hash::Hash;
        std::mem::discriminant(self).hash(h);
        match self {
            Value::Text(s) | Value::User(s) => s.hash(h),
            Value::Int(n) => n.hash(h),
            Value::Decimal(d) => {
                d.mantissa().hash(h);
                d.scale().hash(h);
            }
            Value::Bool(b) => b.hash(h),
            Value::Date(d) => d.hash(h),
            Value::DateTime(t) => t.hash(h),
            Value::Time(t) => t.hash(h),
            Value::Duration(d) => d.hash(h),
            Value::List(items) => {
                items.len().hash(h);
                for v in items {
                    v.hash_identity(h);
                }
            }
            Value::Record(map) => {
                map.len().hash(h);
                for (k, v) in map {
                    k.hash(h);
                    v.hash_identity(h);
                }
            }
            Value::Invite(inv) => {
                inv.start.hash(h);
                inv.end.hash(h);
                inv.place.hash(h);
                inv.cancelled.hash(h);
            }
        }
    }

    /// The value as an exact number, for arithmetic.
    pub fn as_decimal(&self) -> Option<Decimal> {
        match self {
            Value::Int(n) => Some(Decimal::from(*n)),
            Value::Decimal(d) => Some(*d),
            _ => None,
        }
    }

    /// The value as text, when it is text of any kind.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) | Value::User(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(s) | Value::User(s) => f.write_str(s),
            Value::Int(n) => write!(f, "{n}"),
            Value::Decimal(d) => write!(f, "{}", d.normalize()),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Value::DateTime(dt) => write!(f, "{}", dt.format("%Y-%m-%dT%H:%M:%SZ")),
            Value::Time(t) => write!(f, "{}", t.format("%H:%M")),
            Value::Duration(Duration::Minutes(m)) => write!(f, "{m}m"),
            Value::Duration(Duration::Workdays(d)) => write!(f, "{d} workdays"),
            Value::Duration(Duration::WorkMinutes(m)) => {
                write!(f, "{} workhours", Decimal::from(*m) / Decimal::from(60))
            }
            Value::List(items) => write!(f, "[{} items]", items.len()),
            Value::Record(_) => f.write_str("{record}"),
            Value::Invite(_) => f.write_str("invite.ics"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_tells_decimals_apart_by_how_they_are_written() {
        let d = |s: &str| Value::Decimal(s.parse().expect("a decimal"));
        assert!(d("1.0").identical(&d("1.0")));
        assert_eq!(d("1.0"), d("1.00"), "equal as numbers");
        assert!(!d("1.0").identical(&d("1.00")), "but written differently");
        let list = |v: Value| Value::List(vec![Value::Int(1), v]);
        assert!(list(d("2.5")).identical(&list(d("2.5"))));
        assert!(!list(d("2.5")).identical(&list(d("2.50"))));
        assert!(!Value::Int(1).identical(&d("1")));
    }
}
