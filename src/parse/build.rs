//! The parse tree turned into the AST of `ast.rs`. Literals that the grammar accepts but that do
//! not exist (`2026-02-30`, `25:00`, a number too big) become diagnostics here.

use std::sync::LazyLock;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use rust_decimal::Decimal;

use super::grammar::Rule;
use crate::ast::*;
use crate::diag::{Diagnostic, codes};

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::or_op, Assoc::Left))
        .op(Op::infix(Rule::and_op, Assoc::Left))
        .op(Op::prefix(Rule::not_op))
        .op(Op::infix(Rule::eq, Assoc::Left)
            | Op::infix(Rule::ne, Assoc::Left)
            | Op::infix(Rule::lt, Assoc::Left)
            | Op::infix(Rule::le, Assoc::Left)
            | Op::infix(Rule::gt, Assoc::Left)
            | Op::infix(Rule::ge, Assoc::Left))
        .op(Op::postfix(Rule::is_set) | Op::postfix(Rule::is_not_set))
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
        .op(Op::infix(Rule::mul, Assoc::Left) | Op::infix(Rule::div, Assoc::Left))
        .op(Op::prefix(Rule::neg))
});

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
    loop {
        let trimmed = input[start..end].trim_end();
        end = start + trimmed.len();
        match comments.iter().rev().find(|(_, e)| *e == end) {
            Some((cs, _)) => end = *cs,
            None => break,
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
            (Rule::set_calendar, Some(p)) => SettingKind::Calendar(ident(p)),
            (Rule::set_script, Some(p)) => SettingKind::Script(self.string(p)),
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
            default: None,
            label: None,
            span: sp,
        };
        for m in it {
            match m.as_rule() {
                Rule::required => decl.required = true,
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

    fn stage_line(&mut self, pair: Pair<'_, Rule>) -> Option<StageLine> {
        let sp = span(&pair);
        let rule = pair.as_rule();
        let mut it = children(pair).filter(|p| !is_keyword(p)).peekable();
        let kind = match rule {
            Rule::require => StageLineKind::Require(it.map(ident).collect()),
            Rule::skip => StageLineKind::Skip(self.expr(it.next()?)),
            Rule::on_enter => StageLineKind::OnEnter(self.block(it.next()?)),
            Rule::on_exit => StageLineKind::OnExit(self.block(it.next()?)),
            Rule::on_event => {
                let event = ident(it.next()?);
                let guard = self.guard(&mut it);
                StageLineKind::OnEvent {
                    event,
                    guard,
                    body: self.block(it.next()?),
                }
            }
            Rule::after_timer => {
                let delay = self.expr(it.next()?);
                let guard = self.guard(&mut it);
                StageLineKind::After {
                    delay,
                    guard,
                    body: self.block(it.next()?),
                }
            }
            Rule::at_timer => {
                let end_of = it.next_if(|p| p.as_rule() == Rule::end_of).is_some();
                let at = self.expr(it.next()?);
                let guard = self.guard(&mut it);
                StageLineKind::At {
                    end_of,
                    at,
                    guard,
                    body: self.block(it.next()?),
                }
            }
            _ => {
                let targets = children(it.next()?).map(ident).collect();
                let mut t = Transition {
                    targets,
                    trigger: None,
                    guard: None,
                    body: None,
                    span: sp,
                };
                for p in it {
                    match p.as_rule() {
                        Rule::trigger_on => {
                            t.trigger = children(p).nth(1).map(|e| Trigger::On(ident(e)));
                        }
                        Rule::trigger_after => {
                            t.trigger = children(p).nth(1).map(|e| Trigger::After(self.expr(e)));
                        }
                        Rule::trigger_at => {
                            let mut parts = children(p).skip(1).peekable();
                            let end_of = parts.next_if(|p| p.as_rule() == Rule::end_of).is_some();
                            if let Some(e) = parts.next() {
                                t.trigger = Some(Trigger::At {
                                    end_of,
                                    at: self.expr(e),
                                });
                            }
                        }
                        Rule::guard => t.guard = children(p).nth(1).map(|e| self.expr(e)),
                        _ => t.body = Some(self.block(p)),
                    }
                }
                StageLineKind::Transition(t)
            }
        };
        Some(StageLine { kind, span: sp })
    }

    fn guard<'i>(
        &mut self,
        it: &mut std::iter::Peekable<impl Iterator<Item = Pair<'i, Rule>>>,
    ) -> Option<Expr> {
        let g = it.next_if(|p| p.as_rule() == Rule::guard)?;
        children(g).nth(1).map(|e| self.expr(e))
    }

    fn block(&mut self, pair: Pair<'_, Rule>) -> Block {
        let sp = span(&pair);
        Block {
            actions: children(pair).filter_map(|a| self.action(a)).collect(),
            span: sp,
        }
    }

    fn action(&mut self, pair: Pair<'_, Rule>) -> Option<Action> {
        let sp = span(&pair);
        let rule = pair.as_rule();
        if rule == Rule::notify {
            return notify(pair).map(|kind| Action { kind, span: sp });
        }
        let mut it = children(pair).filter(|p| !is_keyword(p));
        let kind = match rule {
            Rule::set_action => {
                let target = ident(it.next()?);
                ActionKind::Set {
                    target,
                    value: self.expr(it.next()?),
                }
            }
            Rule::task => {
                let id = ident(it.next()?);
                let title = self.string(it.next()?);
                let role = ident(it.next()?);
                let (mut due, mut estimate) = (None, None);
                for p in it {
                    let is_due = p.as_rule() == Rule::task_due;
                    let value = children(p).nth(1).map(|e| self.expr(e));
                    if is_due {
                        due = value
                    } else {
                        estimate = value
                    }
                }
                ActionKind::Task {
                    id,
                    title,
                    role,
                    due,
                    estimate,
                }
            }
            Rule::group => {
                let title = self.string(it.next()?);
                ActionKind::Group {
                    title,
                    roles: it.map(ident).collect(),
                }
            }
            Rule::spawn => {
                let title = self.string(it.next()?);
                let targets = children(it.next()?).map(ident).collect();
                let body_pair = it.next();
                let has_body = body_pair.is_some();
                let body = body_pair
                    .map(|b| children(b).filter_map(|a| self.action(a)).collect())
                    .unwrap_or_default();
                ActionKind::Spawn {
                    title,
                    targets,
                    body,
                    has_body,
                }
            }
            _ => {
                let var = ident(it.next()?);
                let list = self.expr(it.next()?);
                ActionKind::ForEach {
                    var,
                    list,
                    body: self.block(it.next()?),
                }
            }
        };
        Some(Action { kind, span: sp })
    }

    fn string(&mut self, pair: Pair<'_, Rule>) -> Str {
        let sp = span(&pair);
        // `string` wraps exactly one of the two kinds.
        let inner = children(pair).next();
        let triple = inner
            .as_ref()
            .is_some_and(|p| p.as_rule() == Rule::triple_string);
        let mut parts: Vec<StrPart> = Vec::new();
        let push_text = |parts: &mut Vec<StrPart>, t: &str| match parts.last_mut() {
            Some(StrPart::Text(s)) => s.push_str(t),
            _ => parts.push(StrPart::Text(t.to_string())),
        };
        for p in inner.into_iter().flat_map(children) {
            match p.as_rule() {
                Rule::plain_text | Rule::triple_text => push_text(&mut parts, p.as_str()),
                Rule::escape => {
                    let c = match &p.as_str()[1..] {
                        "n" => "\n",
                        "t" => "\t",
                        other => other,
                    };
                    push_text(&mut parts, c);
                }
                _ => {
                    if let Some(e) = children(p).next() {
                        parts.push(StrPart::Interp(self.expr(e)));
                    }
                }
            }
        }
        Str {
            parts,
            triple,
            span: sp,
        }
    }

    fn expr(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let sp = span(&pair);
        let operators = pair
            .clone()
            .into_inner()
            .filter(|p| is_operator(p.as_rule()))
            .count();
        if operators > MAX_OPERATORS {
            return self.too_complex(
                sp,
                format!(
                    "this expression has {operators} operators; at most {MAX_OPERATORS} are allowed"
                ),
            );
        }
        let e = self.pratt(pair);
        if depth(&e) > MAX_EXPR_DEPTH {
            return self.too_complex(
                sp,
                format!("this expression is nested more than {MAX_EXPR_DEPTH} levels deep"),
            );
        }
        e
    }

    fn too_complex(&mut self, span: Span, message: String) -> Expr {
        self.diags.push(
            Diagnostic::error(codes::TOO_DEEP, span, message)
                .with_label("too complex")
                .with_help(
                    "split it: set a field to part of it first, then use that field".to_string(),
                ),
        );
        Expr {
            kind: ExprKind::Lit(Literal::Bool(false)),
            span,
        }
    }

    fn pratt(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let items = pair.into_inner().filter(|p| p.as_rule() != Rule::COMMENT);
        PRATT
            .map_primary(|p| self.primary(p))
            .map_prefix(|op, rhs| {
                let span = span(&op).to(rhs.span);
                let op = if op.as_rule() == Rule::not_op {
                    UnaryOp::Not
                } else {
                    UnaryOp::Neg
                };
                Expr {
                    kind: ExprKind::Unary(op, Box::new(rhs)),
                    span,
                }
            })
            .map_postfix(|lhs, op| {
                let span = lhs.span.to(crate::parse::build::span(&op));
                let negated = op.as_rule() == Rule::is_not_set;
                Expr {
                    kind: ExprKind::IsSet(Box::new(lhs), negated),
                    span,
                }
            })
            .map_infix(|lhs, op, rhs| {
                let span = lhs.span.to(rhs.span);
                let op = match op.as_rule() {
                    Rule::or_op => BinaryOp::Or,
                    Rule::and_op => BinaryOp::And,
                    Rule::eq => BinaryOp::Eq,
                    Rule::ne => BinaryOp::Ne,
                    Rule::lt => BinaryOp::Lt,
                    Rule::le => BinaryOp::Le,
                    Rule::gt => BinaryOp::Gt,
                    Rule::ge => BinaryOp::Ge,
                    Rule::add => BinaryOp::Add,
                    Rule::sub => BinaryOp::Sub,
                    Rule::mul => BinaryOp::Mul,
                    _ => BinaryOp::Div,
                };
                Expr {
                    kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                    span,
                }
            })
            .parse(items)
    }

    fn primary(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let sp = span(&pair);
        let kind = match pair.as_rule() {
            Rule::literal => return self.literal(pair),
            Rule::string => ExprKind::Str(self.string(pair)),
            Rule::in_stage => match children(pair).nth(1) {
                Some(s) => ExprKind::InStage(ident(s)),
                None => ExprKind::Lit(Literal::Bool(false)),
            },
            Rule::call => {
                let mut it = children(pair);
                let Some(name) = it.next().map(ident) else {
                    return Expr {
                        kind: ExprKind::Lit(Literal::Bool(false)),
                        span: sp,
                    };
                };
                let args = it.map(|a| self.expr(a)).collect();
                ExprKind::Call(name, args)
            }
            Rule::path => {
                let mut it = children(pair).map(ident);
                let Some(head) = it.next() else {
                    return Expr {
                        kind: ExprKind::Lit(Literal::Bool(false)),
                        span: sp,
                    };
                };
                let mut e = Expr {
                    span: head.span,
                    kind: ExprKind::Name(head),
                };
                for member in it {
                    let span = e.span.to(member.span);
                    e = Expr {
                        kind: ExprKind::Member(Box::new(e), member),
                        span,
                    };
                }
                return e;
            }
            _ => match children(pair).next() {
                Some(inner) => ExprKind::Paren(Box::new(self.expr(inner))),
                None => ExprKind::Lit(Literal::Bool(false)),
            },
        };
        Expr { kind, span: sp }
    }

    fn literal(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let sp = span(&pair);
        let value = match children(pair).next() {
            Some(tok) => self.literal_token(tok),
            None => Literal::Bool(false),
        };
        Expr {
            kind: ExprKind::Lit(value),
            span: sp,
        }
    }

    fn literal_token(&mut self, tok: Pair<'_, Rule>) -> Literal {
        let sp = span(&tok);
        let text = tok.as_str();
        match tok.as_rule() {
            Rule::datetime => {
                let parsed = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
                    .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"));
                match parsed {
                    Ok(v) => Literal::DateTime(v),
                    Err(_) => {
                        self.bad_literal(sp, format!("`{text}` is not a real date and time"));
                        Literal::DateTime(NaiveDateTime::MIN)
                    }
                }
            }
            Rule::date => Literal::Date(self.date(tok).value),
            Rule::time => Literal::Time(self.time(tok).value),
            Rule::decimal => match text.parse::<Decimal>() {
                Ok(d) => Literal::Decimal(d),
                Err(_) => {
                    self.bad_literal(sp, format!("`{text}` is too big a number"));
                    Literal::Decimal(Decimal::ZERO)
                }
            },
            Rule::integer => match text.parse::<i64>() {
                Ok(n) => Literal::Int(n),
                Err(_) => {
                    self.bad_literal(sp, format!("`{text}` is too big a number"));
                    Literal::Int(0)
                }
            },
            Rule::boolean => Literal::Bool(text == "true"),
            _ => {
                let mut it = children(tok);
                let amount_text = it.next().map(|p| p.as_str()).unwrap_or("0");
                let unit = it
                    .next()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default();
                let amount = amount_text.parse::<i64>().unwrap_or_else(|_| {
                    self.bad_literal(sp, format!("`{amount_text}` is too big a number"));
                    0
                });
                Literal::Duration { amount, unit }
            }
        }
    }

    fn date(&mut self, pair: Pair<'_, Rule>) -> Timed<NaiveDate> {
        let sp = span(&pair);
        let value = NaiveDate::parse_from_str(pair.as_str(), "%Y-%m-%d").unwrap_or_else(|_| {
            self.bad_literal(sp, format!("`{}` is not a real date", pair.as_str()));
            NaiveDate::MIN
        });
        Timed { value, span: sp }
    }

    fn time(&mut self, pair: Pair<'_, Rule>) -> Timed<NaiveTime> {
        let sp = span(&pair);
        let text = pair.as_str();
        let value = NaiveTime::parse_from_str(text, "%H:%M")
            .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M:%S"))
            .unwrap_or_else(|_| {
                self.bad_literal(sp, format!("`{text}` is not a time of day"));
                NaiveTime::MIN
            });
        Timed { value, span: sp }
    }

    fn bad_literal(&mut self, span: Span, message: String) {
        self.diags.push(
            Diagnostic::error(codes::BAD_LITERAL, span, message)
                .with_label("does not exist")
                .with_help(
                    "dates are written year-month-day (`2026-03-02`), times hours:minutes (`10:00`)"
                        .to_string(),
                ),
        );
    }
}

/// Operators in one expression (not counting those inside brackets).
const MAX_OPERATORS: usize = 100;
/// Depth of one expression tree; deeper ones are refused before anything walks them.
const MAX_EXPR_DEPTH: usize = 100;

fn is_operator(rule: Rule) -> bool {
    use Rule::*;
    matches!(
        rule,
        or_op
            | and_op
            | eq
            | ne
            | le
            | ge
            | lt
            | gt
            | add
            | sub
            | mul
            | div
            | not_op
            | neg
            | is_set
            | is_not_set
    )
}

/// The depth of an expression tree, measured without recursion.
fn depth(e: &Expr) -> usize {
    let mut max = 0;
    let mut todo = vec![(e, 1usize)];
    while let Some((e, d)) = todo.pop() {
        max = max.max(d);
        match &e.kind {
            ExprKind::Member(x, _)
            | ExprKind::Unary(_, x)
            | ExprKind::IsSet(x, _)
            | ExprKind::Paren(x) => todo.push((x, d + 1)),
            ExprKind::Binary(_, l, r) => {
                todo.push((l, d + 1));
                todo.push((r, d + 1));
            }
            ExprKind::Call(_, args) => todo.extend(args.iter().map(|a| (a, d + 1))),
            ExprKind::Str(s) => todo.extend(s.parts.iter().filter_map(|p| match p {
                StrPart::Interp(x) => Some((x, d + 1)),
                StrPart::Text(_) => None,
            })),
            ExprKind::Lit(_) | ExprKind::Name(_) | ExprKind::InStage(_) => {}
        }
    }
    max
}

fn is_keyword(p: &Pair<'_, Rule>) -> bool {
    matches!(
        p.as_rule(),
        Rule::k_after
            | Rule::k_alert
            | Rule::k_and
            | Rule::k_at
            | Rule::k_attach
            | Rule::k_body
            | Rule::k_calendar
            | Rule::k_currency
            | Rule::k_deal
            | Rule::k_default
            | Rule::k_due
            | Rule::k_each
            | Rule::k_email
            | Rule::k_end
            | Rule::k_enter
            | Rule::k_estimate
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

/// Splits `notify a, b via sms, email with t` into its three lists at the keywords.
fn notify(pair: Pair<'_, Rule>) -> Option<ActionKind> {
    let (mut who, mut via, mut template) = (Vec::new(), Vec::new(), None);
    let mut section = 0;
    for p in children(pair) {
        match p.as_rule() {
            Rule::k_notify => {}
            Rule::k_via => section = 1,
            Rule::k_with => section = 2,
            _ if section == 0 => who.push(ident(p)),
            _ if section == 1 => via.push(ident(p)),
            _ => template = Some(ident(p)),
        }
    }
    Some(ActionKind::Notify {
        who,
        via,
        template: template?,
    })
}
