//! Trusted documents for partners (issue 18): named operation lists with versions, the
//! documents of each version by SHA-256, the lists each API key may run, and how often each
//! caller ran each document. A list is a company's own (`company_id`) or the platform's
//! (`company_id` null): every company reads the platform's, only platform admins write
//! them; a company reads and writes its own. Grants and usage belong to the key's company.

use crate::m0001_tenancy::index;
use crate::rls::{self, COMPANY, PLATFORM, Wall};
use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const PUBLISHED: [&str; 3] = [
    "operation_lists",
    "operation_list_versions",
    "persisted_documents",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("operation_lists")
                .col(pk_uuid("id"))
                .col(uuid_null("company_id"))
                .col(string("name"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("operation_list_versions")
                .col(pk_uuid("id"))
                .col(uuid("list_id"))
                .col(uuid_null("company_id"))
                .col(integer("version"))
                .col(string("status"))
                .col(integer("document_count"))
                .col(uuid_null("published_by"))
                .col(timestamp_with_time_zone("published_at"))
                .col(timestamp_with_time_zone_null("retired_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_operation_list_versions_list_id")
                        .from("operation_list_versions", "list_id")
                        .to("operation_lists", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("persisted_documents")
                .col(pk_uuid("id"))
                .col(uuid("version_id"))
                .col(uuid_null("company_id"))
                .col(string("hash"))
                .col(string_null("name"))
                .col(string("kind"))
                .col(text("canonical"))
                .col(text("body"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_persisted_documents_version_id")
                        .from("persisted_documents", "version_id")
                        .to("operation_list_versions", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("api_key_operation_lists")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(uuid("api_key_id"))
                .col(uuid("list_id"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_api_key_operation_lists_api_key_id")
                        .from("api_key_operation_lists", "api_key_id")
                        .to("api_keys", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_api_key_operation_lists_list_id")
                        .from("api_key_operation_lists", "list_id")
                        .to("operation_lists", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("operation_usage")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(uuid("api_key_id"))
                .col(string("hash"))
                .col(big_integer("count"))
                .col(big_integer("errors"))
                .col(timestamp_with_time_zone("last_seen_at"))
                .to_owned(),
        )
        .await?;
        for (name, table, cols, unique) in [
            (
                "ux_operation_lists_company_name",
                "operation_lists",
                &["company_id", "name"][..],
                true,
            ),
            (
                "ux_operation_list_versions_list_version",
                "operation_list_versions",
                &["list_id", "version"][..],
                true,
            ),
            (
                "ux_persisted_documents_version_hash",
                "persisted_documents",
                &["version_id", "hash"][..],
                true,
            ),
            (
                "ix_persisted_documents_hash",
                "persisted_documents",
                &["hash"][..],
                false,
            ),
            (
                "ux_api_key_operation_lists_key_list",
                "api_key_operation_lists",
                &["api_key_id", "list_id"][..],
                true,
            ),
            (
                "ux_operation_usage_caller_hash",
                "operation_usage",
                &["company_id", "api_key_id", "hash"][..],
                true,
            ),
            (
                "ix_operation_usage_hash",
                "operation_usage",
                &["hash"][..],
                false,
            ),
        ] {
            let mut idx = Index::create().name(name).table(table).to_owned();
            for c in cols {
                idx.col(*c);
            }
            if unique {
                idx.unique();
            }
            m.create_index(idx).await?;
        }
        index(m, "operation_list_versions", "company_id").await?;
        index(m, "api_key_operation_lists", "company_id").await?;
        // A platform list's name is unique too (the index above treats nulls as distinct).
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_operation_lists_platform_name ON operation_lists (name) \
                 WHERE company_id IS NULL",
            )
            .await?;
        if m.get_database_backend() == DbBackend::Postgres {
            let conn = m.get_connection();
            // A company reads, changes and deletes its own rows; platform admins all of
            // them; every company (not a scope without one) may also read the platform's
            // rows (null owner), never change them.
            let write = format!("company_id = {COMPANY} OR {PLATFORM}");
            for table in PUBLISHED {
                conn.execute_unprepared(&rls::protect(&Wall {
                    table,
                    using: write.clone(),
                    check: write.clone(),
                    lookup: None,
                }))
                .await?;
                conn.execute_unprepared(&rls::also_readable(
                    table,
                    "platform_rows",
                    &format!("company_id IS NULL AND {COMPANY} IS NOT NULL"),
                ))
                .await?;
            }
            let owned = rls::owned("company_id");
            conn.execute_unprepared(&rls::protect(&Wall {
                table: "api_key_operation_lists",
                using: owned.clone(),
                check: owned.clone(),
                lookup: None,
            }))
            .await?;
            conn.execute_unprepared(&rls::protect(&Wall {
                table: "operation_usage",
                using: format!("{owned} OR {PLATFORM}"),
                check: format!("{owned} OR {PLATFORM}"),
                lookup: None,
            }))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "operation_usage",
            "api_key_operation_lists",
            "persisted_documents",
            "operation_list_versions",
            "operation_lists",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
