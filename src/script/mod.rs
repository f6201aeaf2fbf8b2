//! rhai: the one place that builds the sandboxed engine, and what the checker learns of a script.

mod runtime;

use rhai::{Engine, module_resolvers::DummyModuleResolver};

pub use runtime::{Script, ScriptLoadError, from_dynamic, to_dynamic};

/// Limits every script runs under; a script that exceeds one fails that step, nothing else.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Operations per call.
    pub operations: u64,
    /// Nested function calls.
    pub call_levels: usize,
    /// Expression nesting (statements, functions).
    pub expr_depth: (usize, usize),
    /// Characters in one string.
    pub string_size: usize,
    /// Items in one array.
    pub array_size: usize,
    /// Entries in one map.
    pub map_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            operations: 1_000_000,
            call_levels: 32,
            expr_depth: (64, 32),
            string_size: 64 * 1024,
            array_size: 10_000,
            map_size: 10_000,
        }
    }
}

/// A rhai engine that cannot read files, load modules, `eval`, print, or run without bounds.
pub fn sandboxed_engine(limits: Limits) -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(limits.operations)
        .set_max_call_levels(limits.call_levels)
        .set_max_expr_depths(limits.expr_depth.0, limits.expr_depth.1)
        .set_max_string_size(limits.string_size)
        .set_max_array_size(limits.array_size)
        .set_max_map_size(limits.map_size)
        .set_max_modules(0)
        .set_max_variables(1_000)
        .set_max_functions(1_000)
        .set_module_resolver(DummyModuleResolver::new());
    engine.disable_symbol("eval");
    // `print` and `debug` would write into the timeline or the daemon's output: they go nowhere.
    engine.on_print(|_| {});
    engine.on_debug(|_, _, _| {});
    engine
}

/// The functions a script defines: name and number of parameters.
#[derive(Debug, Clone, Default)]
pub struct ScriptInfo {
    /// `(name, parameter count)` in definition order.
    pub functions: Vec<(String, usize)>,
}

impl ScriptInfo {
    /// Whether a function of that name exists (any arity).
    pub fn has(&self, name: &str) -> bool {
        self.functions.iter().any(|(n, _)| n == name)
    }
    /// The parameter counts a name is defined with.
    pub fn arities(&self, name: &str) -> Vec<usize> {
        self.functions
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, a)| *a)
            .collect()
    }
}

/// A script that does not compile: where and why, in rhai's words.
#[derive(Debug, Clone)]
pub struct ScriptError {
    /// 1-based line in the script, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What rhai says is wrong.
    pub message: String,
}

/// Compiles a script to learn its functions.
pub fn inspect(text: &str) -> Result<ScriptInfo, ScriptError> {
    let engine = sandboxed_engine(Limits::default());
    let ast = engine.compile(text).map_err(|e| ScriptError {
        line: e.position().line(),
        column: e.position().position(),
        message: e.err_type().to_string(),
    })?;
    let functions = ast
        .iter_functions()
        .map(|f| (f.name.to_string(), f.params.len()))
        .collect();
    Ok(ScriptInfo { functions })
}

#[cfg(test)]
mod tests {
    use super::inspect;

    #[test]
    fn lists_functions_and_reports_errors_with_lines() {
        let info = inspect("fn money(x) { x }\nfn pair(a, b) { a + b }").unwrap();
        assert_eq!(info.arities("money"), vec![1]);
        assert_eq!(info.arities("pair"), vec![2]);
        let err = inspect("fn broken( {\n}").unwrap_err();
        assert_eq!(err.line, Some(1));
        assert!(!err.message.is_empty());
    }

    #[test]
    fn eval_is_not_available() {
        assert!(inspect("fn f() { eval(\"1\") }").is_err());
    }
}
