//! Running the pipeline's script: calls with dealflow values in, dealflow values out.

use std::collections::BTreeMap;

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
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Script({})", self.name)
    }
}

impl Script {
    /// Compiles `text` (named `name` in error messages) in the sandbox.
    pub fn load(name: &str, text: &str) -> Result<Script, String> {
        let engine = sandboxed_engine(Limits::default());
        let ast = engine
            .compile(text)
            .map_err(|e| format!("the script {name} does not compile: {e}"))?;
        Ok(Script {
            engine,
            ast,
            name: name.to_string(),
        })
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
