//! The daemon's benchmark: events applied durably through the engine and the store (SQLite and
//! PostgreSQL), requests through HTTP on loopback with their latency, memory with 100,000
//! stored deals, the raw storage floor, and the timer scan against the number of deals.
//! The HTTP load runs twice: while the daemon's outbox sends the messages the stored deals
//! queued, and once it has sent them.
//!
//! Run: `cargo bench --bench daemon` (PostgreSQL parts when `DEALFLOW_TEST_POSTGRES` names a
//! server). Under `cargo test` it is a smoke run with small numbers.
//!
//! An event here is work logged on a task (`POST …/tasks/call_client/log`): a full step of the
//! engine (the deal read, changed, its history, tasks and time entries written) committed with
//! the store's durability (SQLite: WAL, synchronous=FULL; PostgreSQL: fsync on commit).
//! Requests are sent by many clients at once, so the writer groups commits.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dealflow::daemon::{self, Config, Core, Metrics, Op, Writer};
use dealflow::engine::{Input, TaskAction};
use dealflow::store::{Options, Store, Table};

/// The allocator of the `dealflow` binary, so that the engine and the store are measured as
/// they run there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tokio::sync::watch;

#[path = "common/mod.rs"]
mod common;
use common::{
    core_with, dir, percentile, phases, root, rules, seed_from, sms_gateway, writer_phases,
};

struct Sizes {
    deals: usize,
    events: usize,
    clients: usize,
    http_requests: usize,
    stored: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // The load generator, a process of its own: `--load URL TOKEN DEALS REQUESTS CLIENTS`.
    if let Some(i) = args.iter().position(|a| a == "--load") {
        let get = |k: usize| args.get(i + k).cloned().unwrap_or_default();
        let n = |k: usize| get(k).parse::<usize>().unwrap_or(1);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        daemon::tls_provider();
        let l = rt.block_on(http_load(&get(1), &get(2), n(3), n(4), n(5), n(6)));
        println!("{} {} {} {}", l.events, l.seconds, l.p50_ms, l.p99_ms);
        return;
    }
    let full = args.iter().any(|a| a == "--bench");
    // `cargo bench --bench daemon -- sqlite` runs only the parts whose name has `sqlite`.
    let only: Vec<String> = args
        .iter()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .cloned()
        .collect();
    let sizes = if full {
        Sizes {
            deals: 1_000,
            events: 20_000,
            clients: 64,
            http_requests: 20_000,
            stored: 100_000,
        }
    } else {
        Sizes {
            deals: 20,
            events: 200,
            clients: 8,
            http_requests: 200,
            stored: 300,
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(sizes, full, only));
    common::forget_rules();
}

/// Whether a part of the benchmark runs, by the names given on the command line.
fn wanted(only: &[String], part: &str) -> bool {
    only.is_empty() || only.iter().any(|o| part.contains(o.as_str()))
}

fn postgres() -> Option<String> {
    std::env::var("DEALFLOW_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
}

fn pg_opts(name: &str) -> Options {
    Options {
        schema: Some(format!("bench_{name}_{}", std::process::id())),
        ..Options::default()
    }
}

async fn drop_schema(url: &str, opts: &Options) {
    if let Some(s) = &opts.schema
        && let Ok(pool) = sqlx::PgPool::connect(url).await
    {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS \"{s}\" CASCADE"
        )))
        .execute(&pool)
        .await;
    }
}

/// Creates `n` leads, a thousand per transaction.
async fn seed(core: &Core, n: usize) {
    seed_from(core, 0, n, false).await;
}

/// Microseconds one look for due timers takes (none is due), over 200 looks.
async fn timer_scan(core: &Core) -> f64 {
    let t = Instant::now();
    let rounds = 200;
    for _ in 0..rounds {
        let mut tx = core.store().begin().await.expect("tx");
        let due = tx
            .claim_timers("bench", chrono::Utc::now(), chrono::Utc::now(), 200)
            .await
            .expect("claim");
        assert!(due.is_empty());
        tx.commit().await.expect("commit");
    }
    t.elapsed().as_secs_f64() * 1e6 / rounds as f64
}

fn log_input() -> Input {
    Input::Task {
        task: "call_client".into(),
        action: TaskAction::Log(rust_decimal::Decimal::new(25, 2)),
        by: Some("anna".into()),
    }
}

struct Load {
    events: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
    commits: u64,
    /// Bytes this process wrote to files while it ran (the log and the checkpoints).
    written: u64,
}

/// Bytes this process has written to files so far (`/proc/self/io`).
fn written() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("wchar:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// `events` steps from `clients` concurrent senders through the writer.
async fn engine_and_store(core: Arc<Core>, deals: usize, events: usize, clients: usize) -> Load {
    let metrics = Arc::new(Metrics::default());
    let (stop_tx, stop) = watch::channel(false);
    let (writer, task) = Writer::start(core.clone(), metrics.clone(), stop);
    let written_before = written();
    let started = Instant::now();
    let mut handles = Vec::new();
    for c in 0..clients {
        let w = writer.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = c;
            while i < events {
                let deal = format!("b{:06}", (i * 7919) % deals);
                let t = Instant::now();
                let a = w
                    .run(Op::Apply {
                        deal,
                        input: log_input(),
                    })
                    .await
                    .expect("written");
                assert_eq!(a.status, 200);
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
    let written = written() - written_before;
    let _ = stop_tx.send(true);
    drop(writer);
    let _ = task.await;
    lat.sort();
    let text = metrics.render();
    let commits = text
        .lines()
        .find_map(|l| l.strip_prefix("dealflow_commits_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    println!("    {}", phases(&writer_phases(&text), commits as f64));
    Load {
        events,
        seconds,
        p50_ms: percentile(&lat, 0.5),
        p99_ms: percentile(&lat, 0.99),
        commits,
        written,
    }
}

/// The same rows an event writes (the deal's state, its history, its task's row and a time
/// entry), in the same multi-row statements and batches, with the same durability, without the
/// engine: how fast the storage alone goes. History rows per event as measured in the engine run.
async fn floor(
    store: &Store,
    deals: usize,
    events: usize,
    batch: usize,
    history_per_event: usize,
    state: &str,
) -> f64 {
    let started = Instant::now();
    let mut done = 0;
    while done < events {
        let n = batch.min(events - done);
        let mut ids: Vec<String> = (done..done + n)
            .map(|i| format!("b{:06}", (i * 7919) % deals))
            .collect();
        ids.sort();
        ids.dedup();
        let mut tx = store.begin().await.expect("tx");
        tx.raw_batch(&ids, state, history_per_event, 1_000_000 + done as i64)
            .await
            .expect("raw");
        tx.commit().await.expect("commit");
        done += n;
    }
    events as f64 / started.elapsed().as_secs_f64()
}

async fn http_load(
    base: &str,
    token: &str,
    deals: usize,
    requests: usize,
    clients: usize,
    round: usize,
) -> Load {
    let (lat, seconds) =
        common::task_logs(&[base.to_string()], token, deals, requests, clients, round).await;
    Load {
        events: requests,
        seconds,
        p50_ms: percentile(&lat, 0.5),
        p99_ms: percentile(&lat, 0.99),
        commits: 0,
        written: 0,
    }
}

/// One HTTP load from another process (this benchmark, run with `--load`); `round` picks
/// other deals' turn order so that two rounds do not send the very same requests.
async fn http_round(base: &str, s: &Sizes, round: usize) -> Load {
    let exe = std::env::current_exe().expect("the bench executable");
    let out = tokio::process::Command::new(exe)
        .args(["--load", base, "bench-token-1"])
        .arg(s.stored.min(s.deals).to_string())
        .arg(s.http_requests.to_string())
        .arg(s.clients.to_string())
        .arg(round.to_string())
        .output()
        .await
        .expect("the load generator runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<f64> = text
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    Load {
        events: f.first().copied().unwrap_or(0.0) as usize,
        seconds: f.get(1).copied().unwrap_or(1.0),
        p50_ms: f.get(2).copied().unwrap_or(0.0),
        p99_ms: f.get(3).copied().unwrap_or(0.0),
        commits: 0,
        written: 0,
    }
}

fn rss_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn report(what: &str, l: &Load) {
    println!(
        "{what:<44} {:>8} events in {:>6.2} s = {:>8.0}/s   p50 {:>6.2} ms  p99 {:>6.2} ms{}",
        l.events,
        l.seconds,
        l.events as f64 / l.seconds,
        l.p50_ms,
        l.p99_ms,
        if l.commits > 0 {
            format!(
                "   {} commits ({:.1} events each){}",
                l.commits,
                l.events as f64 / l.commits as f64,
                // Only where the files are this process's own (SQLite); PostgreSQL writes in
                // its server.
                if l.written >= 100 * l.events as u64 {
                    format!(
                        ", {:.1} KiB written to files per event",
                        l.written as f64 / 1024.0 / l.events as f64
                    )
                } else {
                    String::new()
                }
            )
        } else {
            String::new()
        }
    );
}

async fn run(s: Sizes, full: bool, only: Vec<String>) {
    daemon::tls_provider();
    // 1. Engine + store, SQLite and PostgreSQL.
    let mut backends: Vec<(&str, String, Options, Option<PathBuf>)> = Vec::new();
    let d = dir("sqlite");
    backends.push((
        "sqlite",
        format!("sqlite://{}", d.join("dealflow.db").display()),
        Options::default(),
        Some(d),
    ));
    match postgres() {
        Some(url) => backends.push(("postgres", url, pg_opts("load"), None)),
        None => println!("(PostgreSQL skipped: set DEALFLOW_TEST_POSTGRES)"),
    }
    for (name, url, opts, folder) in &backends {
        if !wanted(&only, name) {
            continue;
        }
        let core = Arc::new(core_with(url, opts, rules()).await);
        seed(&core, s.deals).await;
        let history_before = {
            let mut tx = core.store().read().await.expect("tx");
            tx.count(Table::History).await.expect("count")
        };
        let l = engine_and_store(core.clone(), s.deals, s.events, s.clients).await;
        report(
            &format!("engine + store, {name}, {} clients", s.clients),
            &l,
        );
        let history_after = {
            let mut tx = core.store().read().await.expect("tx");
            tx.count(Table::History).await.expect("count")
        };
        let per_event = ((history_after - history_before) as usize / s.events.max(1)).max(1);
        // More requests at once make bigger commits.
        let more = s.clients * 4;
        let l_more = engine_and_store(core.clone(), s.deals, s.events, more).await;
        report(&format!("engine + store, {name}, {more} clients"), &l_more);
        let batch = (l.events as f64 / l.commits.max(1) as f64).round().max(1.0) as usize;
        // The floor last: the states it writes are filler, as long as a real deal's document.
        let state = {
            let mut tx = core.store().read().await.expect("tx");
            let deal = tx
                .peek_deal("b000000")
                .await
                .expect("read")
                .expect("a deal");
            serde_json::to_string(&deal.stored).expect("json")
        };
        let f = floor(core.store(), s.deals, s.events, batch, per_event, &state).await;
        println!(
            "{:<44} {:>8.0}/s (same rows, {batch} per commit, {} B documents, no engine): the daemon runs at {:.0}% of it",
            format!("raw storage floor, {name}"),
            f,
            state.len(),
            100.0 * (l.events as f64 / l.seconds) / f
        );

        core.store().close().await;
        if *name == "postgres" {
            drop_schema(url, opts).await;
        }
        if let Some(f) = folder {
            let _ = std::fs::remove_dir_all(f);
        }
    }

    // 2. Through HTTP on loopback, with the timer scan and memory at `stored` deals: SQLite,
    // then PostgreSQL when a server is named.
    if !wanted(&only, "http") {
        return;
    }
    let d = dir("http");
    let url = format!("sqlite://{}", d.join("dealflow.db").display());
    http_part("sqlite", &url, &Options::default(), "", &s).await;
    let _ = std::fs::remove_dir_all(&d);
    if let Some(url) = postgres() {
        let opts = pg_opts("http");
        let schema = opts.schema.clone().unwrap_or_default();
        http_part(
            "postgres",
            &url,
            &opts,
            &format!("schema = \"{schema}\"\n"),
            &s,
        )
        .await;
        drop_schema(&url, &opts).await;
    }
    if !full {
        println!("daemon bench smoke run: ok");
    }
}

/// The HTTP part on one backend: `stored` deals seeded (their messages queued), the timer scan
/// timed, then a daemon on them answering the load twice (while its outbox sends, then idle),
/// and its memory. `database` is more of the `[database]` section (PostgreSQL's schema).
async fn http_part(name: &str, url: &str, opts: &Options, database: &str, s: &Sizes) {
    let queued = {
        // The first deals are leads (the HTTP load logs work on them); the rest have a meeting
        // next year, so a reminder timer waits for each. The look for due timers is timed with
        // few timers stored and with all of them: it should not grow.
        let core = core_with(url, opts, rules()).await;
        let leads = s.deals.min(s.stored);
        seed(&core, leads).await;
        let few = timer_scan(&core).await;
        seed_from(&core, leads, s.stored - leads, true).await;
        let waiting = {
            let mut tx = core.store().read().await.expect("tx");
            tx.count(Table::Timers).await.expect("count")
        };
        let many = timer_scan(&core).await;
        let queued = {
            let mut tx = core.store().read().await.expect("tx");
            tx.count(Table::Outbox).await.expect("count")
        };
        println!(
            "{queued} messages the stored deals queued; the daemon's outbox sends them (SMS to \
             a gateway on loopback, email to the log) while the HTTP load runs"
        );
        println!(
            "timer scan, none due: {few:.0} µs per look with {leads} deals and no timers, \
             {many:.0} µs with {} deals and {waiting} timers waiting",
            s.stored
        );
        // Today's local-midnight alert check counts as done: the daemon would otherwise start
        // by checking every stored deal, and this measures requests, not that.
        let today = chrono::Utc::now()
            .with_timezone(&core.rules().ready.plan.tz)
            .format("%Y-%m-%d")
            .to_string();
        let mut tx = core.store().begin().await.expect("tx");
        tx.claim_midnight(&today).await.expect("midnight");
        tx.commit().await.expect("commit");
        core.store().close().await;
        queued
    };
    let rss_before = rss_kib("VmRSS:");
    let heap_before = rss_kib("RssAnon:");
    let example = std::fs::read_to_string(root().join("examples/dealflow.toml")).expect("example");
    let team = &example[example.find("[[team]]").expect("team")..];
    // The SMS go to a gateway on loopback (a real HTTP conversation each), the rest to the log.
    let (gateway, texts) = sms_gateway().await;
    let config_text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[database]\nurl = \"{url}\"\n{database}[rules]\nfile = \"{}\"\n\
         [sms]\nurl = \"http://{gateway}/send\"\n\
         [[tokens]]\ntoken = \"bench-token-1\"\nscope = \"staff\"\n{team}",
        rules().display()
    );
    let d = dir(&format!("http-config-{name}"));
    let cfg_path = d.join("dealflow.toml");
    std::fs::write(&cfg_path, config_text).expect("config");
    let config = Config::load(Some(&cfg_path), Vec::new()).expect("config");
    let running = daemon::start(config).await.expect("daemon");
    let started = Instant::now();
    let base = format!("http://{}", running.addr);
    let counter = |name: &str| -> f64 {
        running
            .metrics()
            .render()
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    };
    // Twice: while the outbox sends what the stored deals queued (it writes too, and takes
    // turns with the requests), then with nothing else to do.
    for (what, round) in [("while the outbox sends", 0), ("outbox empty", 1)] {
        if round == 1 {
            // Until all went out, or none did for two seconds (the rest are not due yet).
            let mut last = (counter("dealflow_messages_sent_total"), Instant::now());
            while last.0 < queued as f64 && last.1.elapsed() < Duration::from_secs(2) {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let sent = counter("dealflow_messages_sent_total");
                if sent > last.0 {
                    last = (sent, Instant::now());
                }
            }
            let seconds = last.1.duration_since(started).as_secs_f64();
            println!(
                "the outbox: {} messages sent in {seconds:.1} s = {:.0}/s, {} of them SMS through \
                 the loopback gateway (the rest to the log), requests or none",
                last.0,
                last.0 / seconds.max(0.001),
                texts.load(std::sync::atomic::Ordering::Relaxed)
            );
        }
        let before = (
            counter("dealflow_commits_total"),
            counter("dealflow_committed_requests_total"),
            counter("dealflow_commit_seconds_total"),
            counter("dealflow_messages_sent_total"),
            writer_phases(&running.metrics().render()),
        );
        let l = http_round(&base, s, round).await;
        let commits = counter("dealflow_commits_total") - before.0;
        report(&format!("HTTP, {name}, {} clients, {what}", s.clients), &l);
        println!(
            "    the writer: {commits} commits, {:.1} requests and {:.2} ms of writing each; \
             {} messages sent meanwhile",
            (counter("dealflow_committed_requests_total") - before.1) / commits.max(1.0),
            (counter("dealflow_commit_seconds_total") - before.2) * 1000.0 / commits.max(1.0),
            counter("dealflow_messages_sent_total") - before.3
        );
        let after = writer_phases(&running.metrics().render());
        let spent: [f64; 5] = std::array::from_fn(|i| after[i] - before.4[i]);
        println!("    {}", phases(&spent, commits));
    }
    let rss = rss_kib("VmRSS:");
    let heap = rss_kib("RssAnon:");
    println!(
        "memory with {} stored deals: {} MiB resident, {} MiB of it the process's own (the rest is \
         the database file mapped); before the daemon started {} MiB, {} MiB own; at most {} deals \
         kept warm",
        s.stored,
        rss / 1024,
        heap / 1024,
        rss_before / 1024,
        heap_before / 1024,
        daemon::MOST_KEPT
    );
    running.stop().await;
    let _ = std::fs::remove_dir_all(&d);
}
