//! Running the pipeline's script: calls with dealflow values in, dealflow values out.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::Mutex;

use rhai::{AST, Array, Dynamic, Engine, Map, Scope};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;

use super::{Limits, sandboxed_engine};
use crate::value::Value;

/// A compiled script, ready to call.
pub struct Script {
    engine: Engine,
    ast: AST,
    name: String,
    memo: Mutex<Memo>,
}

/// Arguments of a call, none of them a deal.
pub(super) type Arguments = [Option<Value>];

/// Answers of earlier calls. A script function sees nothing but its arguments (no clock, no
/// files, no globals), so the same call always gives the same answer: `money(amount)` in the
/// invoice, the receipt and the team's email is worked out once. Bounded, in two generations:
/// when the recent one is full it becomes the older one and the older one is forgotten; an
/// answer found in the older one moves back to the recent one.
#[derive(Default)]
struct Memo {
    hasher: RandomState,
    recent: Generation,
    older: Generation,
}

type Generation = HashMap<u64, Vec<(String, Vec<Option<Value>>, Option<Value>)>>;

/// How many answers one generation of the memo keeps.
const MEMO_ENTRIES: usize = 16 * 1024;

impl Memo {
    fn key(&self, function: &str, args: &Arguments) -> u64 {
        let mut h = self.hasher.build_hasher();
        h.write(function.as_bytes());
        for a in args {
            match a {
                Some(v) => v.hash_identity(&mut h),
                None => h.write_u8(0),
            }
        }
        h.finish()
    }

    fn find(generation: &Generation, key: u64, function: &str, args: &Arguments) -> Option<usize> {
        generation
            .get(&key)?
            .iter()
            .position(|(f, a, _)| f == function && same_arguments(a, args))
    }

    fn get(&mut self, key: u64, function: &str, args: &Arguments) -> Option<Option<Value>> {
        if let Some(i) = Self::find(&self.recent, key, function, args) {
            return Some(self.recent[&key][i].2.clone());
        }
        let i = Self::find(&self.older, key, function, args)?;
        let calls = self.older.get_mut(&key)?;
        let (f, a, answer) = calls.swap_remove(i);
        if calls.is_empty() {
            self.older.remove(&key);
        }
        self.put(key, f, a, answer.clone());
        Some(answer)
    }

    fn put(&mut self, key: u64, function: String, args: Vec<Option<Value>>, answer: Option<Value>) {
        if self.recent.len() >= MEMO_ENTRIES {
            self.older = std::mem::take(&mut self.recent);
        }
        self.recent
            .entry(key)
            .or_default()
            .push((function, args, answer));
    }
}

/// Same arguments, written the same (`1.0` and `1.00` differ: a script can print them).
fn same_arguments(a: &Arguments, b: &Arguments) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (Some(x), Some(y)) => x.identical(y),
            (None, None) => true,
            _ => false,
        })
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Script({})", self.name)
    }
}

/// A script that does not compile in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the script {name} does not compile: {message}")]
pub struct ScriptLoadError {
    /// The script's name as the pipeline writes it.
    pub name: String,
    /// What rhai says is wrong, and where.
    pub message: String,
}

impl Script {
    /// Compiles `text` (named `name` in error messages) in the sandbox.
    pub fn load(name: &str, text: &str) -> Result<Script, ScriptLoadError> {
        let engine = sandboxed_engine(Limits::default());
        let ast = engine.compile(text).map_err(|e| ScriptLoadError {
            name: name.to_string(),
            message: e.to_string(),
        })?;
        Ok(Script {
            engine,
            ast,
            name: name.to_string(),
            memo: Mutex::new(Memo::default()),
        })
    }

    /// Calls a function with dealflow values (no value is `()`), answering from the memo when
    /// the same call was made before.
    pub fn call_values(&self, function: &str, args: &Arguments) -> Result<Option<Value>, String> {
        let key = {
            let mut memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
            let key = memo.key(function, args);
            if let Some(answer) = memo.get(key, function, args) {
                return Ok(answer);
            }
            key
        };
        let dynamic = |v: &Option<Value>| v.as_ref().map_or(Dynamic::UNIT, to_dynamic);
        let answer = from_dynamic(self.call(function, args.iter().map(dynamic).collect())?)?;
        self.memo.lock().unwrap_or_else(|e| e.into_inner()).put(
            key,
            function.to_string(),
            args.to_vec(),
            answer.clone(),
        );
        Ok(answer)
    }

    /// Whether the script defines `name` with `params` parameters.
    pub fn defines(&self, name: &str, params: usize) -> bool {
        self.ast
            .iter_functions()
            .any(|f| f.name == name && f.params.len() == params)
    }

    /// Calls a function; every failure (error, loop, size limit) comes back as a message that
    /// names the script, the function and the line.
    pub fn call(&self, function: &str, args: Vec<Dynamic>) -> Result<Dynamic, String> {
        let mut scope = Scope::new();
        self.engine
            .call_fn::<Dynamic>(&mut scope, &self.ast, function, args)
            .map_err(|e| {
                let pos = e.position();
                let place = match pos.line() {
                    Some(l) => format!("{}:{l}", self.name),
                    None => self.name.clone(),
                };
                let what = e.to_string();
                let what = what.split(" (line ").next().unwrap_or(&what).to_string();
                format!("script function `{function}` failed at {place}: {what}")
            })
    }
}

/// A dealflow value as a script sees it. Dates and moments are text (`2026-03-02`, RFC 3339).
pub fn to_dynamic(v: &Value) -> Dynamic {
    match v {
        Value::Text(s) | Value::User(s) => Dynamic::from(s.clone()),
        Value::Int(n) => Dynamic::from_int(*n),
        Value::Decimal(d) => Dynamic::from_decimal(*d),
        Value::Bool(b) => Dynamic::from_bool(*b),
        Value::List(items) => Dynamic::from_array(items.iter().map(to_dynamic).collect::<Array>()),
        Value::Record(map) => Dynamic::from_map(
            map.iter()
                .map(|(k, v)| (k.as_str().into(), to_dynamic(v)))
                .collect::<Map>(),
        ),
        Value::DateTime(dt) => Dynamic::from(dt.to_rfc3339()),
        other => Dynamic::from(other.to_string()),
    }
}

/// A script's answer as a dealflow value; `()` is "no value".
pub fn from_dynamic(d: Dynamic) -> Result<Option<Value>, String> {
    if d.is_unit() {
        return Ok(None);
    }
    if let Ok(n) = d.as_int() {
        return Ok(Some(Value::Int(n)));
    }
    if let Ok(x) = d.as_decimal() {
        return Ok(Some(Value::Decimal(x)));
    }
    if let Ok(b) = d.as_bool() {
        return Ok(Some(Value::Bool(b)));
    }
    if let Ok(f) = d.as_float() {
        return Decimal::from_f64(f)
            .map(|x| Some(Value::Decimal(x)))
            .ok_or_else(|| format!("the script returned a number dealflow cannot hold ({f})"));
    }
    if d.is_string() {
        return Ok(Some(Value::Text(d.into_string().unwrap_or_default())));
    }
    if d.is_array() {
        let arr = d.into_array().unwrap_or_default();
        let items = arr
            .into_iter()
            .map(from_dynamic)
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Some(Value::List(items.into_iter().flatten().collect())));
    }
    if d.is_map() {
        let map = d.cast::<Map>();
        let mut out = BTreeMap::new();
        for (k, v) in map {
            if let Some(v) = from_dynamic(v)? {
                out.insert(k.to_string(), v);
            }
        }
        return Ok(Some(Value::Record(out)));
    }
    Err(format!(
        "the script returned {} which dealflow cannot use",
        d.type_name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decimal(s: &str) -> Option<Value> {
        Some(Value::Decimal(s.parse().expect("a decimal")))
    }

    #[test]
    fn remembered_answers_are_the_answers_of_the_same_call() {
        let script = Script::load(
            "t.rhai",
            "fn show(x) { x.to_string() } fn twice(x) { x * 2 }",
        )
        .expect("compiles");
        let text = |s: &str| Ok(Some(Value::Text(s.to_string())));
        // `1.0` and `1.00` are equal numbers but the script prints them differently.
        assert_eq!(script.call_values("show", &[decimal("1.0")]), text("1.0"));
        assert_eq!(script.call_values("show", &[decimal("1.00")]), text("1.00"));
        assert_eq!(script.call_values("show", &[decimal("1.0")]), text("1.0"));
        assert_eq!(script.call_values("show", &[None]), text(""));
        // Same arguments, another function.
        assert_eq!(
            script.call_values("twice", &[Some(Value::Int(21))]),
            Ok(Some(Value::Int(42)))
        );
        // Past what one generation holds, every answer is still right, remembered or not.
        for round in 0..2 {
            for n in 0..(MEMO_ENTRIES as i64 + 500) {
                assert_eq!(
                    script.call_values("twice", &[Some(Value::Int(n))]),
                    Ok(Some(Value::Int(2 * n))),
                    "round {round}"
                );
            }
        }
        let memo = script.memo.lock().expect("memo");
        assert!(memo.recent.len() <= MEMO_ENTRIES && memo.older.len() <= MEMO_ENTRIES);
    }

    #[test]
    fn failures_are_not_remembered_as_answers() {
        let script =
            Script::load("t.rhai", "fn f(x) { if x > 0 { throw \"no\" } x }").expect("compiles");
        for _ in 0..2 {
            let err = script
                .call_values("f", &[Some(Value::Int(1))])
                .expect_err("throws");
            assert!(
                err.contains("script function `f` failed at t.rhai:1"),
                "{err}"
            );
        }
        assert_eq!(
            script.call_values("f", &[Some(Value::Int(0))]),
            Ok(Some(Value::Int(0)))
        );
    }
}
