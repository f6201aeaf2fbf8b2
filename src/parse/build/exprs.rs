//! Expressions (operators by precedence, nesting bounded so that a hostile file cannot
//! overflow the stack), texts with `{{ }}` parts, and literals that must exist.

use std::sync::LazyLock;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};
use rust_decimal::Decimal;

use super::{Builder, children, ident, span};
use crate::ast::*;
use crate::diag::{Diagnostic, codes};
use crate::parse::grammar::Rule;

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

impl Builder {
    pub(super) fn string(&mut self, pair: Pair<'_, Rule>) -> Str {
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

    pub(super) fn expr(&mut self, pair: Pair<'_, Rule>) -> Expr {
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

    pub(super) fn literal(&mut self, pair: Pair<'_, Rule>) -> Expr {
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

    pub(super) fn literal_token(&mut self, tok: Pair<'_, Rule>) -> Literal {
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

    pub(super) fn date(&mut self, pair: Pair<'_, Rule>) -> Timed<NaiveDate> {
        let sp = span(&pair);
        let value = NaiveDate::parse_from_str(pair.as_str(), "%Y-%m-%d").unwrap_or_else(|_| {
            self.bad_literal(sp, format!("`{}` is not a real date", pair.as_str()));
            NaiveDate::MIN
        });
        Timed { value, span: sp }
    }

    pub(super) fn time(&mut self, pair: Pair<'_, Rule>) -> Timed<NaiveTime> {
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
