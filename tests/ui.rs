//! Every file in `tests/ui/` holds one mistake; its rendered diagnostics are a snapshot, and the
//! code named on its `# expect:` line must be among them.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

use std::path::Path;

use dealflow::diag::{render_text, summary};
use dealflow::source::SourceFile;

fn expected_code(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("# expect: "))
        .expect("every ui file names the code it expects on a `# expect:` line")
        .trim()
        .to_string()
}

fn loader(dir: &Path) -> impl Fn(&str) -> Result<String, String> + '_ {
    move |name| {
        std::fs::read_to_string(dir.join(name))
            .map_err(|_| format!("there is no file `{name}` beside the pipeline"))
    }
}

#[test]
fn each_mistake_is_reported_as_the_analyst_would_read_it() {
    insta::glob!("ui/*.flow", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let dir = path.parent().unwrap();
        let analysis = dealflow::analyze(&text, &loader(dir));
        let code = expected_code(&text);
        assert!(
            analysis.diagnostics.iter().any(|d| d.code.id == code),
            "{}: expected a diagnostic {code}, got {:?}",
            path.display(),
            analysis
                .diagnostics
                .iter()
                .map(|d| d.code.id)
                .collect::<Vec<_>>()
        );
        let name = format!("ui/{}", path.file_name().unwrap().to_string_lossy());
        let source = SourceFile::new(name, text);
        let rendered = format!(
            "{}{}\n",
            render_text(&analysis.diagnostics, &source, false),
            summary(&analysis.diagnostics, &source)
        );
        insta::assert_snapshot!(rendered);
    });
}

#[test]
fn the_corpus_is_large_enough_and_covers_every_code() {
    let mut files = 0;
    let mut seen = std::collections::HashSet::new();
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui")).unwrap()
    {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "flow") {
            files += 1;
            seen.insert(expected_code(&std::fs::read_to_string(&path).unwrap()));
        }
    }
    assert!(files >= 30, "only {files} ui files");
    let missing: Vec<&str> = dealflow::diag::codes::ALL
        .iter()
        .map(|c| c.id)
        .filter(|c| !seen.contains(*c))
        .collect();
    assert!(missing.is_empty(), "no ui file shows {missing:?}");
}
