//! What the names of a document stand for, from the checker's own findings: every place a
//! name is written, the declaration it resolves to, and what hover says of each declaration.

use std::collections::HashMap;

use crate::ast::{File, Item, Span};
use crate::check::Def;
use crate::load::Analysis;

/// A declaration: where it is written, its kind and name, and what hover shows.
#[derive(Debug, Clone)]
pub(super) struct Decl {
    /// The declared name's place.
    pub name: Span,
    /// The whole item (for the outline and folding).
    pub item: Span,
    /// The name.
    pub text: String,
    /// What hover says, in Markdown.
    pub about: String,
    /// A derived field: computed, never set (`set` does not offer it).
    pub computed: bool,
}

/// A script function: its name, parameters and line in the script.
#[derive(Debug, Clone)]
pub(super) struct ScriptFn {
    /// Its name.
    pub name: String,
    /// Its parameters as written.
    pub params: Vec<String>,
    /// 0-based line and the column (in the line's characters) of its name in the script.
    pub at: Option<(u32, u32)>,
}

/// The names of one document.
#[derive(Debug, Clone, Default)]
pub(super) struct Index {
    /// Every resolved name: (start, end, what it stands for), by start.
    pub uses: Vec<(usize, usize, Def)>,
    /// The declarations, by what they declare.
    pub decls: HashMap<Def, Decl>,
    /// The script's functions, by their place (as `Def::Function` counts them).
    pub functions: Vec<ScriptFn>,
    /// Stage names by phase (phase name, title, stage names), in file order.
    pub phases: Vec<(String, String, Vec<String>)>,
}

/// The kind of declaration a name stands for, in words (`stage`, `field` …); `None` for what
/// the file does not declare (a loop variable, a built-in value, a script function).
pub(super) fn kind(def: Def) -> Option<&'static str> {
    Some(match def {
        Def::Stage(_) => "stage",
        Def::Field(_) => "field",
        Def::Role(_) => "role",
        Def::Event(_) => "event",
        Def::Template(_) => "template",
        Def::Calendar(_) => "calendar",
        Def::Local(_) | Def::Builtin(_) | Def::Function(_) => return None,
    })
}

impl Index {
    /// The index of an analysed text; `script` is the text of the script it names, if read.
    pub(super) fn new(text: &str, analysis: &Analysis, script: Option<&str>) -> Self {
        let mut ix = Index::default();
        let mut uses: Vec<(usize, usize, Def)> = analysis
            .names
            .all()
            .map(|(at, def)| (at, at + ident_len(&text[at.min(text.len())..]), def))
            .collect();
        uses.sort_by_key(|u| u.0);
        ix.uses = uses;
        ix.declarations(&analysis.file);
        if let Some(script) = script
            && let Ok(info) = crate::script::inspect(script)
        {
            ix.functions = info
                .functions
                .iter()
                .map(|(name, _)| script_fn(script, name))
                .collect();
        }
        ix
    }

    fn declarations(&mut self, file: &File) {
        let mut count: HashMap<&'static str, usize> = HashMap::new();
        let mut next = |kind: &'static str| {
            let n = count.entry(kind).or_default();
            *n += 1;
            *n - 1
        };
        let phase_of = |stage: &str, items: &[Item]| {
            items.iter().find_map(|i| match i {
                Item::Phase(p) if p.stages.iter().any(|s| s.name == stage) => {
                    Some(p.title.plain().unwrap_or_else(|| p.id.name.clone()))
                }
                _ => None,
            })
        };
        for item in &file.items {
            match item {
                Item::Stage(s) => {
                    let mut about = format!("**stage** `{}`", s.id.name);
                    if let Some(t) = s.title.plain() {
                        about.push_str(&format!(" — «{t}»"));
                    }
                    if let Some(p) = phase_of(&s.id.name, &file.items) {
                        about.push_str(&format!("\n\nphase: {p}"));
                    }
                    let flags: Vec<&str> = [(s.join, "join"), (s.is_final, "final")]
                        .iter()
                        .filter(|(on, _)| *on)
                        .map(|(_, f)| *f)
                        .collect();
                    if !flags.is_empty() {
                        about.push_str(&format!("\n\n{}", flags.join(", ")));
                    }
                    let key = Def::Stage(next("stage"));
                    self.add(key, &s.id.name, s.id.span, s.span, about);
                }
                Item::Fields(f) => {
                    for d in &f.fields {
                        let mut about = format!("**field** `{}`: {}", d.name.name, d.ty.name);
                        if d.required {
                            about.push_str(", required");
                        }
                        if d.personal {
                            about.push_str(", personal");
                        }
                        if let Some(l) = d.label.as_ref().and_then(|l| l.plain()) {
                            about.push_str(&format!(" — «{l}»"));
                        }
                        if let Some(def) = &d.default {
                            about.push_str(&format!("\n\ndefault: `{}`", crate::print::expr(def)));
                        }
                        if let Some(e) = &d.derived {
                            about.push_str(&format!(
                                "\n\nderived: `= {}`, computed after every change of the deal; never set by hand",
                                crate::print::expr(e)
                            ));
                        }
                        let key = Def::Field(next("field"));
                        self.add(key, &d.name.name, d.name.span, d.span, about);
                        if let Some(decl) = self.decls.get_mut(&key) {
                            decl.computed = d.derived.is_some();
                        }
                    }
                }
                Item::Role(r) => {
                    let mut about = format!("**role** `{}`", r.id.name);
                    if let Some(t) = r.title.as_ref().and_then(|t| t.plain()) {
                        about.push_str(&format!(" — «{t}»"));
                    }
                    let key = Def::Role(next("role"));
                    self.add(key, &r.id.name, r.id.span, r.span, about);
                }
                Item::Event(e) => {
                    let mut about = format!("**event** `{}`", e.id.name);
                    let entries: Vec<String> = e
                        .entries
                        .iter()
                        .flatten()
                        .map(|en| match &en.ty {
                            Some(crate::ast::TypeSpec::Named(t)) => {
                                format!("`{}`: {}", en.name.name, t.name)
                            }
                            Some(crate::ast::TypeSpec::List(..)) => {
                                format!("`{}`: list", en.name.name)
                            }
                            None => format!("`{}` (sets the field)", en.name.name),
                        })
                        .collect();
                    if !entries.is_empty() {
                        about.push_str(&format!("\n\ncarries: {}", entries.join(", ")));
                    }
                    let key = Def::Event(next("event"));
                    self.add(key, &e.id.name, e.id.span, e.span, about);
                }
                Item::Template(t) => {
                    let about = format!("**template** `{}`", t.id.name);
                    let key = Def::Template(next("template"));
                    self.add(key, &t.id.name, t.id.span, t.span, about);
                }
                Item::Calendar(c) => {
                    let about = format!("**calendar** `{}`", c.id.name);
                    let key = Def::Calendar(next("calendar"));
                    self.add(key, &c.id.name, c.id.span, c.span, about);
                }
                Item::Phase(p) => {
                    let title = p.title.plain().unwrap_or_else(|| p.id.name.clone());
                    let stages = p.stages.iter().map(|s| s.name.clone()).collect();
                    self.phases.push((p.id.name.clone(), title, stages));
                }
                Item::Pipeline(_) | Item::Alert(_) | Item::Migrate(_) => {}
            }
        }
    }

    fn add(&mut self, key: Def, name: &str, at: Span, item: Span, about: String) {
        self.decls.entry(key).or_insert(Decl {
            name: at,
            item,
            text: name.to_string(),
            about,
            computed: false,
        });
    }

    /// The name written at byte `offset` (or ending there): its span and what it stands for.
    pub(super) fn at(&self, offset: usize) -> Option<(usize, usize, Def)> {
        let i = self.uses.partition_point(|u| u.0 <= offset);
        let (start, end, def) = *self.uses.get(i.checked_sub(1)?)?;
        (offset <= end).then_some((start, end, def))
    }

    /// Every place a declaration's name is written (its own included).
    pub(super) fn uses_of(&self, key: Def) -> Vec<(usize, usize)> {
        self.uses
            .iter()
            .filter(|(_, _, d)| *d == key)
            .map(|&(s, e, _)| (s, e))
            .collect()
    }

    /// The declarations of a kind, by name.
    pub(super) fn named(&self, of: &str) -> Vec<&Decl> {
        let mut v: Vec<(&Def, &Decl)> = self
            .decls
            .iter()
            .filter(|(k, _)| kind(**k) == Some(of))
            .collect();
        v.sort_by_key(|(_, d)| d.name.start);
        v.into_iter().map(|(_, d)| d).collect()
    }
}

/// The length in bytes of the identifier a text starts with.
fn ident_len(s: &str) -> usize {
    s.char_indices()
        .find(|&(i, c)| !(c.is_alphanumeric() || c == '_' || (i > 0 && is_mark(c))))
        .map_or(s.len(), |(i, _)| i)
}

fn is_mark(c: char) -> bool {
    // Combining marks (U+0300–U+036F and the like) continue a name, as the grammar's MARK does.
    matches!(c as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

/// A script function's parameters and place, from its `fn NAME(…)` line in the script.
fn script_fn(script: &str, name: &str) -> ScriptFn {
    for (line, text) in script.lines().enumerate() {
        let trimmed = text.trim_start();
        let rest = trimmed.strip_prefix("private ").unwrap_or(trimmed);
        let Some(rest) = rest.strip_prefix("fn ") else {
            continue;
        };
        let rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix(name)
            && after.trim_start().starts_with('(')
        {
            let params = after
                .trim_start()
                .trim_start_matches('(')
                .split(')')
                .next()
                .unwrap_or("")
                .split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect();
            let column = text.len() - rest.len();
            let column = text[..column].chars().count() as u32;
            return ScriptFn {
                name: name.to_string(),
                params,
                at: Some((line as u32, column)),
            };
        }
    }
    ScriptFn {
        name: name.to_string(),
        params: Vec::new(),
        at: None,
    }
}
