//! `dealflow import` and `dealflow export` as an analyst runs them: a Bitrix24 deals file
//! mapped by `examples/import/bitrix24-deals.toml` onto the reference pipeline — a dry run that
//! writes nothing and says what it would do, row by row; `--apply` into a database no daemon
//! holds, quietly (no welcome SMS to old clients) unless `--with-actions`; a second run that
//! leaves the deals it finds as they are — and the database exported again as CSV (read by
//! Python's csv module, a reader we did not write) and JSON Lines.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use std::path::Path;

use common::cmd::{Scratch, dealflow_in, text};
use common::root;
use serde_json::Value;

/// A folder with the reference pipeline and a daemon configuration (the example's team) whose
/// database is `name`.
fn studio(test: &str, db: &str) -> Scratch {
    let dir = Scratch::new(test);
    for f in ["web-studio.flow", "web-studio.rhai"] {
        dir.file(
            f,
            &std::fs::read_to_string(root().join("rules").join(f)).unwrap(),
        );
    }
    let example = std::fs::read_to_string(root().join("examples/dealflow.toml")).unwrap();
    let team = &example[example.find("[[team]]").unwrap()..];
    dir.file(
        "dealflow.toml",
        &format!(
            "[database]\nurl = \"sqlite://{db}\"\n[rules]\nfile = \"web-studio.flow\"\n{team}"
        ),
    );
    dir
}

fn import(dir: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let map = root().join("examples/import/bitrix24-deals.toml");
    let csv = root().join("tests/import/bitrix24-deals.csv");
    let mut args = vec![
        "import",
        "--map",
        map.to_str().unwrap(),
        "--rules",
        "web-studio.flow",
        csv.to_str().unwrap(),
        "--config",
        "dealflow.toml",
    ];
    args.extend_from_slice(extra);
    let out = dealflow_in(dir, &args);
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

fn jsonl(dir: &Path, what: &str) -> Vec<Value> {
    let out = dealflow_in(
        dir,
        &[
            "export",
            what,
            "--db",
            "sqlite://import.db",
            "--format",
            "jsonl",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[test]
fn a_bitrix24_file_is_tried_then_imported_quietly_and_exported_again() {
    let dir = studio("import-bitrix", "import.db");
    // The dry run: counts where the deals would be, says why each refused row is refused, and
    // writes nothing at all.
    let (code, out, err) = import(&dir.0, &[]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.starts_with("9 rows: 6 deals would be created, 3 refused"),
        "{out}"
    );
    for line in [
        "row 7 (b24-106): stage `UC_X1Y2Z3` is not in the map's [stages]",
        "row 8 (b24-107): column `OPPORTUNITY`: `сто тысяч` is not a number",
        "row 10 (b24-108): a deal needs `client_name` to be created",
        "  billing & production     1",
        "dry run: nothing was written; add --apply to write",
    ] {
        assert!(out.contains(line), "{line}\n{out}");
    }
    assert!(
        !out.contains("at once"),
        "a project in work is not passed: {out}"
    );
    assert!(
        !out.contains("nobody to do them"),
        "the configuration's team has every role: {out}"
    );
    assert!(
        !dir.0.join("import.db").exists(),
        "a dry run makes no database"
    );

    // Applied: the same six, at their stages, with nothing sent to anyone.
    let (code, out, err) = import(&dir.0, &["--apply"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.starts_with("9 rows: 6 deals created, 3 refused"),
        "{out}"
    );
    assert!(!out.contains("dry run"), "{out}");
    let history = jsonl(&dir.0, "history");
    let created: Vec<&Value> = history
        .iter()
        .filter(|h| h["kind"] == "deal_created")
        .collect();
    assert_eq!(created.len(), 6);
    assert!(created.iter().all(|h| h["record"]["quiet"] == true));
    assert!(
        !history.iter().any(|h| h["kind"] == "notification"),
        "no welcome message, no notice of a task: {history:#?}"
    );
    // Tasks only where a way out waits on them: the project in work (EXECUTING) has
    // production's, open; the lead has none.
    let tasks: Vec<&Value> = history
        .iter()
        .filter(|h| h["kind"] == "task_created")
        .collect();
    assert_eq!(tasks.len(), 5, "{history:#?}");
    assert!(tasks.iter().all(|h| h["deal"] == "b24-103"));
    let school = jsonl(&dir.0, "deals");
    let school = school.iter().find(|d| d["id"] == "b24-103").unwrap();
    assert_eq!(
        school["stages"],
        serde_json::json!(["billing", "production"])
    );
    assert_eq!(school["live"], true);
    let deals = jsonl(&dir.0, "deals");
    let shoes = deals
        .iter()
        .find(|d| d["id"] == "b24-102")
        .expect("b24-102");
    assert_eq!(shoes["stages"], serde_json::json!(["contract"]));
    assert_eq!(
        shoes["amount"], "350000.00",
        "«350 000,00» read as a number"
    );
    assert_eq!(shoes["planned_end"], "2026-04-30");
    assert_eq!(shoes["prepayment"], false, "[set] prepayment = false");

    // Run again: every deal is found by its id and left alone.
    let (_, out, _) = import(&dir.0, &["--apply"]);
    assert!(
        out.contains("6 already there (same id): left as they are"),
        "{out}"
    );
    assert_eq!(jsonl(&dir.0, "deals").len(), 6);

    // CSV for a spreadsheet, into a file, read back by Python's csv module.
    let out = dealflow_in(
        &dir.0,
        &[
            "export",
            "deals",
            "--db",
            "sqlite://import.db",
            "--output",
            "deals.csv",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("6 rows written to deals.csv"));
    let py = std::process::Command::new("python3")
        .args([
            "-c",
            "import csv, json, sys; print(json.dumps(list(csv.DictReader(open(sys.argv[1], encoding='utf-8')))))",
            dir.0.join("deals.csv").to_str().unwrap(),
        ])
        .output();
    match py {
        Ok(py) => {
            let rows: Vec<Value> = serde_json::from_slice(&py.stdout)
                .unwrap_or_else(|e| panic!("{e}: {}", text(&py.stderr)));
            assert_eq!(rows.len(), 6);
            let portal = rows.iter().find(|r| r["id"] == "b24-104").unwrap();
            assert_eq!(portal["title"], "Редизайн портала");
            assert_eq!(portal["amount"], "900000.50");
            assert_eq!(portal["live"], "false");
            assert_eq!(portal["client_name"], "Сергей Ким");
        }
        Err(_) => assert!(
            std::env::var_os("DEALFLOW_REQUIRE_PYTHON").is_none(),
            "python3 is required here"
        ),
    }
    // Nothing logged: the time export is its header alone.
    let out = dealflow_in(&dir.0, &["export", "time", "--db", "sqlite://import.db"]);
    assert_eq!(text(&out.stdout), "deal,n,task,member,hours,rate,at\n");
}

#[test]
fn with_actions_an_imported_lead_is_greeted_and_given_its_tasks() {
    let dir = studio("import-actions", "import.db");
    let (_, out, _) = import(&dir.0, &["--apply", "--with-actions"]);
    assert!(
        out.contains("  billing & production"),
        "work planned, tasks given: {out}"
    );
    let history = jsonl(&dir.0, "history");
    assert!(
        history
            .iter()
            .any(|h| h["deal"] == "b24-101" && h["kind"] == "task_created"),
        "{history:#?}"
    );
    assert!(
        history
            .iter()
            .all(|h| h["kind"] != "deal_created" || h["record"].get("quiet").is_none())
    );
    let tasks = jsonl(&dir.0, "tasks");
    assert!(
        tasks
            .iter()
            .any(|t| t["deal"] == "b24-103" && t["task"] == "mockups")
    );
}

#[test]
fn a_map_that_does_not_fit_says_what_and_reads_nothing() {
    let dir = studio("import-misfit", "import.db");
    let map = dir.file(
        "map.toml",
        "id = \"ID\"\ntitle = \"Название\"\n[fields]\nCONTACT_NAME = \"client\"\n[stages]\nNEW = \"new\"\n",
    );
    let csv = root().join("tests/import/bitrix24-deals.csv");
    let run = || {
        dealflow_in(
            &dir.0,
            &[
                "import",
                "--map",
                map.to_str().unwrap(),
                "--rules",
                "web-studio.flow",
                csv.to_str().unwrap(),
                "--db",
                "sqlite://import.db",
            ],
        )
    };
    let out = run();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("the pipeline has no field or role `client`"),
        "{err}"
    );
    assert!(err.contains("the pipeline has no stage `new`"), "{err}");
    dir.file(
        "map.toml",
        "id = \"ID\"\ntitle = \"Название\"\n[fields]\nCONTACT_NAME = \"client_name\"\n",
    );
    let out = run();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("has no column `Название` (its columns: ID, TITLE, STAGE_ID"),
        "{err}"
    );
    // Work said done that the pipeline has no task for, a key misspelt: named, with what fits.
    dir.file(
        "map.toml",
        "id = \"ID\"\nstage = \"STAGE_ID\"\n[stages]\nFINAL_INVOICE = { stages = \"billing & production\", done = [\"aproval\"] }\n",
    );
    let err = text(&run().stderr);
    assert!(
        err.contains("done `aproval`: the pipeline makes no task `aproval` (its tasks: approval,"),
        "{err}"
    );
    dir.file(
        "map.toml",
        "id = \"ID\"\nstage = \"STAGE_ID\"\n[stages]\nFINAL_INVOICE = { stage = \"billing\" }\n",
    );
    let err = text(&run().stderr);
    assert!(
        err.contains("unknown field `stage`, expected `stages` or `done`"),
        "{err}"
    );
}

#[test]
fn import_and_export_on_postgres() {
    let Some(url) = common::postgres() else {
        common::skipped("import on PostgreSQL: SKIPPED (set DEALFLOW_TEST_POSTGRES)");
        return;
    };
    let schema = format!("t_import_{}", std::process::id());
    let dir = studio("import-postgres", "unused.db");
    let config = std::fs::read_to_string(dir.0.join("dealflow.toml"))
        .unwrap()
        .replace(
            "url = \"sqlite://unused.db\"",
            &format!("url = \"{url}\"\nschema = \"{schema}\""),
        );
    dir.file("dealflow.toml", &config);
    let (_, out, err) = import(&dir.0, &["--apply", "--with-actions"]);
    assert!(
        out.starts_with("9 rows: 6 deals created, 3 refused"),
        "{out}{err}"
    );
    let export = |what: &str| {
        let out = dealflow_in(
            &dir.0,
            &[
                "export", what, "--db", &url, "--schema", &schema, "--format", "jsonl",
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    let deals = export("deals");
    assert_eq!(deals.len(), 6);
    let ids: Vec<&str> = deals.iter().map(|d| d["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "in id order");
    let tasks = export("tasks");
    assert!(
        tasks
            .iter()
            .any(|t| t["deal"] == "b24-103" && t["task"] == "mockups")
    );
    let history = export("history");
    assert!(
        history
            .windows(2)
            .all(|w| w[0]["id"].as_i64() < w[1]["id"].as_i64())
    );
    // Read two rows at a time, page after page: the very same rows.
    for (what, whole) in [("history", &history), ("tasks", &tasks), ("deals", &deals)] {
        let out = dealflow_in(
            &dir.0,
            &[
                "export", what, "--db", &url, "--schema", &schema, "--format", "jsonl", "--page",
                "2",
            ],
        );
        let paged: Vec<Value> = text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(&paged, whole, "{what}");
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(common::drop_schema(&url, &schema));
}

/// `dealflow export … ARGS` of a database (a PostgreSQL schema when `schema`), its output.
fn export(url: &str, schema: Option<&str>, args: &[&str]) -> String {
    let mut all = vec!["export"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--db", url]);
    if let Some(s) = schema {
        all.extend_from_slice(&["--schema", s]);
    }
    let out = common::cmd::dealflow(&all);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_writes_numbers_as_numbers_money_exactly_and_who_is_in_each_role() {
    use common::store::{backends, cleanup, core};
    let story = std::fs::read_to_string(root().join("tests/fixtures/analytics/scenario.toml"))
        .expect("the analytics story");
    for (name, url, opts) in backends("export-typed") {
        let core = core(&url, &opts).await;
        dealflow::daemon::replay(
            &core,
            dealflow::sim::scenario::load("scenario.toml", &story).unwrap(),
        )
        .await
        .expect("replays");
        core.store().close().await;
        let schema = opts.schema.as_deref();
        let lines = |what: &str| -> Vec<Value> {
            tokio::task::block_in_place(|| export(&url, schema, &[what, "--format", "jsonl"]))
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };
        // Logged time: hours a JSON number (half an hour is 0.5), the rate money as exact text,
        // the moment in UTC.
        let time = lines("time");
        assert!(!time.is_empty(), "{name}");
        for e in &time {
            assert!(e["hours"].is_number(), "{name}: {e}");
            assert!(e["rate"].is_string(), "{name}: {e}");
            assert!(e["at"].as_str().unwrap().ends_with('Z'), "{name}: {e}");
        }
        assert!(time.iter().any(|e| e["hours"] == serde_json::json!(0.5)));
        let tasks = lines("tasks");
        let approval = tasks
            .iter()
            .find(|t| t["deal"] == "c/1" && t["task"] == "approval")
            .unwrap();
        assert_eq!(approval["estimate_h"], serde_json::json!(4), "{name}");
        assert_eq!(approval["hours"], serde_json::json!(2), "{name}");
        // A project: the decimal field a number, money exact text, who the manager and the
        // salesperson are in a column each.
        let deals = lines("deals");
        let vera = deals.iter().find(|d| d["id"] == "c/1").unwrap();
        assert_eq!(vera["sold_hours"], serde_json::json!(10), "{name}: {vera}");
        assert_eq!(vera["work_days"], serde_json::json!(5), "{name}");
        assert_eq!(vera["amount"], "100000", "{name}: {vera}");
        assert!(vera["margin"].is_string(), "{name}: {vera}");
        assert_eq!(vera["project_manager"], "petr", "{name}");
        assert_eq!(vera["sales"], "anna", "{name}");
        assert!(vera["paid_at"].as_str().unwrap().ends_with('Z'), "{name}");
        // Every moment in UTC, a history record's too (a timer's `fires_at`, a moment set).
        let history = lines("history");
        let mut moments = 0;
        for h in &history {
            for (key, v) in h["record"].as_object().unwrap() {
                if let Some(s) = v.as_str()
                    && chrono::DateTime::parse_from_rfc3339(s).is_ok()
                {
                    moments += 1;
                    assert!(s.ends_with('Z'), "{name}: {key} = {s} in {h}");
                }
            }
        }
        assert!(
            history.iter().any(|h| h["kind"] == "timer_set"),
            "{name}: timers set"
        );
        assert!(moments > history.len(), "{name}");
        // The same columns in CSV.
        let csv = tokio::task::block_in_place(|| export(&url, schema, &["deals"]));
        let mut rows = csv::Reader::from_reader(csv.as_bytes());
        let header = rows.headers().unwrap().clone();
        let at = |column: &str| header.iter().position(|h| h == column).unwrap();
        let row = rows
            .records()
            .map(Result::unwrap)
            .find(|r| &r[0] == "c/1")
            .unwrap();
        assert_eq!(&row[at("project_manager")], "petr", "{name}");
        assert_eq!(&row[at("sold_hours")], "10", "{name}");
        cleanup(&url, &opts).await;
    }
}

#[test]
fn a_windows_1251_export_is_read_when_the_map_says_so() {
    let dir = studio("import-cp1251", "import.db");
    let utf8 =
        std::fs::read_to_string(root().join("tests/import/bitrix24-every-stage.csv")).unwrap();
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&utf8);
    let csv = dir.0.join("excel.csv");
    std::fs::write(&csv, &bytes).unwrap();
    let shipped =
        std::fs::read_to_string(root().join("examples/import/bitrix24-deals.toml")).unwrap();
    let run = |map: &str| {
        let map = dir.file("map.toml", map);
        let out = dealflow_in(
            &dir.0,
            &[
                "import",
                csv.to_str().unwrap(),
                "--map",
                map.to_str().unwrap(),
                "--rules",
                "web-studio.flow",
                "--config",
                "dealflow.toml",
                "--apply",
            ],
        );
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    // As UTF-8 it is refused before a row is read, saying what to write.
    let (code, out, err) = run(&shipped);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("is not UTF-8") && err.contains("encoding = \"windows-1251\""),
        "{err}"
    );
    assert!(out.is_empty(), "{out}");
    // Told the encoding, every row goes in with its Cyrillic intact.
    let (code, out, err) = run(&shipped.replacen(
        "delimiter = \",\"",
        "delimiter = \",\"\nencoding = \"windows-1251\"",
        1,
    ));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.starts_with("8 rows: 8 deals created, 0 refused"),
        "{out}"
    );
    let deals = jsonl(&dir.0, "deals");
    let bakery = deals.iter().find(|d| d["id"] == "b24-201").unwrap();
    assert_eq!(bakery["title"], "Сайт для пекарни");
    assert_eq!(bakery["client_name"], "Ирина Белова");
    assert_eq!(bakery["sales"], "anna", "«Анна Смирнова» read and found");
}
