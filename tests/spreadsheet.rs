//! What clients typed never runs in a spreadsheet: deals whose names, phones and notes begin
//! like formulas (`=HYPERLINK("http://evil","x")`, `+7…`, `-x`, `@x`, a tab before `=x`) are
//! imported, exported (`dealflow export deals|history`, `dealflow report --format csv -o DIR`)
//! and opened by a spreadsheet program no one here wrote — LibreOffice, headless, converting
//! each CSV to `.ods` — whose file is read back with Python's standard library: no cell is a
//! formula, the texts are intact behind the `'` that marks them as text, and a negative amount
//! and a date stay a number and a date. Then the export is imported again: every value comes
//! back as it was.
//!
//! LibreOffice is Debian's `libreoffice-calc-nogui` (`.ci/install-test-tools`); without it the
//! spreadsheet half says it was skipped, unless `DEALFLOW_REQUIRE_LIBREOFFICE` is set (CI).

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::cmd::{Scratch, dealflow_in, text};
use common::root;
use serde_json::{Value, json};

const HYPERLINK: &str = "=HYPERLINK(\"http://evil\",\"x\")";

/// The old CRM's file: what visitors typed, as a website form or a careless colleague left it.
fn crm_file() -> String {
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    [
        "ID,STAGE,NAME,PHONE,SOURCE,PLACE,COMMENT,MARGIN,END,WHO".to_string(),
        format!(
            "1,NEW,{},+7 916 123-45-67,@x,-x,{},-15000.50,2026-04-30,Анна Смирнова",
            q(HYPERLINK),
            q("\t=x")
        ),
        "2,NEW,+7 (916) 555-01-01,,,,,,,".into(),
        "3,NEW,-x,,,,,,,".into(),
        "4,NEW,@x,,,,,,,".into(),
        format!("5,NEW,{},,,,,,,", q("\t=x")),
        // A cell another spreadsheet-safe export wrote: the text `=x`.
        "6,NEW,'=x,,,,,,,".into(),
        format!("7,LOSE,Нина Орлова,,,,{},,,", q(HYPERLINK)),
    ]
    .join("\n")
        + "\n"
}

const CRM_MAP: &str = r#"
id = "ID"
id_prefix = "x-"
stage = "STAGE"
[stages]
NEW = "lead"
LOSE = "lost"
[fields]
NAME = "client_name"
PHONE = "client_phone"
SOURCE = "source"
PLACE = "meeting_place"
COMMENT = "comment"
MARGIN = "margin"
END = "planned_end"
WHO = "sales"
[people]
"Анна Смирнова" = "anna"
"#;

/// dealflow's own deals export read back: its columns are the pipeline's names.
const EXPORT_MAP: &str = r#"
id = "id"
title = "title"
stage = "stages"
[fields]
client_name = "client_name"
client_phone = "client_phone"
source = "source"
meeting_place = "meeting_place"
comment = "comment"
margin = "margin"
planned_end = "planned_end"
sales = "sales"
"#;

/// A folder with the reference pipeline and a configuration (the example's team) per database.
fn studio(test: &str) -> Scratch {
    let dir = Scratch::new(test);
    for f in ["web-studio.flow", "web-studio.rhai"] {
        dir.file(
            f,
            &std::fs::read_to_string(root().join("rules").join(f)).unwrap(),
        );
    }
    let example = std::fs::read_to_string(root().join("examples/dealflow.toml")).unwrap();
    let team = &example[example.find("[[team]]").unwrap()..];
    for db in ["first", "again"] {
        dir.file(
            &format!("{db}.toml"),
            &format!(
                "[database]\nurl = \"sqlite://{db}.db\"\n[rules]\nfile = \"web-studio.flow\"\n{team}"
            ),
        );
    }
    dir
}

fn run(dir: &Path, args: &[&str]) -> String {
    let out = dealflow_in(dir, args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn import(dir: &Path, csv: &str, map: &str, config: &str) -> String {
    run(
        dir,
        &[
            "import",
            csv,
            "--map",
            map,
            "--rules",
            "web-studio.flow",
            "--config",
            config,
            "--apply",
        ],
    )
}

/// The deals of a database by id, as JSON Lines export them.
fn deals(dir: &Path, db: &str) -> BTreeMap<String, Value> {
    run(dir, &["export", "deals", "--db", db, "--format", "jsonl"])
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|d| (d["id"].as_str().unwrap().to_string(), d))
        .collect()
}

/// A CSV file as LibreOffice opens it (comma-separated, UTF-8), saved as `.ods` and read back:
/// rows of cells `{type, value, text, formula}`. `None` when LibreOffice is not installed (said),
/// unless `DEALFLOW_REQUIRE_LIBREOFFICE` is set.
fn libreoffice(csv: &Path) -> Option<Vec<Vec<Value>>> {
    let dir = csv.parent().unwrap();
    // A profile of its own: two conversions at once never meet in one LibreOffice.
    let profile = dir.join(format!(
        "lo-profile-{}",
        csv.file_stem().unwrap().to_string_lossy()
    ));
    let converted = std::process::Command::new("soffice")
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.display()
        ))
        .args([
            "--headless",
            "--infilter=CSV:44,34,76,1",
            "--convert-to",
            "ods",
        ])
        .arg("--outdir")
        .arg(dir)
        .arg(csv)
        .output();
    let Ok(converted) = converted else {
        assert!(
            std::env::var_os("DEALFLOW_REQUIRE_LIBREOFFICE").is_none(),
            "LibreOffice (soffice) is required here: .ci/install-test-tools installs it"
        );
        common::skipped(
            "spreadsheet check: SKIPPED (no LibreOffice; .ci/install-test-tools installs it)",
        );
        return None;
    };
    let ods = csv.with_extension("ods");
    assert!(
        ods.exists(),
        "LibreOffice made no {}: {}{}",
        ods.display(),
        text(&converted.stdout),
        text(&converted.stderr)
    );
    let read = std::process::Command::new("python3")
        .arg(root().join("tests/spreadsheet/read_ods.py"))
        .arg(&ods)
        .output();
    let Ok(read) = read else {
        assert!(
            std::env::var_os("DEALFLOW_REQUIRE_PYTHON").is_none(),
            "python3 is required here"
        );
        common::skipped("spreadsheet check: SKIPPED (no python3 to read the .ods)");
        return None;
    };
    assert!(read.status.success(), "{}", text(&read.stderr));
    Some(serde_json::from_slice(&read.stdout).unwrap())
}

/// No cell of the table is a formula.
fn no_formula(name: &str, table: &[Vec<Value>]) {
    for (r, row) in table.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            assert!(
                cell["formula"].is_null(),
                "{name}: row {} column {} is a formula: {cell}",
                r + 1,
                c + 1
            );
        }
    }
}

/// The table's rows by their first cell's text, each a map from the header's names to cells.
fn by_id(table: &[Vec<Value>]) -> BTreeMap<String, BTreeMap<String, Value>> {
    let header: Vec<String> = table[0]
        .iter()
        .map(|c| c["text"].as_str().unwrap().to_string())
        .collect();
    table[1..]
        .iter()
        .map(|row| {
            let cells: BTreeMap<String, Value> = header
                .iter()
                .cloned()
                .zip(row.iter().cloned().chain(std::iter::repeat(json!({}))))
                .collect();
            (row[0]["text"].as_str().unwrap().to_string(), cells)
        })
        .collect()
}

#[test]
fn what_clients_typed_never_runs_in_a_spreadsheet_and_comes_back_as_typed() {
    let dir = studio("spreadsheet");
    let crm = dir.file("crm.csv", &crm_file());
    let map = dir.file("crm.toml", CRM_MAP);
    let out = import(
        &dir.0,
        crm.to_str().unwrap(),
        map.to_str().unwrap(),
        "first.toml",
    );
    assert!(
        out.starts_with("7 rows: 7 deals created, 0 refused"),
        "{out}"
    );
    let first = deals(&dir.0, "sqlite://first.db");
    // The import kept what makes a text a text: the tab before `=x`; the `'` another
    // spreadsheet-safe export put before `=x` is taken off.
    assert_eq!(first["x-1"]["client_name"], HYPERLINK);
    assert_eq!(first["x-1"]["comment"], "\t=x");
    assert_eq!(first["x-5"]["client_name"], "\t=x");
    assert_eq!(first["x-6"]["client_name"], "=x");
    assert_eq!(first["x-1"]["margin"], "-15000.50", "money as exact text");

    // Every CSV the product writes, as written.
    run(
        &dir.0,
        &[
            "export",
            "deals",
            "--db",
            "sqlite://first.db",
            "-o",
            "deals.csv",
        ],
    );
    run(
        &dir.0,
        &[
            "export",
            "history",
            "--db",
            "sqlite://first.db",
            "-o",
            "history.csv",
        ],
    );
    run(
        &dir.0,
        &[
            "report",
            "--db",
            "sqlite://first.db",
            "--format",
            "csv",
            "-o",
            "report",
        ],
    );
    let written = std::fs::read_to_string(dir.0.join("deals.csv")).unwrap();
    assert!(
        written.contains("\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\""),
        "{written}"
    );
    for cell in [",'+79161234567,", ",'@x,", ",'-x,", ",'\t=x,"] {
        assert!(written.contains(cell), "{cell:?} in {written}");
    }
    assert!(
        written.contains(",-15000.50\n"),
        "a negative amount stays a number: {written}"
    );
    // A reason a client gave for leaving, as the team typed it, in the report's table: a
    // story played through the pipeline (an imported deal's own past is not the analytics').
    let story = dir.file(
        "story.toml",
        &format!(
            "start = \"2026-03-02T09:00\"\nuntil = \"2026-03-10T00:00\"\n\n[[team]]\nid = \"anna\"\n\
             roles = [\"sales\"]\nrate = 1500\n\n[[deal]]\nid = \"a\"\nat = \"2026-03-02T10:00\"\n\
             title = \"A\"\nfields = {{ client_name = \"A\" }}\n\n[[event]]\ndeal = \"a\"\n\
             at = \"2026-03-02T12:00\"\nname = \"lost\"\nby = \"anna\"\nfields = {{ comment = {} }}\n",
            toml::Value::String(HYPERLINK.to_string())
        ),
    );
    let flow = root().join("rules/web-studio.flow");
    run(
        &dir.0,
        &[
            "report",
            flow.to_str().unwrap(),
            story.to_str().unwrap(),
            "--format",
            "csv",
            "--section",
            "lost_reasons",
            "-o",
            "report/lost_reasons.csv",
        ],
    );
    let lost = std::fs::read_to_string(dir.0.join("report/lost_reasons.csv")).unwrap();
    assert!(lost.contains("\"'="), "{lost}");

    // Opened by a spreadsheet.
    let Some(sheet) = libreoffice(&dir.0.join("deals.csv")) else {
        return;
    };
    no_formula("deals.csv", &sheet);
    let rows = by_id(&sheet);
    let one = &rows["x-1"];
    for (column, typed) in [
        ("title", HYPERLINK),
        ("client_name", HYPERLINK),
        ("client_phone", "+79161234567"),
        ("source", "@x"),
        ("meeting_place", "-x"),
        ("comment", "\t=x"),
    ] {
        assert_eq!(one[column]["type"], "string", "{column}: {}", one[column]);
        assert_eq!(one[column]["text"], format!("'{typed}"), "{column}");
    }
    assert_eq!(one["sales"]["text"], "anna");
    assert_eq!(one["margin"]["type"], "float", "{}", one["margin"]);
    assert_eq!(one["margin"]["value"], "-15000.5");
    assert_eq!(one["planned_end"]["type"], "date", "{}", one["planned_end"]);
    assert_eq!(one["planned_end"]["value"], "2026-04-30");
    for (id, name) in [
        ("x-2", "+7 (916) 555-01-01"),
        ("x-3", "-x"),
        ("x-4", "@x"),
        ("x-5", "\t=x"),
        ("x-6", "=x"),
    ] {
        assert_eq!(rows[id]["client_name"]["text"], format!("'{name}"), "{id}");
    }
    assert_eq!(
        rows["x-5"]["title"]["text"], "'=x",
        "a title is one line: the tab goes, the formula does not come"
    );
    for name in ["history.csv", "report/lost_reasons.csv"] {
        let sheet = libreoffice(&dir.0.join(name)).unwrap();
        no_formula(name, &sheet);
        assert!(sheet.len() > 1, "{name} has rows");
    }
    let reasons = libreoffice(&dir.0.join("report/lost_reasons.csv")).unwrap();
    assert!(
        reasons[1][0]["text"].as_str().unwrap().starts_with("'="),
        "{reasons:?}"
    );

    // The export imported again: every value as it was before the round trip.
    let map = dir.file("export.toml", EXPORT_MAP);
    let out = import(
        &dir.0,
        dir.0.join("deals.csv").to_str().unwrap(),
        map.to_str().unwrap(),
        "again.toml",
    );
    assert!(
        out.starts_with("7 rows: 7 deals created, 0 refused"),
        "{out}"
    );
    let again = deals(&dir.0, "sqlite://again.db");
    for (id, deal) in &first {
        for column in [
            "title",
            "stages",
            "client_name",
            "client_phone",
            "source",
            "meeting_place",
            "comment",
            "margin",
            "planned_end",
            "sales",
        ] {
            assert_eq!(again[id][column], deal[column], "{id} {column}");
        }
    }
}
