//! The switch to new rules, as the engine makes it for the reload, the what-if and `plan`: how
//! a timer is found again when its line is edited, moved, named or removed; what fired is not
//! armed again; alerts and field defaults follow the new rules. Pure: no store, no clock.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use dealflow::engine::{self, Change, Creation, Ctx, Deal, Input, Kind};
use dealflow::load::Ready;
use dealflow::source::SourceFile;
use dealflow::store::StoredDeal;
use dealflow::team::Team;
use dealflow::value::Value;

/// A pipeline whose `wait` stage has the given lines.
fn rules(lines: &str, extra: &str) -> Ready {
    let text = format!(
        r#"
pipeline p "P" {{ timezone "UTC" }}
fields {{
  meeting_at: datetime
  {extra}
}}
event go
stage wait "Wait" {{
{lines}
  -> done on go
}}
stage done "Done" final
"#
    );
    dealflow::prepare(&SourceFile::new("p.flow", text), &|n| {
        Err(format!("no {n}"))
    })
    .unwrap_or_else(|e| panic!("{}", e.errors_in_full()))
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A deal created at t0 with a meeting at t0 + 5h, stored, then run to `at` (its due timers
/// fired).
fn stored_deal(old: &Ready, at: DateTime<Utc>) -> StoredDeal {
    let team = Team::default();
    let ctx = |now| Ctx {
        plan: &old.plan,
        team: &team,
        script: None,
        now,
        site: None,
    };
    let fields = BTreeMap::from([(
        "meeting_at".to_string(),
        Value::DateTime(t0() + Duration::hours(5)),
    )]);
    let req = Creation {
        id: "d".into(),
        title: "D".into(),
        stages: vec![],
        fields,
        quiet: false,
        done: Vec::new(),
    };
    let mut deal = engine::create(ctx(t0()), &req).unwrap().deal;
    loop {
        let due: Option<(DateTime<Utc>, u64)> = deal
            .timers
            .iter()
            .filter(|a| !a.fired && a.fires_at <= at)
            .map(|a| (a.fires_at, a.id))
            .min();
        let Some((when, id)) = due else { break };
        deal = engine::apply(ctx(when), &deal, &Input::Timer { id })
            .unwrap()
            .deal;
    }
    StoredDeal::encode(&old.plan, &deal)
}

/// The switch of the stored deal to `new` at `now`.
fn switch(stored: &StoredDeal, new: &Ready, now: DateTime<Utc>) -> (Deal, Vec<Change>, Vec<Kind>) {
    let team = Team::default();
    let ctx = Ctx {
        plan: &new.plan,
        team: &team,
        script: None,
        now,
        site: None,
    };
    let (deal, left) = stored.read(&new.plan).unwrap();
    let sw = engine::switch(ctx, &deal, &left, "rules version 2").unwrap();
    // The switch's records as the what-if's timeline writes them conform to the schema.
    let mut json = Vec::new();
    for r in &sw.outcome.records {
        dealflow::json::record_line(r, new.plan.tz, &new.plan.file, &mut json);
    }
    common::schema::conforms("switch", &String::from_utf8(json).unwrap());
    let kinds = sw.outcome.records.iter().map(|r| r.kind.clone()).collect();
    (sw.outcome.deal, sw.changes, kinds)
}

fn labels(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .map(|c| match c {
            Change::TimerAdded { timer, overdue, .. } => format!("added {timer} overdue={overdue}"),
            Change::TimerMoved { timer, .. } => format!("moved {timer}"),
            Change::TimerDropped { timer, .. } => format!("dropped {timer}"),
            Change::TimerNotRearmed { timer, .. } => format!("not rearmed {timer}"),
            Change::StageMigrated { from, to, line, .. } => {
                format!("stage {from} -> {to} (line {line})")
            }
            Change::FieldCarried { from, to, line } => {
                format!("field {from} -> {to} (line {line})")
            }
        })
        .collect()
}

const REMIND_2H: &str = "  at meeting_at - 2h { set meeting_at = meeting_at }";
const REMIND_3H: &str = "  at meeting_at - 3h { set meeting_at = meeting_at }";

#[test]
fn an_edited_moment_that_already_fired_is_not_armed_again() {
    let old = rules(REMIND_2H, "");
    // At t0 + 4h the reminder (t0 + 3h) has fired.
    let stored = stored_deal(&old, t0() + Duration::hours(4));
    let (deal, changes, kinds) = switch(&stored, &rules(REMIND_3H, ""), t0() + Duration::hours(4));
    assert_eq!(labels(&changes), ["not rearmed wait: at meeting_at - 3h"]);
    assert!(kinds.is_empty(), "the switch recorded {kinds:?}");
    assert!(deal.timers.iter().all(|a| a.fired));
}

#[test]
fn an_edited_moment_still_to_come_moves_and_gets_a_new_id() {
    let old = rules(REMIND_2H, "");
    let stored = stored_deal(&old, t0());
    let before = stored.timers[0].id;
    let (deal, changes, kinds) = switch(&stored, &rules(REMIND_3H, ""), t0());
    assert_eq!(labels(&changes), ["moved wait: at meeting_at - 3h"]);
    assert!(
        matches!(&kinds[..], [Kind::TimerMoved { fires_at, .. }] if *fires_at == t0() + Duration::hours(2))
    );
    assert_eq!(deal.timers.len(), 1);
    assert_ne!(deal.timers[0].id, before, "a moved timer keeps its old id");
    assert_eq!(deal.timers[0].fires_at, t0() + Duration::hours(2));
}

#[test]
fn a_line_added_before_an_edited_one_does_not_take_its_place() {
    let old = rules(REMIND_2H, "");
    let stored = stored_deal(&old, t0() + Duration::hours(4));
    // A new `after` line above, the `at` line edited in the same save.
    let new = rules(
        &format!("  after 1h {{ set meeting_at = meeting_at }}\n{REMIND_3H}"),
        "",
    );
    let (_, changes, _) = switch(&stored, &new, t0() + Duration::hours(4));
    assert_eq!(
        labels(&changes),
        [
            "added wait: after 1h overdue=true",
            "not rearmed wait: at meeting_at - 3h"
        ]
    );
}

#[test]
fn an_unchanged_line_is_found_wherever_it_moved() {
    let two = "  at meeting_at - 1h { set meeting_at = meeting_at }";
    let old = rules(&format!("{REMIND_2H}\n{two}"), "");
    let stored = stored_deal(&old, t0() + Duration::hours(3));
    // The first fired (t0 + 3h), the second waits (t0 + 4h); their order is swapped.
    let new = rules(&format!("{two}\n{REMIND_2H}"), "");
    let (deal, changes, _) = switch(&stored, &new, t0() + Duration::hours(3));
    assert!(changes.is_empty(), "{:?}", labels(&changes));
    assert_eq!(deal.timers.iter().filter(|a| a.fired).count(), 1);
}

#[test]
fn a_named_timer_keeps_its_identity_through_edits_and_moves() {
    let old = rules(
        "  at meeting_at - 2h as reminder { set meeting_at = meeting_at }\n  at meeting_at - 1h { set meeting_at = meeting_at }",
        "",
    );
    let stored = stored_deal(&old, t0() + Duration::hours(3));
    let new = rules(
        "  at meeting_at - 30m { set meeting_at = meeting_at }\n  at meeting_at - 4h as reminder { set meeting_at = meeting_at }",
        "",
    );
    let (_, changes, _) = switch(&stored, &new, t0() + Duration::hours(3));
    assert_eq!(
        labels(&changes),
        [
            "moved wait: at meeting_at - 30m",
            "not rearmed wait: at meeting_at - 4h as reminder"
        ]
    );
}

#[test]
fn naming_a_line_in_place_keeps_it_the_same_timer() {
    let old = rules(REMIND_2H, "");
    let stored = stored_deal(&old, t0() + Duration::hours(4));
    let new = rules(
        "  at meeting_at - 2h as reminder { set meeting_at = meeting_at }",
        "",
    );
    let (deal, changes, _) = switch(&stored, &new, t0() + Duration::hours(4));
    assert!(changes.is_empty(), "{:?}", labels(&changes));
    assert!(deal.timers[0].fired);
}

#[test]
fn a_removed_line_drops_its_waiting_timer() {
    let old = rules(REMIND_2H, "");
    let stored = stored_deal(&old, t0());
    let id = stored.timers[0].id;
    let (deal, changes, kinds) = switch(&stored, &rules("", ""), t0());
    assert_eq!(labels(&changes), ["dropped wait: at meeting_at - 2h"]);
    assert!(matches!(&kinds[..], [Kind::TimerDropped { .. }]));
    assert!(deal.timers.is_empty());
    let team = Team::default();
    let ctx = Ctx {
        plan: &rules("", "").plan,
        team: &team,
        script: None,
        now: t0(),
        site: None,
    };
    let (deal, left) = stored.read(ctx.plan).unwrap();
    let sw = engine::switch(ctx, &deal, &left, "x").unwrap();
    assert_eq!(
        sw.gone,
        [id],
        "the dropped timer's row is not named for deletion"
    );
}

#[test]
fn a_timer_stored_before_timers_had_keys_is_found_by_its_label_or_place() {
    let old = rules(REMIND_2H, "");
    let mut stored = stored_deal(&old, t0() + Duration::hours(4));
    for t in &mut stored.timers {
        t.sort = None;
        t.ordinal = None;
    }
    let (_, changes, _) = switch(&stored, &rules(REMIND_3H, ""), t0() + Duration::hours(4));
    assert_eq!(labels(&changes), ["not rearmed wait: at meeting_at - 3h"]);
}

#[test]
fn alerts_and_new_fields_follow_the_new_rules() {
    let old = rules(REMIND_2H, "");
    let stored = stored_deal(&old, t0());
    let text = format!(
        r#"
pipeline p "P" {{ timezone "UTC" }}
fields {{
  meeting_at: datetime
  priority: text default "normal"
}}
event go
stage wait "Wait" {{
{REMIND_2H}
  -> done on go
}}
stage done "Done" final
alert unplanned "No meeting" when meeting_at is set and in wait
"#
    );
    let new = dealflow::prepare(&SourceFile::new("p.flow", text), &|n| {
        Err(format!("no {n}"))
    })
    .unwrap_or_else(|e| panic!("{}", e.errors_in_full()));
    let (deal, changes, kinds) = switch(&stored, &new, t0());
    assert!(changes.is_empty());
    assert!(matches!(&kinds[..], [Kind::AlertRaised { alert }] if alert == "unplanned"));
    assert_eq!(deal.values[1], Some(Value::Text("normal".into())));
}

#[test]
fn a_stage_that_is_gone_strands_the_deal() {
    let old = rules(REMIND_2H, "");
    let stored = stored_deal(&old, t0());
    let text = r#"
pipeline p "P" { timezone "UTC" }
fields { meeting_at: datetime }
event go
stage waiting "Waiting" { -> done on go }
stage done "Done" final
"#;
    let new = dealflow::prepare(&SourceFile::new("p.flow", text), &|n| {
        Err(format!("no {n}"))
    })
    .unwrap_or_else(|e| panic!("{}", e.errors_in_full()));
    assert!(stored.read(&new.plan).is_err());
}

/// The rules with `wait` renamed `waiting`, `meeting_at` renamed `meet_at`, and `extra` lines.
fn renamed(extra: &str) -> Ready {
    let text = format!(
        r#"
pipeline p "P" {{ timezone "UTC" }}
role sales "Sales"
fields {{
  meet_at: datetime
  note: text
}}
event go
stage waiting "Waiting" {{
  on enter {{ set note = "entered" }}
  at meet_at - 2h {{ set note = "reminded" }}
  -> done on go
}}
stage done "Done" final
{extra}
"#
    );
    dealflow::prepare(&SourceFile::new("p.flow", text), &|n| {
        Err(format!("no {n}"))
    })
    .unwrap_or_else(|e| panic!("{}", e.errors_in_full()))
}

#[test]
fn a_renamed_stage_keeps_its_deals_visit_and_a_renamed_field_its_value() {
    let old = rules(REMIND_2H, "");
    // The reminder (t0 + 3h) has rung.
    let stored = stored_deal(&old, t0() + Duration::hours(4));
    assert!(
        stored.read(&renamed("").plan).is_err(),
        "stranded without a migration"
    );
    let new = renamed("migrate stage wait -> waiting\nmigrate field meeting_at -> meet_at");
    let now = t0() + Duration::hours(4);
    let (deal, changes, kinds) = switch(&stored, &new, now);
    assert_eq!(
        labels(&changes),
        [
            "field meeting_at -> meet_at (line 16)",
            "stage wait -> waiting (line 15)",
        ]
    );
    assert!(
        matches!(&kinds[0], Kind::FieldSet { field, value: Some(Value::DateTime(_)), .. } if field == "meet_at")
    );
    assert!(
        matches!(&kinds[1], Kind::StageMigrated { from, stage } if from == "wait" && stage == "waiting")
    );
    assert_eq!(deal.tracks[0].entered_at, t0(), "the visit goes on");
    assert!(
        deal.timers.iter().all(|a| a.fired),
        "the reminder rang: it stays rung"
    );
    assert_eq!(deal.values[1], None, "`on enter` ran");
}

#[test]
fn a_deal_migrated_with_on_enter_enters_anew() {
    let old = rules(REMIND_2H, "");
    let stored = stored_deal(&old, t0() + Duration::hours(4));
    let new =
        renamed("migrate stage wait -> waiting with on enter\nmigrate field meeting_at -> meet_at");
    let now = t0() + Duration::hours(4);
    let (deal, changes, _) = switch(&stored, &new, now);
    assert_eq!(
        labels(&changes),
        [
            "field meeting_at -> meet_at (line 16)",
            "stage wait -> waiting (line 15)",
            "added waiting: at meet_at - 2h overdue=true"
        ]
    );
    assert_eq!(deal.tracks[0].entered_at, now);
    assert_eq!(deal.values[1], Some(Value::Text("entered".into())));
}

#[test]
fn deals_migrated_into_a_final_stage_end_there() {
    let old = rules(REMIND_2H, "");
    let stored = stored_deal(&old, t0());
    let new = renamed("migrate stage wait -> done");
    let (deal, _, kinds) = switch(&stored, &new, t0());
    assert!(!deal.is_live());
    assert!(deal.timers.iter().all(|a| a.fired), "{:?}", deal.timers);
    assert!(kinds.iter().any(|k| matches!(k, Kind::TimerDropped { .. })));
}
