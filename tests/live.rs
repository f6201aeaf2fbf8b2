//! `examples/web-studio-live.flow`, the reference pipeline with labour cost and margin as
//! derived fields: through Ivan's story it ends where the reference ends, but the money moves
//! with every hour logged instead of appearing at delivery.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use std::path::Path;

use serde_json::{Value, json};

fn records(flow: &str) -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (plan, t) =
        dealflow::load::simulate_files(&root.join(flow), &root.join("examples/ivan.scenario.toml"))
            .expect("Ivan's story runs");
    let text = t.json_lines(&plan);
    common::schema::conforms(flow, &text);
    text.lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

fn finals(records: &[Value]) -> Vec<&Value> {
    records.iter().filter(|r| r["kind"] == "final").collect()
}

#[test]
fn the_live_pipeline_ends_where_the_reference_ends() {
    let reference = records("rules/web-studio.flow");
    let live = records("examples/web-studio-live.flow");
    let (a, b) = (finals(&reference), finals(&live));
    assert_eq!(a.len(), 6, "six deals in Ivan's story");
    for (a, b) in a.into_iter().zip(b) {
        // The one difference: a deal nobody worked on costs 0 here, and nothing there.
        let mut b = b.clone();
        if a["fields"].get("labour_cost").is_none() {
            let fields = b["fields"].as_object_mut().unwrap();
            assert_eq!(
                fields.remove("labour_cost"),
                Some(json!(0)),
                "{}",
                a["deal"]
            );
        }
        assert_eq!(*a, b, "the same final state of {}", a["deal"]);
    }
}

#[test]
fn margin_moves_with_every_hour_logged() {
    let live = records("examples/web-studio-live.flow");
    let money = |deal: &str, field: &str| -> Vec<(String, Value)> {
        live.iter()
            .filter(|r| r["deal"] == deal && r["kind"] == "field_set" && r["field"] == field)
            .map(|r| {
                assert_eq!(r["derived"], true, "{deal}.{field} is computed: {r}");
                (r["at"].as_str().unwrap().to_string(), r["value"].clone())
            })
            .collect()
    };
    // The SEO project: 1 h of the PM at 2000 on the 10th, then the designer and the copywriter;
    // the reference shows nothing until delivery on the 20th.
    assert_eq!(
        money("ivan/2", "labour_cost"),
        vec![
            ("2026-03-10T12:00:00+03:00".into(), json!(2000)),
            ("2026-03-12T18:00:00+03:00".into(), json!(5600)),
            ("2026-03-13T12:00:00+03:00".into(), json!(7600)),
            ("2026-03-18T18:00:00+03:00".into(), json!(12400)),
            ("2026-03-20T17:00:00+03:00".into(), json!(17200)),
        ]
    );
    let margins = money("ivan/2", "margin");
    assert_eq!(
        margins.first().unwrap().1,
        json!(60000),
        "set with the amount"
    );
    assert_eq!(margins.last().unwrap().1, json!(42800));
    // The shop: its margin is live during production, weeks before delivery.
    let shop = money("ivan/1", "margin");
    let before_delivery = shop
        .iter()
        .filter(|(at, _)| at.as_str() < "2026-04-10")
        .count();
    assert!(before_delivery >= 4, "{shop:?}");
    assert_eq!(shop.last().unwrap().1, json!(190000));
    let reference = records("rules/web-studio.flow");
    let set_in_reference: Vec<&Value> = reference
        .iter()
        .filter(|r| r["deal"] == "ivan/1" && r["field"] == "margin")
        .collect();
    assert_eq!(
        set_in_reference.len(),
        1,
        "the reference sets it once, at delivery"
    );
}

#[test]
fn the_live_pipeline_differs_from_the_reference_only_in_its_money_fields() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let (reference, live) = (
        read("rules/web-studio.flow"),
        read("examples/web-studio-live.flow"),
    );
    let norm = |t: &str| -> Vec<String> {
        t.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    };
    let (a, b) = (norm(&reference), norm(&live));
    let only = |x: &[String], y: &[String]| -> Vec<String> {
        x.iter().filter(|l| !y.contains(l)).cloned().collect()
    };
    assert_eq!(
        only(&a, &b),
        [
            "script \"web-studio.rhai\" # rhai hooks: money formatting, labour cost",
            "labour_cost: money \"Себестоимость работ\"",
            "margin: money \"Маржа\"",
            "set labour_cost = labour_cost(deal)",
            "set margin = amount - labour_cost",
        ]
    );
    assert_eq!(
        only(&b, &a),
        [
            "script \"../rules/web-studio.rhai\" # rhai hooks: money formatting, labour cost",
            "labour_cost: money = labour_cost(deal) \"Себестоимость работ\"",
            "margin: money = amount - labour_cost \"Маржа\"",
        ]
    );
}
