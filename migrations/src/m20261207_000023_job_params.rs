//! A job's parameters beyond its subject live on its row, not in its queue message: the message
//! now only names the job (`proto/jobs.proto`), and a job type declares its parameters as a
//! typed value stored here as JSON. NULL when the type has none (every type of today).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE jobs ADD COLUMN params jsonb;")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE jobs DROP COLUMN IF EXISTS params;")
            .await?;
        Ok(())
    }
}
