//! Inventory, part one: locations, products, the append-only stock ledger and its
//! balances, and each company's inventory settings; on PostgreSQL their walls (the ledger
//! append-only even for its owner's application role).

use crate::m0001_tenancy::{fk, index};
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
                .table("stock_locations")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(string("name"))
                .col(boolean("is_default"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("stock_locations", "company_id", "companies"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_stock_locations_name")
                .table("stock_locations")
                .col("company_id")
                .col("name")
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("products")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(string("sku"))
                .col(string_null("gtin"))
                .col(string("name"))
                .col(string_null("brand"))
                .col(string("category"))
                .col(text("attributes"))
                .col(big_integer_null("cost_units"))
                .col(big_integer_null("price_units"))
                .col(string("currency"))
                .col(big_integer_null("reorder_point"))
                .col(big_integer_null("min_quantity"))
                .col(big_integer_null("max_quantity"))
                .col(integer_null("lead_time_days"))
                .col(big_integer_null("safety_stock"))
                .col(uuid_null("supplier_item_id"))
                .col(uuid_null("supplier_company_id"))
                .col(boolean("active"))
                .col(text("search_text"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("products", "company_id", "companies"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_products_sku")
                .table("products")
                .col("company_id")
                .col("sku")
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("stock_balances")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(uuid("location_id"))
                .col(uuid("product_id"))
                .col(big_integer("on_hand"))
                .col(big_integer("reserved"))
                .col(big_integer("avg_cost"))
                // Below its product's threshold since the last downward crossing (the
                // low-stock event is sent once per crossing).
                .col(boolean("low"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("stock_balances", "company_id", "companies"))
                .foreign_key(&mut fk("stock_balances", "location_id", "stock_locations"))
                .foreign_key(&mut fk("stock_balances", "product_id", "products"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_stock_balances_place")
                .table("stock_balances")
                .col("company_id")
                .col("location_id")
                .col("product_id")
                .unique()
                .to_owned(),
        )
        .await?;
        index(m, "stock_balances", "product_id").await?;

        m.create_table(
            Table::create()
                .table("stock_movements")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(uuid("location_id"))
                .col(uuid("product_id"))
                .col(string("kind"))
                // The signed changes of on-hand and reserved stock this movement made.
                .col(big_integer("quantity"))
                .col(big_integer("reserved_delta"))
                .col(big_integer_null("unit_cost"))
                .col(big_integer("on_hand_after"))
                .col(big_integer("avg_cost_after"))
                .col(uuid_null("transfer_id"))
                .col(string_null("reference"))
                .col(text_null("note"))
                .col(uuid_null("actor_user_id"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("stock_movements", "company_id", "companies"))
                .foreign_key(&mut fk("stock_movements", "location_id", "stock_locations"))
                .foreign_key(&mut fk("stock_movements", "product_id", "products"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_stock_movements_product")
                .table("stock_movements")
                .col("company_id")
                .col("product_id")
                .col("id")
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("inventory_settings")
                .col(pk_uuid("company_id"))
                .col(boolean("allow_negative_stock"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("inventory_settings", "company_id", "companies"))
                .to_owned(),
        )
        .await?;

        if m.get_database_backend() == DbBackend::Postgres {
            let conn = m.get_connection();
            conn.execute_unprepared(&rls::ensure_app_role()).await?;
            let owned = rls::owned("company_id");
            for table in [
                "stock_locations",
                "products",
                "stock_balances",
                "inventory_settings",
            ] {
                conn.execute_unprepared(&rls::protect(&Wall {
                    table,
                    using: owned.clone(),
                    check: owned.clone(),
                    lookup: None,
                }))
                .await?;
            }
            // Corrections are new movements: the ledger is never updated or deleted.
            conn.execute_unprepared(&rls::append_only("stock_movements", Some(&owned), &owned))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "inventory_settings",
            "stock_movements",
            "stock_balances",
            "products",
            "stock_locations",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
