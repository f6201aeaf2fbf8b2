//! Two daemons on one PostgreSQL against one: the same HTTP load (work logged on tasks of
//! 1,000 deals, by many clients at once) sent to one daemon, then split between two. What the
//! operations guide quotes for running several daemons.
//!
//! Run: `DEALFLOW_TEST_POSTGRES=postgres://… cargo bench --bench two_daemons`. Under
//! `cargo test` it is a smoke run with small numbers; without PostgreSQL it says so and stops.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

use dealflow::daemon::{self, Config};
use dealflow::store::Options;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "common/mod.rs"]
mod common;
use common::{core, percentile, root, seed_from, task_logs};

const TOKEN: &str = "bench-token-1";

/// The rate and the latencies' median and 99th percentile (ms) of a load over `bases`.
async fn load(
    bases: &[String],
    deals: usize,
    requests: usize,
    clients: usize,
    round: usize,
) -> (f64, f64, f64) {
    let (lat, seconds) = task_logs(bases, TOKEN, deals, requests, clients, round).await;
    (
        requests as f64 / seconds,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
    )
}

async fn start(dir: &std::path::Path, name: &str, url: &str, schema: &str) -> daemon::Running {
    let example = std::fs::read_to_string(root().join("examples/dealflow.toml")).expect("example");
    let team = &example[example.find("[[team]]").expect("team")..];
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[database]\nurl = \"{url}\"\nschema = \"{schema}\"\n\
         [rules]\nfile = \"{}\"\n[[tokens]]\ntoken = \"{TOKEN}\"\nscope = \"staff\"\n{team}",
        root().join("rules/web-studio.flow").display()
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("config");
    daemon::start(Config::load(Some(&path), Vec::new()).expect("config"))
        .await
        .expect("the daemon starts")
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let Some(url) = std::env::var("DEALFLOW_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        println!("two daemons: SKIPPED (set DEALFLOW_TEST_POSTGRES)");
        return;
    };
    let (deals, requests, clients) = if full {
        (1_000, 8_000, 32)
    } else {
        (50, 200, 8)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        daemon::tls_provider();
        let dir = std::env::temp_dir().join(format!("dealflow-two-daemons-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let schema = format!("bench_two_{}", std::process::id());
        let opts = Options { schema: Some(schema.clone()), ..Options::default() };
        let seeded = core(&url, &opts).await;
        seed_from(&seeded, 0, deals, false).await;
        seeded.store().close().await;
        let a = start(&dir, "a", &url, &schema).await;
        let base_a = format!("http://{}", a.addr);
        // A warm-up round, then one daemon, then two.
        load(std::slice::from_ref(&base_a), deals, requests / 4, clients, 0).await;
        let (rate1, p50_1, p99_1) = load(std::slice::from_ref(&base_a), deals, requests, clients, 1).await;
        let b = start(&dir, "b", &url, &schema).await;
        let bases = [base_a.clone(), format!("http://{}", b.addr)];
        load(&bases, deals, requests / 4, clients, 2).await;
        let (rate2, p50_2, p99_2) = load(&bases, deals, requests, clients, 3).await;
        println!("two daemons on one PostgreSQL ({requests} task logs, {clients} clients, {deals} deals):");
        println!("  one daemon:  {rate1:>7.0} requests/s  p50 {p50_1:.1} ms  p99 {p99_1:.1} ms");
        println!("  two daemons: {rate2:>7.0} requests/s  p50 {p50_2:.1} ms  p99 {p99_2:.1} ms");
        a.stop().await;
        b.stop().await;
        let pool = sqlx::PgPool::connect(&url).await.expect("postgres");
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")))
            .execute(&pool)
            .await
            .expect("drop schema");
        let _ = std::fs::remove_dir_all(&dir);
    });
}
