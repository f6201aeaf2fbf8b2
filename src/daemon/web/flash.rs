//! What a form's outcome says on the page it sends the browser back to: done, a refusal the
//! pages themselves make (said in the page's language, by a code in the address), or the
//! engine's reason (quoted in its own words).

use super::i18n::Words;

/// A refusal the pages make themselves, before the engine sees anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Said {
    NothingChanged,
    NoEvent,
    NotAList,
    HoursPositive,
    NoTaskAction,
    NoEntry,
    HoursDay,
    OptWay,
    OptChannel,
    NoDeal,
    TickToConfirm,
    TitleNeeded,
    BadId,
}

const ALL: [Said; 13] = [
    Said::NothingChanged,
    Said::NoEvent,
    Said::NotAList,
    Said::HoursPositive,
    Said::NoTaskAction,
    Said::NoEntry,
    Said::HoursDay,
    Said::OptWay,
    Said::OptChannel,
    Said::NoDeal,
    Said::TickToConfirm,
    Said::TitleNeeded,
    Said::BadId,
];

impl Said {
    /// Its code in the address (`?why=`).
    pub(super) fn code(self) -> &'static str {
        match self {
            Said::NothingChanged => "nothing",
            Said::NoEvent => "no-event",
            Said::NotAList => "not-a-list",
            Said::HoursPositive => "hours",
            Said::NoTaskAction => "no-action",
            Said::NoEntry => "no-entry",
            Said::HoursDay => "hours-day",
            Said::OptWay => "opt-way",
            Said::OptChannel => "opt-channel",
            Said::NoDeal => "no-deal",
            Said::TickToConfirm => "confirm",
            Said::TitleNeeded => "title",
            Said::BadId => "bad-id",
        }
    }

    /// The refusal a code names.
    pub(super) fn of(code: &str) -> Option<Said> {
        ALL.into_iter().find(|s| s.code() == code)
    }

    /// In the page's words.
    pub(super) fn words(self, w: &Words) -> &'static str {
        match self {
            Said::NothingChanged => w.nothing_changed,
            Said::NoEvent => w.no_event,
            Said::NotAList => w.not_a_list,
            Said::HoursPositive => w.hours_positive,
            Said::NoTaskAction => w.no_task_action,
            Said::NoEntry => w.no_entry,
            Said::HoursDay => w.hours_day,
            Said::OptWay => w.opt_way,
            Said::OptChannel => w.opt_channel,
            Said::NoDeal => w.no_deal,
            Said::TickToConfirm => w.tick_to_confirm,
            Said::TitleNeeded => w.title_needed,
            Said::BadId => w.bad_id,
        }
    }
}

/// Why a form was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Why {
    /// The pages said it.
    Said(Said),
    /// The engine (or the store) said it, in its own words.
    Engine(String),
}

impl From<Said> for Why {
    fn from(s: Said) -> Why {
        Why::Said(s)
    }
}

/// The seal of an engine's reason sent back to a deal's page in its address: only a reason
/// this daemon sent there is shown (a link made elsewhere, with words of its own, shows
/// nothing). The key is the process's own, random.
pub(super) fn seal(deal: &str, message: &str) -> String {
    use hmac::Mac;
    static KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(|| {
        let mut k = [0u8; 32];
        // Without the system's randomness the seal is still a digest nobody outside can
        // guess by reading the page; it only fails to be secret from someone with the source.
        let _ = getrandom::fill(&mut k);
        k
    });
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(deal.as_bytes());
    mac.update(&[0]);
    mac.update(message.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `seal` is the one this daemon gave `message` for `deal`.
pub(super) fn sealed(deal: &str, message: &str, seal_given: &str) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(seal(deal, message).as_bytes().ct_eq(seal_given.as_bytes()))
}

/// A refusal as a page shows it: the pages' own in the page's words, the engine's quoted in its
/// own (marked as English).
pub(super) fn shown(why: &Why, w: &Words) -> maud::Markup {
    match why {
        Why::Said(s) => maud::html! { (s.words(w)) },
        Why::Engine(m) => maud::html! { (w.refused) ": " span lang="en" { (m) } },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_reason_this_daemon_sealed_is_shown() {
        let s = seal("shop", "the deal is in `lead`");
        assert!(sealed("shop", "the deal is in `lead`", &s));
        assert!(!sealed("shop", "Security notice: call +1 555", &s));
        assert!(!sealed("other", "the deal is in `lead`", &s));
        assert!(!sealed("shop", "the deal is in `lead`", ""));
    }

    #[test]
    fn every_code_reads_back() {
        for s in ALL {
            assert_eq!(Said::of(s.code()), Some(s));
        }
        assert_eq!(Said::of("<script>"), None);
    }
}
