//! The editor support files: the TextMate grammar of editors/vscode tokenizes every pipeline of
//! the repository as VS Code would (npm's vscode-textmate and vscode-oniguruma, run by Node.js;
//! editors/test/tokenize.mjs says what is checked). Without Node.js and npm the test says it was
//! skipped, unless `DEALFLOW_REQUIRE_NODE` is set (CI sets it).

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use std::process::Command;

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn the_textmate_grammar_gives_keywords_strings_comments_and_durations_their_scopes() {
    if !have("node") || !have("npm") {
        assert!(
            std::env::var_os("DEALFLOW_REQUIRE_NODE").is_none(),
            "Node.js and npm are required here"
        );
        common::skipped("the grammar test was skipped: no Node.js or npm");
        return;
    }
    let dir = common::root().join("editors/test");
    if !dir.join("node_modules/vscode-textmate").exists() {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .output()
            .expect("npm runs");
        assert!(
            out.status.success(),
            "npm ci: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = Command::new("node")
        .arg("tokenize.mjs")
        .current_dir(&dir)
        .output()
        .expect("node runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains("pipelines tokenized"), "{said}");
}

/// The VS Code extension's files fit together: the grammar and configuration it names exist and
/// parse, it starts `dealflow lsp` for the `dealflow` language of `*.flow` files.
#[test]
fn the_vscode_extension_names_files_that_exist() {
    let dir = common::root().join("editors/vscode");
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let package = read("package.json");
    let language = &package["contributes"]["languages"][0];
    assert_eq!(language["id"], "dealflow");
    assert_eq!(language["extensions"][0], ".flow");
    let config = read(language["configuration"].as_str().unwrap());
    assert_eq!(config["comments"]["lineComment"], "#");
    let grammar = &package["contributes"]["grammars"][0];
    let tm = read(grammar["path"].as_str().unwrap());
    assert_eq!(tm["scopeName"], grammar["scopeName"]);
    let main = std::fs::read_to_string(dir.join(package["main"].as_str().unwrap())).unwrap();
    assert!(main.contains("args: [\"lsp\"]"), "{main}");
}
