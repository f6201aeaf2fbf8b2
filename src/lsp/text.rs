//! Positions as the protocol counts them (line, UTF-16 code unit) and byte offsets in a text.

use lsp_types::{Position, Range};

/// A document's text with its line starts, for turning offsets into positions and back.
#[derive(Debug, Clone)]
pub struct Text {
    /// The whole text.
    pub text: String,
    line_starts: Vec<usize>,
}

impl Text {
    /// Indexes a text.
    pub fn new(text: String) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Text { text, line_starts }
    }

    /// The position of a byte offset (clamped to the text, and to a character boundary).
    pub fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let character: usize = self.text[start..offset].chars().map(char::len_utf16).sum();
        Position::new(line as u32, character as u32)
    }

    /// The range of a byte span.
    pub fn range(&self, start: usize, end: usize) -> Range {
        Range::new(self.position(start), self.position(end.max(start)))
    }

    /// The byte offset of a position (past the line's end: its end; past the last line: the
    /// text's end).
    pub fn offset(&self, p: Position) -> usize {
        let Some(&start) = self.line_starts.get(p.line as usize) else {
            return self.text.len();
        };
        let end = self
            .line_starts
            .get(p.line as usize + 1)
            .map_or(self.text.len(), |&e| e - 1);
        let mut units = 0;
        for (i, c) in self.text[start..end].char_indices() {
            if units >= p.character as usize {
                return start + i;
            }
            units += c.len_utf16();
        }
        end
    }

    /// The range that covers the whole text.
    pub fn whole(&self) -> Range {
        Range::new(Position::new(0, 0), self.position(self.text.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_utf16_units_and_come_back_to_the_same_offsets() {
        // Cyrillic is one UTF-16 unit and two bytes; an emoji two units and four bytes.
        let t = Text::new("stage lead \"Лид\" {\n  # 😀 x\n}".to_string());
        let lid = t.text.find("Лид").unwrap();
        assert_eq!(t.position(lid), Position::new(0, 12));
        assert_eq!(t.position(lid + "Лид".len()), Position::new(0, 15));
        let x = t.text.find('x').unwrap();
        assert_eq!(t.position(x), Position::new(1, 7));
        for off in [0, lid, x, t.text.len()] {
            assert_eq!(t.offset(t.position(off)), off);
        }
        assert_eq!(t.offset(Position::new(0, 999)), t.text.find('\n').unwrap());
        assert_eq!(t.offset(Position::new(9, 0)), t.text.len());
        // Inside a character: the character's start.
        assert_eq!(t.position(lid + 1), Position::new(0, 12));
    }
}
