//! Orders, part three: each lab's turnaround rules, and the lab's right to re-measure a
//! job it holds (a frame that came later, traced at the lab), written into the PostgreSQL
//! wall's order trigger.

use crate::m0001_tenancy::fk;
use crate::rls::{self, Wall};
use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The order trigger of m0006, with the measurements (frame and fitting) open to the lab
/// while it holds the job, and the job closed to everyone once it left the draft.
fn order_rules(app: &str) -> String {
    format!(
        "CREATE OR REPLACE FUNCTION ils_lens_order_rules() RETURNS trigger LANGUAGE plpgsql AS $$\n\
         DECLARE me uuid := nullif(current_setting('app.company_id', true), '')::uuid;\n\
         DECLARE job_changed boolean := NEW.rx <> OLD.rx OR NEW.rx_minus_cyl <> OLD.rx_minus_cyl\n\
              OR NEW.lens <> OLD.lens OR NEW.patient_ref <> OLD.patient_ref\n\
              OR NEW.patient_name IS DISTINCT FROM OLD.patient_name\n\
              OR NEW.patient_id IS DISTINCT FROM OLD.patient_id OR NEW.job_type <> OLD.job_type\n\
              OR NEW.patient_birth_date IS DISTINCT FROM OLD.patient_birth_date\n\
              OR NEW.remake_of IS DISTINCT FROM OLD.remake_of;\n\
         DECLARE measured boolean := NEW.frame IS DISTINCT FROM OLD.frame OR NEW.fit <> OLD.fit;\n\
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
           IF (job_changed OR measured) AND OLD.status <> 'DRAFT' AND NOT (\n\
                NOT job_changed AND me = OLD.lab_company_id AND NEW.status = OLD.status\n\
                AND OLD.status IN ('RECEIVED', 'ON_HOLD', 'IN_PRODUCTION')) THEN\n\
             RAISE EXCEPTION 'a job changes only as a draft; then only its lab re-measures it, while it holds it';\n\
           END IF;\n\
           IF (job_changed OR measured) AND OLD.status = 'DRAFT' AND me IS DISTINCT FROM OLD.company_id THEN\n\
             RAISE EXCEPTION 'only the practice changes its draft';\n\
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
