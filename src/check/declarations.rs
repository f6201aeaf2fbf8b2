//! Declarations besides the pipeline and the stages: fields' defaults, events and what they
//! carry, message templates, dashboard phases and alerts.

use std::collections::HashMap;

use super::{Checker, Def, expr};
use crate::ast::*;
use crate::diag::{Diagnostic, codes, did_you_mean};
use crate::types::Ty;

impl<'a> Checker<'a> {
    pub(super) fn field_defaults(&mut self) {
        let fields: Vec<(&FieldDecl, Ty)> = self
            .sym
            .fields
            .values()
            .map(|(f, t)| (*f, t.clone()))
            .collect();
        let scope = expr::Scope::constant();
        for (f, ty) in fields {
            if let Some(d) = &f.default {
                let vt = self.expr(d, &scope);
                if !ty.accepts(&vt) {
                    self.push(
                        Diagnostic::error(
                            codes::DEFAULT_TYPE,
                            d.span,
                            format!("`{}` holds {ty}, but its default is {vt}", f.name.name),
                        )
                        .with_label(format!("this is {vt}")),
                    );
                }
            }
        }
    }

    pub(super) fn event(&mut self, e: &EventDecl) {
        let mut seen: HashMap<&str, Span> = HashMap::new();
        let mut carried = Vec::new();
        for entry in e.entries.iter().flatten() {
            if let Some(prev) = seen.insert(&entry.name.name, entry.name.span) {
                self.push(
                    Diagnostic::error(
                        codes::DUPLICATE,
                        entry.name.span,
                        format!("event `{}` lists `{}` twice", e.id.name, entry.name.name),
                    )
                    .with_related(prev, "first listed here"),
                );
            }
            match &entry.ty {
                None => {
                    self.refuse_derived(&entry.name, &format!("event `{}`", e.id.name));
                    if self.slot(&entry.name).is_none() {
                        let names: Vec<&str> = self
                            .sym
                            .fields
                            .keys()
                            .chain(self.sym.roles.keys())
                            .collect();
                        self.push(
                            Diagnostic::error(
                                codes::UNKNOWN_FIELD,
                                entry.name.span,
                                format!(
                                    "event `{}` sets `{}`, but the deal has no such field",
                                    e.id.name, entry.name.name
                                ),
                            )
                            .with_label("unknown field")
                            .with_help(did_you_mean(&entry.name.name, names).unwrap_or_else(|| {
                                format!(
                                    "declare it in `fields`, or give it a type here: `{}: text`",
                                    entry.name.name
                                )
                            })),
                        );
                    }
                }
                Some(ty) => {
                    let ty = self.type_spec(ty, true);
                    carried.push((entry.name.name.clone(), ty));
                }
            }
        }
        // What the event only carries, for the compiler (a second `event` of the same name
        // has no id: it was reported).
        if let Some(Def::Event(id)) = self.names.of(&e.id) {
            self.names.set_payload(id, carried);
        }
    }

    /// The type of a payload entry; lists are allowed only at the top of an event.
    pub(super) fn type_spec(&mut self, ty: &TypeSpec, allow_list: bool) -> Ty {
        match ty {
            TypeSpec::Named(name) => match Ty::from_field_type(&name.name) {
                Some(t) => t,
                None => {
                    if !allow_list || name.name != "list" {
                        self.push(
                            Diagnostic::error(
                                codes::UNKNOWN_TYPE,
                                name.span,
                                format!("`{}` is not a type", name.name),
                            )
                            .with_label("unknown type")
                            .with_help(
                                did_you_mean(&name.name, Ty::FIELD_TYPES.iter().copied())
                                    .unwrap_or_else(|| {
                                        format!(
                                            "a value is one of: {}, or `list of {{ … }}`",
                                            Ty::FIELD_TYPES.join(", ")
                                        )
                                    }),
                            ),
                        );
                    }
                    Ty::Unknown
                }
            },
            TypeSpec::List(entries, span) => {
                if !allow_list {
                    self.push(
                        Diagnostic::error(codes::UNKNOWN_TYPE, *span, "a list cannot hold lists")
                            .with_help(
                                "keep list entries to plain values like text, money or date"
                                    .to_string(),
                            ),
                    );
                }
                let mut rec = Vec::new();
                for e in entries {
                    let t = match &e.ty {
                        Some(t) => self.type_spec(t, false),
                        None => {
                            self.push(
                                Diagnostic::error(
                                    codes::UNKNOWN_TYPE,
                                    e.name.span,
                                    format!(
                                        "`{}` needs a type, e.g. `{}: text`",
                                        e.name.name, e.name.name
                                    ),
                                )
                                .with_label("no type"),
                            );
                            Ty::Unknown
                        }
                    };
                    rec.push((e.name.name.clone(), t));
                }
                Ty::List(rec)
            }
        }
    }

    pub(super) fn template(&mut self, t: &Template) {
        let (mut sms, mut email) = (None::<Span>, None::<Span>);
        for part in &t.parts {
            let slot = match part {
                TemplatePart::Sms { .. } => &mut sms,
                TemplatePart::Email { .. } => &mut email,
            };
            if let Some(prev) = slot.replace(part.span()) {
                self.push(
                    Diagnostic::error(
                        codes::DUPLICATE,
                        part.span(),
                        format!(
                            "template `{}` has two texts for the same channel",
                            t.id.name
                        ),
                    )
                    .with_related(prev, "the first one"),
                );
            }
            let scope = expr::Scope::template();
            match part {
                TemplatePart::Sms { text, .. } => {
                    self.string(text, &scope);
                }
                TemplatePart::Email {
                    subject,
                    body,
                    attach,
                    ..
                } => {
                    self.string(subject, &scope);
                    self.string(body, &scope);
                    if let Some(a) = attach {
                        let ty = self.expr(a, &scope);
                        if ty != Ty::Attachment && ty != Ty::Unknown {
                            self.push(
                                Diagnostic::error(codes::ARGUMENT_TYPE, a.span, format!("only `calendar(…)` can be attached, but this is {ty}"))
                                    .with_help("attach an invitation: `attach calendar(meeting_at, 1h, meeting_place)`".to_string()),
                            );
                        }
                    }
                }
            }
        }
    }

    pub(super) fn phases_and_alerts(&mut self) {
        let mut in_phase: HashMap<&str, &Ident> = HashMap::new();
        for p in self.sym.phases.clone() {
            for s in &p.stages {
                if !self.stage_ref(s) {
                    continue;
                }
                if let Some(prev) = in_phase.insert(&s.name, &p.id) {
                    self.push(
                        Diagnostic::warning(
                            codes::PHASE_OVERLAP,
                            s.span,
                            format!(
                                "stage `{}` is in phase `{}` and in phase `{}`",
                                s.name, prev.name, p.id.name
                            ),
                        )
                        .with_help(
                            "the dashboard shows a stage in one phase; keep it in one".to_string(),
                        ),
                    );
                }
            }
        }
        let scope = expr::Scope::alert();
        for a in self.sym.alerts.clone() {
            self.condition(&a.cond, &scope);
        }
    }
}
