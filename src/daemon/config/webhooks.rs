//! `[[webhooks]]`: where history records go, signed with what, which kinds.

use serde::Deserialize;

use super::ConfigError;
use crate::store::Subscription;

/// `[[webhooks]]`: where records go, signed with what, which kinds.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// Its name on the deal page and in the metrics (default: the URL).
    #[serde(default)]
    pub name: Option<String>,
    /// Where deliveries are POSTed (http or https).
    pub url: String,
    /// The shared secret the signature is made with (at least 16 characters).
    pub secret: String,
    /// History record kinds to send (`["stage_entered", "deal_created"]`); absent: all.
    #[serde(default)]
    pub kinds: Option<Vec<String>>,
    /// Seconds to wait for the receiver's answer.
    #[serde(default = "default_timeout")]
    pub timeout_s: u64,
}

fn default_timeout() -> u64 {
    10
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("name", &self.name())
            .field("url", &self.url)
            .field("secret", &"…")
            .field("kinds", &self.kinds)
            .finish()
    }
}

impl Webhook {
    /// Its name: the one given, or its URL.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.url)
    }

    /// What the writer needs of it.
    pub fn subscription(&self) -> Subscription {
        Subscription {
            name: self.name().to_string(),
            kinds: self.kinds.clone(),
        }
    }
}

/// Checks the subscriptions: a URL, a long enough secret, known kinds, names used once.
pub(super) fn check(hooks: &[Webhook]) -> Result<(), ConfigError> {
    let bad =
        |w: &Webhook, why: String| ConfigError::Named(format!("webhook `{}`: {why}", w.name()));
    for (i, w) in hooks.iter().enumerate() {
        match reqwest::Url::parse(&w.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
            Ok(_) => return Err(bad(w, "`url` must be an http or https address".into())),
            Err(e) => return Err(bad(w, format!("`url` is not a URL ({e})"))),
        }
        if w.secret.chars().count() < 16 {
            return Err(bad(
                w,
                "`secret` must be at least 16 characters long".into(),
            ));
        }
        if w.timeout_s < 1 {
            return Err(bad(w, "`timeout_s` must be at least 1".into()));
        }
        // The engine's record kinds, and those the store writes itself (an erasure).
        let kinds: Vec<&str> = crate::engine::Kind::NAMES
            .iter()
            .chain(crate::store::STORE_KINDS)
            .copied()
            .collect();
        for k in w.kinds.iter().flatten() {
            if !kinds.contains(&k.as_str()) {
                let hint = crate::diag::did_you_mean(k, kinds.iter().copied())
                    .unwrap_or_else(|| format!("the kinds are {}", kinds.join(", ")));
                return Err(bad(
                    w,
                    format!("`{k}` is not a history record kind; {hint}"),
                ));
            }
        }
        if hooks[..i].iter().any(|o| o.name() == w.name()) {
            return Err(bad(w, "the name is used by another webhook".into()));
        }
    }
    Ok(())
}
