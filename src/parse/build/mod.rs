//! The parse tree turned into the AST of `ast.rs`. Literals that the grammar accepts but that do
//! not exist (`2026-02-30`, `25:00`, a number too big) become diagnostics here.
//!
//! This file builds the declarations; `stages` the stage lines and their actions, `exprs`
//! expressions, texts and literals.

mod exprs;
mod stages;

use chrono::{NaiveDate, NaiveTime};
use pest::iterators::{Pair, Pairs};

use super::grammar::Rule;
use crate::ast::*;
use crate::diag::Diagnostic;

/// Builds the file; returns the AST and the literal errors found on the way.
pub(super) fn file(pairs: Pairs<'_, Rule>) -> (File, Vec<Diagnostic>) {
    let mut b = Builder { diags: Vec::new() };
    let mut file = File::default();
    for pair in pairs.clone().flatten() {
        if pair.as_rule() == Rule::COMMENT {
            file.comments.push(Comment {
                text: pair.as_str().trim_end().to_string(),
                span: span(&pair),
            });
        }
    }
    for top in pairs {
        for item in children(top) {
            if let Some(item) = b.item(item) {
                file.items.push(item);
            }
        }
    }
    (file, b.diags)
}

struct Builder {
    diags: Vec<Diagnostic>,
}

/// The span of a pair without the whitespace and comments that pest lets a rule swallow when
/// its last part is optional (`a ~ b?` skips blanks before trying `b`).
fn span(pair: &Pair<'_, Rule>) -> Span {
    let s = pair.as_span();
    let (start, mut end) = (s.start(), s.end());
    let text = s.as_str();
    let tail = text.rsplit('\n').next().unwrap_or("");
    if !text.ends_with(char::is_whitespace) && !tail.contains('#') {
        return Span::new(start, end);
    }
    let comments: Vec<(usize, usize)> = pair
        .clone()
        .into_inner()
        .flatten()
        .filter(|p| p.as_rule() == Rule::COMMENT)
        .map(|p| (p.as_span().start(), p.as_span().end()))
        .collect();
    let input = s.get_input();
    // From the end backwards, blanks and comments alternately: one walk over the comments
    // (a file of mostly comments has hundreds of thousands of them in one pair).
    let mut rest = comments.len();
    loop {
        let trimmed = input[start..end].trim_end();
        end = start + trimmed.len();
        while rest > 0 && comments[rest - 1].1 > end {
            rest -= 1;
        }
        match rest.checked_sub(1).map(|i| comments[i]) {
            Some((cs, ce)) if ce == end => {
                end = cs;
                rest -= 1;
            }
            _ => break,
        }
    }
    Span::new(start, end)
}

/// The children of a pair, comments left out.
fn children<'i>(pair: Pair<'i, Rule>) -> impl Iterator<Item = Pair<'i, Rule>> {
    pair.into_inner().filter(|p| {
        !matches!(
            p.as_rule(),
            Rule::COMMENT | Rule::lbrace | Rule::rbrace | Rule::assign | Rule::colon
        )
    })
}

fn ident(pair: Pair<'_, Rule>) -> Ident {
    Ident {
        name: pair.as_str().to_string(),
        span: span(&pair),
    }
}

fn is_keyword(p: &Pair<'_, Rule>) -> bool {
    matches!(
        p.as_rule(),
        Rule::k_after
            | Rule::k_alert
            | Rule::k_and
            | Rule::k_as
            | Rule::k_at
            | Rule::k_attach
            | Rule::k_body
            | Rule::k_calendar
            | Rule::k_currency
            | Rule::k_country
            | Rule::k_maps
            | Rule::k_deal
            | Rule::k_default
            | Rule::k_due
            | Rule::k_each
            | Rule::k_email
            | Rule::k_end
            | Rule::k_enter
            | Rule::k_estimate
            | Rule::k_migrate
            | Rule::k_field
            | Rule::k_event
            | Rule::k_exit
            | Rule::k_fields
            | Rule::k_final
            | Rule::k_for
            | Rule::k_group
            | Rule::k_holidays
            | Rule::k_hook
            | Rule::k_hours
            | Rule::k_in
            | Rule::k_is
            | Rule::k_join
            | Rule::k_list
            | Rule::k_not
            | Rule::k_notify
            | Rule::k_of
            | Rule::k_on
            | Rule::k_or
            | Rule::k_phase
            | Rule::k_pipeline
            | Rule::k_require
            | Rule::k_required
            | Rule::k_personal
            | Rule::k_role
            | Rule::k_script
            | Rule::k_set
            | Rule::k_skip
            | Rule::k_sms
            | Rule::k_spawn
            | Rule::k_stage
            | Rule::k_subject
            | Rule::k_task
            | Rule::k_template
            | Rule::k_timezone
            | Rule::k_to
            | Rule::k_via
            | Rule::k_when
            | Rule::k_with
            | Rule::k_workweek
    )
}

impl Builder {
    fn item(&mut self, pair: Pair<'_, Rule>) -> Option<Item> {
        let sp = span(&pair);
        let rule = pair.as_rule();
        let mut it = children(pair).peekable();
        // Every item starts with its keyword token.
        if it.peek().is_some_and(|p| is_keyword(p)) {
            it.next();
        }
        Some(match rule {
            Rule::pipeline => {
                let id = ident(it.next()?);
                let title = self.string(it.next()?);
                let settings = it.map(|s| self.setting(s)).collect();
                Item::Pipeline(Pipeline {
                    id,
                    title,
                    settings,
                    span: sp,
                })
            }
            Rule::calendar => {
                let id = ident(it.next()?);
                let lines = it.map(|l| self.calendar_line(l)).collect();
                Item::Calendar(Calendar {
                    id,
                    lines,
                    span: sp,
                })
            }
            Rule::role => {
                let id = ident(it.next()?);
                let title = it.next().map(|s| self.string(s));
                Item::Role(Role {
                    id,
                    title,
                    span: sp,
                })
            }
            Rule::fields => Item::Fields(Fields {
                fields: it.map(|f| self.field_decl(f)).collect(),
                span: sp,
            }),
            Rule::event_decl => {
                let id = ident(it.next()?);
                let entries = it.next().map(|body| self.entries(body));
                Item::Event(EventDecl {
                    id,
                    entries,
                    span: sp,
                })
            }
            Rule::template => {
                let id = ident(it.next()?);
                let parts = it.filter_map(|p| self.template_part(p)).collect();
                Item::Template(Template {
                    id,
                    parts,
                    span: sp,
                })
            }
            Rule::stage => {
                let id = ident(it.next()?);
                let title = self.string(it.next()?);
                let (mut join, mut is_final, mut body) = (false, false, None);
                for p in it {
                    match p.as_rule() {
                        Rule::stage_flag => match p.as_str() {
                            "join" => join = true,
                            _ => is_final = true,
                        },
                        _ => body = Some(children(p).filter_map(|l| self.stage_line(l)).collect()),
                    }
                }
                Item::Stage(Stage {
                    id,
                    title,
                    join,
                    is_final,
                    body,
                    span: sp,
                })
            }
            Rule::phase => {
                let id = ident(it.next()?);
                let title = self.string(it.next()?);
                let stages = it.map(ident).collect();
                Item::Phase(Phase {
                    id,
                    title,
                    stages,
                    span: sp,
                })
            }
            Rule::alert => {
                let id = ident(it.next()?);
                let title = self.string(it.next()?);
                let cond = self.expr(it.nth(1)?);
                Item::Alert(Alert {
                    id,
                    title,
                    cond,
                    span: sp,
                })
            }
            Rule::migrate => {
                let what = it.next()?;
                let stage = what.as_rule() == Rule::migrate_stage;
                let mut parts = children(what).filter(|p| !is_keyword(p));
                let from = ident(parts.next()?);
                let to = ident(parts.next()?);
                let kind = if stage {
                    MigrationKind::Stage {
                        from,
                        to,
                        enter: parts.next().is_some(),
                    }
                } else {
                    MigrationKind::Field { from, to }
                };
                Item::Migrate(Migration { kind, span: sp })
            }
            _ => return None,
        })
    }

    fn setting(&mut self, pair: Pair<'_, Rule>) -> Setting {
        let sp = span(&pair);
        let rule = pair.as_rule();
        let last = children(pair).last();
        let kind = match (rule, last) {
            (Rule::set_timezone, Some(p)) => SettingKind::Timezone(self.string(p)),
            (Rule::set_currency, Some(p)) => SettingKind::Currency(ident(p)),
            (Rule::set_country, Some(p)) => SettingKind::Country(ident(p)),
            (Rule::set_calendar, Some(p)) => SettingKind::Calendar(ident(p)),
            (Rule::set_script, Some(p)) => SettingKind::Script(self.string(p)),
            (Rule::set_maps, Some(p)) => SettingKind::Maps(self.string(p)),
            (_, Some(p)) => SettingKind::NotifyHook(ident(p)),
            (_, None) => SettingKind::Currency(Ident {
                name: String::new(),
                span: sp,
            }),
        };
        Setting { kind, span: sp }
    }

    fn calendar_line(&mut self, pair: Pair<'_, Rule>) -> CalendarLine {
        let sp = span(&pair);
        let rule = pair.as_rule();
        let items = children(pair).filter(|p| !is_keyword(p));
        let kind = match rule {
            Rule::workweek => CalendarLineKind::Workweek(
                items
                    .map(|d| {
                        let mut days = children(d).map(ident);
                        let first = days.next().unwrap_or(Ident {
                            name: String::new(),
                            span: sp,
                        });
                        (first, days.next())
                    })
                    .collect(),
            ),
            Rule::hours => CalendarLineKind::Hours(
                items
                    .map(|r| {
                        let mut t = children(r).map(|p| self.time(p));
                        let from = t.next().unwrap_or(Timed {
                            value: NaiveTime::MIN,
                            span: sp,
                        });
                        let to = t.next().unwrap_or(Timed {
                            value: NaiveTime::MIN,
                            span: sp,
                        });
                        (from, to)
                    })
                    .collect(),
            ),
            _ => CalendarLineKind::Holidays(
                items
                    .map(|r| {
                        let mut d = children(r).map(|p| self.date(p));
                        let from = d.next().unwrap_or(Timed {
                            value: NaiveDate::MIN,
                            span: sp,
                        });
                        (from, d.next())
                    })
                    .collect(),
            ),
        };
        CalendarLine { kind, span: sp }
    }

    fn field_decl(&mut self, pair: Pair<'_, Rule>) -> FieldDecl {
        let sp = span(&pair);
        let mut it = children(pair);
        let name = it.next().map(ident).unwrap_or_else(|| Ident {
            name: String::new(),
            span: sp,
        });
        let ty = it.next().map(ident).unwrap_or_else(|| Ident {
            name: String::new(),
            span: sp,
        });
        let mut decl = FieldDecl {
            name,
            ty,
            required: false,
            personal: false,
            default: None,
            derived: None,
            label: None,
            span: sp,
        };
        for m in it {
            match m.as_rule() {
                Rule::derived => decl.derived = children(m).next().map(|e| self.expr(e)),
                Rule::required => decl.required = true,
                Rule::personal => decl.personal = true,
                Rule::default => {
                    if let Some(v) = children(m).nth(1) {
                        decl.default = Some(self.default_value(v));
                    }
                }
                _ => {
                    if let Some(s) = children(m).next() {
                        decl.label = Some(self.string(s));
                    }
                }
            }
        }
        decl
    }

    fn default_value(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let sp = span(&pair);
        match pair.as_rule() {
            Rule::string => Expr {
                kind: ExprKind::Str(self.string(pair)),
                span: sp,
            },
            Rule::neg_literal => {
                let inner = children(pair).next();
                let value = inner
                    .map(|p| self.literal_token(p))
                    .unwrap_or(Literal::Int(0));
                let lit = Expr {
                    kind: ExprKind::Lit(value),
                    span: Span::new(sp.start + 1, sp.end),
                };
                Expr {
                    kind: ExprKind::Unary(UnaryOp::Neg, Box::new(lit)),
                    span: sp,
                }
            }
            _ => self.literal(pair),
        }
    }

    fn entries(&mut self, pair: Pair<'_, Rule>) -> Vec<EventEntry> {
        children(pair).map(|e| self.entry(e)).collect()
    }

    fn entry(&mut self, pair: Pair<'_, Rule>) -> EventEntry {
        let sp = span(&pair);
        let mut it = children(pair);
        let name = it.next().map(ident).unwrap_or_else(|| Ident {
            name: String::new(),
            span: sp,
        });
        let ty = it
            .next()
            .and_then(|t| children(t).next())
            .map(|t| match t.as_rule() {
                Rule::list_type => {
                    let lsp = span(&t);
                    let entries = children(t)
                        .filter(|p| p.as_rule() == Rule::event_entry)
                        .map(|e| self.entry(e));
                    TypeSpec::List(entries.collect(), lsp)
                }
                _ => TypeSpec::Named(ident(t)),
            });
        EventEntry { name, ty, span: sp }
    }

    fn template_part(&mut self, pair: Pair<'_, Rule>) -> Option<TemplatePart> {
        let sp = span(&pair);
        let rule = pair.as_rule();
        let mut it = children(pair).filter(|p| !is_keyword(p));
        Some(match rule {
            Rule::tpl_sms => TemplatePart::Sms {
                text: self.string(it.next()?),
                span: sp,
            },
            _ => TemplatePart::Email {
                subject: self.string(it.next()?),
                body: self.string(it.next()?),
                attach: it.next().map(|e| self.expr(e)),
                span: sp,
            },
        })
    }
}
