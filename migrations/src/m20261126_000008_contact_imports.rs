//! Contact imports: an uploaded file (in storage) turned into contacts by `worker-import`.
//!
//! `rows_read` counts the file's records already handled (imported, updated, skipped or
//! failed) and is committed with the contacts of each batch, so a restarted worker skips exactly
//! those records: none is imported twice, none is lost. Per-row errors are kept with their line
//! for the downloadable error file.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE contact_imports (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    account_id      uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_by      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status          text NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    status_reason   text,
    format          text NOT NULL CHECK (format IN ('csv', 'json', 'ndjson')),
    -- ISO 3166 region for numbers written without a country code.
    default_region  text NOT NULL CHECK (default_region ~ '^[A-Z]{2}$'),
    on_duplicate    text NOT NULL CHECK (on_duplicate IN ('update', 'skip')),
    -- NULL: detected from the file's first bytes.
    encoding        text CHECK (encoding IN ('utf-8', 'latin-1')),
    -- CSV only; NULL: detected from the header line.
    separator       text CHECK (separator IN (',', ';', E'\t', '|')),
    phone_column    text CHECK (length(phone_column) BETWEEN 1 AND 200),
    name_column     text CHECK (length(name_column) BETWEEN 1 AND 200),
    file_name       text CHECK (length(file_name) <= 255),
    source_key      text NOT NULL,
    source_bytes    bigint NOT NULL CHECK (source_bytes > 0),
    rows_read       bigint NOT NULL DEFAULT 0 CHECK (rows_read >= 0),
    imported        bigint NOT NULL DEFAULT 0 CHECK (imported >= 0),
    updated         bigint NOT NULL DEFAULT 0 CHECK (updated >= 0),
    skipped         bigint NOT NULL DEFAULT 0 CHECK (skipped >= 0),
    failed          bigint NOT NULL DEFAULT 0 CHECK (failed >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz
);
CREATE INDEX contact_imports_tenant_idx ON contact_imports (tenant_id, id);

CREATE TABLE contact_import_errors (
    import_id  uuid NOT NULL REFERENCES contact_imports (id) ON DELETE CASCADE,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The line (CSV, NDJSON) or item number (JSON array) the row starts at, from 1.
    line       bigint NOT NULL CHECK (line >= 1),
    value      text NOT NULL,
    reason     text NOT NULL,
    PRIMARY KEY (import_id, line)
);
"#;

const DOWN: &str = r#"
DROP TABLE contact_import_errors;
DROP TABLE contact_imports;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(UP).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(DOWN).await?;
        Ok(())
    }
}
