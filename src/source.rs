//! Source files and byte offsets turned into line and column, used only when rendering.

/// A file as read, with its line starts indexed.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The name shown to people (the path as given).
    pub name: String,
    /// The whole text.
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// Index a file's text.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let col = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line + 1, col + 1)
    }

    /// The text of a 1-based line, without its newline.
    pub fn line(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.wrapping_sub(1)) else {
            return "";
        };
        let end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |&e| e.saturating_sub(1));
        self.text
            .get(start..end)
            .unwrap_or("")
            .trim_end_matches('\r')
    }
}

#[cfg(test)]
mod tests {
    use super::SourceFile;

    #[test]
    fn counts_characters_not_bytes() {
        let f = SourceFile::new("x.flow", "stage лид \"Лид\"\n  -> x\n");
        assert_eq!(f.line_col(0), (1, 1));
        // `"Лид"` starts after `stage лид ` (10 characters, 13 bytes).
        assert_eq!(f.line_col(13), (1, 11));
        assert_eq!(f.line_col(f.text.find("->").unwrap()), (2, 3));
        assert_eq!(f.line(2), "  -> x");
        assert_eq!(f.line(9), "");
    }
}
