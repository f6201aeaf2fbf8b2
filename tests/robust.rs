//! No input makes dealflow panic, overflow its stack or run away: random text, token soup,
//! mutated real pipelines and hand-made hostile files. Whatever parses also formats back to the
//! same meaning.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

use proptest::prelude::*;

const REFERENCE: &str = include_str!("../rules/web-studio.flow");
const KITCHEN: &str = include_str!("../rules/kitchen-workshop.flow");

/// Pieces of the language, so that random input gets past the first token often.
const TOKENS: &[&str] = &[
    "pipeline",
    "stage",
    "event",
    "fields",
    "role",
    "template",
    "calendar",
    "phase",
    "alert",
    "on",
    "enter",
    "exit",
    "after",
    "at",
    "end",
    "of",
    "when",
    "->",
    "&",
    "join",
    "final",
    "require",
    "skip",
    "set",
    "notify",
    "via",
    "with",
    "task",
    "to",
    "due",
    "estimate",
    "group",
    "spawn",
    "deal",
    "for",
    "each",
    "in",
    "is",
    "not",
    "and",
    "or",
    "{",
    "}",
    "(",
    ")",
    ",",
    ";",
    "=",
    "==",
    "<",
    ">=",
    "+",
    "-",
    "*",
    "/",
    ".",
    ":",
    "\"text\"",
    "\"{{x}}\"",
    "\"\"\"a\n\"\"\"",
    "x",
    "amount",
    "lead",
    "paid",
    "15m",
    "2 workdays",
    "3d",
    "10:00",
    "2026-03-02",
    "2026-03-02T10:00",
    "12.5",
    "7",
    "true",
    "#c\n",
    "\n",
    " ",
    "list",
    "sms",
    "email",
    "subject",
    "body",
    "attach",
    "workweek",
    "hours",
    "holidays",
    "mon..fri",
    "timezone",
    "script",
    "hook",
    "required",
    "default",
    "Лид",
    "é",
];

fn analyze(text: &str) -> dealflow::Analysis {
    dealflow::analyze(text, &|name| match name {
        "web-studio.rhai" => Ok(include_str!("../rules/web-studio.rhai").to_string()),
        _ => Err("no such file".into()),
    })
}

/// What parses must format to the same AST, and formatting must be idempotent.
fn round_trips(text: &str) {
    let parsed = dealflow::parse::parse(text);
    if !parsed.diagnostics.is_empty() {
        return;
    }
    let once = dealflow::fmt::format(&parsed.file, text);
    let again = dealflow::parse::parse(&once);
    assert!(
        again.diagnostics.is_empty(),
        "formatted text does not parse:\n{once}\n{:?}",
        again.diagnostics
    );
    assert_eq!(
        parsed.file, again.file,
        "formatting changed the meaning of:\n{text}\n---\n{once}"
    );
    assert_eq!(
        dealflow::fmt::format(&again.file, &once),
        once,
        "not idempotent:\n{text}"
    );
}

fn mutate(base: &str, edits: &[(usize, usize, u8)]) -> String {
    let mut s = base.to_string();
    for &(at, len, kind) in edits {
        let at = floor_char(&s, at % (s.len() + 1));
        let end = floor_char(&s, (at + len % 40).min(s.len()));
        match kind % 4 {
            0 => s.replace_range(at..end, ""),
            1 => {
                let piece = s[at..end].to_string();
                s.insert_str(at, &piece);
            }
            2 => s.insert_str(at, TOKENS[len % TOKENS.len()]),
            _ => s.replace_range(at..end, TOKENS[(len / 3) % TOKENS.len()]),
        }
    }
    s
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let a = analyze(&text);
        round_trips(&text);
        let _ = a.has_errors();
    }

    #[test]
    fn token_soup_never_panics(tokens in prop::collection::vec(prop::sample::select(TOKENS), 0..120)) {
        let text = tokens.join(" ");
        analyze(&text);
        round_trips(&text);
    }

    #[test]
    fn mutated_reference_pipelines_never_panic(
        edits in prop::collection::vec((any::<usize>(), any::<usize>(), any::<u8>()), 1..6),
        which in any::<bool>(),
    ) {
        let base = if which { REFERENCE } else { KITCHEN };
        let text = mutate(base, &edits);
        analyze(&text);
        round_trips(&text);
    }
}

#[test]
fn hostile_files_are_refused_with_a_diagnostic() {
    let deep_parens = format!(
        "alert a \"A\" when {}x{}",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    let deep_braces = format!("stage s \"S\" {}", "{".repeat(100_000));
    let long_chain = format!("alert a \"A\" when {}", vec!["x"; 20_000].join(" + "));
    let many_nots = format!("alert a \"A\" when {}x", "not ".repeat(10_000));
    let nested_strings = format!(
        "template t {{ sms {}x{} }}",
        "\"{{".repeat(3000),
        "}}\"".repeat(3000)
    );
    let huge_number = "fields { n: int default 99999999999999999999999999 }".to_string();
    for text in [
        deep_parens,
        deep_braces,
        long_chain,
        many_nots,
        nested_strings,
        huge_number,
    ] {
        let a = analyze(&text);
        assert!(a.has_errors(), "accepted: {}", &text[..80.min(text.len())]);
    }
}

#[test]
fn a_big_honest_file_is_read_whole() {
    let mut text = String::from(REFERENCE);
    for i in 0..2_000 {
        text.push_str(&format!(
            "stage extra{i} \"Extra {i}\" {{\n  -> lost on lost\n}}\n"
        ));
    }
    let a = analyze(&text);
    assert!(
        !a.has_errors(),
        "{:?}",
        a.diagnostics.iter().find(|d| d.is_error())
    );
    assert_eq!(
        a.file
            .items
            .iter()
            .filter(|i| matches!(i, dealflow::ast::Item::Stage(_)))
            .count(),
        2_011
    );
}
