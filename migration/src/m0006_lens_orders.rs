//! Orders, part two: lens orders shared by a practice and its lab, and their status
//! history; on PostgreSQL their row-level security walls.

use crate::m0001_tenancy::{fk, index};
use crate::rls::{self, COMPANY, Wall};
use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// This migration's order trigger function (m0007 replaces it, and its `down` puts this
/// one back).
pub(crate) fn order_rules(app: &str) -> String {
    format!(
        "CREATE OR REPLACE FUNCTION ils_lens_order_rules() RETURNS trigger LANGUAGE plpgsql AS $$\n\
                 DECLARE me uuid := nullif(current_setting('app.company_id', true), '')::uuid;\n\
                 BEGIN\n\
                   IF current_user <> '{app}' THEN RETURN NEW; END IF;\n\
                   IF NEW.company_id <> OLD.company_id OR NEW.order_number <> OLD.order_number\n\
                      OR NEW.created_at <> OLD.created_at THEN\n\
                     RAISE EXCEPTION 'an order''s practice and number cannot change';\n\
                   END IF;\n\
                   IF NEW.lab_company_id IS DISTINCT FROM OLD.lab_company_id AND NOT (\n\
                        OLD.lab_company_id IS NULL AND OLD.status = 'DRAFT' AND NEW.status = 'SUBMITTED'\n\
                        AND me = OLD.company_id) THEN\n\
                     RAISE EXCEPTION 'an order is sent to a lab once, by its practice, when submitted';\n\
                   END IF;\n\
                   IF me IS DISTINCT FROM OLD.company_id AND (\n\
                        NEW.rx <> OLD.rx OR NEW.rx_minus_cyl <> OLD.rx_minus_cyl OR NEW.lens <> OLD.lens\n\
                        OR NEW.frame IS DISTINCT FROM OLD.frame OR NEW.fit <> OLD.fit\n\
                        OR NEW.patient_ref <> OLD.patient_ref\n\
                        OR NEW.patient_name IS DISTINCT FROM OLD.patient_name\n\
                        OR NEW.patient_id IS DISTINCT FROM OLD.patient_id) THEN\n\
                     RAISE EXCEPTION 'only the practice changes the job';\n\
                   END IF;\n\
                   IF NEW.version <> OLD.version + 1 THEN\n\
                     RAISE EXCEPTION 'every change of an order is one version';\n\
                   END IF;\n\
                   RETURN NEW;\n\
                 END $$;"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("lens_orders")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(uuid_null("lab_company_id"))
                .col(string_null("lab_name"))
                .col(string("order_number"))
                .col(string("status"))
                .col(integer("version"))
                .col(uuid_null("patient_id"))
                .col(string("patient_ref"))
                .col(string_null("patient_name"))
                .col(text("rx"))
                .col(text("rx_minus_cyl"))
                .col(text("lens"))
                .col(text_null("frame"))
                .col(text("fit"))
                .col(string("job_type"))
                .col(uuid_null("remake_of"))
                .col(string_null("remake_reason"))
                .col(date_null("requested_date"))
                .col(text_null("notes"))
                .col(string_null("lab_job_number"))
                .col(date_null("due_date"))
                .col(string_null("production_stage"))
                .col(text_null("hold_question"))
                .col(text_null("hold_answer"))
                .col(string_null("carrier"))
                .col(string_null("tracking_number"))
                .col(text_null("reject_reason"))
                .col(timestamp_with_time_zone_null("submitted_at"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("lens_orders", "company_id", "companies"))
                .foreign_key(&mut fk("lens_orders", "lab_company_id", "companies"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_lens_orders_number")
                .table("lens_orders")
                .col("company_id")
                .col("order_number")
                .unique()
                .to_owned(),
        )
        .await?;
        index(m, "lens_orders", "lab_company_id").await?;

        m.create_table(
            Table::create()
                .table("order_status_changes")
                .col(pk_uuid("id"))
                .col(uuid("order_id"))
                .col(uuid("company_id"))
                .col(uuid_null("lab_company_id"))
                .col(string_null("from_status"))
                .col(string("to_status"))
                .col(uuid_null("actor_company_id"))
                .col(uuid_null("actor_user_id"))
                .col(text_null("note"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("order_status_changes", "order_id", "lens_orders"))
                .to_owned(),
        )
        .await?;
        index(m, "order_status_changes", "order_id").await?;

        if m.get_database_backend() == DbBackend::Postgres {
            let conn = m.get_connection();
            conn.execute_unprepared(&rls::ensure_app_role()).await?;
            let parties = format!("company_id = {COMPANY} OR lab_company_id = {COMPANY}");
            conn.execute_unprepared(&rls::protect(&Wall {
                table: "lens_orders",
                using: parties.clone(),
                check: parties.clone(),
                lookup: None,
            }))
            .await?;
            // Only the practice creates an order, as a draft of its own.
            conn.execute_unprepared(&format!(
                "DROP POLICY IF EXISTS practice_creates ON lens_orders;\n\
                 CREATE POLICY practice_creates ON lens_orders AS RESTRICTIVE FOR INSERT TO {app} \
                 WITH CHECK (company_id = {COMPANY} AND lab_company_id IS NULL AND status = 'DRAFT');\n\
                 REVOKE DELETE ON lens_orders FROM {app};\n\
                 {rules}\n\
                 CREATE TRIGGER lens_orders_rules BEFORE UPDATE ON lens_orders \
                 FOR EACH ROW EXECUTE FUNCTION ils_lens_order_rules();",
                app = rls::APP_ROLE,
                rules = order_rules(rls::APP_ROLE),
            ))
            .await?;
            // History is written once, by a party acting as itself, and read by both.
            conn.execute_unprepared(&rls::append_only(
                "order_status_changes",
                Some(&parties),
                // A step names its order's own parties (the sub-select reads only orders
                // the writer is a party to).
                &format!(
                    "({parties}) AND actor_company_id = {COMPANY} AND EXISTS (SELECT 1 FROM lens_orders o \
                     WHERE o.id = order_id AND o.company_id = order_status_changes.company_id \
                     AND o.lab_company_id IS NOT DISTINCT FROM order_status_changes.lab_company_id)"
                ),
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["order_status_changes", "lens_orders"] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS ils_lens_order_rules()")
                .await?;
        }
        Ok(())
    }
}
