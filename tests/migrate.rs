//! A migrating studio's first day: both shipped maps (`examples/import/`) read exports as the
//! vendors write them — Bitrix24's `crm_deal` columns with a row for every standard stage id,
//! amoCRM's leads export with a row for every status of a new account's pipeline — into a
//! fresh database (`--db`, no configuration: the team comes from the map's `[people]`), as a
//! dry run and applied, on SQLite and PostgreSQL. A table here says where each row must land:
//! its tracks (stage and state), its open tasks and the tasks it has done. No deal passes a
//! stage because the import skipped its tasks (production waits on them), none is told to
//! anyone.

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
use dealflow::store::{Options, Store};

/// Where a row must land.
struct Lands {
    /// The deal (the map's prefix and the row's id).
    id: &'static str,
    /// Its tracks in order: stage and state.
    tracks: &'static [(&'static str, &'static str)],
    /// Its open tasks.
    open: &'static [&'static str],
    /// Its tasks done at once (the map says the work is finished).
    done: &'static [&'static str],
}

/// Production's tasks in the reference pipeline.
const PRODUCTION: &[&str] = &["approval", "mockups", "concept", "markup", "content"];

/// `tests/import/bitrix24-every-stage.csv` through `examples/import/bitrix24-deals.toml` (old
/// clients: `prepayment = false`).
const BITRIX24: &[Lands] = &[
    // NEW
    Lands {
        id: "b24-201",
        tracks: &[("lead", "active")],
        open: &[],
        done: &[],
    },
    // PREPARATION
    Lands {
        id: "b24-202",
        tracks: &[("contract", "active")],
        open: &[],
        done: &[],
    },
    // PREPAYMENT_INVOICE: billing & prepayment; the gate skipped for a trusted client, so
    // production runs beside billing — with its tasks.
    Lands {
        id: "b24-203",
        tracks: &[("billing", "active"), ("production", "active")],
        open: PRODUCTION,
        done: &[],
    },
    // EXECUTING: in work, the invoice beside it.
    Lands {
        id: "b24-204",
        tracks: &[("billing", "active"), ("production", "active")],
        open: PRODUCTION,
        done: &[],
    },
    // FINAL_INVOICE: the work done (delivered), the invoice awaited.
    Lands {
        id: "b24-205",
        tracks: &[("billing", "active"), ("closed", "waiting")],
        open: &[],
        done: PRODUCTION,
    },
    // WON
    Lands {
        id: "b24-206",
        tracks: &[("closed", "ended")],
        open: &[],
        done: &[],
    },
    // LOSE, APOLOGY
    Lands {
        id: "b24-207",
        tracks: &[("lost", "ended")],
        open: &[],
        done: &[],
    },
    Lands {
        id: "b24-208",
        tracks: &[("lost", "ended")],
        open: &[],
        done: &[],
    },
];

/// `tests/import/amocrm-every-status.csv` through `examples/import/amocrm-leads.toml`.
const AMOCRM: &[Lands] = &[
    // Неразобранное, Первичный контакт, Переговоры
    Lands {
        id: "amo-6001",
        tracks: &[("lead", "active")],
        open: &[],
        done: &[],
    },
    Lands {
        id: "amo-6002",
        tracks: &[("lead", "active")],
        open: &[],
        done: &[],
    },
    Lands {
        id: "amo-6003",
        tracks: &[("lead", "active")],
        open: &[],
        done: &[],
    },
    // Принимают решение, Согласование договора
    Lands {
        id: "amo-6004",
        tracks: &[("contract", "active")],
        open: &[],
        done: &[],
    },
    Lands {
        id: "amo-6005",
        tracks: &[("contract", "active")],
        open: &[],
        done: &[],
    },
    // Успешно реализовано, Закрыто и не реализовано
    Lands {
        id: "amo-6006",
        tracks: &[("closed", "ended")],
        open: &[],
        done: &[],
    },
    Lands {
        id: "amo-6007",
        tracks: &[("lost", "ended")],
        open: &[],
        done: &[],
    },
];

/// The shipped maps, their files and tables.
fn crms() -> [(&'static str, &'static str, &'static str, &'static [Lands]); 2] {
    [
        (
            "bitrix24",
            "examples/import/bitrix24-deals.toml",
            "tests/import/bitrix24-every-stage.csv",
            BITRIX24,
        ),
        (
            "amocrm",
            "examples/import/amocrm-leads.toml",
            "tests/import/amocrm-every-status.csv",
            AMOCRM,
        ),
    ]
}

/// A folder with the reference pipeline and nothing else: no configuration, no team.
fn studio(test: &str) -> Scratch {
    let dir = Scratch::new(test);
    for f in ["web-studio.flow", "web-studio.rhai"] {
        dir.file(
            f,
            &std::fs::read_to_string(root().join("rules").join(f)).unwrap(),
        );
    }
    dir
}

/// `dealflow import FILE --map MAP --rules web-studio.flow --db DB EXTRA…`: exit code, output.
fn import(dir: &Path, map: &str, file: &str, db: &[&str], extra: &[&str]) -> (Option<i32>, String) {
    let map = root().join(map);
    let file = root().join(file);
    let mut args = vec![
        "import",
        file.to_str().unwrap(),
        "--map",
        map.to_str().unwrap(),
        "--rules",
        "web-studio.flow",
        "--db",
    ];
    args.extend_from_slice(db);
    args.extend_from_slice(extra);
    let out = dealflow_in(dir, &args);
    (
        out.status.code(),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

/// The stages a row is counted at by the import: its tracks' stages, each once.
fn at(l: &Lands) -> String {
    let mut stages: Vec<&str> = Vec::new();
    for (s, _) in l.tracks {
        if !stages.contains(s) {
            stages.push(s);
        }
    }
    stages.join(" & ")
}

/// Every row where the table says, in a database the import wrote.
async fn landed(name: &str, url: &str, schema: Option<String>, table: &[Lands]) {
    let store = Store::open(
        url,
        &Options {
            schema,
            read_only: true,
            ..Options::default()
        },
    )
    .await
    .unwrap();
    let mut tx = store.read().await.unwrap();
    for l in table {
        let deal = tx
            .peek_deal(l.id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{name}: no deal {}", l.id))
            .stored;
        let tracks: Vec<(&str, &str)> = deal
            .tracks
            .iter()
            .map(|t| (t.stage.as_str(), t.state.as_str()))
            .collect();
        assert_eq!(tracks, l.tracks, "{name}: {}'s tracks", l.id);
        let open: Vec<&str> = deal
            .tasks
            .iter()
            .filter(|t| t.done_at.is_none() && !t.cancelled)
            .map(|t| t.id.as_str())
            .collect();
        assert_eq!(open, l.open, "{name}: {}'s open tasks", l.id);
        let done: Vec<&str> = deal
            .tasks
            .iter()
            .filter(|t| t.done_at.is_some())
            .map(|t| t.id.as_str())
            .collect();
        assert_eq!(done, l.done, "{name}: {}'s tasks done", l.id);
    }
    // The team is the map's people, with their roles.
    let team = tx.team().await.unwrap();
    let anna = team
        .member("anna")
        .unwrap_or_else(|| panic!("{name}: {team:?}"));
    assert_eq!(anna.roles, ["sales"], "{name}");
    drop(tx);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stage_of_both_crms_lands_where_the_table_says_with_its_tasks() {
    let dir = studio("migrate");
    for (crm, map, file, table) in crms() {
        // The dry run into a database not made yet: every row taken, each counted where the
        // table says, nothing moved on at once, nothing written.
        let (code, out) = tokio::task::block_in_place(|| {
            import(&dir.0, map, file, &[&format!("sqlite://{crm}-dry.db")], &[])
        });
        assert_eq!(code, Some(0), "{crm}: {out}");
        let n = table.len();
        assert!(
            out.starts_with(&format!("{n} rows: {n} deals would be created, 0 refused")),
            "{crm}: {out}"
        );
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for l in table {
            *counts.entry(at(l)).or_default() += 1;
        }
        for (stages, count) in &counts {
            assert!(
                out.lines()
                    .any(|line| line.trim_start().starts_with(stages.as_str())
                        && line.trim_end().ends_with(&format!(" {count}"))),
                "{crm}: {count} at `{stages}`\n{out}"
            );
        }
        assert!(!out.contains("at once"), "{crm}: {out}");
        // The map's people are a sales manager and a project manager: production's other
        // tasks have nobody, and the dry run says so (and where a whole team comes from).
        if crm == "bitrix24" {
            assert!(
                out.contains(
                    "open tasks with nobody to do them (no one in the team has their role): \
                     content ×2, markup ×2, mockups ×2; the daemon's --config gives its whole team"
                ),
                "{out}"
            );
        }
        assert!(!dir.0.join(format!("{crm}-dry.db")).exists(), "{crm}");

        // Applied to a fresh SQLite file, and to a fresh PostgreSQL schema.
        let sqlite = format!("sqlite://{}", dir.0.join(format!("{crm}.db")).display());
        let (code, out) =
            tokio::task::block_in_place(|| import(&dir.0, map, file, &[&sqlite], &["--apply"]));
        assert_eq!(code, Some(0), "{crm}: {out}");
        assert!(
            out.starts_with(&format!("{n} rows: {n} deals created, 0 refused")),
            "{crm}: {out}"
        );
        landed(&format!("{crm} on SQLite"), &sqlite, None, table).await;
        // Quiet: no message to a client, no notice to the team.
        let history = tokio::task::block_in_place(|| {
            dealflow_in(
                &dir.0,
                &["export", "history", "--db", &sqlite, "--format", "jsonl"],
            )
        });
        let history = text(&history.stdout);
        assert!(history.contains("\"task_created\"") || crm == "amocrm");
        assert!(!history.contains("\"notification\""), "{crm}: {history}");

        match common::postgres() {
            Some(url) => {
                let schema = format!("t_migrate_{crm}_{}", std::process::id());
                let (code, out) = tokio::task::block_in_place(|| {
                    import(
                        &dir.0,
                        map,
                        file,
                        &[&url, "--schema", &schema],
                        &["--apply"],
                    )
                });
                assert_eq!(code, Some(0), "{crm}: {out}");
                landed(
                    &format!("{crm} on PostgreSQL"),
                    &url,
                    Some(schema.clone()),
                    table,
                )
                .await;
                common::drop_schema(&url, &schema).await;
            }
            None => common::skipped(&format!(
                "{crm} into PostgreSQL: SKIPPED (set DEALFLOW_TEST_POSTGRES)"
            )),
        }
    }
}

#[test]
fn a_fresh_database_without_a_team_says_where_the_team_comes_from() {
    let dir = studio("migrate-no-team");
    let shipped =
        std::fs::read_to_string(root().join("examples/import/bitrix24-deals.toml")).unwrap();
    let without_people = &shipped[..shipped.find("\n[people]").unwrap()];
    let formats = &shipped[shipped.find("\n[set]").unwrap()..];
    let map = dir.file("map.toml", &format!("{without_people}{formats}"));
    let (code, out) = import(
        &dir.0,
        map.to_str().unwrap(),
        "tests/import/bitrix24-every-stage.csv",
        &["sqlite://fresh.db"],
        &[],
    );
    assert_eq!(code, Some(2), "{out}");
    for hint in [
        "has no team yet",
        "`ASSIGNED_BY_NAME`",
        "--config",
        "[people]",
    ] {
        assert!(out.contains(hint), "{hint}: {out}");
    }
    assert!(!out.contains("is not in the team"), "{out}");
}
