//! `dealflow lsp` driven over standard input and output as an editor drives it: initialize,
//! open, change, format, shut down. What it says must be what `dealflow check` and
//! `dealflow fmt` say.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use common::cmd::{Scratch, dealflow_in, text};
use serde_json::{Value, json};

/// An editor's end of the conversation.
struct Editor {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    next_id: i64,
}

impl Editor {
    fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dealflow"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("dealflow lsp starts");
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        Editor {
            child,
            input,
            output,
            next_id: 1,
        }
    }

    fn send(&mut self, msg: Value) {
        let body = msg.to_string();
        write!(self.input, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.input.flush().unwrap();
    }

    fn receive(&mut self) -> Value {
        let mut length = 0;
        loop {
            let mut line = String::new();
            assert!(
                self.output.read_line(&mut line).unwrap() > 0,
                "the server hung up"
            );
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                length = n.parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        self.output.read_exact(&mut body).unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let msg = self.receive();
            if msg["id"] == id {
                return msg;
            }
        }
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The next diagnostics published for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Value {
        loop {
            let msg = self.receive();
            if msg["method"] == "textDocument/publishDiagnostics" && msg["params"]["uri"] == uri {
                return msg["params"].clone();
            }
        }
    }
}

fn uri(path: &std::path::Path) -> String {
    format!("file://{}", path.display())
}

#[test]
fn an_editor_sees_what_check_and_fmt_say_as_it_types() {
    let dir = Scratch::new("lsp");
    let flow = std::fs::read_to_string(common::root().join("rules/web-studio.flow")).unwrap();
    let rhai = std::fs::read_to_string(common::root().join("rules/web-studio.rhai")).unwrap();
    let path = dir.file("web-studio.flow", &flow);
    dir.file("web-studio.rhai", &rhai);
    let uri = uri(&path);

    let mut ed = Editor::start();
    let init = ed.request(
        "initialize",
        json!({"processId": null, "rootUri": null, "capabilities": {}}),
    );
    assert_eq!(
        init["result"]["capabilities"]["documentFormattingProvider"],
        true
    );
    ed.notify("initialized", json!({}));
    ed.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "dealflow", "version": 1, "text": flow}}),
    );
    let d = ed.diagnostics(&uri);
    assert_eq!(d["version"], 1);
    assert_eq!(
        d["diagnostics"],
        json!([]),
        "the reference pipeline is clean"
    );

    // A typo in a transition's target, typed in: the same code and place as `check` gives.
    let typo = flow.replacen("-> meeting on call_done", "-> meting on call_done", 1);
    assert_ne!(typo, flow);
    ed.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": typo}]}),
    );
    let d = ed.diagnostics(&uri);
    assert_eq!(d["version"], 2);
    let got = d["diagnostics"].as_array().unwrap();
    std::fs::write(&path, &typo).unwrap();
    let check = dealflow_in(&dir.0, &["check", "--format", "json", "web-studio.flow"]);
    let check: Value = serde_json::from_slice(&check.stdout).unwrap();
    let want = check["diagnostics"].as_array().unwrap();
    assert_eq!(got.len(), want.len(), "{d}");
    assert_eq!(
        want.len(),
        2,
        "the unknown stage, and `meeting` now unreachable: {check}"
    );
    for (got, want) in got.iter().zip(want) {
        assert_eq!(got["code"], want["code"]);
        let severity = if want["severity"] == "error" { 1 } else { 2 };
        assert_eq!(got["severity"], severity);
        assert_eq!(got["source"], "dealflow");
        assert!(
            got["message"]
                .as_str()
                .unwrap()
                .starts_with(want["message"].as_str().unwrap())
        );
        // Lines and columns: the protocol counts from 0, `check` from 1 (ASCII on these lines).
        let at = |k: &str| want[k].as_u64().unwrap() - 1;
        assert_eq!(got["range"]["start"]["line"], at("line"));
        assert_eq!(got["range"]["start"]["character"], at("column"));
        assert_eq!(got["range"]["end"]["line"], at("end_line"));
        assert_eq!(got["range"]["end"]["character"], at("end_column"));
    }
    assert!(
        got[0]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `meeting`"),
        "{got:?}"
    );

    // Several changes at once are checked on the last text.
    for (version, text) in [(3, &typo), (4, &flow)] {
        ed.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}),
        );
    }
    let mut d = ed.diagnostics(&uri);
    while d["version"] != 4 {
        d = ed.diagnostics(&uri);
    }
    assert_eq!(d["diagnostics"], json!([]));

    // Formatting is `dealflow fmt`.
    let messy = flow.replacen("stage lead \"Лид\" {", "stage   lead   \"Лид\"   {", 1);
    ed.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 5}, "contentChanges": [{"text": messy}]}),
    );
    let edits = ed.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    let edits = edits["result"].as_array().unwrap().clone();
    assert_eq!(edits.len(), 1);
    std::fs::write(&path, &messy).unwrap();
    let fmt = dealflow_in(&dir.0, &["fmt", "--stdout", "web-studio.flow"]);
    assert_eq!(edits[0]["newText"], text(&fmt.stdout));
    assert_eq!(
        edits[0]["range"]["start"],
        json!({"line": 0, "character": 0})
    );

    // A method it does not know is answered with an error, not a crash.
    let unknown = ed.request("textDocument/prepareTypeHierarchy", json!({}));
    assert_eq!(unknown["error"]["code"], -32601);

    let bye = ed.request("shutdown", Value::Null);
    assert_eq!(bye["result"], Value::Null);
    ed.notify("exit", Value::Null);
    let status = ed.child.wait().unwrap();
    assert!(status.success(), "{status}");
}
