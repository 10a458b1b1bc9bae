//! A lens order keeps what a DCS ("OMA") job file said beyond ILS's own fields, so the
//! file it came from is written back whole (issue 16):
//! - `external_ref`: the practice's own job id (the file's `JOB=`), written back as `JOB=`;
//! - `dcs_source`: the text of the file the order was made from (or first measured from),
//!   whose records `orderDcs` writes back, with only what changed on the order replaced;
//! - `eyes`: which lenses the job is for, `BOTH` (every order before this migration),
//!   `RIGHT` or `LEFT` (`DO=R` / `DO=L`).
//!
//! On PostgreSQL the wall's order trigger learns the new columns: the job reference and
//! the eyes are part of the job (fixed once submitted), the source file goes with the
//! measurements (the lab that holds the job may set it when it re-measures from a file).
//!
//! One column per statement: SQLite alters a table one column at a time.

use crate::rls;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LensOrders {
    Table,
    ExternalRef,
    DcsSource,
    Eyes,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            ColumnDef::new(LensOrders::ExternalRef)
                .string()
                .null()
                .to_owned(),
            ColumnDef::new(LensOrders::DcsSource)
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(LensOrders::Eyes)
                .string()
                .not_null()
                .default("BOTH")
                .to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(LensOrders::Table)
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared(&order_rules(rls::APP_ROLE)?)
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // The earlier trigger first: this one reads the columns dropped below.
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared(&crate::m0007_order_files::order_rules(rls::APP_ROLE))
                .await?;
        }
        for column in [
            LensOrders::Eyes,
            LensOrders::DcsSource,
            LensOrders::ExternalRef,
        ] {
            m.alter_table(
                Table::alter()
                    .table(LensOrders::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

/// m0007's order trigger with the new columns: `external_ref` and `eyes` count as the job,
/// `dcs_source` as a measurement.
fn order_rules(app: &str) -> Result<String, DbErr> {
    let rules = crate::m0007_order_files::order_rules(app);
    let job = "OR NEW.notes IS DISTINCT FROM OLD.notes;";
    let measured = "OR NEW.fit <> OLD.fit;";
    if !(rules.contains(job) && rules.contains(measured)) {
        return Err(DbErr::Custom("m0013: m0007's order trigger changed".into()));
    }
    Ok(rules
        .replace(
            job,
            "OR NEW.notes IS DISTINCT FROM OLD.notes\n\
              OR NEW.external_ref IS DISTINCT FROM OLD.external_ref OR NEW.eyes <> OLD.eyes;",
        )
        .replace(
            measured,
            "OR NEW.fit <> OLD.fit\n\
              OR NEW.dcs_source IS DISTINCT FROM OLD.dcs_source;",
        ))
}
