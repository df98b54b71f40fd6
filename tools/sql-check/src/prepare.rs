//! Asks Postgres to plan each statement: `PREPARE` parses it, resolves every table, column,
//! function and operator against the schema, and infers its parameters' types, without
//! running it.

use sea_orm::sqlx::postgres::PgErrorPosition;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, RuntimeErr,
    SqlxPostgresError,
};

use crate::collect::Statement;

/// A statement Postgres refused, with its answer.
#[derive(Debug)]
pub struct Refused<'a> {
    pub statement: &'a Statement,
    pub error: String,
}

/// One connection to `url`: every `PREPARE` of a run goes to the same session, so each name
/// stays unique in it and nothing needs deallocating (the session ends with the run).
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options.max_connections(1).sqlx_logging(false);
    Database::connect(options).await
}

/// The statements Postgres refuses to prepare on `db` (a migrated database), in order.
pub async fn prepare<'a>(
    db: &impl ConnectionTrait,
    statements: &'a [Statement],
) -> Vec<Refused<'a>> {
    let mut refused = Vec::new();
    for (n, statement) in statements.iter().enumerate() {
        let head = format!("PREPARE sql_check_{n} AS ");
        let prepare = format!("{head}{}", statement.text);
        if let Err(e) = db.execute_unprepared(&prepare).await {
            refused.push(Refused {
                statement,
                error: postgres_message(&e, &prepare, head.chars().count()),
            });
        }
    }
    refused
}

/// Postgres's own words and, when it says where, the start of the statement from there
/// (`sent` is what was sent, whose first `skip` characters precede the statement).
fn postgres_message(e: &DbErr, sent: &str, skip: usize) -> String {
    let (DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error))) =
        e
    else {
        return e.to_string();
    };
    let Some(postgres) = error
        .as_database_error()
        .and_then(|d| d.try_downcast_ref::<SqlxPostgresError>())
    else {
        return e.to_string();
    };
    let message = postgres.message();
    match postgres.position() {
        // Postgres counts characters from 1.
        Some(PgErrorPosition::Original(at)) if at > skip => {
            let near: String = sent
                .chars()
                .skip(at - 1)
                .take_while(|&c| c != '\n')
                .take(40)
                .collect();
            format!("{message}, at `{}`", near.trim_end())
        }
        _ => message.to_owned(),
    }
}
