//! Orders, part two: lens orders shared by a practice and its lab, and their status
//! history; on PostgreSQL their row-level security walls.

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
                 REVOKE DELETE ON lens_orders FROM {app};",
                app = rls::APP_ROLE,
            ))
            .await?;
            // History is written once, by a party acting as itself, and read by both.
            conn.execute_unprepared(&rls::append_only(
                "order_status_changes",
                Some(&parties),
                &format!("({parties}) AND actor_company_id = {COMPANY}"),
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["order_status_changes", "lens_orders"] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
