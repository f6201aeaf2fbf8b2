//! Expressions compiled: names become what the checker found them to stand for (field, role,
//! local or built-in value); calls become built-ins or script calls; literals become values.

use chrono::TimeZone;

use super::plan::{Builtin, Expr};
use super::{CompileError, Compiler};
use crate::ast::{self, ExprKind, Literal, UnaryOp};
use crate::check::{self, Def};
use crate::types::Ty;
use crate::value::{Duration, Value};

pub(crate) fn compile(c: &Compiler<'_>, e: &ast::Expr) -> Result<Expr, CompileError> {
    Ok(match &e.kind {
        ExprKind::Lit(l) => Expr::Lit(literal(l, c, e.span)?),
        ExprKind::Str(s) => {
            // A string with `{{ }}` inside an expression: only plain strings are constants.
            match s.plain() {
                Some(t) => Expr::Lit(Value::Text(t)),
                None => {
                    let mut parts = Vec::new();
                    for p in &s.parts {
                        match p {
                            ast::StrPart::Text(t) => parts.push(Expr::Lit(Value::Text(t.clone()))),
                            ast::StrPart::Interp(x) => parts.push(compile(c, x)?),
                        }
                    }
                    // Concatenation: a chain of `+` over texts.
                    parts
                        .into_iter()
                        .reduce(|a, b| Expr::Binary(ast::BinaryOp::Add, Box::new(a), Box::new(b)))
                        .unwrap_or(Expr::Lit(Value::Text(String::new())))
                }
            }
        }
        ExprKind::Paren(x) => compile(c, x)?,
        ExprKind::Name(id) => match c.def(id) {
            Some(Def::Local(pos)) => Expr::Local(pos),
            Some(Def::Field(f)) => Expr::Field(f),
            Some(Def::Role(r)) => Expr::Role(r),
            Some(Def::Builtin(b)) => match b {
                check::Builtin::Now => Expr::Now,
                check::Builtin::Today => Expr::Today,
                check::Builtin::Title => Expr::Title,
                check::Builtin::HoursSpent => Expr::HoursSpent,
                check::Builtin::OpenTasks => Expr::OpenTasks,
                check::Builtin::Deal => Expr::Deal,
                check::Builtin::DealUrl => Expr::DealUrl,
            },
            _ => return Err(c.unresolved("name", id)),
        },
        ExprKind::Member(base, m) => {
            // `event.NAME`, unless a `for each` variable is called `event`.
            let is_event = matches!(&base.kind, ExprKind::Name(id)
                if id.name == "event" && !matches!(c.def(id), Some(Def::Local(_))));
            if is_event {
                return Ok(Expr::EventValue(m.name.clone()));
            }
            Expr::Member(Box::new(compile(c, base)?), m.name.clone())
        }
        ExprKind::InStage(s) => Expr::InStage(c.stage_id(s)?),
        ExprKind::Call(f, args) => {
            let args = args
                .iter()
                .map(|a| compile(c, a))
                .collect::<Result<Vec<_>, _>>()?;
            let builtin = match f.name.as_str() {
                "next_workday" => Some(Builtin::NextWorkday),
                "add_workdays" => Some(Builtin::AddWorkdays),
                "workdays_between" => Some(Builtin::WorkdaysBetween),
                "format" => Some(Builtin::Format),
                "map_link" => Some(Builtin::MapLink),
                "calendar" => Some(Builtin::Calendar),
                "cancellation" => Some(Builtin::Cancellation),
                "len" => Some(Builtin::Len),
                _ => None,
            };
            match builtin {
                Some(b) => Expr::Builtin(b, args),
                None => Expr::Script(f.name.clone(), args),
            }
        }
        ExprKind::Unary(UnaryOp::Not, x) => Expr::Not(Box::new(compile(c, x)?)),
        ExprKind::Unary(UnaryOp::Neg, x) => Expr::Neg(Box::new(compile(c, x)?)),
        ExprKind::Binary(op, l, r) => {
            Expr::Binary(*op, Box::new(compile(c, l)?), Box::new(compile(c, r)?))
        }
        ExprKind::IsSet(x, neg) => Expr::IsSet(Box::new(compile(c, x)?), *neg),
    })
}

fn literal(l: &Literal, c: &Compiler<'_>, span: ast::Span) -> Result<Value, CompileError> {
    Ok(match l {
        Literal::Int(n) => Value::Int(*n),
        Literal::Decimal(d) => Value::Decimal(*d),
        Literal::Bool(b) => Value::Bool(*b),
        Literal::Date(d) => Value::Date(*d),
        Literal::Time(t) => Value::Time(*t),
        Literal::DateTime(dt) => {
            let local = c
                .plan
                .tz
                .from_local_datetime(dt)
                .earliest()
                .ok_or_else(|| {
                    c.value_error(span, format!("{dt} does not exist in {}", c.plan.tz))
                })?;
            Value::DateTime(local.with_timezone(&chrono::Utc))
        }
        Literal::Duration { amount, unit } => Value::Duration(
            duration(*amount, unit).map_err(|m| c.value_error(span, m.to_string()))?,
        ),
    })
}

/// A duration literal's value.
pub(crate) fn duration(amount: i64, unit: &str) -> Result<Duration, &'static str> {
    let m = |k: i64| amount.checked_mul(k).ok_or("duration too long");
    Ok(match unit {
        "m" => Duration::Minutes(amount),
        "h" => Duration::Minutes(m(60)?),
        "d" => Duration::Minutes(m(24 * 60)?),
        "w" => Duration::Minutes(m(7 * 24 * 60)?),
        "workday" | "workdays" => Duration::Workdays(amount),
        "workhour" | "workhours" => Duration::WorkMinutes(m(60)?),
        _ => return Err("unknown unit"),
    })
}

/// The value of a field default (a literal, possibly negated, or plain text).
pub(crate) fn constant(e: &ast::Expr) -> Option<Value> {
    match &e.kind {
        ExprKind::Lit(Literal::Int(n)) => Some(Value::Int(*n)),
        ExprKind::Lit(Literal::Decimal(d)) => Some(Value::Decimal(*d)),
        ExprKind::Lit(Literal::Bool(b)) => Some(Value::Bool(*b)),
        ExprKind::Lit(Literal::Date(d)) => Some(Value::Date(*d)),
        ExprKind::Lit(Literal::Time(t)) => Some(Value::Time(*t)),
        ExprKind::Lit(Literal::Duration { amount, unit }) => {
            duration(*amount, unit).ok().map(Value::Duration)
        }
        ExprKind::Str(s) => s.plain().map(Value::Text),
        ExprKind::Unary(UnaryOp::Neg, x) => match constant(x)? {
            Value::Int(n) => Some(Value::Int(-n)),
            Value::Decimal(d) => Some(Value::Decimal(-d)),
            _ => None,
        },
        _ => None,
    }
}

/// A value stored into a field of type `ty`: numbers widen, text becomes a user id.
pub fn coerce(v: Value, ty: &Ty) -> Value {
    match (ty, v) {
        (Ty::Decimal | Ty::Money, Value::Int(n)) => Value::Decimal(n.into()),
        (Ty::User, Value::Text(s)) => Value::User(s),
        (Ty::Text | Ty::Phone | Ty::Email | Ty::Telegram | Ty::Url, Value::User(s)) => {
            Value::Text(s)
        }
        (_, v) => v,
    }
}

/// Whether an expression reads the clock (so its answer can change at midnight).
/// The fields an expression reads by name.
pub(crate) fn fields_read(e: &Expr) -> Vec<usize> {
    fn walk(e: &Expr, out: &mut Vec<usize>) {
        match e {
            Expr::Field(f) => out.push(*f),
            Expr::Member(x, _) | Expr::Not(x) | Expr::Neg(x) | Expr::IsSet(x, _) => walk(x, out),
            Expr::Binary(_, a, b) => {
                walk(a, out);
                walk(b, out);
            }
            Expr::Builtin(_, args) | Expr::Script(_, args) => {
                args.iter().for_each(|a| walk(a, out))
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(e, &mut out);
    out
}

pub(crate) fn depends_on_clock(e: &Expr) -> bool {
    match e {
        Expr::Now | Expr::Today => true,
        Expr::Member(x, _) | Expr::Not(x) | Expr::Neg(x) | Expr::IsSet(x, _) => depends_on_clock(x),
        Expr::Binary(_, a, b) => depends_on_clock(a) || depends_on_clock(b),
        Expr::Builtin(_, args) | Expr::Script(_, args) => args.iter().any(depends_on_clock),
        _ => false,
    }
}
