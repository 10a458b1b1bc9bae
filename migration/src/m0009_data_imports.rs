//! One import pipeline for every CSV target: the supplier catalog's import table becomes
//! `data_imports`, and each row says what its file is imported into (`target`). One import
//! runs at a time per company and target. (On PostgreSQL the table's key and foreign-key
//! constraints keep their first names; its policies and grants move with it.)

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let conn = m.get_connection();
        for sql in [
            "ALTER TABLE catalog_imports RENAME TO data_imports",
            "ALTER TABLE data_imports ADD COLUMN target varchar NOT NULL DEFAULT 'CATALOG'",
            "DROP INDEX ux_catalog_imports_one_running",
            "CREATE UNIQUE INDEX ux_data_imports_one_running ON data_imports (company_id, target) \
             WHERE status IN ('QUEUED', 'RUNNING')",
            "DROP INDEX ix_catalog_imports_company_id",
            "CREATE INDEX ix_data_imports_company_id ON data_imports (company_id)",
        ] {
            conn.execute_unprepared(sql).await?;
        }
        if m.get_database_backend() == DbBackend::Postgres {
            // The row-level security policies moved with the table; the targets are closed.
            conn.execute_unprepared(
                "ALTER TABLE data_imports ADD CONSTRAINT data_imports_target \
                 CHECK (target IN ('CATALOG', 'PRODUCTS'))",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let conn = m.get_connection();
        for sql in [
            "DELETE FROM data_imports WHERE target <> 'CATALOG'",
            "DROP INDEX ix_data_imports_company_id",
            "DROP INDEX ux_data_imports_one_running",
            "ALTER TABLE data_imports DROP COLUMN target",
            "ALTER TABLE data_imports RENAME TO catalog_imports",
            "CREATE UNIQUE INDEX ux_catalog_imports_one_running ON catalog_imports (company_id) \
             WHERE status IN ('QUEUED', 'RUNNING')",
            "CREATE INDEX ix_catalog_imports_company_id ON catalog_imports (company_id)",
        ] {
            conn.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
