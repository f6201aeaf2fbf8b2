//! What the benches share: the repository, the example team, a core over a database, deals
//! seeded in bulk, percentiles.

// Each bench uses a part of what is here.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use dealflow::daemon::{Config, Core, Opening, Step};
use dealflow::engine::Creation;
use dealflow::store::Options;
use dealflow::value::Value;

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn team() -> Vec<dealflow::team::Member> {
    let path = root().join("examples/dealflow.toml");
    Config::load(Some(&path), Vec::new())
        .expect("example config")
        .members()
        .expect("team")
}

pub async fn core(url: &str, opts: &Options) -> Core {
    Core::open(Opening {
        rules: &root().join("rules/web-studio.flow"),
        database: url,
        options: opts.clone(),
        team: Some(&team()),
        max_rules_size: None,
    })
    .await
    .expect("the core opens")
}

/// Creates deals `from..from + n`: leads, or deals with a meeting booked next year (each has a
/// reminder timer waiting), a thousand per transaction.
pub async fn seed_from(core: &Core, from: usize, n: usize, meeting: bool) {
    let now = chrono::Utc::now();
    let next_year = now + chrono::Duration::days(365);
    let mut i = from;
    while i < from + n {
        let mut tx = core.store().begin().await.expect("tx");
        for _ in 0..1000.min(from + n - i) {
            let mut fields = std::collections::BTreeMap::new();
            fields.insert(
                "client_name".to_string(),
                Value::Text(format!("Client {i}")),
            );
            fields.insert(
                "client_email".to_string(),
                Value::Text("c@shop.test".into()),
            );
            let mut stages = Vec::new();
            if meeting {
                stages.push("meeting".to_string());
                fields.insert("meeting_at".to_string(), Value::DateTime(next_year));
                fields.insert("meeting_place".to_string(), Value::Text("Office".into()));
            }
            let req = Creation {
                id: format!("b{i:06}"),
                title: format!("Deal {i}"),
                stages,
                fields,
            };
            let step = core.create(&mut tx, &req, now).await.expect("create");
            assert!(matches!(step, Step::Applied { .. }), "{step:?}");
            i += 1;
        }
        tx.commit().await.expect("commit");
    }
}

pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}
