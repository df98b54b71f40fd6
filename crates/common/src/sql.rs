//! The marker every SQL statement of the workspace is written in.

/// A SQL statement as written in the code, marked so that `tools/sql-check` (run by
/// `just lint`) finds it: the checker reads every non-test source file of the workspace,
/// collects the text of each `sql!`, and prepares it against a freshly migrated database, so a
/// statement naming a missing table or column, or otherwise wrong, fails the lint with its
/// file and line. It also refuses raw SQL (`Statement::from_sql_and_values`,
/// `Statement::from_string`, `execute_unprepared`) whose text is not a `sql!`.
///
/// `sql!("...")` is the literal itself (`&'static str`). A statement that shares a fragment
/// (a column list) names it: `sql!("SELECT {COLUMNS} FROM t", COLUMNS)` formats the named
/// constants into the text (a `String`); each must be a `const NAME: &str = "..."` of the same
/// file, which is how the checker reads it. `{{` and `}}` stand for braces in that form only.
///
/// ```
/// const COLUMNS: &str = "id, name";
/// assert_eq!(common::sql!("SELECT 1"), "SELECT 1");
/// assert_eq!(common::sql!("SELECT {COLUMNS} FROM t", COLUMNS), "SELECT id, name FROM t");
/// ```
#[macro_export]
macro_rules! sql {
    ($text:literal) => {
        $text
    };
    ($text:literal, $($fragment:ident),+ $(,)?) => {
        ::std::format!($text, $($fragment = $fragment),+)
    };
}
