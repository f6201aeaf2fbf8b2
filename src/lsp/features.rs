//! What the editor asks of a document: hover, definition, references, rename, the outline,
//! folding and completion — all from the checker's index of the names (see `index.rs`).

use lsp_types::{
    CompletionItem, CompletionItemKind, DocumentSymbol, FoldingRange, FoldingRangeKind, Hover,
    HoverContents, Location, MarkupContent, MarkupKind, Position, Range, SymbolKind, TextEdit, Uri,
};

use super::index::{Index, kind};
use super::text::Text;
use crate::ast::{File, Item};
use crate::check::{Builtin, Def};

/// Words the grammar reserves: a rename to one of them is refused.
const RESERVED: &[&str] = &[
    "and", "or", "not", "in", "is", "true", "false", "required", "default",
];

/// Hover over a name: what it stands for.
pub(super) fn hover(ix: &Index, text: &Text, pos: Position) -> Option<Hover> {
    let (start, end, def) = ix.at(text.offset(pos))?;
    let about = match def {
        Def::Function(i) => {
            let f = ix.functions.get(i)?;
            format!("**script function** `{}({})`", f.name, f.params.join(", "))
        }
        Def::Builtin(b) => builtin(b).to_string(),
        Def::Local(_) => "a `for each` variable".to_string(),
        other => ix.decls.get(&other)?.about.clone(),
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: about,
        }),
        range: Some(text.range(start, end)),
    })
}

fn builtin(b: Builtin) -> &'static str {
    match b {
        Builtin::Now => "`now`: the moment of the step",
        Builtin::Today => "`today`: the step's date in the pipeline's zone",
        Builtin::Title => "`title`: the deal's title",
        Builtin::HoursSpent => "`hours_spent`: hours logged on the deal",
        Builtin::OpenTasks => "`open_tasks`: the deal's open tasks",
        Builtin::Deal => "`deal`: the whole deal, for the script's functions",
        Builtin::DealUrl => {
            "`deal_url`: the deal's page on the dashboard (`[server] public_url` + `/deals/ID`)"
        }
    }
}

/// Where the name under the cursor is declared: in this file, or in the script for a script
/// function (`script_uri`).
pub(super) fn definition(
    ix: &Index,
    text: &Text,
    pos: Position,
    uri: &Uri,
    script_uri: Option<&Uri>,
) -> Option<Location> {
    let (_, _, def) = ix.at(text.offset(pos))?;
    if let Def::Function(i) = def {
        let (line, col) = ix.functions.get(i)?.at?;
        let at = Position::new(line, col);
        return Some(Location::new(script_uri?.clone(), Range::new(at, at)));
    }
    let decl = ix.decls.get(&def)?;
    Some(Location::new(
        uri.clone(),
        text.range(decl.name.start, decl.name.end),
    ))
}

/// Every place the name under the cursor is written; for a script function, its calls and
/// (with the declaration) its line in the script.
pub(super) fn references(
    ix: &Index,
    text: &Text,
    pos: Position,
    uri: &Uri,
    declaration: bool,
    script_uri: Option<&Uri>,
) -> Option<Vec<Location>> {
    let (_, _, def) = ix.at(text.offset(pos))?;
    if let Def::Function(i) = def {
        let mut out: Vec<Location> = ix
            .uses
            .iter()
            .filter(|(_, _, d)| *d == def)
            .map(|&(s, e, _)| Location::new(uri.clone(), text.range(s, e)))
            .collect();
        if declaration
            && let (Some(script), Some((line, col))) = (script_uri, ix.functions.get(i)?.at)
        {
            let at = Position::new(line, col);
            out.insert(0, Location::new(script.clone(), Range::new(at, at)));
        }
        return Some(out);
    }
    kind(def)?;
    let key = def;
    let decl = ix.decls.get(&key).map(|d| d.name.start);
    Some(
        ix.uses_of(key)
            .into_iter()
            .filter(|(s, _)| declaration || Some(*s) != decl)
            .map(|(s, e)| Location::new(uri.clone(), text.range(s, e)))
            .collect(),
    )
}

/// The edits that rename the declaration under the cursor everywhere in the file; the error
/// says why not (another declaration has the name, it is not a name, it is reserved).
pub(super) fn rename(
    ix: &Index,
    text: &Text,
    pos: Position,
    new: &str,
) -> Result<Vec<TextEdit>, String> {
    let Some((_, _, def)) = ix.at(text.offset(pos)) else {
        return Err("put the cursor on a stage, field, event, role or template".into());
    };
    let Some(key) = Some(def).filter(|d| kind(*d).is_some_and(|k| k != "calendar")) else {
        return Err("only stages, fields, events, roles and templates can be renamed".into());
    };
    let mut chars = new.chars();
    let is_name = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_');
    if !is_name {
        return Err(format!(
            "`{new}` is not a name: a letter or `_`, then letters, digits or `_`"
        ));
    }
    if RESERVED.contains(&new) {
        return Err(format!("`{new}` is a reserved word of the language"));
    }
    // Fields and roles share the deal's names (a role is also a slot of the deal).
    let kinds: Vec<&str> = match key {
        Def::Field(_) | Def::Role(_) => vec!["field", "role"],
        other => kind(other).into_iter().collect(),
    };
    let current = ix.decls.get(&key).map(|d| d.text.as_str());
    if current == Some(new) {
        return Ok(Vec::new());
    }
    for kind in kinds {
        if ix.named(kind).iter().any(|d| d.text == new) {
            return Err(format!("there is already a {kind} `{new}`"));
        }
    }
    Ok(ix
        .uses_of(key)
        .into_iter()
        .map(|(s, e)| TextEdit::new(text.range(s, e), new.to_string()))
        .collect())
}

/// The outline: the pipeline, its stages grouped by phase, then templates, events, roles,
/// fields and alerts.
#[allow(deprecated)] // `DocumentSymbol::deprecated` must be written, as `None`.
pub(super) fn symbols(file: &File, ix: &Index, text: &Text) -> Vec<DocumentSymbol> {
    let sym = |name: &str,
               detail: Option<String>,
               kind,
               item: (usize, usize),
               at: (usize, usize),
               children: Vec<DocumentSymbol>| DocumentSymbol {
        name: name.to_string(),
        detail,
        kind,
        tags: None,
        deprecated: None,
        range: text.range(item.0, item.1),
        selection_range: text.range(at.0, at.1),
        children: (!children.is_empty()).then_some(children),
    };
    let stage = |d: &super::index::Decl| {
        sym(
            &d.text,
            None,
            SymbolKind::CLASS,
            (d.item.start, d.item.end),
            (d.name.start, d.name.end),
            Vec::new(),
        )
    };
    let stages = ix.named("stage");
    let mut children = Vec::new();
    let mut placed = std::collections::HashSet::new();
    for item in &file.items {
        if let Item::Phase(p) = item {
            let members: Vec<DocumentSymbol> = p
                .stages
                .iter()
                .filter_map(|s| stages.iter().find(|d| d.text == s.name))
                .map(|d| {
                    placed.insert(d.text.clone());
                    stage(d)
                })
                .collect();
            let title = p.title.plain();
            children.push(sym(
                &p.id.name,
                title,
                SymbolKind::NAMESPACE,
                (p.span.start, p.span.end),
                (p.id.span.start, p.id.span.end),
                members,
            ));
        }
    }
    for d in &stages {
        if !placed.contains(&d.text) {
            children.push(stage(d));
        }
    }
    for (kind, symbol) in [
        ("template", SymbolKind::STRING),
        ("event", SymbolKind::EVENT),
        ("role", SymbolKind::INTERFACE),
        ("field", SymbolKind::FIELD),
        ("calendar", SymbolKind::OBJECT),
    ] {
        for d in ix.named(kind) {
            children.push(sym(
                &d.text,
                Some(kind.to_string()),
                symbol,
                (d.item.start, d.item.end),
                (d.name.start, d.name.end),
                Vec::new(),
            ));
        }
    }
    for item in &file.items {
        if let Item::Alert(a) = item {
            children.push(sym(
                &a.id.name,
                Some("alert".into()),
                SymbolKind::BOOLEAN,
                (a.span.start, a.span.end),
                (a.id.span.start, a.id.span.end),
                Vec::new(),
            ));
        }
    }
    let Some(Item::Pipeline(p)) = file.items.iter().find(|i| matches!(i, Item::Pipeline(_))) else {
        return children;
    };
    let whole = (0, text.text.len());
    vec![sym(
        &p.id.name,
        p.title.plain(),
        SymbolKind::MODULE,
        whole,
        (p.id.span.start, p.id.span.end),
        children,
    )]
}

/// Folding: every item over several lines, and runs of comment lines.
pub(super) fn folding(file: &File, text: &Text) -> Vec<FoldingRange> {
    let mut out = Vec::new();
    let fold = |start: usize, end: usize, kind: Option<FoldingRangeKind>| {
        let (a, b) = (text.position(start).line, text.position(end).line);
        (b > a).then_some(FoldingRange {
            start_line: a,
            start_character: None,
            end_line: b,
            end_character: None,
            kind,
            collapsed_text: None,
        })
    };
    for item in &file.items {
        let span = match item {
            Item::Pipeline(i) => i.span,
            Item::Calendar(i) => i.span,
            Item::Role(i) => i.span,
            Item::Fields(i) => i.span,
            Item::Event(i) => i.span,
            Item::Template(i) => i.span,
            Item::Stage(i) => i.span,
            Item::Phase(i) => i.span,
            Item::Alert(i) => i.span,
            Item::Migrate(_) => continue,
        };
        out.extend(fold(span.start, span.end, None));
    }
    // Comment lines one after another.
    let mut run: Option<(usize, usize, u32)> = None;
    for c in &file.comments {
        let line = text.position(c.span.start).line;
        run = match run {
            Some((s, _, l)) if l + 1 == line => Some((s, c.span.end, line)),
            Some((s, e, _)) => {
                out.extend(fold(s, e, Some(FoldingRangeKind::Comment)));
                Some((c.span.start, c.span.end, line))
            }
            None => Some((c.span.start, c.span.end, line)),
        };
    }
    if let Some((s, e, _)) = run {
        out.extend(fold(s, e, Some(FoldingRangeKind::Comment)));
    }
    out
}

/// Completion at a position: the names that fit what the line says before the cursor.
pub(super) fn complete(ix: &Index, text: &Text, pos: Position) -> Vec<CompletionItem> {
    let offset = text.offset(pos);
    let line_start = text.offset(Position::new(pos.line, 0));
    let before = &text.text[line_start..offset];
    let partial_len = before
        .chars()
        .rev()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .map(char::len_utf8)
        .sum::<usize>();
    let head = &before[..before.len() - partial_len];
    let words: Vec<&str> = head.split_whitespace().collect();
    let last = words.last().copied().unwrap_or("");
    let item = |label: &str, kind, detail: Option<String>| CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail,
        ..Default::default()
    };
    let decls = |kind: &str, ck| -> Vec<CompletionItem> {
        ix.named(kind)
            .iter()
            .map(|d| {
                item(
                    &d.text,
                    ck,
                    Some(d.about.lines().next().unwrap_or("").replace("**", "")),
                )
            })
            .collect()
    };
    // A number just written (`2`, `2 `, `2wo`): a duration's unit.
    let partial = &before[head.len()..];
    let after_number = head
        .trim_end()
        .chars()
        .last()
        .is_some_and(|c| c.is_ascii_digit());
    if partial.starts_with(|c: char| c.is_ascii_digit()) || after_number {
        return crate::types::UNITS
            .iter()
            .map(|u| item(u, CompletionItemKind::UNIT, None))
            .collect();
    }
    let stages = || decls("stage", CompletionItemKind::ENUM_MEMBER);
    if last == "->" || last.ends_with("->") || last == "&" || head.trim_end().ends_with('&') {
        return stages();
    }
    match last {
        "on" => {
            let mut v = decls("event", CompletionItemKind::EVENT);
            v.push(item("enter", CompletionItemKind::KEYWORD, None));
            v.push(item("exit", CompletionItemKind::KEYWORD, None));
            return v;
        }
        "to" => return decls("role", CompletionItemKind::INTERFACE),
        "with" => {
            let mut v = decls("template", CompletionItemKind::TEXT);
            v.extend(decls("role", CompletionItemKind::INTERFACE));
            return v;
        }
        "in" if words.len() >= 2 && words[words.len() - 2] != "each" => return stages(),
        "via" => {
            return ["sms", "email", "telegram"]
                .iter()
                .map(|c| item(c, CompletionItemKind::KEYWORD, None))
                .collect();
        }
        "notify" => {
            let mut v = vec![item("client", CompletionItemKind::KEYWORD, None)];
            v.extend(decls("role", CompletionItemKind::INTERFACE));
            return v;
        }
        "set" => {
            // A derived field is computed, never set.
            let mut v: Vec<CompletionItem> = ix
                .named("field")
                .iter()
                .filter(|d| !d.computed)
                .map(|d| {
                    item(
                        &d.text,
                        CompletionItemKind::FIELD,
                        Some(d.about.lines().next().unwrap_or("").replace("**", "")),
                    )
                })
                .collect();
            v.extend(decls("role", CompletionItemKind::INTERFACE));
            return v;
        }
        "require" | "require," => {
            let mut v = decls("field", CompletionItemKind::FIELD);
            v.extend(decls("role", CompletionItemKind::INTERFACE));
            return v;
        }
        "stage" | "phase" if words.len() >= 2 && words[0] == "migrate" => return stages(),
        // `spawn deal "…" at billing & prepayment`: stages; a timer's `at`: a moment.
        "at" if words.contains(&"spawn") => return stages(),
        _ => {}
    }
    if words.is_empty() {
        return KEYWORDS
            .iter()
            .map(|k| item(k, CompletionItemKind::KEYWORD, None))
            .collect();
    }
    // An expression: fields, roles, the built-in values and functions, the script's functions.
    let mut v = decls("field", CompletionItemKind::FIELD);
    v.extend(decls("role", CompletionItemKind::INTERFACE));
    for (name, b) in Builtin::ALL {
        v.push(item(
            name,
            CompletionItemKind::CONSTANT,
            Some(builtin(b).to_string()),
        ));
    }
    for f in crate::check::BUILTIN_FUNCTIONS {
        v.push(item(
            f,
            CompletionItemKind::FUNCTION,
            Some("built in".into()),
        ));
    }
    for f in &ix.functions {
        v.push(item(
            &f.name,
            CompletionItemKind::FUNCTION,
            Some(format!("{}({})", f.name, f.params.join(", "))),
        ));
    }
    for k in ["and", "or", "not", "is set", "is not set", "in"] {
        v.push(item(k, CompletionItemKind::KEYWORD, None));
    }
    v
}

/// Keywords that start a line: the items of a file and the lines of a stage.
const KEYWORDS: &[&str] = &[
    "pipeline", "calendar", "role", "fields", "event", "template", "stage", "phase", "alert",
    "migrate", "on", "after", "at", "require", "skip", "set", "notify", "task", "group", "spawn",
    "for", "timezone", "currency", "country", "maps", "script", "workweek", "hours", "holidays",
    "sms", "email",
];
