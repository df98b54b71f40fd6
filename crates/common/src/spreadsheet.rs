//! CSV cells a spreadsheet will not run.
//!
//! Excel, LibreOffice and Google Sheets read a cell that begins with `=`, `+`, `-` or `@` as a
//! formula (`=HYPERLINK(...)`, `@SUM(A1)`, `-2+3`), and a leading tab or carriage return can
//! hide such a character from a naive check while the spreadsheet still evaluates what
//! follows. Every CSV the system writes holds text tenants control (contact names and fields,
//! opt-out messages, import rows and their reasons), so every cell goes through
//! [`csv_cell`], which follows OWASP's CSV injection guidance: such a cell is prefixed with a
//! single quote `'`, which spreadsheets show as text and do not evaluate. The CSV writer then
//! quotes the cell as CSV requires (the `'` itself needs no quoting).
//!
//! The rule applies to every cell, not only to the columns a tenant writes: a negative number
//! (`-1`) or a phone written with its `+` would be run as well, so they are prefixed too. Cells
//! the system generates (ids, RFC 3339 times, counts, phones stored as E.164 digits without
//! `+`) never begin with one of these characters, so in practice they are unchanged.

use std::borrow::Cow;

/// The characters that make a spreadsheet treat a cell as a formula (OWASP): `=`, `+`, `-`,
/// `@`, tab (0x09) and carriage return (0x0D).
pub const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `cell` as a spreadsheet will show it without running it: unchanged, unless it begins with
/// one of [`FORMULA_TRIGGERS`], then prefixed with `'`.
///
/// ```
/// use common::spreadsheet::csv_cell;
/// assert_eq!(csv_cell("=HYPERLINK(\"http://x\",\"y\")"), "'=HYPERLINK(\"http://x\",\"y\")");
/// assert_eq!(csv_cell("Ana"), "Ana");
/// ```
pub fn csv_cell(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(FORMULA_TRIGGERS) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_leading_trigger_is_prefixed_with_a_quote() {
        for (cell, safe) in [
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "'=HYPERLINK(\"http://x\",\"y\")",
            ),
            ("+1+2", "'+1+2"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1+1", "'\t=1+1"),
            ("\r=1+1", "'\r=1+1"),
            ("-1", "'-1"),
            ("+5511999990001", "'+5511999990001"),
        ] {
            assert_eq!(csv_cell(cell), safe, "{cell:?}");
        }
    }

    #[test]
    fn other_cells_are_unchanged_and_not_copied() {
        for cell in [
            "",
            "Ana",
            "5511999990001",
            "2026-12-07T16:00:00.000Z",
            "a=b",
            " =1",
            "'=1",
            "{\"city\":\"Recife\"}",
        ] {
            assert!(
                matches!(csv_cell(cell), Cow::Borrowed(c) if c == cell),
                "{cell:?}"
            );
        }
    }
}
