//! The door: who a request is (a configured token, or a session a login made), where it comes
//! from (the daemon's own origin, the client's address behind the proxies it trusts), and how
//! often a wrong token (a login, a bearer token) may be tried. The tokens are read again on
//! SIGHUP: a token taken out of the configuration ends the sessions it opened.

pub(crate) mod forms;
mod site;
mod throttle;

use std::sync::{Arc, RwLock};

use subtle::ConstantTimeEq;

pub(crate) use site::Site;

#[cfg(test)]
mod acting_tests;
pub(crate) use throttle::Throttle;

use super::config::{ActFor, Scope, Token};

/// What a token is: its scope, the team member it belongs to and for whom else it may act, its
/// name, and its digest (what a session keeps of it, never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    /// What it may do.
    pub scope: Scope,
    /// Whose it is.
    pub person: Option<String>,
    /// For whom else its person may act.
    pub act_for: ActFor,
    /// Its name in the configuration.
    pub name: Option<String>,
    /// SHA-256 of the token, in hex.
    pub digest: String,
}

/// Who a request acts as, and who it came through when that is someone else.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Acting {
    /// The person it is done as (`by`).
    pub by: Option<String>,
    /// The person whose token or session acted for them, or an integration token's name.
    pub via: Option<String>,
}

impl Key {
    /// Who a request with this key acts as when it names `by`: a person's token acts as its
    /// person, and names another only where `act_for` lets it (then both are recorded); a token
    /// of no one may name anyone, and its name is recorded as `via`. `Err`: the refusal, in
    /// words (`this token acts as anna`).
    pub(crate) fn acting(&self, by: Option<String>) -> Result<Acting, String> {
        match (&self.person, by) {
            (Some(me), None) => Ok(Acting {
                by: Some(me.clone()),
                via: None,
            }),
            (Some(me), Some(other)) if *me == other => Ok(Acting {
                by: Some(other),
                via: None,
            }),
            (Some(me), Some(other)) if self.act_for.covers(&other) => Ok(Acting {
                by: Some(other),
                via: Some(me.clone()),
            }),
            (Some(me), Some(_)) => Err(format!("this token acts as {me}")),
            (None, by) => Ok(Acting {
                by,
                via: Some(self.label()),
            }),
        }
    }

    /// Whether it may act for people other than its own person (the dashboard offers "who").
    pub(crate) fn acts_for_others(&self) -> bool {
        self.person.is_none() || self.act_for != ActFor::Nobody
    }

    /// Whether it may act for `person`.
    pub(crate) fn may_act_for(&self, person: &str) -> bool {
        match &self.person {
            None => true,
            Some(me) => me == person || self.act_for.covers(person),
        }
    }

    /// How the history names a token of no one: its name, else the start of its digest.
    fn label(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("token {}", &self.digest[..8]))
    }

    /// An idempotency key as this token's own: the same key from another token is another.
    pub(crate) fn scoped(&self, key: &str) -> String {
        format!("{}:{key}", &self.digest[..16])
    }
}

/// The tokens as configured now.
struct Keys(Vec<(Vec<u8>, Key)>);

impl Keys {
    fn of(tokens: &[Token]) -> Keys {
        Keys(
            tokens
                .iter()
                .map(|t| {
                    (
                        t.token.as_bytes().to_vec(),
                        Key {
                            scope: t.scope,
                            person: t.person.clone(),
                            act_for: t.act_for.clone(),
                            name: t.name.clone(),
                            digest: hashed(&t.token),
                        },
                    )
                })
                .collect(),
        )
    }
}

/// SHA-256 in hex: how tokens and session ids are kept.
pub(crate) fn hashed(secret: &str) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(secret.as_bytes()))
}

/// A fresh secret: 32 random bytes from the system, in hex.
pub(crate) fn secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Who may come in, and from where.
pub(crate) struct Door {
    keys: RwLock<Arc<Keys>>,
    /// The daemon's own origin and the proxies it trusts.
    pub site: Site,
    /// Wrong tokens per client address.
    pub throttle: Throttle,
}

impl Door {
    pub(crate) fn new(tokens: &[Token], site: Site, free_attempts: u32) -> Door {
        Door {
            keys: RwLock::new(Arc::new(Keys::of(tokens))),
            site,
            throttle: Throttle::new(free_attempts),
        }
    }

    fn keys(&self) -> Arc<Keys> {
        match self.keys.read() {
            Ok(k) => k.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Puts the tokens read again in place.
    pub(crate) fn set_tokens(&self, tokens: &[Token]) {
        let new = Arc::new(Keys::of(tokens));
        match self.keys.write() {
            Ok(mut k) => *k = new,
            Err(p) => *p.into_inner() = new,
        }
    }

    /// The token's key, if it is one of the configuration's. Every token is compared, found or
    /// not: the time does not tell which one matched.
    pub(crate) fn key(&self, token: &str) -> Option<Key> {
        let given = token.trim().as_bytes();
        let keys = self.keys();
        let mut found = None;
        for (t, key) in &keys.0 {
            if bool::from(t.as_slice().ct_eq(given)) {
                found = Some(key.clone());
            }
        }
        found
    }

    /// The key a session was opened with, if its token is still configured.
    pub(crate) fn key_by_digest(&self, digest: &str) -> Option<Key> {
        self.keys().0.iter().find_map(|(_, k)| {
            bool::from(k.digest.as_bytes().ct_eq(digest.as_bytes())).then(|| k.clone())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(t: &str, scope: Scope, person: Option<&str>) -> Token {
        Token {
            token: t.into(),
            scope,
            name: None,
            person: person.map(str::to_string),
            act_for: ActFor::Nobody,
        }
    }

    #[test]
    fn keys_are_found_by_token_and_by_digest_until_the_token_is_taken_out() {
        let door = Door::new(
            &[
                token("staff-token-1", Scope::Staff, Some("anna")),
                token("read-token-1", Scope::Read, None),
            ],
            Site::default(),
            5,
        );
        let anna = door.key(" staff-token-1 ").expect("found");
        assert_eq!(anna.person.as_deref(), Some("anna"));
        assert_eq!(anna.scope, Scope::Staff);
        assert_eq!(door.key("staff-token-2"), None);
        assert_eq!(door.key_by_digest(&anna.digest), Some(anna.clone()));
        assert_ne!(anna.digest, "staff-token-1");
        door.set_tokens(&[token("read-token-1", Scope::Read, None)]);
        assert_eq!(door.key_by_digest(&anna.digest), None);
        assert_eq!(door.key("staff-token-1"), None);
    }

    #[test]
    fn secrets_differ() {
        let a = secret().expect("random");
        assert_eq!(a.len(), 64);
        assert_ne!(a, secret().expect("random"));
    }
}
