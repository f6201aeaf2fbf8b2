//! Counters the daemon keeps, served at `/metrics` in Prometheus' text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use super::{CoreError, Step};

/// The daemon's counters (all monotonic, except the gauges marked so).
#[derive(Debug, Default)]
pub struct Metrics {
    steps_applied: AtomicU64,
    steps_refused: AtomicU64,
    steps_failed: AtomicU64,
    batches: AtomicU64,
    batched_requests: AtomicU64,
    commit_micros: AtomicU64,
    /// Microseconds of the writer's transactions by phase: [`Phase`] order.
    phase_micros: [AtomicU64; 5],
    /// Requests the database could not take, by [`crate::store::ERROR_KINDS`].
    store_errors: [AtomicU64; 6],
    /// When the writer last failed for want of space or by an I/O error, unless it has
    /// written since: readiness believes it over a small probe.
    write_failed: std::sync::Mutex<Option<std::time::Instant>>,
    timers_fired: AtomicU64,
    http_requests: AtomicU64,
    http_errors: AtomicU64,
    messages_sent: AtomicU64,
    messages_failed: AtomicU64,
    messages_dead: AtomicU64,
    sms_segments_sent: AtomicU64,
    webhooks_sent: AtomicU64,
    webhooks_failed: AtomicU64,
    webhooks_dead: AtomicU64,
    /// Website form submissions by outcome: created, duplicate, spam, limited, refused.
    forms: [AtomicU64; 5],
    reloads_applied: AtomicU64,
    reloads_refused: AtomicU64,
    /// How long requests took, by route, method and status.
    requests: std::sync::Mutex<std::collections::BTreeMap<(String, String, u16), Timings>>,
    /// Gauge: the rules version running.
    pub(crate) rules_version: AtomicI64,
}

/// A phase of the writer's transaction, timed separately so that `/metrics` shows where a
/// batch spends its time.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Phase {
    /// Waiting for the turn to write (another transaction, the outbox's or the checkpointer's,
    /// may hold it) and beginning the transaction.
    Begin = 0,
    /// Reading stored answers, revisions and the deals not kept warm.
    Read = 1,
    /// Running the steps in the engine and rendering stored answers.
    Run = 2,
    /// Sending the batch's rows to the database.
    Write = 3,
    /// The commit: the database making it durable.
    Commit = 4,
}

const PHASES: [&str; 5] = ["begin", "read", "run", "write", "commit"];

/// The request-duration histogram's upper bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// One series of the request-duration histogram.
#[derive(Debug, Default, Clone)]
struct Timings {
    /// Requests at or under each bound (not yet cumulative).
    under: [u64; BUCKETS.len()],
    count: u64,
    micros: u64,
}

/// Microseconds as seconds, the unit Prometheus expects.
fn seconds(micros: u64) -> String {
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

/// How a website form submission ended, as `dealflow_form_submissions_total` labels it.
const FORM_OUTCOMES: [&str; 5] = ["created", "duplicate", "spam", "limited", "refused"];

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl Metrics {
    /// A step's outcome.
    pub(crate) fn step(&self, r: &Result<Step, CoreError>) {
        match r {
            Ok(Step::Applied { .. }) => add(&self.steps_applied, 1),
            Ok(Step::Failed(_)) => add(&self.steps_failed, 1),
            Ok(Step::Refused(_) | Step::NotNow(_) | Step::Unmet(_) | Step::Missing(_)) | Err(_) => {
                add(&self.steps_refused, 1)
            }
        }
    }

    /// A committed transaction of `n` requests.
    pub(crate) fn batch(&self, n: usize, took: Duration) {
        // A batch of the queues' turns alone may write nothing (a claim that found none): only
        // requests written say the disk takes writes again.
        if n > 0 {
            *self.write_failed.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
        add(&self.batches, 1);
        add(&self.batched_requests, n as u64);
        add(&self.commit_micros, took.as_micros() as u64);
    }

    /// Time the writer spent in a phase of one transaction.
    pub(crate) fn phase(&self, phase: Phase, took: Duration) {
        add(&self.phase_micros[phase as usize], took.as_micros() as u64);
    }

    /// A request the database could not take, and why.
    pub(crate) fn store_error(&self, e: &crate::store::StoreError) {
        if e.kind() <= 1 {
            *self.write_failed.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(std::time::Instant::now());
        }
        add(&self.store_errors[e.kind().min(5)], 1);
    }

    /// When a write last failed for want of space or by an I/O error, if none has succeeded
    /// since.
    pub(crate) fn write_failed(&self) -> Option<std::time::Instant> {
        *self.write_failed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A timer fired.
    pub(crate) fn timer_fired(&self) {
        add(&self.timers_fired, 1);
    }

    /// An HTTP request answered, and whether with an error status (4xx/5xx).
    pub(crate) fn http(&self, error: bool) {
        add(&self.http_requests, 1);
        if error {
            add(&self.http_errors, 1);
        }
    }

    /// How long a request took to answer.
    pub(crate) fn request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let secs = took.as_secs_f64();
        let mut all = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let t = all
            .entry((route.to_string(), method.to_string(), status))
            .or_default();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            t.under[i] += 1;
        }
        t.count += 1;
        t.micros += took.as_micros() as u64;
    }

    /// A delivery attempt: sent, failed (will retry) or dead.
    pub(crate) fn message(&self, sent: bool, dead: bool, sms_segments: usize) {
        if sent {
            add(&self.sms_segments_sent, sms_segments as u64);
        }
        match (sent, dead) {
            (true, _) => add(&self.messages_sent, 1),
            (false, true) => add(&self.messages_dead, 1),
            (false, false) => add(&self.messages_failed, 1),
        }
    }

    /// A webhook delivery attempt: taken by the receiver, failed (will retry) or dead.
    pub(crate) fn webhook(&self, sent: bool, dead: bool) {
        match (sent, dead) {
            (true, _) => add(&self.webhooks_sent, 1),
            (false, true) => add(&self.webhooks_dead, 1),
            (false, false) => add(&self.webhooks_failed, 1),
        }
    }

    /// A website form submission and how it ended (`created`, `duplicate`, `spam`, `limited`
    /// or `refused`).
    pub(crate) fn form(&self, outcome: &str) {
        if let Some(i) = FORM_OUTCOMES.iter().position(|o| *o == outcome) {
            add(&self.forms[i], 1);
        }
    }

    /// A rules reload: refused, or applied (counted only when the rules changed: a save that
    /// leaves the file as it was is not a reload applied).
    pub(crate) fn reload(&self, applied: bool, changed: bool) {
        match (applied, changed) {
            (false, _) => add(&self.reloads_refused, 1),
            (true, true) => add(&self.reloads_applied, 1),
            (true, false) => {}
        }
    }

    /// The request-duration histogram, in the exposition format.
    fn render_requests(&self, out: &mut String) {
        let name = "dealflow_http_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} How long HTTP requests took to answer, by route, method and status.\n# TYPE {name} histogram"
        );
        let all = self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for ((route, method, status), t) in &all {
            let labels = format!(
                "route=\"{}\",method=\"{method}\",status=\"{status}\"",
                route.replace('\\', "\\\\").replace('"', "\\\"")
            );
            let mut cumulative = 0;
            for (b, n) in BUCKETS.iter().zip(&t.under) {
                cumulative += n;
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {cumulative}");
            }
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", t.count);
            let _ = writeln!(out, "{name}_sum{{{labels}}} {}", seconds(t.micros));
            let _ = writeln!(out, "{name}_count{{{labels}}} {}", t.count);
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        counter(
            "dealflow_steps_applied_total",
            "Steps applied and committed.",
            g(&self.steps_applied),
        );
        counter(
            "dealflow_steps_refused_total",
            "Requests refused (nothing written).",
            g(&self.steps_refused),
        );
        counter(
            "dealflow_steps_failed_total",
            "Steps that broke (script errors, loops) and were undone.",
            g(&self.steps_failed),
        );
        counter(
            "dealflow_commits_total",
            "Transactions committed by the writer.",
            g(&self.batches),
        );
        counter(
            "dealflow_committed_requests_total",
            "Requests in those transactions.",
            g(&self.batched_requests),
        );
        let name = "dealflow_commit_seconds_total";
        let _ = writeln!(
            out,
            "# HELP {name} Seconds spent writing and committing.\n# TYPE {name} counter\n{name} {}",
            seconds(g(&self.commit_micros))
        );
        let name = "dealflow_writer_phase_seconds_total";
        let _ = writeln!(
            out,
            "# HELP {name} Seconds the writer spent per phase of its transactions.\n# TYPE {name} counter"
        );
        for (label, c) in PHASES.iter().zip(&self.phase_micros) {
            let _ = writeln!(out, "{name}{{phase=\"{label}\"}} {}", seconds(g(c)));
        }
        let name = "dealflow_store_errors_total";
        let _ = writeln!(
            out,
            "# HELP {name} Requests the database could not take, by kind of failure.\n# TYPE {name} counter"
        );
        for (kind, c) in crate::store::ERROR_KINDS.iter().zip(&self.store_errors) {
            let _ = writeln!(out, "{name}{{kind=\"{kind}\"}} {}", g(c));
        }
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        counter(
            "dealflow_timers_fired_total",
            "Timers fired.",
            g(&self.timers_fired),
        );
        counter(
            "dealflow_http_requests_total",
            "HTTP requests answered.",
            g(&self.http_requests),
        );
        counter(
            "dealflow_http_errors_total",
            "HTTP requests answered with 4xx or 5xx.",
            g(&self.http_errors),
        );
        counter(
            "dealflow_messages_sent_total",
            "Messages delivered.",
            g(&self.messages_sent),
        );
        counter(
            "dealflow_sms_segments_sent_total",
            "SMS segments delivered: what the gateway bills (GSM-7 160/153, UCS-2 70/67 a segment).",
            g(&self.sms_segments_sent),
        );
        counter(
            "dealflow_messages_failed_total",
            "Delivery attempts that failed (retried).",
            g(&self.messages_failed),
        );
        counter(
            "dealflow_messages_dead_total",
            "Messages given up on.",
            g(&self.messages_dead),
        );
        counter(
            "dealflow_webhook_deliveries_sent_total",
            "Webhook deliveries the receiver took (answered 2xx).",
            g(&self.webhooks_sent),
        );
        counter(
            "dealflow_webhook_deliveries_failed_total",
            "Webhook delivery attempts that failed (retried).",
            g(&self.webhooks_failed),
        );
        counter(
            "dealflow_webhook_deliveries_dead_total",
            "Webhook deliveries given up on.",
            g(&self.webhooks_dead),
        );
        counter(
            "dealflow_reloads_applied_total",
            "Rule reloads applied.",
            g(&self.reloads_applied),
        );
        counter(
            "dealflow_reloads_refused_total",
            "Rule reloads refused (the old rules kept running).",
            g(&self.reloads_refused),
        );
        let _ = writeln!(
            out,
            "# HELP dealflow_form_submissions_total Website form submissions by outcome.\n# TYPE dealflow_form_submissions_total counter"
        );
        for (o, c) in FORM_OUTCOMES.iter().zip(&self.forms) {
            let _ = writeln!(
                out,
                "dealflow_form_submissions_total{{outcome=\"{o}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        self.render_requests(&mut out);
        let _ = writeln!(
            out,
            "# HELP dealflow_rules_version The rules version running.\n# TYPE dealflow_rules_version gauge\ndealflow_rules_version {}",
            self.rules_version.load(Ordering::Relaxed)
        );
        out
    }
}
