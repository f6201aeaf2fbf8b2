//! `migrate` lines. The checker sees only the new file: a migration's target must exist and be
//! of the right kind (a stage deals can stand in, a field); its source is a name the file no
//! longer has, so that it is not reported unknown — but a source the file still has is one
//! the migration can never apply to.

use std::collections::HashMap;

use super::{Checker, Def};
use crate::ast::*;
use crate::diag::{Diagnostic, codes, did_you_mean};

impl Checker<'_> {
    pub(super) fn migrations(&mut self) {
        let file = self.file;
        let mut first: HashMap<(bool, &str), Span> = HashMap::new();
        for item in &file.items {
            let Item::Migrate(m) = item else { continue };
            let (stage, from, to) = match &m.kind {
                MigrationKind::Stage { from, to, .. } => (true, from, to),
                MigrationKind::Field { from, to } => (false, from, to),
            };
            let what = if stage { "stage" } else { "field" };
            if let Some(prev) = first.get(&(stage, from.name.as_str())).copied() {
                self.push(
                    Diagnostic::error(
                        codes::DUPLICATE,
                        from.span,
                        format!("{what} `{}` is migrated twice", from.name),
                    )
                    .with_label("migrated again here")
                    .with_related(prev, "first migrated here")
                    .with_help("keep one of the two lines".to_string()),
                );
            } else {
                first.insert((stage, from.name.as_str()), from.span);
            }
            let still_there = if stage {
                self.sym.stages.contains_key(&from.name)
            } else {
                self.sym.fields.contains_key(&from.name)
            };
            if still_there {
                self.push(
                    Diagnostic::warning(
                        codes::MIGRATION_IDLE,
                        from.span,
                        format!("the rules still have {what} `{}`", from.name),
                    )
                    .with_label("never migrated")
                    .with_help(format!(
                        "a migration applies to a {what} the rules no longer have; remove the line, or the {what}"
                    )),
                );
            }
            if stage {
                self.migration_stage(to);
            } else {
                self.migration_field(to);
            }
        }
    }

    fn migration_stage(&mut self, to: &Ident) {
        if !self.stage_ref(to) {
            return;
        }
        if self.sym.stages.get(&to.name).is_some_and(|s| s.join) {
            self.push(
                Diagnostic::error(
                    codes::MIGRATION_TARGET,
                    to.span,
                    format!("deals cannot be migrated into `{}`: it is a join", to.name),
                )
                .with_label("a join stage")
                .with_help(
                    "a join waits for the tracks of a split; migrate into a stage before it"
                        .to_string(),
                ),
            );
        }
    }

    fn migration_field(&mut self, to: &Ident) {
        if let Some(id) = self.sym.fields.id(&to.name) {
            self.names.record(to, Def::Field(id));
            return;
        }
        if self.sym.roles.contains_key(&to.name) {
            self.push(
                Diagnostic::error(
                    codes::MIGRATION_TARGET,
                    to.span,
                    format!("`{}` is a role, not a field", to.name),
                )
                .with_label("a role")
                .with_help("a field's value can only go to a field".to_string()),
            );
            return;
        }
        let names: Vec<&str> = self.sym.fields.keys().collect();
        self.push(
            Diagnostic::error(
                codes::UNKNOWN_FIELD,
                to.span,
                format!("the deal has no field `{}`", to.name),
            )
            .with_label("unknown field")
            .with_help(
                did_you_mean(&to.name, names)
                    .unwrap_or_else(|| format!("declare it in `fields`: `{}: text`", to.name)),
            ),
        );
    }
}
