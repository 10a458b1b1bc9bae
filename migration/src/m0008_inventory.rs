//! Inventory, part one: locations, products, the append-only stock ledger and its
//! balances, and each company's inventory settings; on PostgreSQL their walls (the ledger
//! append-only even for its owner's application role).

use crate::m0001_tenancy::{fk, index};
use crate::rls::{self, COMPANY, Wall};
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

        m.create_table(
            Table::create()
                .table("purchase_orders")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(uuid("supplier_id"))
                .col(uuid_null("supplier_company_id"))
                .col(string("supplier_name"))
                .col(string("po_number"))
                .col(string("status"))
                .col(integer("version"))
                .col(string("currency"))
                .col(uuid("location_id"))
                .col(boolean("created_by_system"))
                .col(uuid_null("approved_by"))
                .col(timestamp_with_time_zone_null("approved_at"))
                .col(timestamp_with_time_zone_null("submitted_at"))
                .col(string_null("supplier_reference"))
                .col(text_null("reject_reason"))
                .col(text_null("notes"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("purchase_orders", "company_id", "companies"))
                .foreign_key(&mut fk(
                    "purchase_orders",
                    "supplier_company_id",
                    "companies",
                ))
                .foreign_key(&mut fk("purchase_orders", "location_id", "stock_locations"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_purchase_orders_number")
                .table("purchase_orders")
                .col("company_id")
                .col("po_number")
                .unique()
                .to_owned(),
        )
        .await?;
        index(m, "purchase_orders", "supplier_company_id").await?;
        m.create_table(
            Table::create()
                .table("purchase_order_lines")
                .col(pk_uuid("id"))
                .col(uuid("order_id"))
                .col(uuid("company_id"))
                .col(uuid_null("supplier_company_id"))
                .col(uuid("catalog_item_id"))
                .col(uuid("product_id"))
                .col(string("sku"))
                .col(string("name"))
                .col(big_integer("quantity"))
                .col(big_integer("unit_price"))
                .col(big_integer("received_quantity"))
                .foreign_key(&mut fk(
                    "purchase_order_lines",
                    "order_id",
                    "purchase_orders",
                ))
                .foreign_key(&mut fk("purchase_order_lines", "product_id", "products"))
                .to_owned(),
        )
        .await?;
        index(m, "purchase_order_lines", "order_id").await?;

        m.create_table(
            Table::create()
                .table("stock_counts")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(uuid("location_id"))
                .col(string("status"))
                .col(timestamp_with_time_zone_null("posted_at"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("stock_counts", "company_id", "companies"))
                .foreign_key(&mut fk("stock_counts", "location_id", "stock_locations"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("stock_count_lines")
                .col(pk_uuid("id"))
                .col(uuid("count_id"))
                .col(uuid("company_id"))
                .col(uuid("product_id"))
                .col(big_integer("counted"))
                .col(big_integer_null("expected"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("stock_count_lines", "count_id", "stock_counts"))
                .foreign_key(&mut fk("stock_count_lines", "product_id", "products"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_stock_count_lines_product")
                .table("stock_count_lines")
                .col("count_id")
                .col("product_id")
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("stock_discrepancies")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(uuid("location_id"))
                .col(uuid("product_id"))
                .col(big_integer("balance_on_hand"))
                .col(big_integer("ledger_on_hand"))
                .col(big_integer("balance_reserved"))
                .col(big_integer("ledger_reserved"))
                .col(string("status"))
                .col(timestamp_with_time_zone("found_at"))
                .col(timestamp_with_time_zone_null("resolved_at"))
                .col(uuid_null("resolved_by"))
                .foreign_key(&mut fk("stock_discrepancies", "company_id", "companies"))
                .to_owned(),
        )
        .await?;
        index(m, "stock_discrepancies", "company_id").await?;

        if m.get_database_backend() == DbBackend::Postgres {
            let conn = m.get_connection();
            conn.execute_unprepared(&rls::ensure_app_role()).await?;
            let owned = rls::owned("company_id");
            for table in [
                "stock_locations",
                "products",
                "stock_balances",
                "inventory_settings",
                "stock_counts",
                "stock_count_lines",
                "stock_discrepancies",
            ] {
                conn.execute_unprepared(&rls::protect(&Wall {
                    table,
                    using: owned.clone(),
                    check: owned.clone(),
                    lookup: None,
                }))
                .await?;
            }
            // A purchase order and its lines: the buyer's, and the supplier's to read and
            // answer once submitted. Only the buyer creates one (its own draft, no supplier
            // party yet); nobody deletes a submitted one; the supplier changes nothing but
            // its answer (a trigger); lines change by the buyer only.
            let parties = format!("company_id = {COMPANY} OR supplier_company_id = {COMPANY}");
            for table in ["purchase_orders", "purchase_order_lines"] {
                conn.execute_unprepared(&rls::protect(&Wall {
                    table,
                    using: parties.clone(),
                    check: parties.clone(),
                    lookup: None,
                }))
                .await?;
            }
            conn.execute_unprepared(&format!(
                "DROP POLICY IF EXISTS buyer_creates ON purchase_orders;\n\
                 CREATE POLICY buyer_creates ON purchase_orders AS RESTRICTIVE FOR INSERT TO {app} \
                 WITH CHECK (company_id = {COMPANY} AND supplier_company_id IS NULL AND status = 'DRAFT');\n\
                 DROP POLICY IF EXISTS buyer_deletes ON purchase_orders;\n\
                 CREATE POLICY buyer_deletes ON purchase_orders AS RESTRICTIVE FOR DELETE TO {app} \
                 USING (company_id = {COMPANY} AND status = 'DRAFT');\n\
                 DROP POLICY IF EXISTS buyer_writes_lines ON purchase_order_lines;\n\
                 CREATE POLICY buyer_writes_lines ON purchase_order_lines AS RESTRICTIVE FOR UPDATE TO {app} \
                 USING (company_id = {COMPANY});\n\
                 DROP POLICY IF EXISTS buyer_adds_lines ON purchase_order_lines;\n\
                 CREATE POLICY buyer_adds_lines ON purchase_order_lines AS RESTRICTIVE FOR INSERT TO {app} \
                 WITH CHECK (company_id = {COMPANY} AND supplier_company_id IS NULL AND EXISTS (\
                 SELECT 1 FROM purchase_orders o WHERE o.id = order_id AND o.company_id = {COMPANY} \
                 AND o.status = 'DRAFT'));\n\
                 DROP POLICY IF EXISTS buyer_deletes_lines ON purchase_order_lines;\n\
                 CREATE POLICY buyer_deletes_lines ON purchase_order_lines AS RESTRICTIVE FOR DELETE TO {app} \
                 USING (company_id = {COMPANY} AND supplier_company_id IS NULL);\n\
                 CREATE OR REPLACE FUNCTION ils_purchase_order_rules() RETURNS trigger LANGUAGE plpgsql AS $$\n\
                 DECLARE me uuid := nullif(current_setting('app.company_id', true), '')::uuid;\n\
                 DECLARE is_buyer boolean := me IS NOT NULL AND me = OLD.company_id;\n\
                 DECLARE is_supplier boolean := me IS NOT NULL AND me IS NOT DISTINCT FROM OLD.supplier_company_id;\n\
                 BEGIN\n\
                   IF current_user <> '{app}' THEN RETURN NEW; END IF;\n\
                   IF NEW.company_id <> OLD.company_id OR NEW.po_number <> OLD.po_number\n\
                      OR NEW.supplier_id <> OLD.supplier_id OR NEW.created_at <> OLD.created_at\n\
                      OR NEW.created_by_system <> OLD.created_by_system OR NEW.supplier_name <> OLD.supplier_name THEN\n\
                     RAISE EXCEPTION 'a purchase order''s buyer, number and supplier cannot change';\n\
                   END IF;\n\
                   IF NEW.supplier_company_id IS DISTINCT FROM OLD.supplier_company_id AND NOT (\n\
                        OLD.supplier_company_id IS NULL AND NEW.supplier_company_id = OLD.supplier_id\n\
                        AND OLD.status = 'DRAFT' AND NEW.status = 'SUBMITTED' AND is_buyer) THEN\n\
                     RAISE EXCEPTION 'a purchase order goes to its own supplier once, when submitted';\n\
                   END IF;\n\
                   IF OLD.status <> 'DRAFT' AND (NEW.currency <> OLD.currency OR NEW.location_id <> OLD.location_id\n\
                        OR NEW.notes IS DISTINCT FROM OLD.notes OR NEW.approved_by IS DISTINCT FROM OLD.approved_by\n\
                        OR NEW.approved_at IS DISTINCT FROM OLD.approved_at\n\
                        OR NEW.submitted_at IS DISTINCT FROM OLD.submitted_at) THEN\n\
                     RAISE EXCEPTION 'a purchase order''s terms are fixed once it is submitted';\n\
                   END IF;\n\
                   IF (NEW.supplier_reference IS DISTINCT FROM OLD.supplier_reference\n\
                        OR NEW.reject_reason IS DISTINCT FROM OLD.reject_reason) AND NOT is_supplier THEN\n\
                     RAISE EXCEPTION 'the answer is the supplier''s';\n\
                   END IF;\n\
                   IF NEW.status <> OLD.status AND NOT (\n\
                        (is_buyer AND (OLD.status, NEW.status) IN (('DRAFT', 'SUBMITTED'), ('DRAFT', 'CANCELLED'),\n\
                          ('SUBMITTED', 'CANCELLED'), ('ACKNOWLEDGED', 'PARTIALLY_RECEIVED'), ('ACKNOWLEDGED', 'RECEIVED'),\n\
                          ('PARTIALLY_RECEIVED', 'RECEIVED')))\n\
                        OR (is_supplier AND OLD.status = 'SUBMITTED' AND NEW.status IN ('ACKNOWLEDGED', 'REJECTED'))) THEN\n\
                     RAISE EXCEPTION 'not a move this party may make';\n\
                   END IF;\n\
                   IF NEW.status = OLD.status AND NOT is_buyer THEN\n\
                     RAISE EXCEPTION 'a supplier only answers a submitted order';\n\
                   END IF;\n\
                   IF NEW.version <> OLD.version + 1 THEN\n\
                     RAISE EXCEPTION 'every change of a purchase order is one version';\n\
                   END IF;\n\
                   RETURN NEW;\n\
                 END $$;\n\
                 CREATE OR REPLACE FUNCTION ils_purchase_order_line_rules() RETURNS trigger LANGUAGE plpgsql AS $$\n\
                 DECLARE st text; sup uuid;\n\
                 BEGIN\n\
                   IF current_user <> '{app}' THEN RETURN NEW; END IF;\n\
                   SELECT status, supplier_id INTO st, sup FROM purchase_orders WHERE id = OLD.order_id;\n\
                   IF (NEW.order_id <> OLD.order_id OR NEW.company_id <> OLD.company_id\n\
                        OR NEW.catalog_item_id <> OLD.catalog_item_id OR NEW.product_id <> OLD.product_id\n\
                        OR NEW.sku <> OLD.sku OR NEW.name <> OLD.name OR NEW.quantity <> OLD.quantity\n\
                        OR NEW.unit_price <> OLD.unit_price) AND st IS DISTINCT FROM 'DRAFT' THEN\n\
                     RAISE EXCEPTION 'a line is fixed once its order is submitted';\n\
                   END IF;\n\
                   IF NEW.supplier_company_id IS DISTINCT FROM OLD.supplier_company_id AND NOT (\n\
                        OLD.supplier_company_id IS NULL AND NEW.supplier_company_id = sup) THEN\n\
                     RAISE EXCEPTION 'a line goes to its order''s supplier';\n\
                   END IF;\n\
                   IF NEW.received_quantity <> OLD.received_quantity AND (NEW.received_quantity < OLD.received_quantity\n\
                        OR st NOT IN ('ACKNOWLEDGED', 'PARTIALLY_RECEIVED')) THEN\n\
                     RAISE EXCEPTION 'receipts only add up, on an acknowledged order';\n\
                   END IF;\n\
                   RETURN NEW;\n\
                 END $$;\n\
                 DROP TRIGGER IF EXISTS purchase_order_lines_rules ON purchase_order_lines;\n\
                 CREATE TRIGGER purchase_order_lines_rules BEFORE UPDATE ON purchase_order_lines \
                 FOR EACH ROW EXECUTE FUNCTION ils_purchase_order_line_rules();\n\
                 REVOKE DELETE ON products, stock_locations, stock_balances, stock_counts, stock_count_lines, \
                 stock_discrepancies FROM {app};\n\
                 DROP TRIGGER IF EXISTS purchase_orders_rules ON purchase_orders;\n\
                 CREATE TRIGGER purchase_orders_rules BEFORE UPDATE ON purchase_orders \
                 FOR EACH ROW EXECUTE FUNCTION ils_purchase_order_rules();",
                app = rls::APP_ROLE,
            ))
            .await?;
            // Corrections are new movements: the ledger is never updated or deleted.
            conn.execute_unprepared(&rls::append_only("stock_movements", Some(&owned), &owned))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared(
                    "DROP FUNCTION IF EXISTS ils_purchase_order_rules() CASCADE; \
                     DROP FUNCTION IF EXISTS ils_purchase_order_line_rules() CASCADE",
                )
                .await?;
        }
        for t in [
            "stock_discrepancies",
            "stock_count_lines",
            "stock_counts",
            "purchase_order_lines",
            "purchase_orders",
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
