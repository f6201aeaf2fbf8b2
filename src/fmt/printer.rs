//! Writes lines at an indent, weaving the source's comments and blank lines back in.

use crate::ast::{Comment, Span};

/// Indentation of one level.
const INDENT: &str = "  ";

pub(super) struct Printer<'a> {
    src: &'a str,
    comments: &'a [Comment],
    next: usize,
    out: String,
    depth: usize,
    /// End of the last thing written, in the source.
    last_end: Option<usize>,
    /// The last line written opened a block: no blank line may follow it.
    after_open: bool,
}

impl<'a> Printer<'a> {
    pub(super) fn new(src: &'a str, comments: &'a [Comment]) -> Self {
        Printer {
            src,
            comments,
            next: 0,
            out: String::new(),
            depth: 0,
            last_end: None,
            after_open: true,
        }
    }

    pub(super) fn indent_width(&self) -> usize {
        self.depth * INDENT.len()
    }

    /// The indent of a line that continues the current one.
    pub(super) fn continuation(&self) -> String {
        INDENT.repeat(self.depth + 1)
    }

    /// Whether a comment not yet written starts before `pos`.
    pub(super) fn has_comments_before(&self, pos: usize) -> bool {
        self.comments
            .get(self.next)
            .is_some_and(|c| c.span.start < pos)
    }

    /// A blank line, if the source had one between the last thing written and `pos`.
    fn blank_before(&mut self, pos: usize) {
        let Some(end) = self.last_end else { return };
        if self.after_open || pos <= end || self.out.ends_with("\n\n") {
            return;
        }
        let gap = self.src.get(end..pos).unwrap_or("");
        let newlines = gap.chars().filter(|&c| c == '\n').count();
        if newlines >= 2 {
            self.out.push('\n');
        }
    }

    fn write_line(&mut self, text: &str) {
        for _ in 0..self.depth {
            self.out.push_str(INDENT);
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    /// Writes every comment that starts before `pos`, each on its own line.
    fn comments_before(&mut self, pos: usize) {
        while let Some(c) = self.comments.get(self.next) {
            if c.span.start >= pos {
                break;
            }
            self.blank_before(c.span.start);
            self.write_line(&c.text);
            self.after_open = false;
            self.last_end = Some(c.span.end);
            self.next += 1;
        }
    }

    /// Appends the comment that follows `pos` on the same source line, if any.
    fn trailing(&mut self, pos: usize) {
        let Some(c) = self.comments.get(self.next) else {
            return;
        };
        let Some(gap) = self.src.get(pos..c.span.start) else {
            return;
        };
        // Only blanks (and separators) may stand between the node and its comment.
        let only_blanks = gap
            .chars()
            .all(|ch| ch == ' ' || ch == '\t' || ch == ';' || ch == ',');
        if c.span.start >= pos && only_blanks {
            // Replace the newline just written with the comment.
            self.out.pop();
            self.out.push_str("  ");
            self.out.push_str(&c.text);
            self.out.push('\n');
            self.last_end = Some(c.span.end);
            self.next += 1;
        }
    }

    /// A whole line (or lines) for a node; comments inside the node move above it.
    pub(super) fn leaf(&mut self, span: Span, text: String) {
        self.comments_before(span.start);
        self.blank_before(span.start);
        // Comments inside a one-line node are written above it.
        while self.has_comments_before(span.end) {
            self.comments_before(span.end);
        }
        self.write_line(&text);
        self.after_open = false;
        self.last_end = Some(span.end);
        self.trailing(span.end);
    }

    /// The first line of a block: `head {`.
    pub(super) fn open(&mut self, span: Span, head: String) {
        self.comments_before(span.start);
        self.blank_before(span.start);
        self.write_line(&format!("{head} {{"));
        // A comment after `{` on the header's line stays there.
        let header_end = self
            .src
            .get(span.start..)
            .and_then(|r| r.find('{'))
            .map(|i| span.start + i + 1);
        self.last_end = Some(span.start);
        // ...unless the whole block sits on one line: then the comment follows its `}`.
        let block_spans_lines = |c: &Comment| {
            self.src
                .get(c.span.end..span.end)
                .is_some_and(|r| r.contains('\n'))
        };
        if let Some(end) = header_end.filter(|&e| e <= span.end)
            && self.comments.get(self.next).is_some_and(block_spans_lines)
        {
            self.trailing(end);
        }
        self.after_open = true;
        self.depth += 1;
    }

    /// The closing `}` of a block that ends at `span.end`.
    pub(super) fn close(&mut self, span: Span) {
        self.close_with(span, "}".to_string());
    }

    /// The closing line of a block, written as `text`.
    pub(super) fn close_with(&mut self, span: Span, text: String) {
        self.comments_before(span.end);
        self.depth = self.depth.saturating_sub(1);
        self.write_line(&text);
        self.after_open = false;
        self.last_end = Some(span.end);
        self.trailing(span.end);
    }

    pub(super) fn finish(mut self) -> String {
        self.comments_before(usize::MAX);
        self.out
    }
}
