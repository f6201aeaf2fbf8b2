//! Expressions resolved: names become field, role or local indexes; calls become built-ins or
//! script calls; literals become values.

use chrono::TimeZone;

use super::Compiler;
use super::plan::{Builtin, EventId, Expr};
use crate::ast::{self, ExprKind, Literal, UnaryOp};
use crate::check::types::Ty;
use crate::value::{Duration, Value};

/// What names mean where an expression stands.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    locals: Vec<String>,
    event: Option<EventId>,
    template: bool,
}

impl Scope {
    pub fn template() -> Self {
        Scope {
            template: true,
            ..Default::default()
        }
    }
    pub fn event(e: EventId) -> Self {
        Scope {
            event: Some(e),
            ..Default::default()
        }
    }
    pub fn with_var(&self, name: &str) -> Self {
        let mut s = self.clone();
        s.locals.push(name.to_string());
        s
    }
}

pub(crate) fn compile(c: &Compiler<'_>, e: &ast::Expr, scope: &Scope) -> Result<Expr, String> {
    Ok(match &e.kind {
        ExprKind::Lit(l) => Expr::Lit(literal(l, c)?),
        ExprKind::Str(s) => {
            // A string with `{{ }}` inside an expression: only plain strings are constants.
            match s.plain() {
                Some(t) => Expr::Lit(Value::Text(t)),
                None => {
                    let mut parts = Vec::new();
                    for p in &s.parts {
                        match p {
                            ast::StrPart::Text(t) => parts.push(Expr::Lit(Value::Text(t.clone()))),
                            ast::StrPart::Interp(x) => parts.push(compile(c, x, scope)?),
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
        ExprKind::Paren(x) => compile(c, x, scope)?,
        ExprKind::Name(id) => {
            let n = id.name.as_str();
            if let Some(pos) = scope.locals.iter().rev().position(|v| v == n) {
                return Ok(Expr::Local(pos));
            }
            if let Some(&f) = c.plan.field_index.get(n) {
                return Ok(Expr::Field(f));
            }
            if let Some(&r) = c.plan.role_index.get(n) {
                return Ok(Expr::Role(r));
            }
            match n {
                "now" => Expr::Now,
                "today" => Expr::Today,
                "title" => Expr::Title,
                "hours_spent" => Expr::HoursSpent,
                "open_tasks" => Expr::OpenTasks,
                "deal" => Expr::Deal,
                _ => return Err(format!("unknown name `{n}`")),
            }
        }
        ExprKind::Member(base, m) => {
            let is_event = matches!(&base.kind, ExprKind::Name(id) if id.name == "event")
                && !scope.locals.iter().any(|v| v == "event");
            if is_event {
                if scope.event.is_none() && !scope.template {
                    return Err(format!("`event.{}` outside an event handler", m.name));
                }
                return Ok(Expr::EventValue(m.name.clone()));
            }
            Expr::Member(Box::new(compile(c, base, scope)?), m.name.clone())
        }
        ExprKind::InStage(s) => Expr::InStage(c.stage_id(&s.name)?),
        ExprKind::Call(f, args) => {
            let args = args
                .iter()
                .map(|a| compile(c, a, scope))
                .collect::<Result<Vec<_>, _>>()?;
            let builtin = match f.name.as_str() {
                "next_workday" => Some(Builtin::NextWorkday),
                "add_workdays" => Some(Builtin::AddWorkdays),
                "workdays_between" => Some(Builtin::WorkdaysBetween),
                "format" => Some(Builtin::Format),
                "map_link" => Some(Builtin::MapLink),
                "calendar" => Some(Builtin::Calendar),
                "len" => Some(Builtin::Len),
                _ => None,
            };
            match builtin {
                Some(b) => Expr::Builtin(b, args),
                None => Expr::Script(f.name.clone(), args),
            }
        }
        ExprKind::Unary(UnaryOp::Not, x) => Expr::Not(Box::new(compile(c, x, scope)?)),
        ExprKind::Unary(UnaryOp::Neg, x) => Expr::Neg(Box::new(compile(c, x, scope)?)),
        ExprKind::Binary(op, l, r) => Expr::Binary(
            *op,
            Box::new(compile(c, l, scope)?),
            Box::new(compile(c, r, scope)?),
        ),
        ExprKind::IsSet(x, neg) => Expr::IsSet(Box::new(compile(c, x, scope)?), *neg),
    })
}

fn literal(l: &Literal, c: &Compiler<'_>) -> Result<Value, String> {
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
                .ok_or_else(|| format!("{dt} does not exist in {}", c.plan.tz))?;
            Value::DateTime(local.with_timezone(&chrono::Utc))
        }
        Literal::Duration { amount, unit } => Value::Duration(duration(*amount, unit)?),
    })
}

/// A duration literal's value.
pub(crate) fn duration(amount: i64, unit: &str) -> Result<Duration, String> {
    let m = |k: i64| {
        amount
            .checked_mul(k)
            .ok_or_else(|| "duration too long".to_string())
    };
    Ok(match unit {
        "m" => Duration::Minutes(amount),
        "h" => Duration::Minutes(m(60)?),
        "d" => Duration::Minutes(m(24 * 60)?),
        "w" => Duration::Minutes(m(7 * 24 * 60)?),
        "workday" | "workdays" => Duration::Workdays(amount),
        "workhour" | "workhours" => Duration::WorkMinutes(m(60)?),
        other => return Err(format!("unknown unit `{other}`")),
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
        (Ty::Text | Ty::Phone | Ty::Email | Ty::Url, Value::User(s)) => Value::Text(s),
        (_, v) => v,
    }
}

/// Whether an expression reads the clock (so its answer can change at midnight).
pub(crate) fn depends_on_clock(e: &Expr) -> bool {
    match e {
        Expr::Now | Expr::Today => true,
        Expr::Member(x, _) | Expr::Not(x) | Expr::Neg(x) | Expr::IsSet(x, _) => depends_on_clock(x),
        Expr::Binary(_, a, b) => depends_on_clock(a) || depends_on_clock(b),
        Expr::Builtin(_, args) | Expr::Script(_, args) => args.iter().any(depends_on_clock),
        _ => false,
    }
}
