//! Dashboards' rollups (issue 21): each company's figures per metric, dimension and day,
//! and what each source record (a lens order, a purchase order) adds to them now, so the
//! event handler that keeps them applies only differences and an event delivered twice
//! counts once. Both are the company's own rows, behind both walls. They start empty:
//! `ils analytics rebuild` fills them from the orders and purchase orders already there.

use crate::m0001_tenancy::fk;
use crate::rls::{self, Wall};
use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("analytics_daily")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(string("metric"))
                .col(string("dim"))
                .col(date("day"))
                .col(big_integer("value"))
                .col(big_integer("count"))
                .foreign_key(&mut fk("analytics_daily", "company_id", "companies"))
                .to_owned(),
        )
        .await?;
        // The upsert's key; a metric's whole history (work in progress) is a range of it.
        m.create_index(
            Index::create()
                .name("ux_analytics_daily_key")
                .table("analytics_daily")
                .col("company_id")
                .col("metric")
                .col("dim")
                .col("day")
                .unique()
                .to_owned(),
        )
        .await?;
        // A dashboard's period is a range of this one.
        m.create_index(
            Index::create()
                .name("ix_analytics_daily_company_day")
                .table("analytics_daily")
                .col("company_id")
                .col("day")
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("analytics_sources")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(uuid("source_id"))
                .col(text("facts"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("analytics_sources", "company_id", "companies"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_analytics_sources_source")
                .table("analytics_sources")
                .col("company_id")
                .col("source_id")
                .unique()
                .to_owned(),
        )
        .await?;
        if m.get_database_backend() == DbBackend::Postgres {
            let conn = m.get_connection();
            let owned = rls::owned("company_id");
            for table in ["analytics_daily", "analytics_sources"] {
                conn.execute_unprepared(&rls::protect(&Wall {
                    table,
                    using: owned.clone(),
                    check: owned.clone(),
                    lookup: None,
                }))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("analytics_sources").to_owned())
            .await?;
        m.drop_table(Table::drop().table("analytics_daily").to_owned())
            .await
    }
}
