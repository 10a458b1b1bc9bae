//! Plans as the platform sells them (issue 22): `FREE_ECP` for practices, `FULL` for labs,
//! suppliers and practices that upgrade. The per-type free plans labs and suppliers were
//! given before become `FULL`. A company may ask for another plan (`requested_plan`, until
//! a platform admin decides), and platform admins may give one company budgets other than
//! its plan's (`rate_overrides`, JSON). Usage is kept per company, day, caller and
//! operation (`usage_daily`), the company's own rows behind both walls.

use crate::m0001_tenancy::fk;
use crate::rls::{self, Wall};
use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let conn = m.get_connection();
        conn.execute_unprepared(
            "UPDATE companies SET plan = 'FULL' WHERE plan IN ('FREE_LAB', 'FREE_SUPPLIER')",
        )
        .await?;
        for column in ["requested_plan", "rate_overrides"] {
            m.alter_table(
                Table::alter()
                    .table("companies")
                    .add_column(text_null(column))
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table("usage_daily")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(date("day"))
                // `key:<uuid>` or `user:<uuid>`: who called.
                .col(string("caller"))
                .col(string("operation"))
                .col(big_integer("requests"))
                .col(big_integer("cost"))
                .col(big_integer("refusals"))
                .col(big_integer("errors"))
                .foreign_key(&mut fk("usage_daily", "company_id", "companies"))
                .to_owned(),
        )
        .await?;
        // The flush's upsert key; a period is a range of it.
        m.create_index(
            Index::create()
                .name("ux_usage_daily_key")
                .table("usage_daily")
                .col("company_id")
                .col("day")
                .col("caller")
                .col("operation")
                .unique()
                .to_owned(),
        )
        .await?;
        if m.get_database_backend() == DbBackend::Postgres {
            let owned = rls::owned("company_id");
            conn.execute_unprepared(&rls::protect(&Wall {
                table: "usage_daily",
                using: owned.clone(),
                check: owned,
                lookup: None,
            }))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("usage_daily").to_owned())
            .await?;
        for column in ["requested_plan", "rate_overrides"] {
            m.alter_table(
                Table::alter()
                    .table("companies")
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        m.get_connection()
            .execute_unprepared(
                "UPDATE companies SET plan = CASE company_type \
                 WHEN 'LAB' THEN 'FREE_LAB' WHEN 'SUPPLIER' THEN 'FREE_SUPPLIER' ELSE 'FREE_ECP' END",
            )
            .await?;
        Ok(())
    }
}
