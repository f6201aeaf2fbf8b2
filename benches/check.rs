//! Parse and check a generated 10,000-line pipeline: the checker must keep up with typing; and
//! files four times larger take four times as long, not sixteen (comments and stages).
//!
//! Run: `cargo bench --bench check`.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use std::fmt::Write;

use common::{LINES_PER_STAGE, generate};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let text = generate(10_000 / LINES_PER_STAGE);
    let lines = text.lines().count();
    assert!(lines >= 10_000, "generated only {lines} lines");
    let analysis = dealflow::analyze(&text, &|_| Err("no script".into()));
    assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics.first());
    eprintln!("generated pipeline: {lines} lines, {} bytes", text.len());

    c.bench_function("parse 10k lines", |b| {
        b.iter(|| dealflow::parse::parse(&text))
    });
    c.bench_function("parse + check 10k lines", |b| {
        b.iter(|| dealflow::analyze(&text, &|_| Err("no script".into())))
    });
    let parsed = dealflow::parse::parse(&text);
    c.bench_function("fmt 10k lines", |b| {
        b.iter(|| dealflow::fmt::format(&parsed.file, &text))
    });
}

/// A file of `lines` comment lines after a real pipeline: the shape of a rule file that grew by
/// notes (its size the daemon caps, its time `check` keeps linear).
fn mostly_comments(lines: usize) -> String {
    let mut s = generate(10);
    for i in 0..lines {
        let _ = writeln!(
            s,
            "# note {i}: a comment of the kind analysts leave behind in a file"
        );
    }
    s
}

/// Time grows with the size of the file, not with its square: comments and stages, each at
/// two sizes four times apart.
fn linear(c: &mut Criterion) {
    let mut g = c.benchmark_group("check is linear");
    g.sample_size(10);
    // Under `cargo test` (no `--bench`) each runs once: small sizes keep the test run short.
    let full = std::env::args().any(|a| a == "--bench");
    let (lines, stages) = if full {
        ([80_000, 320_000], [2_000, 8_000])
    } else {
        ([2_000, 8_000], [50, 200])
    };
    for lines in lines {
        let text = mostly_comments(lines);
        g.bench_function(format!("parse + check, {lines} comment lines"), |b| {
            b.iter(|| dealflow::analyze(&text, &|_| Err("no script".into())))
        });
    }
    for stages in stages {
        let text = generate(stages);
        g.bench_function(format!("parse + check, {stages} stages"), |b| {
            b.iter(|| dealflow::analyze(&text, &|_| Err("no script".into())))
        });
    }
    g.finish();
}

criterion_group!(benches, bench, linear);
criterion_main!(benches);
