use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("companies")
                .col(pk_uuid("id"))
                .col(string("name"))
                .col(string("company_type"))
                .col(string("status"))
                .col(string("plan"))
                .col(text_null("rejection_reason"))
                .col(text_null("address"))
                .col(string_null("phone"))
                .col(string_null("website"))
                .col(text_null("opening_hours"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("users")
                .col(pk_uuid("id"))
                .col(uuid_null("company_id"))
                .col(string_uniq("email"))
                .col(string("password_hash"))
                .col(string("first_name"))
                .col(string("last_name"))
                .col(string("role"))
                .col(string("status"))
                .col(boolean("is_platform_admin"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("users", "company_id", "companies"))
                .to_owned(),
        )
        .await?;
        index(m, "users", "company_id").await?;

        m.create_table(
            Table::create()
                .table("invitations")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(string("email"))
                .col(string("role"))
                .col(string_uniq("token_hash"))
                .col(uuid("invited_by"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone_null("accepted_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("invitations", "company_id", "companies"))
                .to_owned(),
        )
        .await?;
        index(m, "invitations", "company_id").await?;

        m.create_table(
            Table::create()
                .table("api_keys")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(string("name"))
                .col(string("role"))
                .col(boolean("persisted_only"))
                .col(string("key_prefix"))
                .col(string_uniq("key_hash"))
                .col(uuid("created_by"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("last_used_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .foreign_key(&mut fk("api_keys", "company_id", "companies"))
                .to_owned(),
        )
        .await?;
        index(m, "api_keys", "company_id").await?;

        m.create_table(
            Table::create()
                .table("refresh_tokens")
                .col(pk_uuid("id"))
                .col(uuid("user_id"))
                .col(uuid("family_id"))
                .col(string_uniq("token_hash"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone_null("used_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("refresh_tokens", "user_id", "users"))
                .to_owned(),
        )
        .await?;
        index(m, "refresh_tokens", "user_id").await?;
        index(m, "refresh_tokens", "family_id").await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "refresh_tokens",
            "api_keys",
            "invitations",
            "users",
            "companies",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}

pub(crate) fn fk(
    table: &'static str,
    col: &'static str,
    to: &'static str,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{col}"))
        .from(table, col)
        .to(to, "id")
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

pub(crate) async fn index(
    m: &SchemaManager<'_>,
    table: &'static str,
    col: &'static str,
) -> Result<(), DbErr> {
    m.create_index(
        Index::create()
            .name(format!("ix_{table}_{col}"))
            .table(table)
            .col(col)
            .to_owned(),
    )
    .await
}
