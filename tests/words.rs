//! People's pages speak one language: every record kind and every cause of a step is told in
//! Russian with no word of the English dictionary and in English with no word of the Russian
//! one, and every page of the living demo (a refused lead and a contact to check among them),
//! in both languages, shows no word of the other language's dictionary and no raw timestamp.
//! The dictionaries are the pages' own fixed texts and the story's phrases; words of the
//! pipeline itself (its titles, its identifiers) are the studio's and not checked.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use std::collections::BTreeSet;

use common::{demo_daemon, root};
use dealflow::compile::Plan;
use serde_json::{Value as Json, json};

/// Words that are the same in both languages' texts.
const SHARED: &[&str] = &[
    "SMS", "UCS", "GSM", "Telegram", "Email", "email", "API", "JSON", "CSV", "ID", "id", "OK",
];

fn plan() -> Plan {
    dealflow::load::RuleFile::read(&root().join("rules/web-studio.flow"))
        .expect("the rules")
        .ready()
        .expect("ready")
        .plan
}

/// The words of a text: runs of letters (Latin or Cyrillic), two letters or more.
fn words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_string)
        .collect()
}

fn latin(w: &str) -> bool {
    w.chars().all(|c| c.is_ascii_alphabetic())
}

fn cyrillic(w: &str) -> bool {
    w.chars().all(|c| ('\u{0400}'..='\u{04FF}').contains(&c))
}

/// Words that are the studio's own: the pipeline file's (titles, identifiers, templates), the
/// configuration's (the team's names and ids), and what the samples carry.
fn studio_words() -> BTreeSet<String> {
    let mut w = words(&std::fs::read_to_string(root().join("rules/web-studio.flow")).unwrap());
    w.extend(words(
        &std::fs::read_to_string(root().join("examples/dealflow.toml")).unwrap(),
    ));
    w.extend(words(
        &std::fs::read_to_string(root().join("examples/ivan.scenario.toml")).unwrap(),
    ));
    // The demo's generated deals say things of their own (why a deal was lost).
    for f in ["src/sim/generate.rs", "src/sim/lively.rs"] {
        let text = std::fs::read_to_string(root().join(f)).unwrap();
        w.extend(words(&text).into_iter().filter(|x| cyrillic(x)));
    }
    w.extend(SHARED.iter().map(|s| s.to_string()));
    w
}

/// A record of each kind, as the store keeps it (moments local, with their offset).
fn samples() -> Vec<(&'static str, Json)> {
    let at = "2026-10-28T10:00:00+03:00";
    vec![
        ("deal_created", json!({"stage": ["lead"]})),
        (
            "deal_created",
            json!({"stage": ["production"], "quiet": true}),
        ),
        ("deal_refused", json!({"stage": ["lead"], "error": "e1"})),
        ("stage_entered", json!({"stage": "meeting"})),
        ("stage_skipped", json!({"stage": "prepayment"})),
        ("stage_left", json!({"stage": "lead"})),
        (
            "stage_migrated",
            json!({"from": "contract", "stage": "lead"}),
        ),
        ("track_waiting", json!({"stage": "closed"})),
        ("field_set", json!({"field": "meeting_at", "value": at})),
        ("field_set", json!({"field": "prepayment", "value": false})),
        (
            "field_set",
            json!({"field": "planned_end", "value": "2026-11-30"}),
        ),
        (
            "field_set",
            json!({"field": "margin", "value": 90000, "derived": true}),
        ),
        (
            "field_set",
            json!({"field": "source", "from": "сайт", "value": null}),
        ),
        (
            "notification",
            json!({"to_kind": "client", "to": "+79990001122", "channel": "sms", "template": "welcome", "text": "Ирина, спасибо", "send_at": at}),
        ),
        (
            "notification",
            json!({"to_kind": "client", "to": "a@b.test", "channel": "email", "template": "welcome", "subject": "Спасибо за обращение", "text": "…", "send_at": at}),
        ),
        (
            "notification_skipped",
            json!({"to_kind": "client", "to": "client", "channel": "sms", "template": "welcome", "reason": "e2"}),
        ),
        (
            "notification_skipped",
            json!({"to_kind": "client", "to": "client", "channel": "sms", "template": "welcome", "reason": "the client has no phone number"}),
        ),
        (
            "notification_skipped",
            json!({"to_kind": "client", "to": "client", "channel": "email", "template": "welcome", "reason": "the client opted out of email"}),
        ),
        (
            "notification_skipped",
            json!({"to_kind": "user", "to": "nobody", "channel": "email", "template": "welcome", "reason": "no team member has this role"}),
        ),
        (
            "task_created",
            json!({"task": "approval", "title": "Согласование", "assignee": "petr", "due": at}),
        ),
        ("task_started", json!({"task": "approval", "by": "petr"})),
        (
            "time_logged",
            json!({"task": "approval", "by": "petr", "hours": 5}),
        ),
        (
            "timer_stopped",
            json!({"task": "approval", "by": "petr", "since": at, "hours": 1.5}),
        ),
        (
            "timer_stopped",
            json!({"task": "approval", "by": "petr", "since": at, "hours": 8, "capped": true}),
        ),
        (
            "timer_stopped",
            json!({"task": "approval", "by": "petr", "since": at, "hours": 0, "replaced": true}),
        ),
        (
            "time_amended",
            json!({"entry": 0, "user": "petr", "from": 5, "to": 4, "by": "anna"}),
        ),
        ("task_done", json!({"task": "approval", "hours": 5})),
        ("task_cancelled", json!({"task": "approval"})),
        (
            "task_reassigned",
            json!({"task": "approval", "from": "petr", "to": "olga"}),
        ),
        ("timer_set", json!({"timer": "t", "fires_at": at})),
        (
            "timer_moved",
            json!({"timer": "t", "from": at, "fires_at": at}),
        ),
        ("timer_dropped", json!({"timer": "t"})),
        ("timer_fired", json!({"timer": "t"})),
        (
            "group_created",
            json!({"title": "Ирина", "members": ["anna", "petr"]}),
        ),
        ("alert_raised", json!({"alert": "late"})),
        ("alert_cleared", json!({"alert": "late"})),
        ("event_applied", json!({"event": "call_done", "by": "anna"})),
        (
            "event_refused",
            json!({"event": "call_done", "error": "e3"}),
        ),
        ("step_failed", json!({"cause": "c", "error": "e4"})),
        (
            "personal_data_erased",
            json!({"by": "anna", "fields": ["client_name"], "messages": 2}),
        ),
        (
            "notification_sent",
            json!({"channel": "email", "template": "welcome", "to": "client", "queued_at": at}),
        ),
    ]
}

/// Every cause a step of the history can have.
const CAUSES: &[&str] = &[
    "created",
    "event call_done",
    "timer at meeting_at - 2h",
    "timer ⏰ approval",
    "task approval started",
    "task approval paused",
    "task approval done",
    "task approval: 5 h logged",
    "time entry 0 corrected by anna",
    "time entry 0 corrected",
    "edited by anna",
    "edited",
    "rules version 2",
    "spawned by ivan",
    "midnight",
    "erasure",
    "opt-out",
    "outbox",
];

/// What the story says in each language: every record kind, every cause.
fn story(plan: &Plan, ru: bool) -> Vec<String> {
    let mut out: Vec<String> = samples()
        .into_iter()
        .map(|(kind, r)| dealflow::explain::describe(plan, kind, &r, ru))
        .collect();
    out.extend(
        CAUSES
            .iter()
            .map(|c| dealflow::explain::input_words(plan, c, ru)),
    );
    out
}

/// A language's dictionary: the words its fixed texts and story use that the studio's own
/// words and the other language do not.
fn dictionary(plan: &Plan, ru: bool) -> BTreeSet<String> {
    let mut studio = studio_words();
    // What the samples carry is data, not the dictionary's.
    for (_, r) in samples() {
        studio.extend(words(&r.to_string()));
    }
    let mut mine = BTreeSet::new();
    for text in dealflow::daemon::phrases(ru)
        .into_iter()
        .chain(story(plan, ru))
    {
        mine.extend(words(&text));
    }
    mine.into_iter()
        .filter(|w| if ru { cyrillic(w) } else { latin(w) })
        .filter(|w| !studio.contains(w))
        .collect()
}

/// A raw timestamp: `2026-10-28T10:00`.
fn raw_moment(text: &str) -> Option<String> {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(16)).find_map(|i| {
        let s = &b[i..i + 16];
        let digits = |r: std::ops::Range<usize>| r.into_iter().all(|j| s[j].is_ascii_digit());
        (digits(0..4)
            && s[4] == b'-'
            && digits(5..7)
            && s[7] == b'-'
            && digits(8..10)
            && s[10] == b'T'
            && digits(11..13))
        .then(|| String::from_utf8_lossy(s).to_string())
    })
}

#[test]
fn every_record_kind_and_cause_is_told_in_one_language() {
    let plan = plan();
    let (en, ru) = (dictionary(&plan, false), dictionary(&plan, true));
    assert!(en.contains("Leaves") && ru.contains("Уходит"), "{en:?}");
    let kinds: BTreeSet<&str> = samples().iter().map(|(k, _)| *k).collect();
    for k in dealflow::engine::Kind::NAMES
        .iter()
        .chain(dealflow::store::STORE_KINDS)
    {
        assert!(kinds.contains(k), "no sample of `{k}`");
    }
    for (ru_text, en_text) in story(&plan, true).iter().zip(story(&plan, false)) {
        let foreign: Vec<String> = words(ru_text)
            .into_iter()
            .filter(|w| en.contains(w))
            .collect();
        assert!(foreign.is_empty(), "English in «{ru_text}»: {foreign:?}");
        let foreign: Vec<String> = words(&en_text)
            .into_iter()
            .filter(|w| ru.contains(w))
            .collect();
        assert!(foreign.is_empty(), "Russian in «{en_text}»: {foreign:?}");
        for t in [ru_text.as_str(), en_text.as_str()] {
            assert_eq!(raw_moment(t), None, "a raw moment in «{t}»");
        }
    }
    // What the engine and the outbox say of a message not sent is said in Russian too.
    let skipped = |reason: &str| {
        dealflow::explain::describe(
            &plan,
            "notification_skipped",
            &json!({"channel": "sms", "reason": reason}),
            true,
        )
    };
    assert!(skipped("the client has no phone number").ends_with("у клиента нет телефона"));
    assert!(skipped("the client opted out of sms").ends_with("клиент отказался от SMS"));
    // No kind is told by its bare name (`group created`, as an unknown kind would be).
    for (kind, r) in samples() {
        for ru_flag in [true, false] {
            let t = dealflow::explain::describe(&plan, kind, &r, ru_flag);
            assert!(
                !t.contains(kind) && !t.contains(&kind.replace('_', " ")),
                "«{t}» tells `{kind}` by its name"
            );
        }
    }
}

/// The visible text of a page: no script, style or element marked as the other language's
/// (`lang`: the checker's own words, quoted as they are) or as code (`file:line`).
fn visible(html: &str, other: &str) -> String {
    let mut text = html.to_string();
    for (open, close) in [
        ("<script", "</script>"),
        ("<style", "</style>"),
        ("<code", "</code>"),
    ] {
        while let Some(a) = text.find(open) {
            let b = text[a..]
                .find(close)
                .map_or(text.len(), |b| a + b + close.len());
            text.replace_range(a..b, " ");
        }
    }
    let marked = format!(" lang=\"{other}\"");
    while let Some(at) = text.find(&marked) {
        let start = text[..at].rfind('<').unwrap_or(at);
        let tag: String = text[start + 1..]
            .chars()
            .take_while(|c| c.is_alphanumeric())
            .collect();
        let close = format!("</{tag}>");
        let end = text[at..]
            .find(&close)
            .map_or(text.len(), |e| at + e + close.len());
        text.replace_range(start..end, " ");
    }
    let mut out = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

#[tokio::test]
async fn every_page_speaks_one_language() {
    let plan = plan();
    let (en, ru) = (dictionary(&plan, false), dictionary(&plan, true));
    let (_demo, base) = demo_daemon();
    dealflow::daemon::tls_provider();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Something on the out-of-control page of each kind a website brings.
    for lead in [
        json!({"name": "Олег", "phone": "8 916 12 вечером"}),
        json!({"name": "", "phone": "+79161230000"}),
    ] {
        http.post(format!("{base}/api/v1/leads"))
            .bearer_auth("demo")
            .header("content-type", "application/json")
            .body(lead.to_string())
            .send()
            .await
            .unwrap();
    }
    let cookie = common::demo_session(&http, &base).await;
    let pages = [
        "/",
        "/money",
        "/attention",
        "/team",
        "/analytics",
        "/search?q=иван",
        "/deals/nina",
        "/deals/ivan",
        "/deals/ivan%2F1",
        "/deals/ivan%2F2",
        "/stages/closed",
        "/deals/new",
        "/pipeline",
        "/deals/x9",
    ];
    let mut problems = Vec::new();
    for page in pages {
        for (lang, other, dict) in [("ru", "en", &en), ("en", "ru", &ru)] {
            let sep = if page.contains('?') { '&' } else { '?' };
            let html = http
                .get(format!("{base}{page}{sep}lang={lang}"))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            // The rule file's place on disk is the machine's, not the page's words (a checkout
            // under `…/check/…` would read as English).
            let text = visible(&html, other).replace(env!("CARGO_TARGET_TMPDIR"), "");
            // A finished deal found by a search is where it ended, not "also" there.
            if page.starts_with("/search") && lang == "ru" {
                assert!(
                    text.contains("этап:  Закрыта") && !text.contains("также"),
                    "{text}"
                );
            }
            let foreign: BTreeSet<String> = words(&text)
                .into_iter()
                .filter(|w| dict.contains(w))
                .collect();
            if !foreign.is_empty() {
                problems.push(format!("{page} ({lang}): {foreign:?}"));
            }
            if let Some(m) = raw_moment(&text) {
                problems.push(format!("{page} ({lang}): a raw moment {m}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
