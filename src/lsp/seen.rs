//! A document as the checker sees it: its tree, its problems as the protocol's diagnostics, the
//! index of its names, and what rhai says of the script it names.

use std::path::{Path, PathBuf};

use lsp_types::{
    Diagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString,
    Position, Range, Uri,
};

use super::index::Index;
use super::text::Text;
use crate::diag::Severity;

/// A document checked.
#[derive(Debug)]
pub(super) struct Seen {
    /// Its tree.
    pub file: crate::ast::File,
    /// What `dealflow check` says of it.
    pub diagnostics: Vec<Diagnostic>,
    /// Its names.
    pub index: Index,
    /// The script it names: its URI and what rhai says of it.
    pub script: Option<(Uri, Vec<Diagnostic>)>,
    /// The text parsed (its names were resolved); a line being typed usually does not.
    pub parsed: bool,
}

/// Checks a document; `path` is the file it is (the script it names is read beside it).
pub(super) fn see(uri: &Uri, text: &Text, path: Option<&Path>) -> Seen {
    let dir = path.and_then(|p| p.parent().map(PathBuf::from));
    let loader = |name: &str| -> Result<String, String> {
        let dir = dir.as_ref().ok_or("the document is not a file on disk")?;
        std::fs::read_to_string(dir.join(name)).map_err(|e| e.to_string())
    };
    let analysis = crate::load::analyze(&text.text, &loader);
    let diagnostics = diagnostics(uri, text, &analysis.diagnostics);
    let script_text = analysis.script.as_ref().map(|s| s.text.as_str());
    let index = Index::new(&text.text, &analysis, script_text);
    let parsed = analysis.names.all().next().is_some();
    let script = match (&analysis.script, &dir) {
        (Some(s), Some(dir)) => file_uri(&dir.join(&s.name)).map(|u| (u, script_problems(&s.text))),
        _ => None,
    };
    Seen {
        file: analysis.file,
        diagnostics,
        index,
        script,
        parsed,
    }
}

/// What rhai says of a script (the same compile the checker runs), at its line and column.
fn script_problems(text: &str) -> Vec<Diagnostic> {
    match crate::script::inspect(text) {
        Ok(_) => Vec::new(),
        Err(e) => {
            let at = Position::new(
                e.line.unwrap_or(1).saturating_sub(1) as u32,
                e.column.unwrap_or(1).saturating_sub(1) as u32,
            );
            vec![Diagnostic {
                range: Range::new(at, at),
                severity: Some(DiagnosticSeverity::ERROR),
                source: Some("dealflow".into()),
                message: e.message,
                ..Default::default()
            }]
        }
    }
}

/// What `dealflow check` says, as the protocol's diagnostics: the same codes, places (in
/// UTF-16 units), label and help.
fn diagnostics(uri: &Uri, text: &Text, found: &[crate::diag::Diagnostic]) -> Vec<Diagnostic> {
    found
        .iter()
        .map(|d| {
            let mut message = d.message.clone();
            if let Some(label) = &d.label {
                message.push_str(&format!(" ({label})"));
            }
            if let Some(help) = &d.help {
                message.push_str(&format!("\nhelp: {help}"));
            }
            let related = d
                .related
                .iter()
                .map(|(span, note)| DiagnosticRelatedInformation {
                    location: Location::new(uri.clone(), text.range(span.start, span.end)),
                    message: note.clone(),
                })
                .collect::<Vec<_>>();
            Diagnostic {
                range: text.range(d.span.start, d.span.end),
                severity: Some(match d.severity {
                    Severity::Error => DiagnosticSeverity::ERROR,
                    Severity::Warning => DiagnosticSeverity::WARNING,
                }),
                code: Some(NumberOrString::String(d.code.id.to_string())),
                source: Some("dealflow".to_string()),
                message,
                related_information: (!related.is_empty()).then_some(related),
                ..Default::default()
            }
        })
        .collect()
}

/// The path of a `file:` URI.
pub(super) fn file_path(uri: &Uri) -> Option<PathBuf> {
    let rest = uri.as_str().strip_prefix("file://")?;
    let decoded = percent_encoding::percent_decode_str(rest)
        .decode_utf8()
        .ok()?;
    Some(PathBuf::from(decoded.into_owned()))
}

/// The `file:` URI of a path.
pub(super) fn file_uri(path: &Path) -> Option<Uri> {
    const PATH: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'`')
        .add(b'{')
        .add(b'}');
    let text = path.to_str()?;
    let encoded = percent_encoding::utf8_percent_encode(text, PATH).to_string();
    format!("file://{encoded}").parse().ok()
}
