//! CSV for spreadsheets: every CSV dealflow writes goes through [`Sheet`], which writes a cell a
//! spreadsheet would run as a formula as text instead, and the import reads such a cell back
//! as the value it was ([`unescape`]).
//!
//! A spreadsheet runs a cell that begins with `=`, `+`, `-` or `@` (and, after a tab or a
//! carriage return, what follows): a client's name `=HYPERLINK("http://evil","x")` typed into
//! a website form would become a live link in the accountant's table. As OWASP advises
//! ("CSV Injection"), such a cell is written with a `'` before it, which a spreadsheet takes
//! as "this is text". A number in a column of numbers (`-5`, an amount, hours) is safe as it
//! is and stays a number; dates and moments never begin like a formula. A cell that already
//! begins with `'`s before such a character gets one more, so that [`unescape`] gives every
//! value back exactly: an export read by the import is the value exported.

use std::borrow::Cow;
use std::io::Write;

/// What a column holds: which cells of it may begin like a formula and stay as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// Anything people or clients typed, names, lists, records: escaped when it begins like a
    /// formula.
    Text,
    /// Numbers (counts, amounts, hours): a cell that is a plain number (`-5`, `-0.25`) stays a
    /// number; anything else in it is treated as text.
    Number,
}

/// The characters that make a spreadsheet read a cell as a formula when the cell begins with
/// one (OWASP's list).
const FORMULA: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether `cell`, after any `'`s it begins with, begins like a formula.
fn formula_like(cell: &str) -> bool {
    cell.trim_start_matches('\'').starts_with(FORMULA)
}

/// A plain decimal number: an optional minus, digits, an optional fraction.
fn plain_number(cell: &str) -> bool {
    let digits = cell.strip_prefix('-').unwrap_or(cell);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// A cell as written for a spreadsheet: `'` before a cell that begins like a formula (or with
/// `'`s and then like one), unless the column holds numbers and the cell is one.
pub fn escape(column: Column, cell: &str) -> Cow<'_, str> {
    if !formula_like(cell) || (column == Column::Number && plain_number(cell)) {
        return Cow::Borrowed(cell);
    }
    Cow::Owned(format!("'{cell}"))
}

/// A cell as read back: the `'` that [`escape`] put before a cell beginning like a formula
/// taken off, every other cell as it is (`'quoted'` stays `'quoted'`).
pub fn unescape(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if formula_like(rest) => rest,
        _ => cell,
    }
}

/// How lines end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// `\n`, as Unix tools expect.
    Lf,
    /// `\r\n`, as RFC 4180 writes it.
    CrLf,
}

/// A CSV table being written: a header of named columns, each with what it holds, then rows.
/// Quoting as RFC 4180 says (the `csv` crate), cells escaped as [`escape`] says.
pub struct Sheet<W: Write> {
    out: csv::Writer<W>,
    columns: Vec<Column>,
}

impl<W: Write> Sheet<W> {
    /// A table into `out` with these columns; writes the header row.
    pub fn new(out: W, header: &[(&str, Column)], lines: Lines) -> Result<Self, csv::Error> {
        let mut out = csv::WriterBuilder::new()
            .terminator(match lines {
                Lines::Lf => csv::Terminator::Any(b'\n'),
                Lines::CrLf => csv::Terminator::CRLF,
            })
            .from_writer(out);
        out.write_record(
            header
                .iter()
                .map(|(name, _)| escape(Column::Text, name).into_owned()),
        )?;
        Ok(Sheet {
            out,
            columns: header.iter().map(|(_, c)| *c).collect(),
        })
    }

    /// One row, a cell per column in the header's order (a cell past the header's columns is
    /// text).
    pub fn row<'c>(&mut self, cells: impl IntoIterator<Item = &'c str>) -> Result<(), csv::Error> {
        let columns = &self.columns;
        self.out
            .write_record(cells.into_iter().enumerate().map(|(i, cell)| {
                escape(columns.get(i).copied().unwrap_or(Column::Text), cell).into_owned()
            }))
    }

    /// Writes out what is buffered and gives the destination back.
    pub fn finish(self) -> Result<W, csv::Error> {
        self.out
            .into_inner()
            .map_err(|e| csv::Error::from(e.into_error()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_that_begins_like_a_formula_is_text() {
        for (cell, written) in [
            (
                "=HYPERLINK(\"http://evil\",\"x\")",
                "'=HYPERLINK(\"http://evil\",\"x\")",
            ),
            ("+7 916 123-45-67", "'+7 916 123-45-67"),
            ("-x", "'-x"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=x", "'\t=x"),
            ("\r=x", "'\r=x"),
            ("'=x", "''=x"),
            ("Иван", "Иван"),
            ("'quoted'", "'quoted'"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(escape(Column::Text, cell), written, "{cell:?}");
            assert_eq!(unescape(written), cell, "{written:?}");
        }
    }

    #[test]
    fn a_number_in_a_column_of_numbers_stays_a_number() {
        for n in ["-5", "-0.25", "120000.50", "0"] {
            assert_eq!(escape(Column::Number, n), n);
        }
        assert_eq!(
            escape(Column::Text, "-5"),
            "'-5",
            "text that looks like one"
        );
        for not in ["-", "-5e3", "-.5", "-5.", "=5", "-1+1"] {
            assert_eq!(escape(Column::Number, not), format!("'{not}"), "{not:?}");
        }
    }

    #[test]
    fn a_sheet_quotes_as_rfc_4180_and_escapes_each_cell() {
        let mut s = Sheet::new(
            Vec::new(),
            &[("name", Column::Text), ("amount", Column::Number)],
            Lines::CrLf,
        )
        .unwrap();
        s.row(["=1+1, \"x\"", "-5"]).unwrap();
        s.row(["-5", "=5"]).unwrap();
        let out = String::from_utf8(s.finish().unwrap()).unwrap();
        assert_eq!(out, "name,amount\r\n\"'=1+1, \"\"x\"\"\",-5\r\n'-5,'=5\r\n");
    }
}
