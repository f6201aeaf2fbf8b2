//! Derived fields (`margin: money = amount - labour_cost`): computed from the deal after every
//! change, so nothing may set them, they take no modifier that only a typed-in value has, their
//! expression must give what the field holds, and no two may be computed from each other.

use std::collections::{BTreeMap, BTreeSet};

use super::{Checker, expr};
use crate::ast::*;
use crate::diag::{Diagnostic, codes};

impl<'a> Checker<'a> {
    pub(super) fn derived_fields(&mut self) {
        let fields: Vec<(&'a FieldDecl, crate::types::Ty)> = self
            .sym
            .fields
            .values()
            .filter(|(f, _)| f.derived.is_some())
            .map(|(f, t)| (*f, t.clone()))
            .collect();
        let scope = expr::Scope::stage();
        let mut reads: BTreeMap<&str, (Span, BTreeSet<String>)> = BTreeMap::new();
        for (f, ty) in fields {
            let Some(e) = &f.derived else { continue };
            for (on, word) in [
                (f.required, "required"),
                (f.personal, "personal"),
                (f.default.is_some(), "default"),
            ] {
                if on {
                    self.push(
                        Diagnostic::error(
                            codes::DERIVED_MODIFIER,
                            f.name.span,
                            format!("`{}` is derived: it cannot be `{word}`", f.name.name),
                        )
                        .with_label(format!("computed by `= …`, marked `{word}`"))
                        .with_help(
                            "a derived field always has the value its expression gives; \
                             remove the modifier, or the `= …` to type the value in"
                                .to_string(),
                        ),
                    );
                }
            }
            let vt = self.expr(e, &scope);
            if !ty.accepts(&vt) {
                self.push(
                    Diagnostic::error(
                        codes::SET_TYPE,
                        e.span,
                        format!("`{}` holds {ty}, but its expression is {vt}", f.name.name),
                    )
                    .with_label(format!("this is {vt}")),
                );
            }
            let mut names = BTreeSet::new();
            names_in(e, &mut names);
            reads.insert(&f.name.name, (f.name.span, names));
        }
        self.derived_circles(&reads);
    }

    /// Reports each circle of derived fields once, on the first of its fields.
    fn derived_circles(&mut self, reads: &BTreeMap<&str, (Span, BTreeSet<String>)>) {
        let mut reported: BTreeSet<&str> = BTreeSet::new();
        for &start in reads.keys() {
            if reported.contains(start) {
                continue;
            }
            let Some(path) = circle_from(start, reads) else {
                continue;
            };
            reported.extend(path.iter().copied());
            let (span, _) = reads[start];
            let mut shown: Vec<&str> = path.clone();
            shown.push(start);
            self.push(
                Diagnostic::error(
                    codes::DERIVED_CIRCLE,
                    span,
                    format!(
                        "derived fields are computed from each other: {}",
                        shown
                            .iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(" → ")
                    ),
                )
                .with_label("computed from itself, through the others")
                .with_help(
                    "one of them must be a plain field, or be computed from other fields"
                        .to_string(),
                ),
            );
        }
    }

    /// `n` names a derived field that something tries to set by hand (`how`: what tries).
    pub(super) fn refuse_derived(&mut self, n: &Ident, how: &str) {
        let derived = self
            .sym
            .fields
            .get(&n.name)
            .is_some_and(|(f, _)| f.derived.is_some());
        if derived {
            self.push(
                Diagnostic::error(
                    codes::DERIVED_SET,
                    n.span,
                    format!("`{}` is derived: {how} cannot set it", n.name),
                )
                .with_label("a derived field")
                .with_help(format!(
                    "its value is computed after every change of the deal; set the fields `{}` is computed from",
                    n.name
                )),
            );
        }
    }
}

/// A path of derived fields from `start` back to it, if there is one (depth first, in name
/// order, so the same file always reports the same circle).
fn circle_from<'n>(
    start: &'n str,
    reads: &BTreeMap<&'n str, (Span, BTreeSet<String>)>,
) -> Option<Vec<&'n str>> {
    fn walk<'n>(
        at: &'n str,
        start: &str,
        reads: &BTreeMap<&'n str, (Span, BTreeSet<String>)>,
        path: &mut Vec<&'n str>,
        seen: &mut BTreeSet<&'n str>,
    ) -> bool {
        path.push(at);
        for next in &reads[at].1 {
            if next == start {
                return true;
            }
            if let Some((&key, _)) = reads.get_key_value(next.as_str())
                && seen.insert(key)
                && walk(key, start, reads, path, seen)
            {
                return true;
            }
        }
        path.pop();
        false
    }
    let mut path = Vec::new();
    let mut seen = BTreeSet::new();
    walk(start, start, reads, &mut path, &mut seen).then_some(path)
}

/// The plain names an expression reads (fields, roles, built-ins; not `x.member`'s member).
pub fn names_in(e: &Expr, out: &mut BTreeSet<String>) {
    match &e.kind {
        ExprKind::Lit(_) | ExprKind::InStage(_) => {}
        ExprKind::Str(s) => {
            for p in &s.parts {
                if let StrPart::Interp(x) = p {
                    names_in(x, out);
                }
            }
        }
        ExprKind::Name(id) => {
            out.insert(id.name.clone());
        }
        ExprKind::Member(base, _) => names_in(base, out),
        ExprKind::Call(_, args) => args.iter().for_each(|a| names_in(a, out)),
        ExprKind::Unary(_, x) | ExprKind::IsSet(x, _) | ExprKind::Paren(x) => names_in(x, out),
        ExprKind::Binary(_, a, b) => {
            names_in(a, out);
            names_in(b, out);
        }
    }
}
