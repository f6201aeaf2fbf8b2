//! Simulation cases: `tests/sim/<case>/pipeline.flow` + `scenario.toml`. Each case's text
//! timeline is a reviewed snapshot, and `expect.txt` lists records that must (or, after `!`,
//! must not) be in its JSON timeline: `deal kind key=value …`.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sim");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

/// `deal kind a=x b=y z` → (deal, kind, [(a, "x"), (b, "y z")]).
fn parse_line(line: &str) -> (String, String, Vec<(String, String)>) {
    let mut words = line.splitn(3, ' ');
    let deal = words.next().unwrap_or_default().to_string();
    let kind = words.next().unwrap_or_default().to_string();
    let rest = words.next().unwrap_or_default();
    let mut pairs: Vec<(String, String)> = Vec::new();
    for token in rest.split(' ').filter(|t| !t.is_empty()) {
        let is_key = token.split_once('=').is_some_and(|(k, _)| {
            !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        });
        match (is_key, pairs.last_mut()) {
            (true, _) | (false, None) => {
                let (k, v) = token.split_once('=').unwrap_or((token, ""));
                pairs.push((k.to_string(), v.to_string()));
            }
            (false, Some((_, v))) => {
                v.push(' ');
                v.push_str(token);
            }
        }
    }
    (deal, kind, pairs)
}

fn matches(record: &Value, deal: &str, kind: &str, pairs: &[(String, String)]) -> bool {
    record["deal"] == deal
        && record["kind"] == kind
        && pairs.iter().all(|(k, want)| match &record[k.as_str()] {
            Value::String(s) => s == want,
            Value::Null => false,
            other => {
                let text = other.to_string();
                text == *want
            }
        })
}

#[test]
fn every_case_tells_its_story() {
    let cases = cases();
    assert!(cases.len() >= 12, "only {} simulation cases", cases.len());
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let (plan, timeline) = dealflow::load::simulate_files(
            &case.join("pipeline.flow"),
            &case.join("scenario.toml"),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let json = timeline.json_lines(&plan);
        common::schema::conforms(&name, &json);
        let records: Vec<Value> = json
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let expect = std::fs::read_to_string(case.join("expect.txt"))
            .unwrap_or_else(|_| panic!("{name}: no expect.txt"));
        let mut checked = 0;
        for line in expect
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (negated, line) = match line.strip_prefix("! ") {
                Some(rest) => (true, rest),
                None => (false, line),
            };
            let (deal, kind, pairs) = parse_line(line);
            let found = records.iter().any(|r| matches(r, &deal, &kind, &pairs));
            if negated {
                assert!(
                    !found,
                    "{name}: found a record that must not be there: {line}"
                );
            } else {
                let same_kind: Vec<&Value> = records
                    .iter()
                    .filter(|r| r["deal"] == deal.as_str() && r["kind"] == kind.as_str())
                    .collect();
                assert!(
                    found,
                    "{name}: missing `{line}`; records of that kind: {same_kind:#?}"
                );
            }
            checked += 1;
        }
        assert!(checked >= 3, "{name}: expect.txt checks too little");
        let text = dealflow::sim::output::text(&plan, &timeline);
        insta::with_settings!({ snapshot_suffix => name.clone(), prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!("timeline", text);
        });
    }
}
