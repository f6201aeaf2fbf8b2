//! The published JSON Schema of the timeline: printed by `simulate --print-schema` as the
//! repository holds it, a valid 2020-12 schema, not vacuous, and met by every record kind the
//! simulations of the repository produce (each test that makes a timeline also checks it).

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use common::cmd::{dealflow, text};
use serde_json::{Value, json};

fn schema() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(common::root().join("schema/timeline.schema.json")).unwrap(),
    )
    .unwrap()
}

#[test]
fn print_schema_prints_the_repositorys_schema_file() {
    let out = dealflow(&["simulate", "--print-schema"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let file = std::fs::read_to_string(common::root().join("schema/timeline.schema.json")).unwrap();
    assert_eq!(text(&out.stdout), file);
    // It stands alone.
    let out = dealflow(&["simulate", "--print-schema", "rules/web-studio.flow"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_schema_is_a_valid_2020_12_schema_that_documents_every_kind() {
    let schema = schema();
    jsonschema::meta::validate(&schema).unwrap_or_else(|e| panic!("not a valid schema: {e}"));
    for kind in schema["oneOf"].as_array().unwrap() {
        let name = kind["title"].as_str().unwrap();
        assert!(
            kind["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{name} is not described"
        );
        assert_eq!(kind["properties"]["kind"]["const"], name);
        // A webhook's `kinds` filter is checked against the engine's list of kinds (`final`
        // ends a timeline; it is no history record).
        assert!(
            name == "final" || dealflow::engine::Kind::NAMES.contains(&name),
            "{name} is not in Kind::NAMES"
        );
        for (key, prop) in kind["properties"].as_object().unwrap() {
            let described =
                prop.get("description").is_some() || prop.get("$ref").is_some() || key == "kind";
            assert!(described, "{name}.{key} is not described");
        }
    }
}

/// Records a consumer must not be handed: each is refused, for the reason given.
#[test]
fn records_that_break_the_contract_are_refused() {
    let v = jsonschema::draft202012::new(&schema()).unwrap();
    let good = json!({"at": "2026-03-02T09:15:00+03:00", "deal": "ivan", "kind": "stage_entered",
        "stage": "lead", "rule": "web-studio.flow:98"});
    assert!(v.is_valid(&good), "{:?}", v.validate(&good).err());
    let created = json!({"at": "2026-03-02T09:15:00+03:00", "deal": "ivan",
        "kind": "deal_created", "stage": ["lead"]});
    assert!(v.is_valid(&created));
    let mut bad = Vec::new();
    let mut with = |key: &str, value: Value| {
        let mut r = good.clone();
        r[key] = value;
        bad.push(r);
    };
    with("stage", json!(["lead"])); // one stage: a string
    with("at", json!("2026-03-02T06:15:00")); // no offset
    with("at", json!("2026-03-02 09:15")); // not RFC 3339
    with("kind", json!("stage_teleported")); // no such kind
    with("rule", json!("web-studio.flow")); // no line
    with("colour", json!("red")); // a key the kind has not
    let mut created_one = created.clone();
    created_one["stage"] = json!("lead"); // a creation's stages: a list
    bad.push(created_one);
    let mut no_stage = good.clone();
    no_stage.as_object_mut().unwrap().remove("stage");
    bad.push(no_stage);
    for r in bad {
        assert!(!v.is_valid(&r), "accepted: {r}");
    }
}

/// The simulations of the repository, together, produce every kind the schema lists (those of
/// the switch to new rules are checked in tests/switch.rs, which makes them).
#[test]
fn the_repositorys_timelines_use_every_kind_the_schema_lists() {
    let mut seen = std::collections::BTreeSet::new();
    let mut runs = vec![(
        common::root().join("rules/web-studio.flow"),
        common::root().join("examples/ivan.scenario.toml"),
    )];
    runs.push((
        common::root().join("rules/kitchen-workshop.flow"),
        common::root().join("rules/tests/kitchen-workshop/kitchens.toml"),
    ));
    for case in std::fs::read_dir(common::root().join("tests/sim")).unwrap() {
        let case = case.unwrap().path();
        runs.push((case.join("pipeline.flow"), case.join("scenario.toml")));
    }
    for (flow, scenario) in runs {
        let (plan, timeline) = dealflow::load::simulate_files(&flow, &scenario).unwrap();
        let name = scenario.display().to_string();
        seen.extend(common::schema::conforms(&name, &timeline.json_lines(&plan)));
    }
    let listed: std::collections::BTreeSet<String> = schema()["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["title"].as_str().unwrap().to_string())
        .collect();
    let switch_only = ["stage_migrated", "timer_dropped", "timer_moved"];
    let missing: Vec<_> = listed
        .iter()
        .filter(|k| !seen.contains(*k) && !switch_only.contains(&k.as_str()))
        .collect();
    assert!(missing.is_empty(), "no timeline has {missing:?}");
    let unlisted: Vec<_> = seen.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "kinds the schema does not list: {unlisted:?}"
    );
}
