//! The formatter: on every real pipeline and every test file it keeps the meaning (the AST,
//! comments included), it is idempotent, and its output for tricky input is a reviewed snapshot.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

use std::path::{Path, PathBuf};

use dealflow::{fmt, parse};

fn corpus() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["rules", "examples", "tests/ui", "tests/fmt", "tests/sim"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            if path.extension().is_some_and(|x| x == "flow") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn formatting_keeps_the_meaning_and_is_idempotent_on_every_file() {
    let mut checked = 0;
    for path in corpus() {
        let text = std::fs::read_to_string(&path).unwrap();
        let before = parse::parse(&text);
        if !before.diagnostics.is_empty() {
            continue; // files that are broken on purpose
        }
        let once = fmt::format(&before.file, &text);
        let after = parse::parse(&once);
        assert!(
            after.diagnostics.is_empty(),
            "{}: the formatted text does not parse: {:?}\n{once}",
            path.display(),
            after.diagnostics
        );
        assert_eq!(
            before.file,
            after.file,
            "{}: formatting changed the meaning",
            path.display()
        );
        let twice = fmt::format(&after.file, &once);
        assert_eq!(
            once,
            twice,
            "{}: formatting is not idempotent",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} files were formatted");
}

#[test]
fn comments_strings_and_blocks_are_laid_out_canonically() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fmt/comments_everywhere.flow");
    let text = std::fs::read_to_string(path).unwrap();
    let parsed = parse::parse(&text);
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    let out = fmt::format(&parsed.file, &text);
    // Every comment of the input is in the output, in the same order.
    let comments: Vec<&str> = parsed
        .file
        .comments
        .iter()
        .map(|c| c.text.as_str())
        .collect();
    let mut rest = out.as_str();
    for c in &comments {
        let at = rest
            .find(c)
            .unwrap_or_else(|| panic!("comment {c:?} lost:\n{out}"));
        rest = &rest[at + c.len()..];
    }
    insta::assert_snapshot!(out);
}

#[test]
fn the_reference_pipeline_needs_no_change_after_one_pass() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/kitchen-workshop.flow");
    let text = std::fs::read_to_string(path).unwrap();
    let parsed = parse::parse(&text);
    assert_eq!(
        fmt::format(&parsed.file, &text),
        text,
        "rules/kitchen-workshop.flow is kept formatted"
    );
}
