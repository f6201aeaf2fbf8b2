//! `dealflow test`: the analyst's test runner as they meet it — the repository's own tests, a
//! failing expectation, every kind of broken test file, JUnit XML for CI.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use common::cmd::{Scratch, dealflow, dealflow_in, text};

/// The reference pipelines pass the tests beside them, found with no file named.
#[test]
fn the_repositorys_pipelines_pass_the_tests_beside_them() {
    for (flow, file, count) in [
        (
            "rules/web-studio.flow",
            "rules/tests/web-studio/ivan.toml",
            17,
        ),
        (
            "rules/kitchen-workshop.flow",
            "rules/tests/kitchen-workshop/kitchens.toml",
            13,
        ),
    ] {
        let out = dealflow(&["test", flow]);
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{flow}: {stdout}{}",
            text(&out.stderr)
        );
        assert_eq!(
            stdout,
            format!("{file}: ok ({count} passed, 0 failed)\n{count} passed, 0 failed\n")
        );
    }
}

/// A copy of Ivan's test beside the repository's scenario, with `edit` applied.
fn ivan_test(dir: &Scratch, name: &str, edit: impl Fn(String) -> String) -> String {
    let scenario = common::root().join("examples/ivan.scenario.toml");
    let original = std::fs::read_to_string(common::root().join("rules/tests/web-studio/ivan.toml"))
        .unwrap()
        .replace(
            "scenario = \"../../../examples/ivan.scenario.toml\"",
            &format!("scenario = {:?}", scenario.display().to_string()),
        );
    dir.file(name, &edit(original));
    dir.0.join(name).display().to_string()
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn a_failing_expectation_names_its_line_the_deal_and_what_it_found() {
    let dir = Scratch::new("test-fails");
    let wrong = |t: String| {
        t.replace(
            "fields = { invoice_status = \"expired\" }",
            "fields = { invoice_status = \"paid\" }",
        )
        .replace("hours_spent = 67", "hours_spent = 66")
    };
    let file = ivan_test(&dir, "ivan.toml", wrong);
    let flow = common::root().join("rules/web-studio.flow");
    let out = dealflow(&["test", flow.to_str().unwrap(), &file]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let written = std::fs::read_to_string(&file).unwrap();
    let burn = line_of(&written, "invoice_status = \"paid\" }") - 3;
    let end = line_of(&written, "hours_spent = 66") - 3;
    assert_eq!(
        stdout,
        format!(
            "{file}: FAILED (15 passed, 2 failed)\n\
             \x20 {file}:{burn}: ivan/2 at 2026-03-14T00:00: `invoice_status` is \"expired\", expected \"paid\"\n\
             \x20 {file}:{end}: ivan/1 at the end: hours spent are 67, expected 66\n\
             15 passed, 2 failed\n"
        )
    );
}

/// Every kind of broken test file is reported with its file and line, the other files still
/// run, and the exit code is 2.
#[test]
fn a_test_file_that_cannot_run_says_why_with_its_line_and_exits_2() {
    let dir = Scratch::new("test-broken");
    let good = ivan_test(&dir, "a-good.toml", |t| t);
    type Case = (&'static str, fn(String) -> String, &'static str);
    let cases: [Case; 7] = [
        (
            "unknown-key.toml",
            |t| {
                t.replace(
                    "hours_spent = 11\nalerts = []",
                    "hours_spent = 11\ncolour = \"red\"",
                )
            },
            "[[expect]]: unknown field `colour`",
        ),
        (
            "unknown-field.toml",
            |t| {
                t.replace(
                    "fields = { labour_cost = 17200,",
                    "fields = { labor_cost = 17200,",
                )
            },
            "the pipeline has no field or role `labor_cost` (did you mean `labour_cost`?)",
        ),
        (
            "unknown-stage.toml",
            |t| t.replace("stages = [\"lost\"]", "stages = [\"lsot\"]"),
            "the pipeline has no stage `lsot` (did you mean `lost`?)",
        ),
        (
            "wrong-type.toml",
            |t| t.replace("planned_start = \"2026-03-06\"", "planned_start = \"soon\""),
            "`planned_start` must be a date like 2026-03-02, not `soon`",
        ),
        (
            "after-the-end.toml",
            |t| t.replace("at = \"2026-04-09T00:00\"", "at = \"2026-05-09T00:00\""),
            "`at = \"2026-05-09T00:00\"` is after the scenario's `until`: the clock never gets there",
        ),
        (
            "nothing-expected.toml",
            |t| {
                t.replace(
                    "stages = [\"contract\"]\nsent = []\nopen_tasks = [\"draft_contract\"]",
                    "",
                )
            },
            "[[expect]] for `maria` expects nothing",
        ),
        (
            "no-base.toml",
            |t| t.replace("examples/ivan.scenario.toml", "examples/ivan.missing.toml"),
            "ivan.missing.toml",
        ),
    ];
    let flow = common::root().join("rules/web-studio.flow");
    for (name, edit, said) in cases {
        let file = ivan_test(&dir, name, edit);
        let out = dealflow(&["test", flow.to_str().unwrap(), &good, &file]);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{name}: {stdout}");
        assert!(
            stdout.starts_with(&format!("{good}: ok (17 passed, 0 failed)\n")),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("{file}: ERROR\n")),
            "{name}: {stdout}"
        );
        assert!(stdout.contains(said), "{name}: {stdout}");
        assert!(
            stdout.ends_with("17 passed, 0 failed, 1 file(s) could not be run\n"),
            "{name}: {stdout}"
        );
        if name != "no-base.toml" {
            // The line named is the `[[expect]]` header of the broken section.
            let at = stdout.split(&format!("{file}:")).nth(2).unwrap_or_default();
            let line: usize = at
                .split(':')
                .next()
                .unwrap_or_default()
                .parse()
                .unwrap_or(0);
            let written = std::fs::read_to_string(&file).unwrap();
            assert_eq!(
                written.lines().nth(line - 1),
                Some("[[expect]]"),
                "{name}: {stdout}"
            );
        }
    }
    // A file that is not there, and a scenario with no expectations.
    let plain = common::root().join("examples/ivan.scenario.toml");
    let out = dealflow(&[
        "test",
        "rules/web-studio.flow",
        "missing.toml",
        plain.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("missing.toml: ERROR\n  cannot read `missing.toml`"),
        "{stdout}"
    );
    assert!(stdout.contains("no [[expect]] section"), "{stdout}");
}

/// Tests beside a pipeline of the analyst's own; a folder named runs every file in it; scenarios
/// name each other in a circle and are told so.
#[test]
fn tests_are_found_beside_the_pipeline_and_in_folders() {
    let dir = Scratch::new("test-beside");
    let flow = std::fs::read_to_string(common::root().join("rules/kitchen-workshop.flow")).unwrap();
    dir.file("shop.flow", &flow);
    dir.file(
        "kitchen-workshop.rhai",
        &std::fs::read_to_string(common::root().join("rules/kitchen-workshop.rhai")).unwrap(),
    );
    let out = dealflow_in(&dir.0, &["test", "shop.flow"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no tests for `shop.flow`"),
        "{}",
        text(&out.stderr)
    );
    let kitchens =
        std::fs::read_to_string(common::root().join("rules/tests/kitchen-workshop/kitchens.toml"))
            .unwrap();
    dir.file("tests/shop/one.toml", &kitchens);
    dir.file("tests/shop/two.toml", &kitchens);
    dir.file("tests/shop/notes.txt", "not a test");
    let out = dealflow_in(&dir.0, &["test", "shop.flow"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.ends_with("26 passed, 0 failed\n"), "{stdout}");
    let out = dealflow_in(&dir.0, &["test", "shop.flow", "tests/shop"]);
    assert_eq!(text(&out.stdout), stdout);
    // Two files that play each other.
    dir.file("a.toml", "scenario = \"b.toml\"\n");
    dir.file("b.toml", "scenario = \"a.toml\"\n");
    let out = dealflow_in(&dir.0, &["test", "shop.flow", "a.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stdout).contains("scenarios name each other more than 8 deep"),
        "{}",
        text(&out.stdout)
    );
}

/// JUnit XML, read by an XML parser: a suite per file, a case per expectation, the failure's
/// message; a file that cannot run is an error.
#[test]
fn junit_xml_reports_each_expectation_as_a_test_case() {
    let dir = Scratch::new("test-junit");
    let good = ivan_test(&dir, "good.toml", |t| t);
    let bad = ivan_test(&dir, "bad.toml", |t| {
        t.replace(
            "alerts = [\"late\"]",
            "alerts = [\"late\", \"hours_overrun\"]",
        )
    });
    let broken = dir.file("broken.toml", "start = [\n");
    let report = dir.0.join("report.xml");
    let out = dealflow(&[
        "test",
        "rules/web-studio.flow",
        &good,
        &bad,
        broken.to_str().unwrap(),
        "--format",
        "junit",
        "-o",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    // With `-o`, the lines for people still come to standard output.
    assert!(text(&out.stdout).ends_with("33 passed, 1 failed, 1 file(s) could not be run\n"));
    let xml = std::fs::read_to_string(&report).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let attr = |n: roxmltree::Node<'_, '_>, a: &str| n.attribute(a).unwrap_or_default().to_string();
    assert_eq!(
        (
            attr(root, "tests"),
            attr(root, "failures"),
            attr(root, "errors")
        ),
        ("35".into(), "1".into(), "1".into())
    );
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 3);
    fn cases<'a, 'i>(s: roxmltree::Node<'a, 'i>) -> Vec<roxmltree::Node<'a, 'i>> {
        s.children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect()
    }
    assert_eq!(cases(suites[0]).len(), 17);
    let failed: Vec<_> = cases(suites[1])
        .into_iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .collect();
    assert_eq!(failed.len(), 1);
    let written = std::fs::read_to_string(&bad).unwrap();
    let line = line_of(&written, "alerts = [\"late\", \"hours_overrun\"]") - 3;
    assert_eq!(
        attr(failed[0], "name"),
        format!("line {line}: ivan/1 at 2026-04-09T00:00")
    );
    assert_eq!(attr(failed[0], "line"), line.to_string());
    let failure = failed[0]
        .children()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert_eq!(
        attr(failure, "message"),
        "alerts are [late], expected [late, hours_overrun]"
    );
    let error = cases(suites[2])[0]
        .children()
        .find(|n| n.has_tag_name("error"))
        .expect("an error");
    assert!(error.text().unwrap_or_default().contains("broken.toml"));
}
