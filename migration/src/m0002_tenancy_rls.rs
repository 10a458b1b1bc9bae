use crate::rls::{self, COMPANY, LOOKUP, PLATFORM, USER};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const DML: &str = "SELECT, INSERT, UPDATE, DELETE";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let owned = rls::owned("company_id");
        let steps = [
            rls::ensure_app_role(),
            // A company sees itself; the platform operator sees every company (and, by the
            // policies below, none of their data).
            rls::protect(
                "companies",
                &format!("id = {COMPANY} OR {PLATFORM}"),
                &format!("id = {COMPANY} OR {PLATFORM}"),
                DML,
            ),
            // A user row is visible to its company, to the user itself, and to a log-in
            // that names its email.
            rls::protect(
                "users",
                &format!("{owned} OR id = {USER} OR email = {LOOKUP}"),
                &format!("{owned} OR id = {USER}"),
                DML,
            ),
            rls::protect(
                "invitations",
                &format!("{owned} OR token_hash = {LOOKUP}"),
                &owned,
                DML,
            ),
            rls::protect(
                "api_keys",
                &format!("{owned} OR key_hash = {LOOKUP}"),
                &owned,
                DML,
            ),
            rls::protect(
                "refresh_tokens",
                &format!("user_id = {USER} OR token_hash = {LOOKUP}"),
                &format!("user_id = {USER}"),
                DML,
            ),
        ];
        for sql in steps {
            m.get_connection().execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        for t in [
            "companies",
            "users",
            "invitations",
            "api_keys",
            "refresh_tokens",
        ] {
            m.get_connection()
                .execute_unprepared(&format!(
                    "DROP POLICY IF EXISTS tenant_wall ON {t}; ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY; ALTER TABLE {t} DISABLE ROW LEVEL SECURITY;"
                ))
                .await?;
        }
        Ok(())
    }
}
