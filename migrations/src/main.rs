//! `migrate`: applies the schema. Run it once per deploy, before the services start.

use migration::{Migrator, MigratorTrait, ensure_database};

const USAGE: &str = "usage: migrate [up|down|status|fresh]
  up      create the database if missing, then apply pending migrations (default)
  down    roll back the last applied migration
  status  list applied and pending migrations
  fresh   drop every table and apply all migrations (development only)

DATABASE_URL selects the database.";

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let command = std::env::args().nth(1).unwrap_or_else(|| "up".to_owned());
    let env = common::config::Env::system();
    let url = match env.url(
        "DATABASE_URL",
        common::config::DEFAULT_DATABASE_URL,
        &["postgres", "postgresql"],
    ) {
        Ok(url) => url,
        Err(e) => {
            eprintln!("migrate: {e}");
            std::process::exit(2);
        }
    };
    match command.as_str() {
        "up" => {
            if ensure_database(&url).await? {
                println!("created database");
            }
            let db = sea_orm_migration::sea_orm::Database::connect(&url).await?;
            Migrator::up(&db, None).await?;
            println!("migrations applied");
        }
        "down" => {
            let db = sea_orm_migration::sea_orm::Database::connect(&url).await?;
            Migrator::down(&db, Some(1)).await?;
            println!("rolled back one migration");
        }
        "status" => {
            let db = sea_orm_migration::sea_orm::Database::connect(&url).await?;
            Migrator::status(&db).await?;
        }
        "fresh" => {
            ensure_database(&url).await?;
            let db = sea_orm_migration::sea_orm::Database::connect(&url).await?;
            Migrator::fresh(&db).await?;
            println!("database recreated");
        }
        "-h" | "--help" | "help" => println!("{USAGE}"),
        other => {
            eprintln!("unknown command `{other}`\n\n{USAGE}");
            std::process::exit(2);
        }
    }
    Ok(())
}
