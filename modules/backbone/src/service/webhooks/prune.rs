//! The prune job: the delivery log keeps a delivery for `KEEP_DELIVERIES_DAYS`.

use chrono::Utc;
use ils_entity::webhook_delivery;
use ils_kernel::AppError;
use ils_kernel::jobs::{JobKind, JobRun, NewJob, handler};
use sea_orm::{ColumnTrait, QueryFilter};

pub const PRUNE: &str = "webhook.prune";

ils_kernel::empty_job_payload!(
    /// Prunes old deliveries.
    PruneDeliveries,
    PRUNE
);

/// How long the delivery log keeps a delivery.
pub const KEEP_DELIVERIES_DAYS: i64 = 30;

/// Deletes deliveries older than the retention, every company's: cross-tenant maintenance.
pub fn prune_kind() -> JobKind {
    JobKind::new(
        PRUNE,
        handler(|run: JobRun| async move {
            #[allow(clippy::disallowed_methods)]
            // a cross-tenant worker: retention of every company's log
            let tx = run.db.system().await?;
            let cutoff = Utc::now() - chrono::Duration::days(KEEP_DELIVERIES_DAYS);
            let deleted = tx
                .delete_many::<webhook_delivery::Entity>()
                .filter(webhook_delivery::Column::CreatedAt.lt(cutoff))
                .exec(tx.conn())
                .await
                .map_err(AppError::from)?
                .rows_affected;
            tx.commit().await?;
            tracing::info!(deleted, "pruned old webhook deliveries");
            Ok(())
        }),
    )
    .max_attempts(3)
}

pub fn prune_schedule() -> ils_kernel::jobs::Schedule {
    ils_kernel::jobs::Schedule {
        name: "webhook-deliveries",
        cron: "41 3 * * *",
        job: || NewJob::of(&PruneDeliveries {}),
    }
}
