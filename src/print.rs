//! Expressions, strings and literals written back as source text (used by `fmt` and `graph`).

use std::fmt::Write;

use crate::ast::{Expr, ExprKind, Literal, Str, StrPart, UnaryOp};

/// The source text of an expression, parentheses as the author wrote them.
pub(crate) fn expr(e: &Expr) -> String {
    let mut out = String::new();
    write_expr(&mut out, e);
    out
}

fn write_expr(out: &mut String, e: &Expr) {
    match &e.kind {
        ExprKind::Lit(l) => out.push_str(&literal(l)),
        ExprKind::Str(s) => out.push_str(&string(s)),
        ExprKind::Name(id) => out.push_str(&id.name),
        ExprKind::Member(base, m) => {
            write_expr(out, base);
            out.push('.');
            out.push_str(&m.name);
        }
        ExprKind::InStage(s) => {
            out.push_str("in ");
            out.push_str(&s.name);
        }
        ExprKind::Call(f, args) => {
            out.push_str(&f.name);
            out.push('(');
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(out, a);
            }
            out.push(')');
        }
        ExprKind::Unary(UnaryOp::Not, x) => {
            out.push_str("not ");
            write_expr(out, x);
        }
        ExprKind::Unary(UnaryOp::Neg, x) => {
            out.push('-');
            write_expr(out, x);
        }
        ExprKind::Binary(op, l, r) => {
            write_expr(out, l);
            out.push(' ');
            out.push_str(op.symbol());
            out.push(' ');
            write_expr(out, r);
        }
        ExprKind::IsSet(x, negated) => {
            write_expr(out, x);
            out.push_str(if *negated { " is not set" } else { " is set" });
        }
        ExprKind::Paren(x) => {
            out.push('(');
            write_expr(out, x);
            out.push(')');
        }
    }
}

/// The canonical text of a literal.
pub(crate) fn literal(l: &Literal) -> String {
    match l {
        Literal::Int(n) => n.to_string(),
        Literal::Decimal(d) => d.to_string(),
        Literal::Bool(b) => b.to_string(),
        Literal::Date(d) => d.format("%Y-%m-%d").to_string(),
        Literal::Time(t) => time(*t),
        Literal::DateTime(dt) => format!("{}T{}", dt.format("%Y-%m-%d"), time(dt.time())),
        Literal::Duration { amount, unit } => {
            if unit.starts_with("work") {
                format!("{amount} {unit}")
            } else {
                format!("{amount}{unit}")
            }
        }
    }
}

/// `10:00`, or `10:00:30` when there are seconds.
pub(crate) fn time(t: chrono::NaiveTime) -> String {
    use chrono::Timelike;
    if t.second() == 0 {
        t.format("%H:%M").to_string()
    } else {
        t.format("%H:%M:%S").to_string()
    }
}

/// A string literal with its quotes, escapes and `{{ }}` parts.
pub(crate) fn string(s: &Str) -> String {
    let quote = if s.triple { "\"\"\"" } else { "\"" };
    let mut out = String::from(quote);
    for (i, part) in s.parts.iter().enumerate() {
        match part {
            StrPart::Text(t) => {
                let before_interp = matches!(s.parts.get(i + 1), Some(StrPart::Interp(_)));
                escape_into(&mut out, t, s.triple, before_interp);
            }
            StrPart::Interp(e) => {
                let _ = write!(out, "{{{{{}}}}}", expr(e));
            }
        }
    }
    out.push_str(quote);
    out
}

fn escape_into(out: &mut String, text: &str, triple: bool, before_interp: bool) {
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        match c {
            '\\' => out.push_str("\\\\"),
            // In `"""` text a quote is only escaped where it could close the string.
            '"' if !triple || next == Some('"') || next.is_none() => out.push_str("\\\""),
            '\n' if !triple => out.push_str("\\n"),
            '\t' if !triple => out.push_str("\\t"),
            // `{{` would open an interpolation.
            '{' if next == Some('{') || (next.is_none() && before_interp) => out.push_str("\\{"),
            _ => out.push(c),
        }
    }
}
