//! The kinds of value an expression can have, and the arithmetic between them.

use std::fmt;

/// The kind of a value.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    /// Text.
    Text,
    /// A whole number.
    Int,
    /// A number with a fraction.
    Decimal,
    /// An amount of money.
    Money,
    /// Yes or no.
    Bool,
    /// A calendar date.
    Date,
    /// A date and a time of day.
    DateTime,
    /// A time of day.
    Time,
    /// A length of time; `days` when it counts whole days (`3d`, `2 workdays`).
    Duration {
        /// Counts whole days.
        days: bool,
    },
    /// A phone number.
    Phone,
    /// An email address.
    Email,
    /// A Telegram chat: its numeric id (`123456789`) or a public `@name`.
    Telegram,
    /// A link.
    Url,
    /// A team member.
    User,
    /// A list of records.
    List(Vec<(String, Ty)>),
    /// A record with named entries.
    Record(Vec<(String, Ty)>),
    /// The whole deal (for scripts).
    Deal,
    /// A file attached to an email.
    Attachment,
    /// Not known here (a script's result, or after an earlier error): fits anywhere.
    Unknown,
}

impl Ty {
    /// The type of a field declared with this name, if it is one.
    pub fn from_field_type(name: &str) -> Option<Ty> {
        Some(match name {
            "text" => Ty::Text,
            "int" => Ty::Int,
            "decimal" => Ty::Decimal,
            "money" => Ty::Money,
            "bool" => Ty::Bool,
            "date" => Ty::Date,
            "datetime" => Ty::DateTime,
            "phone" => Ty::Phone,
            "email" => Ty::Email,
            "telegram" => Ty::Telegram,
            "url" => Ty::Url,
            "user" => Ty::User,
            _ => return None,
        })
    }

    /// Every field type name, for suggestions.
    pub const FIELD_TYPES: &'static [&'static str] = &[
        "text", "int", "decimal", "money", "bool", "date", "datetime", "phone", "email",
        "telegram", "url", "user",
    ];

    /// Whether it is a number of any kind.
    pub fn is_number(&self) -> bool {
        matches!(self, Ty::Int | Ty::Decimal | Ty::Money)
    }

    /// Whether it is text of any kind.
    pub fn is_text(&self) -> bool {
        matches!(
            self,
            Ty::Text | Ty::Phone | Ty::Email | Ty::Telegram | Ty::Url | Ty::User
        )
    }

    /// Whether it is a date or a moment.
    pub fn is_moment(&self) -> bool {
        matches!(self, Ty::Date | Ty::DateTime)
    }

    /// Whether a value of type `value` may be stored in a field of this type.
    pub fn accepts(&self, value: &Ty) -> bool {
        if *value == Ty::Unknown || *self == Ty::Unknown || self == value {
            return true;
        }
        match self {
            Ty::Decimal | Ty::Money => value.is_number(),
            Ty::Text => value.is_text(),
            Ty::Phone | Ty::Email | Ty::Telegram | Ty::Url | Ty::User => *value == Ty::Text,
            Ty::Duration { .. } => matches!(value, Ty::Duration { .. }),
            _ => false,
        }
    }

    /// Whether two values can be compared with `==`/`!=` (and ordered, when `ordered`).
    pub fn comparable(&self, other: &Ty, ordered: bool) -> bool {
        if *self == Ty::Unknown || *other == Ty::Unknown {
            return true;
        }
        let same_class = (self.is_number() && other.is_number())
            || (self.is_text() && other.is_text())
            || (self.is_moment() && other.is_moment())
            || matches!((self, other), (Ty::Duration { .. }, Ty::Duration { .. }))
            || self == other;
        let orderable = !matches!(
            self,
            Ty::Bool | Ty::List(_) | Ty::Record(_) | Ty::Deal | Ty::Attachment
        );
        same_class && (!ordered || orderable)
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ty::Text => "text",
            Ty::Int => "a whole number",
            Ty::Decimal => "a number",
            Ty::Money => "money",
            Ty::Bool => "yes/no",
            Ty::Date => "a date",
            Ty::DateTime => "a date and time",
            Ty::Time => "a time of day",
            Ty::Duration { .. } => "a duration",
            Ty::Phone => "a phone number",
            Ty::Email => "an email address",
            Ty::Telegram => "a Telegram chat",
            Ty::Url => "a link",
            Ty::User => "a team member",
            Ty::List(_) => "a list",
            Ty::Record(_) => "a record",
            Ty::Deal => "the deal",
            Ty::Attachment => "an attachment",
            Ty::Unknown => "a value",
        })
    }
}

/// A duration unit as written: whether it is known and whether it counts whole days.
pub fn duration_unit(unit: &str) -> Option<bool> {
    match unit {
        "m" | "h" | "workhour" | "workhours" => Some(false),
        "d" | "w" | "workday" | "workdays" => Some(true),
        _ => None,
    }
}

/// The unit a common spelling probably meant.
pub fn unit_hint(unit: &str) -> Option<&'static str> {
    Some(match unit.to_lowercase().as_str() {
        "min" | "mins" | "minute" | "minutes" => "m",
        "hr" | "hrs" | "hour" | "hours" => "h",
        "day" | "days" => "d",
        "week" | "weeks" | "wk" => "w",
        "working_day" | "workingday" | "workingdays" | "business_days" | "bd" => "workdays",
        "working_hours" | "workinghours" | "business_hours" => "workhours",
        _ => return None,
    })
}

/// Known units, for suggestions.
pub const UNITS: &[&str] = &[
    "m",
    "h",
    "d",
    "w",
    "workday",
    "workdays",
    "workhour",
    "workhours",
];
