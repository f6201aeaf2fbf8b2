//! Crash safety: the daemon is killed with SIGKILL at random moments while clients send 2,000
//! requests with idempotency keys and retry each until it is answered; 10 rounds. Then: no
//! answered request is lost, none is applied twice, every due timer fired once, and the
//! database passes its integrity check. Bounded: the test stops itself after two minutes.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dealflow::store::{Options, Store};
use serde_json::{Value as Json, json};

const TOKEN: &str = "crash-test-staff";
const DEALS: usize = 100;
const REQUESTS: usize = 2_000;
const TIMED: usize = 20;
const ROUNDS: usize = 10;
const LIMIT: Duration = Duration::from_secs(120);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn setup() -> (PathBuf, u16) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("crash");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let port = free_port();
    let example = std::fs::read_to_string(root().join("examples/dealflow.toml")).expect("example");
    let team = &example[example.find("[[team]]").expect("team")..];
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n[database]\nurl = \"sqlite://{}\"\n\
         [rules]\nfile = \"{}\"\n[[tokens]]\ntoken = \"{TOKEN}\"\nscope = \"staff\"\n{team}",
        dir.join("dealflow.db").display(),
        root().join("rules/web-studio.flow").display(),
    );
    std::fs::write(dir.join("dealflow.toml"), config).expect("config");
    (dir, port)
}

fn start(dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_dealflow"))
        .args(["serve", "--config"])
        .arg(dir.join("dealflow.toml"))
        .env("DEALFLOW_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the daemon starts")
}

/// One request of the workload: a path, a body, a key.
#[derive(Clone)]
struct Req {
    path: String,
    body: Json,
    key: String,
    deal: usize,
    kind: &'static str,
}

fn workload() -> Vec<Req> {
    let mut out = Vec::new();
    for d in 0..DEALS {
        out.push(Req {
            path: "/api/v1/deals".into(),
            body: json!({"id": format!("c{d}"), "title": format!("Deal {d}"),
                         "fields": {"client_name": format!("Client {d}"), "client_email": "c@shop.test"}}),
            key: format!("create-{d}"),
            deal: d,
            kind: "create",
        });
    }
    // A reminder two hours before a meeting: meetings set to ring during the rounds.
    let soon = chrono::Utc::now() + chrono::Duration::hours(2) + chrono::Duration::seconds(4);
    for d in 0..TIMED {
        out.push(Req {
            path: format!("/api/v1/deals/c{d}/events"),
            body: json!({"name": "call_done", "fields": {"meeting_at": soon.to_rfc3339(), "meeting_place": "Office"}}),
            key: format!("meet-{d}"),
            deal: d,
            kind: "meet",
        });
    }
    // The rest: an hour logged at a time, spread over the deals.
    let mut i = 0;
    while out.len() < REQUESTS {
        let d = i % DEALS;
        out.push(Req {
            path: format!("/api/v1/deals/c{d}/tasks/call_client/log"),
            body: json!({"hours": 1, "by": "anna"}),
            key: format!("log-{i}"),
            deal: d,
            kind: "log",
        });
        i += 1;
    }
    out
}

/// Requests sent again because the daemon was down or did not answer.
static RETRIES: AtomicUsize = AtomicUsize::new(0);

/// Sends a request until the daemon answers it (anything but a connection failure or 503).
async fn until_answered(
    http: &reqwest::Client,
    base: &str,
    r: &Req,
    deadline: Instant,
) -> (u16, Json) {
    let mut first = true;
    loop {
        if !first {
            RETRIES.fetch_add(1, Ordering::Relaxed);
        }
        first = false;
        assert!(
            Instant::now() < deadline,
            "the workload did not finish in time"
        );
        let sent = http
            .post(format!("{base}{}", r.path))
            .bearer_auth(TOKEN)
            .header("Idempotency-Key", &r.key)
            .header("Content-Type", "application/json")
            .body(r.body.to_string())
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        if let Ok(resp) = sent {
            let status = resp.status().as_u16();
            let text: Result<String, _> = resp.text().await;
            if let Ok(text) = text
                && status != 503
            {
                return (status, serde_json::from_str(&text).unwrap_or(Json::Null));
            }
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// Runs requests from 8 clients at once; counts answers in `progress`.
async fn run_clients(
    http: &reqwest::Client,
    base: &str,
    reqs: Vec<Req>,
    answers: &Arc<std::sync::Mutex<Vec<(Req, u16)>>>,
    progress: &Arc<AtomicUsize>,
    deadline: Instant,
) {
    let queue = Arc::new(std::sync::Mutex::new(
        reqs.into_iter().rev().collect::<Vec<_>>(),
    ));
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (queue, answers, progress) = (queue.clone(), answers.clone(), progress.clone());
        let (http, base) = (http.clone(), base.to_string());
        clients.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().expect("lock").pop();
                let Some(r) = next else { break };
                let (status, _) = until_answered(&http, &base, &r, deadline).await;
                answers.lock().expect("lock").push((r, status));
                progress.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    for c in clients {
        c.await.expect("a client");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_moments_the_daemon_loses_nothing_and_applies_nothing_twice() {
    let deadline = Instant::now() + LIMIT;
    let (dir, port) = setup();
    let base = format!("http://127.0.0.1:{port}");
    let child = Arc::new(std::sync::Mutex::new(start(&dir)));
    dealflow::daemon::tls_provider();
    let http = reqwest::Client::new();
    let all = workload();
    let per_round = REQUESTS / ROUNDS;
    let answers: Arc<std::sync::Mutex<Vec<(Req, u16)>>> = Arc::default();
    // Each round: 200 requests, and a SIGKILL when a random number of them has been answered
    // (so it lands while requests are in flight), then the daemon starts again.
    for (round, reqs) in all.chunks(per_round).enumerate() {
        let progress = Arc::new(AtomicUsize::new(0));
        let at = 10 + fastrand::usize(..per_round - 20);
        let killer = {
            let (progress, child, dir) = (progress.clone(), child.clone(), dir.clone());
            tokio::spawn(async move {
                while progress.load(Ordering::SeqCst) < at {
                    assert!(Instant::now() < deadline, "round {round} stalled");
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                let mut c = child.lock().expect("lock");
                let _ = c.kill();
                let _ = c.wait();
                *c = start(&dir);
            })
        };
        // Events need their deals: the creations go first, the rest of the round after them.
        let (creates, rest): (Vec<Req>, Vec<Req>) =
            reqs.iter().cloned().partition(|r| r.kind == "create");
        run_clients(&http, &base, creates, &answers, &progress, deadline).await;
        run_clients(&http, &base, rest, &answers, &progress, deadline).await;
        killer.await.expect("the kill");
    }
    let retries = RETRIES.load(Ordering::Relaxed);
    eprintln!(
        "crash test: {ROUNDS} kills, each with requests in flight; {retries} retries of {REQUESTS} requests"
    );
    assert!(retries >= ROUNDS, "kills did not hit requests in flight");
    let answers = answers.lock().expect("lock").clone();
    assert_eq!(answers.len(), REQUESTS);
    let bad: Vec<_> = answers
        .iter()
        .filter(|(_, s)| !(200..300).contains(s))
        .map(|(r, s)| (r.key.clone(), *s))
        .collect();
    assert!(bad.is_empty(), "requests refused: {bad:?}");

    // Every deal as the daemon has it: hours logged = requests answered for it.
    let mut want_hours: BTreeMap<usize, i64> = BTreeMap::new();
    for (r, _) in &answers {
        if r.kind == "log" {
            *want_hours.entry(r.deal).or_default() += 1;
        }
    }
    let wait_timers = Instant::now() + Duration::from_secs(20);
    loop {
        let mut fired_everywhere = true;
        for d in 0..TIMED {
            let resp = http
                .get(format!("{base}/api/v1/deals/c{d}"))
                .bearer_auth(TOKEN)
                .send()
                .await;
            let Ok(resp) = resp else {
                fired_everywhere = false;
                break;
            };
            let deal: Json =
                serde_json::from_str(&resp.text().await.unwrap_or_default()).unwrap_or(Json::Null);
            let fired = deal["history"].as_array().map_or(0, |h| {
                h.iter().filter(|e| e["kind"] == "timer_fired").count()
            });
            assert!(fired <= 1, "deal c{d}: its reminder fired {fired} times");
            fired_everywhere &= fired == 1;
        }
        if fired_everywhere {
            break;
        }
        assert!(Instant::now() < wait_timers, "a due reminder did not fire");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for d in 0..DEALS {
        let text = http
            .get(format!("{base}/api/v1/deals/c{d}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("the daemon answers")
            .text()
            .await
            .expect("a body");
        let deal: Json = serde_json::from_str(&text).expect("json");
        let want = want_hours.get(&d).copied().unwrap_or(0);
        assert_eq!(
            deal["hours_spent"],
            json!(want),
            "deal c{d}: lost or doubled hours"
        );
        let logged = deal["history"]
            .as_array()
            .expect("history")
            .iter()
            .filter(|e| e["kind"] == "time_logged")
            .count();
        assert_eq!(logged as i64, want, "deal c{d}: history");
    }
    {
        let mut c = child.lock().expect("lock");
        let _ = c.kill();
        let _ = c.wait();
    }

    let store = Store::open(
        &format!("sqlite://{}", dir.join("dealflow.db").display()),
        &Options::default(),
    )
    .await
    .expect("the database opens after all that");
    let mut tx = store.read().await.expect("tx");
    let problems = tx.integrity().await.expect("checks");
    assert!(problems.is_empty(), "integrity: {problems:?}");
    assert_eq!(
        tx.count(dealflow::store::Table::Deals)
            .await
            .expect("count"),
        DEALS as i64
    );
}
