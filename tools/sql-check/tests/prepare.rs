//! The prepare step against a migrated database: a statement the schema answers passes, one
//! naming a missing column or table, or comparing mismatched types, fails with Postgres's
//! words and where it points.

use std::path::PathBuf;

use sql_check::collect::Statement;
use sql_check::prepare;

fn statement(line: usize, text: &str) -> Statement {
    Statement {
        file: PathBuf::from("crates/db/src/x.rs"),
        line,
        text: text.to_owned(),
    }
}

#[tokio::test]
async fn statements_the_schema_does_not_answer_are_refused() {
    let database = testkit::TestDatabase::create().await.unwrap();
    let db = prepare::connect(&database.url).await.unwrap();
    let statements = [
        statement(1, "SELECT id, name FROM tenants WHERE id = $1"),
        statement(2, "SELECT id, no_such_column FROM tenants"),
        statement(3, "UPDATE no_such_table SET x = $1"),
        statement(4, "SELECT 1 FROM tenants WHERE id = $1 AND id = now()"),
    ];
    let refused = prepare::prepare(&db, &statements).await;
    db.close().await.unwrap();
    let refused: Vec<_> = refused
        .iter()
        .map(|r| (r.statement.line, r.error.as_str()))
        .collect();
    assert_eq!(
        refused,
        [
            (
                2,
                "column \"no_such_column\" does not exist, at `no_such_column FROM tenants`"
            ),
            (
                3,
                "relation \"no_such_table\" does not exist, at `no_such_table SET x = $1`"
            ),
            (
                4,
                "operator does not exist: uuid = timestamp with time zone, at `= now()`"
            ),
        ]
    );
}
