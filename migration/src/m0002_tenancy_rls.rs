use crate::rls::{self, COMPANY, PLATFORM, USER, Wall};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: [&str; 5] = [
    "companies",
    "users",
    "invitations",
    "api_keys",
    "refresh_tokens",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let owned = rls::owned("company_id");
        let walls = [
            // A company sees itself; the platform operator sees every company (and, by the
            // policies below, none of their data).
            Wall {
                table: "companies",
                using: format!("id = {COMPANY} OR {PLATFORM}"),
                check: format!("id = {COMPANY} OR {PLATFORM}"),
                lookup: None,
            },
            // A user row is visible to its company and to the user; it can only ever be
            // written into the acting company (platform admins are made by `system`).
            Wall {
                table: "users",
                using: format!("{owned} OR id = {USER}"),
                check: owned.clone(),
                lookup: Some("email"),
            },
            Wall {
                table: "invitations",
                using: owned.clone(),
                check: owned.clone(),
                lookup: Some("token_hash"),
            },
            Wall {
                table: "api_keys",
                using: owned.clone(),
                check: owned.clone(),
                lookup: Some("key_hash"),
            },
            Wall {
                table: "refresh_tokens",
                using: format!("user_id = {USER}"),
                check: format!("user_id = {USER}"),
                lookup: Some("token_hash"),
            },
        ];
        let conn = m.get_connection();
        conn.execute_unprepared(&rls::ensure_app_role()).await?;
        for wall in &walls {
            conn.execute_unprepared(&rls::protect(wall)).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        for t in TABLES {
            m.get_connection()
                .execute_unprepared(&format!(
                    "DROP POLICY IF EXISTS tenant_wall ON {t}; DROP POLICY IF EXISTS credential_lookup ON {t}; \
                     DROP POLICY IF EXISTS system_access ON {t}; \
                     ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY; ALTER TABLE {t} DISABLE ROW LEVEL SECURITY;"
                ))
                .await?;
        }
        Ok(())
    }
}
