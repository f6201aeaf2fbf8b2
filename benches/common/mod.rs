//! What the benches share: the repository, the example team, a core over a database, deals
//! seeded in bulk, an HTTP load of task logs, percentiles.

// Each bench uses a part of what is here.
#![allow(dead_code)]

use std::fmt::Write;
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

/// Where [`rules`] put its copy.
static RULES: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// The reference pipeline as the benches run it: a copy whose script sends a client's SMS at
/// any hour (the reference holds them from 21:00 to 09:00 Moscow time, and a bench run at night
/// would measure an outbox with nothing to send). Made once per bench process.
pub fn rules() -> &'static Path {
    RULES.get_or_init(|| {
        let d = dir("rules");
        for f in ["web-studio.flow", "web-studio.rhai"] {
            let text = std::fs::read_to_string(root().join("rules").join(f)).expect("rules");
            let held = "if hour >= 21 || hour < 9 {";
            assert!(
                f.ends_with(".flow") || text.contains(held),
                "the reference script no longer holds SMS at night as the benches expect"
            );
            let text = text.replace(held, "if false {");
            std::fs::write(d.join(f), text).expect("the bench's rules");
        }
        d.join("web-studio.flow")
    })
}

/// Takes away the copy of the rules that [`rules`] made, if it made one.
pub fn forget_rules() {
    if let Some(dir) = RULES.get().and_then(|f| f.parent()) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A core over the database at `url` under the reference pipeline.
pub async fn core(url: &str, opts: &Options) -> Core {
    core_with(url, opts, &root().join("rules/web-studio.flow")).await
}

/// A core under the rules at `rules`: a daemon started on its database afterwards must load
/// the very same file, or it finds new rules and moves every deal to them.
pub async fn core_with(url: &str, opts: &Options, rules: &Path) -> Core {
    Core::open(Opening {
        rules,
        database: url,
        options: opts.clone(),
        team: Some(&team()),
        max_rules_size: None,
        mapping: Default::default(),
    })
    .await
    .expect("the core opens")
}

/// Creates deals `from..from + n` (a client with an email and a phone each): leads, or deals with a meeting booked next year (each has a
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
            // A phone, as the website's leads have: their texts go through the SMS gateway.
            fields.insert(
                "client_phone".to_string(),
                Value::Text(format!("+7999{i:07}")),
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
                quiet: false,
                done: Vec::new(),
            };
            let step = core.create(&mut tx, &req, now).await.expect("create");
            assert!(matches!(step, Step::Applied { .. }), "{step:?}");
            i += 1;
        }
        tx.commit().await.expect("commit");
    }
}

/// Sends `requests` task logs (`POST …/tasks/call_client/log`) from `clients` clients at once,
/// client `c` to `bases[c % bases.len()]`, over deals `b000000…`; `round` picks another turn
/// order of the deals. The latencies, sorted, and the seconds it all took.
pub async fn task_logs(
    bases: &[String],
    token: &str,
    deals: usize,
    requests: usize,
    clients: usize,
    round: usize,
) -> (Vec<Duration>, f64) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .expect("client");
    let started = std::time::Instant::now();
    let mut handles = Vec::new();
    for c in 0..clients {
        let (http, base, token) = (
            http.clone(),
            bases[c % bases.len()].clone(),
            token.to_string(),
        );
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = c;
            while i < requests {
                let deal = format!("b{:06}", (i * 7919 + round * 13) % deals);
                let t = std::time::Instant::now();
                let r = http
                    .post(format!("{base}/api/v1/deals/{deal}/tasks/call_client/log"))
                    .bearer_auth(&token)
                    .header("Content-Type", "application/json")
                    .body(r#"{"hours": 0.25, "by": "anna"}"#)
                    .send()
                    .await
                    .expect("answered");
                assert_eq!(r.status().as_u16(), 200);
                let _ = r.bytes().await;
                lat.push(t.elapsed());
                i += clients;
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(h.await.expect("client"));
    }
    let seconds = started.elapsed().as_secs_f64();
    lat.sort();
    (lat, seconds)
}

pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// An SMS gateway on loopback that takes every message (200): its address, and how many it took.
pub async fn sms_gateway() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicU64>,
) {
    let texts = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = texts.clone();
    let app = axum::Router::new().route(
        "/send",
        axum::routing::post(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                "queued"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port for the gateway");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, texts)
}

pub fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("dealflow-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("bench dir");
    d
}

/// The writer's microseconds by phase (begin, read, run, write, commit) from `/metrics` text.
pub fn writer_phases(metrics: &str) -> [f64; 5] {
    let mut out = [0.0; 5];
    for (i, phase) in ["begin", "read", "run", "write", "commit"]
        .iter()
        .enumerate()
    {
        let key = format!("dealflow_writer_phase_seconds_total{{phase=\"{phase}\"}} ");
        out[i] = metrics
            .lines()
            .find_map(|l| l.strip_prefix(&key)?.parse::<f64>().ok())
            .map_or(0.0, |s| s * 1_000_000.0);
    }
    out
}

/// Milliseconds per commit in each of the writer's phases.
pub fn phases(micros: &[f64; 5], commits: f64) -> String {
    let per = |i: usize| micros[i] / 1000.0 / commits.max(1.0);
    format!(
        "the writer per commit: beginning {:.2} ms, reading {:.2} ms, running {:.2} ms, \
         writing {:.2} ms, committing {:.2} ms",
        per(0),
        per(1),
        per(2),
        per(3),
        per(4)
    )
}

/// A pipeline of `stages` stages, each about `LINES_PER_STAGE` lines, plus a real header.
pub fn generate(stages: usize) -> String {
    let mut s = String::from(
        r#"pipeline big "Generated" {
  timezone "Europe/Moscow"
  currency RUB
  calendar ru
}

calendar ru {
  workweek mon..fri
  hours 10:00..19:00
  holidays 2026-01-01..2026-01-08, 2026-02-23, 2026-03-09
}

role sales "Sales"
role manager "Manager"

fields {
  client_name: text required "Client"
  client_email: email
  amount: money
  due: date
  status: text default "new"
  paid_at: datetime
}

event go { due }
event stop

template hello {
  sms "Hello {{client_name}}, we owe you {{amount}}"
  email subject "Due {{format(due, "%d.%m.%Y")}}" body "Dear {{client_name}}"
}
"#,
    );
    for i in 0..stages {
        let next = if i + 1 < stages {
            format!("s{}", i + 1)
        } else {
            "done".into()
        };
        let _ = write!(
            s,
            r#"
# stage {i} of the generated pipeline
stage s{i} "Stage {i}" {{
  on enter {{
    set status = "in {i}"
    notify client via sms, email with hello
    task t{i} "Task {i}" to sales due 1 workday estimate 2h
  }}
  at end of due when status != "paid" and amount > 100 {{
    set amount = amount * 1.05 + 10
  }}
  after 3d when not (paid_at is set) {{
    task chase{i} "Chase {i}" to manager due 2h
  }}
  -> {next} on go when due is set
  -> done on stop
}}
"#
        );
    }
    s.push_str("\nstage done \"Done\" final\n");
    s
}

/// Lines per generated stage, about.
pub const LINES_PER_STAGE: usize = 16;
