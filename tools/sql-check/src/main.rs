//! `sql-check`: collects every `sql!` statement of the workspace's non-test sources, refuses
//! raw SQL that is not one, and prepares each statement in a fresh database the migrations
//! build on TEST_DATABASE_URL's server (dropped at the end). Prints each problem as
//! `file:line: message` and exits 1 if there is any.

use std::path::Path;
use std::process::ExitCode;

use sql_check::collect;
use sql_check::prepare;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<ExitCode> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize()?;
    let mut sources = Vec::new();
    for path in collect::source_files(&root)? {
        let source = std::fs::read_to_string(&path)?;
        let relative = path.strip_prefix(&root).unwrap_or(&path).to_owned();
        sources.push((relative, source));
    }
    let (statements, findings) = collect::collect(&sources);
    for f in &findings {
        eprintln!("{}:{}: {}", f.file.display(), f.line, f.message);
    }

    let database = testkit::TestDatabase::create().await?;
    let db = prepare::connect(&database.url).await?;
    let refused = prepare::prepare(&db, &statements).await;
    db.close().await?;
    drop(database);
    for r in &refused {
        eprintln!(
            "{}:{}: {}",
            r.statement.file.display(),
            r.statement.line,
            r.error
        );
    }

    let dynamic = collect::DYNAMIC.len();
    if findings.is_empty() && refused.is_empty() {
        println!(
            "sql-check: {} statements prepared against the migrated schema; raw SQL built at \
             run time only in the {dynamic} functions listed with their reasons (DYNAMIC)",
            statements.len()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "sql-check: {} of {} statements refused by Postgres, {} raw SQL not written with sql!",
            refused.len(),
            statements.len(),
            findings.len()
        );
        Ok(ExitCode::FAILURE)
    }
}
