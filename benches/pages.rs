//! The dashboard with many stored deals: every page's latency and the daemon's memory.
//!
//! `cargo bench --bench pages` seeds 100,000 deals (`-- 1000000` for a million; several sizes
//! may be given) into an SQLite file under `target/bench-pages/` (kept: the next run with the
//! same size reuses it while the schema is the same), spread over the last eighteen months as a studio's would be: most
//! closed or lost, the rest in every live stage, with tasks overdue, invoices out, hours logged.
//! Then it starts `dealflow serve` on it as its own process, asks every page 25 times after
//! 3 warm-up requests, and prints the median and 90th percentile of each, the daemon's resident
//! memory after visiting them all, and the bytes the database keeps per deal.
//!
//! A fresh seeding also prints the bytes stored per lead (a new lead with its tasks, history
//! and messages) from 10,000 leads alone.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dealflow::daemon::{Core, Op, Step};
use dealflow::engine::{Creation, Input, TaskAction};
use dealflow::store::Options;
use dealflow::value::Value;

const TOKEN: &str = "bench-pages-staff";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Deal `i` of `n`: created `ago` before now, at a stage and with fields as the mix says.
fn deal(i: usize, n: usize, now: DateTime<Utc>) -> (Creation, DateTime<Utc>, Option<Op>) {
    let ago = chrono::Duration::minutes(((n - i) as i64 * 540 * 24 * 60) / n as i64);
    let at = now - ago;
    let mut f = BTreeMap::new();
    f.insert("client_name".into(), Value::Text(format!("Client {i}")));
    f.insert(
        "client_phone".into(),
        Value::Text(format!("+7999{:07}", i % 10_000_000)),
    );
    f.insert(
        "client_email".into(),
        Value::Text(format!("c{i}@shop.test")),
    );
    let amount = Value::Decimal(rust_decimal::Decimal::from(50_000 + (i % 40) * 10_000));
    let stages: Vec<&str> = match i % 20 {
        0..=10 => vec!["closed"],
        11..=13 => vec!["lost"],
        14 | 15 => vec![],
        16 => vec!["meeting"],
        17 => vec!["contract"],
        18 => vec!["billing", "prepayment"],
        _ => vec!["production"],
    };
    let mut then = None;
    match i % 20 {
        0..=10 => {
            f.insert("amount".into(), amount);
            f.insert("invoice_status".into(), Value::Text("paid".into()));
            f.insert("planned_end".into(), Value::Date(at.date_naive()));
        }
        16 => {
            f.insert(
                "meeting_at".into(),
                Value::DateTime(now + chrono::Duration::days(30 + (i % 60) as i64)),
            );
            f.insert("meeting_place".into(), Value::Text("Office".into()));
        }
        18 => {
            f.insert("amount".into(), amount);
            f.insert("prepayment".into(), Value::Bool(true));
            f.insert("invoice_status".into(), Value::Text("sent".into()));
            f.insert(
                "planned_end".into(),
                Value::Date((now + chrono::Duration::days((i % 70) as i64)).date_naive()),
            );
        }
        19 => {
            f.insert("amount".into(), amount);
            f.insert("work_days".into(), Value::Int(5 + (i % 30) as i64));
            f.insert("sold_hours".into(), Value::Decimal(40.into()));
            f.insert("project_manager".into(), Value::User("petr".into()));
            then = Some(Op::Apply {
                deal: format!("d{i:07}"),
                input: Input::Task {
                    task: "approval".into(),
                    action: TaskAction::Log(rust_decimal::Decimal::from(3)),
                    by: Some("petr".into()),
                },
            });
        }
        _ => {}
    }
    (
        Creation {
            id: format!("d{i:07}"),
            title: format!("Project {i}"),
            stages: stages.into_iter().map(str::to_string).collect(),
            fields: f,
            quiet: false,
            done: Vec::new(),
        },
        at,
        then,
    )
}

async fn seed(core: &Core, n: usize) {
    let now = Utc::now();
    let started = Instant::now();
    let mut i = 0;
    while i < n {
        let mut ops = Vec::new();
        let mut at = now;
        for j in i..(i + 500).min(n) {
            let (c, t, then) = deal(j, n, now);
            at = t;
            ops.push(Op::Create(c));
            ops.extend(then);
        }
        i += 500;
        let mut tx = core.store().begin().await.expect("tx");
        let steps = core.run_all(&mut tx, &ops, at).await.expect("batch");
        for s in &steps {
            assert!(matches!(s, Ok(Step::Applied { .. })), "{s:?}");
        }
        tx.commit().await.expect("commit");
        if i % 50_000 == 0 {
            eprintln!(
                "  seeded {i} of {n} ({:.0} deals/s)",
                i as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    // The daemon starts quiet: the timers that came due meanwhile (deadlines of old
    // projects) fired, today's midnight check done, the queued messages sent.
    loop {
        let mut tx = core.store().begin().await.expect("tx");
        let due = tx.due_timers(now, 500).await.expect("due");
        if due.is_empty() {
            break;
        }
        for d in &due {
            core.fire(&mut tx, d, now).await.expect("fires");
        }
        tx.commit().await.expect("commit");
    }
    let mut tx = core.store().begin().await.expect("tx");
    let today = now
        .with_timezone(&core.rules().ready.plan.tz)
        .date_naive()
        .to_string();
    tx.claim_midnight(&today).await.expect("midnight");
    tx.commit().await.expect("commit");
}

fn db_bytes(file: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .map(|s| {
            let mut p = file.as_os_str().to_owned();
            p.push(s);
            std::fs::metadata(PathBuf::from(p)).map_or(0, |m| m.len())
        })
        .sum()
}

async fn quiet_outbox(file: &Path) {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", file.display()))
        .await
        .expect("sqlite");
    sqlx::query("UPDATE outbox SET status = 'sent', sent_at = created_at WHERE status = 'pending'")
        .execute(&pool)
        .await
        .expect("outbox");
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await
        .expect("checkpoint");
    pool.close().await;
}

/// Bytes per table, where SQLite can say (its `dbstat` table).
async fn by_table(file: &Path) -> Vec<(String, i64)> {
    let Ok(pool) = sqlx::SqlitePool::connect(&format!("sqlite://{}", file.display())).await else {
        return Vec::new();
    };
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC")
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
    pool.close().await;
    rows
}

async fn bytes_per_lead(dir: &Path) {
    let file = dir.join("leads.db");
    for s in ["", "-wal", "-shm", ".lock"] {
        let _ = std::fs::remove_file(format!("{}{s}", file.display()));
    }
    let url = format!("sqlite://{}", file.display());
    let core = common::core(&url, &Options::default()).await;
    let n = 10_000;
    let now = Utc::now();
    for chunk in 0..n / 500 {
        let ops: Vec<Op> = (chunk * 500..(chunk + 1) * 500)
            .map(|i| {
                let mut c = deal(i, n, now).0;
                c.stages.clear();
                Op::Create(c)
            })
            .collect();
        let mut tx = core.store().begin().await.expect("tx");
        core.run_all(&mut tx, &ops, now).await.expect("batch");
        tx.commit().await.expect("commit");
    }
    core.store().close().await;
    drop(core);
    quiet_outbox(&file).await;
    let bytes = db_bytes(&file);
    println!(
        "bytes stored per lead: {} ({} bytes for {n} new leads with their tasks, history and messages)",
        bytes / n as u64,
        bytes
    );
    for (table, b) in by_table(&file).await.into_iter().take(12) {
        println!("  {table:<28} {:>7} bytes per lead", b / n as i64);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A GET on loopback (HTTP/1.1, the connection closed after): status and body length.
fn get(port: u16, path: &str) -> (u16, usize) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read");
    let text = String::from_utf8_lossy(&out);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out.len())
}

/// Resident memory in KiB: in all, at its peak, of the heap (anonymous), of mapped files.
fn rss_kib(pid: u32) -> (u64, u64, u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (
        field("VmRSS:"),
        field("VmHWM:"),
        field("RssAnon:"),
        field("RssFile:"),
    )
}

fn serve(dir: &Path, file: &Path, port: u16) -> Killed {
    let team = std::fs::read_to_string(common::root().join("examples/dealflow.toml")).unwrap();
    let team = &team[team.find("[[team]]").unwrap()..];
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n[database]\nurl = \"sqlite://{}\"\n[rules]\nfile = \"{}\"\n\
         [[tokens]]\ntoken = \"{TOKEN}\"\nscope = \"staff\"\nname = \"bench\"\n{team}",
        file.display(),
        common::root().join("rules/web-studio.flow").display()
    );
    let path = dir.join("dealflow.toml");
    std::fs::write(&path, config).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_dealflow"))
        .args(["serve", "--config"])
        .arg(&path)
        .env("DEALFLOW_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("dealflow serve starts");
    let child = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() && get(port, "/healthz").0 == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the daemon did not come up");
        std::thread::sleep(Duration::from_millis(200));
    }
    child
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.replace('_', "").parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![100_000]
    } else {
        sizes
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    for n in sizes {
        let dir = common::root().join(format!("target/bench-pages/{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("deals.db");
        // The seed is kept between runs, while the schema it was made under is this code's.
        let seeded = dir.join("seeded");
        let digest = dealflow::store::schema_digest();
        if std::fs::read_to_string(&seeded).ok().as_deref() != Some(digest.as_str()) {
            for s in ["", "-wal", "-shm", ".lock"] {
                let _ = std::fs::remove_file(format!("{}{s}", file.display()));
            }
            eprintln!("seeding {n} deals into {}", file.display());
            let started = Instant::now();
            rt.block_on(async {
                let core =
                    common::core(&format!("sqlite://{}", file.display()), &Options::default())
                        .await;
                seed(&core, n).await;
                core.store().close().await;
                drop(core);
                quiet_outbox(&file).await;
                bytes_per_lead(&dir).await;
            });
            eprintln!("seeded in {:.0} s", started.elapsed().as_secs_f64());
            std::fs::write(&seeded, &digest).unwrap();
        }
        println!(
            "{n} deals: database {} MB, {} bytes per deal",
            db_bytes(&file) / 1_000_000,
            db_bytes(&file) / n as u64
        );
        let port = free_port();
        let started = Instant::now();
        let daemon = serve(&dir, &file, port);
        println!("  daemon ready in {:.1} s", started.elapsed().as_secs_f64());
        let (rss0, ..) = rss_kib(daemon.0.id());
        let some = n / 2 + 19 - (n / 2) % 20;
        let pages = [
            "/".to_string(),
            "/money".into(),
            "/attention".into(),
            "/attention?page=40".into(),
            "/team".into(),
            "/analytics".into(),
            "/analytics?from=&to=".into(),
            "/stages/lead?page=30".into(),
            format!("/search?q=client+{}", n / 3),
            format!("/search?q=%2B7999{:07}", n / 3),
            format!("/deals/d{some:07}"),
        ];
        for page in &pages {
            for _ in 0..3 {
                let (status, _) = get(port, page);
                assert_eq!(status, 200, "{page}");
            }
            let mut lat = Vec::new();
            let mut bytes = 0;
            for _ in 0..25 {
                let t = Instant::now();
                bytes = get(port, page).1;
                lat.push(t.elapsed());
            }
            lat.sort();
            println!(
                "  {page:<28} median {:>7.1} ms   p90 {:>7.1} ms   {:>7} bytes",
                common::percentile(&lat, 0.5),
                common::percentile(&lat, 0.9),
                bytes
            );
        }
        let (rss, hwm, anon, mapped) = rss_kib(daemon.0.id());
        println!(
            "  daemon resident memory: {} MiB at start, {} MiB after the pages (peak {} MiB; \
             {} MiB heap, {} MiB of mapped files)",
            rss0 / 1024,
            rss / 1024,
            hwm / 1024,
            anon / 1024,
            mapped / 1024
        );
        drop(daemon);
    }
}
