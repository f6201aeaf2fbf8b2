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
        common::npm_ci(&dir);
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

/// Neovim (Debian's package), headless, with the repository's `editors/vim` files and LSP
/// snippet: the file is a `dealflow` file, `stage` is highlighted as a declaration, the server
/// attaches, its diagnostics reach the editor, hover and go to definition answer. Without
/// Neovim the test says it was skipped, unless `DEALFLOW_REQUIRE_NEOVIM` is set (CI sets it).
#[test]
fn neovim_highlights_the_file_and_talks_to_the_language_server() {
    if !have("nvim") {
        assert!(
            std::env::var_os("DEALFLOW_REQUIRE_NEOVIM").is_none(),
            "Neovim is required here"
        );
        common::skipped("the Neovim test was skipped: no nvim");
        return;
    }
    let dir = common::cmd::Scratch::new("nvim");
    let flow = std::fs::read_to_string(common::root().join("rules/web-studio.flow"))
        .unwrap()
        .replacen("due 15m", "due 15 minuts", 1);
    let path = dir.file("web-studio.flow", &flow);
    dir.file(
        "web-studio.rhai",
        &std::fs::read_to_string(common::root().join("rules/web-studio.rhai")).unwrap(),
    );
    let out = dir.0.join("nvim.json");
    let status = Command::new("nvim")
        .args(["--headless", "--clean", "-n", "-i", "NONE", "-u"])
        .arg(common::root().join("tests/editors/nvim.lua"))
        .env("DEALFLOW_ROOT", common::root())
        .env("DEALFLOW_BIN", env!("CARGO_BIN_EXE_dealflow"))
        .env("DEALFLOW_FLOW", &path)
        .env("DEALFLOW_NVIM_OUT", &out)
        .env("HOME", &dir.0)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("nvim runs");
    let saw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap_or_else(|e| {
            panic!(
                "nvim wrote nothing ({e}): {}",
                String::from_utf8_lossy(&status.stderr)
            )
        }))
        .unwrap();
    assert_eq!(saw["filetype"], "dealflow", "{saw}");
    assert_eq!(saw["syntax"], "dealflowDeclaration", "{saw}");
    assert_eq!(saw["attached"], true, "{saw}");
    let diagnostics = saw["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 1, "{saw}");
    assert_eq!(diagnostics[0]["code"], "E0111", "{saw}");
    assert!(
        diagnostics[0]["message"]
            .as_str()
            .unwrap()
            .contains("minuts"),
        "{saw}"
    );
    let line = flow
        .lines()
        .position(|l| l.contains("due 15 minuts"))
        .unwrap();
    assert_eq!(diagnostics[0]["line"], line, "{saw}");
    assert!(
        saw["hover"]
            .as_str()
            .unwrap_or_default()
            .contains("**stage** `meeting`"),
        "{saw}"
    );
    let decl = flow
        .lines()
        .position(|l| l.starts_with("stage meeting"))
        .unwrap();
    assert_eq!(saw["definition"], decl, "{saw}");
}
