//! Demand history (issue 20): units sold per product, location and day (UTC), kept with
//! each sale in the transaction that posts it, so a forecast reads a product's history (or
//! the agent every product's) as one range of small rows instead of the ledger. Rows are
//! the company's. Existing sales are summed in once, here. And a balance's demand-spike
//! state, so that a spike is announced once, as low stock is once per crossing.

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
                .table("demand_daily")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(uuid("product_id"))
                .col(uuid("location_id"))
                .col(date("day"))
                .col(big_integer("units"))
                .foreign_key(&mut crate::m0001_tenancy::fk(
                    "demand_daily",
                    "company_id",
                    "companies",
                ))
                .to_owned(),
        )
        .await?;
        // One row a day for each product and location; a product's history is a range of
        // it, the company's a range of the second index.
        m.create_index(
            Index::create()
                .name("ux_demand_daily_product_day")
                .table("demand_daily")
                .col("company_id")
                .col("product_id")
                .col("location_id")
                .col("day")
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_demand_daily_company_day")
                .table("demand_daily")
                .col("company_id")
                .col("day")
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("stock_balances")
                .add_column(boolean("spike").default(false))
                .to_owned(),
        )
        .await?;
        let conn = m.get_connection();
        // A sale's quantity is the (negative) change of stock on hand. On PostgreSQL the
        // ledger's row-level security is forced on its owner too: the backfill reads it in
        // the system scope, set for this statement's transaction only.
        let backfill = match m.get_database_backend() {
            DbBackend::Postgres => {
                "SELECT set_config('app.system', 'on', true); \
                 INSERT INTO demand_daily (id, company_id, product_id, location_id, day, units) \
                 SELECT gen_random_uuid(), company_id, product_id, location_id, \
                 (created_at AT TIME ZONE 'UTC')::date, -SUM(quantity) FROM stock_movements \
                 WHERE kind = 'SALE' \
                 GROUP BY company_id, product_id, location_id, (created_at AT TIME ZONE 'UTC')::date"
            }
            _ => {
                "INSERT INTO demand_daily (id, company_id, product_id, location_id, day, units) \
                 SELECT randomblob(16), company_id, product_id, location_id, date(created_at), \
                 -SUM(quantity) FROM stock_movements WHERE kind = 'SALE' \
                 GROUP BY company_id, product_id, location_id, date(created_at)"
            }
        };
        conn.execute_unprepared(backfill).await?;
        if m.get_database_backend() == DbBackend::Postgres {
            let owned = rls::owned("company_id");
            conn.execute_unprepared(&rls::protect(&Wall {
                table: "demand_daily",
                using: owned.clone(),
                check: owned,
                lookup: None,
            }))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("stock_balances")
                .drop_column("spike")
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table("demand_daily").to_owned())
            .await
    }
}
