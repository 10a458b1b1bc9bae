//! Market insights (issue 21): each company's choice to contribute (or not, and then to see
//! no peer figures), and the monthly releases: every published figure and peer
//! distribution after disclosure control and noise, fixed once built so that asking again
//! gives the same numbers. A release is the platform's row (no owner): only the system
//! scope writes it, every company may read it (its peer figures come from it).

use crate::m0001_tenancy::fk;
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
                .table("analytics_settings")
                .col(pk_uuid("company_id"))
                .col(boolean("contribute"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("analytics_settings", "company_id", "companies"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("insight_releases")
                .col(pk_uuid("id"))
                .col(uuid_null("company_id"))
                .col(date("month").unique_key())
                .col(double("epsilon"))
                .col(integer("contributors"))
                .col(text("body"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("insight_releases", "company_id", "companies"))
                .to_owned(),
        )
        .await?;
        if m.get_database_backend() == DbBackend::Postgres {
            let conn = m.get_connection();
            let owned = rls::owned("company_id");
            conn.execute_unprepared(&rls::protect(&Wall {
                table: "analytics_settings",
                using: owned.clone(),
                check: owned,
                lookup: None,
            }))
            .await?;
            // Only the system scope (the monthly job, the command line, a platform admin's
            // request built as the system) writes a release; every company (not a scope
            // without one) reads the platform's, never changes them, and none has rows of
            // its own.
            conn.execute_unprepared(&rls::protect(&Wall {
                table: "insight_releases",
                using: "false".into(),
                check: "false".into(),
                lookup: None,
            }))
            .await?;
            conn.execute_unprepared(&rls::also_readable(
                "insight_releases",
                "platform_rows",
                &format!("company_id IS NULL AND {COMPANY} IS NOT NULL"),
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("insight_releases").to_owned())
            .await?;
        m.drop_table(Table::drop().table("analytics_settings").to_owned())
            .await
    }
}
