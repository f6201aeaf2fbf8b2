//! The scenario generator, through the command line: a generated scenario runs through the
//! reference pipeline with nothing refused, one deal in ten lets its invoice burn, one in ten
//! starts production without prepayment, and the same seed gives the same scenario.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

const DEALS: usize = 200;

/// Runs the binary and returns its standard output; any failure fails the test with its stderr.
fn dealflow(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_dealflow"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("dealflow runs");
    assert!(
        out.status.success(),
        "dealflow {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn generate(dir: &Path, seed: u64) -> std::path::PathBuf {
    let path = dir.join(format!("gen-{seed}.scenario.toml"));
    dealflow(&[
        "generate-scenario",
        "--deals",
        &DEALS.to_string(),
        "--seed",
        &seed.to_string(),
        "-o",
        path.to_str().expect("utf-8 path"),
    ]);
    path
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("dealflow-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn generated_deals_take_the_paths_they_were_given() {
    let dir = tempdir("generate");
    let sc = generate(&dir, 7);
    let out = dealflow(&[
        "simulate",
        "--format",
        "json",
        "rules/web-studio.flow",
        sc.to_str().expect("utf-8 path"),
    ]);
    common::schema::conforms("generated", &out);
    let records: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();

    let refused: Vec<&Value> = records
        .iter()
        .filter(|r| {
            matches!(
                r["kind"].as_str(),
                Some("event_refused" | "deal_refused" | "step_failed")
            )
        })
        .collect();
    assert!(refused.is_empty(), "refused: {refused:#?}");

    // Stages each deal entered, and the invoices that burned.
    let mut entered: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut burned = BTreeSet::new();
    for r in &records {
        let deal = r["deal"].as_str().unwrap_or_default().to_string();
        match r["kind"].as_str() {
            Some("stage_entered") => {
                entered
                    .entry(deal)
                    .or_default()
                    .insert(r["stage"].as_str().unwrap_or_default().to_string());
            }
            Some("field_set") if r["field"] == "invoice_status" && r["value"] == "expired" => {
                burned.insert(deal);
            }
            _ => {}
        }
    }
    let expected_burned: BTreeSet<String> = (0..DEALS)
        .filter(|i| i % 10 == 5)
        .map(|i| format!("d{i}/1"))
        .collect();
    assert_eq!(burned, expected_burned, "invoices that burned");
    assert_eq!(burned.len(), DEALS / 10);

    let waited: BTreeSet<usize> = (0..DEALS)
        .filter(|i| {
            entered
                .get(&format!("d{i}/1"))
                .is_some_and(|s| s.contains("prepayment"))
        })
        .collect();
    let trusted: Vec<usize> = (0..DEALS).filter(|i| !waited.contains(i)).collect();
    assert_eq!(
        trusted,
        (0..DEALS).filter(|i| i % 10 == 0).collect::<Vec<_>>(),
        "deals that started production without waiting for prepayment"
    );

    // Every lead ends `contracted`, every contract deal it spawned ends `closed`.
    let finals: Vec<&Value> = records.iter().filter(|r| r["kind"] == "final").collect();
    assert_eq!(finals.len(), 2 * DEALS, "a lead and a contract deal each");
    let unfinished: Vec<String> = finals
        .iter()
        .filter(|f| {
            let want = if f["deal"].as_str().is_some_and(|d| d.ends_with("/1")) {
                "closed"
            } else {
                "contracted"
            };
            f["stages"] != serde_json::json!([want])
        })
        .map(|f| format!("{} in {}", f["deal"], f["stages"]))
        .collect();
    assert!(unfinished.is_empty(), "deals not finished: {unfinished:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_same_seed_gives_the_same_scenario() {
    let dir = tempdir("seed");
    let a = std::fs::read_to_string(generate(&dir, 3)).expect("scenario");
    let b = dealflow(&[
        "generate-scenario",
        "--deals",
        &DEALS.to_string(),
        "--seed",
        "3",
    ]);
    assert_eq!(a, b, "file and stdout differ");
    let c = std::fs::read_to_string(generate(&dir, 4)).expect("scenario");
    assert_ne!(a, c, "another seed gives another scenario");
    let _ = std::fs::remove_dir_all(dir);
}
