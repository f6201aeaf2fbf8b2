//! Who is looking: their scope and language, and the page's query that the language links keep.

use super::i18n::Lang;
use crate::daemon::config::Scope;

/// Who is looking, in which language.
pub(super) struct Viewer {
    pub(super) scope: Scope,
    /// The team member the token belongs to.
    pub(super) person: Option<String>,
    /// The session's form token, which every form of its pages carries (`None`: not logged
    /// in by a session).
    pub(super) csrf: Option<String>,
    pub(super) lang: Lang,
    /// A `Set-Cookie` for a language chosen by `?lang=`.
    pub(super) set_lang: Option<Lang>,
    /// The page's query, less its one-shot parts: what the language links keep.
    pub(super) kept: Vec<(String, String)>,
}

impl Viewer {
    /// Someone not logged in, in `lang`.
    pub(super) fn stranger(lang: Lang) -> Viewer {
        Viewer {
            scope: Scope::Read,
            person: None,
            csrf: None,
            lang,
            set_lang: None,
            kept: Vec::new(),
        }
    }

    pub(super) fn may_write(&self) -> bool {
        self.scope == Scope::Staff
    }

    /// The link to this very page in `lang`.
    pub(super) fn lang_href(&self, lang: Lang) -> String {
        let mut pairs: Vec<(&str, &str)> = self
            .kept
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.push(("lang", lang.code()));
        format!(
            "?{}",
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        )
    }
}
