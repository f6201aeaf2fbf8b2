//! Parse and check a generated 10,000-line pipeline: the checker must keep up with typing.
//!
//! Run: `cargo bench --bench check`.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

use std::fmt::Write;

use criterion::{Criterion, criterion_group, criterion_main};

/// A pipeline of `stages` stages, each about `LINES_PER_STAGE` lines, plus a real header.
fn generate(stages: usize) -> String {
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

const LINES_PER_STAGE: usize = 16;

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

criterion_group!(benches, bench);
criterion_main!(benches);
