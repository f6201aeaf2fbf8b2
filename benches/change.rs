//! The rules changing under live deals: `dealflow plan` and the what-if (30 days forward) over
//! 100,000 live deals, end to end from the command line; and requests answered while the
//! daemon passes every one of them to new rules in the background (their latency, and how
//! long the pass takes).
//!
//! The change: the meeting reminder `at meeting_at - 2h` becomes `- 3h` (every deal's timer
//! moves) and a timer line `after 1h as nudge` is added (armed for every deal; `plan` switches
//! two hours on, so the nudge is overdue and its email is rendered for every deal).
//!
//! Run: `cargo bench --bench change`. Under `cargo test` it is a smoke run with 300 deals.

// A bench that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

#[path = "common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dealflow::daemon::{self, Config};
use dealflow::store::Options;

use common::{core, percentile, root, seed_from};

/// The allocator of the `dealflow` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let deals = if full { 100_000 } else { 300 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(deals, full));
}

fn changed(rules: &str) -> String {
    rules.replace("at meeting_at - 2h {", "at meeting_at - 3h {").replace(
        "  -> contract on meeting_held\n",
        "  after 1h as nudge {\n    notify sales via email with meeting_details\n  }\n  -> contract on meeting_held\n",
    )
}

/// Runs `dealflow ARGS` three times; the seconds of each and the last one's output.
fn timed(args: &[&str]) -> (Vec<f64>, Vec<u8>) {
    let mut times = Vec::new();
    let mut last = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_dealflow"))
            .args(args)
            .output()
            .expect("dealflow runs");
        times.push(t.elapsed().as_secs_f64());
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        last = out.stdout;
    }
    (times, last)
}

fn seconds(times: &[f64]) -> String {
    times
        .iter()
        .map(|t| format!("{t:.2}"))
        .collect::<Vec<_>>()
        .join(" · ")
}

async fn run(deals: usize, full: bool) {
    daemon::tls_provider();
    let dir = std::env::temp_dir().join(format!("dealflow-bench-change-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench dir");
    let url = format!("sqlite://{}", dir.join("dealflow.db").display());
    let t = Instant::now();
    {
        let core = core(&url, &Options::default()).await;
        seed_from(&core, 0, deals, true).await;
        core.store().close().await;
    }
    println!(
        "{deals} live deals at `meeting` seeded in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let rules = std::fs::read_to_string(root().join("rules/web-studio.flow")).expect("rules");
    for f in ["web-studio.flow", "web-studio.rhai"] {
        std::fs::copy(root().join("rules").join(f), dir.join(f)).expect("copy rules");
    }
    let new = dir.join("new.flow");
    std::fs::write(&new, changed(&rules)).expect("new rules");
    let new = new.display().to_string();

    // 1. `plan`, end to end.
    let at = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let (times, out) = timed(&["plan", &new, "--db", &url, "--at", &at, "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_slice(&out).expect("a plan");
    assert_eq!(
        plan["summary"]["deals_changed"], deals,
        "{}",
        plan["summary"]
    );
    println!(
        "plan over {deals} live deals: {} s (goal < 10 s); {} timers moved, {} added, {} messages right after the switch",
        seconds(&times),
        plan["summary"]["timers_moved"],
        plan["summary"]["timers_added"],
        plan["summary"]["messages"]
    );

    // 2. The what-if, 30 days forward.
    let until = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let (times, _) = timed(&[
        "simulate",
        &new,
        "--db",
        &url,
        "--until",
        &until,
        "--format",
        "json",
        "-o",
        "/dev/null",
    ]);
    println!(
        "what-if over {deals} live deals, 30 days forward: {} s (goal < 10 s)",
        seconds(&times)
    );

    // 3. Requests while the daemon passes every live deal to new rules.
    reload_under_load(&dir, &url, deals, &rules).await;
    let _ = std::fs::remove_dir_all(&dir);
    if !full {
        println!("change bench smoke run: ok");
    }
}

async fn reload_under_load(dir: &Path, url: &str, deals: usize, rules: &str) {
    let example = std::fs::read_to_string(root().join("examples/dealflow.toml")).expect("example");
    let team = &example[example.find("[[team]]").expect("team")..];
    let config_text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[database]\nurl = \"{url}\"\n[rules]\nfile = \"web-studio.flow\"\n\
         [[tokens]]\ntoken = \"bench-token-1\"\nscope = \"staff\"\n{team}"
    );
    let cfg = dir.join("dealflow.toml");
    std::fs::write(&cfg, config_text).expect("config");
    let config = Config::load(Some(&cfg), Vec::new()).expect("config");
    let running = daemon::start(config).await.expect("daemon");
    let base = format!("http://{}", running.addr);
    let http = reqwest::Client::new();
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..16 {
        let (http, base, stop) = (http.clone(), base.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let body = serde_json::json!({"id": format!("r{c}-{i}"), "title": "x",
                    "fields": {"client_name": "Ivan", "client_email": "c@shop.test"}});
                let t = Instant::now();
                let r = http
                    .post(format!("{base}/api/v1/deals"))
                    .bearer_auth("bench-token-1")
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await;
                if r.is_ok_and(|r| r.status().is_success()) {
                    lat.push(t.elapsed());
                }
                i += 1;
            }
            lat
        }));
    }
    // A second of requests with no pass running, to compare.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mark = Instant::now();
    let tmp = dir.join("web-studio.swp");
    std::fs::write(&tmp, changed(rules)).expect("write");
    std::fs::rename(&tmp, dir.join("web-studio.flow")).expect("save");
    let reload = http
        .post(format!("{base}/api/v1/rules/reload"))
        .bearer_auth("bench-token-1")
        .send()
        .await
        .expect("reload");
    let answered = mark.elapsed();
    assert!(
        reload.status().is_success(),
        "{}",
        reload.text().await.unwrap_or_default()
    );
    loop {
        let text = http
            .get(format!("{base}/api/v1/rules"))
            .bearer_auth("bench-token-1")
            .send()
            .await
            .expect("rules")
            .text()
            .await
            .expect("text");
        let rules: serde_json::Value = serde_json::from_str(&text).expect("json");
        if rules["version"] == 2 && rules["switching"]["running"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pass = mark.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    for c in clients {
        lat.extend(c.await.expect("client"));
    }
    lat.sort();
    println!(
        "reload with {deals} live deals under 16 clients creating deals: answered in {:.2} s (plan and hooks tried), every deal passed in {:.1} s; {} requests meanwhile, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        answered.as_secs_f64(),
        pass.as_secs_f64(),
        lat.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    );
    running.stop().await;
}
