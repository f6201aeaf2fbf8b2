//! The published JSON Schema of the timeline (`schema/timeline.schema.json`), held up against
//! the timelines the tests produce, by a validator nobody on this project wrote.

use std::collections::BTreeSet;
use std::sync::OnceLock;

/// The schema as a validator.
fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let text = std::fs::read_to_string(super::root().join("schema/timeline.schema.json"))
            .expect("the schema file");
        let schema: serde_json::Value = serde_json::from_str(&text).expect("the schema is JSON");
        jsonschema::draft202012::new(&schema).expect("the schema compiles")
    })
}

/// Every line of a JSON timeline conforms to the schema (the test stops on the first that does
/// not, with the validator's words); the kinds seen.
pub fn conforms(name: &str, jsonl: &str) -> BTreeSet<String> {
    let mut kinds = BTreeSet::new();
    for (i, line) in jsonl.lines().enumerate() {
        let record: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{name}:{}: not JSON: {e}", i + 1));
        let errors: Vec<String> = validator()
            .iter_errors(&record)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{name}: line {} does not conform to schema/timeline.schema.json:\n{line}\n{}",
            i + 1,
            errors.join("\n")
        );
        if let Some(kind) = record["kind"].as_str() {
            kinds.insert(kind.to_string());
        }
    }
    kinds
}
