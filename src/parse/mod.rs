//! Text to AST: the pest grammar in `grammar/pipeline.pest`, with recovery so that several
//! syntax errors are reported at once, and bounds so that no input overflows the stack.

mod build;
mod errors;
mod grammar;

use pest::Parser;

use crate::ast::{File, Span};
use crate::diag::{Diagnostic, codes};
use grammar::{PipelineParser, Rule};

/// Deepest bracket nesting accepted; real files stay under ten.
pub const MAX_NESTING: usize = 32;
/// Syntax errors reported before giving up on a file.
const MAX_SYNTAX_ERRORS: usize = 20;

/// The result of parsing: the AST of everything that could be read, and the problems found.
#[derive(Debug)]
pub struct Parsed {
    /// Items that parsed (items with syntax errors are left out).
    pub file: File,
    /// Syntax errors and impossible literals.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses a pipeline file. Never panics; every problem becomes a diagnostic.
pub fn parse(text: &str) -> Parsed {
    if let Some(diag) = check_nesting(text) {
        return Parsed {
            file: File::default(),
            diagnostics: vec![diag],
        };
    }
    // The cumulative call budget grows with the input: a hostile file cannot make the parser
    // run for long, a big honest one is never refused.
    let budget = text.len().saturating_mul(400).max(1_000_000);
    pest::set_call_limit(std::num::NonZeroUsize::new(budget));

    let mut diagnostics = Vec::new();
    let mut input = std::borrow::Cow::Borrowed(text);
    for _ in 0..MAX_SYNTAX_ERRORS {
        match PipelineParser::parse(Rule::file, &input) {
            Ok(pairs) => {
                let (file, mut literal_errors) = build::file(pairs);
                diagnostics.append(&mut literal_errors);
                return Parsed { file, diagnostics };
            }
            Err(err) => {
                let diag = errors::to_diagnostic(&err, &input);
                let at = diag.span.start;
                diagnostics.push(diag);
                match blank_item_at(&input, at) {
                    Some(next) => input = std::borrow::Cow::Owned(next),
                    None => break,
                }
            }
        }
    }
    Parsed {
        file: File::default(),
        diagnostics,
    }
}

/// Refuses input nested deeper than [`MAX_NESTING`] before the recursive parser sees it.
fn check_nesting(text: &str) -> Option<Diagnostic> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '(' | '{' | '[' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(
                        Diagnostic::error(
                            codes::TOO_DEEP,
                            Span::new(i, i + 1),
                            format!("brackets are nested more than {MAX_NESTING} levels deep"),
                        )
                        .with_label("too deep here")
                        .with_help(
                            "split the expression into fields set one after another".to_string(),
                        ),
                    );
                }
            }
            ')' | '}' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// Words that start a top-level item at the beginning of a line.
const ITEM_STARTS: &[&str] = &[
    "pipeline ",
    "calendar ",
    "role ",
    "fields",
    "event ",
    "template ",
    "stage ",
    "phase ",
    "alert ",
];

pub(super) fn starts_item(line: &str) -> bool {
    ITEM_STARTS.iter().any(|k| line.starts_with(k))
}

/// Blanks out the top-level item around `at` (keeping every byte offset and newline), so that
/// the rest of the file can be parsed for further errors. None when nothing could be skipped.
fn blank_item_at(text: &str, at: usize) -> Option<String> {
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    // An error right at the start of an item usually means the item before it is unfinished
    // (a missing `}`): blank that one.
    let at = if line_starts.contains(&at) && starts_item(&text[at..]) {
        at.checked_sub(1)?
    } else {
        at
    };
    let item_start = line_starts
        .iter()
        .rev()
        .find(|&&s| s <= at && starts_item(&text[s..]))
        .copied()?;
    let item_end = line_starts
        .iter()
        .find(|&&s| s > at && starts_item(&text[s..]))
        .copied()
        .unwrap_or(text.len());
    if item_end <= item_start {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..item_start]);
    for c in text[item_start..item_end].chars() {
        if c == '\n' {
            out.push('\n');
        } else {
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        }
    }
    out.push_str(&text[item_end..]);
    (out != text).then_some(out)
}
