//! The purchasing agent (issue 20): each company's agent settings (whether it runs
//! nightly, and the safety limits of what it may draft), the multiple a supplier sells an
//! item in (its pack or carton; the agent rounds to it), each draft line's rationale (why the agent drafted
//! it, in numbers and a sentence), and who cancelled an order and why (a person declining
//! the agent's draft is remembered, so the agent does not draft the same products again
//! for a while).

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
                .table("agent_settings")
                .col(pk_uuid("company_id"))
                .col(boolean("enabled"))
                .col(big_integer_null("max_order_value_units"))
                .col(string_null("max_order_value_currency"))
                .col(big_integer_null("max_units_per_line"))
                .col(integer_null("max_drafts_per_day"))
                .col(integer("review_days"))
                .col(integer("decline_memory_days"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("agent_settings", "company_id", "companies"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("catalog_items")
                .add_column(integer("order_multiple").default(1))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("purchase_order_lines")
                .add_column(text_null("rationale"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("purchase_orders")
                .add_column(uuid_null("cancelled_by"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("purchase_orders")
                .add_column(text_null("cancel_reason"))
                .to_owned(),
        )
        .await?;
        if m.get_database_backend() == DbBackend::Postgres {
            let owned = rls::owned("company_id");
            m.get_connection()
                .execute_unprepared(&rls::protect(&Wall {
                    table: "agent_settings",
                    using: owned.clone(),
                    check: owned,
                    lookup: None,
                }))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in [
            ("purchase_orders", "cancel_reason"),
            ("purchase_orders", "cancelled_by"),
            ("purchase_order_lines", "rationale"),
            ("catalog_items", "order_multiple"),
        ] {
            m.alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        m.drop_table(Table::drop().table("agent_settings").to_owned())
            .await
    }
}
