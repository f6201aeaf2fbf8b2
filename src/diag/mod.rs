//! Diagnostics: what is wrong with a pipeline file, in the pipeline's own words.
//!
//! A user's mistake is always a [`Diagnostic`], never a panic. Each has a stable [`Code`]
//! (see `codes.rs`), a primary span, a one-line message and, where it helps, a "did you mean".

pub mod codes;
mod render;
mod suggest;

pub use codes::Code;
pub use render::{render_json, render_text, summary};
pub use suggest::{did_you_mean, suggest};

use crate::ast::Span;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The file works, but probably not as meant.
    Warning,
    /// The file cannot run.
    Error,
}

/// One problem found in a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// Stable code, never reused.
    pub code: Code,
    /// Error or warning.
    pub severity: Severity,
    /// One line, lowercase, no final period, user names in backticks.
    pub message: String,
    /// Where the problem is.
    pub span: Span,
    /// A short note under the caret.
    pub label: Option<String>,
    /// How to fix it.
    pub help: Option<String>,
    /// Other places that explain the problem.
    pub related: Vec<(Span, String)>,
}

impl Diagnostic {
    /// An error with the code's severity taken as error.
    pub fn error(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            span,
            label: None,
            help: None,
            related: Vec::new(),
        }
    }

    /// A warning.
    pub fn warning(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, span, message)
        }
    }

    /// Adds the note shown under the caret.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Adds (or replaces) the help line; `None` leaves it as it was.
    pub fn with_help(mut self, help: impl Into<Option<String>>) -> Self {
        if let Some(h) = help.into() {
            self.help = Some(h);
        }
        self
    }

    /// Points at another place that explains the problem.
    pub fn with_related(mut self, span: Span, note: impl Into<String>) -> Self {
        self.related.push((span, note.into()));
        self
    }

    /// Whether this stops the file from running.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Sorts diagnostics into reading order: by place, then errors first.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        (a.span.start, b.severity, a.code.id).cmp(&(b.span.start, a.severity, b.code.id))
    });
}
