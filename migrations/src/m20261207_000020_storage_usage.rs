//! Storage is bounded and cleaned: the bytes each tenant keeps in storage, counted exactly, and
//! when an import's source file was deleted.
//!
//! `tenant_storage.bytes_used` is the sum of the files a tenant has in storage: the source
//! file of every import not yet deleted (`contact_imports.source_deleted_at IS NULL`) and the
//! file of every `ready` report. Import error rows live in the database, not in storage, and
//! are not counted. Triggers keep the sum in the transaction that records or forgets a file:
//! - an import's insert adds its `source_bytes`; setting `source_deleted_at` (the file was
//!   deleted) or deleting the row subtracts them;
//! - a report becoming `ready` adds its `bytes`; leaving `ready` (`expired`: its file was
//!   deleted) or deleting a ready report subtracts them.
//!
//! So no code path can forget the counter, and the gateway's upload check locks the tenant's
//! row (`SELECT ... FOR UPDATE`) to compare and record in turn. Existing files are counted
//! when the table is created. A finished import's file still present is a leftover the sweep
//! deletes (`contact_imports_source_leftovers`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE tenant_storage (
    tenant_id   uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    bytes_used  bigint NOT NULL DEFAULT 0 CHECK (bytes_used >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE contact_imports ADD COLUMN source_deleted_at timestamptz;
CREATE INDEX contact_imports_source_leftovers ON contact_imports (finished_at)
    WHERE source_deleted_at IS NULL AND status IN ('completed', 'failed', 'cancelled');

-- Adds `delta` bytes to a tenant's usage. A negative delta only updates: the tenant may be
-- being deleted (its rows cascade), and then there is nothing left to count.
CREATE FUNCTION tenant_storage_add(tenant uuid, delta bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF delta > 0 THEN
        INSERT INTO tenant_storage AS s (tenant_id, bytes_used) VALUES (tenant, delta)
        ON CONFLICT (tenant_id)
        DO UPDATE SET bytes_used = s.bytes_used + EXCLUDED.bytes_used, updated_at = now();
    ELSIF delta < 0 THEN
        UPDATE tenant_storage SET bytes_used = bytes_used + delta, updated_at = now()
         WHERE tenant_id = tenant;
    END IF;
END $$;

CREATE FUNCTION contact_imports_storage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.source_deleted_at IS NULL THEN
            PERFORM tenant_storage_add(NEW.tenant_id, NEW.source_bytes);
        END IF;
    ELSIF TG_OP = 'UPDATE' THEN
        IF OLD.source_deleted_at IS NULL AND NEW.source_deleted_at IS NOT NULL THEN
            PERFORM tenant_storage_add(OLD.tenant_id, -OLD.source_bytes);
        ELSIF OLD.source_deleted_at IS NOT NULL AND NEW.source_deleted_at IS NULL THEN
            RAISE EXCEPTION 'an import''s deleted source file cannot come back';
        END IF;
    ELSIF OLD.source_deleted_at IS NULL THEN
        PERFORM tenant_storage_add(OLD.tenant_id, -OLD.source_bytes);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER contact_imports_storage
    AFTER INSERT OR DELETE OR UPDATE OF source_deleted_at ON contact_imports
    FOR EACH ROW EXECUTE FUNCTION contact_imports_storage();

CREATE FUNCTION reports_storage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'ready' THEN
        PERFORM tenant_storage_add(OLD.tenant_id, -OLD.bytes);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'ready' THEN
        PERFORM tenant_storage_add(NEW.tenant_id, NEW.bytes);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER reports_storage
    AFTER INSERT OR DELETE OR UPDATE OF status, bytes ON reports
    FOR EACH ROW EXECUTE FUNCTION reports_storage();

INSERT INTO tenant_storage (tenant_id, bytes_used)
SELECT tenant_id, sum(bytes)
  FROM (SELECT tenant_id, source_bytes AS bytes FROM contact_imports
        UNION ALL
        SELECT tenant_id, bytes FROM reports WHERE status = 'ready') AS files
 GROUP BY tenant_id;
"#;

const DOWN: &str = r#"
DROP TRIGGER reports_storage ON reports;
DROP FUNCTION reports_storage();
DROP TRIGGER contact_imports_storage ON contact_imports;
DROP FUNCTION contact_imports_storage();
DROP FUNCTION tenant_storage_add(uuid, bigint);
DROP INDEX contact_imports_source_leftovers;
ALTER TABLE contact_imports DROP COLUMN source_deleted_at;
DROP TABLE tenant_storage;
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
