//! Resumable live events (issue 17): every event gets a cursor, and is marked published
//! only once the bus took it.
//! - `seq`: the event's place in the order events are dispatched, given by the one
//!   dispatcher that runs at a time (its transaction holds a lock), so it grows in commit
//!   order. A subscriber resumes with `after:` a `seq`, and is replayed what followed it.
//! - `published_at`: when the bus (Redis, or the process's own channel) took the event.
//!   Until then the dispatcher tries again, in `seq` order, so a Redis outage delays live
//!   events instead of losing them.
//!
//! Events dispatched before this migration have no `seq` (they cannot be resumed from) and
//! count as published when they were dispatched.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Events {
    Table,
    Seq,
    PublishedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            ColumnDef::new(Events::Seq).big_integer().null().to_owned(),
            ColumnDef::new(Events::PublishedAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Events::Table)
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        m.get_connection()
            .execute_unprepared(
                "UPDATE events SET published_at = dispatched_at WHERE dispatched_at IS NOT NULL",
            )
            .await?;
        m.get_connection()
            .execute_unprepared("CREATE UNIQUE INDEX ux_events_seq ON events (seq)")
            .await?;
        // What the publisher looks for: dispatched, not yet published.
        m.get_connection()
            .execute_unprepared(
                "CREATE INDEX ix_events_unpublished ON events (seq) \
                 WHERE seq IS NOT NULL AND published_at IS NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for ix in ["ix_events_unpublished", "ux_events_seq"] {
            m.get_connection()
                .execute_unprepared(&format!("DROP INDEX IF EXISTS {ix}"))
                .await?;
        }
        for column in [Events::PublishedAt, Events::Seq] {
            m.alter_table(
                Table::alter()
                    .table(Events::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
