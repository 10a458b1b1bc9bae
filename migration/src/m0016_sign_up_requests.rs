//! Sign-ups wait for the owner of the email address to confirm it (issue 17): `signUp`
//! answers alike whether or not the address has an account, and only the mailbox learns
//! which. A request is owned by the company its confirmation creates (the company does not
//! exist yet, so there is no foreign key), and is found by its token's digest.

use crate::m0001_tenancy::index;
use crate::rls::{self, Wall};
use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "sign_up_requests";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(TABLE)
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(uuid("user_id"))
                .col(string("company_name"))
                .col(string("company_type"))
                .col(string("email"))
                .col(string("password_hash"))
                .col(string("first_name"))
                .col(string("last_name"))
                .col(string_uniq("token_hash"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone_null("confirmed_at"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        index(m, TABLE, "company_id").await?;
        if m.get_database_backend() == DbBackend::Postgres {
            let owned = rls::owned("company_id");
            m.get_connection()
                .execute_unprepared(&rls::protect(&Wall {
                    table: TABLE,
                    using: owned.clone(),
                    check: owned,
                    lookup: Some("token_hash"),
                }))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(TABLE).to_owned()).await
    }
}
