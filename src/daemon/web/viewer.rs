//! Who is looking: their scope and language, and the page's query that the language links keep.

use super::i18n::Lang;
use crate::daemon::config::Scope;
use crate::daemon::door::Key;

/// Who is looking, in which language.
pub(super) struct Viewer {
    pub(super) scope: Scope,
    /// The team member the token belongs to.
    pub(super) person: Option<String>,
    /// The token it came with (`None`: not logged in): for whom it may act.
    pub(super) key: Option<Key>,
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
            key: None,
            csrf: None,
            lang,
            set_lang: None,
            kept: Vec::new(),
        }
    }

    pub(super) fn may_write(&self) -> bool {
        self.scope == Scope::Staff
    }

    /// Whether the viewer may act for people other than themselves (the forms offer "who").
    pub(super) fn acts_for_others(&self) -> bool {
        self.key.as_ref().is_some_and(Key::acts_for_others)
    }

    /// Whether the viewer may act for `person`.
    pub(super) fn may_act_for(&self, person: &str) -> bool {
        self.key.as_ref().is_some_and(|k| k.may_act_for(person))
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
