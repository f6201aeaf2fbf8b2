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

use common::cmd::{Scratch, dealflow_in, text};
use common::lsp::Editor;
use serde_json::{Value, json};

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
    ed.open(&uri, 1, &flow);
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

/// The place of the `nth` (0-based) `needle` in `text`, as the protocol counts (UTF-16), plus
/// `ahead` characters.
fn pos(text: &str, needle: &str, nth: usize, ahead: usize) -> Value {
    let at = text.match_indices(needle).nth(nth).map(|(i, _)| i).unwrap();
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[..at].matches('\n').count();
    let before: String = text[line_start..at]
        .chars()
        .chain(needle.chars().take(ahead))
        .collect();
    json!({"line": line, "character": before.encode_utf16().count()})
}

/// An editor with the reference pipeline open (its script beside it).
fn opened(dir: &Scratch) -> (Editor, String, String) {
    let flow = std::fs::read_to_string(common::root().join("rules/web-studio.flow")).unwrap();
    let rhai = std::fs::read_to_string(common::root().join("rules/web-studio.rhai")).unwrap();
    let path = dir.file("web-studio.flow", &flow);
    dir.file("web-studio.rhai", &rhai);
    let uri = uri(&path);
    let mut ed = Editor::ready();
    ed.open(&uri, 1, &flow);
    (ed, uri, flow)
}

/// The document changed to `text`; the completion's labels right after `typed` in it.
fn completion_labels(ed: &mut Editor, uri: &str, text: &str, typed: &str) -> Vec<String> {
    ed.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": text}]}),
    );
    let p = pos(text, typed, 0, typed.chars().count());
    let r = ed.request("textDocument/completion", at(uri, p));
    r["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"].as_str().unwrap().to_string())
        .collect()
}

fn at(uri: &str, position: Value) -> Value {
    json!({"textDocument": {"uri": uri}, "position": position})
}

#[test]
fn hover_definition_and_references_follow_the_checkers_names() {
    let dir = Scratch::new("lsp-names");
    let (mut ed, uri, flow) = opened(&dir);
    let hover = |ed: &mut Editor, p: Value| {
        let r = ed.request("textDocument/hover", at(&uri, p));
        r["result"]["contents"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    // A stage where a transition names it: its title, phase and flags.
    let h = hover(&mut ed, pos(&flow, "-> meeting on", 0, 4));
    assert!(
        h.contains("**stage** `meeting` — «Встреча назначена»") && h.contains("phase: Пресейл"),
        "{h}"
    );
    let h = hover(&mut ed, pos(&flow, "stage closed", 0, 7));
    assert!(h.contains("join"), "{h}");
    // A field in a template's interpolation, a role after `to`, an event after `on`.
    let h = hover(&mut ed, pos(&flow, "{{money(amount)}}", 0, 9));
    assert!(h.starts_with("**field** `amount`: money"), "{h}");
    let h = hover(&mut ed, pos(&flow, "to sales ", 0, 4));
    assert!(
        h.contains("**role** `sales` — «Менеджер по продажам»"),
        "{h}"
    );
    let h = hover(&mut ed, pos(&flow, "on call_done", 0, 4));
    assert!(
        h.starts_with("**event** `call_done`") && h.contains("meeting_at"),
        "{h}"
    );
    // A script function: its parameters.
    let h = hover(&mut ed, pos(&flow, "{{money(", 0, 3));
    assert_eq!(h, "**script function** `money(x)`");

    // Definition: the stage's declaration; the script function's line in the script.
    let r = ed.request(
        "textDocument/definition",
        at(&uri, pos(&flow, "-> meeting on", 0, 4)),
    );
    assert_eq!(r["result"]["uri"], uri);
    assert_eq!(
        r["result"]["range"]["start"],
        pos(&flow, "stage meeting", 0, 6)
    );
    let r = ed.request(
        "textDocument/definition",
        at(&uri, pos(&flow, "{{money(", 0, 3)),
    );
    assert!(
        r["result"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("/web-studio.rhai"),
        "{r}"
    );
    assert_eq!(
        r["result"]["range"]["start"],
        json!({"line": 4, "character": 3})
    );

    // References: every place `meeting` is written as the stage, and nothing else.
    let r = ed.request(
        "textDocument/references",
        json!({"textDocument": {"uri": uri}, "position": pos(&flow, "stage meeting", 0, 6), "context": {"includeDeclaration": true}}),
    );
    let places = r["result"].as_array().unwrap();
    let lines: Vec<u64> = places
        .iter()
        .map(|p| p["range"]["start"]["line"].as_u64().unwrap())
        .collect();
    let line_of = |needle: &str| pos(&flow, needle, 0, 0)["line"].as_u64().unwrap();
    for needle in ["stage meeting", "-> meeting on", "phase presale"] {
        assert!(lines.contains(&line_of(needle)), "{needle}: {lines:?}");
    }
    let text_lines: Vec<&str> = flow.lines().collect();
    for p in places {
        let line = text_lines[p["range"]["start"]["line"].as_u64().unwrap() as usize];
        let (s, e) = (
            p["range"]["start"]["character"].as_u64().unwrap() as usize,
            p["range"]["end"]["character"].as_u64().unwrap() as usize,
        );
        let word: String = line
            .encode_utf16()
            .skip(s)
            .take(e - s)
            .map(|u| char::from_u32(u32::from(u)).unwrap_or('?'))
            .collect();
        assert_eq!(word, "meeting", "{p}");
    }
    let r = ed.request(
        "textDocument/references",
        json!({"textDocument": {"uri": uri}, "position": pos(&flow, "stage meeting", 0, 6), "context": {"includeDeclaration": false}}),
    );
    assert_eq!(r["result"].as_array().unwrap().len(), places.len() - 1);

    // A script function: its calls in the pipeline, and its line in the script.
    let r = ed.request(
        "textDocument/references",
        json!({"textDocument": {"uri": uri}, "position": pos(&flow, "{{money(", 0, 3), "context": {"includeDeclaration": true}}),
    );
    let places = r["result"].as_array().unwrap();
    assert_eq!(places.len(), flow.matches("money(").count() + 1, "{r}");
    assert!(
        places[0]["uri"]
            .as_str()
            .unwrap()
            .ends_with("/web-studio.rhai")
    );
    assert_eq!(places[0]["range"]["start"]["line"], 4);
}

#[test]
fn rename_changes_every_use_and_refuses_a_taken_or_bad_name() {
    let dir = Scratch::new("lsp-rename");
    let (mut ed, uri, flow) = opened(&dir);
    let rename = |ed: &mut Editor, p: Value, new: &str| {
        ed.request(
            "textDocument/rename",
            json!({"textDocument": {"uri": uri}, "position": p, "newName": new}),
        )
    };
    let r = rename(&mut ed, pos(&flow, "-> meeting on", 0, 4), "meeting_booked");
    let edits = r["result"]["changes"][&uri].as_array().unwrap().clone();
    assert!(edits.len() >= 3, "{r}");
    // Applied (last first, so earlier places stay put), the pipeline is as valid as before.
    let mut lines: Vec<Vec<u16>> = flow
        .split('\n')
        .map(|l| l.encode_utf16().collect())
        .collect();
    let mut sorted = edits.clone();
    sorted.sort_by_key(|e| {
        (
            e["range"]["start"]["line"].as_u64(),
            e["range"]["start"]["character"].as_u64(),
        )
    });
    for e in sorted.iter().rev() {
        let line = e["range"]["start"]["line"].as_u64().unwrap() as usize;
        let (s, t) = (
            e["range"]["start"]["character"].as_u64().unwrap() as usize,
            e["range"]["end"]["character"].as_u64().unwrap() as usize,
        );
        let new: Vec<u16> = e["newText"].as_str().unwrap().encode_utf16().collect();
        lines[line].splice(s..t, new);
    }
    let renamed = lines
        .iter()
        .map(|l| String::from_utf16(l).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(renamed.contains("stage meeting_booked \"Встреча назначена\""));
    assert!(renamed.contains("phase presale  \"Пресейл\"      = lead, meeting_booked, contract"));
    // `meeting_at` and `meeting_place` are other names, left alone.
    assert!(renamed.contains("require meeting_at, meeting_place"));
    ed.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": renamed}]}),
    );
    let mut d = ed.diagnostics(&uri);
    while d["version"] != 2 {
        d = ed.diagnostics(&uri);
    }
    assert_eq!(d["diagnostics"], json!([]));
    // Refused, with the reason.
    for (p, new, why) in [
        (
            pos(&renamed, "stage meeting_booked", 0, 6),
            "lead",
            "there is already a stage `lead`",
        ),
        (
            pos(&renamed, "stage meeting_booked", 0, 6),
            "2nd",
            "`2nd` is not a name",
        ),
        (
            pos(&renamed, "stage meeting_booked", 0, 6),
            "and",
            "`and` is a reserved word",
        ),
        (
            pos(&renamed, "{{money(amount)}}", 0, 9),
            "sales",
            "there is already a role `sales`",
        ),
        (
            pos(&renamed, "{{money(", 0, 3),
            "cash",
            "only stages, fields, events, roles and templates",
        ),
    ] {
        let r = rename(&mut ed, p, new);
        let message = r["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(why), "{new}: {r}");
    }
}

#[test]
fn completion_offers_what_fits_the_place_and_the_outline_groups_stages_by_phase() {
    let dir = Scratch::new("lsp-complete");
    let (mut ed, uri, flow) = opened(&dir);
    // Lines typed at the end of the lead stage, each completed where the cursor stands.
    let anchor = "  -> meeting on call_done\n";
    let labels = |ed: &mut Editor, typed: &str| -> Vec<String> {
        let text = flow.replacen(anchor, &format!("{anchor}{typed}\n"), 1);
        completion_labels(ed, &uri, &text, typed)
    };
    let has = |got: &[String], want: &[&str]| want.iter().all(|w| got.iter().any(|g| g == w));
    let got = labels(&mut ed, "  -> ");
    assert!(
        has(&got, &["lead", "meeting", "closed", "lost"]) && !got.iter().any(|g| g == "sales"),
        "{got:?}"
    );
    let got = labels(&mut ed, "  -> lost on ");
    assert!(
        has(&got, &["call_done", "lost", "enter"]) && !got.iter().any(|g| g == "meeting"),
        "{got:?}"
    );
    let got = labels(&mut ed, "  on enter { task t \"T\" to ");
    assert!(has(&got, &["sales", "project_manager", "ceo"]), "{got:?}");
    let got = labels(&mut ed, "  on enter { notify client via sms with ");
    assert!(has(&got, &["welcome", "meeting_details"]), "{got:?}");
    let got = labels(&mut ed, "  on go { spawn deal \"x\" at ");
    assert!(
        has(&got, &["billing", "prepayment"]) && !got.iter().any(|g| g == "amount"),
        "{got:?}"
    );
    let got = labels(&mut ed, "  skip when am");
    assert!(
        has(&got, &["amount", "money", "format", "today", "hours_spent"]),
        "{got:?}"
    );
    let got = labels(&mut ed, "  after 2");
    assert!(has(&got, &["h", "d", "workdays"]), "{got:?}");
    let got = labels(&mut ed, "  ");
    assert!(
        has(&got, &["on", "after", "require", "stage", "template"]),
        "{got:?}"
    );

    // The outline: the pipeline, its phases with their stages, then templates and events.
    let r = ed.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri}}),
    );
    let top = &r["result"][0];
    assert_eq!(top["name"], "web_studio", "{r}");
    let children = top["children"].as_array().unwrap();
    let presale = children
        .iter()
        .find(|c| c["name"] == "presale")
        .expect("the presale phase");
    let stages: Vec<&str> = presale["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["lead", "meeting", "contract"]);
    assert!(
        children
            .iter()
            .any(|c| c["name"] == "welcome" && c["detail"] == "template")
    );
    assert!(
        children
            .iter()
            .any(|c| c["name"] == "call_done" && c["detail"] == "event")
    );
    // Folding: each stage over several lines folds.
    let r = ed.request(
        "textDocument/foldingRange",
        json!({"textDocument": {"uri": uri}}),
    );
    let lead = pos(&flow, "stage lead", 0, 0)["line"].as_u64().unwrap();
    assert!(
        r["result"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["startLine"] == lead),
        "{r}"
    );
}

#[test]
fn a_broken_script_is_reported_in_the_script_itself() {
    let dir = Scratch::new("lsp-script");
    let flow = std::fs::read_to_string(common::root().join("rules/web-studio.flow")).unwrap();
    let path = dir.file("web-studio.flow", &flow);
    let script = dir.file("web-studio.rhai", "fn money(x) {\n  let = 1;\n}\n");
    let uri = uri(&path);
    let mut ed = Editor::ready();
    ed.open(&uri, 1, &flow);
    let flow_d = ed.diagnostics(&uri);
    assert!(
        flow_d["diagnostics"][0]["message"]
            .as_str()
            .unwrap()
            .contains("the script has an error"),
        "{flow_d}"
    );
    let d = ed.diagnostics(&format!("file://{}", script.display()));
    let found = &d["diagnostics"][0];
    assert_eq!(found["range"]["start"]["line"], 1, "{d}");
    assert_eq!(found["severity"], 1);
}

/// Whatever the text — every broken pipeline of tests/ui/, at every tenth character — each
/// question gets an answer, and the server stays up.
#[test]
fn broken_files_get_answers_not_crashes() {
    let dir = Scratch::new("lsp-broken");
    let mut ed = Editor::ready();
    let mut files: Vec<_> = std::fs::read_dir(common::root().join("tests/ui"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "flow"))
        .collect();
    files.sort();
    assert!(files.len() > 30);
    let mut asked = 0;
    for (n, file) in files.iter().enumerate() {
        let text = std::fs::read_to_string(file).unwrap();
        let path = dir.file(&format!("f{n}.flow"), &text);
        let uri = uri(&path);
        ed.open(&uri, 1, &text);
        let lines: Vec<&str> = text.lines().collect();
        for (line, l) in lines.iter().enumerate().step_by(3) {
            for character in (0..=l.encode_utf16().count() + 2).step_by(10) {
                let p = json!({"line": line, "character": character});
                for method in [
                    "textDocument/hover",
                    "textDocument/completion",
                    "textDocument/definition",
                ] {
                    let r = ed.request(method, at(&uri, p.clone()));
                    assert!(r.get("result").is_some() || r.get("error").is_some(), "{r}");
                    asked += 1;
                }
            }
        }
        for method in [
            "textDocument/documentSymbol",
            "textDocument/foldingRange",
            "textDocument/formatting",
        ] {
            let r = ed.request(method, json!({"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}));
            assert!(r.get("result").is_some(), "{}: {r}", file.display());
        }
        // Past the end of the document, and a document never opened.
        let r = ed.request(
            "textDocument/hover",
            at(&uri, json!({"line": 100000, "character": 5})),
        );
        assert!(r.get("result").is_some(), "{r}");
    }
    let r = ed.request(
        "textDocument/hover",
        at("file:///nowhere.flow", json!({"line": 0, "character": 0})),
    );
    assert_eq!(r["result"], Value::Null);
    assert!(asked > 1000, "{asked}");
    let bye = ed.request("shutdown", Value::Null);
    assert_eq!(bye["result"], Value::Null);
    ed.notify("exit", Value::Null);
    assert!(ed.child.wait().unwrap().success());
}

/// A derived field: hover says how it is computed; `set` does not offer it, a condition does.
#[test]
fn a_derived_field_is_explained_and_never_offered_to_set() {
    let dir = Scratch::new("lsp-derived");
    let flow =
        std::fs::read_to_string(common::root().join("examples/web-studio-live.flow")).unwrap();
    let rhai = std::fs::read_to_string(common::root().join("rules/web-studio.rhai")).unwrap();
    let path = dir.file("examples/web-studio-live.flow", &flow);
    dir.file("rules/web-studio.rhai", &rhai);
    let uri = uri(&path);
    let mut ed = Editor::ready();
    ed.open(&uri, 1, &flow);
    let r = ed.request(
        "textDocument/hover",
        at(&uri, pos(&flow, "when margin < 0", 0, 6)),
    );
    let h = r["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_default();
    assert!(
        h.starts_with("**field** `margin`: money")
            && h.contains("derived: `= amount - labour_cost`"),
        "{h}"
    );
    let anchor = "  -> closed\n}\n\nstage closed";
    let labels = |ed: &mut Editor, typed: &str| -> Vec<String> {
        let text = flow.replacen(anchor, &format!("  on enter {{ {typed}\n{anchor}"), 1);
        completion_labels(ed, &uri, &text, typed)
    };
    let got = labels(&mut ed, "set ");
    assert!(got.iter().any(|g| g == "amount"), "{got:?}");
    assert!(
        !got.iter().any(|g| g == "margin" || g == "labour_cost"),
        "{got:?}"
    );
    // Setting it by hand is the checker's E0212, where it is written.
    let text = flow.replacen(
        anchor,
        &format!("  on enter {{ set margin = 0 }}\n{anchor}"),
        1,
    );
    ed.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 3}, "contentChanges": [{"text": text}]}),
    );
    let mut d = ed.diagnostics(&uri);
    while d["version"] != 3 {
        d = ed.diagnostics(&uri);
    }
    let codes: Vec<&str> = d["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["code"].as_str())
        .collect();
    assert_eq!(codes, ["E0212"], "{d}");
}
