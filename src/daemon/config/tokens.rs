//! `[[tokens]]` taken as a whole: no two entries hold the same token. Else the last one would
//! win without a word (a `read` token that became `staff`); both entries are named by their
//! place, line and name, never by the secret.

use std::path::Path;

use serde::Deserialize;

use super::{ConfigError, Token};

/// Where the list came from: a file (its text, for the entries' lines) or a variable.
pub(super) enum Source<'a> {
    /// The configuration file.
    File(&'a Path, &'a str),
    /// `DEALFLOW_TOKENS`.
    Variable,
}

/// The line each `[[tokens]]` entry of the file starts on, in order.
fn lines(text: &str) -> Vec<usize> {
    #[derive(Deserialize)]
    struct Lines {
        #[serde(default)]
        tokens: Vec<toml::Spanned<toml::Table>>,
    }
    let Ok(found) = toml::from_str::<Lines>(text) else {
        return Vec::new();
    };
    found
        .tokens
        .iter()
        // An entry's span is its `[[tokens]]` header.
        .map(|t| {
            text.get(..t.span().start)
                .unwrap_or(text)
                .matches('\n')
                .count()
                + 1
        })
        .collect()
}

/// Refuses two entries with the same token, naming both.
pub(super) fn unique(tokens: &[Token], source: Source<'_>) -> Result<(), ConfigError> {
    let lines = match source {
        Source::File(_, text) => lines(text),
        Source::Variable => Vec::new(),
    };
    let entry = |i: usize| {
        let t: &Token = &tokens[i];
        let name = t
            .name
            .as_deref()
            .or(t.person.as_deref())
            .map_or(String::new(), |n| format!(" `{n}`"));
        match lines.get(i) {
            Some(line) => format!("entry {}{name} (line {line})", i + 1),
            None => format!("entry {}{name}", i + 1),
        }
    };
    for (i, t) in tokens.iter().enumerate() {
        let same = tokens[..i]
            .iter()
            .position(|o| o.token.trim() == t.token.trim());
        if let Some(first) = same {
            let place = match source {
                Source::File(path, _) => format!("`[[tokens]]` of {}", path.display()),
                Source::Variable => "`DEALFLOW_TOKENS`".to_string(),
            };
            return Err(ConfigError::Named(format!(
                "{place}: {} and {} hold the same token; give each its own",
                entry(first),
                entry(i)
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_entries_with_one_token_are_named_by_line_and_name_without_the_secret() {
        let text = "[server]\nlisten = \"127.0.0.1:0\"\n\n[[tokens]]\ntoken = \"staff-secret-1\"\nscope = \"staff\"\nname = \"office\"\n\n[[tokens]]\ntoken = \"read-secret-1\"\nscope = \"read\"\n\n[[tokens]]\n# the screen\ntoken = \" staff-secret-1\"\nscope = \"read\"\nperson = \"lena\"\n";
        #[derive(Deserialize)]
        struct Only {
            tokens: Vec<Token>,
        }
        let Only { tokens } = toml::from_str::<Only>(text).expect("tokens");
        assert_eq!(lines(text), [4, 9, 13]);
        let e = unique(&tokens, Source::File(Path::new("dealflow.toml"), text))
            .expect_err("refused")
            .to_string();
        assert_eq!(
            e,
            "configuration: `[[tokens]]` of dealflow.toml: entry 1 `office` (line 4) and entry 3 `lena` (line 13) hold the same token; give each its own"
        );
        assert!(!e.contains("secret"), "{e}");
        let e = unique(&tokens, Source::Variable)
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains("`DEALFLOW_TOKENS`: entry 1 `office` and entry 3 `lena`"),
            "{e}"
        );
        assert!(unique(&tokens[..2], Source::Variable).is_ok());
    }
}
