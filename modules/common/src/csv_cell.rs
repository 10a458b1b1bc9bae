//! Cells of the CSV files the server writes. A spreadsheet opening a CSV runs a cell that
//! starts with `=`, `+`, `-` or `@` as a formula (and some treat a leading tab or carriage
//! return the same way), so an item named `=HYPERLINK("http://evil.example")` would become
//! a live formula in whoever opens the stock export. Text cells that start so get a leading
//! `'` (OWASP's "CSV injection" advice); numbers are written as numbers, so a negative
//! quantity stays `-3` and sums in the spreadsheet.

use std::borrow::Cow;

/// The characters a spreadsheet may read as the start of a formula.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A text cell, neutralised: `'` before a leading formula character, otherwise as it is.
pub fn text(value: &str) -> Cow<'_, str> {
    if value.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

#[cfg(test)]
mod tests {
    use super::text;

    #[test]
    fn formula_starts_are_neutralised_and_plain_text_is_kept() {
        for (given, written) in [
            ("=1+2", "'=1+2"),
            ("+41 22", "'+41 22"),
            ("-5 frame", "'-5 frame"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            (
                "=HYPERLINK(\"http://evil.example\")",
                "'=HYPERLINK(\"http://evil.example\")",
            ),
            ("Frame 52=18", "Frame 52=18"),
            ("a-b", "a-b"),
            ("", ""),
            ("'quoted", "'quoted"),
        ] {
            assert_eq!(text(given), written, "{given:?}");
        }
    }
}
