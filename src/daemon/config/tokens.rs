//! `[[tokens]]`: the API's bearer tokens, what each may do, whose it is and for whom it may act.
//! A token that belongs to a person acts as that person: what it does is recorded as theirs,
//! and it may name someone else (`by`) only where `act_for` says so. A token of no one (an
//! integration) may name anyone; its `name` is recorded beside what it did. Taken as a whole, no
//! two entries hold the same token (else the last one would win without a word: a `read` token
//! that became `staff`); both are named by their place, line and name, never by the secret.

use std::path::Path;

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
    for (i, t) in tokens.iter().enumerate() {
        // Named by its place in the list and its name, never by the secret.
        let entry = match t.name.as_deref() {
            Some(n) => format!("`[[tokens]]` entry {} (`{n}`)", i + 1),
            None => format!("`[[tokens]]` entry {}", i + 1),
        };
        if let Some(p) = &t.person
            && !known(p)
        {
            return Err(ConfigError::Named(format!(
                "{entry}: `person = \"{p}\"` is not in the team"
            )));
        }
        if t.act_for != ActFor::Nobody && t.person.is_none() {
            return Err(ConfigError::Named(format!(
                "{entry} has `act_for` but no `person`: a token of no one may already name \
                 anyone as `by`"
            )));
        }
        if let ActFor::People(people) = &t.act_for
            && let Some(p) = people.iter().find(|p| !known(p))
        {
            return Err(ConfigError::Named(format!(
                "{entry}: `act_for` names `{p}`, who is not in the team"
            )));
        }
    }
    Ok(())
}

/// Where the list came from: a file (its text, for the entries' lines) or a variable.
pub(super) enum Source<'a> {
    /// The configuration file.
    File(&'a Path, &'a str),
    /// `DEALFLOW_TOKENS`.
    Variable,
}

/// The line each `[[tokens]]` entry of the file starts on, in order.
fn lines(text: &str) -> Vec<usize> {
    #[derive(Deserialize)]
    struct Lines {
        #[serde(default)]
        tokens: Vec<toml::Spanned<toml::Table>>,
    }
    let Ok(found) = toml::from_str::<Lines>(text) else {
        return Vec::new();
    };
    found
        .tokens
        .iter()
        // An entry's span is its `[[tokens]]` header.
        .map(|t| {
            text.get(..t.span().start)
                .unwrap_or(text)
                .matches('\n')
                .count()
                + 1
        })
        .collect()
}

/// Refuses two entries with the same token, naming both.
pub(super) fn unique(tokens: &[Token], source: Source<'_>) -> Result<(), ConfigError> {
    let lines = match source {
        Source::File(_, text) => lines(text),
        Source::Variable => Vec::new(),
    };
    let entry = |i: usize| {
        let t: &Token = &tokens[i];
        let name = t
            .name
            .as_deref()
            .or(t.person.as_deref())
            .map_or(String::new(), |n| format!(" `{n}`"));
        match lines.get(i) {
            Some(line) => format!("entry {}{name} (line {line})", i + 1),
            None => format!("entry {}{name}", i + 1),
        }
    };
    for (i, t) in tokens.iter().enumerate() {
        let same = tokens[..i]
            .iter()
            .position(|o| o.token.trim() == t.token.trim());
        if let Some(first) = same {
            let place = match source {
                Source::File(path, _) => format!("`[[tokens]]` of {}", path.display()),
                Source::Variable => "`DEALFLOW_TOKENS`".to_string(),
            };
            return Err(ConfigError::Named(format!(
                "{place}: {} and {} hold the same token; give each its own",
                entry(first),
                entry(i)
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_entries_with_one_token_are_named_by_line_and_name_without_the_secret() {
        let text = "[server]\nlisten = \"127.0.0.1:0\"\n\n[[tokens]]\ntoken = \"staff-secret-1\"\nscope = \"staff\"\nname = \"office\"\n\n[[tokens]]\ntoken = \"read-secret-1\"\nscope = \"read\"\n\n[[tokens]]\n# the screen\ntoken = \" staff-secret-1\"\nscope = \"read\"\nperson = \"lena\"\n";
        #[derive(Deserialize)]
        struct Only {
            tokens: Vec<Token>,
        }
        let Only { tokens } = toml::from_str::<Only>(text).expect("tokens");
        assert_eq!(lines(text), [4, 9, 13]);
        let e = unique(&tokens, Source::File(Path::new("dealflow.toml"), text))
            .expect_err("refused")
            .to_string();
        assert_eq!(
            e,
            "configuration: `[[tokens]]` of dealflow.toml: entry 1 `office` (line 4) and entry 3 `lena` (line 13) hold the same token; give each its own"
        );
        assert!(!e.contains("secret"), "{e}");
        let e = unique(&tokens, Source::Variable)
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains("`DEALFLOW_TOKENS`: entry 1 `office` and entry 3 `lena`"),
            "{e}"
        );
        assert!(unique(&tokens[..2], Source::Variable).is_ok());
    }

    #[test]
    fn a_person_or_act_for_not_in_the_team_is_named_by_entry_without_the_secret() {
        let team: Vec<TeamMember> =
            toml::from_str::<std::collections::BTreeMap<String, Vec<TeamMember>>>(
                "team = [{id = \"anna\", roles = [\"sales\"]}, {id = \"petr\", roles = []}]",
            )
            .expect("team")
            .remove("team")
            .unwrap_or_default();
        let token = |text: &str| -> Token { toml::from_str(text).expect("a token") };
        let ok = token(
            "token = \"anna-secret-1\"\nscope = \"staff\"\nperson = \"anna\"\nact_for = [\"petr\"]",
        );
        assert!(check(std::slice::from_ref(&ok), &team).is_ok());
        for (t, said) in [
            (
                "token = \"zed-secret-11\"\nscope = \"staff\"\nperson = \"zed\"",
                "`[[tokens]]` entry 2: `person = \"zed\"` is not in the team",
            ),
            (
                "token = \"lead-secret-1\"\nscope = \"staff\"\nname = \"lead\"\nperson = \"anna\"\nact_for = [\"olga\"]",
                "`[[tokens]]` entry 2 (`lead`): `act_for` names `olga`, who is not in the team",
            ),
            (
                "token = \"crm-secret-11\"\nscope = \"staff\"\nact_for = \"team\"",
                "`[[tokens]]` entry 2 has `act_for` but no `person`",
            ),
        ] {
            let e = check(&[ok.clone(), token(t)], &team)
                .expect_err("refused")
                .to_string();
            assert!(e.contains(said), "{e}");
            assert!(!e.contains("secret"), "{e}");
        }
        let word: Result<Token, _> =
            toml::from_str("token = \"x-secret-123\"\nscope = \"staff\"\nact_for = \"everyone\"");
        assert!(word.is_err());
    }
}
