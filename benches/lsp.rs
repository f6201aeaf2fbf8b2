//! How long an editor waits for `dealflow lsp` to say what is wrong after a change: from
//! `didChange` sent to its `publishDiagnostics` received, over the real server's standard input
//! and output, on the reference pipeline and on a generated 10,000-line one. Goals: under 50 ms
//! and 150 ms.
//!
//! Run: `cargo bench --bench lsp`.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;
#[path = "../tests/common/lsp.rs"]
mod lsp;

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use lsp::Editor;
use serde_json::json;

/// An editor with `text` open at `uri`, its first diagnostics received.
fn open(uri: &str, text: &str) -> Editor {
    let mut ed = Editor::ready();
    ed.open(uri, 0, text);
    ed.diagnostics(uri);
    ed
}

/// Sends a change (a typo made and undone in turn, so the text alternates between wrong and
/// right) and waits for the diagnostics of that version.
fn change(ed: &mut Editor, uri: &str, version: i64, text: &str) -> Duration {
    let start = Instant::now();
    ed.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}),
    );
    loop {
        let d = ed.diagnostics(uri);
        if d["version"] == version {
            return start.elapsed();
        }
    }
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("dealflow-bench-lsp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let reference = std::fs::read_to_string(common::root().join("rules/web-studio.flow")).unwrap();
    std::fs::copy(
        common::root().join("rules/web-studio.rhai"),
        dir.join("web-studio.rhai"),
    )
    .unwrap();
    let big = common::generate(10_000 / common::LINES_PER_STAGE);
    assert!(big.lines().count() >= 10_000);
    let mut g = c.benchmark_group("lsp diagnostics after a change");
    for (name, file, text, typo) in [
        (
            "reference pipeline",
            "web-studio.flow",
            reference.clone(),
            ("-> meeting on call_done", "-> meting on call_done"),
        ),
        (
            "10k-line pipeline",
            "big.flow",
            big,
            ("-> s1 on go", "-> s1 on og"),
        ),
    ] {
        let uri = format!("file://{}", dir.join(file).display());
        let wrong = text.replacen(typo.0, typo.1, 1);
        assert_ne!(wrong, text);
        let mut ed = open(&uri, &text);
        let mut version = 0;
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    version += 1;
                    let t = if version % 2 == 1 { &wrong } else { &text };
                    total += change(&mut ed, &uri, version, t);
                }
                total
            })
        });
        ed.request("shutdown", serde_json::Value::Null);
        ed.notify("exit", serde_json::Value::Null);
        let _ = ed.child.wait();
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
