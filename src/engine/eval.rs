//! Expression evaluation. A missing value propagates as `None`; a condition without a value is
//! false. Errors (a script failing, an overflow) fail the step.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use rust_decimal::Decimal;

use super::Stepper;
use crate::ast::BinaryOp;
use crate::compile::{Builtin, Expr, StageId};
use crate::value::{Duration, Invite, Value};

/// Where an expression is evaluated.
#[derive(Debug, Clone, Default)]
pub(crate) struct Env {
    /// `for each` variables, innermost last.
    pub locals: Vec<Value>,
    /// The stage whose line is running (for `open_tasks`).
    pub stage: Option<StageId>,
}

impl Env {
    pub(crate) fn stage(stage: StageId) -> Self {
        Env {
            locals: Vec::new(),
            stage: Some(stage),
        }
    }
}

pub(crate) type Eval = Result<Option<Value>, String>;

impl Stepper<'_> {
    pub(crate) fn eval(&mut self, e: &Expr, env: &Env) -> Eval {
        Ok(match e {
            Expr::Lit(_) | Expr::Field(_) | Expr::Local(_) | Expr::EventValue(_) => {
                self.peek(e, env).flatten().cloned()
            }
            Expr::Role(r) => self.deal.slots.get(*r).cloned().flatten().map(Value::User),
            Expr::Now => Some(Value::DateTime(self.ctx.now)),
            Expr::Today => Some(Value::Date(self.today())),
            Expr::Title => Some(Value::Text(self.deal.title.to_string())),
            Expr::HoursSpent => Some(Value::Decimal(self.deal.hours_spent())),
            Expr::OpenTasks => Some(Value::Int(self.deal.open_tasks(env.stage) as i64)),
            Expr::Deal => Some(self.deal_map()),
            Expr::DealUrl => Some(Value::Text(format!(
                "{}/deals/{}",
                self.ctx.site.unwrap_or(""),
                percent_encoding::utf8_percent_encode(
                    &self.deal.id,
                    percent_encoding::NON_ALPHANUMERIC
                )
            ))),
            // A member of a stored value is read in place, not copied with its whole record.
            Expr::Member(base, name) => match self.peek(base, env) {
                Some(Some(Value::Record(map))) => map.get(name).cloned(),
                Some(_) => None,
                None => match self.eval(base, env)? {
                    Some(Value::Record(map)) => map.get(name).cloned(),
                    _ => None,
                },
            },
            Expr::InStage(s) => Some(Value::Bool(self.deal.tracks.iter().any(|t| t.stage == *s))),
            Expr::Not(x) => self.condition_value(x, env)?.map(|b| Value::Bool(!b)),
            Expr::Neg(x) => match self.eval(x, env)? {
                Some(Value::Int(n)) => Some(Value::Int(n.checked_neg().ok_or("number too large")?)),
                Some(Value::Decimal(d)) => Some(Value::Decimal(-d)),
                _ => None,
            },
            Expr::IsSet(x, negated) => {
                let set = self.eval(x, env)?.is_some();
                Some(Value::Bool(set != *negated))
            }
            Expr::Binary(op, l, r) => self.binary(*op, l, r, env)?,
            Expr::Builtin(b, args) => self.builtin(*b, args, env)?,
            Expr::Script(name, args) => self.script_call(name, args, env)?,
        })
    }

    /// A condition: true, false, or no value (which callers treat as false).
    pub(crate) fn condition_value(&mut self, e: &Expr, env: &Env) -> Result<Option<bool>, String> {
        Ok(match self.eval(e, env)? {
            Some(Value::Bool(b)) => Some(b),
            _ => None,
        })
    }

    /// A condition, where no value means false.
    pub(crate) fn holds(&mut self, e: Option<&Expr>, env: &Env) -> Result<bool, String> {
        match e {
            None => Ok(true),
            Some(e) => Ok(self.condition_value(e, env)? == Some(true)),
        }
    }

    pub(crate) fn today(&self) -> NaiveDate {
        self.ctx.now.with_timezone(&self.ctx.plan.tz).date_naive()
    }

    /// The moment a local date and time stands for in the pipeline's zone.
    pub(crate) fn local(&self, dt: NaiveDateTime) -> Option<DateTime<Utc>> {
        self.ctx
            .plan
            .tz
            .from_local_datetime(&dt)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }

    /// `at`: midnight starting a date; `end of`: midnight after it.
    pub(crate) fn moment(&self, v: &Value, end_of: bool) -> Option<DateTime<Utc>> {
        let date = match v {
            Value::Date(d) => *d,
            Value::DateTime(dt) if !end_of => return Some(*dt),
            Value::DateTime(dt) => dt.with_timezone(&self.ctx.plan.tz).date_naive(),
            _ => return None,
        };
        let date = if end_of { date.succ_opt()? } else { date };
        self.local(date.and_hms_opt(0, 0, 0)?)
    }

    /// A moment plus a duration, by the calendar for working time.
    pub(crate) fn add_to_moment(
        &self,
        at: DateTime<Utc>,
        d: Duration,
        sign: i64,
    ) -> Option<DateTime<Utc>> {
        match d {
            Duration::Minutes(m) => {
                at.checked_add_signed(ChronoDuration::minutes(m.checked_mul(sign)?))
            }
            Duration::Workdays(n) => {
                let local = at.with_timezone(&self.ctx.plan.tz).naive_local();
                let day = self
                    .ctx
                    .plan
                    .calendar
                    .add_workdays(local.date(), n * sign)?;
                self.local(day.and_time(local.time()))
            }
            Duration::WorkMinutes(m) if sign > 0 => {
                let local = at.with_timezone(&self.ctx.plan.tz).naive_local();
                self.local(self.ctx.plan.calendar.add_work_minutes(local, m)?)
            }
            Duration::WorkMinutes(_) => None,
        }
    }

    fn binary(&mut self, op: BinaryOp, l: &Expr, r: &Expr, env: &Env) -> Eval {
        match op {
            BinaryOp::And => {
                let a = self.holds(Some(l), env)?;
                return Ok(Some(Value::Bool(a && self.holds(Some(r), env)?)));
            }
            BinaryOp::Or => {
                let a = self.holds(Some(l), env)?;
                return Ok(Some(Value::Bool(a || self.holds(Some(r), env)?)));
            }
            _ => {}
        }
        if op.is_comparison()
            && let (Some(a), Some(b)) = (self.peek(l, env), self.peek(r, env))
        {
            // Stored values are compared in place, without copying them.
            let (Some(a), Some(b)) = (a, b) else {
                return Ok(None);
            };
            return Ok(self.comparison(op, a, b).map(Value::Bool));
        }
        let (Some(a), Some(b)) = (self.eval(l, env)?, self.eval(r, env)?) else {
            return Ok(None);
        };
        if op.is_comparison() {
            return Ok(self.comparison(op, &a, &b).map(Value::Bool));
        }
        self.arithmetic(op, a, b)
    }

    /// The value of an expression that names a stored value (a literal, a field, a `for each`
    /// variable, an event value), borrowed; `None` for any expression that must be computed.
    fn peek<'e>(&'e self, e: &'e Expr, env: &'e Env) -> Option<Option<&'e Value>> {
        match e {
            Expr::Lit(v) => Some(Some(v)),
            Expr::Field(f) => Some(self.deal.values.get(*f).and_then(Option::as_ref)),
            Expr::Local(i) => Some(
                env.locals
                    .len()
                    .checked_sub(i + 1)
                    .and_then(|k| env.locals.get(k)),
            ),
            Expr::EventValue(name) => Some(self.payload.as_ref().and_then(|p| p.get(name))),
            _ => None,
        }
    }

    /// A call of a script function. Script functions see only their arguments, so within one
    /// step a call with the same arguments gives the same answer and is made once (a template
    /// that prints `money(amount)` in an SMS, an email and two staff emails runs it once).
    /// Calls that pass the whole `deal` are always made.
    fn script_call(&mut self, name: &str, args: &[Expr], env: &Env) -> Eval {
        let script = self
            .ctx
            .script
            .ok_or_else(|| format!("the pipeline has no script for `{name}`"))?;
        if args.iter().any(|a| matches!(a, Expr::Deal)) {
            let mut values = Vec::with_capacity(args.len());
            for a in args {
                values.push(match a {
                    Expr::Deal => self.deal_dynamic(),
                    a => dynamic(&self.eval(a, env)?),
                });
            }
            return crate::script::from_dynamic(script.call(name, values)?);
        }
        let mut values = Vec::with_capacity(args.len());
        for a in args {
            values.push(self.eval(a, env)?);
        }
        script.call_values(name, &values)
    }

    /// `a OP b` for a comparison operator: values that cannot be compared are unequal, and
    /// neither less nor greater (no answer).
    fn comparison(&self, op: BinaryOp, a: &Value, b: &Value) -> Option<bool> {
        let Some(ord) = self.compare(a, b) else {
            return match op {
                BinaryOp::Eq => Some(false),
                BinaryOp::Ne => Some(true),
                _ => None,
            };
        };
        Some(match op {
            BinaryOp::Eq => ord == Ordering::Equal,
            BinaryOp::Ne => ord != Ordering::Equal,
            BinaryOp::Lt => ord == Ordering::Less,
            BinaryOp::Le => ord != Ordering::Greater,
            BinaryOp::Gt => ord == Ordering::Greater,
            _ => ord != Ordering::Less,
        })
    }

    fn compare(&self, a: &Value, b: &Value) -> Option<Ordering> {
        match (a, b) {
            (Value::Date(x), Value::Date(y)) => Some(x.cmp(y)),
            (Value::DateTime(x), Value::DateTime(y)) => Some(x.cmp(y)),
            (Value::Date(_), Value::DateTime(y)) => Some(self.moment(a, false)?.cmp(y)),
            (Value::DateTime(x), Value::Date(_)) => Some(x.cmp(&self.moment(b, false)?)),
            (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
            (Value::Time(x), Value::Time(y)) => Some(x.cmp(y)),
            (Value::Duration(x), Value::Duration(y)) => Some(x.cmp(y)),
            _ => {
                if let (Some(x), Some(y)) = (a.as_decimal(), b.as_decimal()) {
                    return Some(x.cmp(&y));
                }
                if let (Some(x), Some(y)) = (a.as_text(), b.as_text()) {
                    return Some(x.cmp(y));
                }
                None
            }
        }
    }

    fn arithmetic(&mut self, op: BinaryOp, a: Value, b: Value) -> Eval {
        use BinaryOp::*;
        let overflow = || "a number grew too large".to_string();
        Ok(match (op, a, b) {
            (Add, Value::Int(x), Value::Int(y)) => {
                Some(Value::Int(x.checked_add(y).ok_or_else(overflow)?))
            }
            (Sub, Value::Int(x), Value::Int(y)) => {
                Some(Value::Int(x.checked_sub(y).ok_or_else(overflow)?))
            }
            (Mul, Value::Int(x), Value::Int(y)) => {
                Some(Value::Int(x.checked_mul(y).ok_or_else(overflow)?))
            }
            (Add, Value::Text(x), y) => Some(Value::Text(format!("{x}{}", self.display(&y)))),
            (Add, x, Value::Text(y)) => Some(Value::Text(format!("{}{y}", self.display(&x)))),
            (Add | Sub, Value::Date(d), Value::Duration(dur)) => {
                let sign = if op == Add { 1 } else { -1 };
                match dur {
                    Duration::Minutes(m) if m % 1440 == 0 => d
                        .checked_add_signed(ChronoDuration::days(m / 1440 * sign))
                        .map(Value::Date),
                    Duration::Workdays(n) => self
                        .ctx
                        .plan
                        .calendar
                        .add_workdays(d, n * sign)
                        .map(Value::Date),
                    other => {
                        let start = self.moment(&Value::Date(d), false).ok_or_else(overflow)?;
                        self.add_to_moment(start, other, sign).map(Value::DateTime)
                    }
                }
            }
            (Add, Value::Duration(dur), Value::Date(d)) => {
                return self.arithmetic(Add, Value::Date(d), Value::Duration(dur));
            }
            (Add | Sub, Value::DateTime(t), Value::Duration(dur)) => {
                let sign = if op == Add { 1 } else { -1 };
                self.add_to_moment(t, dur, sign).map(Value::DateTime)
            }
            (Add, Value::Duration(dur), Value::DateTime(t)) => {
                self.add_to_moment(t, dur, 1).map(Value::DateTime)
            }
            (Sub, Value::Date(x), Value::Date(y)) => Some(Value::Int((x - y).num_days())),
            (Sub, Value::DateTime(x), Value::DateTime(y)) => {
                Some(Value::Duration(Duration::Minutes((x - y).num_minutes())))
            }
            (Add | Sub, Value::Duration(x), Value::Duration(y)) => {
                let sign = if op == Add { 1 } else { -1 };
                match (x, y) {
                    (Duration::Minutes(a), Duration::Minutes(b)) => {
                        Some(Value::Duration(Duration::Minutes(a + sign * b)))
                    }
                    (Duration::Workdays(a), Duration::Workdays(b)) => {
                        Some(Value::Duration(Duration::Workdays(a + sign * b)))
                    }
                    (Duration::WorkMinutes(a), Duration::WorkMinutes(b)) => {
                        Some(Value::Duration(Duration::WorkMinutes(a + sign * b)))
                    }
                    _ => {
                        return Err(
                            "calendar time and working time cannot be added together".into()
                        );
                    }
                }
            }
            (Mul, Value::Duration(d), Value::Int(n)) | (Mul, Value::Int(n), Value::Duration(d)) => {
                Some(Value::Duration(match d {
                    Duration::Minutes(m) => {
                        Duration::Minutes(m.checked_mul(n).ok_or_else(overflow)?)
                    }
                    Duration::Workdays(m) => {
                        Duration::Workdays(m.checked_mul(n).ok_or_else(overflow)?)
                    }
                    Duration::WorkMinutes(m) => {
                        Duration::WorkMinutes(m.checked_mul(n).ok_or_else(overflow)?)
                    }
                }))
            }
            (op, x, y) => {
                let (Some(x), Some(y)) = (x.as_decimal(), y.as_decimal()) else {
                    return Err(format!(
                        "`{}` cannot be applied to these values",
                        op.symbol()
                    ));
                };
                let r = match op {
                    Add => x.checked_add(y),
                    Sub => x.checked_sub(y),
                    Mul => x.checked_mul(y),
                    _ => {
                        if y.is_zero() {
                            return Ok(None);
                        }
                        x.checked_div(y)
                    }
                };
                Some(Value::Decimal(r.ok_or_else(overflow)?))
            }
        })
    }

    fn builtin(&mut self, b: Builtin, args: &[Expr], env: &Env) -> Eval {
        let mut values = Vec::with_capacity(args.len());
        for a in args {
            values.push(self.eval(a, env)?);
        }
        let cal = &self.ctx.plan.calendar;
        let date = |v: &Option<Value>, s: &Self| -> Option<NaiveDate> {
            match v {
                Some(Value::Date(d)) => Some(*d),
                Some(Value::DateTime(t)) => Some(t.with_timezone(&s.ctx.plan.tz).date_naive()),
                _ => None,
            }
        };
        Ok(match b {
            Builtin::NextWorkday => date(&values[0], self)
                .and_then(|d| cal.next_workday(d))
                .map(Value::Date),
            Builtin::AddWorkdays => {
                let n = values
                    .get(1)
                    .cloned()
                    .flatten()
                    .and_then(|v| v.as_decimal())
                    .and_then(whole);
                match (date(&values[0], self), n) {
                    (Some(d), Some(n)) => cal.add_workdays(d, n).map(Value::Date),
                    _ => None,
                }
            }
            Builtin::WorkdaysBetween => match (date(&values[0], self), date(&values[1], self)) {
                (Some(a), Some(b)) => Some(Value::Int(cal.workdays_between(a, b))),
                _ => None,
            },
            Builtin::Format => match (&values[0], &values[1]) {
                (Some(v), Some(Value::Text(f))) => Some(Value::Text(self.format(v, f)?)),
                _ => None,
            },
            Builtin::MapLink => values[0]
                .as_ref()
                .map(|v| Value::Text(crate::maps::link(&self.ctx.plan.maps, &self.display(v)))),
            Builtin::Calendar | Builtin::Cancellation => match (&values[0], &values[1], &values[2])
            {
                (Some(Value::DateTime(start)), Some(Value::Duration(d)), place) => {
                    let end = self.add_to_moment(*start, *d, 1).unwrap_or(*start);
                    let place = place.as_ref().map(|p| self.display(p)).unwrap_or_default();
                    Some(Value::Invite(Box::new(Invite {
                        start: *start,
                        end,
                        place,
                        cancelled: b == Builtin::Cancellation,
                    })))
                }
                _ => None,
            },
            Builtin::Len => match &values[0] {
                Some(Value::List(l)) => Some(Value::Int(l.len() as i64)),
                Some(Value::Text(t)) => Some(Value::Int(t.chars().count() as i64)),
                _ => None,
            },
        })
    }

    /// `format(x, "%d.%m.%Y")`: dates and moments in the pipeline's zone; other values as text.
    fn format(&self, v: &Value, f: &str) -> Result<String, String> {
        if StrftimeItems::new(f).any(|i| matches!(i, Item::Error)) {
            return Err(format!("`{f}` is not a date format"));
        }
        let mut out = String::new();
        let res = match v {
            Value::Date(d) => write!(out, "{}", d.format(f)),
            Value::DateTime(t) => write!(out, "{}", t.with_timezone(&self.ctx.plan.tz).format(f)),
            Value::Time(t) => write!(out, "{}", t.format(f)),
            other => write!(out, "{}", self.display(other)),
        };
        res.map_err(|_| format!("`{f}` cannot format this value"))?;
        Ok(out)
    }

    /// A value as people read it in messages: moments in the pipeline's zone.
    pub(crate) fn display(&self, v: &Value) -> String {
        match v {
            Value::DateTime(t) => t
                .with_timezone(&self.ctx.plan.tz)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            Value::Decimal(d) => d.normalize().to_string(),
            other => other.to_string(),
        }
    }

    /// The deal as an expression sees it (`deal`): fields, roles, and what the engine knows.
    fn deal_map(&self) -> Value {
        let mut map = BTreeMap::new();
        self.deal_entries(&mut |k, v| {
            map.insert(k.to_string(), v.clone());
        });
        let entries = self
            .deal
            .time_entries
            .iter()
            .map(|e| {
                let mut m = BTreeMap::new();
                m.insert("user".to_string(), Value::User(e.user.clone()));
                m.insert("hours".to_string(), Value::Decimal(e.hours));
                m.insert("rate".to_string(), Value::Decimal(e.rate));
                if let Some(t) = &e.task {
                    m.insert("task".to_string(), Value::Text(t.clone()));
                }
                Value::Record(m)
            })
            .collect();
        map.insert("time_entries".into(), Value::List(entries));
        Value::Record(map)
    }

    /// The deal as a script function receives it, built straight into rhai's map.
    pub(crate) fn deal_dynamic(&self) -> rhai::Dynamic {
        let mut map = rhai::Map::new();
        self.deal_entries(&mut |k, v| {
            map.insert(k.into(), crate::script::to_dynamic(v));
        });
        let entries: rhai::Array = self
            .deal
            .time_entries
            .iter()
            .map(|e| {
                let mut m = rhai::Map::new();
                m.insert("user".into(), e.user.as_str().into());
                m.insert("hours".into(), rhai::Dynamic::from_decimal(e.hours));
                m.insert("rate".into(), rhai::Dynamic::from_decimal(e.rate));
                if let Some(t) = &e.task {
                    m.insert("task".into(), t.as_str().into());
                }
                rhai::Dynamic::from_map(m)
            })
            .collect();
        map.insert("time_entries".into(), rhai::Dynamic::from_array(entries));
        rhai::Dynamic::from_map(map)
    }

    /// Every entry of the deal's map but its time entries, in no particular order.
    fn deal_entries(&self, put: &mut dyn FnMut(&str, &Value)) {
        let plan = self.ctx.plan;
        for (f, v) in plan.fields.iter().zip(self.deal.values.iter()) {
            if let Some(v) = v {
                put(&f.name, v);
            }
        }
        for (r, v) in plan.roles.iter().zip(self.deal.slots.iter()) {
            if let Some(v) = v {
                put(&r.name, &Value::User(v.clone()));
            }
        }
        put("id", &Value::Text(self.deal.id.to_string()));
        put("title", &Value::Text(self.deal.title.to_string()));
        put("hours_spent", &Value::Decimal(self.deal.hours_spent()));
        put("open_tasks", &Value::Int(self.deal.open_tasks(None) as i64));
    }
}

/// Whole number of a decimal, if it is one.
fn whole(d: Decimal) -> Option<i64> {
    d.fract()
        .is_zero()
        .then(|| d.trunc().to_string().parse().ok())
        .flatten()
}

/// A value as a script argument; no value is rhai's `()`.
fn dynamic(v: &Option<Value>) -> rhai::Dynamic {
    v.as_ref()
        .map_or(rhai::Dynamic::UNIT, crate::script::to_dynamic)
}
