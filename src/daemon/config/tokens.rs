//! `[[tokens]]`: the API's bearer tokens, what each may do, whose it is and for whom it may act.
//! A token that belongs to a person acts as that person: what it does is recorded as theirs,
//! and it may name someone else (`by`) only where `act_for` says so. A token of no one (an
//! integration) may name anyone; its `name` is recorded beside what it did.

use serde::Deserialize;

use super::ConfigError;
use crate::team::TeamMember;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Create leads only (a website form).
    Intake,
    /// Everything.
    Staff,
    /// Read only.
    Read,
}

/// For whom a person's token may act besides its person: `act_for = ["petr", "olga"]`, or
/// `act_for = "team"` (anyone in the team).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ActFor {
    /// Only its person (the default).
    #[default]
    Nobody,
    /// These people.
    People(Vec<String>),
    /// Anyone in the team.
    Team,
}

impl ActFor {
    /// Whether it may act for `person`.
    pub fn covers(&self, person: &str) -> bool {
        match self {
            ActFor::Nobody => false,
            ActFor::People(p) => p.iter().any(|x| x == person),
            ActFor::Team => true,
        }
    }
}

impl<'de> Deserialize<'de> for ActFor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Word(String),
            People(Vec<String>),
        }
        match Written::deserialize(d)? {
            Written::Word(w) if w == "team" => Ok(ActFor::Team),
            Written::Word(w) => Err(serde::de::Error::custom(format!(
                "`act_for` is a list of team ids (`[\"petr\"]`) or \"team\", not \"{w}\""
            ))),
            Written::People(p) => Ok(ActFor::People(p)),
        }
    }
}

/// `[[tokens]]`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    /// The secret.
    pub token: String,
    /// What it may do.
    pub scope: Scope,
    /// A name for logs and the history (never the token itself).
    #[serde(default)]
    pub name: Option<String>,
    /// The team member it belongs to: what they do is recorded as theirs.
    #[serde(default)]
    pub person: Option<String>,
    /// For whom else its person may act (`by` in a request): the history then records both.
    #[serde(default)]
    pub act_for: ActFor,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("scope", &self.scope)
            .field("name", &self.name)
            .field("person", &self.person)
            .field("act_for", &self.act_for)
            .finish_non_exhaustive()
    }
}

/// Checks the tokens against the team: a token's person and the people it acts for are in it;
/// `act_for` belongs to a person's token.
pub(super) fn check(tokens: &[Token], team: &[TeamMember]) -> Result<(), ConfigError> {
    let known = |p: &str| team.iter().any(|m| m.id == p);
    for t in tokens {
        let named = t
            .name
            .as_deref()
            .map_or(String::new(), |n| format!(" (`{n}`)"));
        if let Some(p) = &t.person
            && !known(p)
        {
            return Err(ConfigError::Named(format!(
                "a token's `person = \"{p}\"`{named} is not in the team"
            )));
        }
        if t.act_for != ActFor::Nobody && t.person.is_none() {
            return Err(ConfigError::Named(format!(
                "a token{named} has `act_for` but no `person`: a token of no one may already \
                 name anyone as `by`"
            )));
        }
        if let ActFor::People(people) = &t.act_for
            && let Some(p) = people.iter().find(|p| !known(p))
        {
            return Err(ConfigError::Named(format!(
                "a token's `act_for` names `{p}`{named}, who is not in the team"
            )));
        }
    }
    Ok(())
}
