//! Intake as the database grows: website leads (`POST /api/v1/leads` with the intake token)
//! sent over HTTP on loopback by 16 clients from a process of their own, into a daemon on
//! SQLite whose texts go to an SMS gateway on loopback and whose email goes to the log.
//!
//! Three rounds, each on a database of its own:
//! 1. a probe of leads into an empty database: the rate a new studio sees;
//! 2. the same probe into a database holding 100,000 deals and 300,000 messages queued for
//!    later (reminders not due yet): the rate a grown one sees, and how far it is from the first
//!    (the target: within 15%);
//! 3. 100,000 leads into an empty database, whole: how long it takes (the target: under 90 s),
//!    and the rate of its first and last tenth (decay while it fills).
//!
//! Run: `cargo bench --bench intake`. Under `cargo test` it is a smoke run with small numbers.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dealflow::daemon::{self, Config};
use dealflow::store::Options;

/// The allocator of the `dealflow` binary, so that the daemon is measured as it runs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "common/mod.rs"]
mod common;
use common::{
    core_with, dir, percentile, phases, root, rules, seed_from, sms_gateway, writer_phases,
};

const TOKEN: &str = "bench-intake-1";
const CLIENTS: usize = 16;

struct Sizes {
    /// Leads of a probe.
    probe: usize,
    /// Deals stored before the second probe.
    stored: usize,
    /// Messages queued for later before the second probe.
    backlog: usize,
    /// Leads of the whole run.
    whole: usize,
}

/// What a load of leads gave: how many, in how long, latencies, and the seconds its first and
/// last tenth took.
struct Leads {
    n: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
    first_tenth_s: f64,
    last_tenth_s: f64,
    /// The database's bytes afterwards (the file and its log), and the writer's commits and
    /// microseconds by phase meanwhile.
    bytes: u64,
    commits: f64,
    phases: [f64; 5],
}

impl Leads {
    fn rate(&self) -> f64 {
        self.n as f64 / self.seconds.max(1e-9)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // The load generator, a process of its own: `--load URL FROM N`.
    if let Some(i) = args.iter().position(|a| a == "--load") {
        let get = |k: usize| args.get(i + k).cloned().unwrap_or_default();
        let n = |k: usize| get(k).parse::<usize>().unwrap_or(1);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        daemon::tls_provider();
        let l = rt.block_on(post_leads(&get(1), n(2), n(3)));
        println!(
            "{} {} {} {} {} {}",
            l.n, l.seconds, l.p50_ms, l.p99_ms, l.first_tenth_s, l.last_tenth_s
        );
        return;
    }
    let full = args.iter().any(|a| a == "--bench");
    let sizes = if full {
        Sizes {
            probe: 20_000,
            stored: 100_000,
            backlog: 300_000,
            whole: 100_000,
        }
    } else {
        Sizes {
            probe: 200,
            stored: 300,
            backlog: 900,
            whole: 300,
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(sizes, full));
    common::forget_rules();
}

async fn run(s: Sizes, full: bool) {
    daemon::tls_provider();
    let empty = round("empty", 0, 0, s.probe).await;
    report(&format!("{} leads into an empty database", s.probe), &empty);
    let grown = round("grown", s.stored, s.backlog, s.probe).await;
    report(
        &format!(
            "{} leads with {} deals stored and {} messages queued",
            s.probe, s.stored, s.backlog
        ),
        &grown,
    );
    let kept = grown.rate() / empty.rate() * 100.0;
    println!(
        "    the grown database takes leads at {kept:.1}% of the empty one's rate (the target: at \
         least 85%)"
    );
    let whole = round("whole", 0, 0, s.whole).await;
    report(
        &format!("{} leads into an empty database, whole", s.whole),
        &whole,
    );
    let tenth = s.whole as f64 / 10.0;
    println!(
        "    {:.1} s in all (the target: under 90 s); its first tenth at {:.0}/s, its last at \
         {:.0}/s; the database then {:.1} MiB, {:.2} KB a lead with its messages",
        whole.seconds,
        tenth / whole.first_tenth_s.max(1e-9),
        tenth / whole.last_tenth_s.max(1e-9),
        whole.bytes as f64 / 1_048_576.0,
        whole.bytes as f64 / 1000.0 / s.whole as f64
    );
    if !full {
        assert_eq!(empty.n + grown.n + whole.n, 2 * s.probe + s.whole);
        println!("intake bench smoke run: ok");
    }
}

fn report(what: &str, l: &Leads) {
    println!(
        "{what:<58} {:>8.2} s = {:>7.0} leads/s   p50 {:>6.2} ms  p99 {:>6.2} ms",
        l.seconds,
        l.rate(),
        l.p50_ms,
        l.p99_ms
    );
    println!(
        "    the writer: {} commits ({:.1} leads each); {}",
        l.commits,
        l.n as f64 / l.commits.max(1.0),
        phases(&l.phases, l.commits)
    );
}

/// A database of its own with `stored` deals and `backlog` messages queued for next year, a
/// daemon on it, and `leads` leads sent to it from another process.
async fn round(name: &str, stored: usize, backlog: usize, leads: usize) -> Leads {
    let d = dir(&format!("intake-{name}"));
    let file = d.join("dealflow.db");
    let url = format!("sqlite://{}", file.display());
    if stored > 0 {
        let core = core_with(&url, &Options::default(), rules()).await;
        seed_from(&core, 0, stored, false).await;
        // Today's local-midnight alert check counts as done: the daemon would otherwise start
        // by checking every stored deal, and this measures leads, not that.
        let today = chrono::Utc::now()
            .with_timezone(&core.rules().ready.plan.tz)
            .format("%Y-%m-%d")
            .to_string();
        let mut tx = core.store().begin().await.expect("tx");
        tx.claim_midnight(&today).await.expect("midnight");
        tx.commit().await.expect("commit");
        core.store().close().await;
        queue_for_later(&file, backlog).await;
    }
    let (gateway, _texts) = sms_gateway().await;
    let example = std::fs::read_to_string(root().join("examples/dealflow.toml")).expect("example");
    let team = &example[example.find("[[team]]").expect("team")..];
    let config_text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[database]\nurl = \"{url}\"\n[rules]\nfile = \"{}\"\n\
         [sms]\nurl = \"http://{gateway}/send\"\n\
         [[tokens]]\ntoken = \"{TOKEN}\"\nscope = \"intake\"\n\
         [intake]\ntitle = \"name\"\n[intake.fields]\nname = \"client_name\"\nphone = \"client_phone\"\n\
         email = \"client_email\"\n{team}",
        rules().display()
    );
    let cfg_path = d.join("dealflow.toml");
    std::fs::write(&cfg_path, config_text).expect("config");
    let config = Config::load(Some(&cfg_path), Vec::new()).expect("config");
    let running = daemon::start(config).await.expect("daemon");
    let base = format!("http://{}", running.addr);
    let counter = |name: &str| -> f64 {
        running
            .metrics()
            .render()
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    };
    let before = (
        counter("dealflow_commits_total"),
        writer_phases(&running.metrics().render()),
    );
    let mut l = load(&base, stored, leads).await;
    l.commits = counter("dealflow_commits_total") - before.0;
    let after = writer_phases(&running.metrics().render());
    l.phases = std::array::from_fn(|i| after[i] - before.1[i]);
    running.stop().await;
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    l.bytes = size(&file) + size(&d.join("dealflow.db-wal"));
    let _ = std::fs::remove_dir_all(&d);
    l
}

/// `n` messages queued for a year ahead (reminders not due yet) beside the seeded deals'.
async fn queue_for_later(file: &Path, n: usize) {
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(file))
        .await
        .expect("sqlite");
    let later = (chrono::Utc::now() + chrono::Duration::days(365)).timestamp_millis();
    let sql = format!(
        "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {n}) \
         INSERT INTO outbox (dedupe, deal_id, channel, to_kind, recipient, template, body, \
         attachments, send_after_ms, status, next_ms, created_at) \
         SELECT 'later-' || n, printf('b%06d', n % 100000), 'sms', 'client', '+79990000000', \
         'meeting_reminder', 'Напоминаем о встрече завтра', '[]', {later}, 'pending', {later}, \
         '2026-12-01T00:00:00.000000Z' FROM s"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&pool)
        .await
        .expect("the backlog is queued");
    pool.close().await;
}

/// The leads from another process (this benchmark, run with `--load`), numbered from `from`.
async fn load(base: &str, from: usize, n: usize) -> Leads {
    let exe = std::env::current_exe().expect("the bench executable");
    let out = tokio::process::Command::new(exe)
        .args(["--load", base])
        .arg(from.to_string())
        .arg(n.to_string())
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
    let at = |i: usize| f.get(i).copied().unwrap_or(0.0);
    Leads {
        n: at(0) as usize,
        seconds: at(1),
        p50_ms: at(2),
        p99_ms: at(3),
        first_tenth_s: at(4),
        last_tenth_s: at(5),
        bytes: 0,
        commits: 0.0,
        phases: [0.0; 5],
    }
}

/// Sends `n` leads from [`CLIENTS`] clients at once, each a new client (name, phone, email).
async fn post_leads(base: &str, from: usize, n: usize) -> Leads {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()
        .expect("client");
    let done = Arc::new(AtomicU64::new(0));
    let tenth = (n / 10).max(1) as u64;
    let marks = Arc::new(std::sync::Mutex::new(Vec::new()));
    let started = Instant::now();
    let mut handles = Vec::new();
    for c in 0..CLIENTS {
        let (http, base) = (http.clone(), base.to_string());
        let (done, marks) = (done.clone(), marks.clone());
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = c;
            while i < n {
                let k = from + i;
                let body = serde_json::json!({
                    "name": format!("Клиент {k}"),
                    "phone": format!("+7 916 {:03} {:02} {:02}", k / 10_000 % 1000, k / 100 % 100, k % 100),
                    "email": format!("client{k}@shop.test"),
                });
                let t = Instant::now();
                let r = http
                    .post(format!("{base}/api/v1/leads"))
                    .bearer_auth(TOKEN)
                    .header("Content-Type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await
                    .expect("answered");
                let status = r.status().as_u16();
                let _ = r.bytes().await;
                assert_eq!(status, 201, "lead {k}");
                lat.push(t.elapsed());
                let count = done.fetch_add(1, Ordering::Relaxed) + 1;
                if count % tenth == 0 {
                    marks.lock().expect("marks").push(started.elapsed());
                }
                i += CLIENTS;
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
    let mut marks = marks.lock().expect("marks").clone();
    marks.sort();
    let first = marks.first().map_or(seconds, Duration::as_secs_f64);
    let last = match marks.len() {
        0 | 1 => seconds,
        k => seconds - marks[k - 2].as_secs_f64(),
    };
    Leads {
        n,
        seconds,
        p50_ms: percentile(&lat, 0.5),
        p99_ms: percentile(&lat, 0.99),
        first_tenth_s: first,
        last_tenth_s: last,
        bytes: 0,
        commits: 0.0,
        phases: [0.0; 5],
    }
}
