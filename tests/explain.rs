//! The story `explain` tells of a deal that did not move: which transition's condition did not
//! hold, which `skip when` passed a stage by. Through a real store (an SQLite file).

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

use std::collections::BTreeMap;

use chrono::Utc;
use dealflow::daemon::{Core, Opening, Step};
use dealflow::engine::{Creation, Input};
use dealflow::explain::{Read, explanation_text};
use dealflow::value::Value;

const FLOW: &str = r#"pipeline p "P" { timezone "UTC" }
fields {
  client_name: text required
  amount: money
  approved: bool
}
event quote { amount }
event approve { approved }
stage lead "Lead" {
  -> review on quote
}
stage review "Review" {
  skip when amount < 1000
  -> offer on approve
}
stage offer "Offer" {
  -> won on approve when approved == true
}
stage won "Won" final
"#;

#[tokio::test]
async fn a_deal_that_did_not_move_says_which_condition_held_it_back() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("explain-notes");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let flow = dir.join("p.flow");
    std::fs::write(&flow, FLOW).unwrap();
    let db = format!("sqlite://{}", dir.join("d.db").display());
    let core = Core::open(Opening {
        rules: &flow,
        database: &db,
        options: Default::default(),
        team: None,
        max_rules_size: None,
        mapping: Default::default(),
    })
    .await
    .expect("opens");
    let now = Utc::now();
    let mut tx = core.store().begin().await.unwrap();
    let fields = BTreeMap::from([("client_name".to_string(), Value::Text("Ivan".into()))]);
    let req = Creation {
        id: "d".into(),
        title: "D".into(),
        stages: vec![],
        fields,
        quiet: false,
        done: Vec::new(),
    };
    assert!(matches!(
        core.create(&mut tx, &req, now).await.unwrap(),
        Step::Applied { .. }
    ));
    let event = |name: &str, field: &str, v: Value| Input::Event {
        name: name.into(),
        payload: BTreeMap::from([(field.to_string(), v)]),
        by: Some("anna".into()),
    };
    let quote = event("quote", "amount", Value::Int(500));
    assert!(matches!(
        core.apply(&mut tx, "d", &quote, now).await.unwrap(),
        Step::Applied { .. }
    ));
    let no = event("approve", "approved", Value::Bool(false));
    assert!(matches!(
        core.apply(&mut tx, "d", &no, now).await.unwrap(),
        Step::Applied { .. }
    ));
    tx.commit().await.unwrap();

    let mut tx = core.store().read().await.unwrap();
    let read = Read::from(&mut tx, "d").await.unwrap().expect("the deal");
    drop(tx);
    let rules = core.rules();
    let story = read.explain(&rules.ready.plan, "d", false);
    // The daemon names a rule by its file's name and line.
    let file = flow.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(story.stages, ["offer"]);
    assert_eq!(story.steps.len(), 3);
    assert_eq!(
        story.steps[1].notes,
        [format!(
            "«Review» was skipped: its `skip when` held ({file}:13)"
        )]
    );
    assert_eq!(
        story.steps[2].notes,
        [format!(
            "stayed in «Offer»: the condition of `offer: -> won on approve` did not hold ({file}:17)"
        )]
    );
    let text = explanation_text(&story, rules.ready.plan.tz, false);
    assert!(
        text.contains("Event approve by anna {\"approved\":false}"),
        "{text}"
    );
    core.store().close().await;
}
