//! Orders, part one: the practice's patients and their prescriptions (health data), and on
//! PostgreSQL their row-level security walls.

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
                .table("patients")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(string("first_name"))
                .col(string("last_name"))
                .col(date_null("date_of_birth"))
                .col(string_null("email"))
                .col(string_null("phone"))
                .col(string_null("external_ref"))
                .col(text("search_text"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("patients", "company_id", "companies"))
                .to_owned(),
        )
        .await?;
        index(m, "patients", "company_id").await?;

        m.create_table(
            Table::create()
                .table("prescriptions")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(uuid("patient_id"))
                .col(text("rx"))
                .col(text("rx_minus_cyl"))
                .col(date_null("issued_on"))
                .col(date_null("expires_on"))
                .col(string_null("prescriber"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("prescriptions", "company_id", "companies"))
                .foreign_key(&mut fk("prescriptions", "patient_id", "patients"))
                .to_owned(),
        )
        .await?;
        index(m, "prescriptions", "patient_id").await?;

        if m.get_database_backend() == DbBackend::Postgres {
            let conn = m.get_connection();
            conn.execute_unprepared(&rls::ensure_app_role()).await?;
            let owned = rls::owned("company_id");
            for table in ["patients", "prescriptions"] {
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
        for t in ["prescriptions", "patients"] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
