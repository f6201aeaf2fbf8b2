//! Rendering diagnostics for people (miette's report layout) and for tools (JSON).

use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

use super::{Diagnostic, Severity};
use crate::source::SourceFile;

/// A diagnostic bound to its source, in the shape miette renders.
struct Report<'a> {
    diag: &'a Diagnostic,
    source: NamedSource<String>,
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl std::error::Error for Report<'_> {}

fn span_of(span: crate::ast::Span, len: usize) -> SourceSpan {
    let start = span.start.min(len);
    let end = span.end.clamp(start, len);
    SourceSpan::new(start.into(), end - start)
}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diag.code.id))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diag
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let len = self.source.inner().len();
        let primary = LabeledSpan::new_primary_with_span(
            self.diag.label.clone(),
            span_of(self.diag.span, len),
        );
        let related =
            self.diag.related.iter().map(move |(s, note)| {
                LabeledSpan::new_with_span(Some(note.clone()), span_of(*s, len))
            });
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}

/// Renders diagnostics as text: `file:line:col`, the line, a caret, the message and help.
/// `color` adds terminal colours; without it the text is plain (for files and snapshots).
pub fn render_text(diags: &[Diagnostic], source: &SourceFile, color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_context_lines(1);
    let mut out = String::new();
    for diag in diags {
        let report = Report {
            diag,
            source: NamedSource::new(&source.name, source.text.clone()),
        };
        if handler.render_report(&mut out, &report).is_err() {
            // Rendering into a String cannot fail; keep the message if it ever does.
            out.push_str(&diag.message);
            out.push('\n');
        }
    }
    out
}

/// One line that sums up the result, e.g. `2 errors, 1 warning`.
pub fn summary(diags: &[Diagnostic], source: &SourceFile) -> String {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("1 {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    match (errors, warnings) {
        (0, 0) => format!("{}: no problems found", source.name),
        (0, w) => format!("{}: {}, no errors", source.name, plural(w, "warning")),
        (e, 0) => format!("{}: {}", source.name, plural(e, "error")),
        (e, w) => format!(
            "{}: {}, {}",
            source.name,
            plural(e, "error"),
            plural(w, "warning")
        ),
    }
}

/// Diagnostics as one JSON document for editors and CI.
pub fn render_json(diags: &[Diagnostic], source: &SourceFile) -> serde_json::Value {
    let items: Vec<serde_json::Value> = diags
        .iter()
        .map(|d| {
            let (line, column) = source.line_col(d.span.start);
            let (end_line, end_column) = source.line_col(d.span.end);
            serde_json::json!({
                "file": source.name,
                "severity": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "code": d.code.id,
                "message": d.message,
                "line": line,
                "column": column,
                "end_line": end_line,
                "end_column": end_column,
                "label": d.label,
                "help": d.help,
            })
        })
        .collect();
    let errors = diags.iter().filter(|d| d.is_error()).count();
    serde_json::json!({
        "file": source.name,
        "errors": errors,
        "warnings": diags.len() - errors,
        "diagnostics": items,
    })
}
