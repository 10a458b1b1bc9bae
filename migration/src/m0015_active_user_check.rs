//! A deactivated user's access token stops working at once, not when it expires (issue
//! 17): every guarded transaction of a signed-in user checks that the user is still
//! active. On PostgreSQL the check travels with the transaction's `BEGIN` and scope (one
//! message, no round trip of its own) as a call of this function, which raises
//! SQLSTATE 28000 (`invalid_authorization_specification`) for a user who is not active. It
//! runs as the application role after the scope is set, so it reads the user's own row
//! through row-level security like any other statement. SQLite reads the row instead.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The function the guard calls (`ils_kernel::guard`), by this name.
pub const FUNCTION: &str = "ils_require_active_user";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared(&format!(
                    "CREATE OR REPLACE FUNCTION {FUNCTION}(u uuid) RETURNS void
                     LANGUAGE plpgsql STABLE AS $$
                     BEGIN
                       IF NOT EXISTS (SELECT 1 FROM users WHERE id = u AND status = 'ACTIVE') THEN
                         RAISE EXCEPTION 'this account is not active' USING ERRCODE = '28000';
                       END IF;
                     END $$"
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared(&format!("DROP FUNCTION IF EXISTS {FUNCTION}(uuid)"))
                .await?;
        }
        Ok(())
    }
}
