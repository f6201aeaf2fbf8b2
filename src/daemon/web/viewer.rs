//! Who is looking: their scope and language, and the page's query that the language links keep.

use super::i18n::Lang;
use crate::daemon::config::Scope;

/// Who is looking, in which language.
pub(super) struct Viewer {
    pub(super) scope: Scope,
    pub(super) lang: Lang,
    /// A `Set-Cookie` for a language chosen by `?lang=`.
    pub(super) set_lang: Option<Lang>,
    /// The page's query, less its one-shot parts: what the language links keep.
    pub(super) kept: Vec<(String, String)>,
}

impl Viewer {
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
