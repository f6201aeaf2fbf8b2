//! dealflow: a sales pipeline written as a text file, checked, simulated and run.
//!
//! Codemap, in the order a file travels:
//! - `parse`  — text to [`ast::File`] (pest grammar in `grammar/pipeline.pest`, kept private).
//! - `check`  — names, types and the flow of stages; every problem a [`diag::Diagnostic`].
//! - `fmt`    — the canonical layout of a file, comments kept; `graph` draws it.
//! - `cli`    — the `dealflow` command: one file per subcommand.
//!
//! Invariants:
//! - parse and check do no I/O except reading the pipeline's own script through a loader the
//!   caller gives; they know nothing of tokio or databases.
//! - A user's mistake becomes a `Diagnostic`, never a panic; `Result` errors are for
//!   infrastructure (a file that cannot be read).
//! - Only the boundary (`cli`, rendering) knows JSON and terminals.

pub mod ast;
pub mod calendar;
pub mod check;
pub mod cli;
pub mod compile;
pub mod daemon;
pub mod diag;
pub mod engine;
pub mod fmt;
pub mod graph;
pub mod json;
pub mod load;
pub mod parse;
pub mod print;
pub mod script;
pub mod sim;
pub mod source;
pub mod store;
pub mod team;
pub mod types;
pub mod value;

/// A file read and checked: its AST, every problem found, and what the checker resolved.
#[derive(Debug)]
pub struct Analysis {
    /// What could be parsed.
    pub file: ast::File,
    /// Syntax errors, or (when the text parsed) the checker's findings; sorted.
    pub diagnostics: Vec<diag::Diagnostic>,
    /// What every name stands for (empty when the text did not parse).
    pub names: check::Names,
    /// The pipeline's script as the checker read it.
    pub script: Option<check::ScriptFile>,
}

impl Analysis {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.is_error())
    }
}

/// Parses and checks a pipeline's text. `loader` reads files the pipeline names (its script),
/// relative to the pipeline. When the text has syntax errors, only those are reported: names
/// checked against a half-read file would mostly be noise.
pub fn analyze(text: &str, loader: check::Loader<'_>) -> Analysis {
    let parsed = parse::parse(text);
    let mut diagnostics = parsed.diagnostics;
    let mut checked = check::Checked::default();
    if diagnostics.is_empty() {
        checked = check::check(&parsed.file, loader);
        diagnostics = checked.diagnostics;
    }
    diag::sort(&mut diagnostics);
    Analysis {
        file: parsed.file,
        diagnostics,
        names: checked.names,
        script: checked.script,
    }
}
