//! Every event and job payload records the version of its shape. A consumer decodes a
//! payload into its serde type only at the version it knows, so a payload written by an
//! older or newer release is refused by name instead of misread. Rows written before this
//! migration are version 1, the shapes they were written with.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Events {
    Table,
    Version,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Version,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Events::Table)
                .add_column(
                    ColumnDef::new(Events::Version)
                        .integer()
                        .not_null()
                        .default(1),
                )
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Jobs::Table)
                .add_column(
                    ColumnDef::new(Jobs::Version)
                        .integer()
                        .not_null()
                        .default(1),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Jobs::Table)
                .drop_column(Jobs::Version)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Events::Table)
                .drop_column(Events::Version)
                .to_owned(),
        )
        .await
    }
}
