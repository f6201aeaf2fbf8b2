//! The `dealflow` binary as an analyst runs it: exit codes, what is printed, files left intact.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use common::cmd::{Scratch, dealflow, text};

#[test]
fn the_reference_pipelines_check_clean() {
    for file in ["rules/web-studio.flow", "rules/kitchen-workshop.flow"] {
        let out = dealflow(&["check", file]);
        assert!(out.status.success(), "{file}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("no problems found"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn check_exits_1_on_errors_and_shows_place_line_caret_and_help() {
    let out = dealflow(&["check", "tests/ui/unknown_stage.flow"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("tests/ui/unknown_stage.flow:42:6"), "{err}");
    assert!(err.contains("-> biling on called"), "{err}");
    assert!(err.contains("did you mean `billing`?"), "{err}");
    assert!(err.contains("E0101"), "{err}");
}

#[test]
fn warnings_alone_exit_0_unless_denied() {
    assert_eq!(
        dealflow(&["check", "tests/ui/unreachable_stage.flow"])
            .status
            .code(),
        Some(0)
    );
    let denied = dealflow(&[
        "check",
        "--deny-warnings",
        "tests/ui/unreachable_stage.flow",
    ]);
    assert_eq!(denied.status.code(), Some(1));
}

#[test]
fn check_reports_every_file_and_fails_if_any_fails() {
    let out = dealflow(&[
        "check",
        "rules/web-studio.flow",
        "tests/ui/unknown_role.flow",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("rules/web-studio.flow: no problems found"),
        "{err}"
    );
    assert!(err.contains("tests/ui/unknown_role.flow: 1 error"), "{err}");
}

#[test]
fn check_json_is_one_document_per_file_with_positions() {
    let out = dealflow(&["check", "--format", "json", "tests/ui/unknown_role.flow"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(v["errors"], 1);
    let d = &v["diagnostics"][0];
    assert_eq!(d["code"], "E0103");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["line"], 40);
    assert_eq!(d["column"], 36);
    assert_eq!(d["help"], "did you mean `sales`?");
}

#[test]
fn a_missing_file_is_exit_2_with_a_plain_message() {
    let out = dealflow(&["check", "no/such/file.flow"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot read `no/such/file.flow`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn fmt_rewrites_in_place_and_check_mode_changes_nothing() {
    let dir = Scratch::new("fmt");
    let messy = "pipeline p \"P\" { timezone \"UTC\" }\nstage a \"A\" {   -> b on go }\nstage b \"B\" final\nevent go\n";
    let path = dir.file("messy.flow", messy);
    let p = path.to_str().unwrap();

    let check = dealflow(&["fmt", "--check", p]);
    assert_eq!(check.status.code(), Some(1));
    assert!(text(&check.stderr).contains("not in the canonical layout"));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        messy,
        "--check must not write"
    );

    let fmt = dealflow(&["fmt", p]);
    assert!(fmt.status.success(), "{}", text(&fmt.stderr));
    let formatted = std::fs::read_to_string(&path).unwrap();
    assert!(
        formatted.contains("stage a \"A\" {\n  -> b on go\n}\n"),
        "{formatted}"
    );
    assert_eq!(dealflow(&["fmt", "--check", p]).status.code(), Some(0));
    // No temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&dir.0).unwrap().collect();
    assert_eq!(leftovers.len(), 1);
}

#[test]
fn fmt_refuses_a_broken_file_and_leaves_it_untouched() {
    let dir = Scratch::new("fmt-broken");
    let broken = "pipeline p \"P\" {\nstage a \"A\" final\n";
    let path = dir.file("broken.flow", broken);
    let out = dealflow(&["fmt", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not formatted"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);
}

#[test]
fn graph_draws_splits_joins_phases_and_labels() {
    let mermaid = dealflow(&["graph", "rules/web-studio.flow"]);
    assert!(mermaid.status.success());
    let m = text(&mermaid.stdout);
    assert!(m.starts_with("flowchart LR"), "{m}");
    assert!(m.contains("subgraph s_phase_presale[\"Пресейл\"]"), "{m}");
    assert!(m.contains("s_lead -->|\"call_done\"| s_meeting"), "{m}");
    assert!(m.contains("s_contract -.->|\"spawn deal\"| s_fork1"), "{m}");
    assert!(
        m.contains("s_fork1 --> s_billing") && m.contains("s_fork1 --> s_prepayment"),
        "{m}"
    );
    assert!(m.contains("class s_closed join"), "{m}");

    let dot = dealflow(&["graph", "--format", "dot", "rules/kitchen-workshop.flow"]);
    assert!(dot.status.success());
    let d = text(&dot.stdout);
    assert!(d.starts_with("digraph pipeline {"), "{d}");
    assert!(d.contains("subgraph \"cluster_money\""), "{d}");
    assert!(
        d.contains("\"deposit\" -> \"fork1\" [label=\"deposit_paid\"]"),
        "{d}"
    );
    assert!(
        d.contains("\"fork1\" -> \"production\"") && d.contains("\"fork1\" -> \"balance\""),
        "{d}"
    );
    assert!(d.contains("\"balance\" -> \"done\" [label=\"skip when price is set and deposit >= price\", style=dotted]"), "{d}");
    assert!(
        d.contains("\"quote\" -> \"lost\" [label=\"quote_declined\"]"),
        "{d}"
    );
}

/// A guard that reads a derived field shows what computes it: the picture has no field list.
#[test]
fn graph_spells_out_the_derived_fields_a_guard_reads() {
    let out = dealflow(&["graph", "tests/sim/derived_fields/pipeline.flow"]);
    assert!(out.status.success());
    let m = text(&out.stdout);
    assert!(
        m.contains(
            "s_work -->|\"when open_tasks == 0 and margin > 0 · margin = amount - labour\"| s_done"
        ),
        "{m}"
    );
}

#[test]
fn graph_draws_an_svg_picture_with_every_stage_and_the_phases() {
    let out = dealflow(&["graph", "--format", "svg", "rules/web-studio.flow"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let svg = text(&out.stdout);
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    assert!(svg.trim_end().ends_with("</svg>"), "{svg}");
    // Every stage by its title, the join marked, the phases in the legend.
    for title in [
        "Лид",
        "Встреча назначена",
        "Договор",
        "Счёт и оплата",
        "Ждём предоплату",
        "Производство",
        "Сдано",
        "Проиграна",
        "Закрыта ⋈",
    ] {
        assert!(
            svg.contains(&format!(">{title}<")),
            "no stage `{title}` in {svg}"
        );
    }
    for phase in ["Пресейл", "Оплата", "Производство"] {
        assert!(
            svg.contains(&format!("font-size=\"13\">{phase}</text>")),
            "{phase}"
        );
    }
    // Triggers label the arrows; the spawn is dashed.
    for label in [
        "call_done",
        "meeting_held",
        "payment_received",
        "spawn deal",
    ] {
        assert!(svg.contains(&format!(">{label}<")), "no label `{label}`");
    }
    assert!(svg.contains("stroke-dasharray"), "no dashed edge");
    // A stage title with markup characters is escaped, not injected.
    let dir = Scratch::new("graph-svg");
    let flow = dir.0.join("tiny.flow");
    std::fs::write(
        &flow,
        "pipeline tiny \"<b>\" {\n  timezone \"UTC\"\n}\nstage a \"A & <B>\" {\n  -> b on go\n}\nstage b \"B\" final {\n}\n",
    )
    .unwrap();
    let out = dealflow(&["graph", "--format", "svg", flow.to_str().unwrap()]);
    let svg = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(svg.contains("A &amp; &lt;B&gt;"), "{svg}");
}

#[test]
fn graph_writes_to_a_file_when_asked() {
    let dir = Scratch::new("graph");
    let out_path = dir.0.join("web.dot");
    let out = dealflow(&[
        "graph",
        "--format",
        "dot",
        "-o",
        out_path.to_str().unwrap(),
        "rules/web-studio.flow",
    ]);
    assert!(out.status.success());
    assert!(
        std::fs::read_to_string(out_path)
            .unwrap()
            .contains("\"paid\" -> \"closed\"")
    );
}

#[test]
fn help_names_every_subcommand() {
    let out = dealflow(&["--help"]);
    let help = text(&out.stdout);
    for cmd in ["check", "fmt", "graph"] {
        assert!(help.contains(cmd), "{help}");
    }
}

#[test]
fn the_language_reference_explains_every_code() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/LANGUAGE.md")).unwrap();
    for code in dealflow::diag::codes::ALL {
        assert!(
            doc.contains(&format!("| {} |", code.id)),
            "LANGUAGE.md does not explain {}",
            code.id
        );
    }
}

#[test]
fn a_script_that_prints_does_not_spoil_the_json_timeline() {
    let dir = Scratch::new("print");
    let flow = dir.file(
        "p.flow",
        r#"pipeline p "P" {
  timezone "UTC"
  script "s.rhai"
}

fields {
  name:  text required
  total: money
}

event quote

stage open "Open" {
  on quote {
    set total = noisy(2)
  }
  -> done when total > 1
}

stage done "Done" final
"#,
    );
    dir.file(
        "s.rhai",
        "fn noisy(x) { print(\"PRINTED\"); debug(\"DEBUGGED\"); x * 2 }\n",
    );
    let sc = dir.file(
        "s.toml",
        r#"start = "2026-03-02T09:00"
until = "2026-03-03T09:00"

[[deal]]
id = "a"
at = "2026-03-02T10:00"
title = "A"
fields = { name = "A" }

[[event]]
deal = "a"
at = "2026-03-02T11:00"
name = "quote"
"#,
    );
    let out = dealflow(&[
        "simulate",
        "--format",
        "json",
        flow.to_str().unwrap(),
        sc.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    common::schema::conforms("print", &stdout);
    assert!(stdout.contains(r#""field":"total","value":4"#), "{stdout}");
    let all = stdout + text(&out.stderr).as_str();
    assert!(
        !all.contains("PRINTED") && !all.contains("DEBUGGED"),
        "{all}"
    );
}
