//! The simulator on generated scenarios through the reference pipeline: events per second and
//! peak memory at 10,000 and 100,000 deals.
//!
//! Last, the whole `dealflow simulate … --format json` command on 10,000 deals, wall time.
//!
//! Run: `cargo bench --bench simulate`. Each size runs in a child process of its own so that its
//! peak memory (VmHWM) is its own. Under `cargo test` this is a smoke run of 300 deals.
//!
//! An event is an input of the scenario (a lead, a client event, work on a task) or a timer
//! that fires; the local-midnight alert checks are counted apart. Two figures per size: the
//! engine alone (records built and dropped) and the engine with every record formatted as a
//! JSON line (and dropped), as `dealflow simulate --format json` does. Peak memory includes the
//! generated scenario, which is shown apart.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

use dealflow::load::RuleFile;
use dealflow::sim::{Simulation, generate};
use dealflow::team::Team;

/// Runs of each size; the median is reported.
const RUNS: usize = 3;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let n = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(1000);
        let json = args.iter().any(|a| a == "--json");
        return child(n, json);
    }
    if !args.iter().any(|a| a == "--bench") {
        // `cargo test --all-targets`: prove the harness works on a small run.
        let r = measure(300, true);
        assert!(r.events > 300 * 10, "too few events: {}", r.events);
        assert_eq!(r.refused, 0, "the generated scenario has refused inputs");
        println!("simulate bench smoke run: {} events, ok", r.events);
        return ExitCode::SUCCESS;
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot find the bench executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "{:>8} {:>6} {:>10} {:>10} {:>10} {:>12} {:>9} {:>8} {:>10} {:>10}",
        "deals",
        "output",
        "events",
        "midnights",
        "records",
        "events/s",
        "µs/event",
        "allocs/ev",
        "peak RSS",
        "scenario"
    );
    for n in [10_000usize, 100_000] {
        for json in [false, true] {
            // The machine's speed wanders from run to run: the median of three is shown.
            let mut lines = Vec::new();
            for _ in 0..RUNS {
                let mut cmd = Command::new(&exe);
                cmd.arg("--child").arg(n.to_string());
                if json {
                    cmd.arg("--json");
                }
                match cmd.output() {
                    Ok(o) if o.status.success() => {
                        lines.push(String::from_utf8_lossy(&o.stdout).trim_end().to_string());
                    }
                    Ok(o) => {
                        eprintln!("{n} deals failed: {}", String::from_utf8_lossy(&o.stderr));
                        return ExitCode::FAILURE;
                    }
                    Err(e) => {
                        eprintln!("cannot run the bench child: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            let rate = |l: &String| {
                l.split_whitespace()
                    .nth(5)
                    .and_then(|x| x.parse::<f64>().ok())
                    .unwrap_or(0.0)
            };
            lines.sort_by(|a, b| rate(a).total_cmp(&rate(b)));
            let all: Vec<String> = lines.iter().map(|l| format!("{:.0}", rate(l))).collect();
            println!(
                "{}  (runs: {} events/s)",
                lines[lines.len() / 2],
                all.join(", ")
            );
        }
    }
    end_to_end()
}

/// The whole command as an analyst runs it before a save: `dealflow simulate
/// rules/web-studio.flow S --format json -o /dev/null` on a generated scenario of 10,000 deals,
/// wall time from start to exit (reading the rules and the scenario, the run, the timeline
/// written). The median of five runs.
fn end_to_end() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe = env!("CARGO_BIN_EXE_dealflow");
    let scenario = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-10k.scenario.toml");
    let made = Command::new(exe)
        .args(["generate-scenario", "--deals", "10000", "-o"])
        .arg(&scenario)
        .output();
    if !made.is_ok_and(|o| o.status.success()) {
        eprintln!("cannot generate the 10,000-deal scenario");
        return ExitCode::FAILURE;
    }
    let mut walls = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let out = Command::new(exe)
            .arg("simulate")
            .arg(root.join("rules/web-studio.flow"))
            .arg(&scenario)
            .args(["--format", "json", "-o", "/dev/null"])
            .output();
        match out {
            Ok(o) if o.status.success() => walls.push(started.elapsed().as_secs_f64()),
            Ok(o) => {
                eprintln!("simulate failed: {}", String::from_utf8_lossy(&o.stderr));
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("cannot run dealflow: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    walls.sort_by(f64::total_cmp);
    let all: Vec<String> = walls.iter().map(|w| format!("{w:.2}")).collect();
    println!(
        "end to end, `simulate … --format json -o /dev/null`, 10,000 deals: {:.2} s  (runs: {} s)",
        walls[walls.len() / 2],
        all.join(", ")
    );
    let _ = std::fs::remove_file(&scenario);
    ExitCode::SUCCESS
}

struct Run {
    events: u64,
    midnights: u64,
    records: u64,
    refused: u64,
    seconds: f64,
    /// Memory the generated scenario itself takes (it is in memory before the run starts).
    scenario_kib: Option<u64>,
    /// Heap allocations during the run.
    allocations: u64,
}

fn child(n: usize, json: bool) -> ExitCode {
    let r = measure(n, json);
    let mib = |k: Option<u64>| k.map_or("?".to_string(), |k| format!("{} MiB", k / 1024));
    println!(
        "{:>8} {:>6} {:>10} {:>10} {:>10} {:>12.0} {:>9.2} {:>8} {:>10} {:>10}",
        n,
        if json { "json" } else { "none" },
        r.events,
        r.midnights,
        r.records,
        r.events as f64 / r.seconds,
        r.seconds * 1e6 / r.events as f64,
        r.allocations / r.events,
        mib(proc_status_kib("VmHWM:")),
        mib(r.scenario_kib),
    );
    ExitCode::SUCCESS
}

fn measure(n: usize, json: bool) -> Run {
    let flow = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/web-studio.flow");
    let loaded = RuleFile::read(&flow).expect("the reference pipeline is readable");
    let ready = loaded.ready().expect("the reference pipeline is valid");
    let before = proc_status_kib("VmRSS:");
    let sc = generate::reference(n, 1);
    let scenario_kib = proc_status_kib("VmRSS:")
        .zip(before)
        .map(|(a, b)| a.saturating_sub(b));
    let sim = Simulation::new(
        &ready.plan,
        ready.script.as_ref(),
        Team::new(sc.team.clone()),
    );
    let mut refused = 0u64;
    let mut line = Vec::new();
    let mut bytes = 0usize;
    let tz = ready.plan.tz;
    let a0 = counting::ALLOCS.load(std::sync::atomic::Ordering::Relaxed);
    let started = Instant::now();
    let mut sink = |step: &mut Vec<dealflow::engine::Record>| {
        for r in step.drain(..) {
            if r.kind.is_refusal() {
                refused += 1;
            }
            if json {
                line.clear();
                dealflow::json::record_line(&r, tz, &ready.plan.file, &mut line);
                bytes += line.len();
            }
        }
    };
    let end = sim
        .run_into(sc, &mut sink, None)
        .expect("the generated scenario runs");
    let seconds = started.elapsed().as_secs_f64();
    let allocations = counting::ALLOCS.load(std::sync::atomic::Ordering::Relaxed) - a0;
    std::hint::black_box(bytes);
    Run {
        events: end.steps,
        midnights: end.midnights,
        records: end.records,
        refused,
        seconds,
        scenario_kib,
        allocations,
    }
}

/// A memory figure of this process from /proc (Linux): `VmHWM:` is the peak resident size.
fn proc_status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Counts heap allocations (one relaxed atomic add each), to show what a step costs in them,
/// and passes them on to mimalloc, the allocator of the `dealflow` binary.
mod counting {
    use std::alloc::{GlobalAlloc, Layout};

    use mimalloc::MiMalloc;
    use std::sync::atomic::{AtomicU64, Ordering};

    pub static ALLOCS: AtomicU64 = AtomicU64::new(0);

    pub struct Counting;

    // SAFETY: every call is passed on unchanged to mimalloc. (The one unsafe code of the
    // project: counting allocations needs an allocator of its own.)
    #[allow(unsafe_code)]
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            // SAFETY: the caller's contract is the allocator's.
            unsafe { MiMalloc.alloc(l) }
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            // SAFETY: as above.
            unsafe { MiMalloc.dealloc(p, l) }
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            // SAFETY: as above.
            unsafe { MiMalloc.realloc(p, l, n) }
        }
    }
}

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;
