//! Task timers log the same hours in the simulator and through the store (the daemon's own
//! path: its batches, its cross-deal pause, its cap), on both backends.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use dealflow::daemon::replay;
use dealflow::sim::{Simulation, scenario};
use dealflow::store::StoredDeal;

use common::store::{backends, cleanup, core, ready};

/// Anna's calls on two deals: her timer moves from one to the other, a call is done with its
/// timer running, and a timer left overnight logs the cap.
const STORY: &str = r#"
start = "2026-03-02T08:00"
until = "2026-03-06T00:00"
timer_cap_hours = 4

[[team]]
id = "anna"
name = "Анна"
roles = ["sales"]
rate = 1500

[[team]]
id = "petr"
name = "Пётр"
roles = ["project_manager"]
rate = 2000

[[deal]]
id = "a"
at = "2026-03-02T08:00"
title = "A"
fields = { client_name = "Ann" }

[[deal]]
id = "b"
at = "2026-03-02T08:05"
title = "B"
fields = { client_name = "Bob" }

[[task]]
deal = "a"
task = "call_client"
at = "2026-03-02T09:00"
action = "start"

[[task]]
deal = "b"
task = "call_client"
at = "2026-03-02T10:30"
action = "start"

[[task]]
deal = "b"
task = "call_client"
at = "2026-03-02T12:15"
action = "done"

[[task]]
deal = "a"
task = "book_meeting"
at = "2026-03-02T13:00"
action = "start"

[[task]]
deal = "a"
task = "book_meeting"
at = "2026-03-03T10:00"
action = "pause"
"#;

#[tokio::test]
async fn task_timers_log_the_same_hours_in_the_simulator_and_the_daemon() {
    for (name, url, opts) in backends("task-timers") {
        let core = core(&url, &opts).await;
        let sc = scenario::load("timers.scenario.toml", STORY).expect("readable");
        let played = replay(&core, sc.clone()).await.expect("replays");
        assert_eq!(played.refused, 0, "{name}: {played:?}");
        let ready = ready();
        let sim = Simulation::new(&ready.plan, ready.script.as_ref(), sc.team());
        let timeline = sim.run(sc, None).expect("simulates");
        let mut tx = core.store().read().await.expect("tx");
        for f in &timeline.finals {
            let stored = tx
                .peek_deal(&f.deal.id)
                .await
                .expect("reads")
                .expect("stored");
            assert_eq!(
                stored.stored,
                StoredDeal::encode(&ready.plan, &f.deal),
                "{name}: deal {} differs",
                f.deal.id
            );
        }
        // The hours, as the clock gave them: 1.5 on A when the call on B started, 1.75 on B,
        // 4 (the cap, not 21) for the timer left overnight.
        let hours = |id: &str| -> Vec<String> {
            let f = timeline.finals.iter().find(|f| &*f.deal.id == id).unwrap();
            f.deal
                .time_entries
                .iter()
                .map(|e| e.hours.normalize().to_string())
                .collect()
        };
        assert_eq!(hours("a"), ["1.5", "4"], "{name}");
        assert_eq!(hours("b"), ["1.75"], "{name}");
        drop(tx);
        core.store().close().await;
        cleanup(&url, &opts).await;
    }
}
