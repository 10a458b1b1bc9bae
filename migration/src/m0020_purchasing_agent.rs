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
        // The agent's own drafts, apart from other system drafts (the assistant's, made at
        // a person's request), which the agent never updates, withdraws or counts.
        m.alter_table(
            Table::alter()
                .table("purchase_orders")
                .add_column(boolean("drafted_by_agent").default(false))
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
            let conn = m.get_connection();
            conn.execute_unprepared(&rls::protect(&Wall {
                table: "agent_settings",
                using: owned.clone(),
                check: owned,
                lookup: None,
            }))
            .await?;
            // The new columns under the purchase order's rules (m0008's triggers): who
            // cancelled and why are written by the buyer's cancelling only; whether the
            // agent drafted an order never changes; a line's rationale is fixed once its
            // order leaves DRAFT.
            let app = rls::APP_ROLE;
            conn.execute_unprepared(&format!(
                "CREATE OR REPLACE FUNCTION ils_purchase_order_agent_rules() RETURNS trigger LANGUAGE plpgsql AS $$\n\
                 DECLARE me uuid := nullif(current_setting('app.company_id', true), '')::uuid;\n\
                 BEGIN\n\
                   IF current_user <> '{app}' THEN RETURN NEW; END IF;\n\
                   IF NEW.drafted_by_agent <> OLD.drafted_by_agent THEN\n\
                     RAISE EXCEPTION 'who drafted a purchase order cannot change';\n\
                   END IF;\n\
                   IF (NEW.cancelled_by IS DISTINCT FROM OLD.cancelled_by\n\
                        OR NEW.cancel_reason IS DISTINCT FROM OLD.cancel_reason) AND NOT (\n\
                        me IS NOT DISTINCT FROM OLD.company_id AND OLD.status IN ('DRAFT', 'SUBMITTED')\n\
                        AND NEW.status = 'CANCELLED') THEN\n\
                     RAISE EXCEPTION 'who cancelled and why is written when the buyer cancels';\n\
                   END IF;\n\
                   RETURN NEW;\n\
                 END $$;\n\
                 DROP TRIGGER IF EXISTS purchase_orders_agent_rules ON purchase_orders;\n\
                 CREATE TRIGGER purchase_orders_agent_rules BEFORE UPDATE ON purchase_orders \
                 FOR EACH ROW EXECUTE FUNCTION ils_purchase_order_agent_rules();\n\
                 CREATE OR REPLACE FUNCTION ils_purchase_order_line_agent_rules() RETURNS trigger LANGUAGE plpgsql AS $$\n\
                 DECLARE st text;\n\
                 BEGIN\n\
                   IF current_user <> '{app}' THEN RETURN NEW; END IF;\n\
                   SELECT status INTO st FROM purchase_orders WHERE id = OLD.order_id;\n\
                   IF NEW.rationale IS DISTINCT FROM OLD.rationale AND st IS DISTINCT FROM 'DRAFT' THEN\n\
                     RAISE EXCEPTION 'a line is fixed once its order is submitted';\n\
                   END IF;\n\
                   RETURN NEW;\n\
                 END $$;\n\
                 DROP TRIGGER IF EXISTS purchase_order_lines_agent_rules ON purchase_order_lines;\n\
                 CREATE TRIGGER purchase_order_lines_agent_rules BEFORE UPDATE ON purchase_order_lines \
                 FOR EACH ROW EXECUTE FUNCTION ils_purchase_order_line_agent_rules();"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared(
                    "DROP TRIGGER IF EXISTS purchase_orders_agent_rules ON purchase_orders;\n\
                     DROP FUNCTION IF EXISTS ils_purchase_order_agent_rules();\n\
                     DROP TRIGGER IF EXISTS purchase_order_lines_agent_rules ON purchase_order_lines;\n\
                     DROP FUNCTION IF EXISTS ils_purchase_order_line_agent_rules();",
                )
                .await?;
        }
        for (table, column) in [
            ("purchase_orders", "drafted_by_agent"),
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
