//! Expression typing: names resolved, operators matched to the kinds of value they apply to.

use chrono::format::{Item, StrftimeItems};

use super::{BUILTIN_VALUES, Builtin, Checker, Def};
use crate::ast::*;
use crate::diag::{Diagnostic, codes, did_you_mean};
use crate::types::{Ty, UNITS, duration_unit, unit_hint};

/// Which event's payload `event.X` refers to.
#[derive(Debug, Clone, Copy)]
enum EventCtx<'a> {
    /// No event is being handled.
    None,
    /// An unknown event (already reported): anything goes.
    Unknown,
    /// A template, used from several places: any declared payload entry.
    Any,
    /// This event.
    Decl(&'a EventDecl),
}

/// What an expression can see.
#[derive(Debug, Clone)]
pub(crate) struct Scope<'a> {
    event: EventCtx<'a>,
    vars: Vec<(String, Ty)>,
    /// Field defaults: only literals mean anything there.
    constant: bool,
}

impl<'a> Scope<'a> {
    /// Inside a stage, with no event.
    pub(crate) fn stage() -> Self {
        Scope {
            event: EventCtx::None,
            vars: Vec::new(),
            constant: false,
        }
    }
    /// An alert's condition.
    pub(crate) fn alert() -> Self {
        Self::stage()
    }
    /// A template's texts.
    pub(crate) fn template() -> Self {
        Scope {
            event: EventCtx::Any,
            ..Self::stage()
        }
    }
    /// A block that handles `decl`.
    pub(crate) fn event(decl: &'a EventDecl) -> Self {
        Scope {
            event: EventCtx::Decl(decl),
            ..Self::stage()
        }
    }
    /// A block that handles an event that does not exist.
    pub(crate) fn unknown_event() -> Self {
        Scope {
            event: EventCtx::Unknown,
            ..Self::stage()
        }
    }
    /// A field's default value.
    pub(crate) fn constant() -> Self {
        Scope {
            constant: true,
            ..Self::stage()
        }
    }
    /// This scope with a `for each` variable added.
    pub(crate) fn with_var(&self, name: &str, ty: Ty) -> Self {
        let mut s = self.clone();
        s.vars.push((name.to_string(), ty));
        s
    }
}

/// The type of `e`; problems are reported on the checker.
pub(super) fn type_of<'a>(cx: &mut Checker<'a>, e: &Expr, scope: &Scope<'a>) -> Ty {
    match &e.kind {
        ExprKind::Lit(l) => literal(cx, l, e.span),
        ExprKind::Str(s) => {
            cx.string(s, scope);
            Ty::Text
        }
        ExprKind::Paren(x) => type_of(cx, x, scope),
        ExprKind::Name(id) => name(cx, id, scope),
        ExprKind::Member(base, m) => member(cx, base, m, scope),
        ExprKind::InStage(s) => {
            cx.stage_ref(s);
            Ty::Bool
        }
        ExprKind::IsSet(x, _) => {
            type_of(cx, x, scope);
            Ty::Bool
        }
        ExprKind::Call(f, args) => call(cx, f, args, e.span, scope),
        ExprKind::Unary(UnaryOp::Not, x) => {
            cx.condition(x, scope);
            Ty::Bool
        }
        ExprKind::Unary(UnaryOp::Neg, x) => {
            let t = type_of(cx, x, scope);
            if t.is_number() || matches!(t, Ty::Duration { .. } | Ty::Unknown) {
                t
            } else {
                cx.push(
                    Diagnostic::error(
                        codes::BAD_OPERANDS,
                        e.span,
                        format!("`-` cannot be put before {t}"),
                    )
                    .with_label(format!("this is {t}")),
                );
                Ty::Unknown
            }
        }
        ExprKind::Binary(op, l, r) => binary(cx, *op, l, r, e.span, scope),
    }
}

fn literal(cx: &mut Checker<'_>, l: &Literal, span: Span) -> Ty {
    match l {
        Literal::Int(_) => Ty::Int,
        Literal::Decimal(_) => Ty::Decimal,
        Literal::Bool(_) => Ty::Bool,
        Literal::Date(_) => Ty::Date,
        Literal::Time(_) => Ty::Time,
        Literal::DateTime(_) => Ty::DateTime,
        Literal::Duration { unit, amount } => match duration_unit(unit) {
            Some(days) => Ty::Duration { days },
            None => {
                let help = unit_hint(unit)
                    .map(|u| {
                        let spaced = if u.starts_with("work") { " " } else { "" };
                        format!("did you mean `{amount}{spaced}{u}`?")
                    })
                    .or_else(|| did_you_mean(unit, UNITS.iter().copied()))
                    .unwrap_or_else(|| "durations are written `15m`, `2h`, `3d`, `1w`, `1 workday` or `4 workhours`".into());
                cx.push(
                    Diagnostic::error(
                        codes::UNKNOWN_UNIT,
                        span,
                        format!("`{unit}` is not a unit of time"),
                    )
                    .with_label("unknown unit")
                    .with_help(help),
                );
                Ty::Unknown
            }
        },
    }
}

fn name<'a>(cx: &mut Checker<'a>, id: &Ident, scope: &Scope<'a>) -> Ty {
    let n = id.name.as_str();
    if let Some((pos, (_, t))) = scope
        .vars
        .iter()
        .rev()
        .enumerate()
        .find(|(_, (v, _))| v == n)
    {
        cx.names.record(id, Def::Local(pos));
        return t.clone();
    }
    if scope.constant {
        cx.push(
            Diagnostic::error(codes::DEFAULT_TYPE, id.span, "a default must be a fixed value")
                .with_label("not a fixed value")
                .with_help("write a literal like `0`, `true` or `\"none\"`; set computed values in a stage's `on enter`".to_string()),
        );
        return Ty::Unknown;
    }
    if let Some(t) = cx.slot(id) {
        return t;
    }
    if let Some(b) = Builtin::named(n) {
        cx.names.record(id, Def::Builtin(b));
        return b.ty();
    }
    if n == "event" {
        cx.push(
            Diagnostic::error(
                codes::UNKNOWN_NAME,
                id.span,
                "`event` needs the name of a value it carries",
            )
            .with_help("write `event.NAME`, e.g. `event.contracts`".to_string()),
        );
        return Ty::Unknown;
    }
    let mut names: Vec<&str> = cx.sym.fields.keys().chain(cx.sym.roles.keys()).collect();
    names.extend(BUILTIN_VALUES);
    names.extend(scope.vars.iter().map(|(v, _)| v.as_str()));
    let stage_hint = cx
        .sym
        .stages
        .contains_key(n)
        .then(|| format!("`{n}` is a stage; to ask whether the deal is there, write `in {n}`"));
    cx.push(
        Diagnostic::error(
            codes::UNKNOWN_NAME,
            id.span,
            format!("`{n}` is not a field, a role or a value dealflow knows"),
        )
        .with_label("unknown name")
        .with_help(
            stage_hint
                .or_else(|| did_you_mean(n, names))
                .unwrap_or_else(|| format!("declare it in `fields`: `{n}: text`")),
        ),
    );
    Ty::Unknown
}

fn member<'a>(cx: &mut Checker<'a>, base: &Expr, m: &Ident, scope: &Scope<'a>) -> Ty {
    let is_event = matches!(&base.kind, ExprKind::Name(id) if id.name == "event")
        && !scope.vars.iter().any(|(v, _)| v == "event");
    if is_event {
        return event_member(cx, m, scope);
    }
    match type_of(cx, base, scope) {
        Ty::Record(rec) => match rec.iter().find(|(k, _)| *k == m.name) {
            Some((_, t)) => t.clone(),
            None => {
                let names: Vec<&str> = rec.iter().map(|(k, _)| k.as_str()).collect();
                let all = names.join(", ");
                cx.push(
                    Diagnostic::error(
                        codes::UNKNOWN_MEMBER,
                        m.span,
                        format!("this record has no `{}`", m.name),
                    )
                    .with_label("unknown entry")
                    .with_help(
                        did_you_mean(&m.name, names).unwrap_or_else(|| format!("it has: {all}")),
                    ),
                );
                Ty::Unknown
            }
        },
        Ty::Deal => cx
            .sym
            .fields
            .get(m.name.as_str())
            .map_or(Ty::Unknown, |(_, t)| t.clone()),
        Ty::Unknown => Ty::Unknown,
        other => {
            cx.push(
                Diagnostic::error(codes::UNKNOWN_MEMBER, m.span, format!("{other} has no `.{}`", m.name))
                    .with_label("nothing to take this from")
                    .with_help("`.NAME` takes an entry of a record, like `c.amount` in `for each c in event.contracts`".to_string()),
            );
            Ty::Unknown
        }
    }
}

/// The type of an entry of an event declaration, if the event has it.
fn entry_type<'a>(cx: &mut Checker<'a>, decl: &'a EventDecl, name: &str) -> Option<Ty> {
    let entry = decl
        .entries
        .iter()
        .flatten()
        .find(|e| e.name.name == name)?;
    Some(match &entry.ty {
        Some(TypeSpec::Named(t)) => Ty::from_field_type(&t.name).unwrap_or(Ty::Unknown),
        Some(TypeSpec::List(entries, _)) => Ty::List(
            entries
                .iter()
                .map(|e| {
                    let t = match &e.ty {
                        Some(TypeSpec::Named(t)) => {
                            Ty::from_field_type(&t.name).unwrap_or(Ty::Unknown)
                        }
                        _ => Ty::Unknown,
                    };
                    (e.name.name.clone(), t)
                })
                .collect(),
        ),
        None => cx
            .sym
            .fields
            .get(name)
            .map(|(_, t)| t.clone())
            .or_else(|| cx.sym.roles.contains_key(name).then_some(Ty::User))
            .unwrap_or(Ty::Unknown),
    })
}

fn event_member<'a>(cx: &mut Checker<'a>, m: &Ident, scope: &Scope<'a>) -> Ty {
    match scope.event {
        EventCtx::Unknown => Ty::Unknown,
        EventCtx::None => {
            cx.push(
                Diagnostic::error(codes::EVENT_OUTSIDE_HANDLER, m.span, format!("`event.{}` is only known while an event is handled", m.name))
                    .with_label("no event here")
                    .with_help("use it inside `on EVENT { … }` or `-> STAGE on EVENT { … }`; elsewhere use the deal's fields".to_string()),
            );
            Ty::Unknown
        }
        EventCtx::Decl(decl) => {
            match entry_type(cx, decl, &m.name) {
                Some(t) => t,
                None => {
                    let names: Vec<&str> = decl
                        .entries
                        .iter()
                        .flatten()
                        .map(|e| e.name.name.as_str())
                        .collect();
                    let help = did_you_mean(&m.name, names.iter().copied()).unwrap_or_else(|| {
                    if names.is_empty() {
                        format!("event `{}` carries nothing; declare it as `event {} {{ {}: text }}`", decl.id.name, decl.id.name, m.name)
                    } else {
                        format!("event `{}` carries: {}", decl.id.name, names.join(", "))
                    }
                });
                    cx.push(
                        Diagnostic::error(
                            codes::UNKNOWN_PAYLOAD,
                            m.span,
                            format!("event `{}` carries no `{}`", decl.id.name, m.name),
                        )
                        .with_label("not in the event")
                        .with_help(help),
                    );
                    Ty::Unknown
                }
            }
        }
        EventCtx::Any => {
            let mut events: Vec<&'a EventDecl> = cx.sym.events.values().copied().collect();
            events.sort_by_key(|e| e.span.start);
            for decl in &events {
                if let Some(t) = entry_type(cx, decl, &m.name) {
                    return t;
                }
            }
            let names: Vec<&str> = events
                .iter()
                .flat_map(|d| d.entries.iter().flatten())
                .map(|e| e.name.name.as_str())
                .collect();
            cx.push(
                Diagnostic::error(
                    codes::UNKNOWN_PAYLOAD,
                    m.span,
                    format!("no event carries `{}`", m.name),
                )
                .with_label("not in any event")
                .with_help(did_you_mean(&m.name, names)),
            );
            Ty::Unknown
        }
    }
}

fn call<'a>(cx: &mut Checker<'a>, f: &Ident, args: &[Expr], span: Span, scope: &Scope<'a>) -> Ty {
    let types: Vec<Ty> = args.iter().map(|a| type_of(cx, a, scope)).collect();
    let sig: Option<(&[&str], Ty)> = match f.name.as_str() {
        "next_workday" => Some((&["date"], Ty::Date)),
        "add_workdays" => Some((&["date", "int"], Ty::Date)),
        "workdays_between" => Some((&["date", "date"], Ty::Int)),
        "format" => Some((&["any", "text"], Ty::Text)),
        "map_link" => Some((&["text"], Ty::Text)),
        "calendar" | "cancellation" => Some((&["moment", "duration", "text"], Ty::Attachment)),
        "len" => Some((&["list"], Ty::Int)),
        _ => None,
    };
    let Some((params, result)) = sig else {
        cx.function_exists(f, Some(args.len()), "function");
        return Ty::Unknown;
    };
    if params.len() != args.len() {
        cx.push(
            Diagnostic::error(
                codes::ARITY,
                span,
                format!(
                    "`{}` takes {}, but is given {}",
                    f.name,
                    crate::check::values(params.len()),
                    args.len()
                ),
            )
            .with_label(format!("given {}", args.len()))
            .with_help(format!("write `{}({})`", f.name, params.join(", "))),
        );
        return result;
    }
    for ((param, ty), arg) in params.iter().zip(&types).zip(args) {
        let fits = *ty == Ty::Unknown
            || match *param {
                "date" | "moment" => ty.is_moment(),
                "int" => *ty == Ty::Int,
                "text" => ty.is_text(),
                "duration" => matches!(ty, Ty::Duration { .. }),
                "list" => matches!(ty, Ty::List(_) | Ty::Text),
                _ => true,
            };
        if !fits {
            let want = match *param {
                "date" | "moment" => "a date or a moment",
                "int" => "a whole number",
                "text" => "text",
                "duration" => "a duration",
                "list" => "a list",
                _ => "a value",
            };
            cx.push(
                Diagnostic::error(
                    codes::ARGUMENT_TYPE,
                    arg.span,
                    format!("`{}` needs {want} here, but this is {ty}", f.name),
                )
                .with_label(format!("this is {ty}")),
            );
        }
    }
    if f.name == "format"
        && let Some(ExprKind::Str(s)) = args.get(1).map(|a| &a.kind)
        && let Some(pattern) = s.plain()
        && StrftimeItems::new(&pattern).any(|i| matches!(i, Item::Error))
    {
        cx.push(
            Diagnostic::error(
                codes::BAD_FORMAT,
                s.span,
                format!("`{pattern}` is not a date format"),
            )
            .with_label("cannot be used")
            .with_help(
                "use strftime codes such as `%d.%m.%Y %H:%M`; write `%%` for a percent sign"
                    .to_string(),
            ),
        );
    }
    result
}

fn binary<'a>(
    cx: &mut Checker<'a>,
    op: BinaryOp,
    l: &Expr,
    r: &Expr,
    span: Span,
    scope: &Scope<'a>,
) -> Ty {
    if matches!(op, BinaryOp::And | BinaryOp::Or) {
        cx.condition(l, scope);
        cx.condition(r, scope);
        return Ty::Bool;
    }
    let lt = type_of(cx, l, scope);
    let rt = type_of(cx, r, scope);
    if op.is_comparison() {
        let ordered = !matches!(op, BinaryOp::Eq | BinaryOp::Ne);
        if !lt.comparable(&rt, ordered) {
            let msg = if lt.comparable(&rt, false) {
                format!("{lt} cannot be compared with `{}`", op.symbol())
            } else {
                format!("{lt} cannot be compared with {rt}")
            };
            cx.push(
                Diagnostic::error(codes::BAD_COMPARISON, span, msg)
                    .with_label(format!("{lt} {} {rt}", op.symbol()))
                    .with_help(comparison_help(&lt, &rt)),
            );
        }
        return Ty::Bool;
    }
    if lt == Ty::Unknown || rt == Ty::Unknown {
        return Ty::Unknown;
    }
    if let Some(t) = arithmetic(op, &lt, &rt) {
        return t;
    }
    let verb = match op {
        BinaryOp::Add => "added to",
        BinaryOp::Sub => "subtracted from",
        BinaryOp::Mul => "multiplied by",
        _ => "divided by",
    };
    // "B cannot be added to A", "B cannot be subtracted from A", "A cannot be multiplied by B".
    let (a, b) = if matches!(op, BinaryOp::Add | BinaryOp::Sub) {
        (&rt, &lt)
    } else {
        (&lt, &rt)
    };
    let msg = format!("{a} cannot be {verb} {b}");
    cx.push(
        Diagnostic::error(codes::BAD_OPERANDS, span, msg)
            .with_label(format!("{lt} {} {rt}", op.symbol()))
            .with_help(arithmetic_help(&lt, &rt)),
    );
    Ty::Unknown
}

/// The result of `l op r`, or None when the operator does not apply.
fn arithmetic(op: BinaryOp, l: &Ty, r: &Ty) -> Option<Ty> {
    use BinaryOp::*;
    let num = |a: &Ty, b: &Ty| -> Ty {
        if *a == Ty::Money || *b == Ty::Money {
            Ty::Money
        } else if *a == Ty::Int && *b == Ty::Int {
            Ty::Int
        } else {
            Ty::Decimal
        }
    };
    Some(match (op, l, r) {
        (Add | Sub, a, b) if a.is_number() && b.is_number() => num(a, b),
        (Add | Sub, Ty::Date, Ty::Duration { days }) => {
            if *days {
                Ty::Date
            } else {
                Ty::DateTime
            }
        }
        (Add, Ty::Duration { days }, Ty::Date) => {
            if *days {
                Ty::Date
            } else {
                Ty::DateTime
            }
        }
        (Add | Sub, Ty::DateTime, Ty::Duration { .. })
        | (Add, Ty::Duration { .. }, Ty::DateTime) => Ty::DateTime,
        (Add | Sub, Ty::Duration { days: a }, Ty::Duration { days: b }) => {
            Ty::Duration { days: *a && *b }
        }
        (Sub, Ty::Date, Ty::Date) => Ty::Int,
        (Sub, Ty::DateTime, Ty::DateTime) => Ty::Duration { days: false },
        (Add, a, b) if a.is_text() && b.is_text() => Ty::Text,
        (Mul, Ty::Money, Ty::Money) => return None,
        (Mul, a, b) if a.is_number() && b.is_number() => num(a, b),
        (Mul, Ty::Duration { days }, Ty::Int) | (Mul, Ty::Int, Ty::Duration { days }) => {
            Ty::Duration { days: *days }
        }
        (Div, Ty::Money, Ty::Money) => Ty::Decimal,
        (Div, Ty::Money, b) if b.is_number() => Ty::Money,
        (Div, a, b) if a.is_number() && b.is_number() && *b != Ty::Money => Ty::Decimal,
        (Div, Ty::Duration { days }, Ty::Int) => Ty::Duration { days: *days },
        _ => return None,
    })
}

fn arithmetic_help(l: &Ty, r: &Ty) -> String {
    if (l.is_moment() && r.is_number()) || (r.is_moment() && l.is_number()) {
        return "a number has no unit; add a duration instead, like `3d` or `2 workdays`".into();
    }
    if l.is_text() || r.is_text() {
        return "text cannot take part in sums; to build a message, use `{{ }}` inside a text"
            .into();
    }
    if *l == Ty::Money && *r == Ty::Money {
        return "money can be multiplied by a number, not by money".into();
    }
    "sums work on numbers and money, and on dates with durations".into()
}

fn comparison_help(l: &Ty, r: &Ty) -> String {
    if (l.is_text() && r.is_number()) || (l.is_number() && r.is_text()) {
        return "a number in quotes is text; write the number without quotes".into();
    }
    if (l.is_moment() && r.is_text()) || (l.is_text() && r.is_moment()) {
        return "write a date without quotes, like `2026-03-02`".into();
    }
    "compare values of the same kind: numbers with numbers, dates with dates, text with text".into()
}
