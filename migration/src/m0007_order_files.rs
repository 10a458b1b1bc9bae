//! Orders, part three: each lab's turnaround rules, and the lab's right to re-measure a
//! job it holds (a frame that came later, traced at the lab), written into the PostgreSQL
//! wall's order trigger.

use crate::m0001_tenancy::fk;
use crate::rls::{self, Wall};
use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The order trigger of m0006, stricter: the job (everything the draft says) closes to
/// everyone once submitted, except the measurements (frame and fitting heights), which the
/// lab re-measures while it holds the job; the lab's own fields (job number, due date,
/// stage, question, shipment, rejection) are written by the lab only, a cancellation's
/// reason by the practice only.
pub(crate) fn order_rules(app: &str) -> String {
    format!(
        "CREATE OR REPLACE FUNCTION ils_lens_order_rules() RETURNS trigger LANGUAGE plpgsql AS $$\n\
         DECLARE me uuid := nullif(current_setting('app.company_id', true), '')::uuid;\n\
         DECLARE job_changed boolean := NEW.rx <> OLD.rx OR NEW.rx_minus_cyl <> OLD.rx_minus_cyl\n\
              OR NEW.lens <> OLD.lens OR NEW.patient_ref <> OLD.patient_ref\n\
              OR NEW.patient_name IS DISTINCT FROM OLD.patient_name\n\
              OR NEW.patient_id IS DISTINCT FROM OLD.patient_id OR NEW.job_type <> OLD.job_type\n\
              OR NEW.patient_birth_date IS DISTINCT FROM OLD.patient_birth_date\n\
              OR NEW.remake_of IS DISTINCT FROM OLD.remake_of\n\
              OR NEW.remake_reason IS DISTINCT FROM OLD.remake_reason\n\
              OR NEW.requested_date IS DISTINCT FROM OLD.requested_date\n\
              OR NEW.notes IS DISTINCT FROM OLD.notes;\n\
         DECLARE measured boolean := NEW.frame IS DISTINCT FROM OLD.frame OR NEW.fit <> OLD.fit;\n\
         DECLARE labs_part boolean := NEW.lab_job_number IS DISTINCT FROM OLD.lab_job_number\n\
              OR NEW.due_date IS DISTINCT FROM OLD.due_date\n\
              OR NEW.production_stage IS DISTINCT FROM OLD.production_stage\n\
              OR NEW.hold_question IS DISTINCT FROM OLD.hold_question\n\
              OR NEW.carrier IS DISTINCT FROM OLD.carrier\n\
              OR NEW.tracking_number IS DISTINCT FROM OLD.tracking_number\n\
              OR NEW.reject_reason IS DISTINCT FROM OLD.reject_reason;\n\
         DECLARE practices_part boolean := NEW.cancel_reason IS DISTINCT FROM OLD.cancel_reason;\n\
         DECLARE is_lab boolean := me IS NOT NULL AND me IS NOT DISTINCT FROM OLD.lab_company_id;\n\
         DECLARE is_practice boolean := me IS NOT NULL AND me = OLD.company_id;\n\
         BEGIN\n\
           IF current_user <> '{app}' THEN RETURN NEW; END IF;\n\
           IF NEW.company_id <> OLD.company_id OR NEW.order_number <> OLD.order_number\n\
              OR NEW.created_at <> OLD.created_at THEN\n\
             RAISE EXCEPTION 'an order''s practice and number cannot change';\n\
           END IF;\n\
           IF NEW.lab_company_id IS DISTINCT FROM OLD.lab_company_id AND NOT (\n\
                OLD.lab_company_id IS NULL AND OLD.status = 'DRAFT' AND NEW.status = 'SUBMITTED'\n\
                AND is_practice) THEN\n\
             RAISE EXCEPTION 'an order is sent to a lab once, by its practice, when submitted';\n\
           END IF;\n\
           IF (job_changed OR measured) AND OLD.status = 'DRAFT' AND NOT is_practice THEN\n\
             RAISE EXCEPTION 'only the practice changes its draft';\n\
           END IF;\n\
           IF (job_changed OR measured) AND OLD.status <> 'DRAFT' AND NOT (\n\
                NOT job_changed AND is_lab AND NEW.status = OLD.status\n\
                AND OLD.status IN ('RECEIVED', 'ON_HOLD', 'IN_PRODUCTION')) THEN\n\
             RAISE EXCEPTION 'a job changes only as a draft; then only its lab re-measures it, while it holds it';\n\
           END IF;\n\
           IF labs_part AND NOT is_lab THEN\n\
             RAISE EXCEPTION 'the job number, dates, stage, question, shipment and rejection are the lab''s';\n\
           END IF;\n\
           IF practices_part AND NOT is_practice THEN\n\
             RAISE EXCEPTION 'a cancellation is the practice''s';\n\
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
        // A birth date the practice chose to share on an order, and why an order was
        // cancelled (apart from why a lab rejected one).
        for column in [date_null("patient_birth_date"), text_null("cancel_reason")] {
            m.alter_table(
                Table::alter()
                    .table("lens_orders")
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table("lab_turnarounds")
                .col(pk_uuid("company_id"))
                .col(text("rules"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("lab_turnarounds", "company_id", "companies"))
                .to_owned(),
        )
        .await?;
        if m.get_database_backend() == DbBackend::Postgres {
            let conn = m.get_connection();
            let owned = rls::owned("company_id");
            conn.execute_unprepared(&rls::protect(&Wall {
                table: "lab_turnarounds",
                using: owned.clone(),
                check: owned,
                lookup: None,
            }))
            .await?;
            conn.execute_unprepared(&order_rules(rls::APP_ROLE)).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // The earlier trigger first: this one reads the columns dropped below.
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared(&crate::m0006_lens_orders::order_rules(rls::APP_ROLE))
                .await?;
        }
        for column in ["patient_birth_date", "cancel_reason"] {
            m.alter_table(
                Table::alter()
                    .table("lens_orders")
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        m.drop_table(Table::drop().table("lab_turnarounds").to_owned())
            .await?;
        Ok(())
    }
}
