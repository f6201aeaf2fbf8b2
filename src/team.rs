//! The team: who works on deals, with their roles, contacts, hourly rates and how many open
//! tasks each has; and a member as a scenario or the daemon's configuration writes it.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Deserialize;

/// A team member.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// Identifier (`anna`).
    pub id: String,
    /// Name shown to people.
    pub name: String,
    /// Roles by name.
    pub roles: Vec<String>,
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Telegram chat id, for messages `via telegram`.
    pub telegram: Option<String>,
    /// Whether they are told of the tasks given to them (on by default).
    pub notices: bool,
    /// Hourly rate.
    pub rate: Decimal,
}

/// The team and how many open tasks each member has (across all deals).
#[derive(Debug, Clone, Default)]
pub struct Team {
    /// Members, sorted by id.
    pub members: Vec<Member>,
    /// Open tasks per member id.
    pub load: BTreeMap<String, i64>,
    /// The most one task timer logs at once, in hours (`None`: [`Team::TIMER_CAP`]): a timer
    /// left running overnight logs this much, not the night.
    pub timer_cap: Option<Decimal>,
}

impl Team {
    /// A team from its members (sorted by id, no open tasks).
    pub fn new(mut members: Vec<Member>) -> Self {
        members.sort_by(|a, b| a.id.cmp(&b.id));
        Team {
            members,
            load: BTreeMap::new(),
            timer_cap: None,
        }
    }

    /// The cap of a timer's entry when none is configured: a working day.
    pub const TIMER_CAP: Decimal = Decimal::from_parts(10, 0, 0, false, 0);

    /// The most one timer's entry logs, in hours.
    pub fn timer_cap(&self) -> Decimal {
        self.timer_cap.unwrap_or(Self::TIMER_CAP)
    }

    /// A member by id.
    pub fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    /// Applies the open-task changes of a committed step.
    pub fn apply(&mut self, delta: &[(String, i64)]) {
        for (id, d) in delta {
            *self.load.entry(id.clone()).or_default() += d;
        }
    }
}

/// A `[[team]]` entry, as scenarios and the daemon's configuration write it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamMember {
    /// Identifier.
    pub id: String,
    /// Name (default: the id).
    pub name: Option<String>,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Telegram chat id (the bot's chat with them), for messages `via telegram`.
    pub telegram: Option<String>,
    /// Tell them of each task given to them (default: yes), by Telegram when they have a
    /// chat id, else by email.
    pub notices: Option<bool>,
    /// Hourly rate (a number; default 0).
    pub rate: Option<toml::Value>,
}

/// A `[[team]]` entry that does not describe a member.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TeamError {
    /// The rate is not a number.
    #[error("team member `{0}`: `rate` must be a number")]
    Rate(String),
}

impl TeamMember {
    /// The member as the engine knows it.
    pub fn member(&self) -> Result<Member, TeamError> {
        let rate = match &self.rate {
            None => Decimal::ZERO,
            Some(v) => decimal(v).ok_or_else(|| TeamError::Rate(self.id.clone()))?,
        };
        Ok(Member {
            name: self.name.clone().unwrap_or_else(|| self.id.clone()),
            id: self.id.clone(),
            roles: self.roles.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            telegram: self.telegram.clone(),
            notices: self.notices.unwrap_or(true),
            rate,
        })
    }
}

/// A number written in TOML (whole, with a fraction, or as text): a rate, hours worked.
pub(crate) fn decimal(v: &toml::Value) -> Option<Decimal> {
    match v {
        toml::Value::Integer(n) => Some(Decimal::from(*n)),
        toml::Value::Float(f) => f.to_string().parse().ok(),
        toml::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
