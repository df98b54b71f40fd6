#![doc = include_str!("../README.md")]

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database};

/// A migrated database that exists for one test and is dropped with this value.
pub struct TestDatabase {
    pub url: String,
    name: String,
    server_url: String,
}

fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

impl TestDatabase {
    pub async fn create() -> anyhow::Result<Self> {
        let server_url = server_url();
        let (base, _) = server_url
            .rsplit_once('/')
            .ok_or_else(|| anyhow::anyhow!("TEST_DATABASE_URL has no database name"))?;
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(&server_url).await?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await?;
        admin.close().await?;
        let url = format!("{base}/{name}");
        let db = Database::connect(&url).await?;
        Migrator::up(&db, None).await?;
        db.close().await?;
        Ok(Self {
            url,
            name,
            server_url,
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let server_url = self.server_url.clone();
        let name = self.name.clone();
        // Drop runs outside async context: use a private runtime on a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let admin = Database::connect(&server_url).await?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await?;
                admin.close().await?;
                anyhow::Ok(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("testkit: could not drop database {}", self.name);
        }
    }
}

/// A queue prefix no other test uses.
pub fn random_queue_prefix() -> String {
    format!("test-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}
