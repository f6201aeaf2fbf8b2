//! Gathering the declarations: each kind in file order, each name once, none that the language
//! keeps for itself; a file needs one pipeline and at least one stage.

use std::collections::HashMap;

use super::{BUILTIN_VALUES, Checker, Def, RECIPIENTS};
use crate::ast::*;
use crate::diag::{Diagnostic, codes, did_you_mean};
use crate::types::Ty;

impl<'a> Checker<'a> {
    /// Gathers declarations and reports names used twice.
    pub(super) fn collect(&mut self) {
        let file = self.file;
        let mut first: HashMap<(&str, &str), Span> = HashMap::new();
        for item in &file.items {
            match item {
                Item::Pipeline(p) => self.pipeline_decl(p),
                Item::Calendar(c) => {
                    if self.first(&mut first, "calendar", &c.id) {
                        let id = self.sym.calendars.add(&c.id.name, c);
                        self.names.record(&c.id, Def::Calendar(id));
                    }
                }
                Item::Role(r) => {
                    if self.first(&mut first, "role", &r.id) {
                        let id = self.sym.roles.add(&r.id.name, r);
                        self.names.record(&r.id, Def::Role(id));
                    }
                }
                Item::Fields(fs) => {
                    for f in &fs.fields {
                        if self.first(&mut first, "field", &f.name) {
                            self.field_decl(f);
                        }
                    }
                }
                Item::Event(e) => {
                    if self.first(&mut first, "event", &e.id) {
                        let id = self.sym.events.add(&e.id.name, e);
                        self.names.record(&e.id, Def::Event(id));
                    }
                }
                Item::Template(t) => {
                    if self.first(&mut first, "template", &t.id) {
                        let id = self.sym.templates.add(&t.id.name, t);
                        self.names.record(&t.id, Def::Template(id));
                    }
                }
                Item::Stage(s) => {
                    if self.first(&mut first, "stage", &s.id) {
                        let id = self.sym.stages.add(&s.id.name, s);
                        self.names.record(&s.id, Def::Stage(id));
                    }
                }
                Item::Phase(p) => {
                    if self.first(&mut first, "phase", &p.id) {
                        self.sym.phases.push(p);
                    }
                }
                Item::Alert(a) => {
                    if self.first(&mut first, "alert", &a.id) {
                        self.sym.alerts.push(a);
                    }
                }
                Item::Migrate(_) => {}
            }
        }
        self.roles_that_are_fields();
        self.builtin_clashes();
        self.required();
    }

    /// Whether `id` is the first declaration of its kind with its name; reports it if not.
    fn first(
        &mut self,
        first: &mut HashMap<(&'a str, &'a str), Span>,
        kind: &'static str,
        id: &'a Ident,
    ) -> bool {
        let Some(prev) = first.get(&(kind, id.name.as_str())).copied() else {
            first.insert((kind, id.name.as_str()), id.span);
            return true;
        };
        self.push(
            Diagnostic::error(
                codes::DUPLICATE,
                id.span,
                format!("there is already a {kind} named `{}`", id.name),
            )
            .with_label("declared again here")
            .with_related(prev, "first declared here")
            .with_help(format!(
                "give this {kind} another name, or remove one of them"
            )),
        );
        false
    }

    fn pipeline_decl(&mut self, p: &'a Pipeline) {
        if let Some(prev) = self.sym.pipeline {
            self.push(
                Diagnostic::error(
                    codes::TWO_PIPELINES,
                    p.id.span,
                    "a file holds exactly one pipeline; this is a second one",
                )
                .with_label("second pipeline")
                .with_related(prev.id.span, "the first pipeline")
                .with_help("put each pipeline in a file of its own".to_string()),
            );
        } else {
            self.sym.pipeline = Some(p);
        }
    }

    /// A field, with its type (reported when it is not one).
    fn field_decl(&mut self, f: &'a FieldDecl) {
        let ty = match Ty::from_field_type(&f.ty.name) {
            Some(t) => t,
            None => {
                self.push(
                    Diagnostic::error(
                        codes::UNKNOWN_TYPE,
                        f.ty.span,
                        format!("`{}` is not a field type", f.ty.name),
                    )
                    .with_label("unknown type")
                    .with_help(
                        did_you_mean(&f.ty.name, Ty::FIELD_TYPES.iter().copied()).unwrap_or_else(
                            || format!("a field is one of: {}", Ty::FIELD_TYPES.join(", ")),
                        ),
                    ),
                );
                Ty::Unknown
            }
        };
        let id = self.sym.fields.add(&f.name.name, (f, ty.clone()));
        self.names.record(&f.name, Def::Field(id));
        self.names.add_field_type(ty);
    }

    /// A role is also a deal slot, so it shares the fields' names.
    fn roles_that_are_fields(&mut self) {
        for item in &self.file.items {
            if let Item::Role(r) = item
                && let Some((f, _)) = self.sym.fields.get(r.id.name.as_str())
            {
                let fspan = f.name.span;
                self.push(
                    Diagnostic::error(
                        codes::DUPLICATE,
                        r.id.span,
                        format!("`{}` is both a role and a field", r.id.name),
                    )
                    .with_label("role declared here")
                    .with_related(fspan, "field declared here")
                    .with_help(
                        "each role is also a deal slot of the same name; rename one of them"
                            .to_string(),
                    ),
                );
            }
        }
    }

    /// Built-in names are taken.
    fn builtin_clashes(&mut self) {
        let mut clash = Vec::new();
        for (f, _) in self.sym.fields.values() {
            let name = f.name.name.as_str();
            if BUILTIN_VALUES.contains(&name) || name == "event" {
                clash.push(f.name.clone());
            }
        }
        for r in self.sym.roles.values() {
            let name = r.id.name.as_str();
            if BUILTIN_VALUES.contains(&name) || RECIPIENTS.contains(&name) || name == "event" {
                clash.push(r.id.clone());
            }
        }
        clash.sort_by_key(|i| i.span.start);
        for id in clash {
            self.push(
                Diagnostic::error(
                    codes::DUPLICATE,
                    id.span,
                    format!(
                        "`{}` is a built-in name and cannot be declared again",
                        id.name
                    ),
                )
                .with_label("taken by the language")
                .with_help("choose another name".to_string()),
            );
        }
    }

    /// A pipeline, with at least one stage.
    fn required(&mut self) {
        if self.sym.pipeline.is_none() {
            self.push(
                Diagnostic::error(
                    codes::NO_PIPELINE,
                    Span::new(0, 0),
                    "this file has no `pipeline`",
                )
                .with_help(
                    "start the file with `pipeline ID \"Title\" { timezone \"Europe/Moscow\" }`"
                        .to_string(),
                ),
            );
        }
        if self.sym.stages.is_empty() && self.sym.pipeline.is_some() {
            let span = self.sym.pipeline.map_or(Span::default(), |p| p.id.span);
            self.push(
                Diagnostic::error(codes::NO_STAGES, span, "the pipeline has no stages").with_help(
                    "add at least one `stage ID \"Title\"`; deals start at the first".to_string(),
                ),
            );
        }
    }
}
