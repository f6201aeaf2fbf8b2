//! `[[forms]]`: website forms that send leads straight to `/f/{key}`.

use std::collections::BTreeMap;

use axum::http::HeaderValue;
use serde::Deserialize;

use super::ConfigError;

/// `[[forms]]`: one website form.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebsiteForm {
    /// The public key in the form's address, `/f/{key}`: 8 to 64 letters, digits, `-`, `_`.
    pub key: String,
    /// The sites whose pages may send it (`https://studio.example`); a request from any other
    /// origin is refused. A request that names no origin (not a browser) is taken.
    #[serde(default)]
    pub origins: Vec<String>,
    /// Form input name → field (absent: `[intake.fields]`); a declared field's own name is
    /// taken too.
    #[serde(default)]
    pub fields: Option<BTreeMap<String, String>>,
    /// The input whose value titles the deal (absent: `[intake] title`, then the client's name).
    #[serde(default)]
    pub title: Option<String>,
    /// Field values every deal from this form gets (`source = "website"`).
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Where a plain HTML form sends the visitor after it is taken (303); absent: a short page.
    #[serde(default)]
    pub thanks: Option<String>,
    /// Where a plain HTML form sends the visitor when the request could not be taken as it was
    /// sent (303); absent: a short page in the form's language. The team sees such a request on
    /// the out-of-control page either way.
    #[serde(default)]
    pub refused: Option<String>,
    /// The language of what the visitor is told (`ru` or `en`); absent: the dashboard's
    /// `language`, else Russian where the pipeline's `country` speaks it, else English.
    #[serde(default)]
    pub lang: Option<String>,
    /// The hidden input people leave empty and robots fill in.
    #[serde(default = "default_honeypot")]
    pub honeypot: String,
    /// Submissions one client address may make in an hour.
    #[serde(default = "default_per_hour")]
    pub per_hour: u32,
    /// Seconds in which the same phone or email on this form makes no second deal.
    #[serde(default = "default_window")]
    pub duplicate_window_s: u64,
}

fn default_honeypot() -> String {
    "website".into()
}

fn default_per_hour() -> u32 {
    20
}

fn default_window() -> u64 {
    600
}

/// Checks the forms: keys well made and used once, origins and thank-you addresses that are
/// addresses, a limit of at least one.
pub(crate) fn check(forms: &[WebsiteForm]) -> Result<(), ConfigError> {
    for (i, f) in forms.iter().enumerate() {
        let bad = |why: String| ConfigError::Named(format!("form `{}`: {why}", f.key));
        let len = f.key.chars().count();
        if !(8..=64).contains(&len)
            || !f
                .key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(bad(
                "`key` must be 8 to 64 letters, digits, `-` or `_`".into()
            ));
        }
        if forms[..i].iter().any(|o| o.key == f.key) {
            return Err(bad("the key is used by another form".into()));
        }
        for o in &f.origins {
            if origin(o).as_deref() != Some(o.trim_end_matches('/')) {
                return Err(bad(format!(
                    "origin `{o}` is not an origin like `https://studio.example`"
                )));
            }
        }
        for (key, page) in [("thanks", &f.thanks), ("refused", &f.refused)] {
            if let Some(t) = page
                && (origin(t).is_none() || HeaderValue::from_str(t).is_err())
            {
                return Err(bad(format!(
                    "`{key} = \"{t}\"` is not an http(s) address (the page on the website the \
                     visitor goes to)"
                )));
            }
        }
        if let Some(l) = &f.lang
            && !matches!(l.as_str(), "ru" | "en")
        {
            return Err(bad(format!(
                "`lang = \"{l}\"`: a form speaks \"ru\" or \"en\""
            )));
        }
        if f.per_hour < 1 {
            return Err(bad("`per_hour` must be at least 1".into()));
        }
    }
    Ok(())
}

/// The origin (`scheme://host[:port]`) of an http(s) URL.
fn origin(text: &str) -> Option<String> {
    let u = url::Url::parse(text).ok()?;
    (matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .then(|| u.origin().ascii_serialization())
}
