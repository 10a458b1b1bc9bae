//! The credentials prune job: a sign-up request (which holds a password hash) and a
//! refresh token are kept until a day after they expire, or after the request was
//! confirmed, then deleted.

use chrono::Utc;
use ils_entity::{refresh_token, sign_up_request};
use ils_kernel::AppError;
use ils_kernel::jobs::{JobKind, JobRun, NewJob, handler};
use sea_orm::{ColumnTrait, Condition, QueryFilter};

pub const PRUNE: &str = "tenancy.prune_credentials";

ils_kernel::empty_job_payload!(
    /// Deletes spent sign-up requests and refresh tokens.
    PruneCredentials,
    PRUNE
);

/// How long a spent credential is kept (for a look at a complaint, a retried request).
pub const KEEP_SPENT: chrono::Duration = chrono::Duration::days(1);

/// Deletes every company's spent sign-up requests and refresh tokens: cross-tenant
/// maintenance (a pending sign-up has no company yet).
pub fn prune_kind() -> JobKind {
    JobKind::new(
        PRUNE,
        handler(|run: JobRun| async move {
            #[allow(clippy::disallowed_methods)]
            // a cross-tenant worker: retention of spent credentials
            let tx = run.db.system().await?;
            let cutoff = Utc::now() - KEEP_SPENT;
            let requests = tx
                .delete_many::<sign_up_request::Entity>()
                .filter(
                    Condition::any()
                        .add(sign_up_request::Column::ExpiresAt.lt(cutoff))
                        .add(sign_up_request::Column::ConfirmedAt.lt(cutoff)),
                )
                .exec(tx.conn())
                .await
                .map_err(AppError::from)?
                .rows_affected;
            let tokens = tx
                .delete_many::<refresh_token::Entity>()
                .filter(refresh_token::Column::ExpiresAt.lt(cutoff))
                .exec(tx.conn())
                .await
                .map_err(AppError::from)?
                .rows_affected;
            tx.commit().await?;
            tracing::info!(
                requests,
                tokens,
                "pruned spent sign-up requests and refresh tokens"
            );
            Ok(())
        }),
    )
    .max_attempts(3)
}

/// Every night.
pub fn prune_schedule() -> ils_kernel::jobs::Schedule {
    ils_kernel::jobs::Schedule {
        name: "spent-credentials",
        cron: "29 3 * * *",
        job: || NewJob::of(&PruneCredentials {}),
    }
}
